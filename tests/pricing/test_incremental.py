"""Pricing per scan (`gateway.pricing.incremental.price_scan`) against pricing the whole
basket (`price_basket`): over random catalogs and random sequences of operations as a lane
makes them (add a line, change a quantity, remove a line, set or drop the member, enter a
coupon, set, replace or clear a whole-basket discount, let the clock move across a
promotion's hours; reduced-to-clear stickers among the lines), every pricing carried on from the
previous one's memo must be field for field what `price_basket` gives for the same basket
(the objects, and the JSON form where every amount is text so exponents count), and a
basket that cannot be priced must fail with the same error, the caller keeping the memo
it had. Last, that the memo is really used: lines that did not change keep their parts.
"""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pricing_catalogs import AT
from test_engine_reference import (
    POOL,
    generated_catalog,
    labels,
    manual_discounts,
    money_rules,
    small_catalog,
    weighed,
)

from gateway.catalog.catalog import Catalog
from gateway.money import Rounding
from gateway.pricing import (
    Basket,
    BasketLine,
    MemberContext,
    PricedBasket,
    PricingError,
    price_basket,
)
from gateway.pricing.engine import HUNDRED
from gateway.pricing.incremental import PricingMemo, _tax_units, price_scan
from gateway.pricing.reduced import Reduction

MEMBER = MemberContext("M1")
MEMBER_TOOK = MemberContext("M1", taken=(("lim-m", "2026-11-24T09:00:00", 2),))
EVENING = datetime(2026, 11, 25, 18, 30)  # the pool's "eve" bundle is live 18:00-20:00

counted = st.builds(
    lambda sku, n, override: BasketLine(sku, quantity=Decimal(n), price_override=override),
    st.sampled_from(["A", "B", "C1", "C2", "Y1", "Y2", "PEN", "WINE", "BAG", "GUM", "NOSUCH"]),
    st.integers(1, 8),
    st.none() | st.none() | st.none() | st.sampled_from([Decimal("0.50"), Decimal("9.99")]),
)
reduced = st.builds(  # reduced-to-clear stickers: a price (some above the catalog's), a percent
    lambda sku, price, percent: BasketLine(
        sku, reduced=Reduction(price, None) if percent is None else Reduction(None, percent)
    ),
    st.sampled_from(["A", "B", "C1", "C2", "WINE", "APPLE", "NOSUCH"]),
    st.sampled_from([Decimal("0.50"), Decimal("1.99"), Decimal("2.00"), Decimal("30.00")]),
    st.none() | st.sampled_from([Decimal(10), Decimal(33), Decimal("50")]),
)
small_line = st.one_of(counted, counted, counted, weighed, labels, reduced)


def generated_line(seed: int) -> BasketLine:
    """A line of a generated catalog (300 products, every tenth weighed)."""
    n = seed % 300
    if n % 10 == 0:
        return BasketLine(f"S{n}", weight=Decimal(seed % 3000 + 1) / 1000)
    if seed % 50 == 0:
        return BasketLine(f"S{n}", price_override=Decimal("1.50"))
    return BasketLine(f"S{n}", quantity=Decimal(seed % 6 + 1))


def operations(line: st.SearchStrategy[BasketLine]) -> st.SearchStrategy[list[Any]]:
    return st.lists(
        st.one_of(
            st.tuples(st.just("add"), line),
            st.tuples(st.just("add"), line),
            st.tuples(st.just("add"), line),
            st.tuples(st.just("quantity"), st.integers(0, 60), st.integers(1, 9)),
            st.tuples(st.just("remove"), st.integers(0, 60)),
            st.tuples(st.just("member"), st.sampled_from([None, MEMBER, MEMBER_TOOK])),
            st.tuples(st.just("coupon"), st.sampled_from(["YOG20", "NOPE"])),
            st.tuples(st.just("clock"), st.booleans()),
            st.tuples(st.just("discount"), manual_discounts),  # set, replace or clear
        ),
        min_size=1,
        max_size=40,
    )


