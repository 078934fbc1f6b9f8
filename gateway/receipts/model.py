"""One receipt model, built from a committed journal record; text and ESC/POS render it.

A receipt exists only for a record that is already in the journal (a sale is committed
before its receipt is printed), so the model carries the record's seq and hash and the QR
code names both: anyone can check a paper receipt against the journal. A reprint is the
same model with `copy=True`. Every word is printed in the receipt's `language` (the
cashier's, chosen at sign-on), from the one table of texts (`gateway.i18n`); product and
promotion names come from the catalog's `names` in that language when it has them, else
as the record holds them. Pure: reads a record and settings values, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from gateway.i18n import CatalogNames, Translate, adjustment_label, product_name, translator
from gateway.journal import JournalRecord
from gateway.lane import drawer
from gateway.lane.records import RefundBody, SaleBody, SaleLine, TaxLine, Tender
from gateway.receipts.text import LINE_ADJUSTMENTS, deposit_text

REFUND_POINTS = ("points_returned", "points_reversed")


@dataclass(frozen=True)
class ReceiptLine:
    name: str
    amount: Decimal
    details: tuple[str, ...] = ()
    adjustments: tuple[tuple[str, Decimal], ...] = ()


@dataclass(frozen=True)
class TaxRow:
    rate: Decimal
    inclusive: bool
    net: Decimal
    tax: Decimal
    gross: Decimal


@dataclass(frozen=True)
class Receipt:
    """Everything printed, in printing order, with amounts still as Decimals."""

    kind: str
    title: str
    header: tuple[str, ...]
    footer: tuple[str, ...]
    document_id: str
    seq: int
    hash: str
    local_time: str
    staff: str
    lane: str
    currency: str
    places: int
    language: str = "en"
    copy: bool = False
    lines: tuple[ReceiptLine, ...] = ()
    basket_adjustments: tuple[tuple[str, Decimal], ...] = ()
    savings: Decimal = Decimal(0)
    total: Decimal = Decimal(0)
    cash_rounding: Decimal = Decimal(0)
    due: Decimal = Decimal(0)
    taxes: tuple[TaxRow, ...] = ()
    tenders: tuple[tuple[str, Decimal], ...] = ()
    change: Decimal = Decimal(0)
    member: str | None = None
    points: tuple[str, ...] = ()
    rows: tuple[tuple[str, str], ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def qr(self) -> str:
        """What the QR code carries: the document id and the journal record's seq and hash."""
        return f"storegate:{self.lane}/{self.document_id}/{self.seq}/{self.hash}"

    def fmt(self, amount: Decimal) -> str:
        return f"{amount:.{self.places}f}"


def from_record(
    record: JournalRecord,
    header: Sequence[str] = (),
    footer: Sequence[str] = (),
    *,
    copy: bool = False,
    language: str = "en",
    names: CatalogNames | None = None,
) -> Receipt:
    """The receipt of any journal record (sales and refunds in full, others as rows), in
    `language`, with product and promotion names from `names` (the catalog) when given."""
    body = record.body
    words = Words(language, names)
    base: dict[str, Any] = {
        "kind": record.kind,
        "header": tuple(header),
        "footer": tuple(footer),
        "seq": record.seq,
        "hash": record.hash,
        "copy": copy,
        "local_time": str(body.get("local_time", record.time)),
        "staff": _staff(body),
        "lane": _lane(body),
        "currency": str(body.get("currency", "")),
        "places": int(body.get("places", 2)),
        "language": language,
    }
    if record.kind == "sale":  # read through the models head office validates them with
        return _sale(SaleBody.model_validate(body), base, words)
    if record.kind == "refund":
        return _refund(RefundBody.model_validate(body), base, words)
    if record.kind == "z_report":
        return _z_report(body, base, words.t)
    if record.kind in ("paid_in", "paid_out"):
        return _cash_movement(record.kind, body, base, words.t)
    if record.kind in ("top_up", "top_up_refund"):
        return _top_up(record.kind, body, base, words.t)
    return Receipt(
        title=record.kind.replace("_", " ").upper(),
        document_id=str(body.get("receipt_id") or body.get("shift_id") or record.id),
        rows=tuple(_rows(body)),
        **base,
    )


