"""The totals engine: a basket and a catalog in, a priced basket out — pure, deterministic,
`Decimal` only. See `engine.price_basket`."""

from gateway.pricing.basket import (
    QUANTITY_ON_WEIGHED,
    Basket,
    BasketLine,
    ManualDiscount,
    MemberContext,
    QuantityOnWeighedError,
    quantity_on_weighed_error,
)
from gateway.pricing.engine import PricingError, price_basket
from gateway.pricing.incremental import PricingMemo, price_scan
from gateway.pricing.result import Adjustment, PricedBasket, PricedLine, TaxSummary

__all__ = [
    "QUANTITY_ON_WEIGHED",
    "Adjustment",
    "Basket",
    "BasketLine",
    "ManualDiscount",
    "MemberContext",
    "PricedBasket",
    "PricedLine",
    "PricingError",
    "PricingMemo",
    "QuantityOnWeighedError",
    "TaxSummary",
    "price_basket",
    "price_scan",
    "quantity_on_weighed_error",
]
