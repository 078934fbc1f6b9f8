"""One receipt model, built from a committed journal record; text and ESC/POS render it.

A receipt exists only for a record that is already in the journal (a sale is committed
before its receipt is printed), so the model carries the record's seq and hash and the QR
code names both: anyone can check a paper receipt against the journal. A reprint is the
same model with `copy=True`. Pure: reads a record and settings values, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from gateway.journal import JournalRecord
from gateway.lane import drawer
from gateway.lane.records import RefundBody, SaleBody, SaleLine, TaxLine, Tender

TENDER_NAMES = {
    "cash": "Cash",
    "card": "Card",
    "mobile": "Mobile",
    "voucher": "Voucher",
    "points": "Points",
    "stored_value": "Stored value",
}
LINE_ADJUSTMENTS = ("member_price", "promotion", "override")
REFUND_POINTS = (("points_returned", "Points given back"), ("points_reversed", "Points taken back"))


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
) -> Receipt:
    """The receipt of any journal record (sales and refunds in full, others as rows)."""
    body = record.body
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
    }
    if record.kind == "sale":  # read through the models head office validates them with
        return _sale(SaleBody.model_validate(body), base)
    if record.kind == "refund":
        return _refund(RefundBody.model_validate(body), base)
    if record.kind == "z_report":
        return _z_report(body, base)
    if record.kind in ("paid_in", "paid_out"):
        return _cash_movement(record.kind, body, base)
    return Receipt(
        title=record.kind.replace("_", " ").upper(),
        document_id=str(body.get("receipt_id") or body.get("shift_id") or record.id),
        rows=tuple(_rows(body)),
        **base,
    )


def _staff(body: Mapping[str, Any]) -> str:
    staff = body.get("staff") or {}
    return str(staff.get("name", ""))


def _lane(body: Mapping[str, Any]) -> str:
    lane = body.get("lane") or {}
    return f"{lane.get('store', '')}/{lane.get('box', '')}"


def _line(line: SaleLine, places: int) -> ReceiptLine:
    details: list[str] = []
    if line.weight is not None and line.code is None:
        details.append(f"{line.weight} kg x {line.unit_price:.{places}f}/kg")
    elif line.code and line.weight is not None:
        details.append(f"label {line.code} {line.weight} kg")
    elif line.quantity != 1:
        details.append(f"{line.quantity} x {line.unit_price:.{places}f}")
    adjustments = tuple((a.label, a.amount) for a in line.adjustments if a.kind in LINE_ADJUSTMENTS)
    return ReceiptLine(line.name, line.list_amount, tuple(details), adjustments)


def _basket_adjustments(lines: Sequence[SaleLine]) -> tuple[tuple[str, Decimal], ...]:
    totals: dict[str, Decimal] = {}
    for line in lines:
        for adj in line.adjustments:
            if adj.kind not in LINE_ADJUSTMENTS:
                totals[adj.label] = totals.get(adj.label, Decimal(0)) + adj.amount
    return tuple(totals.items())


def _taxes(rows: Sequence[TaxLine]) -> tuple[TaxRow, ...]:
    return tuple(TaxRow(t.rate, t.inclusive, t.net, t.tax, t.gross) for t in rows)


def _tender_label(tender: Tender) -> str:
    label = str(TENDER_NAMES.get(tender.type, tender.type))
    if tender.card:
        label += f" {tender.card}"
    elif tender.reference:
        label += f" {tender.reference}"
    return label


def _tenders(tenders: Sequence[Tender]) -> tuple[tuple[str, Decimal], ...]:
    return tuple((_tender_label(t), t.given if t.given else t.amount) for t in tenders)


def _sale(body: SaleBody, base: dict[str, Any]) -> Receipt:
    places = base["places"]
    totals = body.totals
    points = body.points
    point_rows = []
    if body.member is not None:
        if points.earned:
            point_rows.append(f"Points earned: {points.earned}")
        if points.redeemed:
            point_rows.append(f"Points redeemed: {points.redeemed}")
        if points.balance is not None:
            point_rows.append(f"Points balance: {points.balance}")
    return Receipt(
        title="RECEIPT",
        document_id=body.receipt_id,
        lines=tuple(_line(line, places) for line in body.lines),
        basket_adjustments=_basket_adjustments(body.lines),
        savings=totals.savings,
        total=totals.total,
        cash_rounding=totals.cash_rounding,
        due=totals.due,
        taxes=_taxes(body.taxes),
        tenders=_tenders(body.tenders),
        change=body.change,
        member=body.member.id if body.member else None,
        points=tuple(point_rows),
        notes=tuple(f"Override: {o.action} by {o.supervisor.name}" for o in body.overrides),
        **base,
    )


def _refund(body: RefundBody, base: dict[str, Any]) -> Receipt:
    lines = tuple(
        ReceiptLine(line.name, -line.amount, (f"{line.quantity} returned",)) for line in body.lines
    )
    total = -body.total
    paid = -sum((t.amount for t in body.tenders), Decimal(0))
    notes = [
        f"Refund of {body.original_receipt_id}" if body.with_receipt else "Return without receipt",
        f"Reason: {body.reason}",
    ]
    if body.override is not None:
        notes.append(f"Authorised by {body.override.supervisor.name}")
    fields = body.model_dump()
    points = [f"{label}: {fields[key]}" for key, label in REFUND_POINTS if fields.get(key)]
    if points and body.points_balance is not None:
        points.append(f"Points balance: {body.points_balance}")
    return Receipt(
        title="REFUND",
        document_id=body.refund_id,
        lines=lines,
        total=total,
        member=body.member.id if body.member else None,
        points=tuple(points),
        cash_rounding=paid - total,
        due=paid,
        taxes=_taxes(body.taxes),
        tenders=tuple((_tender_label(t), -t.amount) for t in body.tenders),
        notes=tuple(notes),
        **base,
    )


Z_SECTIONS = (
    ("by_tender", "By tender"),
    ("by_tax", "By tax rate (net  tax  gross)"),
    ("by_category", "By category"),
    ("by_cashier", "By cashier (count, amount)"),
)


def _z_report(body: Mapping[str, Any], base: dict[str, Any]) -> Receipt:
    """The day close: totals first, then each breakdown under its own heading."""
    rows: list[tuple[str, str]] = [
        ("Business day", body["business_day"]),
        ("Journal records", f"{body['first_seq']}-{body['last_seq']}"),
        ("Sales", f"{body['sales']}  {body['gross']}"),
        ("Discounts given", body["discounts"]),
        ("Refunds", f"{body['refunds']}  {body['refunds_amount']}"),
        ("Net sales", body["net"]),
        ("Voided sales", f"{body['voids']}  {body['voids_amount']}"),
        ("Voided lines", str(body["line_voids"])),
        ("No-sale opens", str(body["no_sales"])),
        ("Points issued", str(body["points_issued"])),
        ("Points redeemed", str(body["points_redeemed"])),
        ("Points taken back", str(body.get("points_reversed", 0))),
        ("Points given back", str(body.get("points_returned", 0))),
        *drawer_rows(body),
    ]
    for key, title in Z_SECTIONS:
        rows.append((f"-- {title}", ""))
        for row in body[key]:
            label = f"  {row['key']}" + (f" {row['name']}" if row.get("name") else "")
            value = f"{row['count']}  {row['amount']}" if key == "by_cashier" else row["amount"]
            if key == "by_tax" and row.get("tax") is not None:
                value = tax_columns(Decimal(row["amount"]), Decimal(row["tax"]))
            rows.append((label, value))
    base = {**base, "currency": body["currency"]}
    return Receipt(
        title=f"Z REPORT {body['z_number']:04d} ({body['currency']})",
        document_id=f"Z{body['z_number']:04d}",
        rows=tuple(rows),
        **base,
    )


def tax_columns(gross: Decimal, tax: Decimal) -> str:
    """A tax rate's row on an X or Z: net, tax and gross (`drawer.net_of`)."""
    return f"{drawer.net_of(gross, tax):>9} {tax:>7} {gross:>9}"


