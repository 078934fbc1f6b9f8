"""95 % confidence intervals on the difference between two groups: Welch's t interval for a
difference of means, the normal approximation (Wald) for a difference of proportions.

Pure arithmetic in floats (these are statistical estimates, not money: a caller rounds
what it shows). The venv has no SciPy, so the Student t quantile is worked out here: the t
distribution's CDF from the regularised incomplete beta function (its continued fraction,
evaluated by Lentz's method), inverted by bisection; the normal quantile is the standard
library's `statistics.NormalDist`. Checked against table values and hand-computed
intervals in tests/cloud/test_intervals.py.

Formulas (group 1 minus group 0):
- Welch: d = m1 - m0, se = sqrt(s1²/n1 + s0²/n0) with sample variances (n - 1),
  df = se⁴ / ((s1²/n1)² / (n1 - 1) + (s0²/n0)² / (n0 - 1)) (Welch–Satterthwaite),
  d ± t(0.975, df) · se. Needs two or more in each group.
- proportions: d = p1 - p0, se = sqrt(p1(1 - p1)/n1 + p0(1 - p0)/n0), d ± z(0.975) · se.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist, fmean, variance

LEVEL = 0.95


@dataclass(frozen=True)
class Interval:
    """A difference (group 1 - group 0) and its confidence interval."""

    difference: float
    low: float
    high: float


def normal_quantile(p: float) -> float:
    return NormalDist().inv_cdf(p)


def student_t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with `df` (> 0, not necessarily whole) degrees of freedom."""
    if df <= 0:
        raise ValueError(f"degrees of freedom must be positive, not {df}")
    x = df / (df + t * t)
    tail = 0.5 * _incomplete_beta(df / 2, 0.5, x)
    return 1 - tail if t > 0 else tail


def student_t_quantile(p: float, df: float) -> float:
    """The t with P(T <= t) = p (0 < p < 1), by bisection on the CDF to 1e-12."""
    if not 0 < p < 1:
        raise ValueError(f"p must be between 0 and 1, not {p}")
    if p < 0.5:
        return -student_t_quantile(1 - p, df)
    low, high = 0.0, 1.0
    while student_t_cdf(high, df) < p:
        high *= 2
    for _ in range(200):
        mid = (low + high) / 2
        if student_t_cdf(mid, df) < p:
            low = mid
        else:
            high = mid
        if high - low < 1e-12:
            break
    return (low + high) / 2


def welch(treated: Sequence[float], control: Sequence[float], level: float = LEVEL) -> Interval:
    """Welch's interval on mean(treated) - mean(control); ValueError under two in a group."""
    if len(treated) < 2 or len(control) < 2:
        raise ValueError("Welch's interval needs at least two in each group")
    n1, n0 = len(treated), len(control)
    d = fmean(treated) - fmean(control)
    v1, v0 = variance(treated) / n1, variance(control) / n0
    se = math.sqrt(v1 + v0)
    if se == 0:
        return Interval(d, d, d)
    df = (v1 + v0) ** 2 / (v1**2 / (n1 - 1) + v0**2 / (n0 - 1))
    half = student_t_quantile(1 - (1 - level) / 2, df) * se
    return Interval(d, d - half, d + half)


def proportions(hits1: int, n1: int, hits0: int, n0: int, level: float = LEVEL) -> Interval:
    """The normal-approximation interval on hits1/n1 - hits0/n0."""
    if n1 < 1 or n0 < 1:
        raise ValueError("a proportion needs at least one in each group")
    p1, p0 = hits1 / n1, hits0 / n0
    se = math.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
    half = normal_quantile(1 - (1 - level) / 2) * se
    return Interval(p1 - p0, p1 - p0 - half, p1 - p0 + half)


def _incomplete_beta(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta I_x(a, b) (Numerical Recipes' betai)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    front = math.exp(
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1) / (a + b + 2):
        return front * _beta_fraction(a, b, x) / a
    return 1 - front * _beta_fraction(b, a, 1 - x) / b


def _beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta, by the modified Lentz method."""
    tiny = 1e-300
    c, d = 1.0, 1 - (a + b) * x / (a + 1)
    d = 1 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1 + numerator * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + numerator / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1) < 1e-15:
            break
    return h
