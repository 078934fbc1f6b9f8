"""The store's currency format on screen: symbol, grouping, decimal separator.

Owns formatting only: amounts arrive as Decimals already rounded by the pricing engine
and are shown with the currency's decimals, never recomputed. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from gateway.screens.settings import CurrencyFormatSettings

# Defaults per ISO currency: (symbol, pattern, thousands, decimal).
KNOWN: dict[str, tuple[str, str, str, str]] = {
    "CHF": ("CHF", "{symbol} {amount}", "'", "."),
    "CNY": ("¥", "{symbol}{amount}", ",", "."),
    "EUR": ("€", "{amount} {symbol}", ".", ","),
    "GBP": ("£", "{symbol}{amount}", ",", "."),
    "USD": ("$", "{symbol}{amount}", ",", "."),
    "HKD": ("HK$", "{symbol}{amount}", ",", "."),
    "TWD": ("NT$", "{symbol}{amount}", ",", "."),
    "JPY": ("¥", "{symbol}{amount}", ",", "."),
}


@dataclass(frozen=True)
class CurrencyFormat:
    code: str
    places: int
    symbol: str
    pattern: str
    thousands: str
    decimal: str

    @classmethod
    def for_currency(
        cls, code: str, places: int, overrides: CurrencyFormatSettings | None = None
    ) -> CurrencyFormat:
        """The currency's usual format, with the store's `[screens.currency]` on top."""
        symbol, pattern, thousands, decimal = KNOWN.get(code, (code, "{symbol} {amount}", ",", "."))
        o = overrides or CurrencyFormatSettings()
        return cls(
            code,
            places,
            o.symbol if o.symbol is not None else symbol,
            o.pattern or pattern,
            o.thousands if o.thousands is not None else thousands,
            o.decimal or decimal,
        )

    def number(self, amount: Decimal) -> str:
        """The amount without symbol: grouped, with the currency's decimals."""
        text = f"{abs(amount):,.{self.places}f}"
        whole, _, cents = text.partition(".")
        body = whole.replace(",", self.thousands) + (self.decimal + cents if cents else "")
        return ("-" if amount < 0 else "") + body

    def __call__(self, amount: Decimal | None) -> str:
        if amount is None:
            return ""
        return self.pattern.format(symbol=self.symbol, amount=self.number(amount)).strip()


def weight_text(weight: Decimal | None, unit: str | None, decimal: str = ".") -> str:
    """A scale reading as shown: three decimals of kg (the scale's own resolution)."""
    if weight is None:
        return "-.---"
    return f"{weight:.3f}".replace(".", decimal) + (f" {unit}" if unit else "")
