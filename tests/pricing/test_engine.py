"""The totals engine on baskets whose totals were worked out by hand."""

from __future__ import annotations

from datetime import datetime

import pytest
from pricing_catalogs import AT, D, catalog, line, price

from gateway.catalog.document import CatalogError
from gateway.pricing import ManualDiscount, PricingError

THREE_FOR_TWO = {
    "type": "buy_get",
    "id": "c3f2",
    "name": "Chocolate 3 for 2",
    "target": {"categories": ["choc"]},
    "buy": 2,
    "get": 1,
}


def test_plain_lines_with_inclusive_tax() -> None:
    basket = price(catalog(), line("A", 2))
    (only,) = basket.lines
    assert only.list_amount == D("4.00") and only.total == D("4.00")
    assert only.tax == D("0.10")  # 4.00 x 2.6 / 102.6 = 0.1014
    assert basket.total == D("4.00") and basket.tax == D("0.10")


def test_exclusive_tax_is_added_per_line() -> None:
    basket = price(catalog(), line("PEN", 3))
    assert basket.lines[0].amount == D("3.60")
    assert basket.lines[0].tax == D("0.29")  # 3.60 x 8.1% = 0.2916
    assert basket.total == D("3.89")
    (summary,) = basket.taxes
    assert (summary.net, summary.tax, summary.gross) == (D("3.60"), D("0.29"), D("3.89"))


def test_weighed_line_uses_the_named_rounding_rule() -> None:
    cherries = line("CHERRY", weight=D("0.003"))  # 15.00/kg x 0.003 = 0.045 exactly
    assert price(catalog(), cherries).total == D("0.05")
    assert price(catalog(weighed_rounding="half_even"), cherries).total == D("0.04")
    assert price(catalog(weighed_rounding="down"), cherries).total == D("0.04")
    apples = price(catalog(), line("APPLE", weight=D("0.456"))).lines[0]
    assert apples.list_amount == D("1.73") and apples.unit_price == D("3.80")


def test_member_price_only_for_members() -> None:
    assert price(catalog(), line("B")).total == D("3.00")
    member = price(catalog(), line("B", 2), member="M1").lines[0]
    assert member.total == D("5.00")
    assert [(a.kind, a.amount) for a in member.adjustments] == [("member_price", D("-1.00"))]


def test_buy_two_get_one_free_allocates_the_free_item_over_the_set() -> None:
    basket = price(catalog([THREE_FOR_TWO]), line("C1", 2), line("C2"))
    assert basket.total == D("4.10")  # 6.00 - 1.90 (the cheapest unit)
    by_sku = {ln.sku: ln for ln in basket.lines}
    # 1.90 over 2.20/1.90/1.90 by largest remainder: 0.70 / 0.60 / 0.60
    assert by_sku["C2"].discount == D("0.70")
    assert by_sku["C1"].discount == D("1.20")


def test_competing_promotions_take_the_combination_best_for_the_customer() -> None:
    half_dark = {
        "type": "percent_off",
        "id": "dark50",
        "name": "Dark -50%",
        "priority": 1,
        "target": {"skus": ["C2"]},
        "percent": "50",
    }
    basket = price(catalog([THREE_FOR_TWO, half_dark]), line("C1", 2), line("C2"))
    assert basket.total == D("4.10")  # 3 for 2 saves 1.90, more than 50% off dark (1.10)
    forty = {
        "type": "percent_off",
        "id": "choc40",
        "name": "Chocolate -40%",
        "target": {"categories": ["choc"]},
        "percent": "40",
    }
    basket = price(catalog([THREE_FOR_TWO, forty]), line("C1", 2), line("C2"))
    assert basket.total == D("3.60")  # 40% on every bar saves 2.40, more than 1.90
    assert {a.promotion for ln in basket.lines for a in ln.adjustments} == {"choc40"}


def test_second_set_of_units_can_go_to_another_promotion() -> None:
    forty_milk = {
        "type": "percent_off",
        "id": "milk40",
        "name": "Milk choc -40%",
        "target": {"skus": ["C1"]},
        "percent": "40",
    }
    basket = price(catalog([THREE_FOR_TWO, forty_milk]), line("C1", 3), line("C2", 3))
    # best: 40% on the three milk bars (2.28) + 3 for 2 on the dark ones (2.20) = 4.48
    assert basket.list_total - basket.total == D("4.48")


