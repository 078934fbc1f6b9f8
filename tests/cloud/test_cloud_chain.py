"""`cloud chain show / accept`: a real chain break, accepted, and the position walking past
it (and only it) — through the store functions ingest uses, through the command line, and
through a running ingest worker publishing the ack to a real box."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from cloud_testkit import ROOT, Box, RunningIngest, chain_position, cloud_cli, eventually

from cloud.alerts import Alert, list_alerts
from cloud.chain import accept_break, chain_view
from cloud.cli import main as cloud_main
from cloud.db import Database
from cloud.inbound import Inbound, parse
from cloud.ingest_store import IngestStore
from gateway.database import open_database
from gateway.harness.brokers import Mosquitto
from gateway.journal.chain import canonical_json, record_hash
from gateway.journal.records import JournalRecord
from gateway.journal.store import Journal
from gateway.sync.payloads import JournalBatch
from gateway.sync.topics import Topics

STORE, BOX = "store-1", "box-1"
NOW, LATER = "2026-11-24T08:00:00.000Z", "2026-11-24T09:00:00.000Z"


def _journal(path: Path, who: str, count: int) -> Journal:
    """A box journal of its own: the same seqs as another's, other records and hashes."""
    journal = Journal(open_database(path))
    journal.append_many([("sale", {"receipt": n, "journal": who}) for n in range(1, count + 1)])
    return journal


def _batch(records: list[JournalRecord]) -> Inbound:
    """The records as one checked journal batch, exactly as ingest receives it."""
    payload = JournalBatch(
        store=STORE,
        box=BOX,
        first_seq=records[0].seq,
        last_seq=records[-1].seq,
        historical=False,
        sent_at=NOW,
        records=[r.to_wire() for r in records],
    )
    return parse(ROOT, Topics(ROOT, STORE, BOX).journal, payload.model_dump_json().encode())


def _broken_at_6(tmp_path: Path, db: Database) -> tuple[Journal, Journal]:
    """Head office stores 1..5 of one journal and 6..10 of another: seq 6 does not link."""
    a, b = _journal(tmp_path / "a.db", "a", 14), _journal(tmp_path / "b.db", "b", 14)
    stored = IngestStore(db).apply([_batch(a.read(0, 5) + b.read(5, 5))], NOW)
    assert [(p.seq, p.hash) for p in stored.acks] == [(5, a.read(4, 1)[0].hash)]
    return a, b


