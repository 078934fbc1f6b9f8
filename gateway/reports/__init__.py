"""X and Z reports (current shift; day close, 日结), computed from the journal.

Owns the figures and the `z_report` record. Reads each lane record's digest (the figures
`gateway.lane.digest` folds from its body, stored with the record in the same transaction)
through the lane's index, so a day of 20,000 sales reports in well under a second. Writes
only the Z record, through the lane book, with a running Z counter; a second Z for the
same business day, or a Z while a shift is still open, is refused. Touches no other table.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, cast

from gateway.errors import StoregateError
from gateway.journal import JournalRecord
from gateway.lane import drawer
from gateway.lane.book import Batch, LaneBook, LaneReader
from gateway.lane.digest import (
    TRADING,
    CashMovementDigest,
    Digest,
    RefundDigest,
    SaleDigest,
    ShiftCloseDigest,
    ShiftOpenDigest,
    TopUpDigest,
    VoidDigest,
    digest,
)
from gateway.lane.events import Credential, Refusal
from gateway.lane.records import Breakdown, LaneRef, PaymentInDoubt, ZReportBody
from gateway.lane.settings import LaneSettings
from gateway.lane.staff import StaffDirectory
from gateway.money import from_minor_units
from gateway.reports.days import business_day, refuse_empty_day

ZERO = Decimal("0.00")  # amounts in reports always show their cents


@dataclass
class _Row:
    """One breakdown row; amounts in minor units while summing."""

    name: str = ""
    count: int = 0
    amount: int = 0
    tax: int = 0


@dataclass
class Figures:
    """Running sums over the digests of sale / refund / void / no-sale records.

    Money is summed as integers in minor units (`places` decimals, taken from the first
    sale or refund); the Decimal views (`gross`, `net`, ...) are what reports show."""

    first_seq: int = 0
    last_seq: int = 0
    currency: str = ""
    places: int | None = None
    sales: int = 0
    refunds: int = 0
    voids: int = 0
    line_voids: int = 0
    no_sales: int = 0
    points_issued: int = 0
    points_redeemed: int = 0
    points_reversed: int = 0
    points_returned: int = 0
    voids_amount: Decimal = ZERO
    # the drawer: floats of the shifts opened, cash paid in and out, the closed shifts' counts
    shifts_opened: int = 0
    opening_floats: Decimal = ZERO
    paid_ins: int = 0
    paid_in: Decimal = ZERO
    paid_outs: int = 0
    paid_out: Decimal = ZERO
    # member top-ups (充值): how many, their amount by any tender, and the cash of them in
    # the drawer; a top-up paid back counts against all three
    top_ups: int = 0
    top_up: Decimal = ZERO
    top_up_cash: Decimal = ZERO
    shifts_closed: int = 0
    counted: Decimal = ZERO
    over_short: Decimal = ZERO
    units: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            ("gross", "discounts", "refunds_amount", "cash_sales", "cash_refunds"), 0
        )
    )
    by_tender: dict[str, _Row] = field(default_factory=dict)
    by_tax: dict[str, _Row] = field(default_factory=dict)
    by_category: dict[str, _Row] = field(default_factory=dict)
    by_cashier: dict[str, _Row] = field(default_factory=dict)
    # wallet payments (`payment` records): paid per provider, and those still in doubt
    by_provider: dict[str, _Row] = field(default_factory=dict)
    in_doubt: list[dict[str, str]] = field(default_factory=list)

    def fold_payments(self, bodies: Iterable[dict[str, Any]]) -> None:
        """Each payment's last state: `paid` counts for its provider (a refund for
        "<provider> refunds"); `pending` or
        `in_doubt` is listed as in doubt (never counted as paid or as unpaid)."""
        last: dict[str, dict[str, Any]] = {}
        for body in bodies:
            last[body["payment_id"]] = body
        for body in last.values():
            if body["state"] == "paid":
                key = body["provider"] + (" refunds" if body.get("kind") == "refund" else "")
                row = self.by_provider.setdefault(key, _Row())
                row.count += 1
                row.amount += int(Decimal(body["amount"]).scaleb(self.places or 2))
            elif body["state"] in ("pending", "in_doubt"):
                self.in_doubt.append(
                    {
                        "payment_id": body["payment_id"],
                        "provider": body["provider"],
                        "amount": body["amount"],
                        "state": body["state"],
                        "reason": body.get("reason", ""),
                    }
                )

    def provider_rows(self) -> list[Breakdown]:
        return [
            Breakdown(key=k, count=r.count, amount=self.money(r.amount))
            for k, r in sorted(self.by_provider.items())
        ]

    def money(self, minor: int) -> Decimal:
        places = 2 if self.places is None else self.places
        return from_minor_units(minor, places)

    @property
    def gross(self) -> Decimal:
        return self.money(self.units["gross"])

    @property
    def discounts(self) -> Decimal:
        return self.money(self.units["discounts"])

    @property
    def refunds_amount(self) -> Decimal:
        return self.money(self.units["refunds_amount"])

    @property
    def cash_sales(self) -> Decimal:
        return self.money(self.units["cash_sales"])

    @property
    def cash_refunds(self) -> Decimal:
        return self.money(self.units["cash_refunds"])

    @property
    def net(self) -> Decimal:
        return self.money(self.units["gross"] - self.units["refunds_amount"])

    @property
    def expected_cash(self) -> Decimal:
        """The drawer's rule (`drawer.expected_cash`) over the report's figures."""
        return self.expected_with(self.opening_floats)

    def expected_with(self, opening_float: Decimal) -> Decimal:
        """The same rule from a float known otherwise: the lane's shift in progress keeps its
        own, which stands even if retention has pruned the shift's `shift_open` record."""
        return drawer.expected_cash(
            opening_float,
            self.cash_sales,
            self.cash_refunds,
            self.paid_in,
            self.paid_out,
            self.top_up_cash,
        )

    def add(self, seq: int, kind: str, figures: Digest) -> None:
        """Fold one record's digest (see `gateway.lane.digest`) into the sums; a shift's
        open and close add to the drawer's figures only, not to the records range."""
        if kind in TRADING:
            self.first_seq = self.first_seq or seq
            self.last_seq = seq
        match kind:
            case "sale":
                sale = cast(SaleDigest, figures)
                self._places(seq, sale["p"])
                self._sale(sale)
            case "refund":
                refund = cast(RefundDigest, figures)
                self._places(seq, refund["p"])
                self._refund(refund)
            case "void":
                self._void(cast(VoidDigest, figures))
            case "no_sale":
                self._no_sale()
            case "paid_in":
                self.paid_ins += 1
                self.paid_in += Decimal(cast(CashMovementDigest, figures)["a"])
            case "paid_out":
                self.paid_outs += 1
                self.paid_out += Decimal(cast(CashMovementDigest, figures)["a"])
            case "top_up" | "top_up_refund":
                top = cast(TopUpDigest, figures)
                sign = 1 if kind == "top_up" else -1
                self.top_ups += sign
                self.top_up += sign * Decimal(top["a"])
                if top["t"] == "cash":
                    self.top_up_cash += sign * Decimal(top["a"])
            case "shift_open":
                self.shifts_opened += 1
                self.opening_floats += Decimal(cast(ShiftOpenDigest, figures)["f"])
            case "shift_close":
                close = cast(ShiftCloseDigest, figures)
                self.shifts_closed += 1
                self.counted += Decimal(close["n"])
                self.over_short += Decimal(close["o"])

    def _places(self, seq: int, places: int) -> None:
        if self.places is None:
            self.places = places
        elif places != self.places:
            raise ReportError(
                f"records with {places} and {self.places} decimals in one report (record {seq})",
                where="X/Z report",
                fix="report each currency's days apart",
            )

    def _sale(self, d: SaleDigest) -> None:
        total = d["t"]
        self.currency = d["cur"]
        self.sales += 1
        self.units["gross"] += total
        self.units["discounts"] += d["s"]
        self.line_voids += d["lv"]
        self.points_issued += d["pe"]
        self.points_redeemed += d["pr"]
        self.units["cash_sales"] += d["tn"].get("cash", 0)
        self._spread(d, 1)
        staff_id, name = d["st"]
        row = self.by_cashier.get(staff_id) or self.by_cashier.setdefault(staff_id, _Row(name=name))
        row.count += 1
        row.amount += total

    def _spread(self, d: SaleDigest | RefundDigest, sign: int) -> None:
        """Add a sale's (sign 1) or refund's (sign -1) breakdowns; refunds count no sale.

        Inlined integer arithmetic, no call per entry: this runs ~10 times per sale."""
        count = 1 if sign > 0 else 0
        for table, entries in ((self.by_tender, d["tn"]), (self.by_category, d["c"])):
            for key, amount in entries.items():
                row = table.get(key) or table.setdefault(key, _Row())
                row.count += count
                row.amount += sign * amount
        for key, (gross, tax) in d["tx"].items():
            row = self.by_tax.get(key) or self.by_tax.setdefault(key, _Row())
            row.count += count
            row.amount += sign * gross
            row.tax += sign * tax

    def _refund(self, d: RefundDigest) -> None:
        self.refunds += 1
        self.units["refunds_amount"] += d["t"]
        self.points_reversed += d.get("pb", 0)
        self.points_returned += d.get("pg", 0)
        self.units["cash_refunds"] += d["tn"].get("cash", 0)
        self._spread(d, -1)

    def _void(self, d: VoidDigest) -> None:
        self.voids += 1
        self.voids_amount += Decimal(d["t"])

    def _no_sale(self) -> None:
        self.no_sales += 1

    def breakdowns(self) -> dict[str, list[Breakdown]]:
        def rows(
            table: dict[str, _Row], average: bool = False, tax: bool = False
        ) -> list[Breakdown]:
            return [
                Breakdown(
                    key=k,
                    name=r.name,
                    count=r.count,
                    amount=self.money(r.amount),
                    average=self.money(_average(r.amount, r.count))
                    if average and r.count
                    else None,
                    tax=self.money(r.tax) if tax else None,
                )
                for k, r in sorted(table.items())
            ]

        return {
            "by_tender": rows(self.by_tender),
            "by_tax": rows(self.by_tax, tax=True),
            "by_category": rows(self.by_category),
            "by_cashier": rows(self.by_cashier, average=True),
        }

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            k: str(v) if isinstance(v, Decimal) else v
            for k, v in vars(self).items()
            if not isinstance(v, dict) and k != "places"
        }
        for name in (
            "gross",
            "discounts",
            "refunds_amount",
            "net",
            "cash_sales",
            "cash_refunds",
            "expected_cash",
        ):
            out[name] = str(getattr(self, name))
        for name, rows in self.breakdowns().items():
            out[name] = [r.to_body() for r in rows]
        out["by_provider"] = [r.to_body() for r in self.provider_rows()]
        return out


