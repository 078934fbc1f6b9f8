"""The fast engine against the straightforward one (`pricing_reference.py`).

`gateway.pricing.engine` takes shortcuts the rules do not spell out: it learns product facts
once per catalog, remembers set-promotion passes while it compares orders and applies the
winning order's passes, allocates and applies thresholds in whole minor units, writes the
totals down as it goes and shares identical threshold adjustments between lines. None of
that may change a result, so every basket here is priced by both engines and must come out
exactly the same: the JSON form (every amount as text, so `4` and `4.00` differ, and so
does `-0.00`), the objects, and for a basket that cannot be priced the same error.

Two kinds of catalog: the hand-made one of `pricing_catalogs.py` (plus a few products
priced with fewer decimals than the currency) with a pool of promotions picked to collide
(overlapping set promotions, caps, exclusives, coupons, schedules, thresholds in a row),
and generated ones shaped like the benchmark's (many set promotions over a few categories,
so groups of 2, 3 and more than 3 competing promotions all occur) with baskets of up to
200 lines. The shortcuts' own parts are tested last: minor-unit allocation against
`money.allocate`, and the product facts against stale or unbounded reuse.
"""

from __future__ import annotations

import copy
import gc
import random
from decimal import Decimal
from functools import cache
from typing import Any

import pricing_reference
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pricing_catalogs import AT, BASE

from gateway.catalog.catalog import Catalog, build_catalog
from gateway.catalog.document import parse_document
from gateway.money import allocate
from gateway.pricing import Basket, BasketLine, ManualDiscount, MemberContext, PricingError
from gateway.pricing import engine as fast_engine
from gateway.pricing import price_basket as engine