def apply(basket: Basket, op: tuple[Any, ...]) -> Basket:
    """The basket after one operation (an operation that does not fit leaves it as is)."""
    lines = list(basket.lines)
    kind = op[0]
    if kind == "add":
        return replace(basket, lines=(*lines, op[1]))
    if kind == "quantity" and lines:
        i = op[1] % len(lines)
        if lines[i].weight is None and lines[i].label_price is None:
            lines[i] = replace(lines[i], quantity=Decimal(op[2]))
        return replace(basket, lines=tuple(lines))
    if kind == "remove" and lines:
        del lines[op[1] % len(lines)]
        return replace(basket, lines=tuple(lines))
    if kind == "member":
        return replace(basket, member=op[1])
    if kind == "coupon" and op[1] not in basket.coupons:
        return replace(basket, coupons=(*basket.coupons, op[1]))
    if kind == "discount":
        return replace(basket, discount=op[1])
    if kind == "clock":
        return replace(basket, at=(EVENING if op[1] else AT) + timedelta(minutes=len(lines)))
    return basket


def assert_same_result(got: PricedBasket, expected: PricedBasket) -> None:
    """Field for field, line for line, adjustment for adjustment; then as JSON (exponents)."""
    for f in fields(PricedBasket):
        if f.name != "lines":
            assert getattr(got, f.name) == getattr(expected, f.name), f.name
    assert len(got.lines) == len(expected.lines)
    for mine, theirs in zip(got.lines, expected.lines, strict=True):
        assert mine == theirs, f"line {theirs.index}"
    assert got.to_json() == expected.to_json()
    assert got == expected


def run(cat: Catalog, start: Basket, ops: list[Any]) -> int:
    """Price after every operation both ways; return how many pricings re-used a memo."""
    basket, memo = start, None
    carried = 0
    for op in ops:
        basket = apply(basket, op)
        try:
            expected = price_basket(basket, cat)
        except PricingError as refused:
            try:
                price_scan(basket, cat, memo)
            except PricingError as error:
                assert str(error) == str(refused)
                # the lane keeps the sale (and its memo) of before a refused line
                basket = start if memo is None else replace(basket, lines=memo.lines)
                continue
            message = f"price_scan priced what price_basket refused: {refused}"
            raise AssertionError(message) from refused
        got, memo = price_scan(basket, cat, memo)
        carried += memo is not None
        assert_same_result(got, expected)
        assert memo.lines == basket.lines
    return carried


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from(POOL), unique_by=lambda p: p["id"], max_size=len(POOL)),
    money_rules,
    st.booleans(),
    operations(small_line),
)
def test_scan_by_scan_same_as_whole_basket_small_catalog(promos, money, member, ops) -> None:  # type: ignore[no-untyped-def]
    cat = small_catalog(promos, **money)
    run(cat, Basket((), AT, MEMBER if member else None), ops)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 7),
    st.lists(st.integers(0, 10**6), max_size=150),
    st.booleans(),
    operations(st.integers(0, 10**6).map(generated_line)),
)
def test_scan_by_scan_same_as_whole_basket_generated_catalogs(  # type: ignore[no-untyped-def]
    catalog_seed, first, member, ops
) -> None:
    """Catalogs shaped like the benchmark's (many competing set promotions, caps,
    exclusives, thresholds), starting from a basket of up to 150 lines."""
    cat = generated_catalog(catalog_seed)
    start = Basket(tuple(generated_line(s) for s in first), AT, MEMBER if member else None)
    run(cat, start, [("add", generated_line(7)), *ops])


# 加价购 / 满赠 (step 2b): a live one sends steps 2b to 5 down the full path; its lines'
# parts are still re-used, so the two must agree scan after scan
OFFERS: list[dict[str, Any]] = [
    {
        "type": "add_on",
        "id": "pen-addon",
        "name": "pen for 0.50",
        "threshold": "6.00",
        "item": "PEN",
        "price": "0.50",
        "quantity": 2,
    },
    {
        "type": "gift",
        "id": "yog-gift",
        "name": "free yoghurt",
        "target": {"categories": ["choc"]},
        "threshold": "4.00",
        "item": "Y1",
        "coupon": "YOG20",
    },
    {
        "type": "add_on",
        "id": "bag-addon",
        "name": "bag for 0.2",
        "threshold": "3",
        "item": "BAG",
        "price": "0.2",
        "quantity": 3,
        "max_discount": "1.50",
        "schedule": {"hours": [{"from": "18:00", "to": "20:00"}]},
    },
]


