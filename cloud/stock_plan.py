"""Reading the stock ledger for decisions: sales velocity, reorder suggestions and the
stock reports (on hand and its value, turnover, slow movers, shrink, count variances).

Owns the arithmetic of `cloud stock reorder` and `cloud stock report ...`; each returns a
`cloud.reports.Table` that `cloud.render` prints or writes (text, JSON, CSV, xlsx, chart).
Every rule is named in its docstring and in docs/stock.md. Read-only (but for
`order_suggested`, which issues the order the suggestions make through
`cloud.stock.create_order`): figures come from `cloud.stock` (movements and positions),
quantities and money stay Decimal.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

from cloud.db import Database
from cloud.reports import Table
from cloud.sales import Period
from cloud.stock import (
    CENT,
    QTY,
    ZERO,
    DocumentLine,
    ItemSettings,
    Level,
    Stamp,
    StockError,
    StoredMovement,
    create_order,
    item_settings,
    levels,
    load_order,
    movements,
    on_order,
)

SOLD_KINDS = ("sale", "refund")
WEEKS = 4  # sales velocity looks at the 4 weeks (28 days) before the day judged
SHRINK_KINDS = ("loss", "count")


def velocity_window(day: date, weeks: int = WEEKS) -> Period:
    """The days velocity is measured over: the `weeks` whole weeks before `day`."""
    return Period(day - timedelta(days=7 * weeks), day - timedelta(days=1))


def sold_by_weekday(
    moves: Iterable[StoredMovement], weeks: int = WEEKS
) -> dict[tuple[str, str], list[Decimal]]:
    """Rule "weekday velocity": per (store, sku) and weekday (Monday = 0), the net quantity
    sold (sales minus refunds) on that weekday over the window, divided by `weeks` — the
    window holds each weekday exactly `weeks` times, so this is the average such day."""
    sold: dict[tuple[str, str], list[Decimal]] = defaultdict(lambda: [ZERO] * 7)
    for m in moves:
        if m.kind in SOLD_KINDS:
            weekday = date.fromisoformat(m.business_day).weekday()
            sold[(m.store, m.sku)][weekday] -= m.quantity
    return {key: [q / weeks for q in days] for key, days in sold.items()}


def demand(velocity: list[Decimal], first: date, days: int) -> Decimal:
    """Rule "expected demand": the weekday velocities of the `days` days from `first`
    (that day included) added up, to 3 places half up."""
    total = sum((velocity[(first + timedelta(days=i)).weekday()] for i in range(days)), ZERO)
    return total.quantize(QTY, ROUND_HALF_UP)


def order_quantity(need: Decimal, pack: Decimal) -> Decimal:
    """Rule "whole packs": nothing when nothing is needed, else the need rounded up to
    whole packs of `pack`."""
    if need <= 0:
        return ZERO
    return (need / pack).to_integral_value(ROUND_CEILING) * pack


@dataclass(frozen=True)
class Suggestion:
    store: str
    sku: str
    name: str
    unit: str
    on_hand: Decimal
    on_order: Decimal
    per_day: Decimal
    demand: Decimal
    min_level: Decimal
    need: Decimal
    pack: Decimal
    quantity: Decimal
    avg_cost: Decimal

    @property
    def value(self) -> Decimal:
        return (self.quantity * self.avg_cost).quantize(CENT, ROUND_HALF_UP)


def reorder(db: Database, store: str, day: date) -> list[Suggestion]:
    """Rule "reorder suggestion" for ordering on `day`: the demand expected from `day`
    over the lead time plus the days the order must last (`lead_days + order_days`),
    plus the minimum level, less what is on hand and on order, in whole packs. Every item
    the store holds, has sold in the window or has settings for is considered."""
    window = velocity_window(day)
    velocity = sold_by_weekday(
        movements(db, store=store, first=str(window.first), last=str(window.last), kinds=SOLD_KINDS)
    )
    held = {lv.sku: lv for lv in levels(db, store)}
    settings = item_settings(db, store)
    coming = on_order(db, store)
    skus = sorted(set(held) | {sku for s, sku in velocity if s == store} | set(settings))
    out: list[Suggestion] = []
    for sku in skus:
        item = settings.get(sku, ItemSettings())
        level = held.get(sku) or Level(
            store, sku, item.name or sku, item.unit or "each", ZERO, ZERO
        )
        v = velocity.get((store, sku), [ZERO] * 7)
        expected = demand(v, day, item.lead_days + item.order_days)
        minimum = item.min_level or ZERO
        pending = coming.get(sku, ZERO)
        need = expected + minimum - level.on_hand - pending
        out.append(
            Suggestion(
                store,
                sku,
                level.name,
                level.unit,
                level.on_hand,
                pending,
                (sum(v, ZERO) / 7).quantize(QTY, ROUND_HALF_UP),
                expected,
                minimum,
                need,
                item.pack,
                order_quantity(need, item.pack),
                level.avg_cost,
            )
        )
    return out


def reorder_table(suggestions: list[Suggestion], day: date, all_items: bool) -> Table:
    table = Table(
        f"Reorder suggestions for {day}",
        [
            "store",
            "sku",
            "name",
            "unit",
            "on hand",
            "on order",
            "per day",
            "demand",
            "min",
            "need",
            "pack",
            "order",
            "unit cost",
            "value",
        ],
    )
    for s in suggestions:
        if s.quantity > 0 or all_items:
            table.rows.append(
                [
                    s.store,
                    s.sku,
                    s.name,
                    s.unit,
                    s.on_hand,
                    s.on_order,
                    s.per_day,
                    s.demand,
                    s.min_level,
                    s.need,
                    s.pack,
                    s.quantity,
                    s.avg_cost,
                    s.value,
                ]
            )
    total = sum((s.value for s in suggestions if s.quantity > 0), ZERO)
    table.notes.append(f"order value at average cost: {total}")
    return table


# ---------------------------------------------------------------- reports


def on_hand_table(db: Database, store: str | None, as_of: str | None) -> Table:
    """Stock on hand and its value (on hand x moving-average cost) per store and item."""
    found = levels(db, store, as_of)
    table = Table(
        "Stock on hand" + (f" at the end of {as_of}" if as_of else ""),
        ["store", "sku", "name", "unit", "on hand", "avg cost", "value"],
    )
    per_store: dict[str, Decimal] = defaultdict(Decimal)
    for lv in found:
        table.rows.append([lv.store, lv.sku, lv.name, lv.unit, lv.on_hand, lv.avg_cost, lv.value])
        per_store[lv.store] += lv.value
    table.notes += [f"{s}: stock value {v}" for s, v in sorted(per_store.items())]
    return table


def _cost_of_sales(moves: Iterable[StoredMovement]) -> dict[tuple[str, str], Decimal]:
    """Cost of sales per item: sales less refunds, valued at the cost they moved at."""
    cogs: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for m in moves:
        if m.kind in SOLD_KINDS:
            cogs[(m.store, m.sku)] -= m.value
    return cogs


def turnover_table(db: Database, period: Period, store: str | None) -> Table:
    """Rule "turnover": cost of sales in the period / average stock value, the average
    being (opening + closing value) / 2 (opening = the end of the day before); days of
    stock = the period's days / turnover. To 2 and 1 places half up."""
    moves = movements(
        db, store=store, first=str(period.first), last=str(period.last), kinds=SOLD_KINDS
    )
    cogs = _cost_of_sales(moves)
    opening = {(lv.store, lv.sku): lv for lv in levels(db, store, str(period.before().last))}
    closing = {(lv.store, lv.sku): lv for lv in levels(db, store, str(period.last))}
    table = Table(
        f"Stock turnover {period.first}..{period.last}",
        [
            "store",
            "sku",
            "name",
            "cost of sales",
            "opening value",
            "closing value",
            "turnover",
            "days of stock",
        ],
    )
    for key in sorted(set(cogs) | set(closing)):
        start = opening[key].value if key in opening else ZERO
        end = closing[key].value if key in closing else ZERO
        average = (start + end) / 2
        sold = cogs.get(key, ZERO)
        turns = (sold / average).quantize(CENT, ROUND_HALF_UP) if average > 0 else None
        days = (
            (Decimal(period.days) / turns).quantize(Decimal("0.1"), ROUND_HALF_UP)
            if turns
            else None
        )
        name = closing.get(key) or opening.get(key)
        table.rows.append(
            [
                key[0],
                key[1],
                name.name if name else key[1],
                sold,
                start,
                end,
                "-" if turns is None else turns,
                "-" if days is None else days,
            ]
        )
    return table


