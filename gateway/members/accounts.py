"""What the lane calls: identify a card, the pricing context, points earned, authorise a
points or stored-value tender, and the balance changes as journal entries.

Owns turning rule answers into `member_balance` journal entries (one per wallet change,
each with its own change id as the journal record id) and the `also` callable that records
them in the member tables inside the same transaction as the sale. Must not decide rules
(`gateway.members.rules` does) nor write SQL (`gateway.members.store` does); it never
stores or sends a card UID, only its hash or masked form.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from gateway.journal import Journal, JournalRecord
from gateway.members.cards import card_key, looks_like_payment_card, mask_card
from gateway.members.document import IDENTIFIER, Group, MembersDocument
from gateway.members.errors import MembersError
from gateway.members.rules import (
    Account,
    Authorisation,
    LinkState,
    Refusal,
    TenderKind,
    authorise_points,
    authorise_stored_value,
    meal_at,
    points_earned,
    status_refusal,
)
from gateway.members.store import Change, MemberStore
from gateway.money import ZERO
from gateway.pricing.basket import MemberContext
from gateway.pricing.result import PricedBasket

KIND = "member_balance"
_MEMBER_ID = re.compile(IDENTIFIER)
Entry = tuple[str, dict[str, Any], str]


@dataclass(frozen=True)
class BalancePosting:
    """Journal entries of one sale's (or refund's) balance changes, and their `also`.

    Append with the sale in one transaction:
    `journal.append_many([("sale", body, sale_id), *posting.entries], also=both)` where
    `both(conn)` runs the lane's own writes and `posting.also(conn)`.
    """

    entries: tuple[Entry, ...]
    changes: tuple[Change, ...]
    store: MemberStore

    def also(self, conn: sqlite3.Connection) -> None:
        """Record the changes in the member tables (a change id already there is skipped)."""
        self.store.record(conn, self.changes)

    def record(self, journal: Journal) -> list[JournalRecord]:
        """Append just these entries (e.g. a refund's reversals) with their `also`."""
        if not self.entries:
            return []
        return journal.append_many(list(self.entries), also=self.also)


class MemberAccounts:
    """The lane's door to members: one per box, over the box's `MemberStore`.

    `link` tells the box's contact with head office (from sync) when the lane does not pass
    one to `authorise`; without it the box counts as online.
    """

    def __init__(self, store: MemberStore, link: Callable[[], LinkState] | None = None) -> None:
        self.store = store
        self._link = link or LinkState

    # -- identifying -----------------------------------------------------------------------

    def identify(self, read: str) -> Account | Refusal:
        """The member behind a card read, or why the card is refused (never stored).

        `by_card` on the answer tells a card UID (matched by its key) from the printed
        member id: only the lane knows whether a card reader gave the read, so the lane
        decides what each may pay with (docs/members.md, "Who may pay from the wallets")."""
        doc = self.store.document()
        if doc is None:
            return Refusal(
                "no_members",
                "no member list from head office yet — continue the sale without the card",
            )
        raw = read.strip()
        hashed = card_key(raw, doc.card_hashing.salt) if raw else ""
        as_id = raw if _MEMBER_ID.match(raw) else None
        listed = self.store.blacklisted([k for k in (hashed, as_id) if k])
        if listed is not None:
            since = f" on {listed.since.isoformat()}" if listed.since else ""
            return Refusal(
                "blacklisted",
                f"card reported {listed.reason}{since} — keep the card, call a supervisor",
            )
        member_id = self.store.member_for_card(hashed) if raw else None
        card_ref, by_card = mask_card(raw), member_id is not None
        if member_id is None and as_id is not None and self.store.member(as_id) is not None:
            member_id, card_ref = as_id, as_id
        if member_id is None:
            return _unknown(raw)
        account = self.account(member_id, card_ref)
        if account is None:
            return _unknown(raw)
        refused = status_refusal(account.status, account.status_since)
        return refused or replace(account, by_card=by_card)

    def account(self, member_id: str, card_ref: str | None = None) -> Account | None:
        """The member with balances as of now (document + this box's unconfirmed changes)."""
        doc = self.store.document()
        row = self.store.member(member_id)
        if doc is None or row is None:
            return None
        balances = self.store.balances(member_id)
        return Account(
            row.member_id,
            _group(doc, row.group_id),
            row.name,
            row.status,
            row.status_since,
            row.subsidy_expires,
            balances.points,
            balances.subsidy,
            balances.cash,
            card_ref or member_id,
        )

    def pricing_context(self, account: Account) -> MemberContext | None:
        """What the pricing engine needs; None when the group has no member prices."""
        if not account.group.member_prices:
            return None
        return MemberContext(account.id, account.group.id, account.name)

    def points_earned(
        self, account: Account, basket: PricedBasket, paid_with_points: Decimal = ZERO
    ) -> int:
        return points_earned(basket, account.group.points, paid_with_points)

    # -- tenders ---------------------------------------------------------------------------

    def authorise(
        self,
        account: Account,
        tender: TenderKind,
        amount: Decimal,
        at: datetime,
        link: LinkState | None = None,
        earlier: Sequence[Authorisation] = (),
        *,
        supervisor: str | None = None,
    ) -> Authorisation | Refusal:
        """May this member pay `amount` with `tender` at local time `at`?

        `earlier` are the authorisations already taken in this sale (split tenders), so
        limits and balances count them. Balances and status are read afresh. `supervisor`
        is the staff id who approved continuing offline after a `needs_supervisor` refusal.
        """
        doc = self._document()
        _check_amount(amount, doc.decimals)
        if tender not in ("points", "stored_value"):
            raise MembersError(
                f"{tender!r} is not a member tender",
                where="members authorise",
                fix="pass 'points' or 'stored_value'",
            )
        fresh = self.account(account.id, account.card_ref)
        if fresh is None:
            return _unknown("")
        link = link or self._link()
        if supervisor is not None:
            link = replace(link, supervisor=supervisor)
        meal = meal_at(fresh.group.limits, at)
        spending = self.store.spending(
            fresh.id, at.date(), meal.name if meal else None, online=link.online
        )
        if tender == "points":
            return authorise_points(
                fresh, amount, at, doc.redemption, spending, link, doc.offline, earlier
            )
        return authorise_stored_value(fresh, amount, at, spending, link, doc.offline, earlier)

    # -- balance changes -------------------------------------------------------------------

    def postings(
        self,
        sale_id: str,
        account: Account,
        authorisations: Sequence[Authorisation],
        earned: int,
        at: datetime,
        *,
        offline: bool | None = None,
    ) -> BalancePosting:
        """The balance changes of a completed sale: one entry per wallet debited, and one
        for the points earned. Ids are `{sale_id}/t{n}/{wallet}` and
        `{sale_id}/earn/points`, so building them again for the same sale gives the same
        ids, and a sale already recorded yields its recorded entries unchanged."""
        changes: list[Change] = []
        for n, auth in enumerate(authorisations, 1):
            if auth.member_id != account.id:
                raise MembersError(
                    f"authorisation for member {auth.member_id} in a sale of member {account.id}",
                    where=f"sale {sale_id}",
                    fix="authorise tenders for the sale's member",
                )
            reason = "redeem" if auth.tender == "points" else "spend"
            changes += [
                Change(
                    f"{sale_id}/t{n}/{d.wallet}",
                    account.id,
                    d.wallet,
                    -d.amount,
                    reason,
                    sale_id,
                    auth.at.date().isoformat(),
                    auth.meal,
                    auth.offline,
                    auth.supervisor,
                )
                for d in auth.debits
            ]
        if earned < 0:
            raise MembersError(
                f"points earned {earned} is negative",
                where=f"sale {sale_id}",
                fix="use reverse() to take points back",
            )
        if offline is None:
            offline = any(a.offline for a in authorisations) or not self._link().online
        if earned:
            changes.append(
                Change(
                    f"{sale_id}/earn/points",
                    account.id,
                    "points",
                    Decimal(earned),
                    "earn",
                    sale_id,
                    at.date().isoformat(),
                    None,
                    offline,
                )
            )
        return self._posting(changes, account, at)

    def reverse(
        self,
        refund_id: str,
        originals: Sequence[Mapping[str, Any]],
        at: datetime,
        parts: Mapping[str, Decimal] | None = None,
    ) -> BalancePosting:
        """Give back (or take back) the changes of an earlier sale for a refund.

        `originals` are that sale's `member_balance` record bodies; `parts` maps a change id
        to how much of it to reverse (whole when absent). Stored value and redeemed points
        go back to the wallet they came from; earned points are taken back, never below
        zero. A reversal keeps the original's day and meal, so it restores that budget.
        """
        if not originals:
            return BalancePosting((), (), self.store)
        member_ids = {str(body["member"]) for body in originals}
        if len(member_ids) != 1:
            raise MembersError(
                "a refund's changes must all be of one member",
                where=f"refund {refund_id}",
                fix="reverse each member apart",
            )
        account = self.account(member_ids.pop())
        if account is None:
            raise MembersError(
                "the member of this refund is not in the members list",
                where=f"refund {refund_id}",
                fix="refund to another tender, or wait for the next list",
            )
        changes = [_reversal(refund_id, body, parts, account, self.store) for body in originals]
        return self._posting([c for c in changes if c.delta != 0], account, at)

    def top_up(
        self, account: Account, amount: Decimal, at: datetime, top_up_id: str
    ) -> tuple[Decimal, BalancePosting] | Refusal:
        """A top-up (充值) of the cash wallet by `amount`, paid at the till: the bonus the
        document's rules give for it and the change (amount + bonus) to journal with the
        top-up. Refused when the document has no top-up rules, outside its min / max, or
        for a member who may not use the account."""
        doc = self._document()
        _check_amount(amount, doc.decimals)
        fresh = self.account(account.id, account.card_ref)
        if fresh is None:
            return _unknown("")
        refused = status_refusal(fresh.status, fresh.status_since)
        if refused:
            return refused
        rules = doc.top_up
        if rules is None:
            return Refusal("no_top_up", "this store takes no top-ups at the till")
        if amount < rules.min or (rules.max is not None and amount > rules.max):
            most = f" and at most {rules.max}" if rules.max is not None else ""
            return Refusal("top_up_amount", f"a top-up is at least {rules.min}{most}")
        bonus = rules.bonus_for(amount).quantize(Decimal(1).scaleb(-doc.decimals))
        change = Change(
            f"{top_up_id}/topup/cash",
            fresh.id,
            "cash",
            amount + bonus,
            "top_up",
            top_up_id,
            at.date().isoformat(),
            None,
            not self._link().online,
        )
        return bonus, self._posting([change], fresh, at)

    def reverse_top_up(
        self, refund_id: str, original: Mapping[str, Any], at: datetime
    ) -> BalancePosting | Refusal:
        """Take a top-up (its amount and bonus) back off the cash wallet for its refund;
        refused when what is left of the wallet no longer covers it (it was spent)."""
        if str(original.get("reason")) != "top_up":
            raise MembersError(
                f"change {original.get('change')} is not a top-up",
                where=f"refund {refund_id}",
                fix="pass the top-up's member_balance body",
            )
        account = self.account(str(original["member"]))
        if account is None:
            return _unknown("")
        delta = Decimal(str(original["delta"]))
        if account.cash < delta:
            return Refusal(
                "top_up_spent",
                f"the cash wallet holds {account.cash}, less than the top-up's {delta}: "
                "it was spent and cannot be refunded",
            )
        change = Change(
            f"{refund_id}/reverse/{original['change']}",
            account.id,
            "cash",
            -delta,
            "top_up_reversal",
            refund_id,
            at.date().isoformat(),
            None,
            not self._link().online,
        )
        return self._posting([change], account, at)

    def _posting(self, changes: list[Change], account: Account, at: datetime) -> BalancePosting:
        ids = [c.change_id for c in changes]
        if len(set(ids)) != len(ids):
            raise MembersError(
                "the same change id appears twice in one posting",
                where=f"changes {ids}",
                fix="give each tender its own entry",
            )
        known = self.store.known_changes(ids)
        if known and known == set(ids):
            bodies = self.store.recorded_bodies(ids)
            if len(bodies) != len(ids):
                raise MembersError(
                    f"changes {ids} were recorded and their journal records pruned since",
                    where="member balance changes",
                    fix="do not post an old sale again",
                )
            entries = tuple((KIND, bodies[i], i) for i in ids)
            return BalancePosting(entries, tuple(changes), self.store)
        if known:
            raise MembersError(
                f"change ids {sorted(known)} are already recorded",
                where="member balance changes",
                fix="re-post a recorded sale exactly as before, or use a new sale id",
            )
        doc = self._document()
        return BalancePosting(
            _entries(changes, account, at, doc.version), tuple(changes), self.store
        )

    def _document(self) -> MembersDocument:
        doc = self.store.document()
        if doc is None:
            raise MembersError(
                "no members document is in force",
                where="members",
                fix="wait for head office's members list, or take another payment",
            )
        return doc


def _entries(
    changes: list[Change], account: Account, at: datetime, version: int
) -> tuple[Entry, ...]:
    """Bodies carry before/after so head office can check its copy (optimistic check)."""
    running: dict[str, Decimal] = {
        "points": Decimal(account.points),
        "subsidy": account.subsidy,
        "cash": account.cash,
    }
    entries: list[Entry] = []
    for c in changes:
        before = running[c.wallet]
        running[c.wallet] = before + c.delta
        body: dict[str, Any] = {
            "change": c.change_id,
            "member": c.member_id,
            "card": account.card_ref,
            "wallet": c.wallet,
            "delta": _text(c.delta),
            "reason": c.reason,
            "sale": c.sale_id,
            "before": _text(before),
            "after": _text(running[c.wallet]),
            "at": at.isoformat(),
            "day": c.local_day,
            "meal": c.meal,
            "offline": c.offline,
            "members_version": version,
        }
        if c.supervisor is not None:
            body["supervisor"] = c.supervisor
        entries.append((KIND, body, c.change_id))
    return tuple(entries)


def _reversal(
    refund_id: str,
    body: Mapping[str, Any],
    parts: Mapping[str, Decimal] | None,
    account: Account,
    store: MemberStore,
) -> Change:
    original = Decimal(str(body["delta"]))
    reason = str(body["reason"])
    if reason not in ("spend", "redeem", "earn") or original == 0:
        raise MembersError(
            f"change {body.get('change')} ({reason}) cannot be reversed",
            where=f"refund {refund_id}",
            fix="pass the original sale's member_balance bodies only",
        )
    change_id = f"{refund_id}/reverse/{body['change']}"
    left = abs(original) - store.reversed_so_far(str(body["change"]), excluding=change_id)
    part = parts.get(str(body["change"]), left) if parts else left
    if part < 0 or part > left:
        raise MembersError(
            f"cannot reverse {part} of change {body['change']} "
            f"({left} of {abs(original)} is left to reverse)",
            where=f"refund {refund_id}",
            fix="reverse at most what the change moved, less earlier refunds",
        )
    delta = part if original < 0 else -min(part, Decimal(max(account.points, 0)))
    return Change(
        change_id,
        account.id,
        body["wallet"],
        delta,
        f"{reason}_reversal",
        refund_id,
        str(body["day"]),
        body.get("meal"),
        bool(body.get("offline", False)),
    )


def _unknown(raw: str) -> Refusal:
    if raw and looks_like_payment_card(raw):
        return Refusal(
            "payment_card", "this is a payment card, not a member card — take it as a card payment"
        )
    return Refusal(
        "unknown_card",
        "card not known to this store — continue the sale without "
        "it; the member list may not have reached this till yet",
    )


def _group(doc: MembersDocument, group_id: str) -> Group:
    for group in doc.groups:
        if group.id == group_id:
            return group
    raise MembersError(
        f"member group {group_id!r} is not in the document in force",
        where="members",
        fix="head office must publish the group",
    )


def _check_amount(amount: Decimal, places: int) -> None:
    exponent = amount.as_tuple().exponent
    if (
        not isinstance(amount, Decimal)
        or not amount.is_finite()
        or amount <= 0
        or (isinstance(exponent, int) and -exponent > places)
    ):
        raise MembersError(
            f"tender amount {amount!r} must be positive with at most {places} decimals",
            where="members authorise",
            fix="pass the amount as a Decimal such as Decimal('12.50')",
        )


def _text(value: Decimal) -> str:
    return str(value)
