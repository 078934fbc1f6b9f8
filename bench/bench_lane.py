"""Lane benchmarks (issue 3): the lane's full commit of a 20-line sale, and the Z report.

Run: .venv/bin/python bench/bench_lane.py [--sales 200] [--day 20000] [--dir DIR]
     .venv/bin/python bench/bench_lane.py --scans-only [--rounds 30]   (issue 14, ~1 min)

1. Completing a 20-line sale through the lane: the final `Tender` event, which re-prices
   the basket, builds and validates the `sale` body, appends it to the journal with its
   index rows (canonical JSON + SHA-256 chain + COMMIT with synchronous=FULL) and builds the
   receipt model. Baseline, measured in the same run with rounds interleaved: a bare
   `sqlite3` INSERT + COMMIT of the same body JSON into a table of the same shape, same
   pragmas. (The journal engineer's bench measures the bare journal append.)
2. The Z report over a business day of --day sales (built from a real lane sale body,
   appended in batches with their index rows): `day_report` (read + sum) and `close_day`
   (figures + the z_report record). Target: under 1 s.

3. (issue 14) The scan of the 1st, 50th and 200th line of a 200-line sale through
   `Lane.handle` (parse, look-up, permission, pricing per scan, the step), with the example
   catalog; baseline in the same run: a full `price_basket` of the same basket right after.

Files go in --dir (default: the system temp dir); use a real disk, not tmpfs.
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from gateway.catalog.catalog import load_catalog_file
from gateway.database import open_database
from gateway.journal import Journal
from gateway.lane import events as ev
from gateway.lane.book import Batch, LaneBook
from gateway.lane.events import Credential, Outcome
from gateway.lane.machine import Lane
from gateway.lane.staff import StaffDirectory
from gateway.pricing import Basket, price_basket
from gateway.reports import close_day, day_report
from gateway.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
ROUNDS = 5
ITEMS = [
    "7612345001012",
    "7612345001050",
    "7612345001128",
    "7612345001142",
    "7612345001234",
    "7612345001265",
    "7612345001289",
    "7612345001319",
    "7612345001357",
    "4006381333931",
]
CASHIER = Credential(card="B-1")


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


class JournalClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 24, 6, tzinfo=UTC)

    def __call__(self) -> tuple[datetime, bool]:
        self.now += timedelta(milliseconds=1)
        return self.now, True


def make_lane(path: Path) -> Lane:
    settings = load_settings(ROOT / "config" / "gateway.example.toml")
    db = open_database(path)
    staff = StaffDirectory(db, settings.lane)
    staff.add("1", "Bench", "cashier", card="B-1")
    staff.add("2", "Boss", "supervisor", card="B-2")
    counter = itertools.count(1)
    new_id = lambda: f"id{next(counter):08d}"  # noqa: E731
    book = LaneBook(db, Journal(db, clock=JournalClock(), new_id=new_id))
    catalog = load_catalog_file(ROOT / "config" / "catalog.example.json")
    return Lane(book=book, staff=staff, catalog=catalog, settings=settings, new_id=new_id)


def ring_twenty(lane: Lane, clock: Clock) -> None:
    for n in range(20):
        lane.handle(ev.Scan(clock(), ITEMS[n % len(ITEMS)], Decimal(1 + n % 3)))


def lane_round(lane: Lane, clock: Clock, sales: int) -> tuple[float, str]:
    """Seconds spent in the completing Tender events only; and one body for the baseline."""
    spent, body = 0.0, ""
    for _ in range(sales):
        ring_twenty(lane, clock)
        event = ev.Tender(clock(), "card", None, reference="T")
        start = time.perf_counter()
        out = lane.handle(event)
        spent += time.perf_counter() - start
        assert isinstance(out, Outcome) and out.records
        body = json.dumps(out.records[0].body, separators=(",", ":"), sort_keys=True)
    return spent, body


def bare_round(conn: sqlite3.Connection, body: str, sales: int, start: int) -> float:
    begin = time.perf_counter()
    for n in range(start, start + sales):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "INSERT INTO t (seq, id, time, clock_synced, kind, body, prev_hash, hash) "
            "VALUES (?, ?, ?, 1, 'sale', ?, ?, ?)",
            (n, f"r{n}", "2026-11-24T08:00:00Z", body, "0" * 64, "1" * 64),
        )
        conn.execute("COMMIT")
    return time.perf_counter() - begin


def bench_commit(folder: Path, sales: int) -> dict[str, float]:
    lane = make_lane(folder / "lane.db")
    clock = Clock(datetime(2026, 11, 24, 8))
    lane.handle(ev.OpenShift(clock(), CASHIER))
    lane_round(lane, clock, 5)  # warm-up (imports, caches)
    bare = sqlite3.connect(folder / "bare.db", isolation_level=None)
    bare.execute("PRAGMA journal_mode = WAL")
    bare.execute("PRAGMA synchronous = FULL")
    bare.execute(
        "CREATE TABLE t (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, time TEXT, "
        "clock_synced INTEGER, kind TEXT, body TEXT, prev_hash TEXT, hash TEXT)"
    )
    journal = Journal(open_database(folder / "journal.db"), clock=JournalClock())
    lane_rates, bare_rates, journal_rates = [], [], []
    for r in range(ROUNDS):
        spent, body = lane_round(lane, clock, sales)
        lane_rates.append(sales / spent)
        bare_rates.append(sales / bare_round(bare, body, sales, r * sales))
        journal_rates.append(sales / journal_round(journal, json.loads(body), sales))
    lane_rate, bare_rate = statistics.median(lane_rates), statistics.median(bare_rates)
    return {
        "lane": lane_rate,
        "bare": bare_rate,
        "ratio": lane_rate / bare_rate,
        "journal": statistics.median(journal_rates),
        "body_bytes": float(len(body)),
    }


def journal_round(journal: Journal, body: dict[str, object], sales: int) -> float:
    """The bare journal append of the same body (no pricing, no models, no index)."""
    begin = time.perf_counter()
    for _ in range(sales):
        journal.append("sale", body)
    return time.perf_counter() - begin


def build_day(lane: Lane, count: int) -> str:
    """`count` sales on one business day: a real lane body, re-numbered, batched."""
    clock = Clock(datetime(2026, 11, 24, 8))
    lane.handle(ev.OpenShift(clock(), CASHIER))
    ring_twenty(lane, clock)
    out = lane.handle(ev.Tender(clock(), "cash", Decimal(500)))
    assert isinstance(out, Outcome)
    template = out.records[0].body
    shift = template["shift_id"]
    day = template["business_day"]
    for first in range(2, count + 1, 1000):
        batch = Batch()
        for n in range(first, min(first + 1000, count + 1)):
            receipt = f"box-1-{n:06d}"
            batch.add(
                "sale",
                {**template, "receipt_id": receipt},
                receipt,
                business_day=day,
                shift_id=shift,
                receipt_id=receipt,
            )
        lane.book.commit(batch)
    lane.handle(ev.CloseShift(clock(), Decimal(0)))
    return day


def bench_z(folder: Path, count: int) -> dict[str, float]:
    lane = make_lane(folder / "day.db")
    start = time.perf_counter()
    day = build_day(lane, count)
    built = time.perf_counter() - start
    start = time.perf_counter()
    figures = day_report(lane.book, day)
    read = time.perf_counter() - start
    assert figures.sales == count
    start = time.perf_counter()
    z = close_day(
        lane.book,
        lane.staff,
        lane.settings.lane,
        lane.lane_ref,
        day,
        datetime(2026, 11, 24, 22),
        Credential(card="B-2"),
        lane.new_id,
    )
    closed = time.perf_counter() - start
    assert not hasattr(z, "code") and z.body["sales"] == count  # type: ignore[union-attr]
    return {"built": built, "x": read, "z": closed}


def bench_scans(folder: Path, rounds: int) -> dict[int, tuple[float, float]]:
    """Per position (1st, 50th, 200th scan): the median `Lane.handle(Scan)` and the median
    full `price_basket` of the same basket, over `rounds` sales of 200 lines."""
    lane = make_lane(folder / "scans.db")
    clock = Clock(datetime(2026, 11, 24, 8))
    lane.handle(ev.OpenShift(clock(), CASHIER))
    samples: dict[int, tuple[list[float], list[float]]] = {n: ([], []) for n in (1, 50, 200)}
    for _ in range(rounds):
        for n in range(1, 201):
            event = ev.Scan(clock(), ITEMS[(n * 7) % len(ITEMS)], Decimal(1 + n % 3))
            start = time.perf_counter()
            out = lane.handle(event)
            spent = time.perf_counter() - start
            assert isinstance(out, Outcome)
            if n in samples:
                sale = lane.sale
                assert sale is not None and sale.priced is not None
                member = sale.member.context if sale.member else None
                basket = Basket(sale.lines, event.at, member, sale.coupons)
                start = time.perf_counter()
                whole = price_basket(basket, sale.catalog)
                samples[n][1].append(time.perf_counter() - start)
                samples[n][0].append(spent)
                assert whole == sale.priced
        lane.handle(ev.Suspend(clock()))
    return {n: (statistics.median(a), statistics.median(b)) for n, (a, b) in samples.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sales", type=int, default=200, help="sales per round")
    parser.add_argument("--day", type=int, default=20_000, help="sales in the Z day")
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--scans-only", action="store_true", help="only the per-scan figures")
    parser.add_argument("--rounds", type=int, default=30, help="200-line sales for --scans-only")
    args = parser.parse_args()
    if args.scans_only:
        with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
            scans = bench_scans(Path(tmp), args.rounds)
        for n, (lane_s, full_s) in scans.items():
            print(
                f"scan of line {n} through the lane: median {lane_s * 1e3:.3f} ms; full "
                f"price_basket of the same basket: median {full_s * 1e3:.3f} ms; "
                f"ratio {lane_s / full_s:.2f}"
            )
        return 0
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        folder = Path(tmp)
        commit = bench_commit(folder, args.sales)
        z = bench_z(folder, args.day)
    print(f"python {platform.python_version()}, sqlite {sqlite3.sqlite_version}")
    print(
        f"20-line sale through the lane: {commit['lane']:.0f} sales/s; bare sqlite3 "
        f"insert+commit of the same {commit['body_bytes']:.0f}-byte body: "
        f"{commit['bare']:.0f}/s; ratio {commit['ratio']:.2f} (Journal.append alone of "
        f"the same body: {commit['journal']:.0f}/s)"
    )
    print(
        f"Z over {args.day} sales: read+sum {z['x']:.3f} s, close_day {z['z']:.3f} s "
        f"(target < 1 s: {'PASS' if z['z'] < 1 else 'FAIL'}); building the day took "
        f"{z['built']:.1f} s"
    )
    return 0 if z["z"] < 1 else 1


if __name__ == "__main__":
    sys.exit(main())