def slow_movers_table(db: Database, period: Period, store: str | None, max_sold: Decimal) -> Table:
    """Items with stock at the end of the period that sold `max_sold` or less in it
    (net of refunds), the most stock value first, with the day they last sold."""
    sold: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    last_sale: dict[tuple[str, str], str] = {}
    for m in movements(db, store=store, last=str(period.last), kinds=("sale",)):
        last_sale[(m.store, m.sku)] = max(last_sale.get((m.store, m.sku), ""), m.business_day)
    for m in movements(
        db, store=store, first=str(period.first), last=str(period.last), kinds=SOLD_KINDS
    ):
        sold[(m.store, m.sku)] -= m.quantity
    table = Table(
        f"Slow movers {period.first}..{period.last} (sold at most {max_sold})",
        ["store", "sku", "name", "unit", "on hand", "value", "sold", "last sale"],
    )
    rows = [
        lv
        for lv in levels(db, store, str(period.last))
        if lv.on_hand > 0 and sold.get((lv.store, lv.sku), ZERO) <= max_sold
    ]
    for lv in sorted(rows, key=lambda lv: (-lv.value, lv.store, lv.sku)):
        key = (lv.store, lv.sku)
        table.rows.append(
            [
                lv.store,
                lv.sku,
                lv.name,
                lv.unit,
                lv.on_hand,
                lv.value,
                sold.get(key, ZERO),
                last_sale.get(key, "never"),
            ]
        )
    return table


