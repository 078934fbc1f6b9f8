"""Journal retention: the pure plan, the keeper on a real SQLite file (injected clocks), the
backups' reach, and the `[journal]` settings through `gateway config check`."""

from __future__ import annotations

import random
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlite_utils
from hypothesis import given, settings
from hypothesis import strategies as st
from journal_testkit import START, SteppingClock, counting_ids, sale_body

from gateway.daemon.backup import BackupReach, take_backup
from gateway.database import open_database
from gateway.errors import DatabaseError
from gateway.journal import Journal, verify_journal
from gateway.journal.retention import (
    Hold,
    RetentionKeeper,
    Watermarks,
    Window,
    step_end,
    window,
)
from gateway.journal.settings import JournalSettings

GATEWAY = Path(sys.executable).parent / "gateway"


def test_window_says_why_nothing_may_go() -> None:
    assert window(Watermarks(0, 1, 1, 1), 10) is Hold.HEAD  # only the head exists
    assert window(Watermarks(0, 9, 0, 9), 10) is Hold.ACKNOWLEDGEMENT
    assert window(Watermarks(0, 9, 9, 0), 10) is Hold.BACKUP
    assert window(Watermarks(4, 9, 4, 9), 10) is Hold.ACKNOWLEDGEMENT  # acked ones gone
    assert window(Watermarks(0, 9, 9, 9), 10) == Window(1, 8)  # never the head
    assert window(Watermarks(0, 100, 60, 40), 10) == Window(1, 10)  # one batch
    assert window(Watermarks(30, 100, 60, 35), 10) == Window(31, 35)  # the backup's reach


def test_step_end_stops_before_the_first_young_record() -> None:
    assert step_end(Window(1, 10), None) == 10
    assert step_end(Window(1, 10), 4) == 3
    assert step_end(Window(5, 10), 5) is Hold.AGE


@settings(max_examples=300, deadline=None)
@given(
    anchor=st.integers(0, 50),
    extra=st.integers(0, 60),
    ack=st.integers(0, 120),
    backed=st.integers(0, 120),
    batch=st.integers(1, 30),
    young=st.one_of(st.none(), st.integers(0, 120)),
)
def test_a_plan_never_reaches_past_acknowledged_backed_up_or_the_head(
    anchor: int, extra: int, ack: int, backed: int, batch: int, young: int | None
) -> None:
    head = anchor + extra
    marks = Watermarks(anchor, head, max(anchor, min(ack, head)), backed)
    chosen = window(marks, batch)
    if isinstance(chosen, Hold):
        return
    first_young = None if young is None or not chosen.first <= young <= chosen.last else young
    end = step_end(chosen, first_young)
    if isinstance(end, Hold):
        return
    assert anchor < end < head and end <= marks.acknowledged_seq and end <= backed
    assert end - anchor <= batch
    assert first_young is None or end < first_young


def _days_of_records(journal: Journal, clock: SteppingClock, days: int, per_day: int) -> None:
    clock.step = timedelta(days=1)  # one reading per append_many: a day's records
    for day in range(days):
        journal.append_many([("sale", sale_body(day * per_day + n)) for n in range(per_day)])


def test_the_keeper_prunes_only_acknowledged_backed_up_old_records_in_steps(
    journal: Journal, clock: SteppingClock
) -> None:
    _days_of_records(journal, clock, days=20, per_day=10)  # seq 1..200, 10 a day
    reach = {"seq": 0}
    now = {"at": START + timedelta(days=20)}
    keeper = RetentionKeeper(
        journal,
        JournalSettings(retention_days=7, prune_batch=25, prune_interval_s=60),
        backed_up=lambda: reach["seq"],
        wall=lambda: now["at"],
    )
    assert keeper.step() == (0, Hold.ACKNOWLEDGEMENT)
    journal.acknowledge(150)
    assert keeper.step() == (0, Hold.BACKUP)  # acknowledged, but no backup holds them
    reach["seq"] = 60
    steps = [keeper.tick(float(t)) for t in range(6)]
    assert steps == [25, 25, 10, 0, 0, 0]  # bounded per tick; then idle until the interval
    assert journal.state().anchor_seq == 60
    reach["seq"] = 200
    assert keeper.tick(61.0) == 0  # the idle interval runs from the last step (t=2)
    assert keeper.tick(62.0) == 25 and keeper.tick(62.0) == 25
    while keeper.tick(1e6):
        pass
    # days 0..12 are older than 7 days at day 20; day 13 starts at seq 131
    assert journal.state().anchor_seq == 130
    assert keeper.step() == (0, Hold.AGE)
    assert verify_journal(journal._db).ok
    assert [r.seq for r in journal.read(0, 1)] == [131]
    now["at"] += timedelta(days=30)
    while keeper.tick(2e6):
        pass
    assert journal.state().anchor_seq == 150  # never past what head office acknowledged
    assert keeper.step() == (0, Hold.ACKNOWLEDGEMENT)


def test_retention_zero_keeps_everything(journal: Journal, clock: SteppingClock) -> None:
    _days_of_records(journal, clock, days=3, per_day=2)
    journal.acknowledge(6)
    keeper = RetentionKeeper(
        journal,
        JournalSettings(retention_days=0),
        backed_up=lambda: 6,
        wall=lambda: START + timedelta(days=999),
    )
    assert keeper.step() == (0, Hold.DISABLED)
    assert journal.state().anchor_seq == 0


