"""The sales summary ingest keeps for the web pages (issue 18 item 9): the same figures as
`cloud report` computed from the bodies, each record counted exactly once however often it
is delivered, and filled from the stored journal when the migration creates it. SQLite and
PostgreSQL, through the real ingest storage path."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

from cloud_testkit import journal_of_days, store_journal_directly

from cloud import reports
from cloud.db import Database
from cloud.sales import Period, load
from cloud.sales_summary import net_by_store, rebuild, store_day
from gateway.harness.fleetsim import StoreDay

DAY, OTHER = date(2026, 11, 20), date(2026, 11, 13)


def _figures(db: Database, day: date) -> tuple[object, ...]:
    hour, cashier, refunds = store_day(db, "store-1", day)
    return (
        net_by_store(db, day, ["store-1", "store-2", "store-3"]),
        hour.rows,
        cashier.rows,
        refunds.rows,
    )


def _from_bodies(db: Database, day: date) -> tuple[object, ...]:
    every = load(db, Period(day, day))
    by_store = {
        str(r[0]): (int(r[1]), Decimal(r[5])) for r in reports.sales_by(every, "store").rows
    }
    one = load(db, Period(day, day), "store-1")
    return (
        {s: by_store.get(s, (0, Decimal("0.00"))) for s in ("store-1", "store-2", "store-3")},
        reports.sales_by(one, "hour").rows,
        reports.sales_by(one, "cashier").rows,
        reports.refunds_voids(one, "cashier").rows,
    )


def test_summary_matches_the_reports_and_counts_each_record_once(
    tmp_path: Path, db_url: str
) -> None:
    journals = {}
    for store, sales in (("store-1", 200), ("store-2", 35)):
        days = [StoreDay(store, "box-1", DAY, sales, seed=4), StoreDay(store, "box-1", OTHER, 20)]
        journals[store] = journal_of_days(tmp_path / f"{store}.db", days)
        store_journal_directly(db_url, store, "box-1", journals[store])
    db = Database.open(db_url)
    try:
        for day in (DAY, OTHER):
            expected = _from_bodies(db, day)
            assert _figures(db, day) == expected
        first = _figures(db, DAY)
        net = first[0]
        assert isinstance(net, dict) and net["store-1"][0] == 200 and net["store-3"][0] == 0
        refunds = first[3]
        assert (
            isinstance(refunds, list) and sum(int(r[2]) + int(r[4]) for r in refunds) > 2
        )  # refunds, voids
    finally:
        db.close()
    # the boxes send everything again, in other batch sizes: nothing is counted twice
    store_journal_directly(db_url, "store-1", "box-1", journals["store-1"], chunk=7)
    store_journal_directly(db_url, "store-2", "box-1", journals["store-2"], chunk=300)
    db = Database.open(db_url)
    try:
        assert _figures(db, DAY) == first
        # what the migration does for a database that had records before the summary
        with db.transaction():
            db.execute("DELETE FROM sales_summary")
        assert _figures(db, DAY)[1] == []
        with db.transaction():
            rebuild(db, chunk=50)
        assert _figures(db, DAY) == first
        assert _figures(db, OTHER) == _from_bodies(db, OTHER)
    finally:
        db.close()
