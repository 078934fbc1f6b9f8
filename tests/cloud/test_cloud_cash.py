"""Head office takes the lane's cash records (issue 14, item 5): a real lane writes a float,
a cash sale, a paid-in, an authorised paid-out and a close counted per note and coin; the
box's sync service sends them through a real Mosquitto to `cloud ingest` (SQLite and
PostgreSQL), which stores every record once, parses each with the lane's own models, and
`cloud report cash` sums paid in, paid out and the over/short."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from cloud_testkit import Box, RunningIngest, cloud_cli, day_clock, eventually, stored

from cloud.db import Database
from cloud.reports import CASH_KINDS
from cloud.sales import Period, load
from gateway.catalog.catalog import load_catalog_file
from gateway.database import open_database
from gateway.harness.brokers import Mosquitto
from gateway.journal import Journal
from gateway.lane import events as ev
from gateway.lane.book import LaneBook
from gateway.lane.events import Outcome
from gateway.lane.machine import Lane
from gateway.lane.staff import StaffDirectory
from gateway.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
D = Decimal
MILK = "7612345001012"  # 1.75
DAY = "2026-11-24"


def play_a_shift(database: Path) -> int:
    """A shift on a real lane: returns how many records it journalled."""
    settings = load_settings(ROOT / "config" / "gateway.example.toml")
    db = open_database(database)
    staff = StaffDirectory(db, settings.lane)
    staff.add("101", "Anna", "cashier", pin="472951", card="CARD-ANNA")
    staff.add("201", "Beat", "supervisor", pin="836104", card="CARD-BEAT")
    lane = Lane(
        book=LaneBook(db, Journal(db, clock=day_clock(date(2026, 11, 24), 9))),
        staff=staff,
        catalog=load_catalog_file(ROOT / "config" / "catalog.example.json"),
        settings=settings,
    )
    at = datetime(2026, 11, 24, 9, 0)

    def ok(event: ev.Event) -> None:
        assert isinstance(lane.handle(event), Outcome)

    steps = iter(range(1, 100))

    def now() -> datetime:
        return at + timedelta(minutes=next(steps))

    ok(ev.OpenShift(now(), ev.Credential(card="CARD-ANNA"), D("100.00")))
    ok(ev.Scan(now(), MILK))
    ok(ev.Tender(now(), "cash", D(5)))
    ok(ev.PaidIn(now(), D("50.00"), "change from the bank"))
    boss = ev.Authorization(ev.Credential(card="CARD-BEAT"), "milk man")
    ok(ev.PaidOut(now(), D("40.00"), "milk man", boss))
    # expected 100 + 1.75 + 50 - 40 = 111.75; counted 111.50 in notes and coins: 0.25 short
    count = ((D("100"), 1), (D("10"), 1), (D("1"), 1), (D("0.50"), 1))
    ok(ev.CloseShift(now(), D("111.50"), denominations=count))
    head = lane.book.journal.state().head_seq
    db.conn.close()
    return head


def test_the_cash_records_reach_head_office_and_its_cash_report(
    tmp_path: Path, db_url: str, broker: Mosquitto, ingest: Callable[..., RunningIngest]
) -> None:
    workdir = tmp_path / "box"
    workdir.mkdir()
    records = play_a_shift(workdir / "box.db")
    ingest()
    box = Box(workdir, broker.port)
    box.start()
    try:
        assert eventually(lambda: box.acknowledged() == records, 30)
    finally:
        box.stop()
    assert len(stored(db_url, "store-1", "box-1")) == records

    db = Database.open(db_url)
    try:
        loaded = load(db, Period.parse(DAY, DAY), kinds=CASH_KINDS)
    finally:
        db.close()
    assert loaded.skipped == 0  # every body parsed with the lane's own models
    assert sorted(e.kind for e in loaded.entries) == ["paid_in", "paid_out", "shift_close"]
    paid_out = next(e.body for e in loaded.entries if e.kind == "paid_out")
    assert paid_out.override is not None and paid_out.override.supervisor.name == "Beat"  # type: ignore[attr-defined]

    status, out, err = cloud_cli("report", "cash", "--db", db_url, "--json", "--by", "box")
    assert status == 0, err
    table = json.loads(out)
    assert table["columns"][1:] == [
        "paid ins",
        "paid in",
        "paid outs",
        "paid out",
        "shifts closed",
        "expected",
        "counted",
        "over/short",
    ]
    [row] = table["rows"]
    assert row["box"] == "store-1/box-1"
    assert (row["paid ins"], D(row["paid in"]), row["paid outs"], D(row["paid out"])) == (
        1,
        D("50.00"),
        1,
        D("40.00"),
    )
    assert (D(row["expected"]), D(row["counted"]), D(row["over/short"])) == (
        D("111.75"),
        D("111.50"),
        D("-0.25"),
    )
