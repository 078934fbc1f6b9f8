"""The member rules as plain functions: refusals, meal periods, points earned, and whether a
points or stored-value tender may be taken (wallet order, group limits, offline policy).

Pure: no I/O, no clock — the local time, what was spent and the link state are passed in.
Must not touch SQLite or the journal; `gateway.members.store` feeds these functions and
`gateway.members.accounts` turns their answers into journal entries.

Limits count stored value only (subsidy + cash wallets): they are the canteen budget and
the loss cap of a found card. Points have their own offline ceilings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Literal

from gateway.members.document import (
    Group,
    Limits,
    MealPeriod,
    OfflinePolicy,
    PointsRule,
    Redemption,
)
from gateway.money import ZERO
from gateway.pricing.result import PricedBasket
from gateway.refusals import RefusalCode

Wallet = Literal["points", "subsidy", "cash"]
TenderKind = Literal["stored_value", "points"]
WALLETS: tuple[Wallet, ...] = ("points", "subsidy", "cash")
NO_POINTS = "no_points"


@dataclass(frozen=True)
class Refusal:
    """A typed "no" for the lane: `message` is a sentence a cashier can read out.

    `needs_supervisor` means a supervisor may approve and the lane may ask again with the
    supervisor's id in `LinkState.supervisor`; other refusals stand.
    """

    code: RefusalCode
    message: str
    needs_supervisor: bool = False


@dataclass(frozen=True)
class Account:
    """A member as the lane sees them now: balances are the document's plus this box's own
    unconfirmed changes, never anything else."""

    id: str
    group: Group
    name: str | None
    status: str
    status_since: date | None
    subsidy_expires: date | None
    points: int
    subsidy: Decimal
    cash: Decimal
    card_ref: str
    # True when the read matched one of the member's card keys (a card UID), False when it
    # was the store-issued member id, which is printed on receipts and can be typed by anyone.
    by_card: bool = False

    def usable_subsidy(self, day: date) -> Decimal:
        """The subsidy wallet is frozen after its last day (canteen practice)."""
        if self.subsidy_expires is not None and day > self.subsidy_expires:
            return ZERO
        return max(self.subsidy, ZERO)


@dataclass(frozen=True)
class Spending:
    """What this member already spent of stored value: `day` and `meal` at every box as far
    as this box knows (head office's figure for the day plus this box's changes it has not
    confirmed), the offline figures at this box alone; and what the member's department
    may still pay from subsidies this month (None: no budget)."""

    day: Decimal = ZERO
    meal: Decimal = ZERO
    offline_day: Decimal = ZERO
    offline_points_day: int = 0
    department_left: Decimal | None = None


@dataclass(frozen=True)
class LinkState:
    """The box's contact with head office, as the lane knows it from sync."""

    online: bool = True
    offline_for: timedelta = timedelta(0)
    unsynced_sales: int = 0
    supervisor: str | None = None


@dataclass(frozen=True)
class Debit:
    wallet: Wallet
    amount: Decimal  # positive; a whole number of points for the points wallet


@dataclass(frozen=True)
class Authorisation:
    """A tender the lane may take; turned into balance changes when the sale completes."""

    member_id: str
    tender: TenderKind
    amount: Decimal
    debits: tuple[Debit, ...]
    at: datetime
    meal: str | None
    offline: bool
    supervisor: str | None = None


def status_refusal(account_status: str, since: date | None) -> Refusal | None:
    """Blocked and lost accounts are refused before anything else is looked at."""
    when = f" on {since.isoformat()}" if since else ""
    if account_status == "lost":
        return Refusal("lost", f"card reported lost{when} — keep the card, call a supervisor")
    if account_status == "blocked":
        return Refusal(
            "blocked", f"member account blocked{when} — keep the card, call a supervisor"
        )
    return None


def meal_at(limits: Limits, at: datetime) -> MealPeriod | None:
    """The meal period whose [from, to) window holds the local time `at`, if any."""
    moment = at.time()
    for meal in limits.meals:
        if meal.start <= moment < meal.end:
            return meal
    return None


