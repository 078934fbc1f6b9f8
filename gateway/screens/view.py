"""What the screens show, as plain strings: built from the lane's state and the desk's.

Owns the translation of lane values (the sale's priced basket, its tenders, the member,
the shift, from the lane's frozen `LaneSnapshot`) and of desk values (device health, the
live weight, the last message, an open prompt, the last completed sale) into one
immutable `ScreenView` that templates render and the pole display reads. Amounts are
formatted here with the store's currency format; nothing is priced here: every amount
is one the pricing engine or the journal gave.
Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from devices.events import WeightReading
from gateway.i18n import CatalogNames, adjustment_label, product_name, translator
from gateway.money import ZERO
from gateway.receipts.text import deposit_text
from gateway.screens.money import CurrencyFormat, weight_text
from gateway.screens.requests import LaneSnapshot
from gateway.screens.selling import Choice

if TYPE_CHECKING:
    from gateway.screens.stock import StockView

Translate = Callable[[str], str]


@dataclass(frozen=True)
class LineView:
    number: int
    name: str
    quantity: str
    unit_price: str
    amount: str
    list_amount: str
    amount_plain: str = ""  # without the currency symbol (the 20-column pole display)
    adjustments: tuple[tuple[str, str], ...] = ()
    selected: bool = False


@dataclass(frozen=True)
class DeviceView:
    name: str
    role: str
    state: str
    ok: bool


@dataclass(frozen=True)
class ReceiptLineView:
    """One line of an earlier receipt in the refund-lines dialog. Quantities are counted
    as the lane counts them (a weighed line is one unit, refunded whole or not at all)."""

    number: int  # as printed on the receipt, from 1
    name: str
    sold: str  # "3", or "0.456 kg" for a weighed line
    paid: str  # the line's total as the sale record allocated it
    refunded: str
    left: str
    left_units: str  # what is left in the lane's units, plain ("2", "1"): the + key's limit
    whole: str  # what Space or a tap writes: the count left, or the "all" word
    whole_only: bool  # weighed (or a fractional quantity): the lane takes the whole line
    open: bool  # something is left to refund


@dataclass(frozen=True)
class ReceiptView:
    """An earlier sale as the refund-lines dialog lists it, read from its journal record
    body and the lane book's refunded quantities."""

    receipt_id: str
    sold_at: str
    cashier: str
    total: str
    lines: tuple[ReceiptLineView, ...]

    @property
    def all_refunded(self) -> bool:
        return not any(line.open for line in self.lines)


@dataclass(frozen=True)
class Prompt:
    """A dialog the cashier must answer: `kind` names the form, `fields` its inputs;
    `alert` is a refusal shown inside it, `receipt` the receipt it lists, `rows` figures it
    shows (label, value, css class: the drawer after a close)."""

    kind: str
    title: str
    text: str = ""
    fields: tuple[tuple[str, str, str], ...] = ()  # (name, label, prefilled value)
    alert: str = ""
    receipt: ReceiptView | None = None
    rows: tuple[tuple[str, str, str], ...] = ()
    choices: tuple[Choice, ...] = ()  # buttons to pick from (search, quick keys, departments)


@dataclass(frozen=True)
class Message:
    kind: str  # "notice", "refusal" or "alert"
    text: str


@dataclass(frozen=True)
class LastSale:
    """The sale just completed, from its journal record (what the customer paid)."""

    receipt_id: str
    total: str
    paid: str
    change: str
    change_amount: Decimal
    points_earned: int | None
    points_balance: int | None
    qr: str
    member_name: str | None = None


@dataclass(frozen=True)
class Unprinted:
    """A receipt the printer did not print: the till's banner, with its one-key reprint."""

    seq: int  # the journal record
    receipt_id: str  # as it would have been printed on the slip
    reason: str


@dataclass(frozen=True)
class SyncView:
    """The link to head office at a glance: `online` None when this box has no sync."""

    online: bool | None
    backlog: int  # journal records head office has not acknowledged yet


@dataclass(frozen=True)
class ScreenView:
    language: str
    state: str
    state_text: str
    cashier: str | None = None
    shift_id: str | None = None
    lines: tuple[LineView, ...] = ()
    item_count: str = "0"
    list_total: str = ""
    savings: str = ""
    has_savings: bool = False
    tax: str = ""
    total: str = ""
    cash_total: str | None = None
    paid: str | None = None
    due: str | None = None
    tenders: tuple[tuple[str, str], ...] = ()
    member_name: str | None = None
    member_points: str | None = None
    member_coupons: tuple[str, ...] = ()  # the member's personal coupons not on the sale yet
    message: Message | None = None
    prompt: Prompt | None = None
    devices: tuple[DeviceView, ...] = ()
    weight: str = "-.---"
    weight_status: str = ""
    weight_stable: bool = False
    last_sale: LastSale | None = None
    suspended: tuple[str, ...] = ()
    store: str = ""  # the store's name, and this till's lane (box) id
    lane_name: str = ""
    date: str = ""  # the store's date and time, as of the last tick
    clock: str = ""
    sync: SyncView | None = None  # None: not known yet
    unprinted: Unprinted | None = None
    thanks: LastSale | None = None  # the customer's thank-you, until cleared
    refunded: str | None = None  # the customer's last refund total, until cleared
    refund_picks: tuple[tuple[int, str], ...] = ()  # (line number, picked) so far
    stock: StockView | None = None  # the open stock session, shown instead of the basket
    recommended: tuple[str, ...] = ()  # "often bought with" the newest line, not in the basket

    @property
    def last_line(self) -> LineView | None:
        return self.lines[-1] if self.lines else None