def _average(total: int, count: int) -> int:
    """Average in minor units, half up, in Decimal (never a float)."""
    return int((Decimal(total) / count).quantize(Decimal(1), rounding=ROUND_HALF_UP))


class ReportError(StoregateError):
    """Figures that cannot be summed into one report."""


def compute(rows: Iterable[tuple[int, str, str | None, str | None]]) -> Figures:
    """Sum (seq, kind, digest JSON, body JSON when there is no digest) rows.

    The stored digests are parsed as one JSON array (one call instead of one per record)."""
    listed = list(rows)
    stored = [text for _, _, text, _ in listed if text is not None]
    parsed = iter(json.loads("[" + ",".join(stored) + "]"))
    figures = Figures()
    for seq, kind, text, body in listed:
        found = next(parsed) if text is not None else digest(kind, json.loads(body or ""))
        if found is not None:
            figures.add(seq, kind, found)
    return figures


def from_bodies(records: Iterable[tuple[int, str, dict[str, Any]]]) -> Figures:
    """The same figures straight from record bodies (to check the stored digests)."""
    figures = Figures()
    for seq, kind, body in records:
        found = digest(kind, body)
        if found is not None:
            figures.add(seq, kind, found)
    return figures


def x_report(book: LaneReader, shift_id: str) -> Figures:
    """The X report: the shift so far (reading only; nothing is written)."""
    figures = compute(book.shift_digests(shift_id))
    figures.fold_payments(book.payment_bodies(shift_id=shift_id))
    return figures


