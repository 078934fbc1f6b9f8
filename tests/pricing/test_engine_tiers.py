"""Quantity tiers (2件9折, 3件8折) and 限购 (`limit_per_sale`), hand-computed.

Quantity tiers count the units sold each that the promotion targets, over every line of
the sale; the highest tier reached is a percent off every one of them, rounded as any
per-unit percent is (per unit exact, the line's units together half up to the cent), and it
competes with the line's other per-unit promotions and with set promotions as they do
with each other. A limit gives the promotion to the first N units (in the order rung up)
that take it; the others pay the normal price, and the line says so. docs/pricing.md.
"""

from __future__ import annotations

from typing import Any

import pytest
from pricing_catalogs import BASE, D, catalog, line, price

from gateway.catalog.document import CatalogError, parse_document
from gateway.money import ZERO, split_units

CHOC_TIERS: dict[str, Any] = {  # chocolate: 2 bars 10% off each, 3 or more 20% off each
    "type": "quantity_tiers",
    "id": "choc-tiers",
    "name": "2件9折 3件8折",
    "target": {"categories": ["choc"]},
    "tiers": [{"min_units": 2, "percent_off": "10"}, {"min_units": 3, "percent_off": "20"}],
}
HALF_APPLE_JUICE: dict[str, Any] = {  # 限购 2: apple juice half price, two per sale
    "type": "percent_off",
    "id": "half-a",
    "name": "Apple juice -50%",
    "target": {"skus": ["A"]},
    "percent": "50",
    "limit_per_sale": 2,
}


def test_every_unit_gets_the_best_tier_reached_over_all_lines() -> None:
    # milk 1.90 (C1) x 2 + dark 2.20 (C2) x 1 = 3 chocolate units: 20% off each
    #   milk: 1.90 x 20% = 0.38 a unit, x 2 = 0.76 -> 3.80 - 0.76 = 3.04
    #   dark: 2.20 x 20% = 0.44                     -> 2.20 - 0.44 = 1.76
    basket = price(catalog([CHOC_TIERS]), line("C1", 2), line("C2"), line("A"))
    milk, dark, juice = basket.lines
    assert [a.amount for a in milk.adjustments] == [D("-0.76")]
    assert [a.amount for a in dark.adjustments] == [D("-0.44")]
    assert milk.adjustments[0].detail == "20% off each from 3 units"
    assert milk.adjustments[0].promotion == "choc-tiers"
    assert juice.adjustments == ()  # not chocolate: neither counted nor discounted
    assert basket.total == D("3.04") + D("1.76") + D("2.00")
    assert basket.promotions == (
        {"id": "choc-tiers", "name": "2件9折 3件8折", "discount": D("1.20"), "lines": [0, 1]},
    )


def test_the_tier_follows_the_number_of_units() -> None:
    cat = catalog([CHOC_TIERS])
    # one bar: no tier reached
    assert price(cat, line("C1")).lines[0].adjustments == ()
    # two bars: 10% off each: 1.90 x 10% = 0.19, 2.20 x 10% = 0.22
    two = price(cat, line("C1"), line("C2"))
    assert [ln.discount for ln in two.lines] == [D("0.19"), D("0.22")]
    assert two.lines[0].adjustments[0].detail == "10% off each from 2 units"
    # five bars on one line: still the top tier, 20%: 1.90 x 20% x 5 = 1.90
    assert price(cat, line("C1", 5)).lines[0].discount == D("1.90")


def test_a_line_rounds_its_units_together_half_up() -> None:
    # yoghurt 0.85 x 3 at 10%: 0.085 a unit, x 3 = 0.255 -> 0.26 (half up, the line's units
    # together, as a percent_off rounds); two lines of one: 0.085 -> 0.09 each
    yog = {**CHOC_TIERS, "id": "yog-tiers", "target": {"categories": ["yog"]}}
    yog["tiers"] = [{"min_units": 3, "percent_off": "10"}]
    cat = catalog([yog])
    assert price(cat, line("Y1", 3)).lines[0].discount == D("0.26")
    split = price(cat, line("Y1", 2), line("Y1"))
    # 0.085 x 2 = 0.17 and 0.085 -> 0.09
    assert [ln.discount for ln in split.lines] == [D("0.17"), D("0.09")]


def test_tiers_compete_with_other_per_unit_promotions_unit_by_unit() -> None:
    fifteen = {
        "type": "percent_off",
        "id": "p15",
        "name": "-15%",
        "target": {"categories": ["choc"]},
        "percent": "15",
    }
    cat = catalog([CHOC_TIERS, fifteen])
    # two bars: the tier gives 10%, the other promotion 15%: each unit takes the 15%
    # 1.90 x 15% = 0.285 -> 0.29; 2.20 x 15% = 0.33
    two = price(cat, line("C1"), line("C2"))
    assert [a.promotion for ln in two.lines for a in ln.adjustments] == ["p15", "p15"]
    assert [ln.discount for ln in two.lines] == [D("0.29"), D("0.33")]
    # three bars: the tier gives 20%, more than 15%: 0.38 x 2, 0.44
    three = price(cat, line("C1", 2), line("C2"))
    assert [a.promotion for ln in three.lines for a in ln.adjustments] == ["choc-tiers"] * 2
    assert [ln.discount for ln in three.lines] == [D("0.76"), D("0.44")]


