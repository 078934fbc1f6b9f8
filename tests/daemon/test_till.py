"""What the till does around a commit, through `gateway run`, the control socket and the
TCP printer simulator: the cash drawer opens exactly when cash moves (and on a no-sale),
once, after the commit; a member sale's receipt is the sale's, printed once across
restarts; bad input gets an error answer and the till, with its open sale, goes on."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from datetime import datetime
from pathlib import Path

from daemon_testkit import NO_SYNC, Daemon, box_config

from devices.simulators.printer import NetworkPrinterSimulator
from gateway.database import open_database
from gateway.harness.screens_demo import MEMBER_CARD, members_document
from gateway.members import MemberStore, parse_document
from gateway.receipts.escpos import drawer_pulse

MILK = "7612345001012"
BUTTER = "7612345001036"
KICK = drawer_pulse(2)  # ESC p 0 t1 t2: what the drawer on pin 2 opens on
SUPERVISOR = {"supervisor": "201", "supervisor_pin": "836104", "reason": "customer"}


def printer_box(directory: Path, printer: NetworkPrinterSimulator) -> Path:
    return box_config(
        directory, f'\n[[devices.printers]]\nname = "receipt"\nuri = "{printer.uri}"\n'
    )


def wait_for(check: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def receipt_id(database: Path, seq: int) -> str:
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn:
        row = conn.execute("SELECT receipt_id FROM lane_doc WHERE seq = ?", (seq,)).fetchone()
    return str(row[0])


def kicks(printer: NetworkPrinterSimulator) -> int:
    return printer.printed.count(KICK)


def settled(printer: NetworkPrinterSimulator, receipts: Path, copies: int) -> None:
    """Wait until the printer thread has written `copies` text copies (paper first)."""
    wait_for(lambda: len(list(receipts.glob("*.txt"))) >= copies)
    time.sleep(0.3)  # a kick would follow its receipt within the same job


def test_the_drawer_opens_once_on_cash_sale_cash_refund_and_no_sale_never_on_card(
    tmp_path: Path,
) -> None:
    printer = NetworkPrinterSimulator().start()
    config = printer_box(tmp_path, printer)
    receipts = tmp_path / "receipts"
    daemon = Daemon(tmp_path, config, NO_SYNC)
    try:
        assert daemon.key("sign_on", staff="101", pin="472951")["ok"]
        assert kicks(printer) == 0
        assert daemon.key("scan", code=MILK)["ok"]
        cash = daemon.key("tender", type="cash", amount="5")
        assert cash["ok"] and cash["state"] == "idle", cash
        settled(printer, receipts, 1)
        assert kicks(printer) == 1, printer.printed[-200:]

        assert daemon.key("scan", code=BUTTER)["ok"]
        card = daemon.key("tender", type="card", reference="T-1", card="4111111111111111")
        assert card["ok"] and card["state"] == "idle", card
        settled(printer, receipts, 2)
        assert kicks(printer) == 1  # a card sale leaves the drawer shut

        sale_seq = int(cash["records"][0])  # type: ignore[index]
        refund = daemon.key(
            "refund",
            receipt=receipt_id(tmp_path / "storegate.db", sale_seq),
            tender="cash",
            **SUPERVISOR,
        )
        assert refund["ok"], refund
        settled(printer, receipts, 3)
        assert kicks(printer) == 2

        no_sale = daemon.key("no_sale", **SUPERVISOR)
        assert no_sale["ok"], no_sale
        wait_for(lambda: kicks(printer) >= 3)
        time.sleep(0.3)
        assert kicks(printer) == 3
        assert not [
            a
            for a in daemon.status()["alerts"]  # type: ignore[union-attr]
            if a["source"] == "printer"
        ]  # type: ignore[index]
    finally:
        assert daemon.stop() == 0, daemon.output()
        printer.stop()
    assert kicks(printer) == 3  # and none at shutdown


def test_a_drawer_kick_that_fails_is_reported_like_a_receipt_that_failed(tmp_path: Path) -> None:
    printer = NetworkPrinterSimulator().start()
    config = printer_box(tmp_path, printer)
    daemon = Daemon(tmp_path, config, NO_SYNC)
    try:
        assert daemon.key("sign_on", staff="101", pin="472951")["ok"]
        printer.stop()  # the printer the drawer hangs on is gone
        no_sale = daemon.key("no_sale", **SUPERVISOR)
        assert no_sale["ok"], no_sale  # the no-sale is recorded all the same

        def drawer_alert() -> bool:
            return any(
                a["source"] == "printer" and "drawer" in a["message"]  # type: ignore[index]
                for a in daemon.status()["alerts"]
            )  # type: ignore[union-attr]

        wait_for(drawer_alert, 15)
        assert daemon.status()["printer"] != "ok"
    finally:
        assert daemon.stop() == 0, daemon.output()


def add_members(database: Path) -> None:
    """Member Alice (card MEMBER_CARD) as head office would have pushed her."""
    db = open_database(database)
    MemberStore(db, "box-1").apply_document(
        parse_document(members_document()), datetime(2026, 11, 24, 6)
    )
    db.conn.close()


def test_a_member_sale_prints_the_sale_once_across_restarts(tmp_path: Path) -> None:
    printer = NetworkPrinterSimulator().start()
    config = printer_box(tmp_path, printer)
    add_members(tmp_path / "storegate.db")
    receipts = tmp_path / "receipts"
    daemon = Daemon(tmp_path, config, NO_SYNC)
    try:
        assert daemon.key("sign_on", staff="101", pin="472951")["ok"]
        assert daemon.key("member", card=MEMBER_CARD)["ok"]
        assert daemon.key("scan", code=MILK)["ok"]
        paid = daemon.key("tender", type="cash", amount="5")
        assert paid["ok"] and paid["state"] == "idle", paid
        with contextlib.closing(
            sqlite3.connect(f"file:{tmp_path / 'storegate.db'}?mode=ro", uri=True)
        ) as conn:
            kinds = dict(conn.execute("SELECT seq, kind FROM journal_record"))
        sale = [seq for seq, kind in kinds.items() if kind == "sale"]
        assert len(sale) == 1 and "member_balance" in kinds.values(), kinds
        wait_for(lambda: (receipts / f"{sale[0]:07d}-sale.txt").exists())
        assert (
            "Alice" in (receipts / f"{sale[0]:07d}-sale.txt").read_text()
            or "M0001" in (receipts / f"{sale[0]:07d}-sale.txt").read_text()
        )
    finally:
        assert daemon.stop() == 0, daemon.output()
    copies = sorted(p.name for p in receipts.glob("*.txt"))
    assert copies == [f"{sale[0]:07d}-sale.txt"], copies
    printed = len(printer.printed)
    again = Daemon(tmp_path, config, NO_SYNC)
    try:
        assert again.status()["lane"]["state"] == "idle"  # type: ignore[index]
        time.sleep(0.5)
    finally:
        assert again.stop() == 0, again.output()
        printer.stop()
    assert "printing it now" not in again.output()
    assert len(printer.printed) == printed  # nothing printed again at the restart
    assert sorted(p.name for p in receipts.glob("*.txt")) == copies


BAD_REQUESTS: list[dict[str, object]] = [
    {"action": "tender", "type": "cash", "amount": "1e9999"},
    {"action": "tender", "type": "cash", "amount": "1" + "0" * 29},
    {"action": "tender", "type": "cash", "amount": "-5"},
    {"action": "tender", "type": "cash", "amount": "NaN"},
    {"action": "tender", "type": "bitcoin"},
    {"action": "tender", "type": ["cash"]},
    {"action": "scan", "code": MILK, "quantity": "0"},
    {"action": "scan", "code": MILK, "quantity": "-2"},
    {"action": "scan", "code": MILK, "quantity": "1.5"},
    {"action": "scan", "code": MILK, "quantity": "10000"},
    {"action": "scan", "code": MILK, "quantity": "1e9999"},
    {"action": "plu", "code": "1001", "quantity": "abc"},
    {"action": "scan"},
    {"action": "scan", "code": "7" * 5000},
    {"action": "void_line", "line": "9" * 30},
    {"action": "void_line", "line": "first"},
    {"action": "close_shift", "counted": "1e9999"},
    {"action": "refund", "receipt": "x", "tender": "bitcoin"},
    {"action": "paid_out", "amount": "1e9999", "reason": "x"},
    {"action": "paid_in", "reason": "no amount"},
    {"action": "paid_in", "amount": "-5", "reason": "x"},
    {"action": "close_shift", "d_50": "-1"},
    {"action": "close_shift", "d_fifty": "1"},
    {"action": "close_shift", "d_50": "1e9"},
    {"action": "launch_rockets"},
    {"action": 7},
]


def test_bad_requests_are_answered_and_the_till_keeps_its_sale(tmp_path: Path) -> None:
    config = box_config(tmp_path)
    daemon = Daemon(tmp_path, config, NO_SYNC)
    try:
        assert daemon.key("sign_on", staff="101", pin="472951")["ok"]
        assert daemon.key("scan", code=MILK)["ok"]
        assert daemon.key("scan", code=BUTTER, quantity="2")["ok"]
        for request in BAD_REQUESTS:
            answer = daemon.ask({"command": "lane", **request})
            assert answer["ok"] is False and answer["error"], (request, answer)
            assert "Traceback" not in str(answer["error"])
            assert daemon.process.poll() is None, (request, daemon.output()[-3000:])
            lane = daemon.status()["lane"]
            assert lane["state"] == "in_sale" and lane["lines"] == 2, (request, lane)  # type: ignore[index]
        for request in (
            {"command": "nosuch"},
            {"command": ["status"]},
            {"command": "staff", "action": "add"},
            {"command": "catalog_load", "text": {"not": "a catalog"}},
            {"command": "z_report", "card": 17},
        ):
            answer = daemon.ask(request)
            assert answer["ok"] is False and answer["error"], (request, answer)
            assert daemon.process.poll() is None, (request, daemon.output()[-3000:])
        # A value past the keys' checks that the lane's record model refuses (a card number
        # already masked, as a terminal shows it): an error answer, the sale kept (or, once
        # the lane takes it, a card sale paid in full; either way the till goes on).
        masked = daemon.key("tender", type="card", reference="T-9", card="411111******1111")
        assert daemon.process.poll() is None, daemon.output()[-3000:]
        lane = daemon.status()["lane"]
        if masked["ok"]:
            assert masked["state"] == "idle" and lane["state"] == "idle", masked  # type: ignore[index]
        else:
            assert masked["error"] and lane["lines"] == 2, (masked, lane)  # type: ignore[index]
            paid = daemon.key("tender", type="cash", amount="20")
            assert paid["ok"] and paid["state"] == "idle", paid
        assert daemon.status()["lane"]["total"] is None  # type: ignore[index]
    finally:
        assert daemon.stop() == 0, daemon.output()
