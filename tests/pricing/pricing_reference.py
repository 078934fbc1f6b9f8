"""The straightforward totals engine, kept as the yardstick for `gateway.pricing.engine`.

This is `gateway/pricing/engine.py` as it was before the speed work of issue 2 (commit
798197d): every order of competing set promotions is evaluated from scratch, then the
winning order once more to build the plan, and every allocation goes through
`money.allocate`. `test_engine_reference.py` checks that the fast engine gives exactly the
same priced basket (every amount with its exponent, every adjustment in order, every
error). A deliberate change to a pricing rule is made here too, in the plainest way, and
that test then says whether the fast path agrees.

Original module text follows.

The totals engine: price a basket against a catalog, exact to the minor unit.

Pure and deterministic: no I/O, no clock (the basket carries its time), `Decimal` only.
Order of work, each step named so a receipt can explain every cent:

1. list amount per line: unit price x quantity, or unit price per kg x weight rounded by the
   catalog's `weighed_rounding`, or a price-embedded label's face value;
   then a supervisor's price override, then the member price layer;
2. item promotions (percent / amount off, fixed price, quantity tiers, buy X get Y,
   bundles; a per-unit one may carry a limit per sale;
   tiers and limits added for issue 21): each unit takes at most one.
   Where they compete for the same units the engine tries every order of the competing
   set promotions (up to `MAX_SET_ORDERS`) and keeps the plan that saves the customer
   most; ties go to the lower `priority`;
3. basket promotions (满减 thresholds) on what the lines then cost, allocated back to the
   lines by largest remainder; then a whole-basket manual discount (整单折扣: added for
   issue 21) on the lines that take basket discounts, as they then cost;
4. tax per line (inclusive backed out, exclusive added), rounded by `tax_rounding`;
5. 抹零 (always down) allocated back to the lines; cash rounding reported separately, since
   it applies to cash tender only.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from gateway.catalog.catalog import Catalog
from gateway.catalog.document import (
    AmountOff,
    BasketThreshold,
    Bundle,
    BuyGet,
    FixedPrice,
    PercentOff,
    PointsMultiplier,
    Product,
    QuantityTiers,
    Schedule,
    TaxClass,
)
from gateway.catalog.serials import coupon_opens
from gateway.money import ZERO, Rounding, allocate, cash_rounding, moling, quantum, round_money
from gateway.pricing.basket import Basket, BasketLine, MemberContext
from gateway.pricing.coupons import coupon_notices
from gateway.pricing.engine import PricingError
from gateway.pricing.result import Adjustment, PricedBasket, PricedLine, TaxSummary

HUNDRED = Decimal(100)
THOUSAND = Decimal(1000)
MAX_QUANTITY = Decimal(9999)
MAX_WEIGHT_KG = Decimal(1000)
MAX_AMOUNT = Decimal(10) ** 9
MAX_SET_ORDERS = 3  # competing set promotions tried in every order up to this many (3! = 6)
SetPromotion = BuyGet | Bundle
UnitPromotion = PercentOff | AmountOff | FixedPrice


@dataclass
class _Line:
    """Working state of one line while the engine runs."""

    index: int
    source: BasketLine
    product: Product
    tax: TaxClass
    count: int | None  # units for products sold each; None for weighed and label lines
    unit_price: Decimal
    list_amount: Decimal
    amount: Decimal
    adjustments: list[Adjustment] = field(default_factory=list)
    promotions: tuple[Any, ...] = ()
    promotion_ids: frozenset[str] = frozenset()
    exclusive: bool = False

    @property
    def units(self) -> int:
        return self.count if self.count is not None else 1


def price_basket(basket: Basket, catalog: Catalog) -> PricedBasket:
    """Price `basket` with the catalog in force; raises PricingError for a line it cannot."""
    places = catalog.places
    active = _active_promotions(catalog, basket)
    lines = [_base_line(i, line, catalog, basket) for i, line in enumerate(basket.lines)]
    live = frozenset(active)
    for line in lines:
        line.promotions, line.promotion_ids = catalog.live_item_promotions(line.product, live)
    _apply_item_promotions(lines, places, basket.member)
    spends = _apply_basket_promotions(lines, catalog, active, places)
    _apply_manual_discount(lines, basket, places)
    return _finish(basket, catalog, lines, active, spends)


# -- 1. list amounts -------------------------------------------------------------------------


def _base_line(index: int, line: BasketLine, catalog: Catalog, basket: Basket) -> _Line:
    product = catalog.by_sku(line.sku)
    where = f"line {index + 1} ({line.code or line.sku})"
    if product is None:
        raise PricingError(
            f"unknown product {line.sku!r}",
            where=where,
            fix="check the catalog version in force, or ring it up by PLU",
        )
    tax = catalog.tax_classes[product.tax_class]
    places = catalog.places
    if line.price_override is not None and not is_amount(line.price_override, places):
        raise PricingError(
            f"price override {line.price_override} is not a valid amount",
            where=where,
            fix="enter the new unit price with at most the currency's decimals",
        )
    if line.label_price is not None:
        return _label_line(index, line, product, tax, places, where)
    if product.weighed:
        return _weighed_line(index, line, product, tax, catalog, basket, where)
    return _counted_line(index, line, product, tax, places, basket, where)


def _label_line(
    index: int, line: BasketLine, product: Product, tax: TaxClass, places: int, where: str
) -> _Line:
    price = line.label_price
    assert price is not None
    if not is_amount(price, places):
        raise PricingError(
            f"label price {price} is not a valid amount",
            where=where,
            fix="rescan the label; a torn label can be keyed by PLU and weight",
        )
    return _Line(index, line, product, tax, None, price, price, price)


def _weighed_line(
    index: int,
    line: BasketLine,
    product: Product,
    tax: TaxClass,
    catalog: Catalog,
    basket: Basket,
    where: str,
) -> _Line:
    weight = line.weight
    if weight is None:
        raise PricingError(
            f"{product.name} is sold by weight and no weight was given",
            where=where,
            fix="put the item on the scale and wait for a stable weight",
        )
    if not weight.is_finite() or weight <= 0 or weight > MAX_WEIGHT_KG:
        raise PricingError(
            f"weight {weight} kg is outside 0 to {MAX_WEIGHT_KG} kg",
            where=where,
            fix="re-weigh the item",
        )
    rule = catalog.money.weighed_rounding
    places = catalog.places
    per_kg = catalog.price_per_kg(product)
    list_amount = round_money(per_kg * weight, places, rule)
    result = _Line(index, line, product, tax, None, per_kg, list_amount, list_amount)
    if line.price_override is not None:
        _override(result, round_money(line.price_override * weight, places, rule), where, places)
    elif basket.member is not None and product.member_price is not None:
        member_per_kg = product.member_price / (
            product.price_per if product.unit == "kg" else product.price_per / THOUSAND
        )
        member_amount = round_money(member_per_kg * weight, places, rule)
        _member_price(result, member_amount, f"member price {member_per_kg.normalize():f}/kg")
    return result


def _counted_line(
    index: int,
    line: BasketLine,
    product: Product,
    tax: TaxClass,
    places: int,
    basket: Basket,
    where: str,
) -> _Line:
    qty = line.quantity
    if not qty.is_finite() or qty != qty.to_integral_value() or not 1 <= qty <= MAX_QUANTITY:
        raise PricingError(
            f"quantity {qty} is not a whole number from 1 to {MAX_QUANTITY}",
            where=where,
            fix="enter the number of items",
        )
    count = int(qty)
    list_amount = product.price * count
    result = _Line(index, line, product, tax, count, product.price, list_amount, list_amount)
    if line.price_override is not None:
        _override(result, line.price_override * count, where, places)
        result.unit_price = line.price_override
    elif basket.member is not None and product.member_price is not None:
        result.unit_price = product.member_price
        _member_price(
            result,
            product.member_price * count,
            f"member price {product.member_price} instead of {product.price}",
        )
    return result


def is_amount(value: Decimal, places: int) -> bool:
    """A finite, non-negative amount in the currency's minor units, below a sane maximum."""
    return (
        value.is_finite()
        and ZERO <= value <= MAX_AMOUNT
        and value == value.quantize(quantum(places))
    )