@dataclass
class Shrink:
    lost: Decimal = ZERO  # losses (报损), positive
    counted: Decimal = ZERO  # count adjustments: negative = found missing
    sold: Decimal = ZERO  # cost of sales

    @property
    def shrink(self) -> Decimal:
        """Rule "shrink": the value of losses plus what counts found missing, net of what
        counts found over (at the cost the movements moved at)."""
        return self.lost - self.counted

    @property
    def rate(self) -> Decimal | None:
        """Shrink as a share of cost of sales (None without sales)."""
        return None if self.sold <= 0 else self.shrink / self.sold


def shrink_by(moves: Iterable[StoredMovement], by_item: bool) -> dict[tuple[str, str], Shrink]:
    out: dict[tuple[str, str], Shrink] = defaultdict(Shrink)
    for m in moves:
        row = out[(m.store, m.sku if by_item else "")]
        if m.kind == "loss":
            row.lost -= m.value
        elif m.kind == "count":
            row.counted += m.value
        elif m.kind in SOLD_KINDS:
            row.sold -= m.value
    return out


def shrink_table(db: Database, period: Period, store: str | None, by_item: bool) -> Table:
    moves = movements(
        db,
        store=store,
        first=str(period.first),
        last=str(period.last),
        kinds=(*SHRINK_KINDS, *SOLD_KINDS),
    )
    reasons: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for m in moves:
        if m.kind == "loss":
            reasons[(m.store, m.sku if by_item else "")][m.reason or "other"] -= m.value
    columns = [
        "store",
        *(["sku"] if by_item else []),
        "losses",
        "by reason",
        "count adjustments",
        "shrink",
        "cost of sales",
        "shrink %",
    ]
    table = Table(f"Shrink {period.first}..{period.last}", columns)
    for key, row in sorted(shrink_by(moves, by_item).items()):
        if not by_item or row.lost or row.counted:
            why = ", ".join(f"{r} {v}" for r, v in sorted(reasons[key].items())) or "-"
            rate = row.rate
            table.rows.append(
                [
                    key[0],
                    *([key[1]] if by_item else []),
                    row.lost,
                    why,
                    row.counted,
                    row.shrink,
                    row.sold,
                    "-" if rate is None else (rate * 100).quantize(CENT, ROUND_HALF_UP),
                ]
            )
    return table