def test_bundle_mix_and_match() -> None:
    bundle = {
        "type": "bundle",
        "id": "y3",
        "name": "3 yoghurts for 2.00",
        "target": {"categories": ["yog"]},
        "quantity": 3,
        "price": "2.00",
    }
    assert price(catalog([bundle]), line("Y1", 2), line("Y2")).total == D("2.00")
    assert price(catalog([bundle]), line("Y1", 3), line("Y2")).total == D("2.85")
    assert price(catalog([bundle]), line("Y1", 2)).total == D("1.70")


@pytest.mark.parametrize(
    ("qty", "total"),
    [(49, "98.00"), (50, "90.00"), (99, "188.00"), (100, "170.00"), (150, "270.00")],
)
def test_spend_thresholds_higher_tier_replaces_lower(qty: int, total: str) -> None:
    tiers = {
        "type": "basket_threshold",
        "id": "mj",
        "name": "满100减10 / 满200减30",
        "tiers": [{"threshold": "100", "amount": "10"}, {"threshold": "200", "amount": "30"}],
    }
    assert price(catalog([tiers]), line("A", qty)).total == D(total)


def test_repeating_threshold_counts_every_full_step() -> None:
    every = {
        "type": "basket_threshold",
        "id": "mm",
        "name": "每满100减10",
        "repeat": True,
        "tiers": [{"threshold": "100", "amount": "10"}],
    }
    assert price(catalog([every]), line("A", 150)).total == D("270.00")
    assert price(catalog([every]), line("A", 99)).total == D("188.00")  # 198: one step
    assert price(catalog([every]), line("A", 49)).total == D("98.00")


def test_caps_limit_what_a_promotion_gives() -> None:
    capped = {
        "type": "amount_off",
        "id": "a50",
        "name": "0.50 off, max 2.00",
        "target": {"skus": ["A"]},
        "amount": "0.50",
        "max_discount": "2.00",
    }
    assert price(catalog([capped]), line("A", 3)).total == D("4.50")
    assert price(catalog([capped]), line("A", 5)).total == D("8.00")


def test_schedules_days_hours_and_dates() -> None:
    evening = {
        "type": "percent_off",
        "id": "eve",
        "name": "Evening -30%",
        "target": {"categories": ["food"]},
        "percent": "30",
        "schedule": {
            "days": ["wed"],
            "hours": [{"from": "18:00", "to": "20:00"}],
            "valid_from": "2026-11-01T00:00",
            "valid_until": "2026-12-01T00:00",
        },
    }
    cat = catalog([evening])
    assert price(cat, line("A"), at=AT).total == D("2.00")
    assert price(cat, line("A"), at=datetime(2026, 11, 25, 18, 30)).total == D("1.40")
    assert price(cat, line("A"), at=datetime(2026, 11, 25, 20, 0)).total == D("2.00")
    assert price(cat, line("A"), at=datetime(2026, 11, 26, 18, 30)).total == D("2.00")  # thu
    assert price(cat, line("A"), at=datetime(2026, 12, 2, 18, 30)).total == D("2.00")  # expired


def test_coupons_and_their_notices() -> None:
    coupon = {
        "type": "basket_threshold",
        "id": "c5",
        "name": "SAVE5",
        "coupon": "SAVE5",
        "tiers": [{"threshold": "10", "amount": "5"}],
        "stackable": True,
    }
    cat = catalog([coupon])
    assert price(cat, line("A", 5)).total == D("10.00")
    assert price(cat, line("A", 5), coupons=("save5",)).total == D("5.00")
    assert price(cat, line("A"), coupons=("NOPE",)).notices == ("coupon NOPE is not known",)


def test_member_only_promotions() -> None:
    members = {
        "type": "percent_off",
        "id": "m10",
        "name": "Members -10%",
        "member_only": True,
        "target": {"skus": ["A"]},
        "percent": "10",
    }
    assert price(catalog([members]), line("A")).total == D("2.00")
    assert price(catalog([members]), line("A"), member="M7").total == D("1.80")


def test_exclusive_promotion_keeps_its_items_out_of_basket_discounts() -> None:
    solo = {
        "type": "percent_off",
        "id": "solo",
        "name": "Juice -50%",
        "exclusive": True,
        "target": {"skus": ["A"]},
        "percent": "50",
    }
    spend = {
        "type": "basket_threshold",
        "id": "s",
        "name": "10 off 20",
        "tiers": [{"threshold": "20", "amount": "10"}],
    }
    basket = price(catalog([solo, spend]), line("A", 10), line("B", 5))
    # juice: 20.00 -> 10.00 and out of the threshold; bread 15.00 < 20 so no threshold
    assert basket.total == D("25.00")


