"""Head-office stock ledger at scale (issue 17): posting the journal, reading levels.

Run: .venv/bin/python bench/bench_stock.py [--stores N] [--skus K] [--days D] [--sales S]
[--skip-sqlite] [--skip-postgresql]
Scale targets (PostgreSQL only): bench/bench_stock.py --scale [--stores N] [--post-stores M]
[--products P] [--sales S] [--lines L] [--lookups Q] [--post-workers W]; the full size is
--scale --stores 500 --products 20000 --sales 3000 --lines 5 (default --stores 5).

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

With --scale (issue 17 item 6), in a fresh PostgreSQL database:
- **a store's levels**: N stores x P products of `stock_position` loaded with COPY (set-up),
  then `cloud.stock.levels(db, store)` (what `cloud stock report onhand --store S` reads)
  for Q random stores: p50/p95/max against the 50 ms target;
- **one day posted**: M stores (default N) x S sales of L lines each, stored with COPY as
  ingest leaves them (acknowledged `journal_record` rows and `box_chain`), posted by
  `cloud.stock.post_journal` (with W > 1: W processes, each posting its share of the
  stores one by one, as `cloud stock post --store S` does); baseline in the same run: a
  bare COPY of the same movement rows into a copy of `stock_movement`. Both also in CPU
  seconds (the client's, and the PostgreSQL backends' from /proc), steadier than wall
  time on a shared machine. When M < 500 the time for 500 stores is
  extrapolated linearly and labelled so.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
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
MOVEMENT_COLUMNS = stock.WRITTEN_COLUMNS


def backend_cpu(conn: psycopg.Connection[Any]) -> float:
    """CPU seconds (user + system) its PostgreSQL backend has used so far, from /proc (the
    server runs on this machine). With the 2 CPUs shared, wall times swing with the
    other work; CPU seconds much less, so the scale figures give both."""
    row = conn.execute("SELECT pg_backend_pid()").fetchone()
    conn.commit()
    assert row is not None
    fields = Path(f"/proc/{row[0]}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


def load_positions(url: str, stores: int, products: int) -> float:
    """N x P positions by COPY (set-up): the primary key built once after the load."""
    started = time.perf_counter()
    with psycopg.connect(url) as conn:
        conn.execute("ALTER TABLE stock_position DROP CONSTRAINT stock_position_pkey")
        with conn.cursor().copy(
            "COPY stock_position (store, sku, name, unit, on_hand, avg_cost, last_movement, "
            "updated_at) FROM STDIN"
        ) as copy:
            for s in range(stores):
                copy.write(
                    "".join(
                        f"store-{s}\tP{n:05d}\titem {n}\teach\t100000.000\t1.2500\t0\t{NOW}\n"
                        for n in range(products)
                    )
                )
        conn.execute("ALTER TABLE stock_position ADD PRIMARY KEY (store, sku)")
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE stock_position")
    return time.perf_counter() - started


def sale_template() -> dict[str, Any]:
    """A real lane sale body from the fleet simulator, its lines to be replaced."""
    for kind, body in StoreDay("store-0", "box-1", FIRST_DAY, 5, seed=0).records():
        if kind == "sale":
            return body
    raise AssertionError("the fleet simulator made no sale")


def load_day(url: str, stores: int, products: int, sales: int, lines: int) -> int:
    """One business day per store: S sales of L lines (distinct random products), stored
    by COPY as ingest leaves them (acknowledged and chained). Returns the sale lines."""
    template = sale_template()
    line = dict(template["lines"][0])
    rng = random.Random(17)
    with psycopg.connect(url) as conn:
        with conn.cursor().copy(
            "COPY journal_record (store, box, seq, id, time, clock_synced, kind, body, "
            "prev_hash, hash, historical, received_at) FROM STDIN"
        ) as copy:
            for s in range(stores):
                store = f"store-{s}"
                buffer = io.StringIO()
                for seq in range(1, sales + 1):
                    chosen = rng.sample(range(products), lines)
                    body = dict(template, receipt_id=f"box-1-20261102-{seq:05d}")
                    body["lane"] = {"store": store, "box": "box-1"}
                    body["lines"] = [
                        dict(line, index=i, sku=f"P{n:05d}", name=f"item {n}")
                        for i, n in enumerate(chosen)
                    ]
                    text = json.dumps(body, separators=(",", ":"), sort_keys=True)
                    text = text.replace("\\", "\\\\")
                    buffer.write(
                        f"{store}\tbox-1\t{seq}\t{uuid.uuid4().hex}\t{FIRST_DAY}T12:00:00.000Z"
                        f"\tt\tsale\t{text}\t{'0' * 64}\t{seq:064x}\tf\t{NOW}\n"
                    )
                copy.write(buffer.getvalue())
        with conn.cursor().copy(
            "COPY box_chain (store, box, acked_seq, acked_hash, max_seq) FROM STDIN"
        ) as copy:
            for s in range(stores):
                copy.write(f"store-{s}\tbox-1\t{sales}\t{sales:064x}\t{sales}\n")
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE journal_record")
    return stores * sales * lines


def bare_copy(url: str) -> tuple[float, int, float]:
    """The posted movement rows, copied out to a file, then timed: a bare COPY of them
    into a copy of `stock_movement` (same columns, same indexes), one transaction.
    (seconds, rows, the server's CPU seconds)"""
    with tempfile.TemporaryFile() as spool, psycopg.connect(url) as conn:
        with conn.cursor().copy(
            f"COPY (SELECT {MOVEMENT_COLUMNS} FROM stock_movement ORDER BY id) TO STDOUT"
        ) as out:
            for block in out:
                spool.write(block)
        conn.execute("CREATE TABLE bare_movement (LIKE stock_movement INCLUDING ALL)")
        conn.commit()
        spool.seek(0)
        server = backend_cpu(conn)
        started = time.perf_counter()
        with conn.cursor().copy(f"COPY bare_movement ({MOVEMENT_COLUMNS}) FROM STDIN") as copy:
            while block := spool.read(1 << 20):
                copy.write(block)
        conn.commit()
        seconds = time.perf_counter() - started
        server = backend_cpu(conn) - server
        count = conn.execute("SELECT count(*) FROM bare_movement").fetchone()
    return seconds, int(count[0]) if count else 0, server


def post_stores(url: str, stores: list[str] | None) -> tuple[int, float, float]:
    """One posting worker: these stores' journals, store by store (`cloud stock post
    --store S`), or all (None); (movements posted, its CPU seconds, its backend's)."""
    db = Database.open(url)
    try:
        client, server = time.process_time(), backend_cpu(db.conn)
        if stores is None:
            moved = stock.post_journal(db, NOW).movements
        else:
            moved = sum(stock.post_journal(db, NOW, store).movements for store in stores)
        return moved, time.process_time() - client, backend_cpu(db.conn) - server
    finally:
        db.close()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def run_scale(url: str, args: argparse.Namespace) -> bool:
    """The two scale targets; True when both are met (the posting one only if measured
    at the full 500 stores)."""
    db = Database.open(url)
    upgrade(db)
    db.close()
    stores, products = args.stores, args.products
    loaded = load_positions(url, stores, products)
    print(
        f"\nPostgreSQL, scale: {stores} stores x {products:,} products = "
        f"{stores * products:,} stock_position rows (COPY and index: {loaded:.1f} s)"
    )
    db = Database.open(url)
    try:
        rng = random.Random(6)
        times, cpu = [], []
        for _ in range(args.lookups):
            store = f"store-{rng.randrange(stores)}"
            client = time.process_time()
            seconds, found = timed(lambda s=store: stock.levels(db, s))
            cpu.append((time.process_time() - client) * 1000)
            assert len(found) == products, (store, len(found))
            times.append(seconds * 1000)
        p95 = percentile(times, 0.95)
        levels_ok = p95 < 50
        print(
            f"  a store's levels ({args.lookups} random stores, {products:,} items each): "
            f"p50 {percentile(times, 0.5):.1f} ms, p95 {p95:.1f} ms, max {max(times):.1f} ms "
            f"(target p95 < 50 ms: {'met' if levels_ok else 'MISSED'}); client CPU p50 "
            f"{percentile(cpu, 0.5):.1f} ms, p95 {percentile(cpu, 0.95):.1f} ms"
        )
    finally:
        db.close()
    posting = args.post_stores or stores
    set_up, sale_lines = timed(lambda: load_day(url, posting, products, args.sales, args.lines))
    print(
        f"  one day: {posting} stores x {args.sales:,} sales x {args.lines} lines = "
        f"{sale_lines:,} sale lines "
        f"(journal COPY: {set_up:.1f} s)"
    )
    workers = args.post_workers
    if workers == 1:
        seconds, (movements, client, server) = timed(lambda: post_stores(url, None))
    else:
        shares = [[f"store-{s}" for s in range(w, posting, workers)] for w in range(workers)]
        with ProcessPoolExecutor(workers) as pool:
            started = time.perf_counter()
            done = list(pool.map(post_stores, [url] * workers, shares))
            seconds = time.perf_counter() - started
        movements = sum(d[0] for d in done)
        client, server = sum(d[1] for d in done), sum(d[2] for d in done)
    assert movements == sale_lines, (movements, sale_lines)
    baseline, copied, copy_cpu = bare_copy(url)
    assert copied == movements
    print(
        f"  post the day, {workers} worker(s) {seconds:7.1f} s  {movements / seconds:9,.0f} "
        f"movements/s   (baseline: bare COPY of the same {copied:,} rows {baseline:.1f} s, "
        f"{copied / baseline:,.0f} rows/s; ratio {seconds / baseline:.1f}x)"
    )
    print(
        f"    CPU seconds: posting {client:.1f} client + {server:.1f} server = "
        f"{client + server:.1f}; bare COPY {copy_cpu:.1f} server (ratio "
        f"{(client + server) / copy_cpu:.1f}x)"
    )
    full = seconds * 500 / posting
    if posting < 500:
        print(
            f"  EXTRAPOLATED to 500 stores (linear, x{500 / posting:g}): post {full:,.0f} s, "
            f"bare COPY {baseline * 500 / posting:,.0f} s"
        )
    post_ok = posting >= 500 and seconds < 60
    print(
        f"  target one day of 500 stores < 60 s: "
        f"{'met' if post_ok else 'MISSED' if full >= 60 else 'not measured at full size'}"
    )
    return levels_ok and post_ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=int, help="default 20, with --scale 5")
    parser.add_argument("--skus", type=int, default=2000)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--sales", type=int, default=300)
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-postgresql", action="store_true")
    parser.add_argument("--scale", action="store_true", help="the issue 17 scale targets")
    parser.add_argument("--products", type=int, default=20000, help="--scale: items a store")
    parser.add_argument("--post-stores", type=int, help="--scale: stores posted (default all)")
    parser.add_argument("--lines", type=int, default=5, help="--scale: lines a sale")
    parser.add_argument("--lookups", type=int, default=300, help="--scale: stores read")
    parser.add_argument(
        "--post-workers", type=int, default=1, help="--scale: posting processes (disjoint stores)"
    )
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.1f}; Python {sys.version.split()[0]}")
    if args.scale:
        args.stores = args.stores or 5
        args.sales = args.sales if args.sales != 300 else 3000
        name = f"bench_stock_{uuid.uuid4().hex[:8]}"
        admin = psycopg.connect(PG_ADMIN, autocommit=True)
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            met = run_scale(f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}", args)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.close()
        print(f"load average at end: {os.getloadavg()[0]:.1f}")
        return 0 if met else 1
    args.stores = args.stores or 20
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