def _override(line: _Line, amount: Decimal, where: str, places: int) -> None:
    if not is_amount(amount, places):
        raise PricingError(
            f"price override {amount} is not a valid amount",
            where=where,
            fix="enter the new price in the currency's minor units",
        )
    if amount != line.amount:
        line.adjustments.append(Adjustment("override", amount - line.amount, "price override"))
        line.amount = amount


def _member_price(line: _Line, amount: Decimal, detail: str) -> None:
    if amount < line.amount:
        line.adjustments.append(
            Adjustment("member_price", amount - line.amount, "member price", detail=detail)
        )
        line.amount = amount


# -- promotions in force ---------------------------------------------------------------------


def _active_promotions(catalog: Catalog, basket: Basket) -> set[str]:
    coupons = {c.upper() for c in basket.coupons}
    active: set[str] = set()
    for promo in catalog.document.promotions:
        if promo.member_only and basket.member is None:
            continue
        if not coupon_opens(promo, coupons):
            continue
        if schedule_allows(promo.schedule, basket.at):
            active.add(promo.id)
    return active


def schedule_allows(schedule: Schedule, at: datetime) -> bool:
    """Is a promotion live at store-local time `at`? Bounds: from inclusive, until exclusive."""
    local = at.replace(tzinfo=None)
    if schedule.valid_from is not None and local < schedule.valid_from.replace(tzinfo=None):
        return False
    if schedule.valid_until is not None and local >= schedule.valid_until.replace(tzinfo=None):
        return False
    if (
        schedule.days
        and ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[local.weekday()] not in schedule.days
    ):
        return False
    if schedule.hours:
        now = local.time()
        return any(w.start <= now < w.end for w in schedule.hours)
    return True


