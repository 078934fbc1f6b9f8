"""Appending, reading, idempotency, acknowledgement and pruning on a real SQLite file."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import sqlite_utils
from journal_testkit import START, SteppingClock, counting_ids, sale_body

from gateway.database import open_database
from gateway.errors import DatabaseError
from gateway.journal import (
    GENESIS_HASH,
    Journal,
    JournalError,
    RecordIdConflict,
    UnserialisableBody,
    verify_journal,
)
from gateway.migrations import LATEST_VERSION


def test_append_reopen_and_verify(db_path: Path, clock: SteppingClock) -> None:
    db = open_database(db_path)
    journal = Journal(db, clock=clock, new_id=counting_ids())
    first = journal.append("shift_open", {"staff": "S01"})
    sale = journal.append("sale", sale_body(1))
    db.conn.close()

    reopened = open_database(db_path)
    again = Journal(reopened, clock=clock)
    assert first.seq == 1 and first.prev_hash == GENESIS_HASH
    assert sale.seq == 2 and sale.prev_hash == first.hash
    assert again.head() == sale
    assert again.get(1) == first
    assert sale.body["total"] == "7.50"  # Decimal kept exactly, as a string
    assert sale.time == "2026-03-01T09:00:01.000Z" and sale.clock_synced
    third = again.append("sale", sale_body(2))
    assert third.seq == 3 and third.prev_hash == sale.hash
    report = verify_journal(reopened)
    assert report.ok and report.checked == 3 and report.head_seq == 3


def test_reader_connection_sees_committed_records(journal: Journal, db_path: Path) -> None:
    journal.append("sale", sale_body(1))
    reader = open_database(db_path, readonly=True)
    assert Journal(reader).head() == journal.head()
    assert verify_journal(reader).ok
    with pytest.raises(sqlite3.OperationalError):
        reader.conn.execute("DELETE FROM journal_state")


def test_same_record_id_returns_existing_record_and_skips_also(
    journal: Journal, db: sqlite_utils.Database
) -> None:
    db.conn.execute("CREATE TABLE member_balance (member TEXT PRIMARY KEY, balance TEXT)")
    db.conn.execute("INSERT INTO member_balance VALUES ('M1', '50.00')")

    def debit(conn: sqlite3.Connection) -> None:
        (balance,) = conn.execute("SELECT balance FROM member_balance").fetchone()
        conn.execute(
            "UPDATE member_balance SET balance = ?", (str(Decimal(balance) - Decimal("12.00")),)
        )

    body = {"member": "M1", "change": Decimal("-12.00")}
    first = journal.append("member_balance", body, record_id="bal-1", also=debit)
    again = journal.append("member_balance", body, record_id="bal-1", also=debit)
    assert again == first
    assert journal.head() == first
    assert db.conn.execute("SELECT balance FROM member_balance").fetchone() == ("38.00",)


def test_reused_record_id_with_other_body_is_refused(journal: Journal) -> None:
    journal.append("sale", sale_body(1), record_id="sale-1")
    with pytest.raises(RecordIdConflict, match="sale-1"):
        journal.append("sale", sale_body(2), record_id="sale-1")
    assert journal.head().seq == 1  # type: ignore[union-attr]


def test_also_failure_rolls_back_record_and_side_effect(
    journal: Journal, db: sqlite_utils.Database
) -> None:
    db.conn.execute("CREATE TABLE stock (sku TEXT PRIMARY KEY, qty INTEGER CHECK (qty >= 0))")
    db.conn.execute("INSERT INTO stock VALUES ('A', 1)")

    def take_two(conn: sqlite3.Connection) -> None:
        conn.execute("UPDATE stock SET qty = qty - 2")

    with pytest.raises(sqlite3.IntegrityError):
        journal.append("sale", sale_body(1), also=take_two)
    assert journal.head() is None
    assert db.conn.execute("SELECT qty FROM stock").fetchone() == (1,)
    assert journal.append("sale", sale_body(1)).seq == 1  # the failed attempt used no seq


def test_append_many_is_one_transaction(journal: Journal) -> None:
    records = journal.append_many([("sale", sale_body(n)) for n in range(3)])
    assert [r.seq for r in records] == [1, 2, 3]
    assert records[1].prev_hash == records[0].hash
    with pytest.raises(UnserialisableBody):
        journal.append_many([("sale", sale_body(4)), ("sale", {"weight": 0.25})])
    assert journal.head() == records[-1]


def test_append_many_replay_and_mixed_batch(journal: Journal) -> None:
    batch = [("void", {"line": 1}, "v-1"), ("void", {"line": 2}, "v-2")]
    written = journal.append_many(batch)
    assert journal.append_many(batch) == written
    with pytest.raises(RecordIdConflict, match="1 of 2"):
        journal.append_many([("void", {"line": 1}, "v-1"), ("void", {"line": 3}, "v-3")])
    with pytest.raises(RecordIdConflict, match="more than once"):
        journal.append_many([("void", {"line": 4}, "v-4"), ("void", {"line": 5}, "v-4")])
    assert journal.head() == written[-1]


@pytest.mark.parametrize(
    "kind, body, record_id",
    [
        ("", {}, None),
        ("sale", ["not", "a", "mapping"], None),
        ("sale", {}, ""),
    ],
)
def test_bad_entries_are_refused(
    journal: Journal, kind: str, body: object, record_id: str | None
) -> None:
    with pytest.raises(JournalError):
        journal.append(kind, body, record_id=record_id)  # type: ignore[arg-type]


def test_read_find_and_order_do_not_depend_on_the_clock(
    journal: Journal, clock: SteppingClock
) -> None:
    journal.append("sale", sale_body(1))
    clock.now = START - timedelta(days=3)  # the clock jumps backwards
    clock.synced = False
    late = journal.append("sale", sale_body(2), record_id="after-jump")
    journal.append("no_sale", {"drawer": 1})
    assert [r.seq for r in journal.read(0, 10)] == [1, 2, 3]
    assert [r.seq for r in journal.read(1, 1)] == [2]
    assert journal.find("after-jump") == late and not late.clock_synced
    assert journal.find("nope") is None and journal.get(99) is None
    report = verify_journal(journal._db)
    assert report.ok and report.clock_steps_back == 1 and report.unsynchronised == 2


def test_acknowledge_is_monotonic_and_bounded(journal: Journal) -> None:
    records = journal.append_many([("sale", sale_body(n)) for n in range(5)])
    assert journal.acknowledged_seq() == 0
    assert journal.backlog() == (5, records[0].time)
    journal.acknowledge(3)
    journal.acknowledge(2)  # lower: no-op
    assert journal.acknowledged_seq() == 3
    assert journal.backlog() == (2, records[3].time)
    with pytest.raises(JournalError, match="head is 5"):
        journal.acknowledge(6)
    with pytest.raises(JournalError, match="but this box holds"):
        journal.acknowledge(4, expected_hash="f" * 64)
    journal.acknowledge(5, expected_hash=records[4].hash)
    assert journal.backlog() == (0, None)


def test_prune_removes_only_acknowledged_and_old(journal: Journal, clock: SteppingClock) -> None:
    clock.step = timedelta(days=1)
    journal.append_many([("sale", sale_body(0))])
    for n in range(1, 10):
        journal.append("sale", sale_body(n))  # one record per day, day 0..9
    now = START + timedelta(days=100)
    assert journal.prune(now, timedelta(days=90), backed_up_seq=10) == 0  # nothing acked
    journal.acknowledge(6)
    assert journal.prune(now, timedelta(days=94), backed_up_seq=0) == 0  # in no backup
    assert journal.prune(now, timedelta(days=94), backed_up_seq=3) == 3  # backup holds 1..3
    deleted = journal.prune(now, timedelta(days=94), backed_up_seq=10)  # days 3..5 > 94 d
    assert deleted == 3
    assert journal.read(0, 1)[0].seq == 7
    assert journal.state().anchor_seq == 6
    assert verify_journal(journal._db).ok
    assert (
        journal.prune(now + timedelta(days=365), timedelta(days=90), backed_up_seq=10) == 0
    )  # 7..10 unacknowledged


def test_prune_keeps_the_head_and_stops_at_a_future_stamp(
    journal: Journal, clock: SteppingClock
) -> None:
    journal.append("sale", sale_body(1))
    clock.now = START + timedelta(days=400)  # clock jumped forward for one record
    journal.append("sale", sale_body(2))
    clock.now = START + timedelta(days=1)
    journal.append_many([("sale", sale_body(3)), ("sale", sale_body(4))])
    journal.acknowledge(4)
    assert journal.prune(START + timedelta(days=200), backed_up_seq=4) == 1  # 2 still young
    journal.prune(START + timedelta(days=1000), backed_up_seq=4)
    assert [r.seq for r in journal.read(0, 10)] == [4]  # the head is always kept
    assert journal.append("sale", sale_body(5)).seq == 5
    assert verify_journal(journal._db).ok


def test_database_refuses_deleting_unacknowledged_and_updating(
    journal: Journal, db: sqlite_utils.Database
) -> None:
    journal.append("sale", sale_body(1))
    with pytest.raises(sqlite3.IntegrityError, match="only once acknowledged"):
        db.conn.execute("DELETE FROM journal_record")
    with pytest.raises(sqlite3.IntegrityError, match="never updated"):
        db.conn.execute("UPDATE journal_record SET kind = 'void'")


def test_newer_schema_is_refused(db_path: Path) -> None:
    open_database(db_path).conn.close()
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA user_version = {LATEST_VERSION + 1}")
    conn.close()
    for readonly in (False, True):
        with pytest.raises(DatabaseError, match="newer than this storegate"):
            open_database(db_path, readonly=readonly)


def test_wire_round_trip(journal: Journal) -> None:
    from gateway.journal import JournalRecord

    record = journal.append("refund", {"amount": Decimal("-3.10"), "of": "R000001"})
    wire = record.to_wire()
    assert JournalRecord.from_wire(wire) == record
    assert JournalRecord.from_wire(wire).verify(GENESIS_HASH)
    with pytest.raises(JournalError, match="seq must be an integer; hash missing"):
        JournalRecord.from_wire({**{k: v for k, v in wire.items() if k != "hash"}, "seq": True})


def test_append_inside_an_open_transaction_is_refused(
    journal: Journal, db: sqlite_utils.Database
) -> None:
    db.conn.execute("BEGIN")
    with pytest.raises(JournalError, match="already inside a transaction"):
        journal.append("sale", sale_body(1))
    db.conn.execute("ROLLBACK")
    assert journal.append("sale", sale_body(1)).seq == 1


def test_also_sees_the_record_it_commits_with(journal: Journal) -> None:
    seen: list[tuple[int, str]] = []

    def look(conn: sqlite3.Connection) -> None:
        seen.extend(conn.execute("SELECT seq, kind FROM journal_record").fetchall())

    journal.append_many([("shift_open", {"staff": "S01"}), ("no_sale", {})], also=look)
    assert seen == [(1, "shift_open"), (2, "no_sale")]
