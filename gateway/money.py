"""Money rules: every way storegate rounds or splits an amount, each named and tested.

Amounts are `Decimal` everywhere; nothing here ever sees a float. A rule is chosen by name
in the catalog's money rules so a store (or an auditor) can say which one priced a sale.
Pure: no I/O, no clock.
"""

from __future__ import annotations

import decimal
import functools
from collections.abc import Sequence
from decimal import Decimal
from enum import StrEnum
from itertools import repeat
from operator import floordiv, mod, mul

ZERO = Decimal(0)


class Rounding(StrEnum):
    """Named rounding rules (the names are what catalog documents say)."""

    HALF_UP = "half_up"  # commercial rounding: 0.005 -> 0.01
    HALF_EVEN = "half_even"  # banker's rounding: 0.005 -> 0.00, 0.015 -> 0.02
    DOWN = "down"  # toward zero: what 抹零 must use, never favours the shop
    UP = "up"  # away from zero: only for a shop that deliberately chooses it

    @property
    def decimal_mode(self) -> str:
        return _MODES[self]


_MODES = {
    Rounding.HALF_UP: decimal.ROUND_HALF_UP,
    Rounding.HALF_EVEN: decimal.ROUND_HALF_EVEN,
    Rounding.DOWN: decimal.ROUND_DOWN,
    Rounding.UP: decimal.ROUND_UP,
}


@functools.cache
def quantum(places: int) -> Decimal:
    """The smallest amount of a currency with `places` decimals (2 -> Decimal('0.01'))."""
    return Decimal(1).scaleb(-places)


def round_money(amount: Decimal, places: int, rule: Rounding = Rounding.HALF_UP) -> Decimal:
    """Round to the currency's minor unit with a named rule."""
    return amount.quantize(quantum(places), rounding=rule.decimal_mode)


def round_to_increment(amount: Decimal, increment: Decimal, rule: Rounding) -> Decimal:
    """Round to a multiple of `increment` (0.05 for Swiss cash, 0.10 for 抹零 to the jiao).

    The result keeps the exponent of `increment` so 12.3 rounded to 0.05 reads 12.30.
    """
    if increment <= 0:
        raise ValueError(f"rounding increment must be positive, got {increment}")
    units = (amount / increment).quantize(Decimal(1), rounding=rule.decimal_mode)
    return (units * increment).quantize(increment)


def cash_rounding(total: Decimal, increment: Decimal, rule: Rounding) -> Decimal:
    """Swiss / Australian / New Zealand cash rounding of the amount due.

    Applies to what is paid in cash only; a card is charged the exact total. Returns the
    adjustment to add to the total (negative when rounding down), so the receipt can
    show it as its own line.
    """
    return round_to_increment(total, increment, rule) - total


def moling(total: Decimal, increment: Decimal, cap: Decimal | None = None) -> Decimal:
    """抹零: drop the fen (increment 0.10) or the jiao (1.00) from the amount due.

    Only ever rounds *down*: rounding a Chinese customer's total up breaks the Price Law
    (art. 13). Returns the (zero or negative) adjustment. `cap`: the most it takes off one
    amount (a store dropping the jiao gives away up to 0.99 a sale; with a cap of 0.50 a
    total of 12.80 is 12.30, of 12.40 is 12.00).
    """
    if total <= 0:
        return ZERO
    adjustment = round_to_increment(total, increment, Rounding.DOWN) - total
    if cap is not None and -adjustment > cap:
        return -cap
    return adjustment


def allocate(total: Decimal, weights: Sequence[Decimal], places: int) -> list[Decimal]:
    """Split `total` over `weights` in proportion, exact to the minor unit.

    Largest-remainder method: every share is first rounded toward zero in minor units,
    then the units left over go one each to the shares with the largest remainders
    (ties to the earliest). The shares always sum to `total` exactly and no share moves
    more than one minor unit from its exact proportion, which is what lets a refund of
    any subset of lines return exactly what was paid for them.
    """
    if not weights:
        if total != 0:
            raise ValueError("cannot allocate a non-zero amount over no weights")
        return []
    unit = quantum(places)
    sign = -1 if total < 0 else 1
    units_total = int((abs(total) / unit).to_integral_value(rounding=decimal.ROUND_HALF_UP))
    ints = _as_minor_units(weights, places)
    scaled: list[Decimal] | list[int] = ints if ints is not None else [abs(w) for w in weights]
    weight_sum: Decimal | int = sum(scaled)
    if weight_sum == 0:
        scaled, weight_sum = [1] * len(weights), len(weights)
    if ints is not None and scaled is ints:
        floors = largest_remainder(units_total, ints)
    else:
        floors = _largest_remainder(units_total, scaled, weight_sum)
    return [sign * Decimal(f) * unit for f in floors]


