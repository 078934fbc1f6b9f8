"""What the lane hands the engine: lines as rung up, the member, coupons and the time.

Plain values only; the lane builds these from scans, weights and cards.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from gateway.errors import StoregateError
from gateway.pricing.reduced import Reduction

QUANTITY_ON_WEIGHED = "quantity_on_weighed"
"""The lane's refusal code for a quantity on a weighed or price-labelled scan."""

ONE_LABEL_AT_A_TIME = (
    "a weighed or price-labelled item is rung up one label at a time: scan each label / "
    "weigh each item"
)


@dataclass(frozen=True)
class BasketLine:
    """One rung-up line.

    `quantity` counts units for products sold each; weighed products carry `weight` in kg
    instead. A price-embedded label carries its face value in `label_price` and is taken
    as printed. `price_override` is a supervisor's unit price (the lane records who).
    `open_price` is the unit price a cashier keyed for a department's open-price line: it
    is the line's list price (no adjustment), as a catalog price would be.
    `reduced` is a reduced-to-clear sticker's new price or percent off
    (`gateway.pricing.reduced`): one item, at that price and nothing else.
    """

    sku: str
    quantity: Decimal = Decimal(1)
    weight: Decimal | None = None
    label_price: Decimal | None = None
    price_override: Decimal | None = None
    code: str | None = None
    open_price: Decimal | None = None
    reduced: Reduction | None = None


@dataclass(frozen=True)
class MemberContext:
    """The member as pricing sees them. `taken` is what the member already took of
    promotions with a `limit_per_member` (限购 per member) at this box: (promotion id, the
    store-local time of the sale, ISO-8601, units; a refund's units are negative, at its
    sale's time). The engine counts the rows inside each promotion's schedule window; the
    lane reads them when the member is identified (`gateway.lane.book`)."""

    id: str
    group: str | None = None
    name: str | None = None
    taken: tuple[tuple[str, str, int], ...] = ()


MANUAL_DISCOUNT_LABEL = "basket discount"
"""How a whole-basket manual discount's adjustments are labelled (`ManualDiscount.label`);
receipts translate these words and keep what follows (`10%`, `5.00`)."""


GIFT_LABEL = "gift"
ADD_ON_LABEL = "add-on"
"""What a threshold offer's adjustment (满赠 `gift`, 加价购 `add_on`) is called before the
promotion's name, `gift: Tote bag from 100`: the line says why it costs what it costs.
Receipts translate the word and keep the name (`engine.offer_label`)."""


@dataclass(frozen=True)
class ManualDiscount:
    """整单折扣: a discount on the whole basket that someone entered by hand, with why.

    Exactly one of `percent` (more than 0, at most 100: that share of what the lines cost,
    rounded half up to the currency) or `amount` (more than 0: taken off as it is, but
    never more than the lines cost). Who entered it and who authorised it is the lane's
    business (the sale body records them); the engine only prices it (step 3b in
    `gateway.pricing.engine`). A malformed one cannot be made (ValueError): the lane
    checks what a person typed before it builds one.
    """

    percent: Decimal | None = None
    amount: Decimal | None = None
    reason: str = ""

    def __post_init__(self) -> None:
        if (self.percent is None) == (self.amount is None):
            raise ValueError("a basket discount is a percent or an amount, exactly one")
        if self.percent is not None and not (0 < self.percent <= 100):
            raise ValueError(f"a basket discount of {self.percent}% is not more than 0, up to 100")
        if self.amount is not None and not (self.amount > 0 and self.amount.is_finite()):
            raise ValueError(f"a basket discount of {self.amount} is not more than 0")

    @property
    def label(self) -> str:
        """What its adjustments are called: `basket discount 10%` / `basket discount 5.00`."""
        if self.percent is not None:
            return f"{MANUAL_DISCOUNT_LABEL} {self.percent}%"
        return f"{MANUAL_DISCOUNT_LABEL} {self.amount}"


@dataclass(frozen=True)
class Basket:
    """`at` is the store's local wall time (promotion schedules are written in it).
    `discount`: a whole-basket manual discount (整单折扣), when one was entered."""

    lines: tuple[BasketLine, ...]
    at: datetime
    member: MemberContext | None = None
    coupons: tuple[str, ...] = ()
    discount: ManualDiscount | None = None


class QuantityOnWeighedError(StoregateError):
    """A quantity other than 1 on a weighed or price-labelled item (exit status 2).

    Such a line is priced by its own weight or its printed price, never by a quantity: two
    packs of ham carry two labels with two prices, two bags of apples two weights. The
    engine would price the line once, so a quantity would be silently dropped; every way
    in (the lane, `gateway quote`) refuses it with `quantity_on_weighed_error` instead."""

    exit_code = 2
    code = QUANTITY_ON_WEIGHED


def quantity_on_weighed_error(
    quantity: Decimal, weight: Decimal | None, label_price: Decimal | None, where: str
) -> QuantityOnWeighedError | None:
    """Why `quantity` cannot go on a line with this `weight` / `label_price`, or None (a
    counted line, or quantity 1)."""
    if (weight is None and label_price is None) or quantity == 1:
        return None
    what = "a price-labelled item" if label_price is not None else "a weighed item"
    return QuantityOnWeighedError(
        f"quantity {quantity} on {what}: {ONE_LABEL_AT_A_TIME}",
        where=where,
        fix="drop the quantity; scan each label (or weigh each item) once per item",
    )
