"""Pricing per scan: the same result as `price_basket`, re-using what the last pricing of
the same sale worked out for the lines that did not change.

Pure: no I/O, no clock, no globals of its own. What is re-used is a value,
`PricingMemo`, that the caller carries (the lane keeps it on its `Sale`) and hands back
with the next basket; `price_scan` returns the priced basket and the next memo. A memo
from another catalog, another set of live promotions (the hour, coupons) or another
member state is simply not used.

What can be re-used, and why it is exact. `price_basket`'s steps 1 and 2 (list amounts,
override, member price; item promotions) couple lines only through promotions:

- a line's list amount, override and member price are its own;
- a per-unit promotion without `max_discount` is each line's own choice (its best), so a
  line's award depends on the line alone and on what the set promotions took of it;
- a set promotion forms sets from the units of every line it targets, and set promotions
  that share a line are compared together (`engine._conflict_groups`);
- a per-unit promotion with `max_discount` shares its cap between all its lines.

So the lines fall into *parts*: lines linked (directly or through each other) by a set
promotion or a capped per-unit promotion they carry form one part, a line with neither is
a part alone. Steps 1 and 2 of a part depend only on its lines, their order and the
catalog facts, so a part whose lines are the same, at the same places, as in the memo keeps
its result; the others (the line just scanned, the line whose quantity changed, the part
that line joined) are worked out again by the engine's own step functions, run on that
part alone (lines that are each a part of their own: in one pass, `_lines_alone`).
Steps 3 to 5 (thresholds, 满减, tax, 抹零, totals) depend on every line and are always
worked out in full, by the engine's own functions, from the parts' results.

The per-promotion summary (`PricedBasket.promotions`) is merged from the parts: a
per-unit promotion given in several parts is one entry (its lines in order, its
discounts summed), in the engine's order (first line, then set promotions before per-unit
ones before thresholds). `tests/pricing/test_incremental.py` checks, over random catalogs
and random sequences of adds, quantity changes, removals, member and coupon changes, that
every result is field for field the one `price_basket` gives for the same basket.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from gateway.catalog.catalog import Catalog
from gateway.money import ZERO
from gateway.pricing.basket import Basket, BasketLine
from gateway.pricing.engine import (
    _SET_PROMOTIONS,
    _UNIT_PROMOTIONS,
    _active_promotions,
    _apply_basket_promotions,
    _apply_item_promotions,
    _base_line,
    _catalog_priced_line,
    _facts_for,
    _finish,
    _Ledger,
    _Line,
    _minor_units,
)
from gateway.pricing.result import PricedBasket

# what a part gave, per promotion, in the order the engine gave it: (promotion id, name,
# discount, the lines' indexes in the basket, a set promotion?)
_Give = tuple[str, str, Decimal, tuple[int, ...], bool]


@dataclass(frozen=True, slots=True)
class _Part:
    """Steps 1 and 2 of one part: its lines as step 2 left them (read-only templates, by
    index in the basket), what they gave and the amounts of their item adjustments."""

    lines: tuple[_Line, ...]
    gives: tuple[_Give, ...]
    item: tuple[Decimal, ...]


@dataclass(frozen=True)
class PricingMemo:
    """What one pricing of a sale worked out, for the next pricing of the same sale.

    Read-only (nothing in it is changed after it is made). `lines` is the basket it priced;
    `listed[i]` line i after step 1 and `links[i]` the promotions that tie it to other lines;
    `parts` the parts' results by the indexes of their lines."""

    catalog: Catalog | None = None
    live: frozenset[str] = frozenset()
    member: bool = False
    lines: tuple[BasketLine, ...] = ()
    listed: tuple[_Line, ...] = ()
    links: tuple[tuple[str, ...], ...] = ()
    parts: dict[tuple[int, ...], _Part] = field(default_factory=dict)


EMPTY = PricingMemo()


