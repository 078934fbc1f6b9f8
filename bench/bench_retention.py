"""A year of a busy store (issue 12): the box file stays bounded with journal retention.

Run: .venv/bin/python bench/bench_retention.py [--days 365] [--per-day 1500]
     [--retention 90] [--backup-every 7] [--dir DIR]

Two box databases are filled the same way in the same run, one simulated day at a time,
the clock injected (no wall time): each day `--per-day` sales (a real lane sale body, six
lines, re-numbered, committed through `LaneBook.commit` in batches of 500 with their index
rows and report digests, the journal clock on that day), then head office acknowledges the
day. The baseline stops there. The pruned box also takes a backup every `--backup-every`
days (`take_backup`, rotation keeping 2) and then runs `RetentionKeeper` steps (at most
the default `prune_batch` records each, as the daemon's main loop does) until one finds
nothing.

Printed: the file size (database + WAL) at each month's end for both, the records kept,
the longest and the 99th-percentile step, and that the pruned journal still verifies.
Target: the pruned file stops growing once the retention period is full (its size at the
end is within 10% of its size one retention period after the start), while the baseline
keeps growing.
"""

from __future__ import annotations

import argparse
import itertools
import platform
import sqlite3
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from gateway.catalog.catalog import load_catalog_file
from gateway.daemon.backup import BackupReach, take_backup
from gateway.database import open_database
from gateway.journal import Journal, JournalRecord, verify_journal
from gateway.journal.retention import RetentionKeeper
from gateway.journal.settings import JournalSettings
from gateway.lane import events as ev
from gateway.lane.book import Batch, LaneBook
from gateway.lane.events import Credential, Outcome
from gateway.lane.machine import Lane
from gateway.lane.staff import StaffDirectory
from gateway.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
START = datetime(2026, 1, 1, 7, tzinfo=UTC)
ITEMS = [
    "7612345001012",
    "7612345001050",
    "7612345001128",
    "7612345001142",
    "7612345001234",
    "7612345001265",
]
BATCH = 500