def test_dependents_delete_in_the_same_transaction(
    journal: Journal, clock: SteppingClock, db: sqlite_utils.Database
) -> None:
    _days_of_records(journal, clock, days=10, per_day=1)
    journal.acknowledge(10)
    db.conn.execute("CREATE TABLE side (seq INTEGER)")
    db.conn.executemany("INSERT INTO side VALUES (?)", [(n,) for n in range(1, 11)])

    alerts: list[str] = []

    def broken(conn: sqlite3.Connection, upto: int) -> None:
        raise DatabaseError("disk I/O error", where="side table", fix="free some space")

    keeper = RetentionKeeper(
        journal,
        JournalSettings(retention_days=7),
        backed_up=lambda: 10,
        wall=lambda: START + timedelta(days=30),
        dependents=[broken],
        alert=alerts.append,
    )
    assert keeper.tick(0.0) == 0 and "journal pruning failed" in alerts[-1]
    assert journal.state().anchor_seq == 0 and journal.get(1) is not None  # rolled back

    def side(conn: sqlite3.Connection, upto: int) -> None:
        conn.execute("DELETE FROM side WHERE seq <= ?", (upto,))

    keeper = RetentionKeeper(
        journal,
        JournalSettings(retention_days=7),
        backed_up=lambda: 10,
        wall=lambda: START + timedelta(days=30),
        dependents=[side],
    )
    assert keeper.tick(0.0) == 9
    assert [r[0] for r in db.conn.execute("SELECT seq FROM side")] == [10]


def test_a_backup_counts_only_while_it_exists_and_holds_this_chain(tmp_path: Path) -> None:
    database = tmp_path / "storegate.db"
    clock = SteppingClock()
    journal = Journal(open_database(database), clock=clock, new_id=counting_ids())
    for n in range(5):
        journal.append("sale", sale_body(n))
    backups = tmp_path / "backups"
    reach = BackupReach(backups, journal.get)
    assert reach() == 0
    first = take_backup(database, backups, keep=5, now=START)
    assert reach() == 5
    for n in range(5, 8):
        journal.append("sale", sale_body(n))
    take_backup(database, backups, keep=5, now=START + timedelta(hours=1))
    assert reach() == 8
    other = tmp_path / "other.db"  # another chain, seqs 1..9: it holds nothing of this one
    foreign = Journal(open_database(other), clock=SteppingClock(), new_id=counting_ids("x"))
    for n in range(9):
        foreign.append("sale", sale_body(100 + n))
    take_backup(other, backups, keep=5, now=START + timedelta(hours=2))
    assert reach() == 8
    for path in list(backups.iterdir()):
        if "seq8" in path.name:
            path.unlink()
    assert reach() == 5 and first.path.exists()


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        (
            "[journal]\nretention_days = 3\n",
            "journal.retention_days: "
            "retention_days = 3: use 0 (keep every record) or 7 to 3650 days",
        ),
        ("[journal]\nprune_batch = 0\n", "journal.prune_batch"),
        ("[journal]\nretention = 90\n", "journal.retention: unknown key"),
    ],
)
def test_config_check_names_a_bad_journal_setting(tmp_path: Path, toml: str, expected: str) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text(toml)
    done = subprocess.run(
        [str(GATEWAY), "config", "check", "--config", str(config)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2 and expected in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_random_days_never_prune_the_unacknowledged_the_unbacked_or_the_young(
    journal: Journal, clock: SteppingClock
) -> None:
    """A seeded random mix of sales, acknowledgements, backups, time passing and keeper
    steps on a real file: after every step the kept records are exactly those the rules
    keep, and the chain verifies."""
    rng = random.Random(20261202)
    reach = {"seq": 0}
    now = {"at": START}
    stamps: dict[int, datetime] = {}
    keeper = RetentionKeeper(
        journal,
        JournalSettings(retention_days=7, prune_batch=10),
        backed_up=lambda: reach["seq"],
        wall=lambda: now["at"],
    )
    clock.step = timedelta(0)
    for _ in range(400):
        action = rng.choice(("sell", "sell", "ack", "backup", "time", "step", "step"))
        head = journal.state().head_seq
        if action == "sell":
            clock.now = now["at"]
            for record in journal.append_many(
                [("sale", sale_body(n)) for n in range(rng.randint(1, 8))]
            ):
                stamps[record.seq] = now["at"]
        elif action == "ack" and head:
            journal.acknowledge(rng.randint(journal.state().acknowledged_seq, head))
        elif action == "backup":
            reach["seq"] = head
        elif action == "time":
            now["at"] += timedelta(hours=rng.randint(1, 72))
        else:
            state = journal.state()
            deleted, _ = keeper.step()
            after = journal.state()
            assert deleted == after.anchor_seq - state.anchor_seq <= 10
            assert after.anchor_seq <= min(after.acknowledged_seq, reach["seq"])
            assert after.anchor_seq < max(after.head_seq, 1)
            assert all(
                stamps[s] < now["at"] - timedelta(days=7)
                for s in range(state.anchor_seq + 1, after.anchor_seq + 1)
            )
            assert journal.get(after.anchor_seq + 1) is not None or after.head_seq == 0
    assert journal.state().anchor_seq > 0  # the mix did prune
    assert verify_journal(journal._db).ok
