"""What the daemon needs of a wallet provider: the three calls of a code payment and the
two of a refund (a refund's `out_trade_no` is its own refund number, `refund_of` the
payment's). Each
adapter turns one call into the provider's documented HTTP request and its answer into the
machine's `Answer` or `NoAnswer` — nothing more (no retries, no state: the machine decides).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

from gateway.payments.machine import Answer, NoAnswer, Payment


class Provider(Protocol):
    name: str

    def pay(self, payment: Payment, code: str) -> Answer | NoAnswer: ...

    def query(self, payment: Payment) -> Answer | NoAnswer: ...

    def revoke(self, payment: Payment) -> Answer | NoAnswer: ...

    def refund(self, refund: Payment) -> Answer | NoAnswer: ...

    def refund_query(self, refund: Payment) -> Answer | NoAnswer: ...


def minor_units(amount: Decimal) -> int:
    """An amount of a two-decimal currency in its minor unit (fen): WeChat's total_fee."""
    cents = amount * 100
    if cents != cents.to_integral_value():
        raise ValueError(f"{amount} has more than two decimals")
    return int(cents)
