"""Head-office reports over the stored journals, exact to the cent.

Owns the arithmetic of every report (`cloud report ...`): sales by store/day/hour/
category/cashier, top and slow items, basket size and average ticket, refunds and voids,
promotion effect, member RFM segments. Each returns a `Table` (title, columns, rows of
str/int/Decimal) that `cloud.render` prints as text, CSV, JSON or a chart. Amounts are
Decimal sums of the lane's own line and ticket totals; nothing is re-priced. Read-only.

Definitions (also in docs/cloud.md): a ticket is a `sale` record; its amount is
`totals.total`; an item's or category's amount is the sum of its lines' `total`; refunds
are `refund.total` (lines' `amount` for items and categories) and are shown beside sales,
net = sales - refunds; voids and no-sales never count as sales.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from cloud.sales import Entry, Loaded, Period
from gateway.lane.records import (
    CashMovementBody,
    PaidOutBody,
    RefundBody,
    SaleBody,
    ShiftCloseBody,
    VoidBody,
)
from gateway.money import Rounding, round_money

ZERO = Decimal("0.00")
Cell = str | int | Decimal


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[Cell]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def average(total: Decimal, count: int) -> Decimal:
    """An average amount, to the cent half up (the money kernel's rounding); 0.00 of no
    count. Public: every report module (cloud.affinity too) averages the same way."""
    return round_money(total / count, 2, Rounding.HALF_UP) if count else ZERO


def key_of(by: str) -> Callable[[Entry], str]:
    """The key a record is counted under when a report is by store/box/day/hour/cashier."""
    return _key_of(by)


def _key_of(by: str) -> Callable[[Entry], str]:
    keys: dict[str, Callable[[Entry], str]] = {
        "store": lambda e: e.store,
        "box": lambda e: f"{e.store}/{e.box}",
        "day": lambda e: str(getattr(e.body, "business_day", "")),
        "hour": lambda e: str(getattr(e.body, "local_time", ""))[11:13] + ":00",
        "cashier": lambda e: _staff(e),
    }
    return keys[by]


def _staff(entry: Entry) -> str:
    staff = getattr(entry.body, "staff", None)
    return f"{staff.id} {staff.name}" if staff else "?"


def skip_notes(loaded: Loaded) -> list[str]:
    """The notes every report table carries about the records it had to skip (none when it
    read them all), so a figure is never silently short."""
    return (
        [f"{loaded.skipped} record(s) skipped: body not of a known lane schema"]
        if loaded.skipped
        else []
    )


def sales_by(loaded: Loaded, by: str) -> Table:
    """Tickets, items, sales, refunds and net per store/box/day/hour/cashier/category."""
    if by == "category":
        return _sales_by_category(loaded)
    key = _key_of(by)
    acc: dict[str, list[Any]] = defaultdict(lambda: [0, Decimal(0), ZERO, ZERO])
    for entry in loaded.entries:
        row = acc[key(entry)]
        if isinstance(entry.body, SaleBody):
            row[0] += 1
            row[1] += sum((line.quantity for line in entry.body.lines), Decimal(0))
            row[2] += entry.body.totals.total
        elif isinstance(entry.body, RefundBody):
            row[3] += entry.body.total
    table = sales_table(by, {name: tuple(row) for name, row in acc.items()})
    table.notes = skip_notes(loaded)
    return table


def sales_table(by: str, acc: Mapping[str, Sequence[Any]]) -> Table:
    """The sales table from its sums per key: (tickets, items, sales, refunds) — also what
    the web pages build from `cloud.sales_summary`."""
    table = Table(f"Sales by {by}", [by, "tickets", "items", "sales", "refunds", "net"])
    for name in sorted(acc):
        tickets, items, sales, refunds = acc[name]
        table.rows.append(
            [
                name,
                tickets,
                items.normalize() if items else Decimal(0),
                sales,
                refunds,
                sales - refunds,
            ]
        )
    return table


def _sales_by_category(loaded: Loaded) -> Table:
    acc: dict[str, list[Any]] = defaultdict(lambda: [0, Decimal(0), ZERO, ZERO])
    for entry in loaded.entries:
        if isinstance(entry.body, SaleBody):
            for category in {line.category for line in entry.body.lines}:
                acc[category][0] += 1
            for line in entry.body.lines:
                acc[line.category][1] += line.quantity
                acc[line.category][2] += line.total
        elif isinstance(entry.body, RefundBody):
            for refund in entry.body.lines:
                acc[refund.category][3] += refund.amount
    table = Table(
        "Sales by category",
        ["category", "tickets", "items", "sales", "refunds", "net"],
        notes=skip_notes(loaded),
    )
    for name in sorted(acc):
        tickets, items, sales, refunds = acc[name]
        table.rows.append([name, tickets, items.normalize(), sales, refunds, sales - refunds])
    return table


def items(loaded: Loaded, *, limit: int, slow: bool) -> Table:
    """Best sellers by amount (or the slowest by quantity) among items sold in the period."""
    acc: dict[str, list[Any]] = {}
    for entry in loaded.entries:
        if isinstance(entry.body, SaleBody):
            for line in entry.body.lines:
                row = acc.setdefault(line.sku, [line.name, line.category, Decimal(0), ZERO])
                row[2] += line.quantity
                row[3] += line.total
    order = sorted(
        acc.items(),
        key=(lambda kv: (kv[1][2], kv[1][3], kv[0]))
        if slow
        else (lambda kv: (-kv[1][3], -kv[1][2], kv[0])),
    )
    title = "Slowest items (by quantity)" if slow else "Top items (by sales)"
    table = Table(title, ["sku", "name", "category", "quantity", "sales"], notes=skip_notes(loaded))
    for sku, (name, category, quantity, sales) in order[:limit]:
        table.rows.append([sku, name, category, quantity.normalize(), sales])
    return table


def basket(loaded: Loaded, by: str = "store") -> Table:
    """Basket size (lines and items per ticket) and average ticket."""
    key = _key_of(by)
    acc: dict[str, list[Any]] = defaultdict(lambda: [0, 0, Decimal(0), ZERO])
    for entry in loaded.entries:
        if isinstance(entry.body, SaleBody):
            row = acc[key(entry)]
            row[0] += 1
            row[1] += len(entry.body.lines)
            row[2] += sum((line.quantity for line in entry.body.lines), Decimal(0))
            row[3] += entry.body.totals.total
    table = Table(
        f"Basket by {by}",
        [by, "tickets", "lines per ticket", "items per ticket", "average ticket", "sales"],
        notes=skip_notes(loaded),
    )
    for name in sorted(acc):
        tickets, lines, quantity, sales = acc[name]
        table.rows.append(
            [
                name,
                tickets,
                average(Decimal(lines), tickets),
                average(quantity, tickets),
                average(sales, tickets),
                sales,
            ]
        )
    return table


def refunds_voids(loaded: Loaded, by: str = "cashier") -> Table:
    """Refunds, voids and no-sales beside sales, and their rate per ticket."""
    key = _key_of(by)
    acc: dict[str, list[Any]] = defaultdict(lambda: [0, 0, ZERO, 0, ZERO, 0])
    for entry in loaded.entries:
        row = acc[key(entry)]
        body = entry.body
        if isinstance(body, SaleBody):
            row[0] += 1
        elif isinstance(body, RefundBody):
            row[1] += 1
            row[2] += body.total
        elif isinstance(body, VoidBody):
            row[3] += 1
            row[4] += body.total
        elif entry.kind == "no_sale":
            row[5] += 1
    table = refunds_voids_table(by, {name: tuple(row) for name, row in acc.items()})
    table.notes = skip_notes(loaded)
    return table


def refunds_voids_table(by: str, acc: Mapping[str, Sequence[Any]]) -> Table:
    """The refunds and voids table from its sums per key: (tickets, refunds, refunded,
    voids, voided, no sales) — also what the web pages build from `cloud.sales_summary`."""
    table = Table(
        f"Refunds and voids by {by}",
        [by, "tickets", "refunds", "refunded", "voids", "voided", "no sales", "refund+void rate %"],
    )
    for name in sorted(acc):
        tickets, refunds, refunded, voids, voided, no_sales = acc[name]
        rate = average(Decimal(100 * (refunds + voids)), tickets)
        table.rows.append([name, tickets, refunds, refunded, voids, voided, no_sales, rate])
    return table


def promotion_effect(during: Loaded, before: Loaded, promotion: str) -> Table:
    """Sales of the promoted items during the promotion against the same items before it."""
    promoted = {
        line.sku
        for e in during.entries
        if isinstance(e.body, SaleBody)
        for line in e.body.lines
        if any(a.promotion == promotion for a in line.adjustments)
    }
    table = Table(
        f"Promotion {promotion}: promoted items before and during",
        [
            "sku",
            "quantity before",
            "sales before",
            "quantity during",
            "sales during",
            "quantity change %",
        ],
        notes=skip_notes(during) + skip_notes(before),
    )
    if not promoted:
        table.notes.append(f"no line in the period carries promotion {promotion!r}")
        return table
    totals = {sku: [Decimal(0), ZERO, Decimal(0), ZERO] for sku in promoted}
    for offset, loaded in ((0, before), (2, during)):
        for entry in loaded.entries:
            if isinstance(entry.body, SaleBody):
                for line in entry.body.lines:
                    if line.sku in promoted:
                        totals[line.sku][offset] += line.quantity
                        totals[line.sku][offset + 1] += line.total
    all_row = [Decimal(0), ZERO, Decimal(0), ZERO]
    for sku in sorted(totals):
        row = totals[sku]
        all_row = [a + b for a, b in zip(all_row, row, strict=True)]
        table.rows.append(
            [sku, row[0].normalize(), row[1], row[2].normalize(), row[3], _change(row[0], row[2])]
        )
    table.rows.append(
        [
            "all promoted",
            all_row[0].normalize(),
            all_row[1],
            all_row[2].normalize(),
            all_row[3],
            _change(all_row[0], all_row[2]),
        ]
    )
    return table


def _change(before: Decimal, during: Decimal) -> Cell:
    if not before:
        return "n/a"
    return ((during - before) * 100 / before).quantize(Decimal("0.1"), ROUND_HALF_UP)


SEGMENTS: list[tuple[str, Callable[[int, int, int], bool]]] = [
    # (name, test on R, F, M scores 1..5), first match wins
    ("champions", lambda r, f, m: r >= 4 and f >= 4 and m >= 4),
    ("loyal", lambda r, f, m: f >= 4),
    ("big spenders", lambda r, f, m: m >= 4),
    ("new", lambda r, f, m: r >= 4 and f <= 2),
    ("at risk", lambda r, f, m: r <= 2 and f >= 3),
    ("lost", lambda r, f, m: r <= 1),
    ("regular", lambda r, f, m: True),
]


def rfm(loaded: Loaded, as_of: date) -> Table:
    """Recency (days since last visit), frequency (tickets), monetary (net spend) per member,
    each scored 1..5 by quintile among the members, and a named segment.

    A member is a store's: member ids are issued per store (another store's `M0001` is
    another person, docs/members.md), so the key is (store, member)."""
    last: dict[tuple[str, str], str] = {}
    tickets: dict[tuple[str, str], int] = defaultdict(int)
    spend: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
    for entry in loaded.entries:
        body = entry.body
        member = getattr(body, "member", None)
        if member is None:
            continue
        key = (entry.store, member.id)
        if isinstance(body, SaleBody):
            tickets[key] += 1
            spend[key] += body.totals.total
            last[key] = max(last.get(key, ""), body.business_day)
        elif isinstance(body, RefundBody):
            spend[key] -= body.total
    members = sorted(tickets)
    recency = {m: (as_of - date.fromisoformat(last[m])).days for m in members}
    r_score = _quintiles({m: Decimal(-recency[m]) for m in members})
    f_score = _quintiles({m: Decimal(tickets[m]) for m in members})
    m_score = _quintiles({m: spend[m] for m in members})
    table = Table(
        f"Member RFM as of {as_of}",
        ["store", "member", "recency days", "frequency", "monetary", "R", "F", "M", "segment"],
        notes=skip_notes(loaded),
    )
    for m in members:
        r, f, mo = r_score[m], f_score[m], m_score[m]
        segment = next(name for name, test in SEGMENTS if test(r, f, mo))
        table.rows.append([m[0], m[1], recency[m], tickets[m], spend[m], r, f, mo, segment])
    return table


def _quintiles(values: dict[tuple[str, str], Decimal]) -> dict[tuple[str, str], int]:
    """Score 1..5 by rank, 5 = best: the quintile in which a member's rank falls. Tied
    members share the score of their tie's mid-point (the average of the ranks they
    span), so a tie neither punishes nor rewards its members and does not depend on their
    ids: when everyone bought once, everyone's F is 3."""
    ordered = sorted(values.items(), key=lambda kv: kv[1])
    count = len(ordered)
    spans: dict[Decimal, list[int]] = {}
    for rank, (_, value) in enumerate(ordered):
        spans.setdefault(value, [rank, rank])[1] = rank
    scores: dict[tuple[str, str], int] = {}
    for member, value in ordered:
        low, high = spans[value]
        # the quintile of the tie's mid-point: 5 * (mid-rank + 0.5) / count, 1-based
        scores[member] = 1 + (5 * (low + high + 1)) // (2 * count)
    return scores


