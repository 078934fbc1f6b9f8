"""Issue 13 item 3: LAN logins on the screens never corrupt the sales rung up meanwhile.

Before the one-writer fix, logins writing PIN counts from the web thread made 3 of 120
sales answer "could not be recorded" although they were committed; the retry recorded the
line again and phantom receipts printed after a restart. Here `gateway run` takes 120 cash
sales on its control socket while four threads log in on the screens over HTTP as LAN
clients (`X-Forwarded-For` from loopback), right and wrong PINs in turn: every sale answers
ok and is journalled exactly once, the chain verifies, and after a restart no receipt is
printed a second time."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from daemon_testkit import NO_SYNC, Daemon, box_config
from test_daemon_reliability import check_whole

from devices.simulators.printer import NetworkPrinterSimulator
from gateway.daemon.control import Connection
from gateway.database import open_database
from gateway.journal import Journal, JournalRecord

SALES = 120
MILK = "7612345001012"  # Whole milk 1 l, 1.75
STAFF = {"101": "472951", "201": "836104"}  # daemon_testkit.add_staff
WRONG_PIN = "000000"
RECEIPT_ID = re.compile(rb"box-1-\d{6}")
HIDDEN = re.compile(r'<input[^>]*type="hidden"[^>]*>')
ATTRIBUTE = re.compile(r'(name|value)="([^"]*)"')
ENV = {
    **NO_SYNC,
    "STOREGATE_SCREENS__LAN": "true",
    "STOREGATE_SCREENS__INSECURE_LAN": "true",  # plain HTTP on loopback, tablets simulated
    # wrong and right PINs alternate, so no one is ever locked out by this test
    "STOREGATE_LANE__PIN_ATTEMPTS": "20",
}


@dataclass
class Logins:
    """What one login thread saw: HTTP status by kind of PIN, and anything unexpected."""

    right: list[int] = field(default_factory=list)
    wrong: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def log_in(client: httpx.Client, staff_id: str, pin: str) -> int:
    """The login form as a browser sends it: its hidden fields (a CSRF token, when the
    form has one) with the staff number and PIN."""
    form = client.get("/login")
    fields = {}
    for tag in HIDDEN.findall(form.text):
        attributes = dict(ATTRIBUTE.findall(tag))
        if "name" in attributes:
            fields[attributes["name"]] = attributes.get("value", "")
    answer = client.post("/login", data={**fields, "staff_id": staff_id, "pin": pin})
    return answer.status_code


def keep_logging_in(
    url: str, client_ip: str, staff_id: str, started: threading.Barrier, done: threading.Event
) -> Logins:
    seen = Logins()
    headers = {"X-Forwarded-For": client_ip}
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        try:
            first = True
            while first or not done.is_set():
                seen.wrong.append(log_in(client, staff_id, WRONG_PIN))
                seen.right.append(log_in(client, staff_id, STAFF[staff_id]))
                client.cookies.clear()
                if first:
                    started.wait(60)
                    first = False
        except Exception as exc:  # reported by the test, whatever it is
            seen.errors.append(repr(exc))
            started.abort()  # the sales do not wait for a thread that is gone
    return seen


def sales(data: Path) -> list[JournalRecord]:
    db = open_database(data / "storegate.db", readonly=True)
    try:
        return [r for r in Journal(db).read(0, 10_000) if r.kind == "sale"]
    finally:
        db.conn.close()


def printed_receipts(printer: NetworkPrinterSimulator) -> list[bytes]:
    """The receipt id of every receipt the printer received, in order (each receipt
    starts with ESC @; a drawer pulse carries no receipt id)."""
    out = []
    for job in bytes(printer.printed).split(b"\x1b@"):
        found = RECEIPT_ID.search(job)
        if found is not None:
            out.append(found.group())
    return out


def ring_up(conn: Connection) -> list[dict[str, object]]:
    answers = [conn.ask({"command": "lane", "action": "scan", "code": MILK})]
    answers.append(conn.ask({"command": "lane", "action": "tender", "type": "cash", "amount": "5"}))
    return answers


def test_120_sales_while_four_threads_log_in_on_the_lan(tmp_path: Path) -> None:
    printer = NetworkPrinterSimulator().start()
    try:
        config = box_config(
            tmp_path, f'\n[[devices.printers]]\nname = "receipt"\nuri = "{printer.uri}"\n'
        )
        daemon = Daemon(tmp_path, config, ENV)
        try:
            assert daemon.key("sign_on", staff="101", pin=STAFF["101"])["ok"]
            url = str(daemon.status()["screens"])
            started, done = threading.Barrier(5), threading.Event()
            # two threads per person, on that person's tablet: a right PIN clears only the
            # failures of its own source (docs/lane.md), so one tablet each keeps the count
            # from ever reaching a lockout
            who = sorted(STAFF)
            results: list[Logins] = []
            threads = [
                threading.Thread(
                    target=lambda n=n: results.append(
                        keep_logging_in(url, f"192.0.2.{50 + n % 2}", who[n % 2], started, done)
                    )
                )
                for n in range(4)
            ]
            for thread in threads:
                thread.start()
            conn = Connection(daemon.socket)
            answers = []
            try:
                started.wait(60)  # every thread logged in once: the sales start among logins
                for _ in range(SALES):
                    answers += ring_up(conn)
            except threading.BrokenBarrierError:
                pass  # a login thread failed: its error is asserted below
            finally:
                done.set()
                conn.close()
                for thread in threads:
                    thread.join(120)
        finally:
            assert daemon.stop() == 0, daemon.output()[-3000:]

        assert len(results) == 4 and all(r.errors == [] for r in results), results
        assert [a for a in answers if not a.get("ok")] == []
        assert "could not be recorded" not in repr(answers)
        assert len(answers) == 2 * SALES
        assert all(set(r.right) == {303} and set(r.wrong) == {401} for r in results), results
        assert sum(len(r.right) + len(r.wrong) for r in results) >= 8
        recorded = sales(tmp_path)
        ids = [str(r.body["receipt_id"]) for r in recorded]
        assert ids == [f"box-1-{n:06d}" for n in range(1, SALES + 1)]  # each once, in order
        assert all(len(r.body["lines"]) == 1 for r in recorded)  # no line recorded twice
        check_whole(tmp_path / "storegate.db")

        daemon = Daemon(tmp_path, config, ENV)  # restart: nothing committed is printed again
        try:
            assert ring_up(Connection(daemon.socket))[-1]["ok"]  # a last sale, printed last
            last = f"box-1-{SALES + 1:06d}".encode()
            deadline = time.monotonic() + 30
            while last not in printed_receipts(printer):  # reprints would have come first
                assert time.monotonic() < deadline, daemon.output()[-3000:]
                time.sleep(0.05)
        finally:
            assert daemon.stop() == 0, daemon.output()[-3000:]
    finally:
        printer.stop()
    receipts = printed_receipts(printer)
    assert receipts == [f"box-1-{n:06d}".encode() for n in range(1, SALES + 2)]
    check_whole(tmp_path / "storegate.db")
