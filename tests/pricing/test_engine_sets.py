"""Set promotions that form several sets: each set's discount stays on that set's units.

Hand-computed (docs/pricing.md step 2), because the reference copy is not an independent
witness of this rule: it once pooled the sets' discounts exactly as the engine did. Sets are
formed from the most expensive eligible units down, `size` at a time; each set's discount
is rounded to the cent on its own and spread over its own units in proportion to their
prices by largest remainder (ties to the earlier unit of the set).
"""

from __future__ import annotations

from decimal import Decimal

from pricing_catalogs import D, catalog, line, price

from gateway.money import split_units

TWO_FOR_THREE = {  # "any 2 chocolates for 3.00"
    "type": "bundle",
    "id": "choc2",
    "name": "Any 2 for 3.00",
    "target": {"categories": ["choc"]},
    "quantity": 2,
    "price": "3.00",
}
THREE_FOR_TWO = {
    "type": "buy_get",
    "id": "c3f2",
    "name": "Chocolate 3 for 2",
    "target": {"categories": ["choc"]},
    "buy": 2,
    "get": 1,
}


def discounts(basket_lines: object) -> dict[str, Decimal]:
    return {ln.sku: ln.discount for ln in basket_lines}  # type: ignore[attr-defined]


def test_each_bundle_costs_its_price_and_a_return_pays_back_its_share() -> None:
    # dark 2.20 (C2) x 2, milk 1.90 (C1) x 2; units by price: 2.20 2.20 | 1.90 1.90
    # set 1 (dark, dark): 4.40 - 3.00 = 1.40 off   -> the dark line costs 3.00
    # set 2 (milk, milk): 3.80 - 3.00 = 0.80 off   -> the milk line costs 3.00
    # (pooled, 2.20 over all four units by price gave dark 1.18 / milk 1.02: 3.22 / 2.78)
    basket = price(catalog([TWO_FOR_THREE]), line("C2", 2), line("C1", 2))
    assert discounts(basket.lines) == {"C2": D("1.40"), "C1": D("0.80")}
    assert [ln.total for ln in basket.lines] == [D("3.00"), D("3.00")]
    assert basket.total == D("6.00")
    # returning one dark bar pays back half of the set it came in: 3.00 / 2 = 1.50
    assert split_units(basket.lines[0].total, 2, 2)[0] == D("1.50")


def test_three_for_two_over_two_mixed_sets_allocates_within_each_set() -> None:
    # dark 2.20 x 2, milk 1.90 x 4; units by price: 2.20 2.20 1.90 | 1.90 1.90 1.90
    # set 1: 1.90 (its cheapest unit) over 2.20 / 2.20 / 1.90 (6.30):
    #   exact 0.6635 / 0.6635 / 0.5730 -> floors 66 + 66 + 57 = 189 cents, 1 cent left
    #   to the largest remainder (a tie of .349, the earlier unit): 0.67 / 0.66 / 0.57
    # set 2: 1.90 over 1.90 x 3: exact 0.6333 each -> 63 x 3 = 189, 1 cent to the first:
    #   0.64 / 0.63 / 0.63
    # dark line: 0.67 + 0.66 = 1.33;  milk line: 0.57 + 0.64 + 0.63 + 0.63 = 2.47
    # (pooled, 3.80 over all six units gave dark 1.40 / milk 2.40)
    basket = price(catalog([THREE_FOR_TWO]), line("C2", 2), line("C1", 4))
    assert discounts(basket.lines) == {"C2": D("1.33"), "C1": D("2.47")}
    assert basket.total == D("4.40") + D("7.60") - D("3.80")
    (given,) = basket.promotions
    assert given["discount"] == D("3.80")
    dark = basket.lines[0].adjustments[0]
    assert (dark.amount, dark.detail) == (D("-1.33"), "2 sets of 3")


def test_each_set_is_rounded_on_its_own() -> None:
    # buy 1 get 1 half price on yoghurt mocha 0.95 (Y2) x 4: two sets of (0.95, 0.95),
    # each 0.95 x 50% = 0.475 -> 0.48 (half up), so each pair costs 1.42 like a pair
    # bought on its own; total 0.96 off (pooled: 0.95 rounded once, the pairs 1.42 / 1.43)
    half = {
        "type": "buy_get",
        "id": "y2half",
        "name": "Second half price",
        "target": {"skus": ["Y2"]},
        "buy": 1,
        "get": 1,
        "percent": "50",
    }
    alone = price(catalog([half]), line("Y2", 2))
    twice = price(catalog([half]), line("Y2", 4))
    assert alone.total == D("1.42")
    assert twice.total == D("2.84") == alone.total * 2


def test_a_cap_over_several_sets_is_shared_by_largest_remainder_between_the_sets() -> None:
    # 3 for 2, at most 3.00 off, dark 2.20 x 3 and milk 1.90 x 3: set 1 (dark x 3) 2.20
    # off, set 2 (milk x 3) 1.90 off, 4.10 capped to 3.00 over the sets 2.20 / 1.90:
    #   exact 1.6098 / 1.3902 -> 160 + 139 = 299, 1 cent to the larger remainder (.976):
    #   set 1 1.61, set 2 1.39; each within its own three units (equal prices)
    # (pooled: 3.00 over six units gave dark 1.62 / milk 1.38)
    capped = {**THREE_FOR_TWO, "max_discount": "3.00"}
    basket = price(catalog([capped]), line("C2", 3), line("C1", 3))
    assert discounts(basket.lines) == {"C2": D("1.61"), "C1": D("1.39")}
