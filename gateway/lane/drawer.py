"""The cash drawer's rules: what it should hold, what was counted, and the notes and coins
of each currency. One place for each amount rule the shift close, the X and the Z use.

Pure: no I/O, no clock, no lane. Money is `Decimal`, never a float; every rule is named
and stated here, and tested in tests/lane/test_lane_cash.py.

The rules:
- **expected cash** = opening float + cash sales - cash refunds + paid in - paid out
  (cash sales are what the `cash` tenders of sales paid toward them, after change; cash
  refunds what refunds paid back in cash);
- **over/short** = counted - expected: positive is over, negative is short;
- **count by denomination** = the sum of value x pieces over the denominations counted;
  each value must be one of the currency's (`DENOMINATIONS`), each count a whole number of
  pieces, at least 0;
- **net of a tax rate** = gross - tax (the reports keep each rate's gross and tax, the
  net is never rounded on its own);
- **a paid-out cannot take the drawer below zero**: amount <= expected cash.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from gateway.money import decimal_places

# The notes and coins in circulation of each currency, largest first (central banks'
# lists: SNB for CHF, ECB for EUR, Federal Reserve / US Mint for USD, Bank of England /
# Royal Mint for GBP, PBoC for CNY, Bank of Japan / Japan Mint for JPY). A currency not
# listed is counted as one total.
DENOMINATIONS: dict[str, tuple[Decimal, ...]] = {
    code: tuple(Decimal(v) for v in values)
    for code, values in {
        "CHF": ("1000", "200", "100", "50", "20", "10", "5", "2", "1", "0.50", "0.20", "0.10",
                "0.05"),
        "EUR": ("500", "200", "100", "50", "20", "10", "5", "2", "1", "0.50", "0.20", "0.10",
                "0.05", "0.02", "0.01"),
        "USD": ("100", "50", "20", "10", "5", "2", "1", "0.50", "0.25", "0.10", "0.05", "0.01"),
        "GBP": ("50", "20", "10", "5", "2", "1", "0.50", "0.20", "0.10", "0.05", "0.02",
                "0.01"),
        "CNY": ("100", "50", "20", "10", "5", "1", "0.5", "0.1"),
        "JPY": ("10000", "5000", "2000", "1000", "500", "100", "50", "10", "5", "1"),
    }.items()
}  # fmt: skip

Count = tuple[tuple[Decimal, int], ...]  # (denomination, pieces), as counted


class CountError(ValueError):
    """A denomination count that cannot be summed; the sentence says which value."""


def denominations(currency: str) -> tuple[Decimal, ...]:
    """The currency's notes and coins, largest first; () when it is counted as a total."""
    return DENOMINATIONS.get(currency.upper(), ())


def expected_cash(
    opening_float: Decimal,
    cash_sales: Decimal,
    cash_refunds: Decimal,
    paid_in: Decimal,
    paid_out: Decimal,
    top_ups: Decimal = Decimal(0),
) -> Decimal:
    """Expected cash = opening float + cash sales - cash refunds + paid in - paid out
    + cash top-ups (net of those paid back in cash)."""
    return opening_float + cash_sales - cash_refunds + paid_in - paid_out + top_ups


def amount_problem(amount: Decimal, places: int, what: str) -> str | None:
    """Why `amount` cannot be cash into or out of the drawer (a paid-in, a top-up): more
    than 0, with no more decimals than the currency's; None when it can."""
    if not amount.is_finite() or amount <= 0:
        return f"{what} must be more than 0."
    if decimal_places(amount) > places:
        return f"The amount {amount} has more than the currency's {places} decimals."
    return None


def over_short(counted: Decimal, expected: Decimal) -> Decimal:
    """Over/short = counted - expected (negative: short)."""
    return counted - expected


def count_total(currency: str, count: Iterable[tuple[Decimal, int]]) -> Decimal:
    """Count by denomination = sum of value x pieces; a value that is not one of the
    currency's notes or coins, a value counted twice or a negative count is refused."""
    known = set(denominations(currency))
    seen: set[Decimal] = set()
    total = Decimal(0)
    for value, pieces in count:
        if not known:
            raise CountError(f"{currency} is counted as one total, not by denomination")
        if value not in known:
            listed = ", ".join(str(v) for v in denominations(currency))
            raise CountError(f"{value} is not a {currency} note or coin ({listed})")
        if value in seen:
            raise CountError(f"{value} is counted twice")
        if isinstance(pieces, bool) or not isinstance(pieces, int) or pieces < 0:
            raise CountError(f"the count of {value} must be a whole number of pieces, 0 or more")
        seen.add(value)
        total += value * pieces
    return total


def net_of(gross: Decimal, tax: Decimal) -> Decimal:
    """Net of a tax rate = gross - tax."""
    return gross - tax


def count_fields(currency: str, fields: Mapping[str, str]) -> Count:
    """A denomination count from a form's `d_<value>` fields (empty: not counted)."""
    out: list[tuple[Decimal, int]] = []
    for value in denominations(currency):
        raw = fields.get(f"{DENOMINATION_FIELD}{value}", "").strip()
        if not raw:
            continue
        if not raw.isdigit():
            raise CountError(f"the count of {value} must be a whole number of pieces, not {raw!r}")
        out.append((value, int(raw)))
    return tuple(out)


DENOMINATION_FIELD = "d_"  # the count dialog's field of a denomination is d_<value>


def signed(amount: Decimal) -> str:
    """An over/short as printed and shown: with its sign (`+1.50` over, `-2.00` short)."""
    return f"+{amount}" if amount > 0 else str(amount)


def over_short_word(amount: Decimal) -> str:
    """`over`, `short` or `even`: how the screens colour an over/short (by its sign)."""
    return "over" if amount > 0 else "short" if amount < 0 else "even"
