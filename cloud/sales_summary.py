"""The sales summary ingest keeps as it stores records, so the web pages need not parse a
day of bodies per request (issue 18 item 9: the dashboard and a store's drill-down in
under 300 ms with 10 million sale lines).

Owns the `sales_summary` table: per business day, store, local hour and cashier, the
tickets, items, sales, refunds, voids and no-sales of the records stored so far. Each
record is added exactly once: `add` is called in ingest's transaction with only the
records that transaction newly inserted into `journal_record` (a re-delivery inserts
nothing and adds nothing; a conflicting record keeps the first one, in both tables), and
`rebuild` fills the table from the journal when the migration creates it.

The figures are those of `cloud report` (`cloud.reports.sales_by` by store / hour /
cashier, `refunds_voids` by cashier): the same lane models parse each body
(`cloud.sales.RECORD_MODELS`), the same amounts are added up. One difference: `load`
pre-filters records by UTC time (two days before to three days after the period), the
summary counts a record under its business day wherever its time lies.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from cloud import reports
from cloud.db import Database
from cloud.sales import REPORT_KINDS, Entry
from gateway.lane.records import RECORD_MODELS, RefundBody, SaleBody, VoidBody

ZERO = Decimal("0.00")
Key = tuple[str, str, str, str]  # business_day, store, hour, cashier
_FIGURES = ("tickets", "items", "sales", "refund_count", "refunds", "voids", "voided", "no_sales")


@dataclass
class Figures:
    tickets: int = 0
    items: Decimal = Decimal(0)
    sales: Decimal = ZERO
    refund_count: int = 0
    refunds: Decimal = ZERO
    voids: int = 0
    voided: Decimal = ZERO
    no_sales: int = 0

    def values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in _FIGURES)

    def sales_sums(self) -> tuple[Any, ...]:
        """What `cloud.reports.sales_table` adds up per key."""
        return self.tickets, self.items, self.sales, self.refunds

    def refunds_voids_sums(self) -> tuple[Any, ...]:
        """What `cloud.reports.refunds_voids_table` adds up per key."""
        return (
            self.tickets,
            self.refund_count,
            self.refunds,
            self.voids,
            self.voided,
            self.no_sales,
        )

    def add(self, other: Figures) -> None:
        for name in _FIGURES:
            setattr(self, name, getattr(self, name) + getattr(other, name))


def contribution(store: str, kind: str, body: str) -> tuple[Key, Figures] | None:
    """What one stored record adds, under its key; None for a record that adds nothing
    (another kind, a body of no known lane schema — `cloud report` skips those too)."""
    if kind not in REPORT_KINDS or '"business_day"' not in body:
        # Every model of these kinds requires `business_day`: a body without it would not
        # validate, and ingest's throughput should not pay pydantic to learn that.
        return None
    try:
        parsed = RECORD_MODELS[kind].model_validate_json(body)
    except ValidationError:
        return None
    day = getattr(parsed, "business_day", None)
    if not isinstance(day, str):
        return None
    entry = Entry(store, "", 0, kind, parsed)
    key = (day, store, reports.key_of("hour")(entry), reports.key_of("cashier")(entry))
    figures = Figures()
    if isinstance(parsed, SaleBody):
        figures.tickets = 1
        figures.items = sum((line.quantity for line in parsed.lines), Decimal(0))
        figures.sales = parsed.totals.total
    elif isinstance(parsed, RefundBody):
        figures.refund_count, figures.refunds = 1, parsed.total
    elif isinstance(parsed, VoidBody):
        figures.voids, figures.voided = 1, parsed.total
    elif kind == "no_sale":
        figures.no_sales = 1
    return key, figures


def summed(records: Iterable[tuple[str, str, str]]) -> dict[Key, Figures]:
    """(store, kind, body) records added up by key."""
    acc: dict[Key, Figures] = defaultdict(Figures)
    for store, kind, body in records:
        found = contribution(store, kind, body)
        if found is not None:
            acc[found[0]].add(found[1])
    return acc


def add(db: Database, records: Sequence[tuple[str, str, str]]) -> None:
    """Add newly stored records (store, kind, body) to the summary; call inside the
    transaction that inserted them, with those records only. Rows are written in key order,
    so two workers never wait on each other's rows in opposite orders."""
    acc = summed(records)
    columns = ", ".join(_FIGURES)
    marks = ", ".join("?" for _ in _FIGURES)
    for key in sorted(acc):
        figures = acc[key]
        if db.dialect == "postgresql":  # NUMERIC adds exactly in the server, atomically
            db.execute(
                f"INSERT INTO sales_summary (business_day, store, hour, cashier, {columns}) "
                f"VALUES (?, ?, ?, ?, {marks}) ON CONFLICT (business_day, store, hour, cashier) "
                "DO UPDATE SET "
                + ", ".join(f"{n} = sales_summary.{n} + excluded.{n}" for n in _FIGURES),
                (*key, *figures.values()),
            )
            continue
        # SQLite keeps money as decimal text: add in Python (the writer lock is held)
        row = db.execute(
            f"SELECT {columns} FROM sales_summary WHERE business_day = ? AND store = ? "
            "AND hour = ? AND cashier = ?",
            key,
        ).fetchone()
        if row is not None:
            figures.add(_figures(row))
        db.execute(
            f"INSERT OR REPLACE INTO sales_summary (business_day, store, hour, cashier, "
            f"{columns}) VALUES (?, ?, ?, ?, {marks})",
            (*key, *(str(v) if isinstance(v, Decimal) else v for v in figures.values())),
        )