TIERED = [  # quantity tiers and 限购 (issue 21): both tie their lines together
    {
        "type": "quantity_tiers",
        "id": "qt",
        "name": "2 for -10%, 4 for -20%",
        "target": {"categories": ["food"]},
        "tiers": [{"min_units": 2, "percent_off": "10"}, {"min_units": 4, "percent_off": "20"}],
    },
    {
        "type": "quantity_tiers",
        "id": "qt-choc",
        "name": "chocolate 3 for -33.3333%",
        "target": {"categories": ["choc"], "skus": ["CHERRY"]},
        "tiers": [{"min_units": 3, "percent_off": "33.3333"}],
        "limit_per_sale": 4,
        "max_discount": "2.50",
        "priority": 1,
    },
    {
        "type": "fixed_price",
        "id": "lim-pen",
        "name": "pens 0.99, 2 per sale",
        "target": {"skus": ["PEN", "NUTS"]},
        "price": "0.99",
        "limit_per_sale": 2,
    },
    {
        "type": "percent_off",
        "id": "lim-y",
        "name": "yoghurt -25%, 3 per sale",
        "target": {"categories": ["yog"]},
        "percent": "25",
        "limit_per_sale": 3,
        "member_only": True,
    },
    {  # 限购 per member: what is left depends on the member's counts (`MEMBER_TOOK`)
        "type": "amount_off",
        "id": "lim-m",
        "name": "members: pens and yoghurt 0.30 off, 3 a week",
        "target": {"skus": ["PEN", "Y1"]},
        "amount": "0.30",
        "member_only": True,
        "limit_per_member": 3,
        "limit_per_sale": 2,
    },
]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.sampled_from(POOL + TIERED), unique_by=lambda p: p["id"], max_size=8),
    st.lists(st.sampled_from(OFFERS), unique_by=lambda p: p["id"], min_size=1),
    money_rules,
    st.booleans(),
    operations(small_line),
)
def test_scan_by_scan_same_as_whole_basket_with_threshold_offers(  # type: ignore[no-untyped-def]
    promos, offers, money, member, ops
) -> None:
    cat = small_catalog([*promos, *offers], **money)
    run(cat, Basket((), AT, MEMBER if member else None), ops)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.sampled_from(POOL + TIERED), unique_by=lambda p: p["id"], min_size=1),
    money_rules,
    st.booleans(),
    operations(small_line),
)
def test_scan_by_scan_same_as_whole_basket_with_tiers_and_limits(
    promos, money, member, ops
) -> None:  # type: ignore[no-untyped-def]
    """Quantity tiers count the units of all their lines and a limit is used up line by
    line, so adding, changing or removing any of their lines reprices the others."""
    cat = small_catalog([p for p in promos if p["id"] != "qt"] + TIERED[:1], **money)
    run(cat, Basket((), AT, MEMBER if member else None), ops)


def test_a_new_line_moves_the_tier_of_the_lines_before_it() -> None:
    """Two bars at 10% each; a third scanned moves both earlier lines to 20%."""
    cat = small_catalog([TIERED[0]])
    first = Basket((BasketLine("C1"), BasketLine("C2")), AT)
    before, memo = price_scan(first, cat)
    assert [ln.discount for ln in before.lines] == [Decimal("0.19"), Decimal("0.22")]
    whole = replace(first, lines=(*first.lines, BasketLine("C1"), BasketLine("C2")))
    priced, _ = price_scan(whole, cat, memo)
    assert_same_result(priced, price_basket(whole, cat))
    # 4 units: 20% of 1.90 = 0.38, of 2.20 = 0.44
    assert [ln.discount for ln in priced.lines] == [Decimal("0.38"), Decimal("0.44")] * 2