def test_no_discount_items_take_no_promotion() -> None:
    everything = {
        "type": "percent_off",
        "id": "all",
        "name": "-10% on all",
        "target": {"all_items": True},
        "percent": "10",
    }
    spend = {
        "type": "basket_threshold",
        "id": "s",
        "name": "5 off 10",
        "tiers": [{"threshold": "10", "amount": "5"}],
    }
    assert price(catalog([everything, spend]), line("WINE")).total == D("12.50")


def test_label_price_is_taken_at_face_value() -> None:
    labelled = price(catalog(), line("APPLE", label_price=D("9.83"), weight=D("2.5"))).lines[0]
    assert labelled.list_amount == D("9.83") and labelled.total == D("9.83")


def test_moling_drops_the_fen_and_only_rounds_down() -> None:
    cat = catalog(currency="CNY", moling={"increment": "0.10"})
    basket = price(cat, line("A"), line("Y1"))  # 2.85
    assert basket.total == D("2.80") and basket.moling == D("-0.05")
    assert sum(ln.total for ln in basket.lines) == D("2.80")
    assert price(cat, line("A")).total == D("2.00")  # nothing to drop


def test_moling_cap_is_the_most_it_takes_off() -> None:
    """Dropping the jiao gives away up to 0.99 a sale; a cap of 0.50 stops it there."""
    cat = catalog(currency="CNY", moling={"increment": "1.00", "cap": "0.50"})
    basket = price(cat, line("A"), line("Y1"))  # 2.85: the jiao would take 0.85
    assert basket.moling == D("-0.50") and basket.total == D("2.35")
    assert sum(ln.total for ln in basket.lines) == D("2.35")
    cheap = price(cat, line("Y1"))  # 0.85 -> 0.00 would take 0.85: capped
    assert cheap.moling == D("-0.50") and cheap.total == D("0.35")
    within = catalog(currency="CNY", moling={"increment": "0.10", "cap": "0.50"})
    assert price(within, line("A"), line("Y1")).moling == D("-0.05")  # under the cap


def test_cash_only_moling_is_what_cash_leaves_out() -> None:
    """抹零 for cash only: the lines and the total stay exact (a card or wallet pays them),
    and what cash pays is the total less the fen, reported as the basket's cash rounding."""
    cat = catalog(currency="CNY", moling={"increment": "0.10", "cash_only": True})
    basket = price(cat, line("A"), line("Y1"))  # 2.85
    assert basket.moling == D("0") and basket.total == D("2.85")
    assert all(a.kind != "moling" for ln in basket.lines for a in ln.adjustments)
    assert basket.cash_rounding == D("-0.05") and basket.cash_total == D("2.80")


def test_cash_only_moling_and_cash_rounding_are_one_too_many() -> None:
    with pytest.raises(CatalogError, match="keep one"):
        catalog(
            currency="CNY",
            cash_rounding={"increment": "0.05"},
            moling={"increment": "0.10", "cash_only": True},
        )


def test_cash_rounding_applies_to_cash_only() -> None:
    cat = catalog(cash_rounding={"increment": "0.05", "rule": "half_up"})
    basket = price(cat, line("APPLE", weight=D("0.456")))
    assert basket.total == D("1.73")  # what a card is charged
    assert basket.cash_rounding == D("0.02") and basket.cash_total == D("1.75")


@pytest.mark.parametrize(
    ("basket_line", "message"),
    [
        (line("NOPE"), "unknown product"),
        (line("APPLE"), "sold by weight"),
        (line("APPLE", weight=D("-1")), "outside 0"),
        (line("A", 0), "whole number"),
        (line("A", "1.5"), "whole number"),
        (line("A", label_price=D("-1")), "not a valid amount"),
    ],
)
def test_lines_the_engine_cannot_price_are_typed_errors(basket_line, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PricingError, match=message):
        price(catalog(), basket_line)


# -- 整单折扣: a whole-basket manual discount (issue 21) ------------------------------------