# -- 2. item promotions ----------------------------------------------------------------------


def _unit_discount(promo: UnitPromotion, line: _Line) -> Decimal:
    """Discount one unit (or a whole weighed / label line) gets from a per-unit promotion."""
    if isinstance(promo, PercentOff):
        base = line.unit_price if line.count is not None else line.amount
        return base * promo.percent / HUNDRED
    if line.source.label_price is not None:
        return ZERO  # labels are taken at face value: only percentages apply to them
    if line.count is not None:
        if isinstance(promo, AmountOff):
            return min(promo.amount, line.unit_price)
        return max(ZERO, line.unit_price - promo.price)
    weight = line.source.weight or ZERO
    if isinstance(promo, AmountOff):
        return min(promo.amount * weight, line.amount)
    return max(ZERO, line.amount - promo.price * weight)


@dataclass
class _Plan:
    """Item discounts chosen for every line under one order of the set promotions."""

    per_line: dict[int, list[tuple[Any, Decimal, str, int | None]]] = field(default_factory=dict)
    value: Decimal = ZERO

    def add(
        self, index: int, promo: Any, amount: Decimal, detail: str, units: int | None = None
    ) -> None:
        if amount > 0:
            self.per_line.setdefault(index, []).append((promo, amount, detail, units))
            self.value += amount


def _tiers_reached(lines: Sequence[_Line]) -> dict[str, Any]:
    """Quantity tiers: the tier each one reaches, counting the units sold each it targets
    over every line."""
    units: dict[str, int] = {}
    promos: dict[str, QuantityTiers] = {}
    for line in lines:
        for promo in line.promotions:
            if isinstance(promo, QuantityTiers) and line.count is not None:
                units[promo.id] = units.get(promo.id, 0) + line.count
                promos[promo.id] = promo
    reached = {}
    for promo_id, count in units.items():
        tiers = [t for t in promos[promo_id].tiers if count >= t.min_units]
        if tiers:
            reached[promo_id] = tiers[-1]
    return reached


def _best_unit_promotions(lines: Sequence[_Line]) -> dict[int, tuple[Any, Decimal]]:
    best: dict[int, tuple[Any, Decimal]] = {}
    reached = _tiers_reached(lines)
    for line in lines:
        choice: tuple[Any, Decimal] = (None, ZERO)
        for promo in line.promotions:
            if isinstance(promo, PercentOff | AmountOff | FixedPrice):
                discount = _unit_discount(promo, line)
            elif isinstance(promo, QuantityTiers) and promo.id in reached and line.count:
                discount = line.unit_price * reached[promo.id].percent_off / HUNDRED
            else:
                continue
            if discount > choice[1]:
                choice = (promo, discount)
        if choice[0] is not None:
            best[line.index] = choice
    return best


def _apply_item_promotions(
    lines: list[_Line], places: int, member: MemberContext | None = None
) -> None:
    best_unit = _best_unit_promotions(lines)
    order: list[SetPromotion] = []
    for group in _conflict_groups(_competing_set_promotions(lines), lines):
        order.extend(_best_order(group, lines, best_unit, places, member))
    best = _evaluate(order, lines, best_unit, places, member)
    by_index = {line.index: line for line in lines}
    for index, applied in best.per_line.items():
        line = by_index[index]
        for promo, amount, detail, units in applied:
            line.adjustments.append(
                Adjustment("promotion", -amount, promo.name, promo.id, detail, units)
            )
            line.amount -= amount
            line.exclusive = line.exclusive or promo.exclusive


