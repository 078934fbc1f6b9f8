"""Through `gateway run`: report days refused by the daemon as by the CLI (issue 12, defect
11), and journal retention pruning acknowledged, backed-up, old records on the main loop
while the chain, backups, reprints, refunds and reports stay sound (defect 12)."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from daemon_testkit import EXAMPLE_CATALOG, GATEWAY, NO_SYNC, Daemon, box_config

from gateway.catalog.catalog import load_catalog_file
from gateway.database import open_database
from gateway.harness.brokers import Mosquitto
from gateway.harness.receiver import ReferenceReceiver
from gateway.journal import Journal
from gateway.lane import events as ev
from gateway.lane.book import LaneBook
from gateway.lane.machine import Lane
from gateway.lane.members import RoomMembers
from gateway.lane.staff import StaffDirectory
from gateway.members import MemberAccounts, MemberStore
from gateway.settings import load_settings

CASHIER = ev.Credential(card="CARD-ANNA")
OLD_DAY = datetime(2026, 10, 1, 9, 0)  # store-local; long before any run of this test


BEAT, BEAT_PIN = ("--staff", "201", "--pin-stdin"), "836104\n"  # the socket takes no typed card


def run(config: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(GATEWAY), *args, "--config", str(config)],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )


def journal_state(database: Path) -> dict[str, int]:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
        head, ack, anchor = conn.execute(
            "SELECT head_seq, acknowledged_seq, anchor_seq FROM journal_state"
        ).fetchone()
    return {"head": head, "acknowledged": ack, "anchor": anchor}


def wait_until(what: str, check: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.1)


def test_the_daemon_refuses_report_days_before_writing(tmp_path: Path) -> None:
    config = box_config(tmp_path)
    daemon = Daemon(tmp_path, config, NO_SYNC)
    try:
        assert daemon.key("sign_on", staff="101", pin="472951")["ok"]
        assert daemon.key("scan", code="7612345001012")["ok"]
        assert daemon.key("tender", type="cash", amount="5")["ok"]
        assert daemon.key("close_shift", counted="1.75")["ok"]
        head = journal_state(tmp_path / "storegate.db")["head"]
        for day, problem in (
            ("2026-12-2", "is not a date written YYYY-MM-DD"),
            ("2026-02-30", "is not a calendar date"),
            ("2999-01-01", "is after today"),
            ("2020-01-06", "recorded no sale, refund, void or no-sale"),
        ):
            cli = run(config, "report", "z", "--date", day, *BEAT, stdin=BEAT_PIN)
            assert cli.returncode == 2 and problem in cli.stderr, cli.stderr
            raw = daemon.ask({"command": "z_report", "day": day, "staff": "201", "pin": "836104"})
            assert raw["ok"] is False and raw["exit_code"] == 2, raw
            assert problem in str(raw["error"])
        x = run(config, "report", "x", "--shift", "nosuch")
        assert x.returncode == 2 and "never opened a shift 'nosuch'" in x.stderr, x.stderr
        assert journal_state(tmp_path / "storegate.db")["head"] == head  # nothing journalled
        empty = run(
            config, "report", "z", "--date", "2020-01-06", *BEAT, "--empty-day", stdin=BEAT_PIN
        )
        assert empty.returncode == 0 and "Z REPORT 0001" in empty.stdout, empty.stderr
        today = run(config, "report", "z", *BEAT, stdin=BEAT_PIN)
        assert today.returncode == 0 and "Z REPORT 0002" in today.stdout, today.stderr
    finally:
        assert daemon.stop() == 0, daemon.output()


def _old_trading_day(database: Path, config: Path) -> int:
    """A shift with two cash sales on OLD_DAY, journalled then (the daemon is not up yet)."""
    settings = load_settings(config)
    db = open_database(database)
    stamp = datetime(2026, 10, 1, 7, 0, tzinfo=UTC)

    def old_clock() -> tuple[datetime, bool]:
        nonlocal stamp
        stamp += timedelta(seconds=30)
        return stamp, True

    book = LaneBook(db, Journal(db, clock=old_clock))
    members = RoomMembers(MemberAccounts(MemberStore(db, settings.store.box)))
    lane = Lane(
        book=book,
        staff=StaffDirectory(db, settings.lane),
        catalog=load_catalog_file(EXAMPLE_CATALOG),
        settings=settings,
        members=members,
    )
    at = iter(OLD_DAY + timedelta(minutes=n) for n in range(100))
    assert not isinstance(lane.handle(ev.OpenShift(next(at), CASHIER)), ev.Refusal)
    for _ in range(2):
        lane.handle(ev.Scan(next(at), "7612345001012"))
        assert not isinstance(lane.handle(ev.Tender(next(at), "cash", Decimal(5))), ev.Refusal)
    assert not isinstance(lane.handle(ev.CloseShift(next(at), Decimal("3.50"))), ev.Refusal)
    head = Journal(db).state().head_seq
    db.conn.close()
    return head


def test_gateway_run_prunes_what_head_office_and_a_backup_hold(tmp_path: Path) -> None:
    database = tmp_path / "storegate.db"
    broker = Mosquitto(tmp_path / "broker").start()
    office = ReferenceReceiver(host="127.0.0.1", port=broker.port, db_path=tmp_path / "ho.db")
    office.start()
    office.wait_connected()
    try:
        config = box_config(tmp_path)
        config.write_text(config.read_text().replace("port = 1883", f"port = {broker.port}"))
        old = _old_trading_day(database, config)
        daemon = Daemon(
            tmp_path,
            config,
            {
                "STOREGATE_JOURNAL__RETENTION_DAYS": "7",
                "STOREGATE_JOURNAL__PRUNE_INTERVAL_S": "1",
                "STOREGATE_JOURNAL__PRUNE_BATCH": "10",
            },
        )
        try:
            assert daemon.key("sign_on", staff="101", pin="472951")["ok"]
            assert daemon.key("scan", code="7612345001012")["ok"]
            assert daemon.key("tender", type="cash", amount="5")["ok"]
            head = journal_state(database)["head"]
            wait_until(
                "head office acknowledged everything",
                lambda: journal_state(database)["acknowledged"] == head,
            )
            wait_until(
                "retention waits for a backup",
                lambda: "the oldest kept record is in no backup yet" in daemon.output(),
            )
            assert journal_state(database)["anchor"] == 0  # acknowledged, old, not backed up
            backup = daemon.ask({"command": "backup"})
            assert backup["ok"], backup
            wait_until("the old day is pruned", lambda: journal_state(database)["anchor"] == old)
            wait_until(
                "retention waits for age",
                lambda: "younger than the retention period" in daemon.output(),
            )
            assert journal_state(database)["anchor"] == old  # today's records stay

            verify = run(config, "journal", "verify")
            assert verify.returncode == 0, verify.stderr
            assert f"({old + 1}..{head})" in verify.stdout, verify.stdout
            status = run(config, "journal", "status")
            assert re.search(rf"pruned up to seq:\s+{old}\b", status.stdout), status.stdout
            exported = run(config, "journal", "export")
            assert exported.returncode == 0 and exported.stdout.count("\n") == head - old
            pruned = run(config, "journal", "export", "--from", "1")
            assert pruned.returncode == 2 and "pruned" in pruned.stderr, pruned.stderr
            again = run(config, "backup")  # a backup of a pruned journal verifies from the anchor
            assert again.returncode == 0 and "verified" in again.stdout, again.stderr

            reprint = run(config, "receipt", "2")
            assert (
                reprint.returncode == 2
                and "older than the retention period" in reprint.stderr
                and "Traceback" not in reprint.stderr
            ), reprint.stderr
            refund = daemon.key("refund", receipt="box-1-000001", reason="broken", card="CARD-BEAT")
            assert refund["ok"] is False, refund
            assert "older than the retention period" in str(refund), refund
            late_z = run(
                config, "report", "z", "--date", OLD_DAY.date().isoformat(), *BEAT, stdin=BEAT_PIN
            )
            assert late_z.returncode == 2 and "retention period" in late_z.stderr, late_z.stderr
            assert journal_state(database)["head"] == head
            assert daemon.key("scan", code="7612345001012")["ok"]  # the till goes on selling
        finally:
            assert daemon.stop() == 0, daemon.output()
    finally:
        office.stop()
        broker.kill()