def segment_summary(table: Table) -> Table:
    counts: dict[str, list[Any]] = defaultdict(lambda: [0, ZERO])
    for row in table.rows:
        counts[str(row[8])][0] += 1
        counts[str(row[8])][1] += row[4]
    summary = Table("Members by RFM segment", ["segment", "members", "monetary"])
    for name, _ in SEGMENTS:
        if name in counts:
            summary.rows.append([name, counts[name][0], counts[name][1]])
    return summary


def span(period: Period) -> str:
    return f"{period.first} .. {period.last}"


CASH_KINDS = ("paid_in", "paid_out", "shift_close")


def cash_drawer(loaded: Loaded, by: str = "box") -> Table:
    """Cash moved without a sale and the drawers' counts: paid in and out (count, amount)
    and, per closed shift, expected, counted and over/short (counted - expected, as each
    shift's close recorded it)."""
    key = _key_of(by)
    acc: dict[str, list[Any]] = defaultdict(lambda: [0, ZERO, 0, ZERO, 0, ZERO, ZERO, ZERO])
    for entry in loaded.entries:
        row = acc[key(entry)]
        body = entry.body
        if isinstance(body, CashMovementBody):
            at = 2 if isinstance(body, PaidOutBody) else 0
            row[at] += 1
            row[at + 1] += body.amount
        elif isinstance(body, ShiftCloseBody):
            row[4] += 1
            row[5] += body.expected
            row[6] += body.counted
            row[7] += body.over_short
    table = Table(
        f"Cash drawer by {by}",
        [by, "paid ins", "paid in", "paid outs", "paid out", "shifts closed", "expected",
         "counted", "over/short"],
        notes=skip_notes(loaded),
    )  # fmt: skip
    for name in sorted(acc):
        table.rows.append([name, *acc[name]])
    return table