class SimClock:
    """The journal's clock: the simulated moment, one millisecond further per reading."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> tuple[datetime, bool]:
        self.now += timedelta(milliseconds=1)
        return self.now, True


@dataclass
class Box:
    name: str
    path: Path
    clock: SimClock
    book: LaneBook
    keeper: RetentionKeeper | None = None
    sizes: list[tuple[int, int]] = field(default_factory=list)
    steps: list[float] = field(default_factory=list)
    receipts: itertools.count[int] = field(default_factory=lambda: itertools.count(2))

    def size(self) -> int:
        wal = self.path.with_name(self.path.name + "-wal")
        return self.path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def template_sale(path: Path) -> dict[str, Any]:
    """One real lane sale body (six lines, cash), from the lane itself."""
    settings = load_settings(ROOT / "config" / "gateway.example.toml")
    db = open_database(path)
    staff = StaffDirectory(db, settings.lane)
    staff.add("1", "Bench", "cashier", card="B-1")
    lane = Lane(
        book=LaneBook(db),
        staff=staff,
        settings=settings,
        catalog=load_catalog_file(ROOT / "config" / "catalog.example.json"),
    )
    at = datetime(2026, 1, 1, 8)
    lane.handle(ev.OpenShift(at, Credential(card="B-1")))
    for code in ITEMS:
        lane.handle(ev.Scan(at, code))
    out = lane.handle(ev.Tender(at, "cash", Decimal(100)))
    assert isinstance(out, Outcome) and isinstance(out.document, JournalRecord), out
    body = dict(out.document.body)
    db.conn.close()
    return body


def open_box(folder: Path, name: str, *, retention: int | None) -> Box:
    clock = SimClock()
    path = folder / f"{name}.db"
    db = open_database(path)
    journal = Journal(db, clock=clock)
    box = Box(name, path, clock, LaneBook(db, journal))
    if retention is not None:
        box.keeper = RetentionKeeper(
            journal,
            JournalSettings(retention_days=retention),  # default prune_batch
            backed_up=BackupReach(folder / f"{name}-backups", journal.get),
            wall=lambda: clock.now,
            dependents=(LaneBook.forget_through,),
        )
    return box


def trade_day(box: Box, day: int, per_day: int, template: dict[str, Any]) -> None:
    box.clock.now = START + timedelta(days=day)
    business_day = box.clock.now.date().isoformat()
    shift = f"box-1-S{day + 1:05d}"
    for first in range(0, per_day, BATCH):
        batch = Batch()
        for _ in range(first, min(first + BATCH, per_day)):
            receipt = f"box-1-{next(box.receipts):07d}"
            batch.add(
                "sale",
                {
                    **template,
                    "receipt_id": receipt,
                    "shift_id": shift,
                    "business_day": business_day,
                },
                receipt,
                business_day=business_day,
                shift_id=shift,
                receipt_id=receipt,
            )
        box.book.commit(batch)
    box.book.journal.acknowledge(box.book.journal.state().head_seq)


def housekeeping(box: Box, folder: Path, day: int, backup_every: int) -> None:
    assert box.keeper is not None
    box.clock.now = START + timedelta(days=day, hours=20)
    if day % backup_every == backup_every - 1:
        take_backup(box.path, folder / f"{box.name}-backups", keep=2, now=box.clock.now)
    while True:
        began = time.perf_counter()
        deleted, _ = box.keeper.step()
        box.steps.append(time.perf_counter() - began)
        if not deleted:
            return


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--per-day", type=int, default=1500)
    parser.add_argument("--retention", type=int, default=90)
    parser.add_argument("--backup-every", type=int, default=7)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        folder = Path(tmp)
        template = template_sale(folder / "template.db")
        baseline = open_box(folder, "baseline", retention=None)
        pruned = open_box(folder, "pruned", retention=args.retention)
        for day in range(args.days):
            for box in (baseline, pruned):
                trade_day(box, day, args.per_day, template)
            housekeeping(pruned, folder, day, args.backup_every)
            if day % 30 == 29 or day == args.days - 1:
                for box in (baseline, pruned):
                    box.sizes.append((day + 1, box.size()))
        report = verify_journal(pruned.book.db)
        kept = pruned.book.journal.state()
        index_rows = pruned.book.conn.execute("SELECT count(*) FROM lane_doc").fetchone()[0]
        backups = sum(p.stat().st_size for p in (folder / "pruned-backups").iterdir())
    print(
        f"python {platform.python_version()}, sqlite {sqlite3.sqlite_version}; "
        f"{args.days} days x {args.per_day} sales, retention {args.retention} days, "
        f"backup every {args.backup_every} days; {time.perf_counter() - began:.0f} s"
    )
    print("day   baseline MiB   pruned MiB")
    for (day, base), (_, kept_size) in zip(baseline.sizes, pruned.sizes, strict=True):
        print(f"{day:>3}   {base / 2**20:>12.1f}   {kept_size / 2**20:>10.1f}")
    steps = sorted(pruned.steps)
    print(
        f"pruned journal: records {kept.anchor_seq + 1}..{kept.head_seq} kept "
        f"({kept.head_seq - kept.anchor_seq}), lane_doc rows {index_rows}, verify "
        f"{'OK' if report.ok else 'BROKEN: ' + str(report.problem)}; backups folder "
        f"{backups / 2**20:.1f} MiB"
    )
    print(
        f"retention steps: {len(steps)}, longest {steps[-1] * 1000:.1f} ms, p99 "
        f"{steps[int(len(steps) * 0.99)] * 1000:.1f} ms, median "
        f"{statistics.median(steps) * 1000:.2f} ms"
    )
    full = next((size for day, size in pruned.sizes if day >= args.retention + 30), None)
    final = pruned.sizes[-1][1]
    bounded = full is not None and final <= full * 1.10
    print(
        f"bounded: {'PASS' if bounded else 'FAIL (or too few days to tell)'} "
        f"(pruned {final / 2**20:.1f} MiB at the end vs {(full or 0) / 2**20:.1f} MiB one "
        f"retention period + a month in; baseline {baseline.sizes[-1][1] / 2**20:.1f} MiB)"
    )
    return 0 if bounded and report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