def test_basket_discount_percent_rounds_half_up_and_shares_by_largest_remainder() -> None:
    basket = price(
        catalog(),
        line("A"),
        line("C1"),
        line("C2"),
        line("WINE"),
        discount=ManualDiscount(percent=D("15"), reason="regular customer"),
    )
    # 15% of 6.10 (wine is no_discount) = 0.915 -> 0.92; exact shares 0.3016 / 0.2866 /
    # 0.3318 -> 0.30 / 0.28 / 0.33 = 0.91, the last cent to the largest remainder (milk)
    assert [ln.discount for ln in basket.lines] == [D("0.30"), D("0.29"), D("0.33"), D("0.00")]
    assert basket.basket_discounts == D("0.92")
    assert basket.total == D("17.68")  # 6.10 - 0.92 + 12.50
    (adj,) = basket.lines[0].adjustments
    assert (adj.kind, adj.amount, adj.label, adj.promotion) == (
        "basket",
        D("-0.30"),
        "basket discount 15%",
        None,
    )
    assert basket.lines[3].adjustments == ()
    # what a refund of any one line pays back is that line's stored total
    assert [ln.total for ln in basket.lines] == [D("1.70"), D("1.61"), D("1.87"), D("12.50")]
    assert sum((ln.total for ln in basket.lines), D("0")) == basket.total


def test_basket_discount_comes_after_the_thresholds() -> None:
    spend = {
        "type": "basket_threshold",
        "id": "s",
        "name": "1 off 10",
        "tiers": [{"threshold": "10", "amount": "1"}],
    }
    basket = price(
        catalog([spend]),
        line("A", 5),
        line("C2"),
        discount=ManualDiscount(percent=D("10"), reason="complaint"),
    )
    # threshold: 1.00 of 12.20 -> 0.82 / 0.18, lines 9.18 / 2.02; then 10% of 11.20 = 1.12
    # -> exact 0.918 / 0.202 -> 0.91 / 0.20 + the cent left to juice: 0.92 / 0.20
    juice, dark = basket.lines
    assert [a.amount for a in juice.adjustments] == [D("-0.82"), D("-0.92")]
    assert [a.amount for a in dark.adjustments] == [D("-0.18"), D("-0.20")]
    assert basket.basket_discounts == D("2.12")
    assert basket.total == D("10.08")
    assert [p["id"] for p in basket.promotions] == ["s"]  # the manual one names no promotion


def test_basket_discount_amount_is_capped_at_what_its_lines_cost() -> None:
    cat = catalog()
    basket = price(cat, line("A"), line("WINE"), discount=ManualDiscount(amount=D("50.00")))
    assert basket.lines[0].total == D("0.00") and basket.lines[1].total == D("12.50")
    assert basket.basket_discounts == D("2.00") and basket.total == D("12.50")
    five = price(cat, line("A"), line("C2"), discount=ManualDiscount(amount=D("1.00")))
    # 1.00 over 2.00 / 2.20: 0.476 / 0.524 -> 0.47 / 0.52, the cent left to juice (.6 > .4)
    assert [ln.discount for ln in five.lines] == [D("0.48"), D("0.52")]
    assert five.lines[0].adjustments[0].label == "basket discount 1.00"
    assert five.total == D("3.20")


def test_basket_discount_is_taken_off_net_prices_before_tax() -> None:
    basket = price(catalog(), line("PEN", 3), discount=ManualDiscount(percent=D("10")))
    # 3.60 net - 0.36 = 3.24, tax 8.1% = 0.2624 -> 0.26
    assert (basket.lines[0].amount, basket.tax, basket.total) == (D("3.24"), D("0.26"), D("3.50"))


def test_exclusive_and_no_discount_lines_take_no_basket_discount() -> None:
    solo = {
        "type": "percent_off",
        "id": "solo",
        "name": "Juice -50%",
        "exclusive": True,
        "target": {"skus": ["A"]},
        "percent": "50",
    }
    basket = price(
        catalog([solo]),
        line("A", 2),
        line("B"),
        line("WINE"),
        discount=ManualDiscount(percent=D("20")),
    )
    juice, bread, wine = basket.lines
    assert juice.total == D("2.00") and [a.kind for a in juice.adjustments] == ["promotion"]
    assert bread.total == D("2.40") and wine.total == D("12.50")


def test_a_malformed_basket_discount_cannot_be_made() -> None:
    for bad in (
        {},
        {"percent": D("10"), "amount": D("1")},
        {"percent": D("0")},
        {"percent": D("100.01")},
        {"amount": D("0")},
        {"amount": D("-1")},
    ):
        with pytest.raises(ValueError, match="basket discount"):
            ManualDiscount(**bad)  # type: ignore[arg-type]
