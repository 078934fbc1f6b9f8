"""Why a coupon entered at the lane gives nothing: one sentence per coupon, for the cashier.

Pure: reads the promotions in force and what the engine did to the lines (their
adjustments), after the last step; no I/O, no clock (the basket carries its time). The
engine and its reference copy in `tests/pricing` both call `coupon_notices`, so a priced
basket always carries the same sentences; they are checked by hand-written cases
(`tests/pricing/test_coupon_notices.py`).

A coupon that gave something says nothing. Otherwise, first reason that holds:
not known; for members only (no member identified); outside its time window; no
qualifying item; a set promotion with too few qualifying items; a threshold not reached
(with what the qualifying items cost after item promotions); an add-on or gift (加价购,
满赠) whose spend was reached but whose item is not rung up; else another offer won
(the items take a better item promotion, or a basket offer it does not combine with).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Protocol

from gateway.catalog.catalog import Catalog
from gateway.catalog.document import (
    THRESHOLD_OFFERS,
    BasketThreshold,
    Bundle,
    BuyGet,
    Product,
    PromotionBase,
    QuantityTiers,
    Schedule,
    ThresholdOffer,
)
from gateway.catalog.serials import coupon_opens
from gateway.money import ZERO, quantum
from gateway.pricing.basket import Basket
from gateway.pricing.result import Adjustment


class PricedWorkLine(Protocol):
    """What this module reads of an engine's working line, after the last step."""

    product: Product
    count: int | None
    exclusive: bool
    amount: Decimal
    adjustments: list[Adjustment]
    promotion_ids: frozenset[str]


def coupon_notices(
    basket: Basket, catalog: Catalog, active: set[str], lines: Sequence[PricedWorkLine]
) -> tuple[str, ...]:
    """One sentence for each coupon of `basket` that gives nothing, in the order entered."""
    if not basket.coupons:
        return ()
    given = {a.promotion for line in lines for a in line.adjustments if a.promotion}
    notices = []
    for code in basket.coupons:
        matching = [
            p
            for p in catalog.document.promotions
            if (p.coupon is not None or p.serials is not None) and coupon_opens(p, (code.upper(),))
        ]
        if not matching:
            notices.append(f"coupon {code} is not known")
        elif not any(p.id in given for p in matching):
            why = _why(matching[0], basket, catalog, active, lines)
            notices.append(f"coupon {code} does not apply: {why}")
    return tuple(notices)


def _why(
    promo: PromotionBase,
    basket: Basket,
    catalog: Catalog,
    active: set[str],
    lines: Sequence[PricedWorkLine],
) -> str:
    if promo.member_only and basket.member is None:
        return "it is for members only (identify the member first)"
    promo_id = promo.id
    if promo_id not in active:  # entered, and no member is missing: its schedule said no
        return f"outside its time window ({_window(promo.schedule)})"
    if isinstance(promo, BasketThreshold):
        return _threshold_why(promo, catalog, lines)
    if isinstance(promo, THRESHOLD_OFFERS):
        return _offer_why(promo, catalog, lines)
    carriers = [line for line in lines if promo_id in line.promotion_ids]
    if not carriers:
        return "no qualifying item in the basket"
    if isinstance(promo, BuyGet | Bundle | QuantityTiers):
        if isinstance(promo, QuantityTiers):  # its first tier (items sold each count)
            size = promo.tiers[0].min_units
        else:
            size = promo.buy + promo.get if isinstance(promo, BuyGet) else promo.quantity
        units = sum(line.count or 0 for line in carriers)
        if units < size:
            return f"it needs {size} qualifying items (this basket: {units})"
    return "its items already take a better offer"


def _threshold_why(
    promo: BasketThreshold, catalog: Catalog, lines: Sequence[PricedWorkLine]
) -> str:
    spend = ZERO
    qualifying = 0
    for line in lines:
        if line.exclusive or "no_discount" in line.product.flags:
            continue
        if not catalog.in_target(promo, line.product):
            continue
        # what the line cost after item promotions (step 3 counts that): its basket shares
        # given back
        shares = [a.amount for a in line.adjustments if a.kind == "basket"]
        before = line.amount - sum(shares, ZERO)
        if before > 0:
            qualifying += 1
            spend += before
    if not qualifying:
        return "no qualifying item in the basket"
    lowest = min(tier.threshold for tier in promo.tiers).quantize(quantum(catalog.places))
    if spend < lowest:
        return f"spend {lowest} on qualifying items (this basket: {spend})"
    return "another basket offer saves more and they do not combine"


def _offer_why(promo: ThresholdOffer, catalog: Catalog, lines: Sequence[PricedWorkLine]) -> str:
    """An add-on or gift that gave nothing: its spend not reached (counted as the engine
    counts it, on what the lines cost before offers and thresholds), else its item not in
    the basket, else its item's units took another promotion."""
    offers = {p.id for p in catalog.offer_promotions}
    spend = ZERO
    for line in lines:
        if line.product.sku == promo.item or line.exclusive:
            continue
        if "no_discount" in line.product.flags or not catalog.in_target(promo, line.product):
            continue
        later = [a.amount for a in line.adjustments if a.kind == "basket" or a.promotion in offers]
        before = line.amount - sum(later, ZERO)
        if before > 0:
            spend += before
    threshold = promo.threshold.quantize(quantum(catalog.places))
    if spend < threshold:
        return f"spend {threshold} on qualifying items (this basket: {spend})"
    if not any(line.product.sku == promo.item for line in lines):
        item = catalog.by_sku(promo.item)
        return f"ring up its item ({item.name if item else promo.item}) to take it"
    return "its items already take a better offer"


def _window(schedule: Schedule) -> str:
    """A schedule as a cashier reads it: `from 2026-12-01 00:00, sat sun, 18:00-20:00`."""
    parts = []
    if schedule.valid_from is not None:
        parts.append(f"from {schedule.valid_from:%Y-%m-%d %H:%M}")
    if schedule.valid_until is not None:
        parts.append(f"until {schedule.valid_until:%Y-%m-%d %H:%M}")
    if schedule.days:
        parts.append(" ".join(schedule.days))
    if schedule.hours:
        parts.append(" ".join(f"{w.start:%H:%M}-{w.end:%H:%M}" for w in schedule.hours))
    return ", ".join(parts) or "always"