def price_scan(
    basket: Basket, catalog: Catalog, memo: PricingMemo | None = None
) -> tuple[PricedBasket, PricingMemo]:
    """`price_basket(basket, catalog)`, re-using `memo` (the previous pricing's) where the
    lines allow; returns the priced basket and the memo for the next pricing. Raises the
    same `PricingError` as `price_basket` for a line it cannot price."""
    places = catalog.places
    active = _active_promotions(catalog, basket)
    live = frozenset(active)
    member = basket.member is not None
    facts = _facts_for(catalog, live, member)
    old = memo if memo is not None else EMPTY
    if old.catalog is not catalog or old.live != live or old.member != member:
        old = EMPTY
    old_lines, old_listed, old_links, old_parts = old.lines, old.listed, old.links, old.parts
    known = len(old_lines)
    count = len(basket.lines)
    listed: list[_Line] = []
    links: list[tuple[str, ...]] = []
    changed: set[int] = set()
    done: dict[tuple[int, ...], _Part] = {}
    work: list[_Line | None] = [None] * count
    ledger = _Ledger()
    item = ledger.item
    tied: list[int] = []  # the lines of parts of more than one line, worked out below
    alone: list[int] = []  # lines that are a part of their own, with no result to re-use
    # step 1, line by line in order (so the first line that cannot be priced is the one
    # named, as in `price_basket`); a line tied to no other is a part of its own
    for i, source in enumerate(basket.lines):
        if i < known and (old_lines[i] is source or old_lines[i] == source):
            listed.append(old_listed[i])
            own = old_links[i]
            links.append(own)
            if own:
                tied.append(i)
                continue
            key: tuple[int, ...] = (i,)
            part = old_parts.get(key)
            if part is None:
                alone.append(i)
                continue
            done[key] = part
            work[i] = _copy(part.lines[0])
            item.extend(part.item)
            continue
        product = facts.get(source.sku)
        if product is None:
            product = facts.learn(catalog, source.sku, i, source)
        if (
            product.counted
            and source.label_price is None
            and source.price_override is None
            and source.open_price is None
        ):
            line = _catalog_priced_line(i, source, product)
        else:
            line = _base_line(i, source, product, catalog, places, basket)
        listed.append(line)
        own = _links_of(line)
        links.append(own)
        if own:
            tied.append(i)
            changed.add(i)
        else:
            alone.append(i)
    # step 2 of the lines on their own, all in one pass of the engine (nothing ties them:
    # each takes its own best per-unit promotion, uncapped), then one part per line
    for part in _lines_alone(alone, listed, places):
        template = part.lines[0]
        done[(template.index,)] = part
        work[template.index] = _copy(template)
        item.extend(part.item)
    # the other parts: lines tied by a promotion they carry, through each other
    owner: dict[str, list[int]] = {}  # a link -> the part (a shared list of indexes) it is in
    for i in tied:
        group: list[int] | None = None
        for link in links[i]:
            other = owner.get(link)
            if other is None or other is group:
                continue
            if group is None:
                group = other
            else:  # two parts meet on this line: merge the smaller into the larger
                big, small = (group, other) if len(group) >= len(other) else (other, group)
                big.extend(small)
                for moved in small:
                    for again in links[moved]:
                        owner[again] = big
                group = big
        if group is None:
            group = []
        group.append(i)
        for link in links[i]:
            owner[link] = group
    seen: set[int] = set()
    for group in owner.values():
        if id(group) in seen:
            continue
        seen.add(id(group))
        key = tuple(sorted(group))
        part = old_parts.get(key)  # re-used when it is the same lines at the same places
        if part is None or not changed.isdisjoint(key):
            part = _item_promotions(key, listed, places)
        done[key] = part
        for template in part.lines:
            work[template.index] = _copy(template)
        item.extend(part.item)
    # what each promotion gave: (name, discounts, lines); a per-unit promotion given in
    # several parts is one entry, as in `price_basket`
    merged: dict[str, tuple[str, list[Decimal], list[int]]] = {}
    order: list[tuple[int, int, int, str]] = []  # (first line, kind, seq, promotion id)
    seq = 0
    for part in done.values():
        for promo_id, name, discount, indexes, is_set in part.gives:
            seq += 1
            entry = merged.get(promo_id)
            if entry is None:
                merged[promo_id] = (name, [discount], list(indexes))
                order.append((indexes[0], 0 if is_set else 1, seq, promo_id))
            else:  # (only a per-unit promotion: a set promotion's lines are one part)
                entry[1].append(discount)
                entry[2].extend(indexes)
    order.sort()
    for *_, promo_id in order:
        name, discounts, given_to = merged[promo_id]
        given_to.sort()
        ledger.give(promo_id, name, sum(discounts, ZERO), given_to)
    # steps 3 to 5 in full, on the fresh working lines made from the parts' templates
    lines: list[_Line] = work  # type: ignore[assignment]  # every index is in one part
    _apply_basket_promotions(lines, catalog, active, places, ledger)
    priced = _finish(basket, catalog, lines, active, ledger)
    return priced, PricingMemo(
        catalog, live, member, basket.lines, tuple(listed), tuple(links), done
    )