POOL: list[dict[str, Any]] = [
    {
        "type": "buy_get",
        "id": "c3f2",
        "name": "3 for 2",
        "target": {"categories": ["choc"]},
        "buy": 2,
        "get": 1,
    },
    {
        "type": "buy_get",
        "id": "half2",
        "name": "2nd half",
        "target": {"categories": ["food"]},
        "buy": 1,
        "get": 1,
        "percent": "50",
        "max_discount": "3.00",
        "priority": 20,
    },
    {
        "type": "buy_get",
        "id": "c5",
        "name": "5 for 3 at 70%",
        "target": {"categories": ["choc"]},
        "buy": 3,
        "get": 2,
        "percent": "70",
        "priority": 40,
        "max_discount": "1.00",
    },
    {
        "type": "bundle",
        "id": "y3",
        "name": "3 for 2.00",
        "target": {"categories": ["yog"]},
        "quantity": 3,
        "price": "2.00",
    },
    {
        "type": "bundle",
        "id": "f4",
        "name": "any 4 for 6.00",
        "target": {"categories": ["food"]},
        "quantity": 4,
        "price": "6.00",
        "priority": 3,
    },
    {
        "type": "bundle",
        "id": "mix2",
        "name": "2 for 4.50",
        "target": {"skus": ["A", "B", "C2"]},
        "quantity": 2,
        "price": "4.50",
        "priority": 60,
    },
    {
        "type": "points_multiplier",
        "id": "pts2",
        "name": "double points on chocolate",
        "target": {"categories": ["choc"]},
        "multiplier": 2,
    },
    {
        "type": "points_multiplier",
        "id": "pts3",
        "name": "triple points in the evening",
        "multiplier": 3,
        "schedule": {"hours": [{"from": "18:00", "to": "20:00"}]},
    },
    {
        "type": "percent_off",
        "id": "p15",
        "name": "-15%",
        "target": {"categories": ["choc"]},
        "percent": "15",
    },
    {
        "type": "percent_off",
        "id": "all7",
        "name": "-7%",
        "target": {"all_items": True},
        "percent": "7",
        "priority": 5,
    },
    {
        "type": "percent_off",
        "id": "y33",
        "name": "-33.3%",
        "target": {"categories": ["yog"]},
        "percent": "33.3",
        "max_discount": "0.50",
    },
    {
        "type": "amount_off",
        "id": "a30",
        "name": "0.30 off",
        "target": {"skus": ["A", "APPLE"]},
        "amount": "0.30",
    },
    {
        "type": "amount_off",
        "id": "prod15",
        "name": "0.15/kg off",
        "target": {"categories": ["produce"]},
        "amount": "0.15",
        "max_discount": "0.40",
    },
    {
        "type": "fixed_price",
        "id": "fx",
        "name": "bread 1.99",
        "target": {"skus": ["B"]},
        "price": "1.99",
        "member_only": True,
    },
    {  # 限购 per member (the member took some before: `MEMBER_TOOK`)
        "type": "percent_off",
        "id": "lim-m",
        "name": "members: yoghurt and pens -20%, 3 a week",
        "target": {"skus": ["Y1", "Y2", "PEN"]},
        "percent": "20",
        "member_only": True,
        "limit_per_member": 3,
        "schedule": {"valid_from": "2026-11-23T00:00", "valid_until": "2026-11-30T00:00"},
    },
    {
        "type": "fixed_price",
        "id": "fx-apple",
        "name": "apples 2.99/kg",
        "target": {"skus": ["APPLE"]},
        "price": "2.99",
        "exclusive": True,
    },
    {
        "type": "bundle",
        "id": "eve",
        "name": "evening 2 for 3.00",
        "target": {"categories": ["choc"]},
        "quantity": 2,
        "price": "3.00",
        "schedule": {"hours": [{"from": "18:00", "to": "20:00"}]},
    },
    {
        "type": "percent_off",
        "id": "cpn",
        "name": "coupon -20%",
        "target": {"categories": ["yog"]},
        "percent": "20",
        "coupon": "YOG20",
    },
    {
        "type": "basket_threshold",
        "id": "t",
        "name": "tiers",
        "tiers": [{"threshold": "10", "amount": "1"}, {"threshold": "30", "percent": "10"}],
    },
    {
        "type": "basket_threshold",
        "id": "r",
        "name": "every 7",
        "repeat": True,
        "stackable": True,
        "tiers": [{"threshold": "7", "amount": "0.70"}],
        "max_discount": "5.00",
    },
    {
        "type": "basket_threshold",
        "id": "tc",
        "name": "chocolate 5 off 2",
        "stackable": True,
        "target": {"categories": ["choc"]},
        "tiers": [{"threshold": "5", "amount": "2"}],
        "priority": 1,
    },
    {
        "type": "basket_threshold",
        "id": "t3",
        "name": "3.3% over 8",
        "priority": 7,
        "tiers": [{"threshold": "8", "percent": "3.3"}],
    },
    {  # stacks and comes first, so a small basket passes it and meets the next one
        "type": "basket_threshold",
        "id": "big",
        "name": "5 off 50",
        "stackable": True,
        "priority": 2,
        "tiers": [{"threshold": "50", "amount": "5"}],
    },
    {  # quantity tiers (2件9折 3件8折) and a limit per sale (限购), issue 21
        "type": "quantity_tiers",
        "id": "ref-tiers",
        "name": "food 2 -5%, 3 -12.5%",
        "target": {"categories": ["food"], "skus": ["APPLE"]},
        "tiers": [{"min_units": 2, "percent_off": "5"}, {"min_units": 3, "percent_off": "12.5"}],
        "limit_per_sale": 5,
    },
    {
        "type": "amount_off",
        "id": "ref-lim",
        "name": "0.25 off, 3 per sale",
        "target": {"categories": ["yog", "choc"], "skus": ["CHERRY"]},
        "amount": "0.25",
        "limit_per_sale": 3,
        "max_discount": "0.60",
    },
]
# prices written with fewer decimals than the currency's: amounts keep the exponent they
# are written with (`2` is not `2.00` in the JSON), which the fast path must keep too
EXTRA_PRODUCTS = [
    {"sku": "BAG", "name": "Bag", "price": "1", "tax_class": "std", "category": "office"},
    {"sku": "GUM", "name": "Gum", "price": "0.5", "tax_class": "food", "category": "choc"},
    {
        "sku": "NUTS",
        "name": "Nuts",
        "unit": "kg",
        "price": "4",
        "plu": "1020",
        "tax_class": "food",
        "category": "produce",
    },
]
SKUS = ["A", "B", "C1", "C2", "Y1", "Y2", "PEN", "WINE", "BAG", "GUM"]


