"""Head-office stock ledger at scale (issue 17): posting the journal, reading levels.

Run: .venv/bin/python bench/bench_stock.py [--stores N] [--skus K] [--days D] [--sales S]
[--skip-sqlite] [--skip-postgresql]

For each database (PostgreSQL on 127.0.0.1:5432, or $STOREGATE_TEST_PG; SQLite in a
temporary folder) it builds, in the same run:
- an assortment: one goods receipt per store of K skus (`cloud.stock.receive`, the code
  `cloud stock receive` runs), so there are N x K positions;
- the journal of one box per store: D days of S sales each, real lane bodies from the fleet
  simulator (`gateway.harness.fleetsim.StoreDay`: 1-4 lines a ticket, refunds, voids),
  stored as acknowledged records (rows written straight into `journal_record` and
  `box_chain`, as ingest leaves them);
and measures:
- **posting** the whole journal to movements (`cloud.stock.post_journal`), records/s and
  movements/s; baseline in the same run: a bare `executemany INSERT` of as many rows of the
  same columns into a copy of `stock_movement`, one transaction;
- a second posting (nothing to do: the cursor per box);
- **levels now** for every position (`levels`, the `stock_position` table);
- **levels at the end of a day** (`levels(as_of=...)`: adds the movements up);
- **reorder** suggestions for one store; **stock check** (alert rules) over all stores;
- `verify` (every position recomputed from its movements).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg

from cloud import stock, stock_plan, stock_rules
from cloud.db import Database
from cloud.schema import upgrade
from gateway.harness.fleetsim import ITEMS, StoreDay
from gateway.journal.chain import canonical_json

PG_ADMIN = os.environ.get("STOREGATE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
FIRST_DAY = date(2026, 11, 2)
NOW = "2026-12-01T06:00:00.000Z"
MOVEMENT_COLUMNS = (
    "key, store, sku, kind, quantity, unit, unit_cost, value, on_hand_after, avg_cost_after, "
    "business_day, time, document, box, seq, line, reason, actor, recorded_at"
)


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def assortment(db: Database, stores: int, skus: int) -> None:
    """K skus per store in stock (the fleet simulator's 36 items among them)."""
    names = [item.sku for item in ITEMS[:12]] + [f"X{n:06d}" for n in range(max(0, skus - 12))]
    lines = [stock.DocumentLine(sku, Decimal(500), Decimal("1.2500")) for sku in names[:skus]]
    for s in range(stores):
        stamp = stock.Stamp("bench", "2026-11-01T06:00:00.000Z", "2026-11-01")
        stock.receive(db, NOW, f"GR-{s}", f"store-{s}", lines, stamp)


def journal(db: Database, stores: int, days: int, sales: int) -> int:
    """Each store's box journal, stored as ingest leaves it (acknowledged, chained)."""
    total = 0
    for s in range(stores):
        store, box = f"store-{s}", "box-1"
        rows = []
        seq = 0
        for d in range(days):
            day = FIRST_DAY + timedelta(days=d)
            for kind, body in StoreDay(store, box, day, sales, seed=s).records():
                seq += 1
                rows.append(
                    (
                        store,
                        box,
                        seq,
                        uuid.uuid4().hex,
                        f"{day}T12:00:00.000Z",
                        True,
                        kind,
                        canonical_json(body).decode(),
                        "0" * 64,
                        f"{seq:064x}",
                        False,
                        NOW,
                    )
                )
        with db.transaction():
            db.executemany(
                "INSERT INTO journal_record (store, box, seq, id, time, clock_synced, kind, "
                "body, prev_hash, hash, historical, received_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            db.execute(
                "INSERT INTO box_chain (store, box, acked_seq, acked_hash, max_seq) "
                "VALUES (?, ?, ?, ?, ?)",
                (store, box, seq, f"{seq:064x}", seq),
            )
        total += seq
    return total


def bare_insert(db: Database, count: int) -> float:
    db.execute("CREATE TABLE bare_movement AS SELECT * FROM stock_movement WHERE 1 = 0")
    db.conn.commit()
    money: Callable[[str], Any] = Decimal if db.dialect == "postgresql" else str
    rows = [
        (
            f"k{n}", "store-0", f"SKU{n % 36:04d}", "sale", money("-1.000"), "each",
            money("1.2500"), money("-1.25"), money("10.000"), money("1.2500"), "2026-11-02",
            "2026-11-02T12:00:00.000Z", f"R{n}", "box-1", n, 0, None, "c1", NOW,
        )
        for n in range(count)
    ]  # fmt: skip
    started = time.perf_counter()
    with db.transaction():
        db.executemany(
            f"INSERT INTO bare_movement ({MOVEMENT_COLUMNS}) VALUES "
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
    return time.perf_counter() - started


def run(name: str, url: str, args: argparse.Namespace) -> None:
    db = Database.open(url)
    upgrade(db)
    try:
        setup, _ = timed(lambda: assortment(db, args.stores, args.skus))
        records = journal(db, args.stores, args.days, args.sales)
        print(
            f"\n{name}: {args.stores} stores x {args.skus} skus "
            f"({args.stores * args.skus:,} positions, received in {setup:.1f} s), "
            f"{records:,} journal records ({args.days} days x {args.sales} sales a store)"
        )
        seconds, posted = timed(lambda: stock.post_journal(db, NOW))
        moves = posted.movements
        baseline = bare_insert(db, moves)
        print(
            f"  post the journal        {seconds:7.2f} s  {posted.records / seconds:9,.0f} "
            f"records/s  {moves / seconds:9,.0f} movements/s   (baseline: bare INSERT of "
            f"{moves:,} rows {moves / baseline:,.0f} rows/s, ratio {seconds / baseline:.1f}x)"
        )
        again, repeat = timed(lambda: stock.post_journal(db, NOW))
        assert repeat.movements == 0
        print(f"  post again (nothing new) {again * 1000:6.1f} ms")
        now_s, found = timed(lambda: stock.levels(db))
        print(f"  levels now              {now_s * 1000:7.1f} ms for {len(found):,} positions")
        last = str(FIRST_DAY + timedelta(days=args.days - 1))
        asof_s, past = timed(lambda: stock.levels(db, as_of=last))
        print(f"  levels at end of {last} {asof_s:5.2f} s for {len(past):,} positions")
        day = FIRST_DAY + timedelta(days=args.days)
        reorder_s, suggested = timed(lambda: stock_plan.reorder(db, "store-0", day))
        print(f"  reorder one store       {reorder_s:7.2f} s ({len(suggested):,} items)")
        check_s, findings = timed(lambda: stock_rules.check(db, day, NOW))
        print(
            f"  stock check, all stores {check_s:7.2f} s ({findings.holding} conditions, "
            f"{findings.raised} alerts)"
        )
        verify_s, drifts = timed(lambda: stock.verify(db))
        assert not drifts, drifts[:3]
        print(f"  verify                  {verify_s:7.2f} s (every position as its movements)")
    finally:
        db.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=int, default=20)
    parser.add_argument("--skus", type=int, default=2000)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--sales", type=int, default=300)
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-postgresql", action="store_true")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.1f}; Python {sys.version.split()[0]}")
    if not args.skip_postgresql:
        name = f"bench_stock_{uuid.uuid4().hex[:8]}"
        admin = psycopg.connect(PG_ADMIN, autocommit=True)
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            run("PostgreSQL", f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}", args)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.close()
    if not args.skip_sqlite:
        with tempfile.TemporaryDirectory() as folder:
            run("SQLite", f"sqlite:///{Path(folder) / 'office.db'}", args)
    print(f"load average at end: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
