"""A crash between journal commit and receipt print (a real SIGKILLed process): on restart
the sale is there once, its receipt can be reprinted (marked as a copy), nothing is
recorded twice, and the till goes on with the next receipt number."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from lane_testkit import CASHIER, SETTINGS, Clock, make_lane

from gateway.database import open_database
from gateway.journal import Journal, verify_journal
from gateway.lane import events as ev
from gateway.lane.book import Batch
from gateway.lane.events import Outcome
from gateway.lane.machine import State

ROOT = Path(__file__).resolve().parents[2]
CHILD = Path(__file__).parent / "lane_crash_child.py"


def test_crash_between_commit_and_print(tmp_path: Path, catalog, settings) -> None:
    db_path = tmp_path / "storegate.db"
    child = subprocess.Popen(
        [sys.executable, str(CHILD), str(db_path)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    line = child.stdout.readline().split()
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL and line[0] == "COMMITTED"
    seq, record_id = int(line[1]), line[2]

    journal = Journal(open_database(db_path, readonly=True))
    sales = [r for r in journal.read(0, 100) if r.kind == "sale"]
    assert [(r.seq, r.id) for r in sales] == [(seq, record_id)]
    assert verify_journal(open_database(db_path, readonly=True)).ok

    escpos = tmp_path / "copy.bin"
    reprint = subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway.cli",
            "receipt",
            str(seq),
            "--config",
            str(SETTINGS),
            "--db",
            str(db_path),
            "--escpos",
            str(escpos),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert reprint.returncode == 0, reprint.stderr
    assert "*** COPY / 重印 ***" in reprint.stdout and record_id in reprint.stdout
    assert sales[0].hash.encode() in escpos.read_bytes()

    lane = make_lane(db_path, catalog, settings)  # the box restarts
    again = lane.book.journal.append("sale", sales[0].body, record_id=record_id)
    assert again == sales[0]  # re-recording the same sale returns it, no second record
    assert lane.state is State.IDLE
    clock = Clock()
    lane.handle(ev.Scan(clock(), "7612345001234"))
    out = lane.handle(ev.Tender(clock(), "cash", Decimal(5)))
    assert isinstance(out, Outcome)
    assert out.records[0].body["receipt_id"] == "box-1-000002"
    kinds = [r.kind for r in lane.book.journal.read(0, 100)]
    assert kinds == ["shift_open", "sale", "sale"]


def test_crash_during_payment_keeps_the_tenders_taken(tmp_path: Path, catalog, settings) -> None:
    db_path = tmp_path / "storegate.db"
    child = subprocess.Popen(
        [sys.executable, str(Path(__file__).parent / "lane_paying_child.py"), str(db_path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    said = child.stdout.readline().strip()
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=10)
    assert said == "TENDERED"

    lane = make_lane(db_path, catalog, settings)  # the box restarts mid-payment
    assert lane.state is State.TENDERING and lane.restore_notes == ()
    assert [(t.type, t.amount) for t in lane.sale.tenders] == [
        ("card", Decimal("5.00")),
        ("stored_value", Decimal("2.00")),
    ]
    assert lane.sale.member is not None and lane.sale.member.id == "M0001"
    clock = Clock()
    out = lane.handle(ev.Tender(clock(), "cash", Decimal(20)))
    assert isinstance(out, Outcome) and out.state == "idle"
    sale = out.records[0].body
    assert [t["type"] for t in sale["tenders"]] == ["card", "stored_value", "cash"]
    assert sale["tenders"][0]["card"] == "411111******1111"
    assert [r.kind for r in lane.book.journal.read(0, 50)].count("sale") == 1
    assert lane.book.paying() is None
    lane.book.db.conn.close()
    again = make_lane(db_path, catalog, settings)
    assert again.state is State.IDLE and again.sale is None


def test_a_payment_that_cannot_come_back_is_parked_not_lost(
    tmp_path: Path, catalog, settings
) -> None:
    lane = make_lane(tmp_path / "storegate.db", catalog, settings)
    clock = Clock()
    lane.handle(ev.OpenShift(clock(), CASHIER))
    lane.handle(ev.Scan(clock(), "7612345001234"))
    lane.handle(ev.Tender(clock(), "card", Decimal("1.00"), reference="A"))
    body = lane.book.paying()
    assert body is not None
    body["lines"][0]["sku"] = "GONE-FROM-CATALOG"
    write = lane.book.save_paying(lane.shift.shift_id, clock().isoformat(), body)
    lane._book.commit(Batch(writes=[write]))
    lane.book.db.conn.close()
    again = make_lane(tmp_path / "storegate.db", catalog, settings)
    assert again.state is State.IDLE
    assert "kept as H0001" in again.restore_notes[0] and "card 1.00" in again.restore_notes[0]
    assert again.book.paying() is None and again.book.suspended_ids() == ["H0001"]
