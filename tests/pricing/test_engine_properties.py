"""Properties of the totals engine over random baskets and random sets of promotions."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from pricing_catalogs import AT, catalog

from gateway.catalog.catalog import Catalog
from gateway.money import ZERO, split_units
from gateway.pricing import (
    Basket,
    BasketLine,
    ManualDiscount,
    MemberContext,
    PricedBasket,
    PricingError,
)
from gateway.pricing import price_basket as engine
from gateway.pricing.reduced import Reduction

POOL = [
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
        "type": "amount_off",
        "id": "a30",
        "name": "0.30 off",
        "target": {"skus": ["A", "APPLE"]},
        "amount": "0.30",
    },
    {
        "type": "fixed_price",
        "id": "fx",
        "name": "bread 1.99",
        "target": {"skus": ["B"]},
        "price": "1.99",
        "member_only": True,
    },
    {
        "type": "fixed_price",
        "id": "fx-apple",
        "name": "apples 2.99/kg",
        "target": {"skus": ["APPLE"]},
        "price": "2.99",
        "exclusive": True,
    },
    {  # 2件9折 3件8折 over all food, and a limited one (issue 21)
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
        "target": {"categories": ["choc"], "skus": ["APPLE"]},
        "tiers": [{"min_units": 3, "percent_off": "33.3333"}],
        "limit_per_sale": 4,
        "max_discount": "2.50",
    },
    {  # 限购 per member: the member took 1 of 3 before (`TAKEN`)
        "type": "percent_off",
        "id": "lim-m",
        "name": "members: juice and yoghurt -30%, 3 a week",
        "target": {"skus": ["A", "Y1"]},
        "percent": "30",
        "member_only": True,
        "limit_per_member": 3,
        "schedule": {"valid_from": "2026-11-23T00:00", "valid_until": "2026-11-30T00:00"},
    },
    {
        "type": "amount_off",
        "id": "lim-y",
        "name": "yoghurt 0.40 off, 3 per sale",
        "target": {"categories": ["yog"], "skus": ["APPLE"]},
        "amount": "0.40",
        "limit_per_sale": 3,
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
    # 加价购 and 满赠 (step 2b): a net-priced add-on, a gift that a bundle also wants, an
    # add-on on an item with a member price, capped
    {
        "type": "add_on",
        "id": "pen-addon",
        "name": "pen for 0.50",
        "threshold": "8.00",
        "item": "PEN",
        "price": "0.50",
        "quantity": 2,
    },
    {
        "type": "gift",
        "id": "yog-gift",
        "name": "free yoghurt",
        "target": {"categories": ["choc"]},
        "threshold": "5.00",
        "item": "Y1",
    },
    {
        "type": "add_on",
        "id": "bread-addon",
        "name": "bread for 1.00",
        "threshold": "4.00",
        "item": "B",
        "price": "1.00",
        "quantity": 3,
        "max_discount": "3.10",
        "priority": 1,
    },
]
SKUS = ["A", "B", "C1", "C2", "Y1", "Y2", "PEN", "WINE"]

promotion_sets = st.lists(st.sampled_from(POOL), unique_by=lambda p: p["id"], max_size=len(POOL))
counted = st.builds(
    lambda sku, n: BasketLine(sku, quantity=Decimal(n)), st.sampled_from(SKUS), st.integers(1, 6)
)
weighed = st.builds(
    lambda sku, g: BasketLine(sku, weight=Decimal(g) / 1000),
    st.sampled_from(["APPLE", "CHERRY"]),
    st.integers(1, 5000),
)
labels = st.builds(
    lambda cents: BasketLine("APPLE", label_price=Decimal(cents) / 100), st.integers(0, 99999)
)
# reduced-to-clear stickers that may be sold: 0.50 (below every SKU's price) or a percent off
stickers = st.builds(
    lambda sku, percent: BasketLine(
        sku,
        reduced=Reduction(Decimal("0.50"), None) if percent is None else Reduction(None, percent),
    ),
    st.sampled_from(SKUS),
    st.none() | st.integers(1, 99).map(Decimal),
)
lines = st.lists(st.one_of(counted, counted, weighed, labels, stickers), min_size=0, max_size=25)
money_rules = st.sampled_from(
    [
        {},
        {"cash_rounding": {"increment": "0.05"}},
        {"currency": "CNY", "moling": {"increment": "0.10"}},
        {"currency": "CNY", "moling": {"increment": "1.00"}, "tax_rounding": "half_even"},
        {"tax_per": "rate"},
        {"currency": "CNY", "moling": {"increment": "0.10"}, "tax_per": "rate"},
    ]
)


# 整单折扣: none half of the time, else a percent or an amount (maybe more than the basket)
discounts = (
    st.none()
    | st.builds(
        lambda p: ManualDiscount(percent=p, reason="r"),
        st.decimals(min_value=Decimal("0.01"), max_value=100, places=2),
    )
    | st.builds(
        lambda a: ManualDiscount(amount=a, reason="r"),
        st.decimals(min_value=Decimal("0.01"), max_value=300, places=2),
    )
)


def price(
    cat: Catalog,
    basket_lines: list[BasketLine],
    member: bool,
    discount: ManualDiscount | None = None,
) -> PricedBasket:
    ctx = MemberContext("M1", taken=TAKEN) if member else None
    return engine(Basket(tuple(basket_lines), AT, ctx, discount=discount), cat)


TAKEN = (("lim-m", "2026-11-24T09:00:00", 2), ("lim-m", "2026-11-24T09:00:00", -1))


@settings(max_examples=200, deadline=None)
@given(promotion_sets, lines, money_rules, discounts)
def test_a_member_limit_covers_no_more_than_the_member_has_left(  # type: ignore[no-untyped-def]
    promos, basket_lines, money, off
) -> None:
    basket = price(catalog(promos, **money), basket_lines, True, off)
    covered = [
        a.units
        for ln in basket.lines
        for a in ln.adjustments
        if a.promotion == "lim-m" and a.kind == "promotion"
    ]
    assert all(n is not None and n > 0 for n in covered)
    assert sum(n for n in covered if n is not None) <= 3 - 1
    assert all(
        a.units is None for ln in basket.lines for a in ln.adjustments if a.promotion != "lim-m"
    )


@settings(max_examples=300, deadline=None)
@given(promotion_sets, lines, st.booleans(), money_rules, discounts)
def test_line_totals_and_adjustments_sum_exactly(promos, basket_lines, member, money, off) -> None:  # type: ignore[no-untyped-def]
    basket = price(catalog(promos, **money), basket_lines, member, off)
    assert sum((ln.total for ln in basket.lines), ZERO) == basket.total
    rebuilt = ZERO
    for ln in basket.lines:
        exclusive_tax = ZERO if ln.tax_inclusive else ln.tax
        assert ln.list_amount + sum(
            (a.amount for a in ln.adjustments), ZERO
        ) + exclusive_tax == ln.total or any(a.kind == "moling" for a in ln.adjustments)
        rebuilt += ln.total
    assert rebuilt == basket.total
    assert sum((t.gross for t in basket.taxes), ZERO) == basket.total
    assert sum((t.tax for t in basket.taxes), ZERO) == basket.tax


@settings(max_examples=200, deadline=None)
@given(
    promotion_sets, lines, st.booleans(), money_rules, st.randoms(use_true_random=False), discounts
)
def test_scan_order_never_changes_the_total(promos, basket_lines, member, money, rnd, off) -> None:  # type: ignore[no-untyped-def]
    cat = catalog(promos, **money)
    shuffled = list(basket_lines)
    rnd.shuffle(shuffled)
    first, second = price(cat, basket_lines, member, off), price(cat, shuffled, member, off)
    assert first.total == second.total
    assert first.cash_total == second.cash_total


@settings(max_examples=200, deadline=None)
@given(promotion_sets, lines, st.booleans(), money_rules, discounts)
def test_no_promotion_makes_a_line_negative_or_the_basket_dearer(
    promos, basket_lines, member, money, off
) -> None:  # type: ignore[no-untyped-def]
    with_promos = price(catalog(promos, **money), basket_lines, member)
    without = price(catalog([], **money), basket_lines, member)
    assert all(ln.amount >= 0 and ln.total >= 0 for ln in with_promos.lines)
    assert with_promos.total <= without.total
    assert with_promos.moling <= 0
    discounted = price(catalog(promos, **money), basket_lines, member, off)
    assert all(ln.amount >= 0 and ln.total >= 0 for ln in discounted.lines)
    assert discounted.total <= with_promos.total


@settings(max_examples=200, deadline=None)
@given(promotion_sets, lines, st.booleans(), discounts)
def test_refunding_every_unit_returns_the_total(promos, basket_lines, member, off) -> None:  # type: ignore[no-untyped-def]
    basket = price(catalog(promos), basket_lines, member, off)
    refunded = ZERO
    for ln in basket.lines:
        if ln.unit == "each" and ln.label_price is None:
            shares = split_units(ln.total, int(ln.quantity), basket.places)
            assert sum(shares, ZERO) == ln.total
            assert max(shares, default=ZERO) - min(shares, default=ZERO) <= Decimal("0.01")
            refunded += sum(shares, ZERO)
        else:
            refunded += ln.total
    assert refunded == basket.total


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.builds(
            BasketLine,
            st.text(max_size=6) | st.sampled_from([*SKUS, "APPLE", "CHERRY"]),
            quantity=st.decimals(allow_nan=True, allow_infinity=True, places=3),
            weight=st.none() | st.decimals(allow_nan=True, allow_infinity=True),
            label_price=st.none() | st.decimals(allow_nan=True, allow_infinity=True, places=3),
            price_override=st.none() | st.decimals(allow_nan=False, allow_infinity=False, places=2),
        ),
        max_size=6,
    ),
    promotion_sets,
)
def test_random_baskets_only_raise_the_documented_error(basket_lines, promos) -> None:  # type: ignore[no-untyped-def]
    try:
        basket = price(catalog(promos), basket_lines, member=False)
    except PricingError:
        return
    assert sum((ln.total for ln in basket.lines), ZERO) == basket.total
