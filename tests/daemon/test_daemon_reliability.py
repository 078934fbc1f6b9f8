"""The issue's reliability tests against the real daemon process.

- SIGKILL at random points of a sale, 50 times (before the tender, while it commits,
  right after, while the receipt prints): the journal verifies after each, no sale is
  half-recorded, the sale in progress is cleanly absent, committed sales get printed.
- The journal's disk fills up (a small tmpfs this test mounts): new sales are refused with
  a clear message and an alert; when space returns the lane goes on and the chain verifies.
- The scale is unplugged and comes back under a new device path during a sale.
- A busy lane compressed (20,000 sales, broker killed and restarted every 2,500 sales):
  RSS is reported at start and end and stays flat; head office holds every sale.
"""

from __future__ import annotations

import contextlib
import random
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

from daemon_testkit import CLOUD, NO_SYNC, Daemon, box_config, fill, free_port, tmpfs

from devices.simulators.printer import NetworkPrinterSimulator
from devices.simulators.scale import ScaleSimulator
from gateway.daemon.control import Connection
from gateway.database import open_database
from gateway.harness.brokers import Mosquitto
from gateway.journal import verify_journal

KILLS = 50
SOAK_SALES = 20_000
FLAP_EVERY = 2_500


def sales_in(database: Path) -> int:
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn:
        count: int = conn.execute(
            "SELECT count(*) FROM journal_record WHERE kind = 'sale'"
        ).fetchone()[0]
    return count


def check_whole(database: Path) -> None:
    """The chain verifies and every lane record has its index row (nothing half-written)."""
    report = verify_journal(open_database(database, readonly=True))
    assert report.ok, report.describe()
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn:
        orphans = conn.execute(
            "SELECT count(*) FROM journal_record r LEFT JOIN lane_doc d ON d.seq = r.seq "
            "WHERE r.kind IN ('sale', 'shift_open') AND d.seq IS NULL"
        ).fetchone()[0]
    assert orphans == 0


def test_sigkill_at_random_points_of_a_sale(tmp_path: Path) -> None:
    rng = random.Random(7)
    printer = NetworkPrinterSimulator().start()
    printer.reply_delay = 0.01  # printing takes a while: kills land in it too
    config = box_config(
        tmp_path, f'\n[[devices.printers]]\nname = "receipt"\nuri = "{printer.uri}"\n'
    )
    database = tmp_path / "storegate.db"
    phases: dict[str, int] = {}
    try:
        for _ in range(KILLS):
            daemon = Daemon(tmp_path, config, NO_SYNC)
            status = daemon.status()
            assert status["lane"]["lines"] == 0  # type: ignore[index]
            if status["lane"]["state"] == "closed":  # type: ignore[index]
                assert daemon.key("sign_on", staff="101", pin="472951")["ok"]
            before = sales_in(database)
            phase = rng.choice(["scanning", "committing", "committed", "printing"])
            phases[phase] = phases.get(phase, 0) + 1
            paid = ring_and_kill(daemon, phase, rng)
            assert daemon.process.wait(10) == -9
            after = sales_in(database)
            check_whole(database)
            assert after - before == 1 if paid else after - before in (0, 1)
        final = Daemon(tmp_path, config, NO_SYNC)
        try:
            lane = final.status()["lane"]
            assert lane["state"] == "idle" and lane["lines"] == 0, lane  # type: ignore[index]
            deadline = time.monotonic() + 20
            while (missing := unprinted(database, tmp_path / "receipts")) and (
                time.monotonic() < deadline
            ):
                time.sleep(0.1)
            assert missing == [], (missing, final.output()[-3000:])
        finally:
            assert final.stop() == 0
    finally:
        printer.stop()
    assert set(phases) == {"scanning", "committing", "committed", "printing"}, phases


def unprinted(database: Path, receipts: Path) -> list[int]:
    """Sales whose receipt has no text copy (the copy is written after the paper)."""
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn:
        seqs = [
            r[0]
            for r in conn.execute("SELECT seq FROM journal_record WHERE kind = 'sale' ORDER BY seq")
        ]
    return [seq for seq in seqs if not (receipts / f"{seq:07d}-sale.txt").exists()]


def ring_and_kill(daemon: Daemon, phase: str, rng: random.Random) -> bool:
    """Ring up a sale and SIGKILL the daemon in `phase`; True when the tender was answered."""
    conn = Connection(daemon.socket)
    answered: list[dict[str, object]] = []
    for _ in range(rng.randint(1, 3)):
        assert conn.ask({"command": "lane", "action": "scan", "code": "7612345001012"})["ok"]
    if phase == "scanning":
        threading.Thread(
            target=_quietly,
            args=(conn, {"command": "lane", "action": "scan", "code": "7612345001135"}, answered),
            daemon=True,
        ).start()
        time.sleep(rng.uniform(0, 0.004))
    else:
        tender = {"command": "lane", "action": "tender", "type": "cash", "amount": "10"}
        worker = threading.Thread(target=_quietly, args=(conn, tender, answered), daemon=True)
        worker.start()
        if phase == "committing":
            time.sleep(rng.uniform(0, 0.006))
        else:
            worker.join(5)
            if phase == "printing":
                time.sleep(rng.uniform(0, 0.03))
    daemon.process.kill()
    conn.close()
    daemon.notify.close()
    daemon.log.close()
    return phase != "scanning" and any(a.get("ok") and a.get("state") == "idle" for a in answered)


