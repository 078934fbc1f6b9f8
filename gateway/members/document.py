"""The members document head office pushes: its shape (pydantic, exported as JSON Schema)
and the rules that span the whole document (references, duplicates, meal windows, decimals).

A document is accepted whole or refused whole: `parse_document` gathers *every* problem
before refusing, so head office fixes a file in one round trip. Pure: nothing here touches
the database or the clock; `gateway.members.store` applies a document that passed.
"""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from itertools import pairwise
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.errors import ProblemsError
from gateway.money import decimal_places
from gateway.validation import describe_errors

SCHEMA_ID = "storegate.members/1"
IDENTIFIER = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
CARD_HASH = r"^sha256:[0-9a-f]{64}$"
_SECRETS = ("password", "secret", "key", "salt")
CARD_KEY = r"^(sha256:[0-9a-f]{64}|[A-Za-z0-9][A-Za-z0-9_.-]{0,63})$"

Amount = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]
PositiveAmount = Annotated[Decimal, Field(gt=0, allow_inf_nan=False)]
Points = Annotated[int, Field(ge=0, strict=True)]
Status = Literal["active", "blocked", "lost"]


class MembersDocumentError(ProblemsError):
    """A members document was refused; `problems` lists every one found."""

    def __init__(self, source: str, problems: list[str]) -> None:
        super().__init__(
            source,
            problems,
            headline="members document refused, {count} (the document in force stays in force)",
            fix="correct the document and publish it again; docs/members.md describes every field",
        )


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class CardHashing(Model):
    """How card UIDs are turned into the `sha256:` keys the document lists.

    key = "sha256:" + hex(SHA-256(salt as UTF-8 + normalised UID)); a UID is normalised by
    removing spaces, colons and dashes and upper-casing it. The salt stops a stolen
    document being matched against precomputed tables; it does not make short UIDs secret.
    """

    algorithm: Literal["sha256"] = "sha256"
    salt: str = Field(min_length=16, max_length=128, pattern=r"^[0-9a-f]+$")


class MealPeriod(Model):
    """A local-time window [from, to) with its own stored-value limit per member."""

    name: str = Field(pattern=IDENTIFIER, description="e.g. breakfast, lunch, dinner")
    start: time = Field(alias="from")
    end: time = Field(alias="to")
    max: Amount | None = Field(None, description="most stored value a member spends in it")


class Limits(Model):
    """Spending limits of stored value (subsidy + cash wallets) per member of a group."""

    per_transaction: Amount | None = None
    per_day: Amount | None = None
    meals: list[MealPeriod] = Field(default_factory=list)
    meal_only: bool = Field(False, description="stored value only inside a meal period")


class PointsRule(Model):
    """Every full `per` spent on lines that earn points gives `points` (rounded down)."""

    per: PositiveAmount
    points: int = Field(1, ge=1)


class Group(Model):
    id: str = Field(pattern=IDENTIFIER)
    name: str | None = None
    member_prices: bool = Field(True, description="member prices and member-only promotions")
    points: PointsRule | None = Field(None, description="null: this group earns no points")
    limits: Limits = Field(default_factory=lambda: Limits.model_validate({}))


class Redemption(Model):
    """`points` points pay `value` (e.g. 100 points = 1.00)."""

    points: int = Field(ge=1)
    value: PositiveAmount


class Wallets(Model):
    """Balances as head office knows them when it issued the document."""

    points: Points = 0
    subsidy: Amount = Decimal(0)
    cash: Amount = Decimal(0)


class PersonalCoupon(Model):
    """A coupon a head-office campaign gave this member (`cloud campaign`): the code of a
    catalog promotion (`coupon`), redeemable by this member only and once (the box keeps
    the redemption, and the sale record that journals it), until `until` (a local day)."""

    code: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$", description="a catalog coupon code")
    campaign: str = Field(pattern=IDENTIFIER, description="the campaign that issued it")
    until: date | None = Field(None, description="last local day it can be redeemed")


class Member(Model):
    id: str = Field(pattern=IDENTIFIER, description="store-issued member id (may be printed)")
    group: str = Field(pattern=IDENTIFIER)
    name: str | None = Field(None, max_length=80)
    status: Status = "active"
    status_since: date | None = None
    cards: list[Annotated[str, Field(pattern=CARD_HASH)]] = Field(default_factory=list)
    wallets: Wallets = Field(default_factory=Wallets)
    subsidy_expires: date | None = Field(
        None, description="last local day the subsidy wallet can be spent"
    )
    coupons: list[PersonalCoupon] = Field(
        default_factory=list, description="personal coupons of campaigns, each usable once"
    )


class BlacklistEntry(Model):
    card: str = Field(pattern=CARD_KEY, description="a card hash or a store-issued member id")
    since: date | None = None
    reason: Literal["lost", "stolen", "blocked"] = "lost"


