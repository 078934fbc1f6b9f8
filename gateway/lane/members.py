"""What the lane needs from the members room, as a Protocol the lane codes against.

gateway/members (built by another engineer) owns member tables, the blacklist, limits,
points rules, wallets and `member_balance` records. The lane only: identifies a member by
card, asks whether a points / stored-value tender may be taken, and, when a sale completes,
asks for the balance-change journal entries (and the table writes) to commit in the SAME
journal transaction as the sale, so a sale and its balance change exist together or not at
all. `NoMembers` is the service for a box with no member scheme: every card is refused.
This module touches no table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from gateway.lane.events import Refusal
from gateway.pricing.result import PricedBasket

Entry = tuple[str, Mapping[str, Any], str]
Also = Callable[[Any], None]


@dataclass(frozen=True)
class MemberAccount:
    """A member as the lane shows and prices them (never a payment card number)."""

    id: str
    group: str | None = None
    name: str | None = None
    points: int = 0
    stored_value: Decimal | None = None


@dataclass(frozen=True)
class Settlement:
    """The member side of a completed sale or refund, committed with it."""

    entries: tuple[Entry, ...] = ()
    also: Also | None = None
    points_earned: int = 0
    points_redeemed: int = 0
    points_balance: int | None = None
    stored_value_balance: Decimal | None = None
    records_by_tender: Mapping[int, str] = field(default_factory=dict)


class MemberService(Protocol):
    def identify(self, card_id: str, at: datetime) -> MemberAccount | Refusal:
        """The member behind a card, or why the card is refused (blocked, lost, unknown)."""
        ...

    def authorize(self, account: MemberAccount, tender: str, amount: Decimal,
                  already: Sequence[tuple[str, Decimal]], at: datetime) -> Refusal | None:
        """May this points / stored-value tender be taken (balance, limits, offline policy)?"""
        ...

    def settle(self, account: MemberAccount, receipt_id: str, priced: PricedBasket,
               tenders: Sequence[tuple[str, Decimal]], at: datetime) -> Settlement:
        """Balance changes of a completed sale: entries and table writes, one transaction."""
        ...


class NoMembers:
    """A box without a member scheme: cards are refused, member tenders never offered."""

    def identify(self, card_id: str, at: datetime) -> MemberAccount | Refusal:
        return Refusal("members_off", "Member cards are not accepted at this till.")

    def authorize(self, account: MemberAccount, tender: str, amount: Decimal,
                  already: Sequence[tuple[str, Decimal]], at: datetime) -> Refusal | None:
        return Refusal("members_off", "Member tenders are not accepted at this till.")

    def settle(self, account: MemberAccount, receipt_id: str, priced: PricedBasket,
               tenders: Sequence[tuple[str, Decimal]], at: datetime) -> Settlement:
        return Settlement()