@dataclass(frozen=True)
class Words:
    """The receipt's language: its texts (`t`) and the catalog's names in it."""

    language: str
    names: CatalogNames | None

    @property
    def t(self) -> Translate:
        return translator(self.language)

    def product(self, sku: str, name: str) -> str:
        return product_name(self.language, sku, name, self.names)

    def adjustment(self, kind: str, label: str, promotion: str | None) -> str:
        return adjustment_label(self.language, kind, label, promotion, self.names)

    def tender(self, tender: str) -> str:
        return self.t(f"r_tender_{tender}") if f"r_tender_{tender}" in TENDER_KEYS else tender


TENDER_KEYS = frozenset(
    f"r_tender_{t}" for t in ("cash", "card", "mobile", "voucher", "points", "stored_value")
)


def _staff(body: Mapping[str, Any]) -> str:
    staff = body.get("staff") or {}
    return str(staff.get("name", ""))


def _lane(body: Mapping[str, Any]) -> str:
    lane = body.get("lane") or {}
    return f"{lane.get('store', '')}/{lane.get('box', '')}"


def _line(line: SaleLine, places: int, words: Words) -> ReceiptLine:
    t = words.t
    details: list[str] = []
    price = f"{line.unit_price:.{places}f}"
    if line.weight is not None and line.code is None:
        details.append(t("r_weighed").format(weight=line.weight, price=price))
    elif line.code and line.weight is not None:
        details.append(t("r_label").format(code=line.code, weight=line.weight))
    elif line.quantity != 1:
        details.append(t("r_times").format(quantity=line.quantity, price=price))
    adjustments = tuple(
        (words.adjustment(a.kind, a.label, a.promotion), a.amount)
        for a in line.adjustments
        if a.kind in LINE_ADJUSTMENTS
    )
    adjustments += _deposit_row(line, places, words)
    if line.unit_price < 0:  # only an empties return (Leergut) is priced below zero
        details.append(t("r_empties"))
    return ReceiptLine(
        words.product(line.sku, line.name), line.list_amount, tuple(details), adjustments
    )


def _deposit_row(line: SaleLine, places: int, words: Words) -> tuple[tuple[str, Decimal], ...]:
    """The line's deposit on a row of its own under the item, as German receipts print
    it ("Pfand 0.25"; `Deposit 2 x 0.25`, `押金 2 x 0.25`): what it added to the line."""
    if line.deposit is None or not line.deposit:
        return ()
    return ((deposit_text(words.t, line.deposit, line.quantity, places), line.deposit),)


def _basket_adjustments(lines: Sequence[SaleLine], words: Words) -> tuple[tuple[str, Decimal], ...]:
    totals: dict[str, Decimal] = {}
    for line in lines:
        for adj in line.adjustments:
            if adj.kind not in LINE_ADJUSTMENTS:
                label = words.adjustment(adj.kind, adj.label, adj.promotion)
                totals[label] = totals.get(label, Decimal(0)) + adj.amount
    return tuple(totals.items())


def _taxes(rows: Sequence[TaxLine]) -> tuple[TaxRow, ...]:
    return tuple(TaxRow(t.rate, t.inclusive, t.net, t.tax, t.gross) for t in rows)


def _tender_label(tender: Tender, words: Words) -> str:
    label = words.tender(tender.type)
    if tender.card:
        label += f" {tender.card}"
        if tender.reference and tender.reference != "terminal":
            label += f" {tender.reference}"  # a driven terminal's references (docs/payments.md)
    elif tender.reference:
        label += f" {tender.reference}"
    return label


def _tenders(tenders: Sequence[Tender], words: Words) -> tuple[tuple[str, Decimal], ...]:
    return tuple((_tender_label(t, words), t.given if t.given else t.amount) for t in tenders)


