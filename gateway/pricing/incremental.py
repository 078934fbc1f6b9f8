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
- a per-unit promotion with `max_discount` shares its cap between all its lines, one with
  `limit_per_sale` or `limit_per_member` its limit (a member's limit also counts what
  the member took before: the memo is used only with the same counts,
  `MemberContext.taken`), and quantity tiers count the units of all their lines.

So the lines fall into *parts*: lines linked (directly or through each other) by a set
promotion, a capped or limited per-unit promotion or quantity tiers they carry form one
part, a line with none of them is a part alone. Steps 1 and 2 of a part depend only on its
lines, their order and the catalog facts, so a part whose lines are the same, at the same
places, as in the memo keeps its result; the others (the line just scanned, the line whose
quantity changed, the part that line joined) are worked out again by the engine's own step
functions, run on that part alone (lines that are each a part of their own: in one pass,
`_lines_alone`).
Steps 2b to 5 (threshold offers 加价购 / 满赠, thresholds 满减, tax, 抹零, totals) depend on
every line and are worked out from the parts' results: per scan for the usual basket
(`_finish_per_scan`), else in full by the engine's own functions. A live threshold offer
always takes the full path (it changes a line's amount after step 2, which every later
step reads), so pricing per scan with one live is `price_basket` by construction.

The per-promotion summary (`PricedBasket.promotions`) is merged from the parts: a
per-unit promotion given in several parts is one entry (its lines in order, its
discounts summed), in the engine's order (first line, then set promotions before per-unit
ones before thresholds). `tests/pricing/test_incremental.py` checks, over random catalogs
and random sequences of adds, quantity changes, removals, member and coupon changes, that
every result is field for field the one `price_basket` gives for the same basket.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, ROUND_UP, Decimal, getcontext
from itertools import compress, repeat
from operator import attrgetter, eq, is_not, mul, ne, sub

from gateway.catalog.catalog import Catalog
from gateway.catalog.document import DEPOSIT_FLAG, QuantityTiers
from gateway.money import ZERO
from gateway.pricing.basket import Basket, BasketLine, MemberContext
from gateway.pricing.engine import (
    _SET_PROMOTIONS,
    _UNIT_PROMOTIONS,
    HUNDRED,
    _active_promotions,
    _apply_basket_discount,
    _apply_basket_promotions,
    _apply_item_promotions,
    _base_line,
    _catalog_priced_line,
    _facts_for,
    _finish,
    _Ledger,
    _Line,
    _minor_units,
    _priced_line,
    _Shares,
    _threshold_discount,
    apply_threshold_offers,
    basket_result,
    empties_line,
    is_empties,
    points_multipliers,
    threshold_detail,
)
from gateway.pricing.result import Adjustment, PricedBasket, PricedLine