def _best_order(
    group: list[SetPromotion],
    lines: Sequence[_Line],
    best_unit: dict[int, tuple[Any, Decimal]],
    places: int,
    member: MemberContext | None = None,
) -> tuple[Any, ...]:
    """The order of competing set promotions that saves the customer most on their lines.

    Every order is tried up to MAX_SET_ORDERS promotions; beyond that, priority order.
    Ties keep the earlier order, and the first order tried is priority order.
    """
    ordered = sorted(group, key=lambda p: (p.priority, p.id))
    if len(ordered) == 1:
        return tuple(ordered)
    ids = {p.id for p in ordered}
    own = [line for line in lines if line.promotion_ids & ids]
    orders: Iterable[tuple[Any, ...]] = (
        itertools.permutations(ordered) if len(ordered) <= MAX_SET_ORDERS else [tuple(ordered)]
    )
    best: tuple[Decimal, tuple[Any, ...]] | None = None
    for candidate in orders:
        value = _evaluate(candidate, own, best_unit, places, member, build=False).value
        if best is None or value > best[0]:
            best = (value, candidate)
    assert best is not None
    return best[1]


def _conflict_groups(
    promos: list[SetPromotion], lines: Sequence[_Line]
) -> list[list[SetPromotion]]:
    """Set promotions that share no line cannot change each other's result, so only those
    that do (directly or through another) need their orders compared."""
    parent = {p.id: p.id for p in promos}

    def root(pid: str) -> str:
        while parent[pid] != pid:
            parent[pid] = parent[parent[pid]]
            pid = parent[pid]
        return pid

    for line in lines:
        present = [p.id for p in promos if p.id in line.promotion_ids]
        for other in present[1:]:
            parent[root(other)] = root(present[0])
    groups: dict[str, list[SetPromotion]] = {}
    for promo in promos:
        groups.setdefault(root(promo.id), []).append(promo)
    return sorted(groups.values(), key=lambda g: min((p.priority, p.id) for p in g))


def _competing_set_promotions(lines: Sequence[_Line]) -> list[SetPromotion]:
    units: dict[str, int] = {}
    promos: dict[str, SetPromotion] = {}
    for line in lines:
        if line.count is None:
            continue
        for promo in line.promotions:
            if isinstance(promo, BuyGet | Bundle):
                promos[promo.id] = promo
                units[promo.id] = units.get(promo.id, 0) + line.count
    return [p for p in promos.values() if units[p.id] >= _set_size(p)]


def _set_size(promo: SetPromotion) -> int:
    return promo.buy + promo.get if isinstance(promo, BuyGet) else promo.quantity


def _evaluate(
    order: Sequence[SetPromotion],
    lines: Sequence[_Line],
    best_unit: dict[int, tuple[Any, Decimal]],
    places: int,
    member: MemberContext | None = None,
    *,
    build: bool = True,
) -> _Plan:
    """Apply the set promotions in `order`, then the best per-unit promotion to every unit
    left. With `build` false only the plan's value is worked out (comparing orders)."""
    plan = _Plan()
    taken: dict[int, int] = {}
    for promo in order:
        _apply_set_promotion(promo, lines, best_unit, taken, plan, places, build)
    by_promo: dict[str, list[tuple[int, Decimal]]] = {}
    promos: dict[str, Any] = {}
    within = _within_limits(lines, best_unit, taken, member)
    over: dict[int, str] = {}
    covered: dict[int, int] = {}  # units a member's limit covered, by line
    for line in lines:
        choice = best_unit.get(line.index)
        left = line.units - taken.get(line.index, 0)
        if choice is None or left <= 0:
            continue
        promo, per_unit = choice
        if line.index in within:  # 限购: only so many units of the sale (or member) take it
            if within[line.index] < left:
                before = _member_took(promo, member)
                if promo.limit_per_member is not None and (
                    promo.limit_per_sale is None
                    or promo.limit_per_member - before < promo.limit_per_sale
                ):
                    said = (
                        f"limit {promo.limit_per_member} per member, "
                        f"{min(before, promo.limit_per_member)} taken before"
                    )
                else:
                    said = f"limit {promo.limit_per_sale} per sale"
                over[line.index] = (
                    f" ({said}: {within[line.index]} of "
                    f"{left} units; {left - within[line.index]} at the normal price)"
                )
            left = within[line.index]
            if not left:
                continue
            if promo.limit_per_member is not None:
                covered[line.index] = left
        promos[promo.id] = promo
        amount = round_money(per_unit * left, places, Rounding.HALF_UP)
        by_promo.setdefault(promo.id, []).append((line.index, amount))
    reached = _tiers_reached(lines)
    for promo_id, shares in by_promo.items():
        promo = promos[promo_id]
        capped = _cap(promo, [a for _, a in shares], places)
        if not build:
            plan.value += sum(capped, ZERO)
            continue
        for (index, original), amount in zip(shares, capped, strict=True):
            detail = _unit_detail(promo, amount, original, reached) + over.get(index, "")
            plan.add(index, promo, amount, detail, covered.get(index))
    return plan


