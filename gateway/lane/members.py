"""What the lane needs from the members room, as a Protocol the lane codes against.

gateway/members (built by another engineer) owns member tables, the blacklist, limits,
points rules, wallets and `member_balance` records. The lane only: identifies a member by
card, asks whether a points / stored-value tender may be taken, and, when a sale completes,
asks for the balance-change journal entries (and the table writes) to commit in the SAME
journal transaction as the sale, so a sale and its balance change exist together or not at
all. A refund asks for its reversals the same way (earned points taken back, stored value
and redeemed points given back), committed in the refund's transaction. `NoMembers` is the
service for a box with no member scheme: every card is refused. This module touches no
table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any, Protocol

from gateway.catalog.serials import SerialCoupon
from gateway.errors import StoregateError
from gateway.lane.events import Refusal
from gateway.lane.proportion import points_in_proportion
from gateway.members import Account, Authorisation, LinkState, MemberAccounts
from gateway.members import Refusal as RoomRefusal
from gateway.members.rules import TenderKind
from gateway.pricing.basket import MemberContext
from gateway.pricing.result import PricedBasket

Entry = tuple[str, Mapping[str, Any], str]
Also = Callable[[Any], None]

# The tenders the members room pays (the lane's names for them are the room's).
MEMBER_TENDER_KINDS: dict[str, TenderKind] = {"points": "points", "stored_value": "stored_value"}


@dataclass(frozen=True)
class MemberAccount:
    """A member as the lane shows and prices them (never a payment card number).

    `handle` is the members room's own account object, passed back to it unchanged.
    `card_present` says the member's card was read: by a card reader, or its UID (which
    only the card carries) was given. A member id typed from a receipt leaves it False:
    such a member earns points but pays nothing from their wallets."""

    id: str
    group: str | None = None
    name: str | None = None
    points: int = 0
    context: MemberContext | None = None
    handle: object = None
    card_present: bool = False
    coupons: tuple[OfferedCoupon, ...] = field(default=())  # personal, still to redeem


@dataclass(frozen=True)
class OfferedCoupon:
    """A personal coupon a campaign gave the member (docs/members.md, "Personal
    coupons"): the catalog coupon `code` (upper case), until its last local day."""

    campaign: str
    code: str
    until: date | None = None


@dataclass(frozen=True)
class Settlement:
    """The member side of a completed sale, committed in the sale's transaction."""

    entries: tuple[Entry, ...] = ()
    also: Also | None = None
    points_earned: int = 0
    points_redeemed: int = 0
    points_balance: int | None = None
    stored_value_balance: Decimal | None = None  # subsidy + cash after, card present only
    points_returned: int = 0  # a refund: redeemed points given back to the points wallet
    notes: tuple[str, ...] = ()  # for the cashier (e.g. the account is blocked since)


@dataclass(frozen=True)
class TopUpPosting:
    """A top-up's (or its refund's) balance change, committed with its record: the bonus
    the store's rules gave, the cash wallet after it, the entries and their table writes."""

    bonus: Decimal
    balance: Decimal
    entries: tuple[Entry, ...]
    also: Also | None


class MemberService(Protocol):
    def identify(self, card_id: str, at: datetime) -> MemberAccount | Refusal:
        """The member behind a card, or why the card is refused (blocked, lost, unknown)."""
        ...

    def authorize(
        self,
        account: MemberAccount,
        tender: str,
        amount: Decimal,
        at: datetime,
        earlier: Sequence[object],
        supervisor: str | None = None,
    ) -> object | Refusal:
        """May this points / stored-value tender be taken (balance, limits, offline policy)?
        The answer (an authorisation) is kept with the tender and handed to `settle`.
        `supervisor` is who approved going on offline after a `needs_supervisor` refusal."""
        ...

    def settle(
        self,
        account: MemberAccount,
        receipt_id: str,
        priced: PricedBasket,
        authorisations: Sequence[object],
        at: datetime,
        *,
        coupons: Sequence[OfferedCoupon] = (),
    ) -> Settlement:
        """Balance changes of a completed sale: entries and table writes, one transaction;
        `coupons` are the member's personal coupons the sale redeemed (spent with it)."""
        ...

    def personal_coupon(
        self, code: str, account: MemberAccount | None, at: datetime
    ) -> Refusal | None:
        """None when `code` is not a personal coupon, or is `account`'s own and unused;
        else why it is refused (another member's, no member yet, already redeemed)."""
        ...

    def serial_coupon(self, serial: SerialCoupon, account: MemberAccount | None) -> Refusal | None:
        """None when serial coupon `serial` (its check already holds) may go on the sale;
        else why not: redeemed already at this box, a member needed (`per_member`), or
        the member's `per_member` reached."""
        ...

    def spend_serials(
        self,
        serials: Sequence[SerialCoupon],
        account: MemberAccount | None,
        receipt_id: str,
        day: date,
    ) -> Also:
        """The table write, committed in the sale's transaction, that spends these serial
        coupons (the ones that gave something)."""
        ...

    def top_up(
        self, account: MemberAccount, amount: Decimal, at: datetime, top_up_id: str
    ) -> TopUpPosting | Refusal:
        """A top-up of the member's cash wallet paid at the till, with the store's bonus."""
        ...

    def reverse_top_up(
        self, refund_id: str, original: Mapping[str, Any], at: datetime
    ) -> TopUpPosting | Refusal:
        """A top-up taken back (`original`: its member_balance body), if still unspent."""
        ...

    def reverse(
        self,
        refund_id: str,
        originals: Sequence[Mapping[str, Any]],
        share: Fraction,
        to_wallet: Decimal,
        at: datetime,
        *,
        points_back: int = 0,
    ) -> Settlement:
        """Balance changes of a refund: earned points taken back in proportion (`share` is
        the part of the sale refunded so far, 0-1), `to_wallet` stored value given back
        to the wallets it came from and `points_back` redeemed points given back to the
        points wallet. `originals` are the sale's member_balance bodies. Raises
        `PointsBackError` when the points cannot go back (they are never paid in money)."""
        ...


class NoMembers:
    """A box without a member scheme: cards are refused, member tenders never offered."""

    def top_up(
        self, account: MemberAccount, amount: Decimal, at: datetime, top_up_id: str
    ) -> TopUpPosting | Refusal:
        return Refusal("members_off", "Member cards are not accepted at this till.")

    def reverse_top_up(
        self, refund_id: str, original: Mapping[str, Any], at: datetime
    ) -> TopUpPosting | Refusal:
        return Refusal("members_off", "Member cards are not accepted at this till.")

    def identify(self, card_id: str, at: datetime) -> MemberAccount | Refusal:
        return Refusal("members_off", "Member cards are not accepted at this till.")

    def authorize(
        self,
        account: MemberAccount,
        tender: str,
        amount: Decimal,
        at: datetime,
        earlier: Sequence[object],
        supervisor: str | None = None,
    ) -> object | Refusal:
        return Refusal("members_off", "Member tenders are not accepted at this till.")

    def settle(
        self,
        account: MemberAccount,
        receipt_id: str,
        priced: PricedBasket,
        authorisations: Sequence[object],
        at: datetime,
        *,
        coupons: Sequence[OfferedCoupon] = (),
    ) -> Settlement:
        return Settlement()

    def personal_coupon(
        self, code: str, account: MemberAccount | None, at: datetime
    ) -> Refusal | None:
        return None  # no member document: no personal coupons

    def serial_coupon(self, serial: SerialCoupon, account: MemberAccount | None) -> Refusal | None:
        return Refusal(
            "members_off",
            f"Coupon {serial.code} is a serial coupon: this till keeps no member tables to "
            "record it in.",
        )

    def spend_serials(
        self,
        serials: Sequence[SerialCoupon],
        account: MemberAccount | None,
        receipt_id: str,
        day: date,
    ) -> Also:
        raise AssertionError("no serial coupon goes on a sale at a till without members")

    def reverse(
        self,
        refund_id: str,
        originals: Sequence[Mapping[str, Any]],
        share: Fraction,
        to_wallet: Decimal,
        at: datetime,
        *,
        points_back: int = 0,
    ) -> Settlement:
        if points_back:
            raise PointsBackError(
                "this till takes no member cards now",
                where=f"refund {refund_id}",
                fix="refund it once this till takes member cards again",
            )
        return Settlement()


class RoomMembers:
    """The lane's MemberService over gateway.members (`MemberAccounts`).

    `link`, when given, tells the members room how the box stands with head office
    (online, time offline, unsynced sales); without it `MemberAccounts` uses its own."""

    def __init__(
        self, accounts: MemberAccounts, link: Callable[[], LinkState] | None = None
    ) -> None:
        self.accounts = accounts
        self.link = link

    def identify(self, card_id: str, at: datetime) -> MemberAccount | Refusal:
        found = self.accounts.identify(card_id)
        if isinstance(found, RoomRefusal):
            return Refusal(found.code, sentence(found.message))
        return MemberAccount(
            id=found.id,
            group=found.group.id,
            name=found.name,
            points=found.points,
            context=self.accounts.pricing_context(found),
            handle=found,
            card_present=found.by_card,
            coupons=self._offered(found.id, at.date()),
        )

    def _offered(self, member_id: str, day: date) -> tuple[OfferedCoupon, ...]:
        rows = self.accounts.store.coupons(member_id, day)
        return tuple(OfferedCoupon(r.campaign, r.code, r.until) for r in rows)

    def personal_coupon(
        self, code: str, account: MemberAccount | None, at: datetime
    ) -> Refusal | None:
        doc = self.accounts.store.document()
        code = code.upper()
        if doc is None or code not in self.accounts.store.personal_codes():
            return None
        if account is None:
            return Refusal(
                "coupon_not_yours",
                f"Coupon {code} is a member's own: identify the member first.",
            )
        if any(c.code == code for c in self._offered(account.id, at.date())):
            return None
        if self.accounts.store.coupon_redeemed(account.id, code) is not None:
            return Refusal("coupon_used", f"Coupon {code} was already redeemed by this member.")
        return Refusal(
            "coupon_not_yours",
            f"Coupon {code} is not one of member {account.id}'s coupons (or it has expired).",
        )

    def serial_coupon(self, serial: SerialCoupon, account: MemberAccount | None) -> Refusal | None:
        store = self.accounts.store
        if store.serial_redeemed(serial.promotion, serial.serial) is not None:
            return Refusal("coupon_used", f"Coupon {serial.code} was already redeemed.")
        limit = serial.per_member
        if limit is None:
            return None
        if account is None:
            return Refusal(
                "needs_member",
                f"Coupon {serial.code} counts per member: identify the member first.",
            )
        used = store.serials_redeemed_by(account.id, serial.promotion)
        if used >= limit:
            return Refusal(
                "serial_limit",
                f"Member {account.id} has had {used} coupon(s) of {serial.promotion}: at most "
                f"{limit} per member.",
            )
        return None

    def spend_serials(
        self,
        serials: Sequence[SerialCoupon],
        account: MemberAccount | None,
        receipt_id: str,
        day: date,
    ) -> Also:
        from gateway.members.store import NO_MEMBER, CouponRow, serial_campaign

        member_id = account.id if account is not None else NO_MEMBER
        rows = [CouponRow(serial_campaign(s.promotion, s.serial), s.code, None) for s in serials]
        store = self.accounts.store

        def also(conn: Any) -> None:
            store.record_coupon_uses(conn, member_id, rows, receipt_id, day)

        return also

    def authorize(
        self,
        account: MemberAccount,
        tender: str,
        amount: Decimal,
        at: datetime,
        earlier: Sequence[object],
        supervisor: str | None = None,
    ) -> object | Refusal:
        kind = MEMBER_TENDER_KINDS.get(tender)
        if kind is None:
            return Refusal("not_member_tender", f"{tender} is not a member tender.")
        answer = self.accounts.authorise(
            _account(account),
            kind,
            amount,
            at,
            link=self.link() if self.link is not None else None,
            earlier=_authorisations(earlier),
            supervisor=supervisor,
        )
        if isinstance(answer, RoomRefusal):
            return Refusal(answer.code, sentence(answer.message), answer.needs_supervisor)
        return answer

    def top_up(
        self, account: MemberAccount, amount: Decimal, at: datetime, top_up_id: str
    ) -> TopUpPosting | Refusal:
        answer = self.accounts.top_up(_account(account), amount, at, top_up_id)
        if isinstance(answer, RoomRefusal):
            return Refusal(answer.code, sentence(answer.message))
        bonus, posting = answer
        return TopUpPosting(bonus, _after(posting.entries), posting.entries, posting.also)

    def reverse_top_up(
        self, refund_id: str, original: Mapping[str, Any], at: datetime
    ) -> TopUpPosting | Refusal:
        answer = self.accounts.reverse_top_up(refund_id, original, at)
        if isinstance(answer, RoomRefusal):
            return Refusal(answer.code, sentence(answer.message))
        return TopUpPosting(Decimal(0), _after(answer.entries), answer.entries, answer.also)

    def settle(
        self,
        account: MemberAccount,
        receipt_id: str,
        priced: PricedBasket,
        authorisations: Sequence[object],
        at: datetime,
        *,
        coupons: Sequence[OfferedCoupon] = (),
    ) -> Settlement:
        taken = _authorisations(authorisations)
        points_paid = sum((a.amount for a in taken if a.tender == "points"), Decimal(0))
        holder = _account(account)
        earned = self.accounts.points_earned(holder, priced, points_paid)
        posting = self.accounts.postings(receipt_id, holder, taken, earned, at)
        redeemed = sum((int(d.amount) for a in taken for d in a.debits if d.wallet == "points"), 0)
        also: Also | None = posting.also
        if coupons:
            also = self._spending_coupons(account.id, coupons, receipt_id, at.date(), also)
        return Settlement(
            entries=posting.entries,
            also=also,
            points_earned=earned,
            points_redeemed=redeemed,
            points_balance=account.points + earned - redeemed,
            stored_value_balance=self._wallets_after(account, taken),
        )

    def _spending_coupons(
        self,
        member_id: str,
        coupons: Sequence[OfferedCoupon],
        receipt_id: str,
        day: date,
        then: Also | None,
    ) -> Also:
        """The sale's `also` that spends its personal coupons too, in its transaction."""
        from gateway.members.store import CouponRow

        rows = [CouponRow(c.campaign, c.code, c.until) for c in coupons]

        def also(conn: Any) -> None:
            if then is not None:
                then(conn)
            self.accounts.store.record_coupon_uses(conn, member_id, rows, receipt_id, day)

        return also

    def _wallets_after(
        self, account: MemberAccount, taken: Sequence[Authorisation]
    ) -> Decimal | None:
        """Subsidy + cash after the sale's debits, for the receipt (a dividend or top-up
        shows there); only to the card's holder: a typed member id learns no balance."""
        if not account.card_present:
            return None
        fresh = self.accounts.account(account.id)
        if fresh is None:
            return None
        debited = sum(
            (d.amount for a in taken for d in a.debits if d.wallet != "points"), Decimal(0)
        )
        return fresh.subsidy + fresh.cash - debited

    def reverse(
        self,
        refund_id: str,
        originals: Sequence[Mapping[str, Any]],
        share: Fraction,
        to_wallet: Decimal,
        at: datetime,
        *,
        points_back: int = 0,
    ) -> Settlement:
        parts: dict[str, Decimal] = {}
        store = self.accounts.store

        def done(body: Mapping[str, Any]) -> Decimal:
            """What earlier refunds reversed of this change (not this refund's own)."""
            change = str(body["change"])
            return store.reversed_so_far(change, f"{refund_id}/reverse/{change}")

        def left(body: Mapping[str, Any]) -> Decimal:
            return abs(Decimal(str(body["delta"]))) - done(body)

        for body in originals:
            if body["reason"] == "earn":
                earned = int(Decimal(str(body["delta"])))
                part = points_in_proportion(earned, share) - done(body)
                if part > 0:
                    parts[str(body["change"])] = part
        _fill(
            parts,
            [b for b in originals if b["reason"] == "redeem"],
            Decimal(points_back),
            left,
            lambda given: PointsBackError(
                f"only {given} of the points paid with this sale are left to give back, "
                f"not {points_back}",
                where=f"refund {refund_id}",
                fix=POINTS_BACK_FIX,
            ),
        )
        spends = sorted(
            (b for b in originals if b["reason"] == "spend"),
            key=lambda b: WALLET_ORDER.get(str(b["wallet"]), 9),
        )
        _fill(
            parts,
            spends,
            to_wallet,
            left,
            lambda given: LaneMembersError(
                f"{to_wallet} cannot go back to the member's wallets: only {given} was paid "
                "from them",
                where=f"refund {refund_id}",
                fix="refund the rest in cash or to the original card",
            ),
        )
        chosen = [b for b in originals if str(b["change"]) in parts]
        try:
            posting = self.accounts.reverse(refund_id, chosen, at, parts)
        except StoregateError as exc:
            if not points_back:
                raise
            raise PointsBackError(exc.what, where=exc.where, fix=POINTS_BACK_FIX) from exc
        moved = [b for _, b, _ in posting.entries if b["wallet"] == "points"]
        taken = -sum(
            (Decimal(str(b["delta"])) for b in moved if b["reason"] == "earn_reversal"), Decimal(0)
        )
        given = sum(
            (Decimal(str(b["delta"])) for b in moved if b["reason"] == "redeem_reversal"),
            Decimal(0),
        )
        return Settlement(
            entries=posting.entries,
            also=posting.also,
            points_earned=-int(taken),
            points_returned=int(given),
            points_balance=int(Decimal(str(moved[-1]["after"]))) if moved else None,
            notes=self._status_notes(chosen, int(given)),
        )

    def _status_notes(self, chosen: Sequence[Mapping[str, Any]], given: int) -> tuple[str, ...]:
        """Points given back to an account whose card was since reported lost or blocked
        still go to the account: the card cannot spend them, a new card will."""
        if not given or not chosen:
            return ()
        account = self.accounts.account(str(chosen[0]["member"]))
        if account is None or account.status == "active":
            return ()
        return (
            f"Member {account.id} is {account.status}: the {given} points go back to "
            "the account, not to the card.",
        )


def _fill(
    parts: dict[str, Decimal],
    bodies: Sequence[Mapping[str, Any]],
    amount: Decimal,
    left: Callable[[Mapping[str, Any]], Decimal],
    short: Callable[[Decimal], StoregateError],
) -> None:
    """Spread `amount` over `bodies` in order, each up to what is left of it to reverse."""
    rest = amount
    for body in bodies:
        part = min(left(body), rest)
        if part > 0:
            parts[str(body["change"])] = part
            rest -= part
    if rest > 0:
        raise short(amount - rest)


WALLET_ORDER = {"cash": 0, "subsidy": 1}  # money back to the member's own cash first


class LaneMembersError(StoregateError):
    """A refund asked more of the member's wallets than the sale took from them."""


class PointsBackError(StoregateError):
    """Redeemed points cannot go back to the member now; they are never paid in money."""


POINTS_BACK_FIX = (
    "refund it once the member is in this till's member list again, or ask head office"
)


def _after(entries: Sequence[Entry]) -> Decimal:
    """The cash wallet after a posting's last change."""
    return Decimal(str(entries[-1][1]["after"])) if entries else Decimal(0)


def _account(account: MemberAccount) -> Account:
    assert isinstance(account.handle, Account), "a member identified by RoomMembers"
    return account.handle


def _authorisations(items: Sequence[object]) -> tuple[Authorisation, ...]:
    return tuple(a for a in items if isinstance(a, Authorisation))


def sentence(text: str) -> str:
    """A room's error text as a cashier's sentence: capital first, one full stop."""
    text = text.strip()
    return (text[:1].upper() + text[1:]).rstrip(".") + "."