def drawer_rows(body: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The cash drawer's section of a Z (absent on a Z written before it existed)."""
    if body.get("expected_cash") is None:
        return []
    rows = [
        ("-- Cash drawer", ""),
        ("Opening floats", str(body["opening_floats"])),
        ("Cash sales", str(body["cash_sales"])),
        ("Cash refunds", str(body["cash_refunds"])),
        ("Paid in", f"{body['paid_ins']}  {body['paid_in']}"),
        ("Paid out", f"{body['paid_outs']}  {body['paid_out']}"),
        ("Expected cash", str(body["expected_cash"])),
    ]
    if body.get("shifts_closed"):
        rows += [
            ("Counted", str(body["counted"])),
            ("Over/short", drawer.signed(Decimal(body["over_short"]))),
        ]
    return rows


def _cash_movement(kind: str, body: Mapping[str, Any], base: dict[str, Any]) -> Receipt:
    """A paid-in or paid-out slip: the amount, why, who authorised it; a paid-out is
    signed for by whoever takes the cash (no shop footer: it is not a customer's)."""
    rows = [
        ("Amount", f"{body['currency']} {body['amount']}"),
        ("Reason", str(body["reason"])),
        ("Shift", str(body["shift_id"])),
    ]
    override = body.get("override")
    if override:
        rows.append(("Authorised by", str(override["supervisor"]["name"])))
    notes = ("Received by: ____________________",) if kind == "paid_out" else ()
    return Receipt(
        title="PAID IN" if kind == "paid_in" else "PAID OUT",
        document_id=str(body["movement_id"]),
        rows=tuple(rows),
        notes=notes,
        **{**base, "footer": ()},
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
