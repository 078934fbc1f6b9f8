"""Reduced-to-clear stickers (`gateway.pricing.reduced`), priced by hand."""

from __future__ import annotations

import pytest
from pricing_catalogs import D, catalog, line, price

from gateway.pricing import ManualDiscount, PricingError
from gateway.pricing.reduced import Reduction, reduced_amount

HALF_CHOC = {
    "type": "percent_off",
    "id": "choc50",
    "name": "Chocolate -50%",
    "target": {"categories": ["choc"]},
    "percent": "50",
}
MJ = {
    "type": "basket_threshold",
    "id": "mj",
    "name": "满5减1",
    "tiers": [{"threshold": "5", "amount": "1"}],
}


def sticker(price_text: str | None = None, percent: str | None = None) -> Reduction:
    return Reduction(
        None if price_text is None else D(price_text), None if percent is None else D(percent)
    )


def test_sticker_price_is_the_line_amount_with_what_it_was_reduced_from() -> None:
    (reduced,) = price(catalog(), line("C2", reduced=sticker("0.99"))).lines
    assert (reduced.list_amount, reduced.amount, reduced.total) == (D("2.20"), D("0.99"), D("0.99"))
    (adj,) = reduced.adjustments
    assert (adj.kind, adj.amount, adj.label, adj.detail) == (
        "reduced",
        D("-1.21"),
        "reduced from 2.20",
        "sticker price 0.99",
    )


@pytest.mark.parametrize(
    ("catalog_price", "percent", "expected"),
    [
        ("2.20", "30", "1.54"),
        ("3.25", "30", "2.28"),
        ("0.85", "50", "0.43"),
        ("0.01", "10", "0.01"),
    ],
)
def test_percent_off_the_catalog_price_rounds_half_up(
    catalog_price: str, percent: str, expected: str
) -> None:
    # 3.25 x 0.70 = 2.275 -> 2.28; 0.85 x 0.50 = 0.425 -> 0.43
    assert reduced_amount(D(catalog_price), sticker(percent=percent), 2) == D(expected)


def test_percent_sticker_in_a_basket() -> None:
    (reduced,) = price(catalog(), line("C2", reduced=sticker(percent="30"))).lines
    assert reduced.amount == D("1.54")
    assert reduced.adjustments[0].detail == "30% off"


def test_a_sticker_at_the_catalog_price_has_no_adjustment() -> None:
    (same,) = price(catalog(), line("C2", reduced=sticker("2.20"))).lines
    assert same.amount == D("2.20") and same.adjustments == ()


def test_a_reduced_item_takes_no_item_promotion_and_no_member_price() -> None:
    basket = price(
        catalog([HALF_CHOC]), line("C2", reduced=sticker("1.50")), line("C2"), member="M1"
    )
    reduced, normal = basket.lines
    assert reduced.amount == D("1.50") and [a.kind for a in reduced.adjustments] == ["reduced"]
    assert normal.amount == D("1.10")  # the other bar of dark chocolate is half price
    bread = price(catalog(), line("B", reduced=sticker("2.80")), member="M1").lines[0]
    assert bread.amount == D("2.80")  # not the member price of 2.50: the sticker is final


def test_a_reduced_item_neither_counts_for_nor_takes_a_threshold() -> None:
    # 2 x 2.00 apple juice + a reduced bread at 1.50: 5.50, but only 4.00 counts for 满5减1
    basket = price(catalog([MJ]), line("A", 2), line("B", reduced=sticker("1.50")))
    assert basket.total == D("5.50") and basket.basket_discounts == D("0")
    basket = price(catalog([MJ]), line("A", 3), line("B", reduced=sticker("1.50")))
    assert basket.total == D("6.50")  # 6.00 counts: 1.00 off, all on the apple juice
    assert [a.kind for a in basket.lines[1].adjustments] == ["reduced"]


def test_a_reduced_item_takes_no_basket_discount() -> None:
    basket = price(
        catalog(),
        line("A"),
        line("B", reduced=sticker("1.50")),
        discount=ManualDiscount(percent=D("10")),
    )
    assert basket.lines[0].amount == D("1.80") and basket.lines[1].amount == D("1.50")


def test_totals_count_the_markdown_as_an_item_discount() -> None:
    basket = price(catalog(), line("A"), line("C2", reduced=sticker("0.99")))
    assert basket.list_total == D("4.20")
    assert basket.item_discounts == D("1.21")
    assert basket.total == D("2.99") and basket.savings == D("1.21")


@pytest.mark.parametrize(
    ("basket_line", "message"),
    [
        (line("C2", reduced=sticker("2.21")), "above Dark chocolate's price of 2.20"),
        (line("C2", 2, reduced=sticker("1.00")), "a reduced sticker is one item"),
        (line("APPLE", reduced=sticker("1.00"), weight=D("1")), "is sold by weight"),
        (line("C2", reduced=sticker("0.999")), "not a valid amount"),
    ],
)
def test_stickers_that_cannot_be_sold_are_refused(basket_line: object, message: str) -> None:
    with pytest.raises(PricingError, match=message):
        price(catalog(), basket_line)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "exactly one"),
        ({"price": D("1"), "percent": D("10")}, "exactly one"),
        ({"percent": D("0")}, "not more than 0"),
        ({"percent": D("100")}, "below 100"),
    ],
)
def test_a_malformed_reduction_cannot_be_made(kwargs: dict[str, D], message: str) -> None:  # type: ignore[valid-type]
    with pytest.raises(ValueError, match=message):
        Reduction(**kwargs)
