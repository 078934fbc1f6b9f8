"""A refund's part of what the sale did with points: the two named running-total rules.

A refund gives back part of a sale. The part of the sale refunded so far is a `share`
(0-1, an exact `Fraction` of the sale's total, never a rounded decimal), and whatever the
sale did with points goes back in proportion to it:

- **running points, rounded down** (`points_in_proportion`): after a refund, floor(points
  x share) of the sale's points have gone back in all; the refund moves the difference
  from what earlier refunds moved. Used for the points a sale *redeemed* (given back) and
  the points it *earned* (taken back).
- **running share, half up** (`amount_in_proportion`): after a refund, amount x share
  rounded half up to the currency's places has gone back in all. Used for the money the
  sale's points tenders paid: that part of a refund goes back as points, never as money.

Both are running totals, so successive partial refunds never give back more than the sale
redeemed or paid with points, and a full refund (share 1) gives back exactly that. During
partial refunds the points may lag their money share by less than one point; the last
refund of the sale makes both exact. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from math import floor

from gateway.money import ZERO, from_minor_units


def points_in_proportion(points: int, share: Fraction) -> int:
    """Rule "running points, rounded down": the points that go with `share` of a sale."""
    if not 0 <= share <= 1:
        raise ValueError(f"a refunded share is between 0 and 1, not {share}")
    return floor(points * share)


def amount_in_proportion(amount: Decimal, share: Fraction, places: int) -> Decimal:
    """Rule "running share, half up": `amount` (not negative) x `share`, half up to
    `places` decimals."""
    if not 0 <= share <= 1 or amount < 0:
        raise ValueError(
            f"a refunded share is between 0 and 1 of an amount not below "
            f"zero, not {share} of {amount}"
        )
    minor = floor(Fraction(amount) * share * 10**places + Fraction(1, 2))
    return from_minor_units(minor, places)


@dataclass(frozen=True)
class PointsBack:
    """What one refund gives back of the sale's points tenders.

    `points` go back to the member's points wallet; `amount` is the money those points
    paid in the sale, the part of the refund that is not paid back in money."""

    points: int = 0
    amount: Decimal = ZERO


NO_POINTS = PointsBack()  # a sale without points tenders, or a return without receipt


def points_back(
    redeemed: int, paid: Decimal, places: int, before: Fraction, after: Fraction
) -> PointsBack:
    """The points part of a refund that takes the refunded share from `before` to `after`.

    `redeemed` are the points the original sale redeemed and `paid` the money its `points`
    tenders paid: what the running totals are taken of."""
    if not redeemed and not paid:
        return NO_POINTS
    points = points_in_proportion(redeemed, after) - points_in_proportion(redeemed, before)
    amount = amount_in_proportion(paid, after, places) - amount_in_proportion(paid, before, places)
    return PointsBack(points=points, amount=amount)