def _sale(body: SaleBody, base: dict[str, Any], words: Words) -> Receipt:
    t = words.t
    places = base["places"]
    totals = body.totals
    points = body.points
    point_rows = []
    if body.member is not None:
        if points.earned:
            point_rows.append(t("r_points_earned").format(points=points.earned))
        if points.redeemed:
            point_rows.append(t("r_points_redeemed").format(points=points.redeemed))
        if points.balance is not None:
            point_rows.append(t("r_points_balance").format(points=points.balance))
        if body.stored_value_balance is not None:
            point_rows.append(t("r_wallet_balance").format(amount=body.stored_value_balance))
        for coupon in body.member_coupons or ():
            until = t("r_coupon_until").format(day=coupon.until) if coupon.until else ""
            point_rows.append(t("r_your_coupon").format(code=coupon.code, until=until))
    return Receipt(
        title=t("r_sale"),
        document_id=body.receipt_id,
        lines=tuple(_line(line, places, words) for line in body.lines),
        basket_adjustments=_basket_adjustments(body.lines, words),
        savings=totals.savings,
        total=totals.total,
        cash_rounding=totals.cash_rounding,
        due=totals.due,
        taxes=_taxes(body.taxes),
        tenders=_tenders(body.tenders, words),
        change=body.change,
        member=body.member.id if body.member else None,
        points=tuple(point_rows),
        notes=tuple(
            t("r_override").format(action=o.action, name=o.supervisor.name) for o in body.overrides
        ),
        **base,
    )


def _refund(body: RefundBody, base: dict[str, Any], words: Words) -> Receipt:
    t = words.t
    lines = tuple(
        ReceiptLine(
            words.product(line.sku, line.name),
            -line.amount,
            (t("r_returned").format(quantity=line.quantity),),
        )
        for line in body.lines
    )
    total = -body.total
    paid = -sum((tender.amount for tender in body.tenders), Decimal(0))
    notes = [
        t("r_refund_of").format(receipt=body.original_receipt_id)
        if body.with_receipt
        else t("r_no_receipt"),
        t("r_reason").format(reason=body.reason),
    ]
    if body.override is not None:
        notes.append(t("r_authorised").format(name=body.override.supervisor.name))
    fields = body.model_dump()
    points = [f"{t('r_' + key)}: {fields[key]}" for key in REFUND_POINTS if fields.get(key)]
    if points and body.points_balance is not None:
        points.append(t("r_points_balance").format(points=body.points_balance))
    return Receipt(
        title=t("r_refund"),
        document_id=body.refund_id,
        lines=lines,
        total=total,
        member=body.member.id if body.member else None,
        points=tuple(points),
        cash_rounding=paid - total,
        due=paid,
        taxes=_taxes(body.taxes),
        tenders=tuple((_tender_label(tender, words), -tender.amount) for tender in body.tenders),
        notes=tuple(notes),
        **base,
    )


Z_SECTIONS = ("by_tender", "by_tax", "by_category", "by_cashier")


def _z_report(body: Mapping[str, Any], base: dict[str, Any], t: Translate) -> Receipt:
    """The day close: totals first, then each breakdown under its own heading."""
    rows: list[tuple[str, str]] = [
        (t("z_business_day"), body["business_day"]),
        (t("z_records"), f"{body['first_seq']}-{body['last_seq']}"),
        (t("z_sales"), f"{body['sales']}  {body['gross']}"),
        (t("z_discounts"), body["discounts"]),
        (t("z_refunds"), f"{body['refunds']}  {body['refunds_amount']}"),
        (t("z_net"), body["net"]),
        (t("z_voids"), f"{body['voids']}  {body['voids_amount']}"),
        (t("z_line_voids"), str(body["line_voids"])),
        (t("z_no_sales"), str(body["no_sales"])),
        (t("z_points_issued"), str(body["points_issued"])),
        (t("z_points_redeemed"), str(body["points_redeemed"])),
        (t("z_points_reversed"), str(body.get("points_reversed", 0))),
        (t("z_points_returned"), str(body.get("points_returned", 0))),
        *drawer_rows(body, t),
    ]
    for key in Z_SECTIONS:
        rows.append((f"-- {t('z_' + key)}", ""))
        for row in body[key]:
            label = f"  {row['key']}" + (f" {row['name']}" if row.get("name") else "")
            value = f"{row['count']}  {row['amount']}" if key == "by_cashier" else row["amount"]
            if key == "by_tax" and row.get("tax") is not None:
                value = tax_columns(Decimal(row["amount"]), Decimal(row["tax"]))
            rows.append((label, value))
    base = {**base, "currency": body["currency"]}
    return Receipt(
        title=t("z_title").format(number=body["z_number"], currency=body["currency"]),
        document_id=f"Z{body['z_number']:04d}",
        rows=tuple(rows),
        **base,
    )


def tax_columns(gross: Decimal, tax: Decimal) -> str:
    """A tax rate's row on an X or Z: net, tax and gross (`drawer.net_of`)."""
    return f"{drawer.net_of(gross, tax):>9} {tax:>7} {gross:>9}"


