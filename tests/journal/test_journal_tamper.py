"""A journal edited behind storegate's back: verify names the first bad record and why."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from journal_testkit import SteppingClock, counting_ids, row, sale_body, tamper

from gateway.database import open_database
from gateway.journal import Journal, verify_journal
from gateway.journal.chain import canonical_json, envelope_bytes, hash_bytes

RECORDS = 8


@pytest.fixture
def written(db_path: Path) -> Path:
    """A closed journal file with RECORDS sales, seq 1..RECORDS."""
    db = open_database(db_path)
    journal = Journal(db, clock=SteppingClock(), new_id=counting_ids())
    for n in range(RECORDS):
        journal.append("sale", sale_body(n))
    db.conn.close()
    return db_path


def _verify(path: Path) -> Any:
    db = open_database(path, readonly=True)
    try:
        return verify_journal(db)
    finally:
        db.conn.close()


def _forged(seq: int, prev_hash: str, body: dict[str, Any]) -> tuple[Any, ...]:
    """A record an attacker computes correctly under the published hash rule."""
    rid, time, kind = f"forged{seq}", "2026-03-01T09:00:04.500Z", "sale"
    body_bytes = canonical_json(body)
    digest = hash_bytes(
        envelope_bytes(
            prev_hash=prev_hash,
            seq=seq,
            id=rid,
            time=time,
            clock_synced=True,
            kind=kind,
            body_bytes=body_bytes,
        )
    )
    return (seq, rid, time, 1, kind, body_bytes.decode(), prev_hash, digest)


def _body_change(path: Path) -> None:
    body = row(path, 4)[5]
    changed = body.replace('"total":"7.50"', '"total":"0.50"')
    assert changed != body
    tamper(path, ("UPDATE journal_record SET body = ? WHERE seq = 4", (changed,)))


def _hash_change(path: Path) -> None:
    tamper(path, ("UPDATE journal_record SET hash = ? WHERE seq = 4", ("a" * 64,)))


def _rehashed_body_change(path: Path) -> None:
    prev = row(path, 4)[6]
    forged = _forged(4, prev, {"receipt": "R000003", "total": "0.01"})
    tamper(
        path,
        ("DELETE FROM journal_record WHERE seq = 4", ()),
        ("INSERT INTO journal_record VALUES (?, ?, ?, ?, ?, ?, ?, ?)", forged),
    )


def _deleted_row(path: Path) -> None:
    tamper(path, ("DELETE FROM journal_record WHERE seq = 4", ()))


def _deleted_and_renumbered(path: Path) -> None:
    tamper(
        path,
        ("DELETE FROM journal_record WHERE seq = 4", ()),
        ("UPDATE journal_record SET seq = seq + 1000 WHERE seq > 4", ()),
        ("UPDATE journal_record SET seq = seq - 1001 WHERE seq > 1000", ()),
    )


def _inserted_and_renumbered(path: Path) -> None:
    prev = row(path, 3)[-1]
    forged = _forged(4, prev, {"receipt": "X", "total": "99.00"})
    tamper(
        path,
        ("UPDATE journal_record SET seq = seq + 1000 WHERE seq >= 4", ()),
        ("UPDATE journal_record SET seq = seq - 999 WHERE seq >= 1000", ()),
        ("INSERT INTO journal_record VALUES (?, ?, ?, ?, ?, ?, ?, ?)", forged),
    )


def _inserted_after_head(path: Path) -> None:
    prev = row(path, RECORDS)[-1]
    forged = _forged(RECORDS + 1, prev, {"receipt": "X", "total": "1.00"})
    tamper(path, ("INSERT INTO journal_record VALUES (?, ?, ?, ?, ?, ?, ?, ?)", forged))


def _swapped_rows(path: Path) -> None:
    tamper(
        path,
        ("UPDATE journal_record SET seq = -1 WHERE seq = 4", ()),
        ("UPDATE journal_record SET seq = 4 WHERE seq = 5", ()),
        ("UPDATE journal_record SET seq = 5 WHERE seq = -1", ()),
    )


def _last_deleted(path: Path) -> None:
    tamper(path, ("DELETE FROM journal_record WHERE seq = ?", (RECORDS,)))


def _clock_synced_flipped(path: Path) -> None:
    tamper(path, ("UPDATE journal_record SET clock_synced = 0 WHERE seq = 4", ()))


def _clock_synced_not_boolean(path: Path) -> None:
    tamper(path, ("UPDATE journal_record SET clock_synced = 2 WHERE seq = 4", ()))


def _time_changed(path: Path) -> None:
    tamper(path, ("UPDATE journal_record SET time = '2026-03-02T09:00:04.000Z' WHERE seq = 4", ()))


def _whitespace_in_body(path: Path) -> None:
    body = row(path, 4)[5]
    tamper(
        path,
        (
            "UPDATE journal_record SET body = ? WHERE seq = 4",
            (json.dumps(json.loads(body), sort_keys=True),),
        ),
    )


def _kind_invalid_utf8(path: Path) -> None:
    tamper(path, ("UPDATE journal_record SET kind = CAST(X'73ff6c65' AS TEXT) WHERE seq = 4", ()))


def _hash_as_number(path: Path) -> None:
    tamper(path, ("UPDATE journal_record SET hash = 12345 WHERE seq = 4", ()))


CASES: dict[str, tuple[Callable[[Path], None], int, str]] = {
    "body altered": (_body_change, 4, "record 4 was altered: its content"),
    "hash altered": (_hash_change, 4, "record 4 was altered"),
    "body altered and re-hashed": (_rehashed_body_change, 4, "record 4 was altered and re-hashed"),
    "row deleted": (_deleted_row, 4, "record 4 is missing (removed)"),
    "row deleted, later renumbered": (_deleted_and_renumbered, 4, "holds the content of record 5"),
    "row inserted, later renumbered": (_inserted_and_renumbered, 4, "record 4 was inserted"),
    "row inserted after the head": (_inserted_after_head, RECORDS + 1, "inserted after the head"),
    "rows swapped": (_swapped_rows, 4, "record 4 holds the content of record 5"),
    "last row deleted": (_last_deleted, RECORDS, f"record {RECORDS} is missing (removed)"),
    "clock flag flipped": (_clock_synced_flipped, 4, "record 4 was altered"),
    "clock flag not 0/1": (_clock_synced_not_boolean, 4, "clock_synced is 2"),
    "time altered": (_time_changed, 4, "record 4 was altered"),
    "same JSON, other bytes": (_whitespace_in_body, 4, "record 4 was altered"),
    "kind not UTF-8": (_kind_invalid_utf8, 4, "record 4 was altered: its content"),
    "hash stored as a number": (_hash_as_number, 4, "record 4 was altered"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_tampering_is_named_at_the_right_record(written: Path, case: str) -> None:
    assert _verify(written).ok
    change, first_bad, problem = CASES[case]
    change(written)
    report = _verify(written)
    assert not report.ok
    assert report.first_bad_seq == first_bad, report.problem
    assert problem in (report.problem or ""), report.problem


def test_rewritten_chain_is_caught_by_the_acknowledged_hash(written: Path) -> None:
    db = open_database(written)
    Journal(db).acknowledge(RECORDS)
    db.conn.close()
    forged, prev = [], row(written, 1)[-1]
    for seq in range(2, RECORDS + 1):  # rewrite 2.. with a consistent chain and new head
        record = _forged(seq, prev, {"n": seq})
        forged.append(record)
        prev = record[-1]
    tamper(
        written,
        ("DELETE FROM journal_record WHERE seq >= 2", ()),
        *[("INSERT INTO journal_record VALUES (?, ?, ?, ?, ?, ?, ?, ?)", r) for r in forged],
        ("UPDATE journal_state SET head_hash = ?", (prev,)),
    )
    report = _verify(written)
    assert report.first_bad_seq == RECORDS
    assert "differs from the one head office acknowledged" in (report.problem or "")


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_single_byte_change_of_a_stored_body_is_detected(
    written: Path, tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    copy = tmp_path_factory.mktemp("copy") / "storegate.db"
    shutil.copy(written, copy)
    seq = data.draw(st.integers(1, RECORDS), label="seq")
    body = row(copy, seq)[5].encode()
    at = data.draw(st.integers(0, len(body) - 1), label="byte")
    new = data.draw(st.integers(0, 255).filter(lambda b: b != body[at]), label="value")
    changed = body[:at] + bytes([new]) + body[at + 1 :]
    tamper(copy, ("UPDATE journal_record SET body = CAST(? AS TEXT) WHERE seq = ?", (changed, seq)))
    report = _verify(copy)
    assert not report.ok and report.first_bad_seq == seq, report.problem