class Blacklist(Model):
    version: int = Field(ge=0, description="must increase with every new list")
    cards: list[BlacklistEntry] = Field(default_factory=list)


class OfflinePolicy(Model):
    """What one box may do while it cannot reach head office (all unconfirmed)."""

    stored_value: bool = False
    points_redemption: bool = False
    per_transaction: Amount | None = None
    per_day: Amount | None = None
    points_per_transaction: int | None = Field(None, ge=0)
    points_per_day: int | None = Field(None, ge=0)
    max_offline_minutes: int | None = Field(None, ge=0)
    max_unsynced_sales: int | None = Field(None, ge=0)


class MemberDaySpending(Model):
    """What one member spent of stored value on a day at every box, as head office knows
    it: the boxes' changes up to `included_through`."""

    total: Amount = Decimal(0)
    meals: dict[Annotated[str, Field(pattern=IDENTIFIER)], Amount] = Field(default_factory=dict)


class DaySpending(Model):
    """Stored value spent on one local day, per member, across the store's boxes: with it a
    box counts the day and meal limits over every till, not only its own (docs/members.md,
    "Limits across boxes")."""

    day: date
    members: dict[Annotated[str, Field(pattern=IDENTIFIER)], MemberDaySpending] = Field(
        default_factory=dict
    )


class Department(Model):
    """A department (cost centre) and its monthly subsidy budget: a box pays no more from
    its members' subsidy wallets in `month` than the budget leaves."""

    id: str = Field(pattern=IDENTIFIER)
    name: str | None = Field(None, max_length=80)
    month: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM of `spent`")
    budget: Amount | None = Field(None, description="subsidy budget of the month; none: no cap")
    spent: Amount = Field(Decimal(0), description="subsidy spent in `month` at every box")
    offline_allowance: Amount | None = Field(
        None,
        description="while offline, the most one box may pay from the subsidy of this "
        "department's members beyond what head office confirmed (none: no more than online)",
    )
    members: list[Annotated[str, Field(pattern=IDENTIFIER)]] = Field(default_factory=list)


class TopUpBonus(Model):
    """充100送10: a top-up of at least `from` gets `bonus` on top (the highest tier reached)."""

    from_: Amount = Field(alias="from")
    bonus: Amount


class TopUpRules(Model):
    """Top-ups (充值) of the cash wallet at the till: none without these rules."""

    min: Amount = Decimal("1")
    max: Amount | None = None
    bonus: list[TopUpBonus] = Field(default_factory=list)

    def bonus_for(self, amount: Decimal) -> Decimal:
        reached = [tier.bonus for tier in self.bonus if amount >= tier.from_]
        return max(reached, default=Decimal(0))


class MembersDocument(Model):
    schema_: Literal["storegate.members/1"] = Field(alias="schema")
    version: int = Field(ge=1, description="must increase with every publication")
    issued_at: datetime | None = None
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    decimals: int = Field(2, ge=0, le=3)
    card_hashing: CardHashing
    included_through: dict[Annotated[str, Field(pattern=IDENTIFIER)], Points] = Field(
        default_factory=dict,
        description="box id -> last journal seq of that box whose member_balance records "
        "the balances include",
    )
    redemption: Redemption | None = None
    groups: list[Group] = Field(min_length=1)
    members: list[Member] = Field(default_factory=list)
    blacklist: Blacklist = Field(default_factory=lambda: Blacklist(version=0))
    offline: OfflinePolicy = Field(default_factory=lambda: OfflinePolicy.model_validate({}))
    spending: list[DaySpending] = Field(
        default_factory=list, description="stored value spent per member and day, all boxes"
    )
    departments: list[Department] = Field(default_factory=list)
    top_up: TopUpRules | None = Field(None, description="top-ups at the till; none: refused")

    def day_spending(self, day: date, member: str) -> MemberDaySpending | None:
        """Head office's figure for `member` on `day`, or None when it sent none for it."""
        for entry in self.spending:
            if entry.day == day:
                return entry.members.get(member, MemberDaySpending())
        return None

    def personal_codes(self) -> frozenset[str]:
        """Every coupon code (upper case) some member holds as a personal coupon: such a
        code is accepted only from its holder (docs/members.md, "Personal coupons")."""
        return frozenset(c.code.upper() for m in self.members for c in m.coupons)

    def department_of(self, member: str) -> Department | None:
        return next((d for d in self.departments if member in d.members), None)


def parse_document(data: Any, source: str = "members") -> MembersDocument:
    """Validate parsed JSON into a document, or raise MembersDocumentError listing all."""
    try:
        doc = MembersDocument.model_validate(data)
    except ValidationError as exc:
        raise MembersDocumentError(source, describe_errors(exc, secret_words=_SECRETS)) from None
    problems = cross_check(doc)
    if problems:
        raise MembersDocumentError(source, problems)
    return doc