def small_catalog(promotions: list[dict[str, Any]], **money: Any) -> Catalog:
    doc = copy.deepcopy(BASE)
    doc["products"].extend(copy.deepcopy(EXTRA_PRODUCTS))
    doc["promotions"] = promotions
    doc["money"].update(money)
    return build_catalog(parse_document(doc))


counted = st.builds(
    lambda sku, n, override: BasketLine(sku, quantity=Decimal(n), price_override=override),
    st.sampled_from(SKUS),
    st.integers(1, 8),
    st.none() | st.none() | st.sampled_from([Decimal("0.50"), Decimal("1"), Decimal("9.99")]),
)
weighed = st.builds(
    lambda sku, g: BasketLine(sku, weight=Decimal(g) / 1000),
    st.sampled_from(["APPLE", "CHERRY", "NUTS"]),
    st.integers(1, 5000),
)
labels = st.builds(
    lambda cents: BasketLine("APPLE", label_price=Decimal(cents) / 100),
    st.integers(0, 99999) | st.integers(0, 999).map(lambda whole: whole * 100),
)
money_rules = st.sampled_from(
    [
        {},
        {"cash_rounding": {"increment": "0.05"}},
        {"weighed_rounding": "half_even", "tax_rounding": "down"},
        {"currency": "CNY", "moling": {"increment": "0.10"}},
        {"currency": "CNY", "moling": {"increment": "1.00"}, "tax_rounding": "half_even"},
        {"currency": "CNY", "moling": {"increment": "1.00", "cap": "0.50"}},
        {"currency": "CNY", "moling": {"increment": "0.10", "cash_only": True}},
        {"currency": "CNY", "moling": {"increment": "1.00", "cap": "0.30", "cash_only": True}},
        {"tax_per": "rate"},
        {"tax_per": "rate", "tax_rounding": "down", "cash_rounding": {"increment": "0.05"}},
        {"currency": "CNY", "moling": {"increment": "0.10"}, "tax_per": "rate"},
    ]
)


# 整单折扣: none most of the time; a percent (whole, halves, odd hundredths, all of it) or
# an amount (small, or more than the basket costs: then capped)
manual_discounts = (
    st.none()
    | st.builds(
        lambda p: ManualDiscount(percent=p, reason="regular customer"),
        st.sampled_from([Decimal(5), Decimal(10), Decimal("12.5"), Decimal("33.33"), Decimal(100)])
        | st.decimals(min_value=Decimal("0.01"), max_value=100, places=2),
    )
    | st.builds(
        lambda a: ManualDiscount(amount=a, reason="damaged box"),
        st.decimals(min_value=Decimal("0.01"), max_value=500, places=2),
    )
)


def assert_same(basket: Basket, cat: Catalog) -> None:
    """Both engines price `basket` identically, or refuse it with the same error."""
    try:
        expected = pricing_reference.price_basket(basket, cat)
    except PricingError as refused:
        try:
            engine(basket, cat)
        except PricingError as error:
            assert str(error) == str(refused)
            return
        message = f"the fast engine priced a basket the reference refused: {refused}"
        raise AssertionError(message) from refused
    got = engine(basket, cat)
    assert got.to_json() == expected.to_json()
    assert got == expected


# lines whose amounts are all written with fewer decimals than the currency has
short_amounts = st.lists(
    st.builds(
        lambda sku, n: BasketLine(sku, quantity=Decimal(n)),
        st.sampled_from(["BAG", "GUM"]),
        st.integers(1, 8),
    )
    | st.builds(lambda whole: BasketLine("APPLE", label_price=Decimal(whole)), st.integers(0, 60)),
    max_size=4,
)