@dataclass
class Desk:
    """What the screens know beyond the lane: devices, messages, prompts, the last sale.

    Mutable, owned by the hub and changed only under its lock."""

    devices: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (role, state)
    reading: WeightReading | None = None  # the scale's last, as it said it (F3 prices it)
    weight: Decimal | None = None
    weight_unit: str | None = None
    weight_status: str = ""
    message: Message | None = None
    prompt: Prompt | None = None
    last_sale: LastSale | None = None
    selected: int | None = None
    store: str = ""
    lane_name: str = ""
    date: str = ""
    clock: str = ""
    sync: SyncView | None = None
    unprinted: Unprinted | None = None
    refunded: str | None = None  # the last refund's total (the customer's display)
    thanks_cleared: bool = False  # the customer's thank-you was cleared (time, sign-on)
    refund_picks: dict[int, str] = field(default_factory=dict)  # the refund-lines dialog's


def build_view(
    lane: LaneSnapshot, desk: Desk, fmt: CurrencyFormat, t: Translate, language: str
) -> ScreenView:
    """Everything both pages and the pole display need, from one consistent moment: the
    lane's frozen snapshot and the desk."""
    state = lane.state
    shift = lane.shift
    sale = lane.sale
    base: dict[str, Any] = {
        "language": language,
        "state": state,
        "state_text": t(state),
        "cashier": shift.staff.name if shift else None,
        "shift_id": shift.shift_id if shift else None,
        "message": desk.message,
        "prompt": desk.prompt,
        "devices": _devices(desk, t),
        "weight": weight_text(desk.weight, desk.weight_unit, fmt.decimal),
        "weight_status": t(desk.weight_status) if desk.weight_status else "",
        "weight_stable": desk.weight_status == "stable",
        "last_sale": desk.last_sale if sale is None else None,
        "suspended": lane.suspended if shift else (),
        "store": desk.store,
        "lane_name": desk.lane_name,
        "date": desk.date,
        "clock": desk.clock,
        "sync": desk.sync,
        "unprinted": desk.unprinted,
        "thanks": None if sale is not None or desk.thanks_cleared else desk.last_sale,
        "refunded": None if sale is not None or desk.thanks_cleared else desk.refunded,
        "refund_picks": tuple(sorted(desk.refund_picks.items())),
    }
    if sale is not None:
        base.update(_sale(sale, desk, fmt, t, language))
    return ScreenView(**base)


def _devices(desk: Desk, t: Translate) -> tuple[DeviceView, ...]:
    healthy = {"connected", "ready", "stable", "zero", "motion"}
    return tuple(
        DeviceView(name, t(role), t(state), state in healthy)
        for name, (role, state) in sorted(desk.devices.items())
    )


def _sale(
    sale: Any, desk: Desk, fmt: CurrencyFormat, t: Translate, language: str
) -> dict[str, Any]:
    priced = sale.priced
    out: dict[str, Any] = {}
    if sale.member is not None:
        out["member_name"] = sale.member.name or sale.member.id
        out["member_points"] = f"{sale.member.points} {t('points')}"
        out["member_coupons"] = _member_coupons(sale, t)
    if priced is None:
        return out
    selected = desk.selected if desk.selected is not None else len(priced.lines) - 1
    out["lines"] = tuple(
        _line(line, fmt, i == selected, language, sale.catalog)
        for i, line in enumerate(priced.lines)
    )
    out["recommended"] = _recommended(priced.lines, sale.catalog, language)
    out["item_count"] = _count(priced.lines)
    out["list_total"] = fmt(priced.list_total)
    out["savings"] = fmt(priced.savings)  # every line's adjustments, basket ones included
    out["has_savings"] = priced.savings > 0
    out["tax"] = fmt(priced.tax)
    out["total"] = fmt(priced.total)
    if priced.cash_rounding:
        out["cash_total"] = fmt(priced.cash_total)
    if sale.tenders:
        out["tenders"] = tuple(
            (
                t(f"k_{tender.type}") if tender.type in ("cash", "card") else tender.type,
                fmt(tender.amount),
            )
            for tender in sale.tenders
        )
        out["paid"] = fmt(sale.paid)
        out["due"] = fmt(max(priced.total - sale.paid, ZERO))
    return out


def _member_coupons(sale: Any, t: Translate) -> tuple[str, ...]:
    """The member's personal coupons (docs/screens.md, "Personal coupons"), as the receipt
    words them, leaving out those already entered on this sale."""
    return tuple(
        t("r_your_coupon").format(
            code=c.code, until=t("r_coupon_until").format(day=c.until) if c.until else ""
        )
        for c in sale.member.coupons
        if c.code not in sale.coupons
    )


