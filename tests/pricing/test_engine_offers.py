"""加价购 (`add_on`) and 满赠 (`gift`), step 2b of the engine: hand-computed cases, the
catalog's refusals, and properties over random baskets (shares sum, never negative, a
partial refund returns what was paid). Pricing per scan with offers live is held to
`price_basket` in `test_incremental.py`."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pricing_catalogs import BASE, D, catalog, line, price

from gateway.catalog.document import CatalogError, parse_document
from gateway.money import ZERO, split_units
from gateway.pricing import BasketLine

PEN_ADD_ON: dict[str, Any] = {
    "type": "add_on",
    "id": "pen",
    "name": "Pen for 0.50",
    "threshold": "10.00",
    "item": "PEN",
    "price": "0.50",
}
YOG_GIFT: dict[str, Any] = {
    "type": "gift",
    "id": "yog",
    "name": "Free yoghurt",
    "target": {"categories": ["choc"]},
    "threshold": "5.00",
    "item": "Y1",
    "quantity": 2,
}
TEN_OFF: dict[str, Any] = {
    "type": "basket_threshold",
    "id": "t",
    "name": "1 off 10",
    "tiers": [{"threshold": "10", "amount": "1.00"}],
}


def test_add_on_below_and_at_its_threshold() -> None:
    """Apple juice 2.00 x 4 = 8.00 < 10.00: the pen costs 1.20. One juice more (10.00): one
    pen costs 0.50, discount 1.20 - 0.50 = 0.70 on the pen's line; the second pen stays
    1.20. The pen is net-priced (8.1% added): 2.40 - 0.70 = 1.70, tax 0.1377 -> 0.14,
    total 1.84; basket 10.00 + 1.84 = 11.84."""
    cat = catalog([PEN_ADD_ON])
    below = price(cat, line("A", 4), line("PEN", 2))
    assert below.lines[1].adjustments == ()
    assert below.item_discounts == ZERO
    basket = price(cat, line("A", 5), line("PEN", 2))
    pen = basket.lines[1]
    [adjustment] = pen.adjustments
    assert (adjustment.kind, adjustment.amount, adjustment.promotion) == (
        "promotion",
        D("-0.70"),
        "pen",
    )
    assert adjustment.label == "add-on: Pen for 0.50"
    assert adjustment.detail == "1 at 0.50 with a spend of 10.00"
    assert (pen.amount, pen.tax, pen.total) == (D("1.70"), D("0.14"), D("1.84"))
    assert basket.total == D("11.84")
    assert basket.item_discounts == D("0.70")
    assert basket.promotions == (
        {
            "id": "pen",
            "name": "Pen for 0.50",
            "discount": D("0.70"),
            "lines": [1],
            "spend": D("10.00"),
        },
    )


def test_the_add_on_never_pays_for_its_own_threshold() -> None:
    """Nine pens (9 x 1.20 = 10.80) and a juice (2.00): the pens do not count, 2.00 < 10.00,
    so no pen is at 0.50."""
    basket = price(catalog([PEN_ADD_ON]), line("PEN", 9), line("A"))
    assert basket.item_discounts == ZERO


def test_gift_is_free_when_rung_up_and_says_so() -> None:
    """Chocolate 1.90 + 2.20 x 2 = 6.30 >= 5.00 (the gift's target: chocolate): two of the
    three yoghurts (0.85 each) are free, 1.70 off; the third costs 0.85. Without the
    yoghurt in the basket nothing is given (the gift is rung up like any item)."""
    cat = catalog([YOG_GIFT])
    basket = price(cat, line("C1"), line("C2", 2), line("Y1", 3))
    yog = basket.lines[2]
    [adjustment] = yog.adjustments
    assert adjustment.label == "gift: Free yoghurt"
    assert adjustment.detail == "2 free with a spend of 5.00"
    assert (adjustment.amount, yog.total) == (D("-1.70"), D("0.85"))
    assert basket.total == D("1.90") + D("4.40") + D("0.85")
    alone = price(cat, line("C1"), line("C2", 2))
    assert alone.item_discounts == ZERO
    # two lines of one yoghurt each: both free; a third line pays
    split = price(cat, line("C2", 3), line("Y1"), line("Y1"), line("Y1"))
    assert [ln.total for ln in split.lines[1:]] == [ZERO, ZERO, D("0.85")]


def test_offers_come_before_the_thresholds_which_count_the_add_on_at_its_new_price() -> None:
    """Juice 2.00 x 5 = 10.00 unlocks the pen (net 2.40 - 0.70 = 1.70). The 满减 then counts
    10.00 + 1.70 = 11.70 >= 10: 1.00 off, shares 1.00 x 10.00/11.70 = 0.8547 -> 0.85 and
    1.00 x 1.70/11.70 = 0.1453 -> 0.15 (remainders .47 and .53: the leftover cent to the
    pen). Pen 1.70 - 0.15 = 1.55, tax 0.1256 -> 0.13, total 1.68; juice 9.15; 10.83."""
    basket = price(catalog([PEN_ADD_ON, TEN_OFF]), line("A", 5), line("PEN", 2))
    juice, pen = basket.lines
    assert [a.amount for a in juice.adjustments] == [D("-0.85")]
    assert [a.amount for a in pen.adjustments] == [D("-0.70"), D("-0.15")]
    assert (pen.total, juice.total, basket.total) == (D("1.68"), D("9.15"), D("10.83"))
    assert basket.basket_discounts == D("1.00")


def test_a_unit_an_item_promotion_made_cheaper_is_topped_up_to_the_offer_price() -> None:
    """Each unit is given the offer's price, never that and an item promotion on top: the
    offer takes off what the unit still costs after step 2 (its line's amount over its
    units) down to the offer's price.

    Chocolate 2.20 x 3 = 6.60 >= 5.00. Three yoghurts in the 3-for-2.00 bundle cost 2.00,
    2.00 / 3 each: two free take 2 x 0.6667 = 1.3333 -> 1.33 off, the line 0.67 (the
    unit paid for, at its bundle price).

    With a mocha yoghurt (0.95) and a fourth yoghurt on a line of its own, the bundle
    takes the dearest units, Y2 and two of line 1's: 2.65 - 2.00 = 0.65, spread 95:85:85
    -> 0.2330 / 0.2085 / 0.2085, floors 23 / 20 / 20 cents and the two cents left to the
    larger remainders (.85, .85): 0.23 / 0.21 / 0.21. Line 1 costs 2.55 - 0.42 = 2.13,
    0.71 a unit; line 3 costs 0.85. The gift's two units: line 3's first (0.85 off, the
    dearer unit), then one of line 1's (0.71 off): line 1 1.42, line 3 0.00."""
    bundle = {
        "type": "bundle",
        "id": "y3",
        "name": "3 for 2.00",
        "target": {"categories": ["yog"]},
        "quantity": 3,
        "price": "2.00",
    }
    cat = catalog([bundle, YOG_GIFT])
    taken = price(cat, line("C2", 3), line("Y1", 3))
    yog = taken.lines[1]
    assert [(a.promotion, a.amount) for a in yog.adjustments] == [
        ("y3", D("-0.55")),
        ("yog", D("-1.33")),
    ]
    assert yog.total == D("0.67")
    both = price(cat, line("C2", 3), line("Y1", 3), line("Y2"), line("Y1"))
    assert [(a.promotion, a.amount) for a in both.lines[1].adjustments] == [
        ("y3", D("-0.42")),
        ("yog", D("-0.71")),
    ]
    assert [(a.promotion, a.amount) for a in both.lines[2].adjustments] == [("y3", D("-0.23"))]
    assert [(a.promotion, a.amount) for a in both.lines[3].adjustments] == [("yog", D("-0.85"))]
    assert (both.lines[1].total, both.lines[3].total) == (D("1.42"), ZERO)


def test_an_exclusive_promotion_keeps_its_units_from_the_offer() -> None:
    """An exclusive promotion's price is the last word on its units: yoghurts at 0.50
    (exclusive) take no gift."""
    fixed = {
        "type": "fixed_price",
        "id": "y50",
        "name": "yoghurt 0.50",
        "target": {"skus": ["Y1"]},
        "price": "0.50",
        "exclusive": True,
    }
    basket = price(catalog([fixed, YOG_GIFT]), line("C2", 3), line("Y1", 2))
    assert [a.promotion for a in basket.lines[1].adjustments] == ["y50"]
    assert basket.lines[1].total == D("1.00")


def test_member_price_and_cap() -> None:
    """Bread's member price 2.50: an add-on at 1.00 takes 1.50 a unit; three units 4.50,
    capped at 3.10 (the promotion's max_discount)."""
    promo = {
        "type": "add_on",
        "id": "b",
        "name": "Bread 1.00",
        "threshold": "2.00",
        "item": "B",
        "price": "1.00",
        "quantity": 3,
        "max_discount": "3.10",
    }
    basket = price(catalog([promo]), line("A"), line("B", 4), member="M1")
    bread = basket.lines[1]
    assert [a.amount for a in bread.adjustments] == [D("-2.00"), D("-3.10")]  # member, offer
    assert bread.adjustments[1].detail.endswith("(capped at 3.10)")
    assert bread.total == D("12.00") - D("2.00") - D("3.10")  # list 4 x 3.00


def test_coupon_offer_notices() -> None:
    cat = catalog([{**PEN_ADD_ON, "coupon": "PEN"}])
    short = price(cat, line("A", 2), line("PEN"), coupons=("PEN",))
    assert short.notices == (
        "coupon PEN does not apply: spend 10.00 on qualifying items (this basket: 4.00)",
    )
    missing = price(cat, line("A", 5), coupons=("PEN",))
    assert missing.notices == ("coupon PEN does not apply: ring up its item (Pen) to take it",)
    assert price(cat, line("A", 5), line("PEN"), coupons=("PEN",)).notices == ()


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"item": "NOPE"}, "promotions[0] (pen).item: unknown product 'NOPE'"),
        ({"item": "APPLE", "price": "0.10"}, "APPLE is sold by weight"),
        ({"item": "WINE"}, "WINE is flagged no_discount"),
        ({"price": "1.20"}, "promotions[0] (pen).price: 1.20 is not below the price of PEN"),
        ({"threshold": "10.005"}, "threshold: 10.005 has more than the currency's 2 decimal"),
        ({"quantity": 0}, "quantity"),
    ],
)
def test_catalog_refuses_a_bad_offer(change: dict[str, Any], problem: str) -> None:
    doc = {**BASE, "promotions": [{**PEN_ADD_ON, **change}]}
    with pytest.raises(CatalogError) as refused:
        parse_document(doc)
    assert any(problem in p for p in refused.value.problems), refused.value.problems


