"""Every money rule by name, and the allocation properties refunds rely on."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.money import (
    Rounding,
    allocate,
    cash_rounding,
    moling,
    parse_amount,
    round_money,
    round_to_increment,
    split_units,
)


@pytest.mark.parametrize(
    ("rule", "value", "expected"),
    [
        (Rounding.HALF_UP, "0.125", "0.13"),
        (Rounding.HALF_UP, "-0.125", "-0.13"),
        (Rounding.HALF_EVEN, "0.125", "0.12"),
        (Rounding.HALF_EVEN, "0.135", "0.14"),
        (Rounding.DOWN, "0.129", "0.12"),
        (Rounding.UP, "0.121", "0.13"),
    ],
)
def test_named_rounding_rules(rule: Rounding, value: str, expected: str) -> None:
    assert round_money(D(value), 2, rule) == D(expected)


@pytest.mark.parametrize(
    ("total", "adjustment"),
    [
        ("12.32", "-0.02"),
        ("12.33", "0.02"),
        ("12.325", "0.025"),
        ("12.35", "0.00"),
        ("12.38", "0.02"),
        ("0.02", "-0.02"),
    ],
)
def test_swiss_cash_rounding_to_nearest_five_rappen(total: str, adjustment: str) -> None:
    assert cash_rounding(D(total), D("0.05"), Rounding.HALF_UP) == D(adjustment)


def test_new_zealand_cash_rounding_to_ten_cents() -> None:
    assert cash_rounding(D("4.14"), D("0.10"), Rounding.HALF_UP) == D("-0.04")
    assert cash_rounding(D("4.16"), D("0.10"), Rounding.HALF_UP) == D("0.04")


@pytest.mark.parametrize(
    ("total", "increment", "adjustment"),
    [
        ("34.16", "0.10", "-0.06"),
        ("34.19", "0.10", "-0.09"),
        ("34.10", "0.10", "0.00"),
        ("34.99", "1.00", "-0.99"),
        ("0.00", "0.10", "0"),
        ("0.09", "0.10", "-0.09"),
    ],
)
def test_moling_only_rounds_down(total: str, increment: str, adjustment: str) -> None:
    assert moling(D(total), D(increment)) == D(adjustment)


@pytest.mark.parametrize(
    ("total", "increment", "cap", "adjustment"),
    [
        ("12.80", "1.00", "0.50", "-0.50"),  # the jiao would take 0.80
        ("12.40", "1.00", "0.50", "-0.40"),  # under the cap
        ("12.50", "1.00", "0.50", "-0.50"),  # at it
        ("12.34", "0.10", "0.01", "-0.01"),
        ("12.00", "1.00", "0.50", "0.00"),  # nothing to drop
        ("0.00", "1.00", "0.50", "0"),
    ],
)
def test_moling_cap_is_the_most_it_takes_off(
    total: str, increment: str, cap: str, adjustment: str
) -> None:
    got = moling(D(total), D(increment), D(cap))
    assert got == D(adjustment) and str(got) == adjustment


@given(st.decimals(min_value=0, max_value=10**7, places=2), st.sampled_from(["0.10", "1.00"]))
def test_moling_never_charges_more(total: D, increment: str) -> None:
    adjustment = moling(total, D(increment))
    assert D(0) >= adjustment > -D(increment)


def test_round_to_increment_rejects_a_zero_increment() -> None:
    with pytest.raises(ValueError, match="positive"):
        round_to_increment(D(1), D(0), Rounding.HALF_UP)


def test_allocate_largest_remainder_examples() -> None:
    assert allocate(D("10.00"), [D(10)] * 3, 2) == [D("3.34"), D("3.33"), D("3.33")]
    assert allocate(D("0.04"), [D(1)] * 3, 2) == [D("0.02"), D("0.01"), D("0.01")]
    assert allocate(D("-1.00"), [D(1), D(2)], 2) == [D("-0.33"), D("-0.67")]
    assert allocate(D("1.00"), [D(0), D(0)], 2) == [D("0.50"), D("0.50")]
    assert allocate(D(0), [], 2) == []
    with pytest.raises(ValueError):
        allocate(D(1), [], 2)


@given(
    st.decimals(min_value=-(10**6), max_value=10**6, places=2),
    st.lists(st.decimals(min_value=0, max_value=10**5, places=2), min_size=1, max_size=40),
)
def test_allocations_sum_exactly_and_stay_within_a_cent(total: D, weights: list[D]) -> None:
    shares = allocate(total, weights, 2)
    assert sum(shares, D(0)) == total
    weight_sum = sum(weights, D(0))
    if weight_sum:
        for share, weight in zip(shares, weights, strict=True):
            assert abs(share - total * weight / weight_sum) < D("0.01")


@given(st.decimals(min_value=0, max_value=10**5, places=2), st.integers(1, 500))
def test_split_units_returns_the_line_total(total: D, quantity: int) -> None:
    shares = split_units(total, quantity, 2)
    assert len(shares) == quantity and sum(shares, D(0)) == total


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("abc", "not a number"),
        ("-1", "negative"),
        ("1.234", "3 decimal places"),
        ("NaN", "finite"),
    ],
)
def test_parse_amount_says_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_amount(text, 2)
    assert parse_amount(" 12.50 ", 2) == D("12.50")


def test_minor_units_are_exact_both_ways() -> None:
    """Rule "minor units, exact": reports and digests add integers, never round."""
    from gateway.money import from_minor_units, to_minor_units

    assert to_minor_units(D("12.50"), 2) == 1250
    assert to_minor_units("-0.05", 2) == -5
    assert to_minor_units(D("1000"), 0) == 1000
    assert str(from_minor_units(1250, 2)) == "12.50"
    assert str(from_minor_units(-5, 3)) == "-0.005"
    with pytest.raises(ValueError, match="more than 2 decimals"):
        to_minor_units(D("0.505"), 2)


@given(st.integers(min_value=-(10**15), max_value=10**15), st.integers(min_value=0, max_value=4))
def test_minor_units_round_trip(minor: int, places: int) -> None:
    from gateway.money import from_minor_units, to_minor_units

    assert to_minor_units(from_minor_units(minor, places), places) == minor