def points_earned(
    basket: PricedBasket, rule: PointsRule | None, paid_with_points: Decimal = ZERO
) -> int:
    """Points for a priced basket: lines flagged "no_points" earn nothing, nor does what
    was paid with points; every full `rule.per` gives `rule.points`, rounded down. A line
    under a points multiplier (会员日双倍积分: `PricedLine.points_multiplier`) counts that
    many times its total; what was paid with points is taken off once. A bottle's deposit
    (Pfand / 押金, `PricedLine.deposit`) earns nothing: it is given back with the empty."""
    if rule is None:
        return 0
    eligible = sum(
        (
            (line.total - line.deposit) * line.points_multiplier
            for line in basket.lines
            if NO_POINTS not in line.flags
        ),
        ZERO,
    )
    eligible -= paid_with_points
    if eligible <= 0:
        return 0
    return int(eligible // rule.per) * rule.points


def _offline_gate(
    link: LinkState, policy: OfflinePolicy, allowed: bool, what: str
) -> Refusal | None:
    """Offline, head office's policy decides; past its time or backlog a supervisor must."""
    if link.online:
        return None
    if not allowed:
        return Refusal(
            "offline_not_allowed",
            f"{what} cannot be used while the till is offline — take another payment",
        )
    if link.supervisor is not None:
        return None
    minutes = policy.max_offline_minutes
    if minutes is not None and link.offline_for > timedelta(minutes=minutes):
        return Refusal(
            "offline_too_long",
            f"offline for more than {minutes} minutes — a "
            f"supervisor must approve {what} until the link is back",
            True,
        )
    backlog = policy.max_unsynced_sales
    if backlog is not None and link.unsynced_sales >= backlog:
        return Refusal(
            "too_many_unsynced",
            f"{link.unsynced_sales} sales not yet sent to head "
            f"office — a supervisor must approve {what}",
            True,
        )
    return None


def _over(spent: Decimal, adding: Decimal, ceiling: Decimal | None) -> bool:
    return ceiling is not None and spent + adding > ceiling


def _sale_total(earlier: Sequence[Authorisation], tender: TenderKind) -> Decimal:
    return sum((a.amount for a in earlier if a.tender == tender), ZERO)


def _earlier_debit(earlier: Sequence[Authorisation], wallet: Wallet) -> Decimal:
    return sum((d.amount for a in earlier for d in a.debits if d.wallet == wallet), ZERO)


def authorise_stored_value(
    account: Account,
    amount: Decimal,
    at: datetime,
    spending: Spending,
    link: LinkState,
    policy: OfflinePolicy,
    earlier: Sequence[Authorisation] = (),
) -> Authorisation | Refusal:
    """May `amount` be paid from the subsidy then the cash wallet? Checks, in order: status,
    offline policy, group limits (transaction, meal, day), then balances."""
    refused = status_refusal(account.status, account.status_since)
    if refused:
        return refused
    in_sale = _sale_total(earlier, "stored_value")
    refused = (
        _offline_gate(link, policy, policy.stored_value, "stored value")
        or _offline_ceilings(link, policy, amount, in_sale, spending)
        or _group_limits(account.group.limits, amount, at, in_sale, spending)
    )
    if refused:
        return refused
    subsidy = max(account.usable_subsidy(at.date()) - _earlier_debit(earlier, "subsidy"), ZERO)
    capped = False
    if spending.department_left is not None:
        budget = max(spending.department_left - _earlier_debit(earlier, "subsidy"), ZERO)
        capped, subsidy = budget < subsidy, min(subsidy, budget)
    cash = max(account.cash - _earlier_debit(earlier, "cash"), ZERO)
    if subsidy + cash < amount:
        if capped:
            return Refusal(
                "department_budget",
                f"the department's subsidy budget for the month leaves {subsidy}; the "
                f"balance covers only {subsidy + cash} — take another payment for the rest",
            )
        return _insufficient(account, at, subsidy + cash)
    from_subsidy = min(amount, subsidy)
    split: tuple[tuple[Wallet, Decimal], ...] = (
        ("subsidy", from_subsidy),
        ("cash", amount - from_subsidy),
    )
    debits = tuple(Debit(wallet, part) for wallet, part in split if part > 0)
    meal = meal_at(account.group.limits, at)
    return Authorisation(
        account.id,
        "stored_value",
        amount,
        debits,
        at,
        meal.name if meal else None,
        not link.online,
        link.supervisor,
    )


def _offline_ceilings(
    link: LinkState, policy: OfflinePolicy, amount: Decimal, in_sale: Decimal, spending: Spending
) -> Refusal | None:
    if link.online:
        return None
    if _over(in_sale, amount, policy.per_transaction):
        return Refusal(
            "offline_transaction_ceiling",
            f"offline, at most "
            f"{policy.per_transaction} of stored value per sale — take another "
            "payment for the rest",
        )
    if _over(spending.offline_day + in_sale, amount, policy.per_day):
        left = max((policy.per_day or ZERO) - spending.offline_day - in_sale, ZERO)
        return Refusal(
            "offline_day_ceiling",
            f"offline, at most {policy.per_day} of stored "
            f"value per member per day ({left} left) — take another payment",
        )
    return None


def _group_limits(
    limits: Limits, amount: Decimal, at: datetime, in_sale: Decimal, spending: Spending
) -> Refusal | None:
    meal = meal_at(limits, at)
    if limits.meal_only and meal is None:
        return Refusal(
            "outside_meal_period",
            f"stored value only in meal periods, not at {at:%H:%M} — take another payment",
        )
    if _over(in_sale, amount, limits.per_transaction):
        return Refusal(
            "transaction_limit",
            f"at most {limits.per_transaction} of stored value "
            "per sale for this member — take another payment for the rest",
        )
    if meal is not None and _over(spending.meal + in_sale, amount, meal.max):
        left = max((meal.max or ZERO) - spending.meal - in_sale, ZERO)
        return Refusal(
            "meal_limit",
            f"{meal.name} limit {meal.max} reached ({left} left) — "
            "take another payment for the rest",
        )
    if _over(spending.day + in_sale, amount, limits.per_day):
        left = max((limits.per_day or ZERO) - spending.day - in_sale, ZERO)
        return Refusal(
            "day_limit",
            f"daily limit {limits.per_day} reached ({left} left) — "
            "take another payment for the rest",
        )
    return None


def _insufficient(account: Account, at: datetime, available: Decimal) -> Refusal:
    expired = (
        account.subsidy > 0
        and account.subsidy_expires is not None
        and at.date() > account.subsidy_expires
    )
    note = (
        f"; the subsidy of {account.subsidy} expired on {account.subsidy_expires.isoformat()}"
        if expired and account.subsidy_expires
        else ""
    )
    return Refusal(
        "insufficient_balance",
        f"balance covers only {available}{note} — take another payment for the rest",
    )


def points_needed(amount: Decimal, redemption: Redemption) -> Decimal | None:
    """Points that pay exactly `amount`, or None when no whole number of points does."""
    points = amount * redemption.points / redemption.value
    return Decimal(int(points)) if points == points.to_integral_value() else None


def authorise_points(
    account: Account,
    amount: Decimal,
    at: datetime,
    redemption: Redemption | None,
    spending: Spending,
    link: LinkState,
    policy: OfflinePolicy,
    earlier: Sequence[Authorisation] = (),
) -> Authorisation | Refusal:
    """May `amount` be paid with points? Checks status, the redemption rate, offline policy
    (allowed, per-sale and per-day point ceilings), then the points balance."""
    refused = status_refusal(account.status, account.status_since)
    if refused:
        return refused
    if redemption is None:
        return Refusal("no_redemption", "points cannot be used as payment in this store")
    points = points_needed(amount, redemption)
    if points is None:
        step = redemption.value / redemption.points
        return Refusal(
            "points_step",
            f"points pay in steps of {step.normalize():f} — "
            "enter an amount that is a whole number of points",
        )
    in_sale = _earlier_debit(earlier, "points")
    refused = _offline_gate(
        link, policy, policy.points_redemption, "points"
    ) or _offline_point_ceilings(link, policy, points, in_sale, spending)
    if refused:
        return refused
    if account.points - in_sale < points:
        return Refusal(
            "insufficient_points",
            f"{points} points needed, the member has "
            f"{account.points - in_sale} — take another payment",
        )
    return Authorisation(
        account.id,
        "points",
        amount,
        (Debit("points", points),),
        at,
        None,
        not link.online,
        link.supervisor,
    )


def _offline_point_ceilings(
    link: LinkState, policy: OfflinePolicy, points: Decimal, in_sale: Decimal, spending: Spending
) -> Refusal | None:
    if link.online:
        return None
    ceiling = policy.points_per_transaction
    if ceiling is not None and in_sale + points > ceiling:
        return Refusal(
            "offline_points_transaction_ceiling",
            f"offline, at most {ceiling} points per sale — take another payment",
        )
    ceiling = policy.points_per_day
    if ceiling is not None and spending.offline_points_day + in_sale + points > ceiling:
        return Refusal(
            "offline_points_day_ceiling",
            f"offline, at most {ceiling} points per member per day — take another payment",
        )
    return None
