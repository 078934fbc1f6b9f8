"""Journal benchmarks (issue 3): sale commit rate against bare sqlite3, and verify of 1M records.

Run: .venv/bin/python bench/bench_journal.py [--sales 400] [--records 1000000] [--dir DIR]

1. Commit of a completed 20-line sale: `Journal.append` (canonical JSON + SHA-256 chain +
   head update + COMMIT with fsync) against a bare `sqlite3` INSERT + COMMIT of the same
   sale's JSON into a table of the same shape, same pragmas (WAL, synchronous=FULL), in the
   same run, rounds interleaved so disk noise hits both. Target: journal >= 50% of bare.
2. `verify_journal` over a journal of --records records (built with append_many in big
   batches), with a bare full-table scan of the same file as the floor. Target: < 60 s.

Files go in --dir (default: the system temp dir); it must be on the real disk, not tmpfs,
or fsync costs nothing and the ratio means little.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from gateway.database import open_database
from gateway.journal import Journal, verify_journal

ROUNDS = 5
BUILD_BATCH = 20_000


def sale(number: int, lines: int) -> dict[str, Any]:
    """A completed sale as the lane journals it: lines, taxes, tenders, money as Decimal."""
    items = [
        {
            "line": n,
            "sku": f"76123456{n:05d}",
            "name": f"Product number {n}",
            "qty": Decimal("1.000"),
            "unit_price": Decimal("3.95"),
            "amount": Decimal("3.95"),
            "discount": Decimal("0.00"),
            "tax_rate": "A",
        }
        for n in range(lines)
    ]
    total = Decimal("3.95") * lines
    return {
        "receipt": f"B1-{number:08d}",
        "catalog_version": 42,
        "cashier": "S017",
        "member": None,
        "lines": items,
        "total": total,
        "taxes": [{"rate": "A", "percent": "8.1", "net": str(total / Decimal("1.081"))}],
        "tenders": [{"type": "cash", "amount": total}],
        "change": Decimal("0.00"),
    }


class FakeClock:
    """Advances one millisecond per reading; the bench must not depend on NTP probes."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, tzinfo=UTC)

    def __call__(self) -> tuple[datetime, bool]:
        self.now += timedelta(milliseconds=1)
        return self.now, True


def bare_rate(path: Path, sales: int) -> float:
    """Sales per second of a bare INSERT + COMMIT with the database module's pragmas."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS sale (seq INTEGER PRIMARY KEY, id TEXT UNIQUE, "
        "time TEXT, clock_synced INTEGER, kind TEXT, body TEXT, prev_hash TEXT, "
        "hash TEXT)"
    )
    start = conn.execute("SELECT coalesce(max(seq), 0) FROM sale").fetchone()[0]
    began = time.perf_counter()
    for n in range(start + 1, start + sales + 1):
        body = json.dumps(sale(n, 20), default=str)
        conn.execute("BEGIN")
        conn.execute(
            "INSERT INTO sale VALUES (?, ?, ?, 1, 'sale', ?, ?, ?)",
            (n, f"bare-{n}", "2026-03-01T00:00:00.000Z", body, "0" * 64, "0" * 64),
        )
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - began
    conn.close()
    return sales / elapsed


def journal_rate(journal: Journal, sales: int) -> float:
    """Sales per second of Journal.append (body built the same way, hashed, committed)."""
    began = time.perf_counter()
    for n in range(sales):
        journal.append("sale", sale(n, 20))
    return sales / (time.perf_counter() - began)


def bench_commit(workdir: Path, sales: int) -> tuple[float, float]:
    db = open_database(workdir / "commit-journal.db")
    journal = Journal(db, clock=FakeClock())
    journal.append("sale", sale(0, 20))  # warm up both files
    bare_rate(workdir / "commit-bare.db", 5)
    bare, ours = [], []
    for _ in range(ROUNDS):
        bare.append(bare_rate(workdir / "commit-bare.db", sales // ROUNDS))
        ours.append(journal_rate(journal, sales // ROUNDS))
    db.conn.close()
    return statistics.median(bare), statistics.median(ours)


def build(path: Path, records: int) -> float:
    db = open_database(path)
    journal = Journal(db, clock=FakeClock())
    began = time.perf_counter()
    done = 0
    while done < records:
        size = min(BUILD_BATCH, records - done)
        journal.append_many([("sale", sale(done + n, 3)) for n in range(size)])
        done += size
    db.conn.close()
    return time.perf_counter() - began


def bench_verify(workdir: Path, records: int) -> tuple[float, float, float, int]:
    path = workdir / "verify.db"
    build_seconds = build(path, records)
    db = open_database(path, readonly=True)
    began = time.perf_counter()
    for _ in db.conn.execute("SELECT * FROM journal_record"):
        pass
    scan = time.perf_counter() - began
    began = time.perf_counter()
    report = verify_journal(db)
    seconds = time.perf_counter() - began
    assert report.ok and report.checked == records, report.describe()
    db.conn.close()
    return build_seconds, scan, seconds, path.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sales", type=int, default=400)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-journal-", dir=args.dir))
    print(
        f"python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"{os.cpu_count()} cpus, files in {workdir}"
    )

    bare, ours = bench_commit(workdir, args.sales)
    print(
        f"20-line sale commit: bare sqlite3 {bare:8.1f}/s  journal {ours:8.1f}/s  "
        f"ratio {ours / bare:.2f} (target >= 0.50) -> {'PASS' if ours >= bare / 2 else 'FAIL'}"
    )

    build_s, scan_s, verify_s, size = bench_verify(workdir, args.records)
    print(
        f"verify {args.records:,} records ({size / 2**20:.0f} MiB, built in {build_s:.1f} s): "
        f"{verify_s:.1f} s ({args.records / verify_s:,.0f}/s); bare scan {scan_s:.1f} s, "
        f"ratio {verify_s / scan_s:.1f}x; target < 60 s -> "
        f"{'PASS' if verify_s < 60 else 'FAIL'}"
    )
    for leftover in workdir.iterdir():
        leftover.unlink()
    workdir.rmdir()


if __name__ == "__main__":
    main()
