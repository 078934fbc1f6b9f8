"""What the lane hands the engine: lines as rung up, the member, coupons and the time.

Plain values only; the lane builds these from scans, weights and cards.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True)
class BasketLine:
    """One rung-up line.

    `quantity` counts units for products sold each; weighed products carry `weight` in kg
    instead. A price-embedded label carries its face value in `label_price` and is taken
    as printed. `price_override` is a supervisor's unit price (the lane records who).
    """

    sku: str
    quantity: Decimal = Decimal(1)
    weight: Decimal | None = None
    label_price: Decimal | None = None
    price_override: Decimal | None = None
    code: str | None = None


@dataclass(frozen=True)
class MemberContext:
    id: str
    group: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class Basket:
    """`at` is the store's local wall time (promotion schedules are written in it)."""

    lines: tuple[BasketLine, ...]
    at: datetime
    member: MemberContext | None = None
    coupons: tuple[str, ...] = ()