def drawer_rows(body: Mapping[str, Any], t: Translate) -> list[tuple[str, str]]:
    """The cash drawer's section of a Z (absent on a Z written before it existed)."""
    if body.get("expected_cash") is None:
        return []
    rows = [
        (f"-- {t('z_drawer')}", ""),
        (t("z_opening_floats"), str(body["opening_floats"])),
        (t("z_cash_sales"), str(body["cash_sales"])),
        (t("z_cash_refunds"), str(body["cash_refunds"])),
        (t("z_paid_in"), f"{body['paid_ins']}  {body['paid_in']}"),
        (t("z_paid_out"), f"{body['paid_outs']}  {body['paid_out']}"),
    ]
    if body.get("top_ups"):
        rows += [
            (t("z_top_ups"), f"{body['top_ups']}  {body['top_up']}"),
            (t("z_top_up_cash"), str(body["top_up_cash"])),
        ]
    rows += [
        (t("z_expected_cash"), str(body["expected_cash"])),
    ]
    if body.get("shifts_closed"):
        rows += [
            (t("z_counted"), str(body["counted"])),
            (t("z_over_short"), drawer.signed(Decimal(body["over_short"]))),
        ]
    return rows


def _cash_movement(
    kind: str, body: Mapping[str, Any], base: dict[str, Any], t: Translate
) -> Receipt:
    """A paid-in or paid-out slip: the amount, why, who authorised it; a paid-out is
    signed for by whoever takes the cash (no shop footer: it is not a customer's)."""
    rows = [
        (t("r_cash_amount"), f"{body['currency']} {body['amount']}"),
        (t("r_cash_reason"), str(body["reason"])),
        (t("r_cash_shift"), str(body["shift_id"])),
    ]
    override = body.get("override")
    if override:
        rows.append((t("r_cash_authorised"), str(override["supervisor"]["name"])))
    notes = (t("r_cash_received"),) if kind == "paid_out" else ()
    return Receipt(
        title=t("r_paid_in_title") if kind == "paid_in" else t("r_paid_out_title"),
        document_id=str(body["movement_id"]),
        rows=tuple(rows),
        notes=notes,
        **{**base, "footer": ()},
    )


def _top_up(kind: str, body: Mapping[str, Any], base: dict[str, Any], t: Translate) -> Receipt:
    """A top-up slip for the member (what was paid, the bonus, the balance now), or the
    slip of its refund (what was paid back and taken off the wallet, why, who allowed it)."""
    money = str(body["currency"])
    rows = [(t("r_top_up_member"), str(body["member"]))]
    if kind == "top_up":
        rows += [(t("r_top_up_paid"), f"{money} {body['amount']}")]
        if Decimal(body["bonus"]):
            rows += [(t("r_top_up_bonus"), f"{money} {body['bonus']}")]
    else:
        rows += [
            (t("r_top_up_of"), str(body["top_up_id"])),
            (t("r_top_up_paid_back"), f"{money} {body['amount']}"),
            (t("r_top_up_taken"), f"{money} {body['taken']}"),
            (t("r_cash_reason"), str(body["reason"])),
        ]
    rows += [
        (t("r_top_up_tender"), str(body["tender"])),
        (t("r_top_up_balance"), f"{money} {body['balance']}"),
    ]
    if body.get("reference"):
        rows.append((t("r_top_up_reference"), str(body["reference"])))
    override = body.get("override")
    if override:
        rows.append((t("r_cash_authorised"), str(override["supervisor"]["name"])))
    return Receipt(
        title=t("r_top_up_title") if kind == "top_up" else t("r_top_up_refund_title"),
        document_id=str(body["top_up_id"] if kind == "top_up" else body["refund_id"]),
        rows=tuple(rows),
        **base,
    )


def _rows(body: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for key, value in body.items():
        if key in ("lane", "schema"):
            continue
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            if "name" in value:
                rows.append((name, str(value["name"])))
            else:
                rows.extend(_rows(value, f"{name}."))
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    label = item.get("key") or item.get("name") or item.get("type") or name
                    rows.append((f"  {label}", str(item.get("total") or item.get("amount", ""))))
        elif value is not None:
            rows.append((name, str(value)))
    return rows