def _member_took(promo: Any, member: MemberContext | None) -> int:
    """What the member took of `promo` at this box, within its schedule's window."""
    if member is None:
        return 0
    start, end = promo.schedule.valid_from, promo.schedule.valid_until
    took = 0
    for promo_id, at, units in member.taken:
        when = datetime.fromisoformat(at)
        if promo_id != promo.id or (start is not None and when < start.replace(tzinfo=None)):
            continue
        if end is None or when < end.replace(tzinfo=None):
            took += units
    return max(took, 0)


def _within_limits(
    lines: Sequence[_Line],
    best_unit: dict[int, tuple[Any, Decimal]],
    taken: dict[int, int],
    member: MemberContext | None = None,
) -> dict[int, int]:
    """For lines whose best per-unit promotion has a `limit_per_sale`: how many of their
    units left take it. The limit goes to the units it saves most on, then the lowest sku,
    the line with more units, the earlier line."""
    wanted = []
    for line in lines:
        choice = best_unit.get(line.index)
        left = line.units - taken.get(line.index, 0)
        limited = choice is not None and (
            choice[0].limit_per_sale is not None or choice[0].limit_per_member is not None
        )
        if choice is not None and left > 0 and limited:
            wanted.append(
                (choice[0].id, -choice[1], line.product.sku, -left, line.index, choice[0])
            )
    room: dict[str, int] = {}
    out: dict[int, int] = {}
    for promo_id, _, _, minus_left, index, promo in sorted(wanted, key=lambda w: w[:5]):
        if promo_id not in room:
            per_sale = promo.limit_per_sale
            room[promo_id] = 10**9 if per_sale is None else per_sale
            if promo.limit_per_member is not None:
                left_of_member = max(0, promo.limit_per_member - _member_took(promo, member))
                room[promo_id] = min(room[promo_id], left_of_member)
        free = room[promo_id]
        out[index] = min(-minus_left, free)
        room[promo_id] = free - out[index]
    return out


def _apply_set_promotion(
    promo: SetPromotion,
    lines: Sequence[_Line],
    best_unit: dict[int, tuple[Any, Decimal]],
    taken: dict[int, int],
    plan: _Plan,
    places: int,
    build: bool,
) -> None:
    units: list[tuple[Decimal, str, int]] = []
    count_of: dict[int, int] = {}
    for line in lines:
        if line.count is None or promo.id not in line.promotion_ids:
            continue
        count_of[line.index] = line.count
        free = line.count - taken.get(line.index, 0)
        if free > 0:
            units.extend([(line.unit_price, line.product.sku, line.index)] * free)
    size = _set_size(promo)
    if len(units) < size:
        return
    # equal units: from the line with more units first, then the earlier line
    units.sort(key=lambda u: (-u[0], u[1], -count_of[u[2]], u[2]))
    chosen: list[list[tuple[Decimal, str, int]]] = []
    discounts: list[Decimal] = []
    for start in range(0, len(units) - size + 1, size):
        chunk = units[start : start + size]
        discount = _set_discount(promo, chunk)
        alternative = sum((best_unit.get(u[2], (None, ZERO))[1] for u in chunk), ZERO)
        if discount > alternative:
            chosen.append(chunk)
            discounts.append(discount)
    if not chosen:
        return
    # each set's discount rounded on its own, a cap shared between the sets, and each set's
    # discount spread over that set's own units (issue 12, defect 9: they were pooled)
    set_totals = [round_money(d, places, Rounding.HALF_UP) for d in discounts]
    set_totals = _cap(promo, set_totals, places)
    for unit in [u for chunk in chosen for u in chunk]:
        taken[unit[2]] = taken.get(unit[2], 0) + 1
    if not build:
        plan.value += sum(set_totals, ZERO)
        return
    per_line: dict[int, Decimal] = {}
    for chunk, set_total in zip(chosen, set_totals, strict=True):
        shares = allocate(set_total, [u[0] for u in chunk], places)
        for unit, share in zip(chunk, shares, strict=True):
            per_line[unit[2]] = per_line.get(unit[2], ZERO) + share
    detail = f"{len(chosen)} set{'s' if len(chosen) > 1 else ''} of {size}"
    for index, amount in sorted(per_line.items()):
        plan.add(index, promo, amount, detail)