COLLIDING = ("c3f2", "c5", "all7", "p15", "prod15", "y33", "y3", "mix2", "big", "r", "t")
few_lines = st.one_of(
    st.builds(
        lambda sku, n: BasketLine(sku, quantity=Decimal(n)),
        st.sampled_from(["C1", "C2", "Y1", "Y2", "PEN", "A", "B"]),
        st.integers(1, 7),
    ),
    st.builds(
        lambda sku, g: BasketLine(sku, weight=Decimal(g) / 1000),
        st.sampled_from(["CHERRY", "NUTS", "APPLE"]),
        st.integers(500, 5000),
    ),
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.sampled_from(COLLIDING), unique=True, min_size=3),
    st.booleans(),
    operations(few_lines),
)
def test_scan_by_scan_same_as_whole_basket_colliding_promotions(picked, member, ops) -> None:  # type: ignore[no-untyped-def]
    """Promotions picked to span parts: per-unit ones given both on a set promotion's
    leftover units and on lines of their own, caps shared by lines with no set promotion,
    thresholds over it all."""
    cat = small_catalog([p for p in POOL if p["id"] in picked])
    run(cat, Basket((), AT, MEMBER if member else None), ops)


def test_unchanged_lines_keep_their_parts() -> None:
    """The memo is used: a scan works out step 2 again only for the part it touched (here
    the chocolate of a 3-for-2), the other lines keep theirs; thresholds and totals are
    still worked out over the whole basket."""
    picked = {"c3f2", "y3", "a30", "all7", "big", "r"}
    cat = small_catalog([p for p in POOL if p["id"] in picked])
    skus = ["A", "B", "PEN", "WINE", "BAG", "Y1", "C1"]
    lines = tuple(BasketLine(skus[n % len(skus)], quantity=Decimal(n % 3 + 1)) for n in range(40))
    lines = (*lines, BasketLine("C2", quantity=Decimal(2)))
    basket = Basket(lines[:-1], AT, MEMBER)
    _, memo = price_scan(basket, cat)
    whole = replace(basket, lines=lines)
    priced, after = price_scan(whole, cat, memo)
    assert_same_result(priced, price_basket(whole, cat))
    assert priced.basket_discounts > 0  # the thresholds were worked out again, in full
    redone = [key for key in after.parts if memo.parts.get(key) is not after.parts[key]]
    chocolate = tuple(i for i, line in enumerate(lines) if line.sku in ("C1", "C2"))
    assert redone == [chocolate]
    assert len(after.parts) > 30  # every other line kept its own part
    # a memo of another member state or another catalog is not used
    other_member = replace(basket, member=None)
    again, fresh = price_scan(other_member, cat, memo)
    assert_same_result(again, price_basket(other_member, cat))
    assert not any(memo.parts.get(key) is part for key, part in fresh.parts.items())
    other_catalog = small_catalog([p for p in POOL if p["id"] in picked])
    again, fresh = price_scan(basket, other_catalog, memo)
    assert_same_result(again, price_basket(basket, other_catalog))
    assert not any(memo.parts.get(key) is part for key, part in fresh.parts.items())
    assert price_scan(basket, cat, PricingMemo())[0] == price_basket(basket, cat)


def test_lines_whose_shares_stay_keep_their_result_lines() -> None:
    """Steps 3 to 5 per scan: a line whose part and threshold shares did not change keeps
    its result line (the same object), a line whose share moved is worked out again, and
    the basket is still exactly `price_basket`'s; a threshold's spend is in the summary,
    not in every line's explanation."""
    picked = {"c3f2", "y3", "a30", "all7", "big", "r"}
    cat = small_catalog([p for p in POOL if p["id"] in picked])
    skus = ["A", "B", "PEN", "WINE", "BAG", "Y1", "C1"]
    lines = tuple(BasketLine(skus[n % len(skus)], quantity=Decimal(n % 3 + 1)) for n in range(60))
    lines = (*lines, BasketLine("B", quantity=Decimal(3)))
    basket = Basket(lines[:-1], AT, MEMBER)
    before, memo = price_scan(basket, cat)
    whole = replace(basket, lines=lines)
    priced, _ = price_scan(whole, cat, memo)
    expected = price_basket(whole, cat)
    assert_same_result(priced, expected)
    thresholds = [p for p in expected.promotions if "spend" in p]
    assert thresholds and all(p["spend"] > 0 for p in thresholds)
    kept = [i for i, line in enumerate(before.lines) if priced.lines[i] is line]
    moved = [i for i, line in enumerate(before.lines) if priced.lines[i] != line]
    assert kept and moved  # some shares moved with the new spend, most stayed
    assert len(kept) > len(moved)
    assert set(kept).isdisjoint(moved)
    shares = [a for line in priced.lines for a in line.adjustments if a.kind == "basket"]
    assert shares and all(a.detail.startswith("share of ") for a in shares)