def test_a_set_promotion_beats_the_tier_only_where_it_saves_more() -> None:
    three_for_two = {
        "type": "buy_get",
        "id": "c3f2",
        "name": "3 for 2",
        "target": {"categories": ["choc"]},
        "buy": 2,
        "get": 1,
    }
    cat = catalog([CHOC_TIERS, three_for_two])
    # milk 1.90 x 4: 4 units reach the 20% tier (0.38 a unit, 1.52 in all). The set of
    # the 3 dearest units gives 1.90 off, more than 3 x 0.38 = 1.14, so it is formed; the
    # fourth unit takes the tier: 0.38. The units in the set still count for the tier.
    basket = price(cat, line("C1", 4))
    assert [(a.promotion, a.amount) for a in basket.lines[0].adjustments] == [
        ("c3f2", D("-1.90")),
        ("choc-tiers", D("-0.38")),
    ]
    assert basket.total == D("7.60") - D("2.28")


def test_member_price_override_weighed_and_labels() -> None:
    bread = {**CHOC_TIERS, "id": "bread-tiers", "target": {"skus": ["B", "APPLE"]}}
    cat = catalog([bread])
    # a member's bread costs 2.50: 2 units, 10% of 2.50 = 0.25 each -> 0.50 on the line
    member = price(cat, line("B", 2), member="M1")
    assert member.lines[0].discount == D("0.50") + D("1.00")  # + member price 0.50 x 2
    # an override of 2.00 a unit: 10% of the override, 0.20 x 2
    overridden = price(cat, line("B", 2, price_override=D("2.00")))
    assert [a.amount for a in overridden.lines[0].adjustments] == [D("-2.00"), D("-0.40")]
    # weighed apples neither count nor take the tier: one bread alone reaches none
    assert price(cat, line("B"), line("APPLE", weight=D("2.000"))).savings == ZERO


def test_max_discount_caps_the_tiers_across_their_lines() -> None:
    capped = {**CHOC_TIERS, "max_discount": "1.00"}
    # 20% on milk 0.76 and dark 0.44 = 1.20, capped at 1.00 and shared by largest
    # remainder: 1.00 x 0.76/1.20 = 0.6333 -> 0.63, 1.00 x 0.44/1.20 = 0.3667 -> 0.37
    basket = price(catalog([capped]), line("C1", 2), line("C2"))
    assert [ln.discount for ln in basket.lines] == [D("0.63"), D("0.37")]
    assert basket.lines[0].adjustments[0].detail == "20% off each from 3 units (capped at 1.00)"


def test_a_partial_refund_returns_what_the_unit_cost() -> None:
    # milk 1.90 x 3 at 20%: the line costs 5.70 - 1.14 = 4.56; one bar back is 1.52, what
    # it cost in the sale (not the 10% the two kept would have cost)
    line_ = price(catalog([CHOC_TIERS]), line("C1", 3)).lines[0]
    assert line_.total == D("4.56")
    assert split_units(line_.total, 3, 2) == [D("1.52")] * 3


def test_limit_per_sale_gives_the_promotion_to_n_units_only() -> None:
    cat = catalog([HALF_APPLE_JUICE])
    # 3 on one line: 2 units at 50% (1.00 off each), the third at 2.00: 6.00 - 2.00 = 4.00
    one = price(cat, line("A", 3)).lines[0]
    assert one.total == D("4.00")
    assert one.adjustments[0].detail == (
        "50% off (limit 2 per sale: 2 of 3 units; 1 at the normal price)"
    )
    # over lines: the limit goes to the units it saves most on; all save 1.00 here, so
    # to the line with more units (then the earlier line): scan order never changes it
    basket = price(cat, line("A"), line("A", 2), line("A"))
    assert [ln.discount for ln in basket.lines] == [ZERO, D("2.00"), ZERO]
    assert basket.lines[1].adjustments[0].detail == "50% off"
    assert basket.lines[0].adjustments == basket.lines[2].adjustments == ()
    assert basket.total == D("2.00") + D("2.00") + D("2.00")
    # two lines of one, then: the earlier one; the later pays 2.00
    pair = price(cat, line("A"), line("A"), line("A"))
    assert [ln.discount for ln in pair.lines] == [D("1.00"), D("1.00"), ZERO]
    assert basket.promotions[0]["discount"] == D("2.00")