_TIED = (*_UNIT_PROMOTIONS, QuantityTiers)  # per-unit kinds that may tie lines together
_TAX_CLASS = attrgetter("tax_class")

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
    `parts` the parts' results by the indexes of their lines; `templates[i]` line i as its
    part left it, and `ends` how steps 3 to 5 ended for each line, when they were worked
    out per scan (`_finish_per_scan`). The rest is for the usual next basket, this one
    with lines added: it takes `alone` (the lone lines' parts), `tied_parts` (when the
    added lines tie none) and `list_total` whole instead of walking these lines again."""

    catalog: Catalog | None = None
    live: frozenset[str] = frozenset()
    member: bool = False
    # the member's counts of promotions with a `limit_per_member`: what such a promotion
    # has left for this sale depends on them, so a memo of other counts is not used
    taken: tuple[tuple[str, str, int], ...] = ()
    lines: tuple[BasketLine, ...] = ()
    listed: tuple[_Line, ...] = ()
    links: tuple[tuple[str, ...], ...] = ()
    parts: dict[tuple[int, ...], _Part] = field(default_factory=dict)
    templates: tuple[_Line, ...] = ()
    ends: _Ends | None = None
    # the parts of the lines that are a part of their own, in line order, the sum of their
    # item adjustments' amounts, and the other lines (tied to others) in order
    alone: dict[tuple[int, ...], _Part] = field(default_factory=dict)
    alone_item: Decimal = ZERO
    tied: tuple[int, ...] = ()
    tied_parts: tuple[tuple[tuple[int, ...], _Part], ...] = ()  # the others, in order
    list_total: Decimal = ZERO  # what `lines` cost at list price


@dataclass(frozen=True, slots=True)
class _Ends:
    """How steps 3 to 5 ended, line by line, for the next pricing to re-use.

    `header` names the thresholds that gave (id and the discount, as their lines' shares
    say it) in order; `shares[k][i]` is line i's share of threshold k in minor units (0
    for a line it does not count), `priced[i]` its result line and `tax[i]`, `total[i]`
    its tax and total in minor units. `open[i]` says whether a threshold may count line i
    and `minor[i]` is its amount after step 2 in minor units."""

    header: tuple[tuple[str, str], ...]
    shares: tuple[tuple[int, ...], ...]
    priced: tuple[PricedLine, ...]
    tax: tuple[int, ...]
    total: tuple[int, ...]
    open: tuple[bool, ...]
    minor: tuple[int, ...]


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
    taken = basket.member.taken if basket.member is not None else ()
    if old.catalog is not catalog or old.live != live or old.member != member or old.taken != taken:
        old = EMPTY
    old_lines, old_listed, old_links, old_parts = old.lines, old.listed, old.links, old.parts
    known = len(old_lines)
    count = len(basket.lines)
    listed: list[_Line] = []
    links: list[tuple[str, ...]] = []
    changed: set[int] = set()
    done: dict[tuple[int, ...], _Part] = {}
    work: list[_Line | None] = [None] * count  # each line as its part left it (a template)
    ledger = _Ledger()
    item = ledger.item
    tied: list[int] = []  # the lines of parts of more than one line, worked out below
    alone: list[int] = []  # lines that are a part of their own, with no result to re-use
    if known and known <= count and basket.lines[:known] == old_lines:
        # the memo's basket with lines added after it (the usual scan): its lines, links
        # and the parts of its lines alone are taken whole, without a walk of its lines
        listed = list(old_listed)
        links = list(old_links)
        done.update(old.alone)
        item.append(old.alone_item)
        work[:known] = old.templates
        tied.extend(old.tied)
        start = known
    else:
        start = 0
    # step 1, line by line in order (so the first line that cannot be priced is the one
    # named, as in `price_basket`); a line tied to no other is a part of its own
    for i in range(start, count):
        source = basket.lines[i]
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
            work[i] = part.lines[0]
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
            and source.reduced is None
        ):
            line = _catalog_priced_line(i, source, product)
        else:
            line = _base_line(i, source, product, catalog, places, basket)
        if product.product.flags and DEPOSIT_FLAG in product.product.flags:
            line = empties_line(line)
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
        work[template.index] = template
        item.extend(part.item)
    # the parts of lines alone, in line order (as the next scan's walk would find them)
    lone = dict(done) if start else dict(sorted(done.items()))  # (added lines come after)
    lone_item = sum(item, ZERO)  # (only ever summed: `item_discounts`)
    # the other parts: lines tied by a promotion they carry, through each other; the
    # memo's, as they were, when the lines added tie none
    owner: dict[str, list[int]] = {}  # a link -> the part (a shared list of indexes) it is in
    all_tied = tuple(tied)
    if start and len(tied) == len(old.tied):
        for key, part in old.tied_parts:
            done[key] = part
            item.extend(part.item)
        tied = []
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
            part = _item_promotions(key, listed, places, basket.member)
        done[key] = part
        for template in part.lines:
            work[template.index] = template
        item.extend(part.item)
    tied_parts = tuple([entry for entry in done.items() if entry[0] not in lone])
    list_total = (
        sum([line.list_amount for line in listed[start:]], old.list_total)
        if start
        else sum([line.list_amount for line in listed], ZERO)
    )
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
    templates: tuple[_Line, ...] = tuple(work)  # type: ignore[arg-type]  # each in a part
    # steps 3 to 5: per scan where the basket allows, else in full on working copies
    finished = _finish_per_scan(basket, catalog, active, templates, ledger, old, list_total)
    if finished is None:
        lines = [_copy(template) for template in templates]
        apply_threshold_offers(lines, catalog, active, ledger)
        _apply_basket_promotions(lines, catalog, active, places, ledger)
        _apply_basket_discount(lines, basket.discount, places, ledger)
        priced = _finish(basket, catalog, lines, active, ledger)
    else:
        priced, ends = finished
    return priced, PricingMemo(
        catalog,
        live,
        member,
        taken,
        basket.lines,
        tuple(listed),
        tuple(links),
        done,
        templates,
        None if finished is None else ends,
        lone,
        lone_item,
        all_tied,
        tied_parts,
        list_total,
    )


def _has_deposits(catalog: Catalog, templates: Sequence[_Line]) -> bool:
    """A line carrying a deposit or returning empties: steps 3 to 5 then run in full
    (`engine._finish` adds deposits to totals and keeps them out of 抹零)."""
    if not catalog.deposits:
        return False
    return any(t.product.deposit is not None or is_empties(t) for t in templates)


def _links_of(line: _Line) -> tuple[str, ...]:
    """The promotions that tie `line` to other lines: its set promotions, its per-unit
    promotions with a cap or a limit (`limit_per_sale`, `limit_per_member`: shared by all
    their lines), and its
    quantity tiers (the tier reached counts the units of all their lines)."""
    capped = [
        promo.id
        for promo in line.promotions
        if isinstance(promo, _TIED)
        and (
            promo.max_discount is not None
            or promo.limit_per_sale is not None
            or promo.limit_per_member is not None
            or isinstance(promo, QuantityTiers)
        )
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


def _item_promotions(
    key: tuple[int, ...], listed: list[_Line], places: int, member: MemberContext | None = None
) -> _Part:
    """Step 2 for the lines `key` (indexes in the basket), by the engine on those lines
    alone, numbered 0, 1, ... in the same order (every choice the engine makes by line
    index only compares indexes, so the order is all that counts)."""
    sub = [_copy(listed[index], local) for local, index in enumerate(key)]
    ledger = _Ledger()
    _apply_item_promotions(sub, places, ledger, member)
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


def _finish_per_scan(
    basket: Basket,
    catalog: Catalog,
    active: set[str],
    templates: tuple[_Line, ...],
    ledger: _Ledger,
    old: PricingMemo,
    list_total: Decimal,
) -> tuple[PricedBasket, _Ends] | None:
    """Steps 3 to 5 (`engine._apply_basket_promotions`, `engine._finish`) for the usual
    basket, re-using each line whose result cannot have changed; None where this basket is
    not the usual one (then the engine's own steps run in full).

    The usual basket: every amount after step 2 a plain amount in the currency (its
    exponent, not negative), thresholds that all count every item and share in minor
    units, no coupon, no manual basket discount (整单折扣), no 抹零 to share out, no points
    multiplier for a member, no threshold offer (加价购 / 满赠) live, no deposit or
    empties line (`_has_deposits`), tax per line (with `tax_per = "rate"` a line's tax
    depends on every line of its rate). Then every line's result depends on the line as
    step 2 left it (the same template object as last time)
    and on its shares of the thresholds (which name only their discount), so a line with
    the same template and the same shares as in the memo keeps its result line, tax and
    total, and only the others are worked out, with the engine's formulas. The thresholds
    themselves are shared out again on every scan: a new line changes the spend every
    share is worked out from."""
    count = len(templates)
    money = catalog.money
    if (
        not count
        or basket.coupons
        or basket.discount is not None
        or points_multipliers(catalog, basket, active)
        or any(p.id in active for p in catalog.offer_promotions)
        or money.tax_per == "rate"
        or _has_deposits(catalog, templates)
    ):
        return None
    places = money.decimals
    ends = old.ends
    same = old.templates if ends is not None else ()
    known = min(len(same), count)
    # the lines whose template is not the memo's (their part was worked out again, or they
    # are new): only these are looked at again; the others bring what they brought before
    fresh = [*compress(range(known), map(is_not, templates, same)), *range(known, count)]
    if known:
        assert ends is not None
        is_open = [*ends.open[:known], *repeat(False, count - known)]
        minors = [*ends.minor[:known], *repeat(0, count - known)]
    else:
        is_open, minors = [False] * count, [0] * count
    for i in fresh:
        template = templates[i]
        amount = template.amount
        minor = _minor_units(amount, places)
        if minor is None or amount < 0 or amount.as_tuple().exponent != -places:
            return None
        minors[i] = minor
        is_open[i] = (
            not template.exclusive and "no_discount" not in template.product.flags and amount > 0
        )
    shares = _Shares(places)
    thresholds = _thresholds_per_scan(catalog, active, is_open, minors, shares)
    if thresholds is None:
        return None
    header, columns, gave = thresholds
    if ends is not None and ends.header == header:
        # a line with the memo's template and the memo's shares keeps its result
        redo = set(fresh)
        for column, was in zip(columns, ends.shares, strict=True):
            redo.update(compress(range(known), map(ne, column, was)))
        priced = list(ends.priced[:known])
        taxes = list(ends.tax[:known])
        totals = list(ends.total[:known])
    else:
        redo = set(range(count))
        known = 0
        priced, taxes, totals = [], [], []
    made: dict[tuple[int, int], Adjustment] = {}  # (threshold, share) -> its adjustment
    counts: dict[int, Decimal] = {}
    labels = [
        (promo_id, name, said) for (promo_id, name, *_), (_, said) in zip(gave, header, strict=True)
    ]
    mode = money.tax_rounding.decimal_mode
    integer = getcontext().prec >= 28  # (what `_tax_units` counts on, else Decimal)
    for i in sorted(redo):  # (the new lines, from `known` on, in order: appended)
        own = tuple([column[i] for column in columns])
        done = _finished_line(
            templates[i], minors[i], own, labels, shares, made, counts, mode, integer
        )
        if i < known:
            priced[i], taxes[i], totals[i] = done
        else:
            priced.append(done[0])
            taxes.append(done[1])
            totals.append(done[2])
    grand = shares.amount_of(sum(totals))
    mo = money.moling_off(grand)
    if mo:
        return None  # 抹零 to share out over every line: the engine's own steps
    for promo_id, name, taken_off, indexes, spend in gave:
        ledger.basket.append(taken_off)
        ledger.give(promo_id, name, taken_off, indexes)
        ledger.spends[promo_id] = spend
    ends_now = _Ends(
        header,
        tuple([tuple(column) for column in columns]),
        tuple(priced),
        tuple(taxes),
        tuple(totals),
        tuple(is_open),
        tuple(minors),
    )
    return _basket_per_scan(basket, catalog, list_total, ends_now, mo, shares, ledger), ends_now


# what a threshold gave: (promotion id, name, discount taken off, lines given a share, spend)
_Gave = tuple[str, str, Decimal, list[int], Decimal]


def _thresholds_per_scan(
    catalog: Catalog,
    active: set[str],
    is_open: list[bool],
    minors: list[int],
    shares: _Shares,
) -> tuple[tuple[tuple[str, str], ...], list[list[int]], list[_Gave]] | None:
    """Step 3 as `engine._apply_basket_promotions` and `engine._thresholds_in_minor_units`
    work it out when every threshold counts every item: the thresholds that gave (id and
    what their shares say), for each of them every line's share in minor units (0 for a
    line it does not count), and what each gave. None when a threshold counts only some
    items or leaves a line costing nothing before the next one (the engine's own steps
    then run).

    The shares are worked out over every line at once, a line no threshold counts
    weighing nothing: the same shares as over the counted lines alone, since such a line's
    floor and remainder are 0 and the largest-remainder rule never gives a leftover unit
    to a remainder of 0 (the leftover units are the remainders' sum over the total
    weight, so more remainders than leftover units are above 0)."""
    promos = [p for p in catalog.basket_promotions if p.id in active]
    if not promos:
        return (), [], []
    if not all(p.target.all_items for p in promos):
        return None
    counted = sum(is_open)
    if not counted:
        return None
    places = shares.places
    closed = len(minors) - counted  # lines no threshold counts: each weighs 0
    cents = list(map(mul, minors, is_open))
    spend_units = sum(cents)
    spend = shares.amount_of(spend_units)  # (each amount has the currency's exponent)
    chosen = [p for p in promos if p.stackable]
    single = [p for p in promos if not p.stackable]
    if single:
        values = [(_threshold_discount(p, spend, places), p) for p in single]
        best_value, best = max(values, key=lambda v: (v[0], -v[1].priority))
        if best_value > 0:
            chosen.append(best)
    header: list[tuple[str, str]] = []
    columns: list[list[int]] = []
    gave: list[_Gave] = []
    given: list[int] | None = None  # the last shares, not yet taken off `cents`
    for promo in sorted(chosen, key=lambda p: (p.priority, p.id)):
        if columns:
            if given is not None:  # (only when a threshold follows: what the lines cost now)
                cents = list(map(sub, cents, given))
                given = None
            if cents.count(0) > closed:
                return None  # a line costs nothing now: the next threshold counts fewer
            spend = shares.amount_of(spend_units)
        discount = _threshold_discount(promo, spend, places)
        if discount <= 0:
            continue
        floors = shares.split_whole(discount, cents)  # (a positive total weight)
        taken = sum(floors)
        if not taken:
            continue
        header.append((promo.id, threshold_detail(discount)))
        columns.append(floors)
        given = floors
        spend_units -= taken
        indexes = list(compress(range(len(floors)), floors))
        gave.append((promo.id, promo.name, shares.amount_of(taken), indexes, spend))
    return tuple(header), columns, gave


def _finished_line(
    template: _Line,
    minor: int,
    own: tuple[int, ...],
    labels: list[tuple[str, str, str]],
    shares: _Shares,
    made: dict[tuple[int, int], Adjustment],
    counts: dict[int, Decimal],
    mode: str,
    integer: bool,
) -> tuple[PricedLine, int, int]:
    """Steps 3 to 5 for one line, as the engine works them out: its shares of the
    thresholds (`own`, in the order of `labels`: id, name, what a share says), then tax
    and total (rounded by `mode`, the catalog's `tax_rounding`). `minor`: the line's
    amount after step 2 in minor units. Returns the result line with its tax and total in
    minor units; `integer`: tax may be worked out in minor units (`_tax_units`)."""
    adjustments = list(template.adjustments)
    taken = 0
    for k, units in enumerate(own):
        if units:
            adjustment = made.get((k, units))
            if adjustment is None:
                promo_id, name, said = labels[k]
                adjustment = made[(k, units)] = Adjustment(
                    "basket", ZERO - shares.amount_of(units), name, promo_id, said
                )
            adjustments.append(adjustment)
            taken += units
    tax_class = template.tax
    inclusive = tax_class.inclusive
    net = minor - taken  # the line's amount after its shares, in minor units
    tax_units = _tax_units(net, tax_class.rate, inclusive, mode) if integer else None
    amount_of = shares.amount_of
    if tax_units is not None:  # (each amount has the currency's exponent, as the engine's)
        if inclusive:
            total_units = net
            line_amount = total = amount_of(net)
            tax = amount_of(tax_units)
        else:
            total_units = net + tax_units
            line_amount, tax, total = amount_of(net), amount_of(tax_units), amount_of(total_units)
    else:  # the engine's own formulas, in Decimal
        amount = template.amount - amount_of(taken) if taken else template.amount
        rate, cent = tax_class.rate, shares.unit
        if inclusive:
            total = amount
            tax = (total * rate / (HUNDRED + rate)).quantize(cent, mode)
            line_amount = total
        else:
            total = amount + (amount * rate / HUNDRED).quantize(cent, mode)
            tax = total - amount
            line_amount = total - tax
        tax_minor = _minor_units(tax, shares.places)
        total_minor = _minor_units(total, shares.places)
        assert tax_minor is not None and total_minor is not None  # (a cent's exponent)
        tax_units, total_units = tax_minor, total_minor
    count = template.count
    if count is None:
        quantity = template.source.weight or Decimal(1)
    else:
        quantity = counts.get(count) or counts.setdefault(count, Decimal(count))
    line = _priced_line(template, tuple(adjustments), quantity, line_amount, tax, total)
    return line, tax_units, total_units


# rounding mode -> does (quotient, twice the rest, divisor) round up?
_ROUND_UP_IF: dict[str, Callable[[int, int, int], bool]] = {
    ROUND_DOWN: lambda whole, twice, divisor: False,
    ROUND_UP: lambda whole, twice, divisor: True,
    ROUND_HALF_UP: lambda whole, twice, divisor: twice >= divisor,
    ROUND_HALF_EVEN: lambda whole, twice, divisor: (
        twice > divisor or (twice == divisor and whole % 2 == 1)
    ),
}


def _tax_units(units: int, rate: Decimal, inclusive: bool, mode: str) -> int | None:
    """The tax in minor units of an amount of `units` minor units (0 or more; a gross
    amount when `inclusive`, else the net), rounded by `mode`, as the engine's Decimal
    formula gives it: `units x rate / (100 + rate)` (inclusive) or `units x rate / 100`,
    rounded to a whole minor unit, here on exact integers. None where the two could
    differ, for the engine's formulas to run: a mode not listed, a rate below 0, or
    amounts so large that the 28 digits Decimal divides to could move a rounding (a
    quotient of a divisor under 10^10 is at least 1/divisor from any rounding point it is
    not on, far more than 28 digits of an amount under 10^15 minor units can err)."""
    round_up_if = _ROUND_UP_IF.get(mode)
    numerator, denominator = rate.as_integer_ratio()
    divisor = 100 * denominator + (numerator if inclusive else 0)
    if round_up_if is None or numerator < 0 or units >= 10**15 or divisor >= 10**10:
        return None
    whole, rest = divmod(units * numerator, divisor)
    if rest and round_up_if(whole, 2 * rest, divisor):
        return whole + 1
    return whole


def _basket_per_scan(
    basket: Basket,
    catalog: Catalog,
    list_total: Decimal,
    ends: _Ends,
    mo: Decimal,
    shares: _Shares,
    ledger: _Ledger,
) -> PricedBasket:
    """The priced basket from its result lines, as `engine._finish` sums them up (every
    tax and total here has the currency's exponent, so sums of minor units are the same
    amounts); `list_total`: what the lines cost at list price."""
    amount_of = shares.amount_of
    taxes, totals = ends.tax, ends.total
    of_class = list(map(_TAX_CLASS, ends.priced))
    kinds = set(of_class)
    classes: dict[str, list[Decimal]] = {}
    for tax_class in kinds:  # (a few classes: sums in C, not a walk of the lines)
        if len(kinds) == 1:
            tax, gross = sum(taxes), sum(totals)
        else:
            tax = sum(compress(taxes, map(eq, of_class, repeat(tax_class))))
            gross = sum(compress(totals, map(eq, of_class, repeat(tax_class))))
        classes[tax_class] = [amount_of(tax), amount_of(gross)]
    total = amount_of(sum(totals))
    # (no coupon: `coupon_notices` has nothing to say; no deposit, no empties line)
    return basket_result(
        basket, catalog, ends.priced, list_total, ledger, mo, classes, total, (), ZERO, ZERO
    )
