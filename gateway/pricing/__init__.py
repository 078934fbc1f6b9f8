"""The totals engine: a basket and a catalog in, a priced basket out — pure, deterministic,
`Decimal` only. See `engine.price_basket`."""

from gateway.pricing.basket import Basket, BasketLine, MemberContext
from gateway.pricing.engine import PricingError, price_basket
from gateway.pricing.result import Adjustment, PricedBasket, PricedLine, TaxSummary

__all__ = [
    "Adjustment",
    "Basket",
    "BasketLine",
    "MemberContext",
    "PricedBasket",
    "PricedLine",
    "PricingError",
    "TaxSummary",
    "price_basket",
]