def _quietly(
    conn: Connection, request: dict[str, object], answered: list[dict[str, object]]
) -> None:
    with contextlib.suppress(OSError, ValueError):
        answered.append(conn.ask(request))


def wait_until(check: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_full_disk_refuses_new_sales_then_recovers(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "data", "6m") as data:
        config = box_config(data, "")
        config.write_text(
            config.read_text().replace("disk_min_free_mb = 50", "disk_min_free_mb = 1")
        )
        daemon = Daemon(data, config, NO_SYNC)
        try:
            assert daemon.key("sign_on", staff="101", pin="472951")["ok"]
            assert daemon.key("scan", code="7612345001012")["ok"]
            assert daemon.key("tender", type="cash", amount="5")["ok"]
            assert daemon.key("scan", code="7612345001036")["ok"]  # a sale in progress
            filler = data / "filler"
            fill(filler)
            paid = daemon.key("tender", type="cash", amount="10")
            if not paid["ok"]:  # SQLite could not grow its WAL: refused, the sale kept open
                assert paid["refused"] == "journal_unavailable", paid
                assert paid["lane"]["state"] == "in_sale"  # type: ignore[index]
                filler.unlink()
                assert daemon.key("tender", type="cash", amount="10")["ok"]
                fill(filler)
            new_sale = daemon.key("scan", code="7612345001012")
            assert new_sale["refused"] == "disk_full", new_sale
            assert "storage is full" in str(new_sale["error"])
            alerts = daemon.status()["alerts"]
            assert any(a["source"] == "disk" for a in alerts), alerts  # type: ignore[index]
            filler.unlink()
            assert daemon.key("scan", code="7612345001012")["ok"]
            assert daemon.key("tender", type="cash", amount="5")["ok"]
        finally:
            assert daemon.stop() == 0, daemon.output()
        check_whole(data / "storegate.db")
        assert sales_in(data / "storegate.db") == 3


def test_scale_unplugged_and_back_under_a_new_path_during_a_sale(tmp_path: Path) -> None:
    link = tmp_path / "dev-storegate-scale"  # what the udev rule's stable symlink is for
    first = ScaleSimulator("toledo8217", weight="0.456", pace=False).start()
    link.symlink_to(first.path)
    config = box_config(
        tmp_path,
        f'\n[[devices.scales]]\nname = "scale"\n'
        f'protocol = "toledo8217"\nserial = {{ port = "{link}" }}\n'
        "poll_interval_s = 0.1\n",
    )
    daemon = Daemon(tmp_path, config, NO_SYNC)
    second: ScaleSimulator | None = None
    try:
        assert daemon.key("sign_on", staff="101", pin="472951")["ok"]
        wait_until(lambda: daemon.status()["scale"] == "0.456", 10)
        assert daemon.key("weigh", code="1001")["ok"]
        second = ScaleSimulator("toledo8217", weight="1.230", pace=False).start()
        assert second.path != first.path  # a new path, as a re-enumerated USB adapter gets
        first.stop()
        link.unlink()
        wait_until(
            lambda: (
                daemon.status()["devices"]["scale"]["state"]  # type: ignore[index]
                == "disconnected"
            ),
            10,
        )
        assert daemon.key("weigh", code="1002")["refused"] in (
            "needs_weight",
            "scale_empty",
            "scale_unstable",
            "not_weighed",
        )
        link.symlink_to(second.path)
        wait_until(lambda: daemon.status()["scale"] == "1.230", 15)
        weighed = daemon.key("weigh", code="1002")
        assert weighed["ok"] and weighed["lane"]["lines"] == 2, weighed  # type: ignore[index]
        paid = daemon.key("tender", type="cash", amount="20")
        assert paid["ok"] and paid["state"] == "idle"
    finally:
        assert daemon.stop() == 0, daemon.output()
        if second is not None:
            second.stop()
    check_whole(tmp_path / "storegate.db")


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_soak_busy_lane_with_a_flapping_broker(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "data", "768m") as data:
        broker = Mosquitto(data / "broker").start()
        url = f"sqlite:///{data / 'head-office.db'}"
        assert (
            subprocess.run(
                [str(CLOUD), "db", "upgrade", "--db", url], capture_output=True, check=False
            ).returncode
            == 0
        )
        ingest = subprocess.Popen(
            [str(CLOUD), "ingest", "--db", url, "--port", str(broker.port)],
            stdout=subprocess.DEVNULL,
            stderr=(data / "ingest.log").open("wb"),
        )
        config = box_config(data)
        config.write_text(config.read_text().replace("port = 1883", f"port = {broker.port}"))
        daemon = Daemon(
            data,
            config,
            {"STOREGATE_SYNC__RECONNECT_MAX": "1", "STOREGATE_SYNC__RESEND_AFTER": "5"},
        )
        try:
            conn = Connection(daemon.socket)
            assert conn.ask(
                {"command": "lane", "action": "sign_on", "staff": "101", "pin": "472951"}
            )["ok"]
            rss: list[int] = []
            for n in range(SOAK_SALES):
                if n == 500:
                    rss.append(rss_kb(daemon.process.pid))
                if n and n % FLAP_EVERY == 0:
                    broker.restart()
                answer = conn.ask({"command": "lane", "action": "scan", "code": "7612345001012"})
                assert answer["ok"], answer
                assert conn.ask(
                    {"command": "lane", "action": "tender", "type": "cash", "amount": "2"}
                )["ok"]
            rss.append(rss_kb(daemon.process.pid))
            wait_until(
                lambda: conn.ask({"command": "status"})["status"]["journal"]["backlog"] == 0, 120
            )
            conn.close()
            print(
                f"\nsoak: {SOAK_SALES} sales, RSS {rss[0] / 1024:.1f} MB after 500 sales, "
                f"{rss[1] / 1024:.1f} MB at the end"
            )
            assert rss[1] - rss[0] < 20 * 1024, rss
        finally:
            assert daemon.stop() == 0, daemon.output()
            ingest.terminate()
            ingest.wait(20)
            broker.kill()
        report = subprocess.run(
            [str(CLOUD), "report", "sales", "--db", url, "--by", "box", "--json"],
            capture_output=True,
            text=True,
            check=True,
        )
        assert f'"tickets": {SOAK_SALES}' in report.stdout, report.stdout
        check_whole(data / "storegate.db")


def test_a_commit_on_a_full_disk_is_refused_kept_open_and_succeeds_when_space_returns(
    tmp_path: Path,
) -> None:
    """Sync on (its queue `sync.db` on the same full disk, no broker reachable): the failed
    commit is refused with `journal_unavailable`, the sale stays open, the daemon answers;
    freed space lets the same tender through. A restart on a full disk comes up, answers
    status and refuses to sell with the reason."""
    with tmpfs(tmp_path / "data", "6m") as data:
        config = box_config(data, "")
        config.write_text(
            config.read_text()
            .replace("disk_min_free_mb = 50", "disk_min_free_mb = 1")
            .replace("port = 1883", f"port = {free_port()}")
        )
        filler = data / "filler"
        daemon = Daemon(data, config, log_dir=tmp_path)
        try:
            assert daemon.key("sign_on", staff="101", pin="472951")["ok"]
            assert daemon.key("scan", code="7612345001012")["ok"]
            assert daemon.key("tender", type="cash", amount="5")["ok"]
            assert daemon.key("scan", code="7612345001036")["ok"]
            assert daemon.key("scan", code="7612345001012")["ok"]
            fill(filler)
            for _ in range(2):  # refused, and refused again: nothing half-done in between
                paid = daemon.key("tender", type="cash", amount="10")
                assert paid["refused"] == "journal_unavailable", paid
                assert "kept open" in str(paid["error"])
                assert paid["lane"]["state"] == "in_sale"  # type: ignore[index]
                assert paid["lane"]["lines"] == 2  # type: ignore[index]
                assert daemon.process.poll() is None, daemon.output()[-3000:]
            status = daemon.status()
            assert any(a["source"] == "journal" for a in status["alerts"])  # type: ignore[index, union-attr]
            filler.unlink()
            paid = daemon.key("tender", type="cash", amount="10")
            assert paid["ok"] and paid["state"] == "idle", paid
        finally:
            assert daemon.stop() == 0, daemon.output()[-3000:]
        check_whole(data / "storegate.db")
        assert sales_in(data / "storegate.db") == 2

        fill(filler)
        full = Daemon(data, config, log_dir=tmp_path)
        try:
            status = full.status()
            assert status["lane"]["state"] == "idle", status  # type: ignore[index]
            assert status["sync"]["state"] == "not started", status  # type: ignore[index]
            assert "disk is full" in status["sync"]["error"]  # type: ignore[index]
            sync_alert = next(a for a in status["alerts"] if a["source"] == "sync")  # type: ignore[index, union-attr]
            assert "free space" in sync_alert["message"], sync_alert  # not "move the file"
            refused = full.key("scan", code="7612345001012")
            assert refused["refused"] == "disk_full", refused
            assert "storage is full" in str(refused["error"])
            filler.unlink()
            assert full.key("scan", code="7612345001012")["ok"]
            assert full.key("tender", type="cash", amount="5")["ok"]
        finally:
            assert full.stop() == 0, full.output()[-3000:]
        check_whole(data / "storegate.db")
        assert sales_in(data / "storegate.db") == 3