def test_an_accepted_break_is_passed_and_a_later_break_stops_the_walk_again(
    tmp_path: Path, office_db: Database
) -> None:
    a, b = _broken_at_6(tmp_path, office_db)
    c = _journal(tmp_path / "c.db", "c", 14)
    a5, b6 = a.read(4, 1)[0], b.read(5, 1)[0]
    view = chain_view(office_db, STORE, BOX)
    assert view.broken is not None and (view.acked_seq, view.broken.seq, view.beyond) == (5, 6, 5)
    assert (view.broken.expected_prev_hash, view.broken.found_prev_hash) == (a5.hash, b6.prev_hash)
    assert view.broken.alert_id is not None and view.broken.alert_acknowledged_by is None

    result = accept_break(
        office_db, STORE, BOX, seq=6, reason="restored with --force", by="ops", now=LATER
    )
    assert (result.before.seq, result.after.seq, result.next_break) == (5, 10, None)
    accepted = result.acceptance
    assert (
        accepted.seq,
        accepted.expected_prev_hash,
        accepted.found_prev_hash,
        accepted.accepted_by,
        accepted.reason,
        accepted.accepted_at,
    ) == (6, a5.hash, b6.prev_hash, "ops", "restored with --force", LATER)
    breaks = [
        x for x in list_alerts(office_db, include_acknowledged=True) if x.kind == "chain.break"
    ]
    assert [(x.seq, x.acknowledged_by) for x in breaks] == [(6, "ops")]

    # The box re-sends and goes on; its ack moves to its own hashes. A different journal
    # from seq 13 is another break: the walk stops there and raises a new alert.
    again = IngestStore(office_db).apply([_batch(b.read(5, 7) + c.read(12, 2))], LATER)
    assert [(p.seq, p.hash) for p in again.acks] == [(12, b.read(11, 1)[0].hash)]
    view = chain_view(office_db, STORE, BOX)
    assert view.broken is not None and (view.acked_seq, view.broken.seq) == (12, 13)
    assert [
        (x.seq, x.acknowledged_at is None)
        for x in list_alerts(office_db, include_acknowledged=True)
        if x.kind == "chain.break"
    ] == [(6, False), (13, True)]
    assert IngestStore(office_db).newly_accepted() == [(STORE, BOX)]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_chain_commands_show_the_break_and_refuse_what_they_cannot_accept(
    tmp_path: Path, office_db: Database, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = _broken_at_6(tmp_path, office_db)

    def cloud(*args: str) -> tuple[int, str, str]:
        status = cloud_main([*args, "--db", db_url])
        out, err = capsys.readouterr()
        assert "Traceback" not in err
        return status, out, err

    status, out, _ = cloud("chain", "show", f"{STORE}/{BOX}")
    assert status == 0
    assert "acknowledged up to seq 5" in out and "5 beyond the position" in out
    assert f"expected prev_hash {a.read(4, 1)[0].hash}" in out
    assert f"found    prev_hash {b.read(5, 1)[0].prev_hash}" in out
    accept = ("chain", "accept", f"{STORE}/{BOX}", "--by", "ops")
    status, _, err = cloud(*accept, "--seq", "6", "--reason", "  ")
    assert status == 2 and "--reason: a reason is required" in err and "fix:" in err
    status, _, err = cloud(
        "chain", "accept", f"{STORE}/box-9", "--seq", "6", "--reason", "x", "--by", "ops"
    )
    assert status == 1 and "head office knows no box store-1/box-9" in err and "fix:" in err
    status, _, err = cloud(*accept, "--seq", "7", "--reason", "restored")
    assert status == 1 and "no chain break at seq 7" in err and "breaks at seq 6" in err
    assert chain_position(db_url, STORE, BOX) == 5
    status, out, _ = cloud(*accept, "--seq", "6", "--reason", "restored")
    assert status == 0 and "position: seq 5 -> 10" in out and "acknowledged" in out
    status, _, err = cloud(*accept, "--seq", "6", "--reason", "restored")
    assert status == 1 and "already accepted (#1) by ops" in err
    status, out, _ = cloud("chain", "show", f"{STORE}/{BOX}")
    assert "break      none" in out and "accepted   #1 seq 6 by ops" in out


def _rewrite_record(journal_path: Path, seq: int) -> None:
    """Alter one record of a box journal behind its back (triggers dropped), with a hash
    that is its own: it checks out alone, but the next record no longer links to it."""
    with sqlite3.connect(journal_path) as conn:
        for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'journal_record'"
        ).fetchall():
            conn.execute(f"DROP TRIGGER {name}")
        id_, time, synced, kind, prev = conn.execute(
            "SELECT id, time, clock_synced, kind, prev_hash FROM journal_record WHERE seq = ?",
            (seq,),
        ).fetchone()
        body = {"receipt": seq, "altered": True}
        digest = record_hash(
            prev_hash=prev,
            seq=seq,
            id=id_,
            time=time,
            clock_synced=bool(synced),
            kind=kind,
            body=body,
        )
        conn.execute(
            "UPDATE journal_record SET body = ?, hash = ? WHERE seq = ?",
            (canonical_json(body).decode(), digest, seq),
        )


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_running_ingest_publishes_the_position_an_acceptance_moved(
    tmp_path: Path, db_url: str, broker: Mosquitto, ingest: Callable[..., RunningIngest]
) -> None:
    ingest()
    # resend_after: the box does not re-send on its own during the test, so only the
    # worker noticing the acceptance can bring it the new ack.
    box = Box(tmp_path / "box", broker.port, resend_after=600.0)
    box.append(10)
    _rewrite_record(tmp_path / "box" / "box.db", 5)
    box.start()
    try:
        assert eventually(lambda: box.acknowledged() == 5, 10)
        assert "chain.break" in [a.kind for a in _alerts(db_url)]
        status, out, err = cloud_cli(
            "chain",
            "accept",
            f"{STORE}/{BOX}",
            "--seq",
            "6",
            "--reason",
            "journal altered on site, ticket 4711",
            "--by",
            "ops",
            "--db",
            db_url,
        )
        assert status == 0 and "position: seq 5 -> 10" in out, err
        assert eventually(lambda: box.acknowledged() == 10, 10)
    finally:
        box.stop()


def _alerts(db_url: str) -> list[Alert]:
    db = Database.open(db_url)
    try:
        return list_alerts(db, include_acknowledged=True)
    finally:
        db.close()