def rebuild(db: Database, chunk: int = 5000) -> None:
    """The summary of every stored record (the migration that creates the table; call
    inside its transaction). Reads the journal in key order, `chunk` records at a time."""
    db.execute("DELETE FROM sales_summary")
    kinds = ", ".join("?" for _ in REPORT_KINDS)
    after: tuple[str, str, int] = ("", "", 0)
    while True:
        rows = db.execute(
            f"SELECT store, box, seq, kind, body FROM journal_record WHERE kind IN ({kinds}) "
            "AND (store > ? OR (store = ? AND (box > ? OR (box = ? AND seq > ?)))) "
            "ORDER BY store, box, seq LIMIT ?",
            (*REPORT_KINDS, after[0], after[0], after[1], after[1], after[2], chunk),
        ).fetchall()
        if not rows:
            return
        add(db, [(str(r[0]), str(r[3]), str(r[4])) for r in rows])
        last = rows[-1]
        after = (str(last[0]), str(last[1]), int(last[2]))


def _figures(row: Sequence[Any]) -> Figures:
    return Figures(*(_number(v, n) for v, n in zip(row, _FIGURES, strict=True)))


def _number(value: Any, name: str) -> Any:
    if name in ("tickets", "refund_count", "voids", "no_sales"):
        return int(value)
    return Decimal(str(value))


# ---------------------------------------------------------------- what the pages read


def net_by_store(db: Database, day: date, stores: list[str]) -> dict[str, tuple[int, Decimal]]:
    """Each store's tickets and net (sales - refunds) on `day`: the figures of
    `cloud report sales --by store` for that day."""
    if db.dialect == "postgresql":  # NUMERIC sums exactly in the server: 500 rows, not 24,000
        rows = db.query(
            "SELECT store, sum(tickets), sum(sales) - sum(refunds) FROM sales_summary "
            "WHERE business_day = ? GROUP BY store",
            (str(day),),
        )
        found = {str(s): (int(t), Decimal(n)) for s, t, n in rows}
    else:  # decimal text in SQLite: added up in Python
        acc: dict[str, list[Any]] = defaultdict(lambda: [0, ZERO])
        for store, tickets, sales, refunds in db.query(
            "SELECT store, tickets, sales, refunds FROM sales_summary WHERE business_day = ?",
            (str(day),),
        ):
            acc[store][0] += int(tickets)
            acc[store][1] += Decimal(str(sales)) - Decimal(str(refunds))
        found = {s: (int(v[0]), v[1]) for s, v in acc.items()}
    return {s: found.get(s, (0, ZERO)) for s in stores}


def store_day(db: Database, store: str, day: date) -> tuple[reports.Table, ...]:
    """A store's day as `cloud report sales --by hour`, `--by cashier` and `cloud report
    refunds --by cashier` show it: (by hour, by cashier, refunds and voids by cashier)."""
    rows = db.query(
        f"SELECT hour, cashier, {', '.join(_FIGURES)} FROM sales_summary "
        "WHERE business_day = ? AND store = ?",
        (str(day), store),
    )
    hours: dict[str, Figures] = defaultdict(Figures)
    cashiers: dict[str, Figures] = defaultdict(Figures)
    for hour, cashier, *values in rows:
        figures = _figures(values)
        hours[str(hour)].add(figures)
        cashiers[str(cashier)].add(figures)
    return (
        reports.sales_table("hour", {k: f.sales_sums() for k, f in hours.items()}),
        reports.sales_table("cashier", {k: f.sales_sums() for k, f in cashiers.items()}),
        reports.refunds_voids_table(
            "cashier", {k: f.refunds_voids_sums() for k, f in cashiers.items()}
        ),
    )
