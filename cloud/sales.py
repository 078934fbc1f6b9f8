"""Reading the lane's journal bodies back out of head office's database, typed.

Owns one query: the sale/refund/void/no_sale records of a period (by business day, the
store's own calendar; other lane kinds on request, e.g. the cash report's paid_in /
paid_out / shift_close) and optionally one store, parsed with the lane's models
(`gateway.lane.records`) — the very shapes the lane wrote. Bodies that do not parse (a
newer schema, another room's kind) are counted, never guessed at. Read-only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from pydantic import ValidationError

from cloud.db import Database
from gateway.errors import UsageError
from gateway.lane.records import RECORD_MODELS, Body

REPORT_KINDS = ("sale", "refund", "void", "no_sale")


@dataclass(frozen=True)
class Period:
    first: date
    last: date

    @classmethod
    def parse(cls, first: str | None, last: str | None) -> Period:
        try:
            start = date.fromisoformat(first) if first else date(2000, 1, 1)
            end = date.fromisoformat(last) if last else date(2999, 12, 31)
        except ValueError as exc:
            raise UsageError(
                f"not a date: {exc}", where="--from/--to", fix="write days as YYYY-MM-DD"
            ) from exc
        if end < start:
            raise UsageError(
                f"--to {end} is before --from {start}",
                where="--from/--to",
                fix="give the first day, then the last day",
            )
        return cls(start, end)

    def __contains__(self, day: str) -> bool:
        return str(self.first) <= day <= str(self.last)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def before(self) -> Period:
        """The period of the same length just before this one."""
        return Period(self.first - timedelta(days=self.days), self.first - timedelta(days=1))


@dataclass(frozen=True)
class Entry:
    store: str
    box: str
    seq: int
    kind: str
    body: Body


@dataclass
class Loaded:
    entries: list[Entry]
    skipped: int


def load(
    db: Database, period: Period, store: str | None = None, kinds: tuple[str, ...] = REPORT_KINDS
) -> Loaded:
    """Records of `kinds` whose business day falls in `period` (UTC time pre-filters)."""
    where = [f"kind IN ({', '.join('?' for _ in kinds)})", "time >= ?", "time < ?"]
    params: list[object] = [
        *kinds,
        str(period.first - timedelta(days=2)),
        str(period.last + timedelta(days=3)),
    ]
    if store:
        where.append("store = ?")
        params.append(store)
    rows = db.query(
        "SELECT store, box, seq, kind, body FROM journal_record WHERE "
        + " AND ".join(where)
        + " ORDER BY store, box, seq",
        params,
    )
    entries: list[Entry] = []
    skipped = 0
    for row_store, box, seq, kind, body in rows:
        try:
            parsed = RECORD_MODELS[kind].model_validate_json(body)
        except ValidationError:
            skipped += 1
            continue
        day = getattr(parsed, "business_day", None)
        if isinstance(day, str) and day in period:
            entries.append(Entry(row_store, box, int(seq), kind, parsed))
    return Loaded(entries, skipped)