MEMBER_TOOK = MemberContext(
    "M1",
    taken=(
        ("lim-m", "2026-11-24T09:00:00", 2),  # this week's: 1 of 3 left once refunded
        ("lim-m", "2026-11-24T09:00:00", -1),  # a refund of that sale gave one back
        ("lim-m", "2026-11-16T09:00:00", 3),  # last week's: outside the window
    ),
)


@settings(max_examples=250, deadline=None)
@given(
    st.lists(st.sampled_from(POOL), unique_by=lambda p: p["id"], max_size=len(POOL)),
    st.lists(st.one_of(counted, counted, counted, weighed, labels), max_size=30) | short_amounts,
    st.booleans(),
    st.lists(st.sampled_from(["YOG20", "yog20", "NOPE"]), max_size=2),
    money_rules,
    manual_discounts,
)
def test_small_catalog_same_as_reference(promos, lines, member, coupons, money, discount) -> None:  # type: ignore[no-untyped-def]
    member_context = MEMBER_TOOK if member else None
    basket = Basket(tuple(lines), AT, member_context, tuple(coupons), discount)
    assert_same(basket, small_catalog(promos, **money))


@pytest.mark.parametrize(
    ("promotion_ids", "lines"),
    [
        # the first threshold is not reached, the second is: its spend keeps the exponent
        (["big", "r"], [BasketLine("BAG", quantity=Decimal(8))]),
        (["big", "r", "t"], [BasketLine("GUM", quantity=Decimal(7)), BasketLine("BAG")]),
        (["r", "t3"], [BasketLine("APPLE", label_price=Decimal(12))]),
        # thresholds one after another, a line brought down to nothing by the first
        (["big", "r", "t"], [BasketLine("BAG", quantity=Decimal(60)), BasketLine("GUM")]),
        # one line takes a whole threshold: 5.00, not 5
        (["big"], [BasketLine("BAG", quantity=Decimal(60))]),
    ],
)
def test_exponents_as_written_survive(promotion_ids: list[str], lines: list[BasketLine]) -> None:
    promos = [p for p in POOL if p["id"] in promotion_ids]
    assert_same(Basket(tuple(lines), AT), small_catalog(promos))


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.builds(
            BasketLine,
            st.sampled_from([*SKUS, "APPLE", "CHERRY", "NOSUCH"]),
            quantity=st.decimals(allow_nan=True, allow_infinity=True, places=3),
            weight=st.none() | st.decimals(allow_nan=True, allow_infinity=True, places=4),
            label_price=st.none() | st.decimals(allow_nan=True, allow_infinity=True, places=3),
            price_override=st.none() | st.decimals(allow_nan=False, allow_infinity=False, places=2),
        ),
        max_size=5,
    ),
    st.lists(st.sampled_from(POOL), unique_by=lambda p: p["id"], max_size=len(POOL)),
    st.booleans(),
)
def test_odd_lines_same_result_or_same_error(lines, promos, member) -> None:  # type: ignore[no-untyped-def]
    basket = Basket(tuple(lines), AT, MemberContext("M1") if member else None)
    assert_same(basket, small_catalog(promos))


# -- generated catalogs shaped like bench/bench_pricing.py's ----------------------------------


