"""cloud.intervals against printed t tables and intervals worked out by hand."""

from __future__ import annotations

import pytest

from cloud.intervals import proportions, student_t_cdf, student_t_quantile, welch


@pytest.mark.parametrize(
    ("df", "table"),
    [(1, 12.7062), (2, 4.3027), (4, 2.7764), (10, 2.2281), (30, 2.0423), (1000, 1.9623)],
)
def test_the_t_quantile_is_the_tables(df: int, table: float) -> None:
    assert student_t_quantile(0.975, df) == pytest.approx(table, abs=1e-4)
    assert student_t_quantile(0.025, df) == pytest.approx(-table, abs=1e-4)


def test_the_t_cdf_at_known_points() -> None:
    assert student_t_cdf(0, 5) == pytest.approx(0.5)
    assert student_t_cdf(-2, 3) == pytest.approx(0.069663, abs=1e-6)  # 1/2 - atan-form
    assert student_t_cdf(1, 1) == pytest.approx(0.75)  # Cauchy: 1/2 + atan(1)/pi


def test_welch_by_hand() -> None:
    # means 5 and 2, variances 1 and 1, n 3 and 3: se = sqrt(2/3) = 0.816497,
    # df = (2/3)^2 / (2 * (1/3)^2 / 2) = 4, t(0.975, 4) = 2.776445: 3 ± 2.266958
    got = welch([4, 5, 6], [1, 2, 3])
    assert got.difference == pytest.approx(3)
    assert (got.low, got.high) == pytest.approx((0.733042, 5.266958), abs=1e-6)


def test_welch_with_unequal_variances_uses_fractional_degrees_of_freedom() -> None:
    # [1,2,3,4]: mean 2.5, s² 5/3; [2,4,6]: mean 4, s² 4. se² = 5/12 + 4/3 = 1.75,
    # df = 1.75² / ((5/12)²/3 + (4/3)²/2) = 3.0625 / 0.946759 = 3.234719
    got = welch([1, 2, 3, 4], [2, 4, 6])
    half = student_t_quantile(0.975, 3.234719) * 1.75**0.5
    assert got.difference == pytest.approx(-1.5)
    assert (got.low, got.high) == pytest.approx((-1.5 - half, -1.5 + half), abs=1e-5)
    assert 3.0 < student_t_quantile(0.975, 3.234719) < 3.1824  # between df 4 and df 3


def test_welch_without_spread_is_a_point_and_too_small_groups_are_refused() -> None:
    assert welch([2, 2], [1, 1]) == welch([2, 2], [1, 1])
    assert (welch([2, 2], [1, 1]).low, welch([2, 2], [1, 1]).high) == (1, 1)
    with pytest.raises(ValueError, match="two in each group"):
        welch([1], [1, 2])


def test_proportions_by_hand() -> None:
    # 30/100 vs 10/50: d = 0.1, se = sqrt(0.0021 + 0.0032) = 0.072801, z = 1.959964
    got = proportions(30, 100, 10, 50)
    assert got.difference == pytest.approx(0.1)
    assert (got.low, got.high) == pytest.approx((-0.042688, 0.242688), abs=1e-6)