def _links_of(line: _Line) -> tuple[str, ...]:
    """The promotions that tie `line` to other lines: its set promotions, and its per-unit
    promotions with a cap (shared by all their lines)."""
    capped = [
        promo.id
        for promo in line.promotions
        if isinstance(promo, _UNIT_PROMOTIONS) and promo.max_discount is not None
    ]
    return tuple([promo.id for promo in line.sets] + capped)


def _copy(line: _Line, index: int | None = None) -> _Line:
    """A working copy of a template line (its own adjustment list), at `index` if given."""
    return _Line(
        line.index if index is None else index,
        line.source,
        line.product,
        line.tax,
        line.count,
        line.units,
        line.unit_price,
        line.list_amount,
        line.amount,
        list(line.adjustments),
        line.promotions,
        line.promotion_ids,
        line.exclusive,
        line.counted_best,
        line.sets,
        line.minor,
    )


def _lines_alone(alone: list[int], listed: list[_Line], places: int) -> list[_Part]:
    """Step 2 for lines that are each a part of their own (`alone`: their indexes), in one
    pass of the engine over all of them, cut into one part per line. The same as a pass
    per line: such a line carries no set promotion and no capped one, so the engine gives
    it its own best per-unit promotion whatever the other lines are; what that promotion
    gave on the line alone is its one adjustment of kind `promotion`, and the discount is
    worked out exactly as `_Ledger.give` is handed it for a one-line give."""
    if not alone:
        return []
    whole = _item_promotions(tuple(alone), listed, places)
    parts = []
    for line in whole.lines:
        gives: list[_Give] = []
        for adjustment in line.adjustments:
            if adjustment.kind == "promotion":
                assert adjustment.promotion is not None
                discount = ZERO - sum([adjustment.amount], ZERO)
                gives.append(
                    (adjustment.promotion, adjustment.label, discount, (line.index,), False)
                )
        item = tuple([a.amount for a in line.adjustments])
        parts.append(_Part((line,), tuple(gives), item))
    return parts


def _item_promotions(key: tuple[int, ...], listed: list[_Line], places: int) -> _Part:
    """Step 2 for the lines `key` (indexes in the basket), by the engine on those lines
    alone, numbered 0, 1, ... in the same order (every choice the engine makes by line
    index only compares indexes, so the order is all that counts)."""
    sub = [_copy(listed[index], local) for local, index in enumerate(key)]
    ledger = _Ledger()
    _apply_item_promotions(sub, places, ledger)
    for local, line in enumerate(sub):
        line.index = key[local]
        line.minor = _minor_units(line.amount, places)
    kinds = {
        promo.id: isinstance(promo, _SET_PROMOTIONS) for line in sub for promo in line.promotions
    }
    gives = tuple(
        (promo_id, name, discount, tuple([key[i] for i in indexes]), kinds[promo_id])
        for _, _, promo_id, name, discount, indexes in ledger._given
    )
    item = tuple([a.amount for line in sub for a in line.adjustments])
    return _Part(tuple(sub), gives, item)
