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
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal
from typing import Any, Protocol

from gateway.errors import StoregateError
from gateway.lane.events import Refusal
from gateway.members import Account, Authorisation, LinkState, MemberAccounts
from gateway.members import Refusal as RoomRefusal
from gateway.pricing.basket import MemberContext
from gateway.pricing.result import PricedBasket

Entry = tuple[str, Mapping[str, Any], str]
Also = Callable[[Any], None]


@dataclass(frozen=True)
class MemberAccount:
    """A member as the lane shows and prices them (never a payment card number).

    `handle` is the members room's own account object, passed back to it unchanged."""

    id: str
    group: str | None = None
    name: str | None = None
    points: int = 0
    context: MemberContext | None = None
    handle: object = None


@dataclass(frozen=True)
class Settlement:
    """The member side of a completed sale, committed in the sale's transaction."""

    entries: tuple[Entry, ...] = ()
    also: Also | None = None
    points_earned: int = 0
    points_redeemed: int = 0
    points_balance: int | None = None


class MemberService(Protocol):
    def identify(self, card_id: str, at: datetime) -> MemberAccount | Refusal:
        """The member behind a card, or why the card is refused (blocked, lost, unknown)."""
        ...

    def authorize(self, account: MemberAccount, tender: str, amount: Decimal, at: datetime,
                  earlier: Sequence[object], supervisor: str | None = None) -> object | Refusal:
        """May this points / stored-value tender be taken (balance, limits, offline policy)?
        The answer (an authorisation) is kept with the tender and handed to `settle`.
        `supervisor` is who approved going on offline after a `needs_supervisor` refusal."""
        ...

    def settle(self, account: MemberAccount, receipt_id: str, priced: PricedBasket,
               authorisations: Sequence[object], at: datetime) -> Settlement:
        """Balance changes of a completed sale: entries and table writes, one transaction."""
        ...

    def reverse(self, refund_id: str, originals: Sequence[Mapping[str, Any]],
                share: Decimal, to_wallet: Decimal, at: datetime) -> Settlement:
        """Balance changes of a refund: earned points taken back in proportion (`share` is
        the part of the sale refunded so far, 0-1) and `to_wallet` stored value given back
        to the wallets it came from. `originals` are the sale's member_balance bodies."""
        ...


class NoMembers:
    """A box without a member scheme: cards are refused, member tenders never offered."""

    def identify(self, card_id: str, at: datetime) -> MemberAccount | Refusal:
        return Refusal("members_off", "Member cards are not accepted at this till.")

    def authorize(self, account: MemberAccount, tender: str, amount: Decimal, at: datetime,
                  earlier: Sequence[object], supervisor: str | None = None) -> object | Refusal:
        return Refusal("members_off", "Member tenders are not accepted at this till.")

    def settle(self, account: MemberAccount, receipt_id: str, priced: PricedBasket,
               authorisations: Sequence[object], at: datetime) -> Settlement:
        return Settlement()

    def reverse(self, refund_id: str, originals: Sequence[Mapping[str, Any]],
                share: Decimal, to_wallet: Decimal, at: datetime) -> Settlement:
        return Settlement()


class RoomMembers:
    """The lane's MemberService over gateway.members (`MemberAccounts`).

    `link`, when given, tells the members room how the box stands with head office
    (online, time offline, unsynced sales); without it `MemberAccounts` uses its own."""

    def __init__(self, accounts: MemberAccounts,
                 link: Callable[[], LinkState] | None = None) -> None:
        self.accounts = accounts
        self.link = link

    def identify(self, card_id: str, at: datetime) -> MemberAccount | Refusal:
        found = self.accounts.identify(card_id)
        if isinstance(found, RoomRefusal):
            return Refusal(found.code, _sentence(found.message))
        return MemberAccount(id=found.id, group=found.group.id, name=found.name,
                             points=found.points,
                             context=self.accounts.pricing_context(found), handle=found)

    def authorize(self, account: MemberAccount, tender: str, amount: Decimal, at: datetime,
                  earlier: Sequence[object], supervisor: str | None = None) -> object | Refusal:
        if tender not in ("points", "stored_value"):
            return Refusal("not_member_tender", f"{tender} is not a member tender.")
        answer = self.accounts.authorise(
            _account(account), tender, amount, at,  # type: ignore[arg-type]
            link=self.link() if self.link is not None else None,
            earlier=_authorisations(earlier), supervisor=supervisor)
        if isinstance(answer, RoomRefusal):
            return Refusal(answer.code, _sentence(answer.message), answer.needs_supervisor)
        return answer

    def settle(self, account: MemberAccount, receipt_id: str, priced: PricedBasket,
               authorisations: Sequence[object], at: datetime) -> Settlement:
        taken = _authorisations(authorisations)
        points_paid = sum((a.amount for a in taken if a.tender == "points"), Decimal(0))
        holder = _account(account)
        earned = self.accounts.points_earned(holder, priced, points_paid)
        posting = self.accounts.postings(receipt_id, holder, taken, earned, at)
        redeemed = sum((int(d.amount) for a in taken for d in a.debits
                        if d.wallet == "points"), 0)
        return Settlement(entries=posting.entries, also=posting.also, points_earned=earned,
                          points_redeemed=redeemed,
                          points_balance=account.points + earned - redeemed)


    def reverse(self, refund_id: str, originals: Sequence[Mapping[str, Any]],
                share: Decimal, to_wallet: Decimal, at: datetime) -> Settlement:
        parts: dict[str, Decimal] = {}
        chosen: list[Mapping[str, Any]] = []
        store = self.accounts.store
        for body in originals:
            change = str(body["change"])
            done = store.reversed_so_far(change, f"{refund_id}/reverse/{change}")
            if body["reason"] == "earn":
                target = (Decimal(str(body["delta"])) * share).to_integral_value(ROUND_FLOOR)
                part = target - done
            else:
                continue
            if part > 0:
                parts[change] = part
                chosen.append(body)
        left = to_wallet
        spends = [b for b in originals if b["reason"] == "spend"]
        for body in sorted(spends, key=lambda b: WALLET_ORDER.get(str(b["wallet"]), 9)):
            change = str(body["change"])
            room = abs(Decimal(str(body["delta"]))) - store.reversed_so_far(
                change, f"{refund_id}/reverse/{change}")
            part = min(room, left)
            if part > 0:
                parts[change] = part
                chosen.append(body)
                left -= part
        if left > 0:
            raise LaneMembersError(
                f"{to_wallet} cannot go back to the member's wallets: only "
                f"{to_wallet - left} was paid from them", where=f"refund {refund_id}",
                fix="refund the rest in cash or to the original card")
        posting = self.accounts.reverse(refund_id, chosen, at, parts)
        taken = -sum((Decimal(str(b["delta"])) for _, b, _ in posting.entries
                      if b["wallet"] == "points"), Decimal(0))
        return Settlement(entries=posting.entries, also=posting.also,
                          points_earned=-int(taken))


WALLET_ORDER = {"cash": 0, "subsidy": 1}  # money back to the member's own cash first


class LaneMembersError(StoregateError):
    """A refund asked more of the member's wallets than the sale took from them."""


def _account(account: MemberAccount) -> Account:
    assert isinstance(account.handle, Account), "a member identified by RoomMembers"
    return account.handle


def _authorisations(items: Sequence[object]) -> tuple[Authorisation, ...]:
    return tuple(a for a in items if isinstance(a, Authorisation))


def _sentence(text: str) -> str:
    text = text.strip()
    return (text[:1].upper() + text[1:]).rstrip(".") + "."