def _recommended(lines: Any, catalog: Any, language: str) -> tuple[str, ...]:
    """Names of what head office found often bought with the newest line (the catalog's
    `recommendations`), leaving out what the basket already holds."""
    if not lines or catalog is None:
        return ()
    basket = {line.sku for line in lines}
    return tuple(
        product_name(language, product.sku, product.name, catalog)
        for product in catalog.recommended_with(lines[-1].sku)
        if product.sku not in basket
    )


def _count(lines: Any) -> str:
    """Pieces rung up; a weighed line counts as one item."""
    count = sum(
        (line.quantity if line.weight is None else Decimal(1) for line in lines), Decimal(0)
    )
    return _plain(count)


def _plain(number: Decimal) -> str:
    """3 rather than 3.000 or 3E+0; fractions as they are."""
    return str(number.quantize(Decimal(1))) if number == number.to_integral_value() else str(number)


def _line(
    line: Any, fmt: CurrencyFormat, selected: bool, language: str, names: CatalogNames | None
) -> LineView:
    """A priced line in `language`: its product and promotion names from the sale's
    catalog, the engine's own adjustments by kind (`gateway.i18n`)."""
    if line.weight is not None:
        quantity = f"{line.weight:.3f} {line.unit}"
    else:
        quantity = _plain(line.quantity)
    return LineView(
        number=line.index + 1,
        name=product_name(language, line.sku, line.name, names),
        quantity=quantity,
        unit_price=fmt(line.unit_price),
        amount=fmt(line.total),
        list_amount=fmt(line.list_amount),
        amount_plain=fmt.number(line.total),
        adjustments=tuple(
            (adjustment_label(language, a.kind, a.label, a.promotion, names), fmt(a.amount))
            for a in line.adjustments
        )
        + _deposit_row(line, fmt, language),
        selected=selected,
    )


def _deposit_row(line: Any, fmt: CurrencyFormat, language: str) -> tuple[tuple[str, str], ...]:
    """A bottle's deposit (Pfand / 押金) under its line, worded as the receipt words it."""
    if not line.deposit:
        return ()
    text = deposit_text(translator(language), line.deposit, line.quantity, fmt.places)
    return ((text, fmt(line.deposit)),)


def last_sale(
    body: Mapping[str, Any],
    receipt: Any,
    fmt: CurrencyFormat,
    qr_template: str | None,
    member_name: str | None,
) -> LastSale:
    """The completed sale as the customer sees it, read from its journal record body."""
    totals = body.get("totals", {})
    change = Decimal(str(body.get("change", "0")))
    paid = sum(
        (Decimal(str(t.get("given") or t["amount"])) for t in body.get("tenders", [])), ZERO
    )  # what the customer handed over: cash given, not only what it paid
    points = body.get("points") or {}
    receipt_id = str(body["receipt_id"])
    qr = qr_template.format(receipt_id=receipt_id) if qr_template else str(receipt.qr)
    return LastSale(
        receipt_id=receipt_id,
        total=fmt(Decimal(str(totals.get("due", "0")))),
        paid=fmt(paid),
        change=fmt(change),
        change_amount=change,
        points_earned=points.get("earned") if body.get("member") else None,
        points_balance=points.get("balance") if body.get("member") else None,
        qr=qr,
        member_name=member_name,
    )


def receipt_view(
    body: Mapping[str, Any], refunded: Mapping[int, Decimal], fmt: CurrencyFormat, t: Translate
) -> ReceiptView:
    """A sale record body as the refund-lines dialog lists it. Amounts are the body's own
    (each line's total as the sale allocated it); only quantities are counted here: what
    the lane book says was refunded, and what is left of each line."""
    lines = []
    for index, line in enumerate(body.get("lines", ())):
        sold = Decimal(str(line["quantity"]))
        done = refunded.get(index, Decimal(0))
        left = max(sold - done, Decimal(0))
        weight = line.get("weight")
        whole_only = weight is not None or sold != sold.to_integral_value()
        if weight is not None:
            weighed = weight_text(Decimal(str(weight)), line.get("unit"), fmt.decimal)
            sold_text, done_text = weighed, weighed if done else "0"
            left_text = weighed if left else "0"
        else:
            sold_text, done_text, left_text = _plain(sold), _plain(done), _plain(left)
        lines.append(
            ReceiptLineView(
                number=index + 1,
                name=str(line["name"]),
                sold=sold_text,
                paid=fmt(Decimal(str(line["total"]))),
                refunded=done_text,
                left=left_text,
                left_units=_plain(left),
                whole=t("all_word") if whole_only else _plain(left),
                whole_only=whole_only,
                open=left > 0,
            )
        )
    staff = body.get("staff") or {}
    return ReceiptView(
        receipt_id=str(body["receipt_id"]),
        sold_at=str(body.get("local_time", "")).replace("T", " "),
        cashier=str(staff.get("name", "")),
        total=fmt(Decimal(str(body["totals"]["total"]))),
        lines=tuple(lines),
    )