@cache
def generated_catalog(seed: int) -> Catalog:
    """300 products over a few nested categories, 30-50 promotions of every kind (most of
    them set promotions competing for the same lines), caps and exclusives here and there."""
    rnd = random.Random(seed)
    n_categories = rnd.randint(3, 10)
    categories = [
        {"id": f"c{i}", "name": f"Category {i}", **({"parent": f"c{i // 3}"} if i >= 3 else {})}
        for i in range(n_categories)
    ]
    products = []
    for n in range(300):
        weighed = n % 10 == 0
        product: dict[str, Any] = {
            "sku": f"S{n}",
            "name": f"Product {n}",
            "unit": "kg" if weighed else "each",
            "price": rnd.choice(  # mostly as shops write them, sometimes shorter
                [f"{rnd.randint(5, 5000) / 100:.2f}"] * 8
                + [str(rnd.randint(1, 30)), f"{rnd.randint(5, 300) / 10:.1f}"]
            ),
            "tax_class": rnd.choice(["food", "std", "net"]),
            "category": f"c{rnd.randrange(n_categories)}",
        }
        if n % 7 == 0:
            product["member_price"] = f"{Decimal(product['price']) * Decimal('0.9'):.2f}"
        if n % 29 == 0:
            product["flags"] = ["no_discount"]
        products.append(product)
    kinds = ["buy_get", "bundle", "buy_get", "bundle", "percent_off", "amount_off", "fixed_price"]
    promos: list[dict[str, Any]] = []
    for i in range(rnd.randint(25, 45)):
        kind = rnd.choice(kinds)
        target = (
            {"categories": [f"c{rnd.randrange(n_categories)}"]}
            if rnd.random() < 0.7
            else {"skus": [f"S{rnd.randrange(300)}" for _ in range(rnd.randint(1, 8))]}
        )
        promo: dict[str, Any] = {
            "type": kind,
            "id": f"p{i}",
            "name": f"Promotion {i}",
            "target": target,
            "priority": rnd.randint(1, 20),  # often equal: ties must go the same way
        }
        promo.update(
            {
                "percent_off": {"percent": rnd.choice(["5", "10", "12.5", "33.3"])},
                "amount_off": {"amount": rnd.choice(["0.05", "0.20", "1.00"])},
                "fixed_price": {"price": rnd.choice(["0.99", "2.49"])},
                "buy_get": {
                    "buy": rnd.randint(1, 3),
                    "get": rnd.randint(1, 2),
                    "percent": rnd.choice(["100", "50", "30"]),
                },
                "bundle": {"quantity": rnd.randint(2, 4), "price": rnd.choice(["1.00", "5.00"])},
            }[kind]
        )
        if rnd.random() < 0.15:
            promo["max_discount"] = rnd.choice(["0.50", "3.00", "10.00"])
        if rnd.random() < 0.05:
            promo["exclusive"] = True
        if rnd.random() < 0.1:
            promo["member_only"] = True
        promos.append(promo)
    for i in range(rnd.randint(0, 5)):
        threshold: dict[str, Any] = {
            "type": "basket_threshold",
            "id": f"t{i}",
            "name": f"Threshold {i}",
            "stackable": rnd.random() < 0.5,
            "priority": rnd.randint(1, 20),
            "tiers": [
                {"threshold": str(20 * (i + 1)), "amount": str(2 + i)},
                {"threshold": str(100 * (i + 1)), "percent": "5"},
            ],
        }
        if rnd.random() < 0.3:
            threshold["target"] = {"categories": [f"c{rnd.randrange(n_categories)}"]}
        promos.append(threshold)
    money: dict[str, Any] = rnd.choice(
        [
            {"currency": "CHF", "decimals": 2, "cash_rounding": {"increment": "0.05"}},
            {"currency": "CNY", "decimals": 2, "moling": {"increment": "0.10"}},
        ]
    )
    return build_catalog(
        parse_document(
            {
                "schema": "storegate.catalog/1",
                "version": 1,
                "money": money,
                "tax_classes": [
                    {"id": "food", "name": "reduced", "rate": "2.6", "inclusive": True},
                    {"id": "std", "name": "standard", "rate": "8.1", "inclusive": True},
                    {"id": "net", "name": "net", "rate": "8.1", "inclusive": False},
                ],
                "categories": categories,
                "products": products,
                "promotions": promos,
            }
        )
    )