def cross_check(doc: MembersDocument) -> list[str]:
    """Rules a JSON Schema cannot say: references, duplicates, windows, decimals."""
    problems: list[str] = []
    groups = _unique([g.id for g in doc.groups], "groups", "id", problems)
    for i, group in enumerate(doc.groups):
        _check_group(group, f"groups[{i}]", doc.decimals, problems)
    _unique([m.id for m in doc.members], "members", "id", problems)
    seen_cards: dict[str, str] = {}
    for i, member in enumerate(doc.members):
        where = f"members[{i}]"
        if member.group not in groups:
            problems.append(f"{where}.group: no group {member.group!r} in groups")
        for field in ("subsidy", "cash"):
            _decimals(
                getattr(member.wallets, field), doc.decimals, f"{where}.wallets.{field}", problems
            )
        _unique([c.campaign for c in member.coupons], f"{where}.coupons", "campaign", problems)
        for card in member.cards:
            if card in seen_cards:
                problems.append(
                    f"{where}.cards: {card[:15]}… is also a card of member {seen_cards[card]!r}"
                )
            seen_cards[card] = member.id
    _unique([e.card for e in doc.blacklist.cards], "blacklist.cards", "card", problems)
    _unique([str(e.day) for e in doc.spending], "spending", "day", problems)
    _unique([d.id for d in doc.departments], "departments", "id", problems)
    members = {m.id for m in doc.members}
    placed: dict[str, str] = {}
    for i, dept in enumerate(doc.departments):
        for field in ("budget", "spent", "offline_allowance"):
            _decimals(getattr(dept, field), doc.decimals, f"departments[{i}].{field}", problems)
        for mid in dept.members:
            if doc.members and mid not in members:
                problems.append(f"departments[{i}].members: no member {mid!r} in members")
            if mid in placed:
                problems.append(
                    f"departments[{i}].members: {mid!r} is also in department {placed[mid]!r}"
                )
            placed[mid] = dept.id
    if doc.top_up is not None:
        _decimals(doc.top_up.min, doc.decimals, "top_up.min", problems)
        _decimals(doc.top_up.max, doc.decimals, "top_up.max", problems)
        for i, tier in enumerate(doc.top_up.bonus):
            _decimals(tier.from_, doc.decimals, f"top_up.bonus[{i}].from", problems)
            _decimals(tier.bonus, doc.decimals, f"top_up.bonus[{i}].bonus", problems)
        if doc.top_up.max is not None and doc.top_up.max < doc.top_up.min:
            problems.append("top_up: max is below min")
    for field in ("per_transaction", "per_day"):
        _decimals(getattr(doc.offline, field), doc.decimals, f"offline.{field}", problems)
    if doc.redemption is not None:
        _decimals(doc.redemption.value, doc.decimals, "redemption.value", problems)
    return problems


def _check_group(group: Group, where: str, places: int, problems: list[str]) -> None:
    limits = group.limits
    for field in ("per_transaction", "per_day"):
        _decimals(getattr(limits, field), places, f"{where}.limits.{field}", problems)
    if group.points is not None:
        _decimals(group.points.per, places, f"{where}.points.per", problems)
    _unique([m.name for m in limits.meals], f"{where}.limits.meals", "name", problems)
    for j, meal in enumerate(limits.meals):
        mwhere = f"{where}.limits.meals[{j}]"
        _decimals(meal.max, places, f"{mwhere}.max", problems)
        if meal.start >= meal.end:
            problems.append(
                f"{mwhere}: from {meal.start:%H:%M} is not before to "
                f"{meal.end:%H:%M} (a meal period may not cross midnight)"
            )
    ordered = sorted(limits.meals, key=lambda m: m.start)
    for first, second in pairwise(ordered):
        if second.start < first.end:
            problems.append(f"{where}.limits.meals: {first.name} and {second.name} overlap")
    if limits.meal_only and not limits.meals:
        problems.append(f"{where}.limits.meal_only: true but no meal periods are defined")


def _unique(values: list[str], where: str, field: str, problems: list[str]) -> set[str]:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            problems.append(f"{where}: {field} {value!r} appears more than once")
        seen.add(value)
    return seen


def _decimals(value: Decimal | None, places: int, where: str, problems: list[str]) -> None:
    if value is not None and decimal_places(value) > places:
        problems.append(f"{where}: {value} has more than {places} decimal places")


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the document, as shipped in gateway/schemas/members.schema.json."""
    schema = MembersDocument.model_json_schema(by_alias=True, mode="validation")
    schema["$id"] = "https://storegate.example/schemas/members-1.json"
    schema["title"] = "storegate members document"
    return schema