def test_a_limit_goes_to_the_units_it_saves_most_on() -> None:
    # 0.40 off yoghurt (0.85, 0.95) and weighed apples (0.40 a kg), 3 per sale: the three
    # units where 0.40 is most are the yoghurts, whatever the order; 1.2 kg of apples
    # would save 0.48, so it comes first
    limited = {
        "type": "amount_off",
        "id": "lim",
        "name": "0.40 off, 3 per sale",
        "target": {"categories": ["yog"], "skus": ["APPLE"]},
        "amount": "0.40",
        "limit_per_sale": 3,
    }
    cat = catalog([limited])
    small = line("APPLE", weight=D("0.500"))  # 0.40 x 0.5 = 0.20: less than a yoghurt
    big = line("APPLE", weight=D("1.200"))  # 0.40 x 1.2 = 0.48: more
    for lines in ([small, line("Y1", 2), line("Y2", 2)], [line("Y2", 2), line("Y1", 2), small]):
        basket = price(cat, *lines)
        assert basket.item_discounts == D("1.20")  # 3 x 0.40, no apple
        assert sum((ln.discount for ln in basket.lines if ln.sku == "APPLE"), ZERO) == ZERO
    # 1.2 kg of apples saves 0.48, more than a yoghurt: it takes one of the three; the
    # yoghurts save alike (0.40), the lower sku first: Y1 x 2; Y2 pays full price
    basket = price(cat, line("Y2", 2), line("Y1", 2), big)
    assert [ln.discount for ln in basket.lines] == [ZERO, D("0.80"), D("0.48")]


def test_limit_per_sale_on_quantity_tiers_and_units_left_by_a_set() -> None:
    limited = {**CHOC_TIERS, "limit_per_sale": 2}
    # milk 1.90 x 4 reach 20%, but only 2 units get it: 0.38 x 2 = 0.76
    basket = price(catalog([limited]), line("C1", 4))
    assert basket.lines[0].discount == D("0.76")
    assert "2 of 4 units; 2 at the normal price" in basket.lines[0].adjustments[0].detail
    # a set promotion's units do not use up the limit: 3 for 2 takes 3 bars of 5, the
    # 2 left take the limited tier (5 units counted: 20%)
    three_for_two = {
        "type": "buy_get",
        "id": "c3f2",
        "name": "3 for 2",
        "target": {"categories": ["choc"]},
        "buy": 2,
        "get": 1,
    }
    both = price(catalog([limited, three_for_two]), line("C1", 5))
    assert [(a.promotion, a.amount) for a in both.lines[0].adjustments] == [
        ("c3f2", D("-1.90")),
        ("choc-tiers", D("-0.76")),
    ]


def _refused(promotion: dict[str, Any]) -> str:
    doc = {**BASE, "promotions": [promotion]}
    with pytest.raises(CatalogError) as caught:
        parse_document(doc)
    return str(caught.value)


@pytest.mark.parametrize(
    ("tiers", "said"),
    [
        (
            [{"min_units": 3, "percent_off": "20"}, {"min_units": 2, "percent_off": "10"}],
            "promotions[0] (choc-tiers).tiers: min_units and percent_off must both increase",
        ),
        (
            [{"min_units": 2, "percent_off": "20"}, {"min_units": 3, "percent_off": "10"}],
            "percent_off 20, 10",
        ),
        ([{"min_units": 0, "percent_off": "10"}], "promotions[0] (choc-tiers).tiers[0].min_units"),
        (
            [{"min_units": 2, "percent_off": "120"}],
            "promotions[0] (choc-tiers).tiers[0].percent_off: Input should be less",
        ),
        ([{"min_units": 2}], "promotions[0] (choc-tiers).tiers[0].percent_off"),
        ([], "promotions[0] (choc-tiers).tiers"),
    ],
)
def test_bad_tiers_are_refused_naming_the_promotion(tiers: list[Any], said: str) -> None:
    assert said in _refused({**CHOC_TIERS, "tiers": tiers})


def test_a_limit_belongs_to_per_unit_promotions_only() -> None:
    bundle = {
        "type": "bundle",
        "id": "y3",
        "name": "3 for 2.00",
        "target": {"categories": ["yog"]},
        "quantity": 3,
        "price": "2.00",
        "limit_per_sale": 1,
    }
    said = _refused(bundle)
    assert "promotions[0] (y3).limit_per_sale: unknown field" in said
    assert "(a limit per sale or per member is for" in said
    assert "promotions[0] (half-a).limit_per_sale" in _refused(
        {**HALF_APPLE_JUICE, "limit_per_sale": 0}
    )


def test_a_coupon_tier_not_reached_says_how_many_items_it_needs() -> None:
    coupon = {**CHOC_TIERS, "coupon": "CHOC"}
    # one bar: the first tier needs 2
    basket = price(catalog([coupon]), line("C1"), coupons=("CHOC",))
    assert basket.notices == (
        "coupon CHOC does not apply: it needs 2 qualifying items (this basket: 1)",
    )
    assert price(catalog([coupon]), line("C1", 2), coupons=("CHOC",)).notices == ()