def kept_from(book: LaneBook) -> str | None:
    """The oldest business day still indexed once retention has pruned records, else None
    (that day may be incomplete: see `gateway.reports.days`)."""
    if book.journal.state().anchor_seq == 0:
        return None
    return book.first_indexed_day()


def day_report(book: LaneBook, day: str) -> Figures:
    figures = compute(book.day_digests(day))
    figures.fold_payments(book.payment_bodies(day=day))
    return figures


def close_day(
    book: LaneBook,
    staff: StaffDirectory,
    settings: LaneSettings,
    lane: LaneRef,
    day: str,
    at: datetime,
    credential: Credential,
    new_id: Callable[[], str],
    *,
    empty_day: bool = False,
) -> JournalRecord | Refusal:
    """The Z report: write the day's figures as a `z_report` record with the next Z number.

    The day is checked first (`gateway.reports.days`: a real date, not after `at`'s day,
    not pruned, with trading unless `empty_day` confirms there was none); a bad one raises
    `ReportInputError` before a PIN is even checked, so a refused request writes nothing
    at all (not even a failed PIN attempt)."""
    business_day(day, at.date(), kept_from=kept_from(book), where="Z report")
    figures = day_report(book, day)
    if figures.first_seq == 0 and not empty_day:
        raise refuse_empty_day(day, where="Z report")
    who = staff.identify(credential, at)
    if isinstance(who, Refusal):
        return who
    if not settings.allows(who.role, "close_day"):
        return Refusal("not_permitted", f"{who.name} ({who.role}) may not close the day.")
    if book.open_shift() is not None:
        return Refusal("shift_open", "A shift is still open: close it before the day close.")
    done = book.z_of_day(day)
    if done is not None:
        return Refusal("z_done", f"The day {day} was already closed (Z record #{done}).")
    number = book.next_number("z")
    body = ZReportBody(
        z_number=number,
        lane=lane,
        business_day=day,
        local_time=at.isoformat(timespec="seconds"),
        staff=who.ref(),
        first_seq=figures.first_seq,
        last_seq=figures.last_seq,
        currency=figures.currency,
        sales=figures.sales,
        gross=figures.gross,
        discounts=figures.discounts,
        refunds=figures.refunds,
        refunds_amount=figures.refunds_amount,
        net=figures.net,
        voids=figures.voids,
        voids_amount=figures.voids_amount,
        line_voids=figures.line_voids,
        no_sales=figures.no_sales,
        points_issued=figures.points_issued,
        points_redeemed=figures.points_redeemed,
        points_reversed=figures.points_reversed,
        points_returned=figures.points_returned,
        **drawer_fields(figures),
        **figures.breakdowns(),
        by_provider=figures.provider_rows() or None,
        in_doubt=[PaymentInDoubt.model_validate(p) for p in figures.in_doubt] or None,
    )
    batch = Batch()
    batch.add("z_report", body.to_body(), new_id(), business_day=day)
    batch.writes.append(book.take_number("z", number))
    return book.commit(batch)[0]


