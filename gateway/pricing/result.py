"""What the engine returns: every line with what was applied to it and why, the tax per
rate and the amounts due. A receipt, the journal and an auditor all read this one model.

Lines, adjustments and tax rows are slotted dataclasses rather than frozen ones: a 200-line
basket builds hundreds of them per pricing and frozen construction costs ten times more.
Treat them as read-only; the engine builds a new basket for every change. Lines given the
same share of the same threshold hold the same `Adjustment` object (equal either way).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any, Literal

from gateway.money import ZERO

AdjustmentKind = Literal["member_price", "promotion", "basket", "moling", "override", "reduced"]


@dataclass(slots=True)
class Adjustment:
    """A change to a line's amount: negative for a discount. `detail` explains the cent.
    `units`: how many of the line's units a promotion with a `limit_per_member` covered
    (what the member's count takes; None for every other adjustment)."""

    kind: AdjustmentKind
    amount: Decimal
    label: str
    promotion: str | None = None
    detail: str = ""
    units: int | None = None


@dataclass(slots=True)
class PricedLine:
    index: int
    sku: str
    name: str
    category: str
    unit: str
    quantity: Decimal
    unit_price: Decimal
    list_amount: Decimal
    adjustments: tuple[Adjustment, ...]
    amount: Decimal
    tax_class: str
    tax_rate: Decimal
    tax_inclusive: bool
    tax: Decimal
    total: Decimal
    weight: Decimal | None = None
    label_price: Decimal | None = None
    code: str | None = None
    flags: tuple[str, ...] = ()
    # a member's points on this line count this many times (the highest live
    # `points_multiplier` promotion targeting it; 1 without one, or without a member)
    points_multiplier: int = 1
    # the deposit (Pfand / 押金) the line carries, in its total: the deposit product's
    # price x the units (with its tax added for an exclusive tax class), 0 without one
    deposit: Decimal = ZERO
    deposit_sku: str | None = None

    @property
    def discount(self) -> Decimal:
        return -sum((a.amount for a in self.adjustments), ZERO)

    @property
    def net(self) -> Decimal:
        """The line's total without tax."""
        return self.total - self.tax


@dataclass(slots=True)
class TaxSummary:
    tax_class: str
    name: str
    rate: Decimal
    inclusive: bool
    net: Decimal
    tax: Decimal
    gross: Decimal


@dataclass(frozen=True)
class PricedBasket:
    currency: str
    places: int
    catalog_version: int
    lines: tuple[PricedLine, ...]
    list_total: Decimal
    item_discounts: Decimal
    basket_discounts: Decimal
    moling: Decimal
    tax: Decimal
    taxes: tuple[TaxSummary, ...]
    total: Decimal
    cash_rounding: Decimal
    member: str | None = None
    coupons: tuple[str, ...] = ()
    notices: tuple[str, ...] = ()
    promotions: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    # deposits charged on the lines (in their totals), and empties returned (the totals of
    # the empties lines: zero or negative)
    deposits: Decimal = ZERO
    empties: Decimal = ZERO

    @property
    def cash_total(self) -> Decimal:
        """What a customer paying cash hands over (cash rounding applied)."""
        return self.total + self.cash_rounding

    @property
    def savings(self) -> Decimal:
        return sum((line.discount for line in self.lines), ZERO)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data; amounts as strings so no reader turns them into floats."""
        data = asdict(self)
        for line in data["lines"]:  # `units` is said only where a member's limit counted
            for adjustment in line["adjustments"]:
                if adjustment["units"] is None:
                    del adjustment["units"]
        data["cash_total"] = self.cash_total
        data["savings"] = self.savings
        return _stringify(data)  # type: ignore[no-any-return]


def _stringify(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: _stringify(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_stringify(v) for v in value]
    return value