def _set_discount(promo: SetPromotion, chunk: Sequence[tuple[Decimal, str, int]]) -> Decimal:
    prices = [u[0] for u in chunk]
    if isinstance(promo, BuyGet):
        cheapest = prices[-promo.get :]
        return sum(cheapest, ZERO) * promo.percent / HUNDRED
    return max(ZERO, sum(prices, ZERO) - promo.price)


def _cap(promo: Any, amounts: list[Decimal], places: int) -> list[Decimal]:
    """Scale a promotion's discounts down to its `max_discount`, cent exact."""
    cap = promo.max_discount
    total = sum(amounts, ZERO)
    if cap is None or total <= cap:
        return amounts
    return allocate(cap, amounts, places)


def _unit_detail(
    promo: Any, amount: Decimal, uncapped: Decimal, reached: dict[str, Any] | None = None
) -> str:
    if isinstance(promo, PercentOff):
        text = f"{promo.percent.normalize():f}% off"
    elif isinstance(promo, QuantityTiers):
        assert reached is not None
        tier = reached[promo.id]
        text = f"{tier.percent_off.normalize():f}% off each from {tier.min_units} units"
    elif isinstance(promo, AmountOff):
        text = f"{promo.amount} off each"
    else:
        text = f"now {promo.price} each"
    if amount < uncapped:
        text += f" (capped at {promo.max_discount})"
    return text


# -- 3. basket promotions --------------------------------------------------------------------


def _apply_basket_promotions(
    lines: list[_Line], catalog: Catalog, active: set[str], places: int
) -> dict[str, Decimal]:
    """Apply the thresholds; returns the spend each one that gave a discount counted."""
    spends: dict[str, Decimal] = {}
    promos = [p for p in catalog.basket_promotions if p.id in active]
    if not promos:
        return spends
    eligible = {p.id: _eligible(p, lines, catalog) for p in promos}
    chosen: list[BasketThreshold] = [p for p in promos if p.stackable]
    single = [p for p in promos if not p.stackable]
    if single:
        values = [(_threshold_discount(p, eligible[p.id], places), p) for p in single]
        best_value, best = max(values, key=lambda v: (v[0], -v[1].priority))
        if best_value > 0:
            chosen.append(best)
    for promo in sorted(chosen, key=lambda p: (p.priority, p.id)):
        own = [line for line in eligible[promo.id] if line.amount > 0]
        discount = _threshold_discount(promo, own, places)
        if discount <= 0:
            continue
        amounts = [line.amount for line in own]
        spends[promo.id] = sum(amounts, ZERO)
        detail = f"share of {discount} off"
        for line, share in zip(own, allocate(discount, amounts, places), strict=True):
            if share:
                line.adjustments.append(Adjustment("basket", -share, promo.name, promo.id, detail))
                line.amount -= share
    return spends


def _eligible(promo: BasketThreshold, lines: Sequence[_Line], catalog: Catalog) -> list[_Line]:
    return [
        line
        for line in lines
        if not line.exclusive
        and "no_discount" not in line.product.flags
        and line.amount > 0
        and catalog.in_target(promo, line.product)
    ]