def largest_remainder(units_total: int, weights: Sequence[int]) -> list[int]:
    """The largest-remainder rule on whole minor units: `units_total` split over integer
    `weights` (not all zero), each share rounded toward zero, the units left over one each
    to the largest remainders, ties to the earliest. `allocate` and the pricing engine's
    hot path (which already holds its weights as minor units) both use it."""
    return _largest_remainder(units_total, weights, sum(weights))


def _largest_remainder(
    units_total: int, weights: Sequence[Decimal] | Sequence[int], weight_sum: Decimal | int
) -> list[int]:
    # maps over C functions rather than comprehensions (each product worked out once):
    # pricing per scan shares thresholds out over every line on every scan
    scaled = list(map(mul, weights, repeat(units_total)))
    floors = list(map(floordiv, scaled, repeat(weight_sum)))
    if not isinstance(weight_sum, int):
        floors = list(map(int, floors))  # (Decimal `//` truncates, as int() then does)
    left = units_total - sum(floors)
    if left:
        remainders = list(map(mod, scaled, repeat(weight_sum)))
        # a stable sort, reversed: the largest remainders first, ties in order
        for i in sorted(range(len(floors)), key=remainders.__getitem__, reverse=True)[:left]:
            floors[i] += 1
    return floors


def _as_minor_units(weights: Sequence[Decimal], places: int) -> list[int] | None:
    """Weights as whole minor units when they are amounts (the usual case): integer
    arithmetic is exact and several times faster than Decimal division."""
    out = []
    for w in weights:
        scaled = abs(w).scaleb(places)
        whole = int(scaled)
        if whole != scaled:
            return None
        out.append(whole)
    return out


def to_minor_units(amount: Decimal | str, places: int) -> int:
    """Rule "minor units, exact": an amount as whole minor units (12.50 with 2 places ->
    1250). An amount with more decimals than `places` is refused, never rounded."""
    scaled = Decimal(amount).scaleb(places)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"amount {amount} has more than {places} decimals")
    return int(scaled)


def from_minor_units(minor: int, places: int) -> Decimal:
    """The amount of `minor` whole minor units, written with exactly `places` decimals."""
    return Decimal(minor).scaleb(-places).quantize(quantum(places))


def split_units(line_total: Decimal, quantity: int, places: int) -> list[Decimal]:
    """What each unit of a line cost, for refunding part of a line's quantity.

    Refunding k units returns the first k shares, and refunding every unit returns the
    line total exactly.
    """
    if quantity <= 0:
        raise ValueError(f"quantity must be positive, got {quantity}")
    return allocate(line_total, [Decimal(1)] * quantity, places)


def decimal_places(value: Decimal) -> int:
    """How many decimals `value` is written with (`Decimal("1.50")` -> 2, `"12"` -> 0)."""
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def parse_amount(text: str, places: int, *, what: str = "amount") -> Decimal:
    """Parse a money amount typed by a person or written in a file, strictly.

    Raises ValueError with a sentence naming the problem (used by CLI and document
    validation): not a number, negative, or more decimals than the currency has.
    """
    try:
        value = Decimal(str(text).strip())
    except decimal.InvalidOperation:
        raise ValueError(f"{what} {text!r} is not a number (write it like 12.50)") from None
    if not value.is_finite():
        raise ValueError(f"{what} {text!r} is not a finite number")
    if value < 0:
        raise ValueError(f"{what} {text!r} is negative")
    if decimal_places(value) > places:
        raise ValueError(
            f"{what} {text!r} has {decimal_places(value)} decimal places; the currency has {places}"
        )
    return value