OFFERS = [
    PEN_ADD_ON,
    YOG_GIFT,
    {**TEN_OFF, "stackable": True},
    {"type": "gift", "id": "g2", "name": "Pen free", "threshold": "20", "item": "PEN"},
]
basket_lines = st.lists(
    st.builds(
        lambda sku, n, override: BasketLine(sku, quantity=Decimal(n), price_override=override),
        st.sampled_from(["A", "B", "C1", "C2", "Y1", "PEN", "WINE"]),
        st.integers(1, 6),
        st.none() | st.none() | st.sampled_from([D("0.40"), D("1.50")]),
    ),
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(OFFERS), unique_by=lambda p: p["id"]),
    basket_lines,
    st.booleans(),
    st.lists(st.integers(0, 6), min_size=12, max_size=12),
)
def test_offers_sum_exactly_never_negative_and_partial_refunds_return_what_was_paid(
    promos: list[dict[str, Any]], lines: list[BasketLine], member: bool, returned: list[int]
) -> None:
    """Every line's list amount plus its adjustments (plus exclusive tax) is its total, the
    lines sum to the basket; no line costs less than nothing; an offer never makes the
    basket dearer; returning k units of a line pays back the first k of its unit shares
    (`split_units`, as the lane does), never more than the line's total, and all units
    give back the total exactly."""
    cat = catalog(promos)
    basket = price(cat, *lines, member="M1" if member else None)
    plain = price(catalog([]), *lines, member="M1" if member else None)
    assert basket.total <= plain.total
    assert sum((ln.total for ln in basket.lines), ZERO) == basket.total
    for ln, k in zip(basket.lines, returned, strict=False):
        exclusive_tax = ZERO if ln.tax_inclusive else ln.tax
        assert ln.list_amount + sum((a.amount for a in ln.adjustments), ZERO) + exclusive_tax == (
            ln.total
        )
        assert ln.amount >= 0 and ln.total >= 0
        shares = split_units(ln.total, int(ln.quantity), basket.places)
        back = sum(shares[: min(k, len(shares))], ZERO)
        assert ZERO <= back <= ln.total
        assert sum(shares, ZERO) == ln.total
    given = {p["id"]: p for p in basket.promotions}
    for promo_id, entry in given.items():
        lines_total = sum(
            (-a.amount for ln in basket.lines for a in ln.adjustments if a.promotion == promo_id),
            ZERO,
        )
        assert entry["discount"] == lines_total