def variance_table(db: Database, period: Period, store: str | None) -> Table:
    """Each counted item of each stock count in the period: expected (the ledger), counted,
    the difference and its value at the average cost."""
    names = {(lv.store, lv.sku): lv.name for lv in levels(db, store)}
    table = Table(
        f"Count variances {period.first}..{period.last}",
        ["store", "document", "day", "sku", "name", "expected", "counted", "variance", "value"],
    )
    for m in movements(
        db, store=store, first=str(period.first), last=str(period.last), kinds=("count",)
    ):
        table.rows.append(
            [
                m.store,
                m.document,
                m.business_day,
                m.sku,
                names.get((m.store, m.sku), m.sku),
                m.on_hand_after - m.quantity,
                m.on_hand_after,
                m.quantity,
                m.value,
            ]
        )
    return table


def movements_table(moves: list[StoredMovement]) -> Table:
    table = Table(
        "Stock movements",
        [
            "id",
            "store",
            "sku",
            "kind",
            "quantity",
            "unit",
            "unit cost",
            "value",
            "on hand after",
            "avg cost after",
            "day",
            "document",
            "source",
            "reason",
            "by",
        ],
    )
    for m in moves:
        source = f"{m.box} seq {m.seq} line {m.line}" if m.box else f"line {m.line}"
        table.rows.append(
            [
                m.id,
                m.store,
                m.sku,
                m.kind,
                m.quantity,
                m.unit,
                m.unit_cost,
                m.value,
                m.on_hand_after,
                m.avg_cost_after,
                m.business_day,
                m.document,
                source,
                m.reason or "",
                m.actor,
            ]
        )
    return table


def order_suggested(
    db: Database, now: str, doc: str, store: str, day: date, by: str, supplier: str | None
) -> list[DocumentLine]:
    """Issue purchase order `doc` from the reorder suggestions of `store` for `day` (only
    `supplier`'s items when given), each line at the item's average cost; its lines.
    Post the journal first (`cloud.stock.post_journal`) so the sales are in."""
    settings = item_settings(db, store)
    chosen = [
        s
        for s in reorder(db, store, day)
        if s.quantity > 0
        and (supplier is None or settings.get(s.sku, ItemSettings()).supplier == supplier)
    ]
    if not chosen:
        raise StockError(
            f"nothing to order for {store} on {day}",
            where="cloud stock po create",
            fix="see `cloud stock reorder --all` for why (stock and orders cover the demand)",
        )
    lines = [DocumentLine(s.sku, s.quantity, s.avg_cost) for s in chosen]
    create_order(db, now, doc, store, lines, Stamp(by, now, str(day)), supplier)
    return lines


def order_table(db: Database, order_id: str) -> Table:
    """A purchase order's lines and what was received against each (`cloud stock po show`)."""
    order = load_order(db, order_id)
    names = {lv.sku: lv.name for lv in levels(db, order.store)}
    table = Table(
        f"Purchase order {order.id} for {order.store} ({order.status})",
        [
            "order",
            "store",
            "day",
            "supplier",
            "sku",
            "name",
            "ordered",
            "received",
            "outstanding",
            "unit cost",
        ],
    )
    for line in order.lines:
        table.rows.append(
            [
                order.id,
                order.store,
                order.business_day,
                order.supplier or "",
                line.sku,
                names.get(line.sku, line.sku),
                line.ordered,
                line.received,
                line.outstanding,
                line.unit_cost if line.unit_cost is not None else "",
            ]
        )
    table.notes.append(f"issued by {order.created_by}")
    return table


STOCK_REPORTS = ("onhand", "turnover", "slow", "shrink", "variance")
SHRINK_BY = ("store", "item")  # shrink's groupings, the default first


def report_table(
    db: Database,
    report: str,
    period: Period,
    store: str | None,
    *,
    as_of: str | None = None,
    max_sold: Decimal = ZERO,
    by: str = "store",
) -> Table:
    """The stock report `report` (`cloud stock report REPORT` and the reports page):
    `as_of` for onhand, `max_sold` for slow, `by` (store or item) for shrink."""
    if report == "onhand":
        return on_hand_table(db, store, as_of)
    if report == "turnover":
        return turnover_table(db, period, store)
    if report == "slow":
        return slow_movers_table(db, period, store, max_sold)
    if report == "shrink":
        return shrink_table(db, period, store, by == "item")
    return variance_table(db, period, store)
