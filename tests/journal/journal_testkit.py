"""Helpers shared by the journal tests: an injected clock, ids, and a tamperer.

The tamperer edits the SQLite file the way an attacker with the file would: with plain SQL,
after dropping the journal's protective triggers.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


class SteppingClock:
    """A clock the test moves: each reading advances by `step`; `synced` is settable."""

    def __init__(self, start: datetime = START, step: timedelta = timedelta(seconds=1)) -> None:
        self.now = start
        self.step = step
        self.synced = True

    def __call__(self) -> tuple[datetime, bool]:
        reading = self.now
        self.now += self.step
        return reading, self.synced


def counting_ids(prefix: str = "rec") -> Callable[[], str]:
    counter = itertools.count(1)
    return lambda: f"{prefix}{next(counter):06d}"


def sale_body(number: int, lines: int = 3) -> dict[str, Any]:
    """A completed sale as the lane would journal it (money as Decimal)."""
    items = [
        {
            "sku": f"SKU{n:04d}",
            "name": f"item {n}",
            "qty": Decimal("1"),
            "unit_price": Decimal("2.50"),
            "amount": Decimal("2.50"),
            "tax_rate": "A",
        }
        for n in range(lines)
    ]
    return {
        "receipt": f"R{number:06d}",
        "lines": items,
        "total": Decimal("2.50") * lines,
        "tenders": [{"type": "cash", "amount": Decimal("2.50") * lines}],
    }


def tamper(path: Path, *statements: tuple[str, tuple[Any, ...]]) -> None:
    """Run raw SQL on the file behind the journal's back (triggers dropped first)."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("DROP TRIGGER IF EXISTS journal_record_never_updated")
        conn.execute("DROP TRIGGER IF EXISTS journal_record_deleted_only_acknowledged")
        for sql, params in statements:
            conn.execute(sql, params)
    finally:
        conn.close()


def row(path: Path, seq: int) -> tuple[Any, ...]:
    conn = sqlite3.connect(path)
    try:
        found = conn.execute("SELECT * FROM journal_record WHERE seq = ?", (seq,)).fetchone()
    finally:
        conn.close()
    assert found is not None, f"no record {seq}"
    return tuple(found)