def _threshold_discount(promo: BasketThreshold, eligible: Sequence[_Line], places: int) -> Decimal:
    spend = sum((line.amount for line in eligible), ZERO)
    reached = [t for t in promo.tiers if spend >= t.threshold]
    if not reached:
        return ZERO
    tier = reached[-1]
    times = int(spend // tier.threshold) if promo.repeat else 1
    if tier.amount is not None:
        discount = tier.amount * times
    else:
        assert tier.percent is not None
        discount = round_money(spend * tier.percent / HUNDRED, places, Rounding.HALF_UP)
    if promo.max_discount is not None:
        discount = min(discount, promo.max_discount)
    return min(discount, spend)


def _apply_manual_discount(lines: list[_Line], basket: Basket, places: int) -> None:
    """整单折扣: percent (half up) or amount (capped) off the lines that take basket
    discounts, each costing more than zero after the thresholds; shared by largest
    remainder, no promotion named."""
    discount = basket.discount
    if discount is None:
        return
    own = [
        line
        for line in lines
        if not line.exclusive and "no_discount" not in line.product.flags and line.amount > 0
    ]
    spend = sum((line.amount for line in own), ZERO)
    if discount.percent is not None:
        off = round_money(spend * discount.percent / HUNDRED, places, Rounding.HALF_UP)
        label = f"basket discount {discount.percent}%"
    else:
        assert discount.amount is not None
        off = discount.amount
        label = f"basket discount {discount.amount}"
    off = min(off, spend)
    if off <= 0:
        return
    amounts = [line.amount for line in own]
    for line, share in zip(own, allocate(off, amounts, places), strict=True):
        if share:
            line.adjustments.append(
                Adjustment("basket", -share, label, None, f"share of {off} off")
            )
            line.amount -= share


# -- 4 and 5. tax, 抹零, totals ----------------------------------------------------------------


def _line_tax(
    total_or_net: Decimal, tax: TaxClass, places: int, rule: Rounding, backed_out: bool
) -> Decimal:
    if backed_out:
        return round_money(total_or_net * tax.rate / (HUNDRED + tax.rate), places, rule)
    return round_money(total_or_net * tax.rate / HUNDRED, places, rule)


def _rate_shares(
    lines: list[tuple[_Line, Decimal]], places: int, rule: Rounding, backed_out: bool
) -> dict[int, Decimal]:
    """Per rate: the class's tax on the sum of its lines, by largest remainder over them."""
    out: dict[int, Decimal] = {}
    for class_id in sorted({line.tax.id for line, _ in lines}):
        of_class = [(line, amount) for line, amount in lines if line.tax.id == class_id]
        if any(amount < 0 for _, amount in of_class):
            for line, amount in of_class:
                out[line.index] = _line_tax(amount, line.tax, places, rule, backed_out)
            continue
        tax = _line_tax(
            sum((a for _, a in of_class), ZERO), of_class[0][0].tax, places, rule, backed_out
        )
        shares = allocate(tax, [a for _, a in of_class], places)
        out.update({line.index: share for (line, _), share in zip(of_class, shares, strict=True)})
    return out


def _finish(
    basket: Basket,
    catalog: Catalog,
    lines: list[_Line],
    active: set[str],
    spends: dict[str, Decimal],
) -> PricedBasket:
    money = catalog.money
    places = money.decimals
    rule = money.tax_rounding
    per_rate = money.tax_per == "rate"
    totals: list[Decimal] = []
    for line in lines:
        if line.tax.inclusive:
            totals.append(line.amount)
        elif per_rate:
            totals.append(line.amount)  # the rate's tax is added below, shared out
        else:
            totals.append(line.amount + _line_tax(line.amount, line.tax, places, rule, False))
    if per_rate:
        added = _rate_shares(
            [(line, line.amount) for line in lines if not line.tax.inclusive], places, rule, False
        )
        for index, share in added.items():
            totals[index] += share
    grand = sum(totals, ZERO)
    mol = money.moling
    # 抹零 comes off the total and is shared over the lines, unless it is for cash only:
    # then, like cash rounding, it is only what a cash payment leaves out
    mo = moling(grand, mol.step, mol.cap) if mol is not None and not mol.cash_only else ZERO
    moled: set[int] = set()
    if mo:
        for line, share in zip(lines, allocate(mo, totals, places), strict=True):
            if share:
                line.adjustments.append(
                    Adjustment("moling", share, "抹零 rounding down", detail=f"{mo} on {grand}")
                )
                totals[line.index] += share
                moled.add(line.index)
    priced = []
    backed: dict[int, Decimal] = {}
    if per_rate:
        backed = _rate_shares(
            [
                (line, total)
                for line, total in zip(lines, totals, strict=True)
                if line.tax.inclusive or line.index in moled
            ],
            places,
            rule,
            True,
        )
    for line, total in zip(lines, totals, strict=True):
        backed_out = line.tax.inclusive or line.index in moled
        if backed_out and line.index in backed:
            tax = backed[line.index]
        elif backed_out:
            tax = _line_tax(total, line.tax, places, rule, True)
        else:
            tax = total - line.amount
        amount = total if line.tax.inclusive else total - tax
        priced.append(
            _priced_line(
                line, amount, tax, total, _points_multiplier(line, basket, catalog, active)
            )
        )
    total = sum(totals, ZERO)
    item_discounts, basket_discounts, promotions = _adjustment_totals(lines, spends)
    if money.cash_rounding is not None:
        cash = cash_rounding(total, money.cash_rounding.increment, money.cash_rounding.rule)
    elif mol is not None and mol.cash_only:
        cash = moling(total, mol.step, mol.cap)
    else:
        cash = ZERO
    return PricedBasket(
        currency=money.currency,
        places=places,
        catalog_version=catalog.version,
        lines=tuple(priced),
        list_total=sum((line.list_amount for line in lines), ZERO),
        item_discounts=item_discounts,
        basket_discounts=basket_discounts,
        moling=mo,
        tax=sum((p.tax for p in priced), ZERO),
        taxes=_tax_summary(priced, catalog),
        total=total,
        cash_rounding=cash,
        member=basket.member.id if basket.member else None,
        coupons=tuple(basket.coupons),
        notices=coupon_notices(basket, catalog, active, lines),
        promotions=promotions,
    )


def _points_multiplier(line: _Line, basket: Basket, catalog: Catalog, active: set[str]) -> int:
    """A member's points count the highest live points multiplier targeting the line's
    product, once (not one times another); 1 without one, or without a member."""
    if basket.member is None:
        return 1
    found = [
        promo.multiplier
        for promo in catalog.document.promotions
        if isinstance(promo, PointsMultiplier)
        and promo.id in active
        and catalog.in_target(promo, line.product)
    ]
    return max(found) if found else 1


def _priced_line(
    line: _Line, amount: Decimal, tax: Decimal, total: Decimal, multiplier: int
) -> PricedLine:
    source = line.source
    return PricedLine(
        index=line.index,
        sku=line.product.sku,
        name=line.product.name,
        category=line.product.category,
        unit=line.product.unit,
        quantity=Decimal(line.count) if line.count is not None else (source.weight or Decimal(1)),
        unit_price=line.unit_price,
        list_amount=line.list_amount,
        adjustments=tuple(line.adjustments),
        amount=amount,
        tax_class=line.tax.id,
        tax_rate=line.tax.rate,
        tax_inclusive=line.tax.inclusive,
        tax=tax,
        total=total,
        weight=source.weight,
        label_price=source.label_price,
        code=source.code,
        flags=tuple(line.product.flags),
        points_multiplier=multiplier,
    )


def _tax_summary(lines: Sequence[PricedLine], catalog: Catalog) -> tuple[TaxSummary, ...]:
    groups: dict[str, list[PricedLine]] = {}
    for line in lines:
        groups.setdefault(line.tax_class, []).append(line)
    out = []
    for tax_id in sorted(groups, key=lambda t: (catalog.tax_classes[t].rate, t)):
        tc = catalog.tax_classes[tax_id]
        group = groups[tax_id]
        tax = sum((line.tax for line in group), ZERO)
        gross = sum((line.total for line in group), ZERO)
        out.append(TaxSummary(tax_id, tc.name, tc.rate, tc.inclusive, gross - tax, tax, gross))
    return tuple(out)


def _adjustment_totals(
    lines: Sequence[_Line], spends: dict[str, Decimal]
) -> tuple[Decimal, Decimal, tuple[dict[str, Any], ...]]:
    """Item discounts, basket discounts (both positive) and what each promotion gave, in
    one pass over the adjustments; a threshold also says what spend it counted."""
    item = basket = ZERO
    found: dict[str, dict[str, Any]] = {}
    for line in lines:
        for adj in line.adjustments:
            if adj.kind == "basket":
                basket -= adj.amount
            elif adj.kind != "moling":
                item -= adj.amount
            if adj.promotion is None:
                continue
            entry = found.get(adj.promotion)
            if entry is None:
                entry = found[adj.promotion] = {
                    "id": adj.promotion,
                    "name": adj.label,
                    "discount": ZERO,
                    "lines": [],
                }
            entry["discount"] -= adj.amount
            entry["lines"].append(line.index)
    for promo_id, entry in found.items():
        if promo_id in spends:
            entry["spend"] = spends[promo_id]
    return item, basket, tuple(found.values())
