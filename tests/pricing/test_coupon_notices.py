"""A known coupon that gives nothing says why (issue 12, defect 10); one that gives says
nothing. The sentences are written out by hand here: the reference engine calls the same
`coupon_notices`, so comparing the two would not check them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pricing_catalogs import D, catalog, line, price

SAVE5: dict[str, Any] = {  # spend 10.00, 5.00 off, with the coupon
    "type": "basket_threshold",
    "id": "c5",
    "name": "SAVE5",
    "coupon": "SAVE5",
    "tiers": [{"threshold": "10", "amount": "5"}],
    "stackable": True,
}


def test_a_coupon_that_applies_says_nothing() -> None:
    basket = price(catalog([SAVE5]), line("A", 5), coupons=("save5",))
    assert basket.total == D("5.00") and basket.notices == ()


def test_threshold_not_reached_names_the_threshold_and_the_spend() -> None:
    # apple juice 2.00 x 2 = 4.00 of the 10.00 needed
    basket = price(catalog([SAVE5]), line("A", 2), coupons=("SAVE5",))
    assert basket.notices == (
        "coupon SAVE5 does not apply: spend 10.00 on qualifying items (this basket: 4.00)",
    )


def test_the_spend_is_counted_after_item_promotions_and_without_excluded_items() -> None:
    # chocolate 3 for 2: dark 2.20 + milk 1.90 x 2 = 6.00 - 1.90 = 4.10 after the set;
    # wine (no_discount) does not count
    three_for_two = {
        "type": "buy_get",
        "id": "c3f2",
        "name": "3 for 2",
        "target": {"categories": ["choc"]},
        "buy": 2,
        "get": 1,
    }
    lines = (line("C2"), line("C1", 2), line("WINE"))
    basket = price(catalog([three_for_two, SAVE5]), *lines, coupons=("SAVE5",))
    assert basket.notices == (
        "coupon SAVE5 does not apply: spend 10.00 on qualifying items (this basket: 4.10)",
    )


def test_no_qualifying_item() -> None:
    dark = {
        "type": "percent_off",
        "id": "dark10",
        "name": "Dark -10%",
        "coupon": "DARK10",
        "target": {"skus": ["C2"]},
        "percent": "10",
    }
    choc_spend = {**SAVE5, "id": "choc5", "coupon": "CHOC5", "target": {"categories": ["choc"]}}
    basket = price(catalog([dark, choc_spend]), line("A", 9), coupons=("DARK10", "CHOC5"))
    assert basket.notices == (
        "coupon DARK10 does not apply: no qualifying item in the basket",
        "coupon CHOC5 does not apply: no qualifying item in the basket",
    )


def test_a_set_coupon_with_too_few_items() -> None:
    pair = {
        "type": "bundle",
        "id": "y2",
        "name": "2 yoghurts 1.50",
        "coupon": "YOG2",
        "target": {"categories": ["yog"]},
        "quantity": 2,
        "price": "1.50",
    }
    basket = price(catalog([pair]), line("Y1"), coupons=("YOG2",))
    assert basket.notices == (
        "coupon YOG2 does not apply: it needs 2 qualifying items (this basket: 1)",
    )


def test_outside_its_time_window_and_members_only() -> None:
    hours = [{"from": "18:00", "to": "20:00"}]
    evening = {**SAVE5, "schedule": {"days": ["sat", "sun"], "hours": hours}}
    at = datetime(2026, 11, 25, 10, 0)  # a Wednesday morning
    basket = price(catalog([evening]), line("A", 9), at=at, coupons=("SAVE5",))
    assert basket.notices == (
        "coupon SAVE5 does not apply: outside its time window (sat sun, 18:00-20:00)",
    )
    members = {**SAVE5, "member_only": True}
    assert price(catalog([members]), line("A", 9), coupons=("SAVE5",)).notices == (
        "coupon SAVE5 does not apply: it is for members only (identify the member first)",
    )
    assert price(catalog([members]), line("A", 9), member="M1", coupons=("SAVE5",)).notices == ()


def test_a_coupon_beaten_by_a_better_offer() -> None:
    # both not stackable: spend 10 save 6 (no coupon) beats SAVE5
    six = {
        "type": "basket_threshold",
        "id": "s6",
        "name": "S6",
        "tiers": [{"threshold": "10", "amount": "6"}],
    }
    single = {**SAVE5, "stackable": False}
    basket = price(catalog([six, single]), line("A", 5), coupons=("SAVE5",))
    assert basket.total == D("4.00")
    assert basket.notices == (
        "coupon SAVE5 does not apply: another basket offer saves more and they do not combine",
    )
    half = {
        "type": "percent_off",
        "id": "a50",
        "name": "-50%",
        "target": {"skus": ["A"]},
        "percent": "50",
    }
    ten = {**half, "id": "a10", "coupon": "A10", "percent": "10"}
    basket = price(catalog([half, ten]), line("A"), coupons=("A10",))
    assert basket.notices == ("coupon A10 does not apply: its items already take a better offer",)