def drawer_fields(figures: Figures) -> dict[str, Any]:
    """The cash drawer's figures as a Z body carries them."""
    return {
        "opening_floats": figures.opening_floats,
        "cash_sales": figures.cash_sales,
        "cash_refunds": figures.cash_refunds,
        "paid_ins": figures.paid_ins,
        "paid_in": figures.paid_in,
        "paid_outs": figures.paid_outs,
        "paid_out": figures.paid_out,
        "top_ups": figures.top_ups or None,
        "top_up": figures.top_up if figures.top_ups else None,
        "top_up_cash": figures.top_up_cash if figures.top_ups else None,
        "expected_cash": figures.expected_cash,
        "shifts_closed": figures.shifts_closed,
        "counted": figures.counted,
        "over_short": figures.over_short,
    }


def render_report(title: str, figures: Figures, width: int, *, at: datetime) -> str:
    """The report as receipt-width text, for the printer or the terminal; `at` is when it
    was made (store-local), printed under the title: an X is a snapshot of that moment."""
    from gateway.i18n import translator
    from gateway.receipts.model import drawer_rows, tax_columns
    from gateway.receipts.text import center, columns

    rule = "-" * width
    out = [
        center(title, width),
        columns("Printed", at.isoformat(sep=" ", timespec="seconds"), width),
        rule,
    ]
    scalars = [
        ("Sales", f"{figures.sales}  {figures.gross}"),
        ("Discounts", str(figures.discounts)),
        ("Refunds", f"{figures.refunds}  {figures.refunds_amount}"),
        ("Net", str(figures.net)),
        ("Voids", f"{figures.voids}  {figures.voids_amount}"),
        ("Line voids", str(figures.line_voids)),
        ("No-sale", str(figures.no_sales)),
        ("Points issued", str(figures.points_issued)),
        ("Points redeemed", str(figures.points_redeemed)),
        ("Points taken back", str(figures.points_reversed)),
        ("Points given back", str(figures.points_returned)),
    ]
    out.extend(columns(k, v, width) for k, v in scalars)
    fields = json.loads(json.dumps(drawer_fields(figures), default=str))
    for label, value in drawer_rows(fields, translator("en")):
        out.append(rule if label.startswith("--") else columns(label, value, width))
        if label.startswith("--"):
            out.append(label[3:].lower())
    for name, rows in figures.breakdowns().items():
        out.append(rule)
        out.append(name.replace("_", " ") + (" (net  tax  gross)" if name == "by_tax" else ""))
        for row in rows:
            label = f"  {row.key}" + (f" {row.name}" if row.name else "")
            value = f"{row.count}  {row.amount}" + (f"  avg {row.average}" if row.average else "")
            if name == "by_tax" and row.tax is not None:
                value = tax_columns(row.amount, row.tax)
            out.append(columns(label, value, width))
    if figures.by_provider:
        out.append(rule)
        out.append("by provider (wallet payments)")
        for row in figures.provider_rows():
            out.append(columns(f"  {row.key}", f"{row.count}  {row.amount}", width))
    if figures.in_doubt:
        out.append(rule)
        out.append("IN DOUBT (wallet payments)")
        for doubt in figures.in_doubt:
            out.append(columns(f"  {doubt['provider']} {doubt['state']}", doubt["amount"], width))
            if doubt["reason"]:
                out.append(f"    {doubt['reason']}"[:width])
    return "\n".join(out)