def generated_basket(cat: Catalog, seed: int, size: int) -> Basket:
    rnd = random.Random(seed)
    lines = []
    for _ in range(size):
        product = cat.products[f"S{rnd.randrange(300)}"]
        if product.weighed:
            lines.append(BasketLine(product.sku, weight=Decimal(rnd.randint(1, 3000)) / 1000))
        elif rnd.random() < 0.02:
            lines.append(BasketLine(product.sku, price_override=Decimal("1.50")))
        else:
            lines.append(BasketLine(product.sku, quantity=Decimal(rnd.randint(1, 6))))
    member = MemberContext("M1") if rnd.random() < 0.5 else None
    discount = None
    if rnd.random() < 0.25:  # 整单折扣, a percent or an amount
        if rnd.random() < 0.5:
            discount = ManualDiscount(percent=Decimal(rnd.randint(1, 10000)) / 100, reason="r")
        else:
            discount = ManualDiscount(amount=Decimal(rnd.randint(1, 50000)) / 100, reason="r")
    return Basket(tuple(lines), AT, member, discount=discount)


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 7), st.integers(0, 2**32), st.integers(1, 200))
def test_generated_catalogs_same_as_reference(catalog_seed, basket_seed, size) -> None:  # type: ignore[no-untyped-def]
    cat = generated_catalog(catalog_seed)
    assert_same(generated_basket(cat, basket_seed, size), cat)


def test_generated_catalogs_exercise_every_kind_of_order_search(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The generated data does reach what the fast path shortcuts: groups of 2, 3 and more
    than 3 competing set promotions."""
    sizes: set[int] = set()
    original = fast_engine._SetSearch.best_order

    def spy(self: Any, group: list[Any]) -> Any:
        sizes.add(min(len(group), 4))
        return original(self, group)

    monkeypatch.setattr(fast_engine._SetSearch, "best_order", spy)
    for seed in range(8):
        cat = generated_catalog(seed)
        engine(generated_basket(cat, seed, 200), cat)
    assert sizes == {1, 2, 3, 4}


# -- the shortcuts' own parts ------------------------------------------------------------------


amounts = st.decimals(min_value=-10000, max_value=10000, places=3, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(amounts, st.lists(amounts, max_size=30), st.sampled_from([0, 2, 3]))
def test_minor_unit_allocation_is_money_allocate(
    total: Decimal, weights: list[Decimal], places: int
) -> None:
    """`_Shares` gives what `money.allocate` gives, exponent for exponent (or the same error),
    whether the weights are whole minor units or not, for any total."""
    units = [fast_engine._minor_units(weight, places) for weight in weights]
    try:
        expected = allocate(total, weights, places)
    except ValueError:
        with pytest.raises(ValueError):
            fast_engine._Shares(places).allocate(total, weights, units)
        return
    got = fast_engine._Shares(places).allocate(total, weights, units)
    assert [str(share) for share in got] == [str(share) for share in expected]


def test_product_facts_leave_with_their_catalog() -> None:
    cat = small_catalog([POOL[0]])
    engine(Basket((BasketLine("C1", quantity=Decimal(3)),), AT), cat)
    key = id(cat)
    assert key in fast_engine._CATALOG_FACTS
    del cat
    gc.collect()
    assert key not in fast_engine._CATALOG_FACTS


def test_product_facts_are_never_another_catalogs() -> None:
    """Catalogs with the same skus at other prices and promotions, priced in turn, and new
    ones built where dropped ones were (an id can be reused): each prices as the reference
    prices it."""
    basket = Basket(
        (BasketLine("A", quantity=Decimal(2)), BasketLine("C1"), BasketLine("B")),
        AT,
        MemberContext("M1"),
    )
    dearer = copy.deepcopy(BASE)
    for product in dearer["products"]:
        if product["sku"] in ("A", "C1"):
            product["price"] = "9.00"
    dear = build_catalog(parse_document({**dearer, "promotions": POOL[6:10]}))
    cheap = small_catalog(POOL[:3])
    for _ in range(3):
        for cat in (cheap, dear):
            assert_same(basket, cat)
    for n in range(10):
        assert_same(basket, small_catalog(POOL[n : n + 4]))
        gc.collect()


def test_product_facts_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fast_engine, "_FACT_SETS", 2)
    cat = small_catalog([p for p in POOL if p["id"] in ("eve", "fx", "c3f2")])
    line = BasketLine("C1", quantity=Decimal(3))
    for at, member in [(AT, None), (AT.replace(hour=19), None), (AT, MemberContext("M1"))]:
        assert_same(Basket((line,), at, member), cat)  # three live sets: morning, evening, member
    assert len(fast_engine._CATALOG_FACTS[id(cat)][1]) <= 2