def test_summary_order_when_a_per_unit_promotion_spans_parts() -> None:
    """A per-unit promotion given in several parts is one summary entry, ordered by its
    first line; on a line where a set promotion also first appears, the set promotion comes
    first (as `price_basket` gives them: sets, then per-unit). Here the -7% is given first
    on the chocolate line's unit left over from a 3-for-2, and again on the pen, a part of
    its own that is walked first."""
    cat = small_catalog([p for p in POOL if p["id"] in ("c3f2", "all7")])
    basket = Basket((BasketLine("C1", quantity=Decimal(4)), BasketLine("PEN")), AT)
    expected = price_basket(basket, cat)
    assert [p["id"] for p in expected.promotions] == ["c3f2", "all7"]
    assert expected.promotions[1]["lines"] == [0, 1]
    assert_same_result(price_scan(basket, cat)[0], expected)
    _, memo = price_scan(replace(basket, lines=basket.lines[:1]), cat)
    assert_same_result(price_scan(basket, cat, memo)[0], expected)


def test_a_capped_per_unit_promotion_ties_its_lines() -> None:
    """A per-unit promotion's `max_discount` is shared by all its lines: weighed cherries
    and nuts with no set promotion are still one part, so a scan that adds a bag of nuts
    scales the cherries' discounts down with it."""
    cat = small_catalog([p for p in POOL if p["id"] == "prod15"])
    cherries = BasketLine("CHERRY", weight=Decimal("2.000"))
    nuts = BasketLine("NUTS", weight=Decimal("1.500"))
    first = Basket((cherries, BasketLine("PEN")), AT)
    _, memo = price_scan(first, cat)
    basket = replace(first, lines=(*first.lines, nuts))
    priced, after = price_scan(basket, cat, memo)
    expected = price_basket(basket, cat)
    assert expected.item_discounts == Decimal("0.40")  # the cap, shared by both lines
    assert_same_result(priced, expected)
    assert (0, 2) in after.parts


def test_open_price_lines_are_priced_per_scan_as_in_full() -> None:
    """A department's open-price line (issue 14, item 3) takes its keyed price on the
    per-scan path too: the example catalog's departments, each scan compared in full."""
    from pathlib import Path

    from gateway.catalog.catalog import build_catalog
    from gateway.catalog.document import read_document

    cat = build_catalog(read_document(Path(__file__).parents[2] / "config/catalog.example.json"))
    steps = [
        BasketLine(sku="MILK-1L"),
        BasketLine(sku="DEPT-BAKERY", open_price=Decimal("4.50"), quantity=Decimal(2)),
        BasketLine(sku="BUTTER-250"),
        BasketLine(sku="DEPT-FLOWERS", open_price=Decimal("12.90")),
    ]
    lines: tuple[BasketLine, ...] = ()
    memo: PricingMemo | None = None
    for line in steps:
        lines = (*lines, line)
        basket = Basket(lines=lines, at=AT)
        got, memo = price_scan(basket, cat, memo)
        assert_same_result(got, price_basket(basket, cat))
    assert got.lines[1].list_amount == Decimal("9.00")


@given(
    st.integers(0, 10**8) | st.integers(0, 10**16),
    st.decimals(0, 40, places=3) | st.sampled_from([Decimal(0), Decimal("2.6"), Decimal("8.1")]),
    st.booleans(),
    st.sampled_from(list(Rounding)),
)
def test_tax_in_minor_units_is_the_engines_decimal_formula(
    units: int, rate: Decimal, inclusive: bool, rule: Rounding
) -> None:
    """Pricing per scan works a redone line's tax out on whole minor units
    (`incremental._tax_units`); it must be the engine's Decimal formula, rounding and all,
    or decline (None) so the engine's formula runs."""
    amount = Decimal(units).scaleb(-2)
    exact = amount * rate / (HUNDRED + rate) if inclusive else amount * rate / HUNDRED
    expected = exact.quantize(Decimal("0.01"), rule.decimal_mode)
    got = _tax_units(units, rate, inclusive, rule.decimal_mode)
    if units < 10**15:
        assert got is not None
    if got is not None:
        assert Decimal(got).scaleb(-2) == expected
