"""The totals engine: price a basket against a catalog, exact to the minor unit.

Pure and deterministic: no I/O, no clock (the basket carries its time), `Decimal` only.
Order of work, each step named so a receipt can explain every cent:

1. list amount per line: unit price x quantity, or unit price per kg x weight rounded by the
   catalog's `weighed_rounding`, or a price-embedded label's face value;
   then a supervisor's price override, then the member price layer; a reduced-to-clear
   sticker (`BasketLine.reduced`, `gateway.pricing.reduced`) instead lists one item at the
   catalog's price with a `reduced` adjustment down to the sticker's, and the line takes
   nothing from any later step (it is exclusive and carries no promotions);
2. item promotions (percent / amount off, fixed price, quantity tiers, buy X get Y,
   bundles; a per-unit one may carry a limit per sale): each unit takes at most one.
   Where they compete for the same units the engine tries every order of the competing
   set promotions (up to `MAX_SET_ORDERS`) and keeps the plan that saves the customer
   most; ties go to the lower `priority`;
   2b. threshold offers (加价购 `add_on`, 满赠 `gift`): a spend reached on what the lines
   cost after step 2 (the offer's own item left out) prices up to N units of one item at
   the offer's price (a gift: 0), topping up what item promotions gave them
   (`apply_threshold_offers`);
3. basket promotions (满减 thresholds) on what the lines then cost, allocated back to the
   lines by largest remainder;
   3b. then a whole-basket manual discount (整单折扣, `Basket.discount`) on what the same
   lines (not `no_discount` items, not items under an `exclusive` promotion, costing more
   than zero) cost after the thresholds: a percent of it rounded half up to the currency,
   or an amount capped at it, allocated back by largest remainder as an adjustment of
   kind `basket` with no promotion, counted in `basket_discounts`;
4. tax per line (inclusive backed out, exclusive added), rounded by `tax_rounding`, or
   with `money.tax_per = "rate"` per tax rate, shared back to its lines (`tax_per_rate`);
5. 抹零 (always down) allocated back to the lines; cash rounding reported separately, since
   it applies to cash tender only.

Deposits (Pfand / 押金, docs/pricing.md "Deposits"): a line whose product names a deposit
carries it per unit, added in step 4 outside every promotion, threshold, basket discount
and 抹零 share, taxed at the line's rate; a deposit product rung up alone is an empties
return, a negative line (`empties_line`). The reference (`pricing_reference.py`) knows no
deposits: `tests/pricing/test_engine_deposits.py` holds them by hand and by property.

Speed (issue 2: a 200-line basket with 50 live promotions in under 2 ms). The rules above
are written out plainly in `tests/pricing/pricing_reference.py`; this module reaches the
same results with fewer operations:

- what every line of a product needs (tax class, live promotions, member price, best
  per-unit promotion at the catalog's price) is worked out once per catalog, live set and
  member state (`_facts_for`: keyed by the catalog's identity through a weak reference,
  bounded) instead of on every line of every pricing;
- the order search remembers set-promotion passes for the length of one pricing
  (`_SetSearch`): orders share their passes, and the winning order's passes are applied
  instead of being worked out again;
- allocations run on whole minor units (`_Shares`), and thresholds that count the same
  lines are applied in minor units, each line's amount brought down once
  (`_thresholds_in_minor_units`);
- the totals are written down as the adjustments are made (`_Ledger`), and lines given the
  same share of a threshold share one (read-only) `Adjustment`.

`tests/pricing/test_engine_reference.py` checks, over random baskets and catalogs, that the
result is exactly what the reference gives: every amount with its exponent, every
adjustment in order, every error.
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import partial
from typing import Any

from gateway.catalog.catalog import Catalog
from gateway.catalog.document import (
    DEPOSIT_FLAG,
    AddOn,
    AmountOff,
    BasketThreshold,
    Bundle,
    BuyGet,
    FixedPrice,
    Gift,
    PercentOff,
    PointsMultiplier,
    Product,
    QuantityTiers,
    Schedule,
    TaxClass,
    ThresholdOffer,
    UnitsTier,
)
from gateway.catalog.serials import coupon_opens
from gateway.errors import StoregateError
from gateway.money import (
    ZERO,
    Rounding,
    allocate,
    largest_remainder,
    quantum,
    round_money,
)
from gateway.pricing.basket import (
    ADD_ON_LABEL,
    GIFT_LABEL,
    Basket,
    BasketLine,
    ManualDiscount,
    MemberContext,
)
from gateway.pricing.coupons import coupon_notices
from gateway.pricing.reduced import reduced_amount, reduced_label, reduction_problem
from gateway.pricing.result import Adjustment, PricedBasket, PricedLine, TaxSummary

HUNDRED = Decimal(100)
THOUSAND = Decimal(1000)
MAX_QUANTITY = Decimal(9999)
MAX_WEIGHT_KG = Decimal(1000)
MAX_AMOUNT = Decimal(10) ** 9
# the quantities rung up nearly always, already checked (whole, 1 to MAX_QUANTITY): a
# look-up instead of the checks (a Decimal key matches by value: 2, 2.0 and 2.00 alike)
_USUAL_COUNTS = {Decimal(n): n for n in range(1, 101)}
MAX_UNITS = 10**9  # more units than any sale holds: "no limit per sale"
MAX_SET_ORDERS = 3  # competing set promotions tried in every order up to this many (3! = 6)
_UNKNOWN: Any = object()
SetPromotion = BuyGet | Bundle
UnitPromotion = PercentOff | AmountOff | FixedPrice
_SET_PROMOTIONS = (BuyGet, Bundle)  # for isinstance: a tuple is checked faster than a union
_UNIT_PROMOTIONS = (PercentOff, AmountOff, FixedPrice)


class PricingError(StoregateError):
    """A basket line the engine cannot price (unknown product, missing weight, bad quantity)."""

    exit_code = 2


@dataclass(slots=True)
class _Line:
    """Working state of one line while the engine runs (built positionally: hot path)."""

    index: int
    source: BasketLine
    product: Product
    tax: TaxClass
    count: int | None  # units for products sold each; None for weighed and label lines
    units: int  # what promotions count: `count`, or 1 for a weighed or label line
    unit_price: Decimal
    list_amount: Decimal
    amount: Decimal
    adjustments: list[Adjustment] = field(default_factory=list)
    promotions: tuple[Any, ...] = ()
    promotion_ids: frozenset[str] = frozenset()
    exclusive: bool = False
    # for a counted line at the catalog's price: its best per-unit promotion, known already
    # (`_ProductFacts.counted_best`); `_UNKNOWN` means work it out
    counted_best: Any = _UNKNOWN
    sets: tuple[Any, ...] = ()  # the set promotions among `promotions`
    # `amount` in whole minor units as step 2 left it, when already known (pricing per
    # scan keeps it with the line: `gateway.pricing.incremental`); `_UNKNOWN`: work it out
    minor: Any = _UNKNOWN


def price_basket(basket: Basket, catalog: Catalog) -> PricedBasket:
    """Price `basket` with the catalog in force; raises PricingError for a line it cannot."""
    places = catalog.places
    active = _active_promotions(catalog, basket)
    facts = _facts_for(catalog, frozenset(active), basket.member is not None)
    ledger = _Ledger()
    lines = []
    for i, source in enumerate(basket.lines):
        product = facts.get(source.sku)
        if product is None:
            product = facts.learn(catalog, source.sku, i, source)
        if (
            product.counted
            and source.label_price is None
            and source.price_override is None
            and source.open_price is None
            and source.reduced is None
        ):
            line = _catalog_priced_line(i, source, product)
        else:
            line = _base_line(i, source, product, catalog, places, basket)
        if product.product.flags and DEPOSIT_FLAG in product.product.flags:
            line = empties_line(line)
        if line.adjustments:  # an override or a member price
            ledger.item.extend([adjustment.amount for adjustment in line.adjustments])
        lines.append(line)
    _apply_item_promotions(lines, places, ledger, basket.member)
    apply_threshold_offers(lines, catalog, active, ledger)
    _apply_basket_promotions(lines, catalog, active, places, ledger)
    _apply_basket_discount(lines, basket.discount, places, ledger)
    return _finish(basket, catalog, lines, active, ledger)


@dataclass(slots=True, frozen=True)
class _ProductFacts:
    """What every line of one product needs, the same for every pricing with the same
    promotions live and the same member state: worked out once, then looked up."""

    product: Product
    tax: TaxClass
    promotions: tuple[Any, ...]  # the item promotions live for it (`Catalog.live_item_promotions`)
    promotion_ids: frozenset[str]
    counted: bool  # sold each (not by weight)
    # a counted line at the catalog's price (no override, no label): what one unit costs
    # (the member price for a member), the detail of its member price adjustment (None: no
    # member price), its best per-unit promotion with that promotion's discount on one
    # unit (`_unit_discount`), or None
    unit_price: Decimal
    member_detail: str | None
    counted_best: Any  # tuple[promotion, Decimal] | None, or `_UNKNOWN` (quantity tiers)
    sets: tuple[Any, ...]  # the set promotions among `promotions`, in their order


class _Facts(dict[str, _ProductFacts]):
    """`_ProductFacts` by sku, for one catalog, live set and member state. (It holds no
    reference to the catalog itself, so the registry below never keeps one alive.)"""

    def __init__(self, live: frozenset[str], member: bool) -> None:
        super().__init__()
        self.live, self.member = live, member

    def learn(self, catalog: Catalog, sku: str, index: int, line: BasketLine) -> _ProductFacts:
        """Work out the facts of `sku` (the line it first appears on: for an error)."""
        product = catalog.by_sku(sku)
        if product is None:
            raise PricingError(
                f"unknown product {sku!r}",
                where=_where(index, line),
                fix="check the catalog version in force, or ring it up by PLU",
            )
        promotions, ids = catalog.live_item_promotions(product, self.live)
        member_detail = None
        unit_price = product.price
        if self.member and product.member_price is not None:
            unit_price = product.member_price
            member_detail = f"member price {product.member_price} instead of {product.price}"
        best: Any = None
        if any(isinstance(p, QuantityTiers) for p in promotions):
            best = _UNKNOWN  # its discount depends on the basket: `_SetSearch` works it out
        elif product.unit == "each":
            for promo in promotions:
                if isinstance(promo, _UNIT_PROMOTIONS):
                    discount = _counted_unit_discount(promo, unit_price)
                    if discount > (ZERO if best is None else best[1]):
                        best = (promo, discount)
        facts = _ProductFacts(
            product,
            catalog.tax_classes[product.tax_class],
            promotions,
            ids,
            product.unit == "each",
            unit_price,
            member_detail,
            best,
            tuple(p for p in promotions if isinstance(p, _SET_PROMOTIONS)),
        )
        if len(self) < _FACTS_PER_SET:
            self[sku] = facts
        return facts


# Per catalog: `_Facts` by (live promotion ids, member identified). Keyed by the catalog's
# identity and checked through a weak reference, so a catalog that is gone (and whose id
# may be reused) is never answered for, and its entry leaves with it. Bounded: a catalog
# keeps at most `_FACT_SETS` live sets (they change with the hour, the member and the
# coupons), each at most `_FACTS_PER_SET` products. Every entry is a pure function of the
# catalog, so sharing it between pricings (or threads) changes no result.
_FACT_SETS = 64
_FACTS_PER_SET = 100_000
_CATALOG_FACTS: dict[
    int, tuple[weakref.ref[Catalog], dict[tuple[frozenset[str], bool], _Facts]]
] = {}


def _forget(registry: dict[int, Any], key: int, _: object) -> None:
    """A catalog is gone: drop what was learnt about it (bound to the registry itself, so
    it still works while the interpreter shuts down)."""
    registry.pop(key, None)


def _facts_for(catalog: Catalog, live: frozenset[str], member: bool) -> _Facts:
    key = id(catalog)
    entry = _CATALOG_FACTS.get(key)
    if entry is None or entry[0]() is not catalog:
        entry = (weakref.ref(catalog, partial(_forget, _CATALOG_FACTS, key)), {})
        _CATALOG_FACTS[key] = entry
    sets = entry[1]
    facts = sets.get((live, member))
    if facts is None:
        if len(sets) >= _FACT_SETS:
            sets.clear()
        facts = sets[live, member] = _Facts(live, member)
    return facts


class _Ledger:
    """The discounts given, written down as they are made, so the totals need no second
    walk over every adjustment of every line.

    `item` holds the amounts of item adjustments (negative for a discount), `basket` what
    each threshold took off. Each promotion is given once, to lines in line order (every
    stage walks the lines in order), so its first line is where it first appears; among
    promotions that first appear on the same line, the order they were given in (`seq`)
    is the order of their adjustments there.
    """

    def __init__(self) -> None:
        self.item: list[Decimal] = []
        self.basket: list[Decimal] = []
        self._given: list[tuple[int, int, str, str, Decimal, list[int]]] = []
        self.spends: dict[str, Decimal] = {}  # a threshold's id -> the spend it counted

    def give(self, promo_id: str, name: str, discount: Decimal, indexes: list[int]) -> None:
        """`promo_id` took `discount` (positive, the sum of its adjustments) off `indexes`."""
        if indexes:
            self._given.append((indexes[0], len(self._given), promo_id, name, discount, indexes))

    def promotions(self) -> tuple[dict[str, Any], ...]:
        """What each promotion gave and on which lines, in order of first appearance; a
        threshold also says what spend it counted (its lines' shares name only the
        discount, so a line keeps its share's explanation while the basket grows)."""
        spends = self.spends
        out = []
        for _, _, promo_id, name, discount, indexes in sorted(self._given):
            entry = {"id": promo_id, "name": name, "discount": discount, "lines": indexes}
            if promo_id in spends:
                entry["spend"] = spends[promo_id]
            out.append(entry)
        return tuple(out)


# -- 1. list amounts -------------------------------------------------------------------------


def _where(index: int, line: BasketLine) -> str:
    """Which line an error is about (built only when there is an error)."""
    return f"line {index + 1} ({line.code or line.sku})"


def _base_line(
    index: int,
    line: BasketLine,
    facts: _ProductFacts,
    catalog: Catalog,
    places: int,
    basket: Basket,
) -> _Line:
    product, tax = facts.product, facts.tax
    if line.price_override is not None and not is_amount(line.price_override, places):
        raise PricingError(
            f"price override {line.price_override} is not a valid amount",
            where=_where(index, line),
            fix="enter the new unit price with at most the currency's decimals",
        )
    if line.open_price is not None and not is_amount(line.open_price, places):
        raise PricingError(
            f"open price {line.open_price} is not a valid amount",
            where=_where(index, line),
            fix="key the unit price with at most the currency's decimals",
        )
    if line.reduced is not None:
        return _reduced_line(index, line, product, tax, places)
    if line.label_price is not None:
        result = _label_line(index, line, product, tax, places)
    elif product.unit != "each":  # Product.weighed, without the property call
        result = _weighed_line(index, line, product, tax, catalog, places, basket)
    else:
        result = _counted_line(index, line, product, tax, places, basket)
    result.promotions, result.promotion_ids = facts.promotions, facts.promotion_ids
    result.sets = facts.sets
    return result


def _label_line(
    index: int, line: BasketLine, product: Product, tax: TaxClass, places: int
) -> _Line:
    price = line.label_price
    assert price is not None
    if not is_amount(price, places):
        raise PricingError(
            f"label price {price} is not a valid amount",
            where=_where(index, line),
            fix="rescan the label; a torn label can be keyed by PLU and weight",
        )
    return _Line(index, line, product, tax, None, 1, price, price, price, [])


def _reduced_line(
    index: int, line: BasketLine, product: Product, tax: TaxClass, places: int
) -> _Line:
    """A reduced-to-clear sticker (`gateway.pricing.reduced`): one item listed at the
    catalog's price, brought down to the sticker's by a `reduced` adjustment, and final —
    no promotions (none are carried), exclusive so no threshold or basket discount counts
    or touches it."""
    reduction = line.reduced
    assert reduction is not None
    problem = reduction_problem(product, reduction, line.quantity)
    if problem is not None:
        raise PricingError(
            problem, where=_where(index, line), fix="sell the item without its reduced sticker"
        )
    amount = reduced_amount(product.price, reduction, places)
    if not is_amount(amount, places):
        raise PricingError(
            f"reduced price {amount} is not a valid amount",
            where=_where(index, line),
            fix="rescan the sticker, or reprint it with the currency's decimals",
        )
    listed = product.price
    result = _Line(index, line, product, tax, None, 1, listed, listed, listed, [])
    if amount != listed:
        result.adjustments.append(
            Adjustment("reduced", amount - listed, reduced_label(listed), detail=reduction.detail)
        )
        result.amount = amount
    result.exclusive = True
    return result


def _weighed_line(
    index: int,
    line: BasketLine,
    product: Product,
    tax: TaxClass,
    catalog: Catalog,
    places: int,
    basket: Basket,
) -> _Line:
    weight = line.weight
    if weight is None:
        raise PricingError(
            f"{product.name} is sold by weight and no weight was given",
            where=_where(index, line),
            fix="put the item on the scale and wait for a stable weight",
        )
    if not weight.is_finite() or weight <= 0 or weight > MAX_WEIGHT_KG:
        raise PricingError(
            f"weight {weight} kg is outside 0 to {MAX_WEIGHT_KG} kg",
            where=_where(index, line),
            fix="re-weigh the item",
        )
    rule = catalog.money.weighed_rounding
    per_kg = catalog.price_per_kg(product)
    list_amount = round_money(per_kg * weight, places, rule)
    result = _Line(index, line, product, tax, None, 1, per_kg, list_amount, list_amount, [])
    if line.price_override is not None:
        _override(result, round_money(line.price_override * weight, places, rule), index, places)
    elif basket.member is not None and product.member_price is not None:
        member_per_kg = product.member_price / (
            product.price_per if product.unit == "kg" else product.price_per / THOUSAND
        )
        member_amount = round_money(member_per_kg * weight, places, rule)
        _member_price(result, member_amount, f"member price {member_per_kg.normalize():f}/kg")
    return result


def _count(index: int, line: BasketLine) -> int:
    """The line's quantity as a number of units: a whole number from 1 to MAX_QUANTITY."""
    qty = line.quantity
    count = _USUAL_COUNTS.get(qty) if qty.is_finite() else None
    if count is None:
        if not qty.is_finite() or qty != qty.to_integral_value() or not 1 <= qty <= MAX_QUANTITY:
            raise PricingError(
                f"quantity {qty} is not a whole number from 1 to {MAX_QUANTITY}",
                where=_where(index, line),
                fix="enter the number of items",
            )
        count = int(qty)
    return count


def _catalog_priced_line(index: int, line: BasketLine, facts: _ProductFacts) -> _Line:
    """`_counted_line` for the usual line, at the catalog's price (no override, no label),
    with what is known of its product already worked out (`_ProductFacts`)."""
    count = _count(index, line)
    product = facts.product
    list_amount = product.price * count
    result = _Line(
        index,
        line,
        product,
        facts.tax,
        count,
        count,
        facts.unit_price,
        list_amount,
        list_amount,
        [],
        facts.promotions,
        facts.promotion_ids,
        False,
        facts.counted_best,
        facts.sets,
    )
    if facts.member_detail is not None:
        _member_price(result, facts.unit_price * count, facts.member_detail)
    return result


def _counted_line(
    index: int,
    line: BasketLine,
    product: Product,
    tax: TaxClass,
    places: int,
    basket: Basket,
) -> _Line:
    count = _count(index, line)
    price = product.price if line.open_price is None else line.open_price  # keyed: list price
    list_amount = price * count
    result = _Line(index, line, product, tax, count, count, price, list_amount, list_amount, [])
    if line.price_override is not None:
        _override(result, line.price_override * count, index, places)
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


def _override(line: _Line, amount: Decimal, index: int, places: int) -> None:
    if not is_amount(amount, places):
        raise PricingError(
            f"price override {amount} is not a valid amount",
            where=_where(index, line.source),
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
    local = basket.at.replace(tzinfo=None)
    active: set[str] = set()
    for promo in catalog.document.promotions:
        if promo.member_only and basket.member is None:
            continue
        if not coupon_opens(promo, coupons):
            continue
        if _schedule_allows_local(promo.schedule, local):
            active.add(promo.id)
    return active


def schedule_allows(schedule: Schedule, at: datetime) -> bool:
    """Is a promotion live at store-local time `at`? Bounds: from inclusive, until exclusive."""
    return _schedule_allows_local(schedule, at.replace(tzinfo=None))


def _schedule_allows_local(schedule: Schedule, local: datetime) -> bool:
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


def _counted_unit_discount(promo: UnitPromotion, unit_price: Decimal) -> Decimal:
    """`_unit_discount` for a counted line whose unit costs `unit_price`."""
    if isinstance(promo, PercentOff):
        return unit_price * promo.percent / HUNDRED
    if isinstance(promo, AmountOff):
        return min(promo.amount, unit_price)
    return max(ZERO, unit_price - promo.price)


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


def _apply_item_promotions(
    lines: list[_Line], places: int, ledger: _Ledger, member: MemberContext | None = None
) -> None:
    search = _SetSearch(lines, places, member)
    plan: list[tuple[SetPromotion, _SetPass]] = []
    for group in _conflict_groups(search.competing, search.shared):
        plan.extend(search.best_order(group))
    search.apply(plan, lines, ledger)


def _give(
    lines: Sequence[_Line],
    promo: Any,
    awards: Iterable[tuple[int, Decimal, str]],
    ledger: _Ledger,
    units: dict[int, int] | None = None,
) -> None:
    """Record an item promotion's discounts: (line index, amount, detail), in line order;
    a zero amount records nothing. `units`: by line, the units a promotion with a
    `limit_per_member` covered (the adjustment says them)."""
    name, promo_id, exclusive = promo.name, promo.id, promo.exclusive
    given: list[Decimal] = []
    indexes: list[int] = []
    for index, amount, detail in awards:
        if amount > 0:
            line = lines[index]
            line.adjustments.append(
                Adjustment("promotion", -amount, name, promo_id, detail)
                if units is None
                else Adjustment("promotion", -amount, name, promo_id, detail, units[index])
            )
            line.amount -= amount
            line.exclusive = line.exclusive or exclusive
            given.append(-amount)
            indexes.append(index)
    ledger.item.extend(given)
    ledger.give(promo_id, name, ZERO - sum(given, ZERO), indexes)


# one unit in a set search: (unit price, sku, line index, unit price in minor units or None,
# the unit's best per-unit discount: what a set must beat)
Unit = tuple[Decimal, str, int, int | None, Decimal]


@dataclass(slots=True)
class _SetPass:
    """What one set promotion took in one pass: its (capped, rounded) discount, the sets
    formed, the units they hold (most expensive first, `size` per set, set after set), each
    set's own discount (rounded, capped; they sum to `total`) and how many units of each
    line it took."""

    total: Decimal
    sets: int
    units: list[Unit]
    set_totals: list[Decimal]
    takes: list[tuple[int, int]]
    touched: frozenset[int]  # the lines it took units of


class _SetSearch:
    """The item promotions of one pricing, and every set-promotion pass worked out so far.

    Built in one walk over the lines: each line's best per-unit promotion (`best_unit`:
    the best for the customer; a unit not in a set takes it), and the set promotions with
    their lines. A set promotion whose lines do not hold one full set cannot form one and
    does not compete.

    A pass of promotion P forms sets from the units of P's lines that earlier passes left
    free, so it is fully decided by P and by the earlier passes that took units of P's
    lines: that is the memo key (passes are remembered, so the same pass is the same
    object). Comparing the orders of a group re-uses the passes the orders share (P after A
    is P alone when A took none of P's lines), and the plan applied is the winning order's
    passes, not worked out again. Lives only for one `price_basket` call.
    """

    def __init__(
        self, lines: Sequence[_Line], places: int, member: MemberContext | None = None
    ) -> None:
        self.places = places
        self._member = member
        self.best_unit: dict[int, tuple[Any, Decimal]] = {}
        promos: dict[str, SetPromotion] = {}
        units: dict[str, int] = {}
        counted: dict[str, list[_Line]] = {}
        self._carriers: dict[str, list[_Line]] = {}  # every line a set promotion targets
        self.shared: list[list[str]] = []  # set promotions that target the same line
        self._lines = lines  # (by index: what a limit's tie-break reads)
        self.reached: dict[str, UnitsTier] = {}  # quantity tiers: the tier the basket reached
        tiered: list[_Line] = []  # lines carrying quantity tiers: their best is decided after
        for line in lines:
            if not line.promotions:
                continue
            known = line.counted_best
            if known is _UNKNOWN:  # not a counted line at the catalog's price: work it out
                choice: Any = None
                best = ZERO
                for promo in line.promotions:
                    if isinstance(promo, _UNIT_PROMOTIONS):
                        discount = _unit_discount(promo, line)
                        if discount > best:
                            choice, best = promo, discount
                    elif isinstance(promo, QuantityTiers):
                        tiered.append(line)
                        break
                else:
                    known = None if choice is None else (choice, best)
                    if known is not None:
                        self.best_unit[line.index] = known
            elif known is not None:
                self.best_unit[line.index] = known
            sets = line.sets
            if not sets:
                continue
            for promo in sets:
                self._carriers.setdefault(promo.id, []).append(line)
                if line.count is not None:
                    promos[promo.id] = promo
                    units[promo.id] = units.get(promo.id, 0) + line.count
                    counted.setdefault(promo.id, []).append(line)
            if len(sets) > 1:
                self.shared.append([promo.id for promo in sets])
        if tiered:
            self._decide_tiered(tiered)
        self.competing = [p for p in promos.values() if units[p.id] >= _set_size(p)]
        # each competing promotion's counted lines, most expensive unit first (the order
        # sets are formed in): (line index, units, the unit as the search sees it)
        self._members: dict[str, list[tuple[int, int, Unit]]] = {}
        units_of: dict[int, Unit] = {}
        for promo in self.competing:
            # equal units: the line with more units first, then the earlier line, so which
            # line a set takes from never depends on the order of scanning (what it leaves
            # of a line is rounded with the line's other units)
            own = sorted(
                counted[promo.id],
                key=lambda ln: (-ln.unit_price, ln.product.sku, -ln.units, ln.index),
            )
            members = self._members[promo.id] = []
            for ln in own:
                unit = units_of.get(ln.index)
                if unit is None:
                    choice = self.best_unit.get(ln.index)
                    unit = units_of[ln.index] = (
                        ln.unit_price,
                        ln.product.sku,
                        ln.index,
                        _minor_units(ln.unit_price, places),
                        ZERO if choice is None else choice[1],
                    )
                members.append((ln.index, ln.units, unit))
        self._lines_of = {pid: frozenset(m[0] for m in ms) for pid, ms in self._members.items()}
        self._passes: dict[tuple[str, tuple[int, ...]], _SetPass | None] = {}
        self._rounded: dict[tuple[int, int], Decimal] = {}
        self._shares = _Shares(places)

    def _decide_tiered(self, tiered: list[_Line]) -> None:
        """The best per-unit promotion of the lines carrying quantity tiers, now that the
        units each tier promotion counts are known: every unit sold each that it targets,
        over all its lines (those are all in `tiered`), whatever promotion the unit then
        takes. A reached tier is a percent off each unit, competing with the line's other
        per-unit promotions as they compete with each other (the first of the best)."""
        counts: dict[str, int] = {}
        for line in tiered:
            if line.count is not None:
                for promo in line.promotions:
                    if isinstance(promo, QuantityTiers):
                        counts[promo.id] = counts.get(promo.id, 0) + line.count
        for line in tiered:
            choice: Any = None
            best = ZERO
            for promo in line.promotions:
                if isinstance(promo, _UNIT_PROMOTIONS):
                    discount = _unit_discount(promo, line)
                elif isinstance(promo, QuantityTiers):
                    tier = _tier_reached(promo, counts.get(promo.id, 0))
                    if tier is None or line.count is None:
                        continue
                    self.reached[promo.id] = tier
                    discount = line.unit_price * tier.percent_off / HUNDRED
                else:
                    continue
                if discount > best:
                    choice, best = promo, discount
            if choice is not None:
                self.best_unit[line.index] = (choice, best)
        # back in line order: per-unit promotions are given line by line
        self.best_unit = dict(sorted(self.best_unit.items()))

    def _within_limits(self, wanted: list[tuple[int, int, Any, Decimal]]) -> dict[int, int]:
        """How many of its units each line takes its best per-unit promotion for, where that
        promotion has a `limit_per_sale` (限购); `wanted` is (line index, units left, the
        promotion, its discount on one unit) for lines in line order. A limit goes to the
        units it saves most on; among equal ones to the lowest sku, then the line with more
        units, then the earlier line: lines that could swap places are alike, so the order
        things were scanned in never changes the total."""
        limited = [w for w in wanted if w[1] > 0 and _limited(w[2])]
        if not limited:
            return {}
        own = self._lines
        limited.sort(key=lambda w: (w[2].id, -w[3], own[w[0]].product.sku, -w[1], w[0]))
        room: dict[str, int] = {}
        out: dict[int, int] = {}
        for index, units, promo, _ in limited:
            free = room.get(promo.id)
            if free is None:
                free = _room(promo, self._member)
            out[index] = taken = min(units, free)
            room[promo.id] = free - taken
        return out

    def best_order(self, group: list[SetPromotion]) -> list[tuple[SetPromotion, _SetPass]]:
        """The order of competing set promotions that saves the customer most on their lines,
        as the passes that form sets in that order.

        Every order is tried up to MAX_SET_ORDERS promotions; beyond that, priority order.
        Ties keep the earlier order, and the first order tried is priority order.
        """
        ordered = sorted(group, key=lambda p: (p.priority, p.id))
        if len(ordered) == 1 or len(ordered) > MAX_SET_ORDERS:
            return self._passes_in(ordered)
        own = {line.index: line for p in ordered for line in self._carriers[p.id]}
        candidates = [  # the group's lines whose leftover units take a per-unit promotion
            (index, own[index].units, choice[0], choice[1])
            for index in sorted(own)
            if (choice := self.best_unit.get(index)) is not None
        ]
        best: tuple[Decimal, list[tuple[SetPromotion, _SetPass]]] | None = None
        for candidate in itertools.permutations(ordered):
            passes = self._passes_in(candidate)
            value = self._trial_value(passes, candidates)
            if best is None or value > best[0]:
                best = (value, passes)
        assert best is not None
        return best[1]

    def _passes_in(self, order: Sequence[SetPromotion]) -> list[tuple[SetPromotion, _SetPass]]:
        """The passes of `order` that form sets, one after another."""
        passes: list[tuple[SetPromotion, _SetPass]] = []
        for promo in order:
            done = self._run(promo, passes)
            if done is not None:
                passes.append((promo, done))
        return passes

    def _trial_value(
        self,
        passes: list[tuple[SetPromotion, _SetPass]],
        candidates: list[tuple[int, int, Any, Decimal]],
    ) -> Decimal:
        """What the customer saves on a group's lines with these set passes, then the best
        per-unit promotion on every unit left (capped per promotion)."""
        taken: dict[int, int] = {}
        value = ZERO
        for _, done in passes:
            value += done.total
            for index, n in done.takes:
                taken[index] = taken.get(index, 0) + n
        by_promo: dict[str, list[Decimal]] = {}
        promos: dict[str, Any] = {}
        rounded = self._rounded
        within: dict[int, int] | None = None  # worked out at the first limited promotion
        for index, units, promo, per_unit in candidates:
            left = units - taken.get(index, 0)
            if left <= 0:
                continue
            if _limited(promo):
                if within is None:
                    within = self._within_limits(
                        [(i, n - taken.get(i, 0), p, d) for i, n, p, d in candidates]
                    )
                left = within[index]
                if not left:
                    continue
            amount = rounded.get((index, left))
            if amount is None:
                amount = rounded[index, left] = round_money(
                    per_unit * left, self.places, Rounding.HALF_UP
                )
            promos[promo.id] = promo
            by_promo.setdefault(promo.id, []).append(amount)
        for promo_id, amounts in by_promo.items():
            value += sum(_cap(promos[promo_id], amounts, self.places), ZERO)
        return value

    def apply(
        self,
        plan: list[tuple[SetPromotion, _SetPass]],
        lines: Sequence[_Line],
        ledger: _Ledger,
    ) -> None:
        """Apply the set passes of `plan`, then the best per-unit promotion to every unit
        left, with every discount spread over the units it was given for."""
        places = self.places
        taken: dict[int, int] = {}
        for promo, done in plan:
            for index, n in done.takes:
                taken[index] = taken.get(index, 0) + n
            per_line: dict[int, Decimal] = {}
            size = len(done.units) // done.sets
            for start, set_total in zip(
                range(0, len(done.units), size), done.set_totals, strict=True
            ):
                # each set's discount over that set's own units (docs/pricing.md step 2):
                # what a unit is refunded is what its own set cost
                chunk = done.units[start : start + size]
                if chunk[0][2] == chunk[-1][2]:  # one line's units (kept together): all of it
                    line_index = chunk[0][2]
                    per_line[line_index] = per_line.get(line_index, ZERO) + set_total
                    continue
                shares = self._shares.allocate(
                    set_total, [u[0] for u in chunk], [u[3] for u in chunk]
                )
                for unit, share in zip(chunk, shares, strict=True):
                    per_line[unit[2]] = per_line.get(unit[2], ZERO) + share
            detail = f"{done.sets} set{'s' if done.sets > 1 else ''} of {_set_size(promo)}"
            _give(lines, promo, [(i, a, detail) for i, a in sorted(per_line.items())], ledger)
        by_promo: dict[str, list[tuple[int, Decimal]]] = {}
        promos: dict[str, Any] = {}
        cent = quantum(places)
        limited: dict[int, str] = {}  # lines with units over a limit: what their detail adds
        covered: dict[int, int] = {}  # units a member's limit covered, by line
        allowed: dict[int, int] | None = None  # worked out at the first limited promotion
        for index, (promo, per_unit) in self.best_unit.items():  # in line order
            left = lines[index].units - taken.get(index, 0)
            if left <= 0:
                continue
            if _limited(promo):
                if allowed is None:
                    allowed = self._within_limits(
                        [
                            (i, lines[i].units - taken.get(i, 0), p, d)
                            for i, (p, d) in self.best_unit.items()
                        ]
                    )
                within = allowed[index]
                if within < left:
                    limited[index] = _over_limit_detail(promo, within, left, self._member)
                if not within:
                    continue
                left = within
                if promo.limit_per_member is not None:
                    covered[index] = within
            promos[promo.id] = promo
            # round_money(per_unit * left, places, Rounding.HALF_UP), without the calls
            amount = (per_unit * left).quantize(cent, rounding=ROUND_HALF_UP)
            by_promo.setdefault(promo.id, []).append((index, amount))
        for promo_id, shares_of in by_promo.items():
            promo = promos[promo_id]
            amounts = [a for _, a in shares_of]
            capped = _cap(promo, amounts, places)
            text = _unit_detail(promo, self.reached)
            if capped is not amounts:  # scaled down to the promotion's max_discount
                awards = [
                    (index, amount, f"{text} (capped at {promo.max_discount})")
                    if amount < original
                    else (index, amount, text)
                    for (index, original), amount in zip(shares_of, capped, strict=True)
                ]
            else:
                awards = [(index, amount, text) for index, amount in shares_of]
            if limited:
                awards = [
                    (index, amount, f"{said}{limited[index]}" if index in limited else said)
                    for index, amount, said in awards
                ]
            _give(lines, promo, awards, ledger, covered if promo.limit_per_member else None)

    def _run(
        self, promo: SetPromotion, before: list[tuple[SetPromotion, _SetPass]]
    ) -> _SetPass | None:
        """The pass of `promo` after the passes `before` (None: it forms no set)."""
        own = self._lines_of[promo.id]
        touching = [done for _, done in before if not own.isdisjoint(done.touched)]
        key = (promo.id, tuple([id(done) for done in touching]))
        if key in self._passes:
            return self._passes[key]
        taken: dict[int, int] = {}
        for done in touching:
            for index, n in done.takes:
                taken[index] = taken.get(index, 0) + n
        members = self._members[promo.id]
        used = tuple([taken.get(index, 0) for index, _, _ in members])
        result = self._passes[key] = self._form_sets(promo, members, used)
        return result

    def _form_sets(
        self, promo: SetPromotion, members: list[tuple[int, int, Unit]], used: tuple[int, ...]
    ) -> _SetPass | None:
        """Sets of `promo` from the units of its lines left free (`used`: units taken from
        each line before), most expensive first, `size` at a time; a set is kept when its
        discount is more than its units' best per-unit promotions would give. A set's
        discount: buy X get Y takes `percent` off its cheapest `get` units (the last ones);
        a bundle costs `price` (never less than nothing off)."""
        units: list[Unit] = []
        for (_, count, unit), before in zip(members, used, strict=True):
            if count > before:
                units.extend([unit] * (count - before))
        if isinstance(promo, BuyGet):
            size, get, percent, price = promo.buy + promo.get, promo.get, promo.percent, ZERO
        else:
            size, get, percent, price = promo.quantity, 0, ZERO, promo.price
        if len(units) < size:
            return None
        chosen: list[Unit] = []
        discounts: list[Decimal] = []
        sets = 0
        for start in range(0, len(units) - size + 1, size):
            chunk = units[start : start + size]
            if get:  # buy X get Y: the cheapest `get` units, at `percent` off
                discount = sum([u[0] for u in chunk[-get:]], ZERO) * percent / HUNDRED
            else:  # bundle: the set for `price`
                discount = max(ZERO, sum([u[0] for u in chunk], ZERO) - price)
            if discount > sum([u[4] for u in chunk], ZERO):
                chosen.extend(chunk)
                discounts.append(discount)
                sets += 1
        if not sets:
            return None
        # each set is a purchase of its own: its discount rounded on its own (two equal sets
        # cost the same, as each would alone), a cap shared between the sets by largest
        # remainder
        cent = quantum(self.places)
        set_totals = [d.quantize(cent, rounding=ROUND_HALF_UP) for d in discounts]
        if promo.max_discount is not None:
            set_totals = _cap(promo, set_totals, self.places)
        total = sum(set_totals, ZERO)
        takes: dict[int, int] = {}
        for unit in chosen:
            takes[unit[2]] = takes.get(unit[2], 0) + 1
        return _SetPass(total, sets, chosen, set_totals, list(takes.items()), frozenset(takes))


def _conflict_groups(
    promos: list[SetPromotion], shared: Iterable[list[str]]
) -> list[list[SetPromotion]]:
    """Set promotions that share no line cannot change each other's result, so only those
    that do (directly or through another) need their orders compared. `shared` lists, per
    line with more than one, the set promotions that target it."""
    parent = {p.id: p.id for p in promos}

    def root(pid: str) -> str:
        while parent[pid] != pid:
            parent[pid] = parent[parent[pid]]
            pid = parent[pid]
        return pid

    for ids in shared:
        present = [pid for pid in ids if pid in parent]
        for other in present[1:]:
            parent[root(other)] = root(present[0])
    groups: dict[str, list[SetPromotion]] = {}
    for promo in promos:
        groups.setdefault(root(promo.id), []).append(promo)
    return sorted(groups.values(), key=lambda g: min((p.priority, p.id) for p in g))


def _set_size(promo: SetPromotion) -> int:
    return promo.buy + promo.get if isinstance(promo, BuyGet) else promo.quantity


def _cap(promo: Any, amounts: list[Decimal], places: int) -> list[Decimal]:
    """Scale a promotion's discounts down to its `max_discount`, cent exact."""
    cap = promo.max_discount
    total = sum(amounts, ZERO)
    if cap is None or total <= cap:
        return amounts
    return allocate(cap, amounts, places)


def _tier_reached(promo: QuantityTiers, units: int) -> UnitsTier | None:
    """The highest tier of `promo` that `units` eligible units reach, or None."""
    reached = None
    for tier in promo.tiers:  # (min_units increasing: the catalog checks it)
        if units >= tier.min_units:
            reached = tier
    return reached


def _limited(promo: Any) -> bool:
    """Does a per-unit promotion carry a limit (per sale or per member)?"""
    return promo.limit_per_sale is not None or promo.limit_per_member is not None


def member_taken(promo: Any, member: MemberContext | None) -> int:
    """The units of `promo` the member already took at this box inside its schedule's
    window (`valid_from` inclusive to `valid_until` exclusive, store-local), refunds
    given back; never less than 0."""
    if member is None or not member.taken:
        return 0
    schedule = promo.schedule
    start = "" if schedule.valid_from is None else schedule.valid_from.isoformat()
    end = None if schedule.valid_until is None else schedule.valid_until.isoformat()
    taken = 0
    for promo_id, at, units in member.taken:
        if promo_id == promo.id and at >= start and (end is None or at < end):
            taken += units
    return max(0, taken)


def _room(promo: Any, member: MemberContext | None) -> int:
    """How many units of this sale a limited promotion may still cover: its
    `limit_per_sale`, and what the member has left of its `limit_per_member` (the smaller);
    without a member a member's limit leaves nothing (its promotion is `member_only`)."""
    room: int = MAX_UNITS if promo.limit_per_sale is None else promo.limit_per_sale
    if promo.limit_per_member is not None:
        room = min(room, max(0, promo.limit_per_member - member_taken(promo, member)))
    return room


def _over_limit_detail(promo: Any, within: int, units: int, member: MemberContext | None) -> str:
    """What a line says when `promo`'s limit left some of its units at the normal price:
    the member's limit when it is what binds, else the limit per sale."""
    over = units - within
    per_member = promo.limit_per_member
    if per_member is not None and (
        promo.limit_per_sale is None
        or per_member - member_taken(promo, member) < promo.limit_per_sale
    ):
        before = member_taken(promo, member)
        said = f"limit {per_member} per member, {min(before, per_member)} taken before"
    else:
        said = f"limit {promo.limit_per_sale} per sale"
    return f" ({said}: {within} of {units} units; {over} at the normal price)"


def _unit_detail(promo: Any, reached: dict[str, UnitsTier] | None = None) -> str:
    """What a per-unit promotion did (the plan adds "(capped at ...)" where it was)."""
    if isinstance(promo, PercentOff):
        return f"{promo.percent.normalize():f}% off"
    if isinstance(promo, QuantityTiers):
        assert reached is not None
        tier = reached[promo.id]
        return f"{tier.percent_off.normalize():f}% off each from {tier.min_units} units"
    if isinstance(promo, AmountOff):
        return f"{promo.amount} off each"
    return f"now {promo.price} each"


# -- largest remainder on whole minor units ---------------------------------------------------


def _minor_units(amount: Decimal, places: int) -> int | None:
    """`abs(amount)` in whole minor units, or None when it has more decimals than that (the
    same test `money.allocate` makes before it takes its integer path)."""
    numerator, denominator = amount.as_integer_ratio()
    whole, rest = divmod(abs(numerator) * 10**places, denominator)
    return None if rest else whole


class _Shares:
    """`money.allocate` for weights whose minor units the engine already holds.

    Same rule, same result, exponent for exponent: largest remainder in whole minor units,
    leftover units to the largest remainders, ties to the earliest; a share of f minor units
    is `Decimal(f) * quantum(places)`. `money.allocate` spends most of its time turning every
    weight into minor units and every share back into a `Decimal`. The engine already knows
    the weights' minor units (a line's amount is kept in both forms while basket promotions
    run) and meets the same few share values again and again, so each is made once per
    pricing (`amount`, and `discount` for its negative). Anything unusual (a negative total,
    a weight with more decimals than the currency) goes to `money.allocate` itself.
    `test_engine_reference.py` holds the two to the same results.
    """

    def __init__(self, places: int) -> None:
        self.places = places
        self.unit = quantum(places)
        self.amount: dict[int, Decimal] = {}
        self.discount: dict[int, Decimal] = {}

    def split(self, total: Decimal, units: Sequence[int | None]) -> list[int] | None:
        """Minor units of each share of `total` over weights of `units` minor units; every
        share is then in `amount` and `discount`. None: ask `money.allocate` instead."""
        if not units or total < 0 or None in units:
            return None
        whole: Sequence[int] = units  # type: ignore[assignment]  # None was ruled out
        if not any(whole):
            whole = [1] * len(whole)
        floors = self.split_whole(total, whole)
        amount = self.amount
        for f in set(floors).difference(amount):
            amount[f] = share = Decimal(f) * self.unit
            self.discount[f] = -share
        return floors

    def split_whole(self, total: Decimal, units: Sequence[int]) -> list[int]:
        """`split` for weights known to be whole minor units, some above 0, and `total` 0 or
        more, without making every share's amount (pricing per scan makes only those it
        needs, with `amount_of`)."""
        units_total = int((total / self.unit).to_integral_value(rounding=ROUND_HALF_UP))
        return largest_remainder(units_total, units)

    def amount_of(self, units: int) -> Decimal:
        """`units` minor units as an amount: `Decimal(units) * quantum(places)`."""
        amount = self.amount.get(units)
        if amount is None:
            amount = self.amount[units] = Decimal(units) * self.unit
            self.discount[units] = -amount
        return amount

    def allocate(
        self, total: Decimal, weights: list[Decimal], units: Sequence[int | None]
    ) -> list[Decimal]:
        """`money.allocate(total, weights, places)`, given the weights' minor units."""
        floors = self.split(total, units)
        if floors is None:
            return allocate(total, weights, self.places)
        amount = self.amount
        return [amount[f] for f in floors]


# -- 2b. threshold offers: 加价购 (add_on) and 满赠 (gift) ---------------------------------------


def offer_label(promo: ThresholdOffer) -> str:
    """The label of the adjustment a threshold offer gives: `gift: NAME`, `add-on: NAME`."""
    return f"{GIFT_LABEL if isinstance(promo, Gift) else ADD_ON_LABEL}: {promo.name}"


def offer_price(promo: ThresholdOffer) -> Decimal:
    """What one unit of the offer's item costs when the offer applies (a gift: nothing)."""
    return promo.price if isinstance(promo, AddOn) else ZERO


def offer_spend(promo: ThresholdOffer, lines: Sequence[Any], catalog: Catalog) -> Decimal:
    """What counts toward `promo`'s threshold: the lines a threshold would count (not
    `no_discount`, not under an exclusive promotion, costing more than zero) in its
    target, as they cost after item promotions, except every line of the offer's own item
    (an add-on never pays for its own threshold)."""
    item = promo.item
    return sum(
        [
            line.amount
            for line in lines
            if line.product.sku != item
            and not line.exclusive
            and "no_discount" not in line.product.flags
            and line.amount > 0
            and catalog.in_target(promo, line.product)
        ],
        ZERO,
    )


def apply_threshold_offers(
    lines: list[_Line], catalog: Catalog, active: set[str], ledger: _Ledger
) -> None:
    """Step 2b: 加价购 and 满赠, after item promotions and before the 满减 thresholds.

    Every live offer's spend is counted on the lines as step 2 left them (`offer_spend`),
    so offers do not feed each other, and the 满减 thresholds after them count an add-on
    line at what it then costs. An offer whose spend reached its threshold prices up to
    `quantity` units of its item at the offer's price, on counted lines of that item (not
    under an exclusive promotion: its price is the last word on its units). A unit's cost
    is its line's amount after step 2 over its units, so a unit that an item promotion
    made cheaper is topped up to the offer's price, never given both: the line's discount
    is n x (that cost - the offer's price), rounded half up to the minor unit, and a line
    whose units already cost no more than the offer's price takes nothing. Units are taken
    from the line whose units cost most, then the line with more units, then the earlier
    line (by what the lines are, so scan order never changes a total); offers go in
    priority order, each taking the units the earlier ones left. A line's discount is one
    `promotion` adjustment labelled `offer_label`, capped by `max_discount` as item
    promotions are.
    """
    promos = [p for p in catalog.offer_promotions if p.id in active]
    if not promos:
        return
    places = catalog.places
    free: dict[int, int] = {}  # line index -> units no offer took yet
    cost: dict[int, tuple[Decimal, int, Decimal]] = {}  # amount, units, amount per unit
    for line in lines:
        if (
            line.count is not None
            and line.source.label_price is None
            and not line.exclusive
            and "no_discount" not in line.product.flags
        ):
            free[line.index] = line.count
            cost[line.index] = (line.amount, line.count, line.amount / line.count)
    spends = {p.id: offer_spend(p, lines, catalog) for p in promos}
    for promo in promos:
        spend = spends[promo.id]
        if spend < promo.threshold:
            continue
        price = offer_price(promo)
        units = [
            line
            for line in lines
            if line.product.sku == promo.item
            and free.get(line.index, 0) > 0
            and cost[line.index][2] > price
        ]
        # dearest unit first, then the line with more units: a choice by what the lines
        # are, not where they stand, so scan order never changes a total (lines equal on
        # both price the same whichever takes the offer)
        units.sort(key=lambda ln: (-cost[ln.index][2], -free[ln.index], ln.index))
        wanted = promo.quantity
        awards: list[tuple[_Line, int, Decimal]] = []
        for line in units:
            if not wanted:
                break
            n = min(wanted, free[line.index])
            wanted -= n
            free[line.index] -= n
            amount, count, _ = cost[line.index]
            off = n * (amount - count * price) / count  # n x (cost of a unit - price)
            awards.append((line, n, round_money(off, places, Rounding.HALF_UP)))
        if not awards:
            continue
        amounts = _cap(promo, [a for _, _, a in awards], places)
        label = offer_label(promo)
        given: list[Decimal] = []
        indexes: list[int] = []
        for (line, n, uncapped), amount in sorted(
            zip(awards, amounts, strict=True), key=lambda a: a[0][0].index
        ):
            if amount <= 0:
                continue
            each = "free" if isinstance(promo, Gift) else f"at {price}"
            detail = f"{n} {each} with a spend of {promo.threshold}"
            if amount < uncapped:
                detail += f" (capped at {promo.max_discount})"
            line.adjustments.append(Adjustment("promotion", -amount, label, promo.id, detail))
            line.amount -= amount
            line.minor = _UNKNOWN  # (pricing per scan's minor units no longer hold)
            line.exclusive = line.exclusive or promo.exclusive
            given.append(-amount)
            indexes.append(line.index)
        ledger.item.extend(given)
        ledger.give(promo.id, promo.name, ZERO - sum(given, ZERO), indexes)
        if indexes:
            ledger.spends[promo.id] = spend


# -- 3. basket promotions --------------------------------------------------------------------


def _apply_basket_promotions(
    lines: list[_Line], catalog: Catalog, active: set[str], places: int, ledger: _Ledger
) -> None:
    promos = [p for p in catalog.basket_promotions if p.id in active]
    if not promos:
        return
    open_lines = [  # what any threshold may count, before looking at its target
        line
        for line in lines
        if not line.exclusive and "no_discount" not in line.product.flags and line.amount > 0
    ]
    eligible = {p.id: _eligible(p, open_lines, catalog) for p in promos}
    chosen: list[BasketThreshold] = [p for p in promos if p.stackable]
    single = [p for p in promos if not p.stackable]
    spend: dict[int, Decimal] = {}  # by eligible list: thresholds for all items share one
    if single:
        for p in single:
            counted = eligible[p.id]
            if id(counted) not in spend:
                spend[id(counted)] = sum([line.amount for line in counted], ZERO)
        values = [(_threshold_discount(p, spend[id(eligible[p.id])], places), p) for p in single]
        best_value, best = max(values, key=lambda v: (v[0], -v[1].priority))
        if best_value > 0:
            chosen.append(best)
    ordered = sorted(chosen, key=lambda p: (p.priority, p.id))
    shares = _Shares(places)
    if all(eligible[p.id] is open_lines for p in ordered):
        ordered = _thresholds_in_minor_units(
            ordered, open_lines, spend.get(id(open_lines)), shares, ledger
        )
    for promo in ordered:
        _threshold(promo, eligible[promo.id], shares, ledger)


def _threshold(
    promo: BasketThreshold, eligible: Sequence[_Line], shares: _Shares, ledger: _Ledger
) -> None:
    """Apply one threshold to the lines it counts, as they cost now."""
    places = shares.places
    own = [line for line in eligible if line.amount > 0]
    amounts = [line.amount for line in own]
    total = sum(amounts, ZERO)
    discount = _threshold_discount(promo, total, places)
    if discount <= 0:
        return
    detail = threshold_detail(discount)
    name, promo_id = promo.name, promo.id
    given: list[Decimal] = []
    indexes: list[int] = []
    split = shares.allocate(discount, amounts, [_minor_units(a, places) for a in amounts])
    for line, share in zip(own, split, strict=True):
        if share:
            line.adjustments.append(Adjustment("basket", -share, name, promo_id, detail))
            line.amount -= share
            given.append(-share)
            indexes.append(line.index)
    taken_off = ZERO - sum(given, ZERO)
    ledger.basket.append(taken_off)
    ledger.give(promo_id, name, taken_off, indexes)
    ledger.spends[promo_id] = total


def _thresholds_in_minor_units(
    ordered: list[BasketThreshold],
    own: list[_Line],
    spend: Decimal | None,
    shares: _Shares,
    ledger: _Ledger,
) -> list[BasketThreshold]:
    """Apply thresholds that all count the same lines (`own`, each costing more than
    zero), the usual case, in whole minor units; return those left for `_threshold`.

    The same as `_threshold` one after another, worked out in integers: each threshold's
    spend is the lines' minor units summed, and each line's amount is brought down once, by
    all its shares together. That is exact while every line still costs something (else the
    next threshold counts fewer lines) and while the spend keeps the currency's exponent:
    the first spend is summed as `Decimal`, and after a share every line amount that took
    one has the currency's exponent, so a later spend has it too unless the first one had
    more decimals. Any other case goes back to `_threshold` from there on.
    """
    places = shares.places
    units = [
        _minor_units(line.amount, places) if line.minor is _UNKNOWN else line.minor for line in own
    ]
    if spend is None:  # (what the lines cost: summed already if a threshold was chosen on it)
        spend = sum([line.amount for line in own], ZERO)
    exponent = spend.as_tuple().exponent
    if None in units or not isinstance(exponent, int) or exponent < -places:
        return ordered
    start: list[int] = units  # type: ignore[assignment]  # None ruled out
    cents = start
    shared = False  # has a threshold given a line a share yet?
    left = ordered
    while left:
        promo = left[0]
        if shared:
            if 0 in cents:
                break  # a line costs nothing now: the next threshold counts fewer lines
            spend = shares.amount_of(sum(cents))
        left = left[1:]
        discount = _threshold_discount(promo, spend, places)
        if discount <= 0:
            continue
        floors = shares.split(discount, cents)
        assert floors is not None  # whole minor units, a positive total
        given = sum(floors)
        if not given:
            continue  # a discount under one minor unit: no line gets anything
        shared = True
        detail = threshold_detail(discount)
        name, promo_id = promo.name, promo.id
        discount_of = shares.discount
        made: dict[int, Adjustment] = {}  # lines given the same share share one (read-only)
        for line, f in zip(own, floors, strict=True):
            if f:
                adjustment = made.get(f)
                if adjustment is None:
                    adjustment = made[f] = Adjustment(
                        "basket", discount_of[f], name, promo_id, detail
                    )
                line.adjustments.append(adjustment)
        cents = [c - f for c, f in zip(cents, floors, strict=True)]
        taken_off = shares.amount_of(given)
        ledger.basket.append(taken_off)
        ledger.give(
            promo_id,
            name,
            taken_off,
            [line.index for line, f in zip(own, floors, strict=True) if f],
        )
        ledger.spends[promo_id] = spend
    for line, before, now in zip(own, start, cents, strict=True):
        if before != now:
            line.amount -= shares.amount_of(before - now)
    return left


def _apply_basket_discount(
    lines: list[_Line], discount: ManualDiscount | None, places: int, ledger: _Ledger
) -> None:
    """Step 3b: a whole-basket manual discount (整单折扣) on the lines that take basket
    discounts, as they cost after the thresholds. Exclusive lines keep out of it, as they
    keep out of thresholds: an exclusive promotion's price is the last word on its units."""
    if discount is None:
        return
    own = [
        line
        for line in lines
        if not line.exclusive and "no_discount" not in line.product.flags and line.amount > 0
    ]
    amounts = [line.amount for line in own]
    off = basket_discount_amount(discount, sum(amounts, ZERO), places)
    if off <= 0:
        return
    label, detail = discount.label, threshold_detail(off)
    shares = _Shares(places)
    given: list[Decimal] = []
    split = shares.allocate(off, amounts, [_minor_units(a, places) for a in amounts])
    for line, share in zip(own, split, strict=True):
        if share:
            line.adjustments.append(Adjustment("basket", -share, label, None, detail))
            line.amount -= share
            given.append(-share)
    ledger.basket.append(ZERO - sum(given, ZERO))


def basket_discount_amount(discount: ManualDiscount, spend: Decimal, places: int) -> Decimal:
    """What a manual basket discount takes off `spend` (what its lines cost): a percent
    rounded half up to the currency, or the amount; never more than `spend`."""
    if discount.percent is not None:
        off = round_money(spend * discount.percent / HUNDRED, places, Rounding.HALF_UP)
    else:
        assert discount.amount is not None
        off = discount.amount
    return min(off, spend)


def threshold_detail(discount: Decimal) -> str:
    """What a line's share of a threshold says: the discount it is a share of. The spend
    that discount was worked out on is the basket's (`PricedBasket.promotions`' `spend`),
    not the line's, so a line whose share stays the same keeps the same explanation while
    the basket grows (pricing per scan re-uses such lines as they are)."""
    return f"share of {discount} off"


def _eligible(promo: BasketThreshold, lines: Sequence[_Line], catalog: Catalog) -> Sequence[_Line]:
    """The lines `promo` counts, among `lines` (those that take basket discounts at all)."""
    if promo.target.all_items:  # the usual 满减: Catalog.in_target says yes to every line
        return lines
    return [line for line in lines if catalog.in_target(promo, line.product)]


def _threshold_discount(promo: BasketThreshold, spend: Decimal, places: int) -> Decimal:
    """What `promo` takes off `spend`, the amount of the lines it counts."""
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


# -- deposits (Pfand / 押金) and empties returns (Leergut) ------------------------------------


def empties_line(line: _Line) -> _Line:
    """A deposit product rung up on its own is an empties return (Leergut): the deposit
    paid back, a negative line of `-price x quantity`. It takes no promotion, no threshold,
    no basket discount and no 抹零 share (a deposit product is `no_discount`), and its tax
    is its own tax class's (the deposit it pays back was charged at the rate of a bottle
    nobody can name any more). An override, a label or an open price on it is refused."""
    source = line.source
    if source.price_override is not None or source.label_price is not None or source.open_price:
        raise PricingError(
            f"{line.product.name} is a deposit: an empties return is paid back at its price",
            where=_where(line.index, source),
            fix="scan the deposit code once per empty bottle (or with a quantity)",
        )
    line.unit_price = -line.unit_price
    line.list_amount = -line.list_amount
    line.amount = -line.amount
    line.counted_best = None
    return line


def is_empties(line: _Line | PricedLine) -> bool:
    """An empties return line (a deposit product rung up on its own)."""
    flags = line.product.flags if isinstance(line, _Line) else line.flags
    return bool(flags) and DEPOSIT_FLAG in flags


def line_deposits(catalog: Catalog, lines: Sequence[_Line]) -> list[Decimal]:
    """The deposit each line carries: its product's deposit price x its units (a price
    label is one unit), zero for a line without one. It is read as the line's prices are
    (before tax for an exclusive tax class), and taxed at the line's rate: in Germany the
    Pfand shares the VAT rate of the drink it comes with (UStAE 10.1 (8))."""
    if not catalog.deposits:
        return [ZERO] * len(lines)
    out = []
    for line in lines:
        ref = line.product.deposit
        out.append(ZERO if ref is None else catalog.deposits[ref.sku].price * line.units)
    return out


def deposit_gross(line: _Line, deposit: Decimal, cent: Decimal, mode: str) -> Decimal:
    """What `deposit` on `line` adds to its total: itself for an inclusive tax class, with
    its tax added (rounded by `tax_rounding`) for an exclusive one."""
    if not deposit or line.tax.inclusive:
        return deposit
    return deposit + (deposit * line.tax.rate / HUNDRED).quantize(cent, mode)


def moling_weights(lines: Sequence[_Line], totals: Sequence[Decimal]) -> list[Decimal]:
    """What each line weighs when 抹零 is shared out: its total without deposit, zero for
    an empties return and for a line costing nothing (a deposit takes no share)."""
    return [
        ZERO if is_empties(line) or total <= 0 else total
        for line, total in zip(lines, totals, strict=True)
    ]


# -- 4 and 5. tax, 抹零, totals ----------------------------------------------------------------


def _finish(
    basket: Basket, catalog: Catalog, lines: list[_Line], active: set[str], ledger: _Ledger
) -> PricedBasket:
    money = catalog.money
    places = money.decimals
    rule = money.tax_rounding
    # a line's tax: round_money(amount x rate / 100) added to a net amount, or
    # round_money(total x rate / (100 + rate)) backed out of a total, by `tax_rounding`
    # (written out in the loops: they run for every line of every pricing)
    cent, mode = quantum(places), rule.decimal_mode
    per_rate = money.tax_per == "rate"
    totals: list[Decimal] = []
    if per_rate:
        totals = [line.amount for line in lines]
        added = [line for line in lines if not line.tax.inclusive]
        for line, share in zip(
            added, tax_per_rate(added, totals, places, rule, False), strict=True
        ):
            totals[line.index] += share
    else:
        for line in lines:
            tax_class = line.tax
            if tax_class.inclusive:
                totals.append(line.amount)
            else:
                rate = tax_class.rate
                totals.append(line.amount + (line.amount * rate / HUNDRED).quantize(cent, mode))
    deposits = line_deposits(catalog, lines)
    gross = [deposit_gross(line, d, cent, mode) for line, d in zip(lines, deposits, strict=True)]
    grand = sum(totals, ZERO) + sum(gross, ZERO)
    mo = money.moling_off(grand) if grand > 0 else ZERO
    moled: set[int] = set()
    weights = moling_weights(lines, totals) if catalog.deposits else totals
    if catalog.deposits and -mo > sum(weights, ZERO):  # never more than the items cost
        mo = ZERO - sum(weights, ZERO)
    if mo:
        for line, share in zip(lines, allocate(mo, weights, places), strict=True):
            if share:
                line.adjustments.append(
                    Adjustment("moling", share, "抹零 rounding down", detail=f"{mo} on {grand}")
                )
                totals[line.index] += share
                moled.add(line.index)
    priced = []
    counts: dict[int, Decimal] = {}
    list_total = ZERO
    points = points_multipliers(catalog, basket, active)
    by_class: dict[str, list[Decimal]] = {}  # tax class -> [tax, gross] of its lines
    backed: dict[int, Decimal] = {}  # per rate: each backed-out line's share of its rate's tax
    if per_rate:
        out = [line for line in lines if line.tax.inclusive or line.index in moled]
        with_deposits = [t + g for t, g in zip(totals, gross, strict=True)]
        backed = dict(
            zip(
                [line.index for line in out],
                tax_per_rate(out, with_deposits, places, rule, True),
                strict=True,
            )
        )
    for line, total, deposit, deposit_total in zip(lines, totals, deposits, gross, strict=True):
        total += deposit_total
        tax_class = line.tax
        if per_rate and line.index in backed:
            tax = backed[line.index]
        elif tax_class.inclusive or line.index in moled:
            rate = tax_class.rate
            tax = (total * rate / (HUNDRED + rate)).quantize(cent, mode)
        else:
            tax = total - line.amount - deposit
        amount = total if tax_class.inclusive else total - tax
        list_total += line.list_amount
        sums = by_class.get(tax_class.id)
        if sums is None:
            by_class[tax_class.id] = [ZERO + tax, ZERO + total]
        else:
            sums[0] += tax
            sums[1] += total
        count = line.count
        source = line.source
        if count is None:
            quantity = source.weight or Decimal(1)
        else:
            quantity = counts.get(count) or counts.setdefault(count, Decimal(count))
        multiplier = _multiplier(catalog, points, line.product)
        adjustments = tuple(line.adjustments)
        priced.append(
            _priced_line(line, adjustments, quantity, amount, tax, total, multiplier, deposit_total)
        )
    notices = coupon_notices(basket, catalog, active, lines)
    grand_total = sum(totals, ZERO) + sum(gross, ZERO)
    return basket_result(
        basket, catalog, tuple(priced), list_total, ledger, mo, by_class, grand_total, notices
    )


def tax_per_rate(
    lines: list[_Line], amounts: list[Decimal], places: int, rule: Rounding, backed_out: bool
) -> list[Decimal]:
    """`money.tax_per = "rate"`: each tax class's tax on `lines` (of `amounts`, by line
    index) rounded once — added to their net sum, or backed out of their gross sum — and
    shared back over them by largest remainder in proportion to their amounts, so the lines'
    taxes add up to the rate's and a refund of any line returns its own share. A class with
    a line below zero keeps per-line rounding (a share of a sum is not defined there).
    The shares come back in the order of `lines`."""
    by_class: dict[str, list[_Line]] = {}
    for line in lines:
        by_class.setdefault(line.tax.id, []).append(line)
    share_of: dict[int, Decimal] = {}
    for members in by_class.values():
        rate = members[0].tax.rate
        part = [amounts[line.index] for line in members]
        divisor = HUNDRED + rate if backed_out else HUNDRED
        if any(amount < 0 for amount in part):
            shares = [round_money(a * rate / divisor, places, rule) for a in part]
        else:
            tax = round_money(sum(part, ZERO) * rate / divisor, places, rule)
            shares = allocate(tax, part, places)
        share_of.update(zip([line.index for line in members], shares, strict=True))
    return [share_of[line.index] for line in lines]


def basket_result(
    basket: Basket,
    catalog: Catalog,
    lines: tuple[PricedLine, ...],
    list_total: Decimal,
    ledger: _Ledger,
    mo: Decimal,
    by_class: dict[str, list[Decimal]],
    total: Decimal,
    notices: tuple[str, ...],
    deposits: Decimal | None = None,
    empties: Decimal | None = None,
) -> PricedBasket:
    """The priced basket from its result lines and what the ledger wrote down (also made by
    pricing per scan): `by_class` is each tax class's [tax, gross] of its lines, `mo` the
    抹零 shared over them, `total` what the lines' totals add up to; `deposits` and
    `empties` their sums when the caller knows them (pricing per scan: zero, it prices no
    basket with a deposit or an empties line), else added up here."""
    money = catalog.money
    return PricedBasket(
        currency=money.currency,
        places=money.decimals,
        catalog_version=catalog.version,
        lines=lines,
        list_total=list_total,
        item_discounts=ZERO - sum(ledger.item, ZERO),
        basket_discounts=sum(ledger.basket, ZERO),
        moling=mo,
        tax=sum([sums[0] for sums in by_class.values()], ZERO),
        taxes=_tax_summary(by_class, catalog),
        total=total,
        cash_rounding=money.cash_adjustment(total),
        member=basket.member.id if basket.member else None,
        coupons=tuple(basket.coupons),
        notices=notices,
        promotions=ledger.promotions(),
        deposits=sum([line.deposit for line in lines], ZERO) if deposits is None else deposits,
        empties=(
            sum([line.total for line in lines if is_empties(line)], ZERO)
            if empties is None
            else empties
        ),
    )


def _priced_line(
    line: _Line,
    adjustments: tuple[Adjustment, ...],
    quantity: Decimal,
    amount: Decimal,
    tax: Decimal,
    total: Decimal,
    multiplier: int = 1,
    deposit: Decimal = ZERO,
) -> PricedLine:
    """The result line of working line `line` (also made by pricing per scan); `deposit`:
    what the line's deposit adds to its total."""
    product, source, tax_class = line.product, line.source, line.tax
    # positional, in PricedLine's field order: keywords cost four times as much here,
    # and this runs for every line of every pricing
    return PricedLine(
        line.index,
        product.sku,
        product.name,
        product.category,
        product.unit,
        quantity,
        line.unit_price,
        line.list_amount,
        adjustments,
        amount,
        tax_class.id,
        tax_class.rate,
        tax_class.inclusive,
        tax,
        total,
        source.weight,
        source.label_price,
        source.code,
        tuple(product.flags),
        multiplier,
        deposit,
        product.deposit.sku if product.deposit is not None else None,
    )


def points_multipliers(
    catalog: Catalog, basket: Basket, active: set[str]
) -> list[PointsMultiplier] | None:
    """The live `points_multiplier` promotions, or None when there is none or no member
    (points are a member's)."""
    if basket.member is None or not catalog.points_promotions:
        return None
    live = [p for p in catalog.points_promotions if p.id in active]
    return live or None


def _multiplier(catalog: Catalog, live: list[PointsMultiplier] | None, product: Product) -> int:
    """The highest multiplier of the live points promotions targeting `product` (they do
    not multiply each other: a member day and a category week give the larger), else 1."""
    if live is None:
        return 1
    return max((p.multiplier for p in live if catalog.in_target(p, product)), default=1)


def _tax_summary(by_class: dict[str, list[Decimal]], catalog: Catalog) -> tuple[TaxSummary, ...]:
    """One row per tax class used, from its lines' summed tax and gross, lowest rate first."""
    out = []
    for tax_id in sorted(by_class, key=lambda t: (catalog.tax_classes[t].rate, t)):
        tc = catalog.tax_classes[tax_id]
        tax, gross = by_class[tax_id]
        out.append(TaxSummary(tax_id, tc.name, tc.rate, tc.inclusive, gross - tax, tax, gross))
    return tuple(out)
