"""Reduced-to-clear stickers: what a marked-down item costs, and when a sticker is refused.

A store marks an item near its best-before date down with a yellow sticker (docs/barcodes.md
"Reduced-to-clear stickers"): the sticker carries the item and either its new price or a
percent off the catalog price. The lane (and `gateway quote`) put it on the line as a
`Reduction`; the engine prices it here (step 1 in `gateway.pricing.engine`). The rules:

- the line is one item at the catalog's price (its list amount), brought down by one
  adjustment of kind `reduced`, labelled `reduced from <catalog price>`, to the sticker's
  price, or to the catalog price x (100 - percent) / 100 rounded half up to the currency;
- the sticker's price is the last word on the item: it takes no member price, no item
  promotion, no threshold offer, no threshold (满减) or basket discount, and what it costs
  does not count toward any threshold's spend (the line is priced as an exclusive one);
- a sticker above the catalog price, on a weighed item, or for a quantity other than one
  is refused (`reduction_problem`): the lane names it before anything is priced.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from gateway.catalog.document import Product
from gateway.money import Rounding, round_money

REDUCED_LABEL = "reduced from"
"""What a reduced line's adjustment is called before the catalog price it was reduced
from, `reduced from 3.20`; receipts translate the words and keep the price."""

HUNDRED = Decimal(100)


@dataclass(frozen=True)
class Reduction:
    """What a reduced-to-clear sticker says: exactly one of `price` (the new price of the
    item) or `percent` (more than 0, less than 100: that share off the catalog price)."""

    price: Decimal | None = None
    percent: Decimal | None = None

    def __post_init__(self) -> None:
        if (self.price is None) == (self.percent is None):
            raise ValueError("a reduced sticker carries a price or a percent, exactly one")
        if self.percent is not None and not (0 < self.percent < HUNDRED):
            raise ValueError(f"a reduction of {self.percent}% is not more than 0, below 100")

    @property
    def detail(self) -> str:
        """What the adjustment's detail says: `sticker price 1.99` or `30% off`."""
        if self.percent is not None:
            return f"{self.percent}% off"
        return f"sticker price {self.price}"


def reduced_amount(catalog_price: Decimal, reduction: Reduction, places: int) -> Decimal:
    """What the item costs: the sticker's price, or the catalog price less the percent,
    rounded half up to the currency (3.25 at 30% off: 2.275 -> 2.28)."""
    if reduction.price is not None:
        return reduction.price
    assert reduction.percent is not None
    kept = catalog_price * (HUNDRED - reduction.percent) / HUNDRED
    return round_money(kept, places, Rounding.HALF_UP)


def reduction_problem(product: Product, reduction: Reduction, quantity: Decimal) -> str | None:
    """Why this sticker cannot be sold as it is (a sentence for the cashier), or None."""
    if product.weighed:
        return (
            f"{product.name} is sold by weight: a reduced sticker is for an item sold each "
            "(reprint a weighed item's label at the reduced price on the scale)"
        )
    if quantity != 1:
        return f"a reduced sticker is one item: scan each {product.name} sticker once"
    if reduction.price is not None and reduction.price > product.price:
        return (
            f"the sticker's {reduction.price} is above {product.name}'s price of "
            f"{product.price}: a reduced sticker never raises a price — take the sticker "
            "off and sell the item at its price, or call a supervisor"
        )
    return None


def reduced_label(catalog_price: Decimal) -> str:
    """`reduced from 3.20`: the adjustment's label names what the item was reduced from."""
    return f"{REDUCED_LABEL} {catalog_price}"