# Columns whose figures add up across rows (counts, quantities, amounts); averages, rates,
# scores and recency do not, and their cell in the totals row stays empty.
SUMMED = frozenset(
    {
        "tickets",
        "items",
        "sales",
        "refunds",
        "net",
        "quantity",
        "refunded",
        "voids",
        "voided",
        "no sales",
        "quantity before",
        "sales before",
        "quantity during",
        "sales during",
        "monetary",
        "members",
        "paid ins",
        "paid in",
        "paid outs",
        "paid out",
        "shifts closed",
        "expected",
        "counted",
        "over/short",
        "journal amount",
        "statement amount",
    }
)


def totals(table: Table) -> list[Cell] | None:
    """The table's totals row: the exact sum of every column in `SUMMED` whose cells are all
    numbers, "" elsewhere; None when nothing adds up (the page then shows no totals row).
    A quantity column mixing units (kg and pieces) is still summed here as the CLI's
    `items` is; `quantities_by_unit` gives them apart."""
    row: list[Cell] = ["total"]
    summed = False
    for i, column in enumerate(table.columns[1:], start=1):
        cells = [r[i] for r in table.rows]
        if column in SUMMED and cells and all(isinstance(c, int | Decimal) for c in cells):
            if all(isinstance(c, int) for c in cells):
                row.append(sum(int(c) for c in cells))
            else:
                row.append(sum((Decimal(c) for c in cells), Decimal(0)))
            summed = True
        else:
            row.append("")
    return row if summed else None


def quantities_by_unit(loaded: Loaded, by: str) -> Table:
    """Quantity sold per group and unit: kilograms never added to pieces."""
    key = (lambda e: "all") if by == "category" else _key_of(by)
    acc: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for entry in loaded.entries:
        if isinstance(entry.body, SaleBody):
            for line in entry.body.lines:
                group = line.category if by == "category" else key(entry)
                acc[(group, line.unit)] += line.quantity
    table = Table(f"Quantities by unit, by {by}", [by, "unit", "quantity"])
    for (group, unit), quantity in sorted(acc.items()):
        table.rows.append([group, unit, quantity.normalize() if quantity else Decimal(0)])
    return table
