"""The lane's values: its states, the shift, the sale in progress, and a step's result.

Shared by the transition table (`machine`) and the handlers (`sale`, `refunds`) without
either importing the other: handlers see the lane only through `LaneContext`, a read-only
face (the book as a `LaneReader`, which cannot commit). A handler returns a `Step` that
*carries* its intended writes (`Step.batch`: journal records, index rows, numbers taken,
PIN-attempt counts, a suspension) and the document it produced; `Lane.handle` commits that
batch only after the handler succeeded and the table allowed the next state. So a
refusal has written nothing (issue 12: an override the lane then refused was journalled).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from gateway.catalog.catalog import Catalog
from gateway.lane import events as ev
from gateway.lane.book import Also, Batch, LaneReader
from gateway.lane.events import Refusal
from gateway.lane.members import MemberAccount, MemberService
from gateway.lane.records import (
    AgeCheck,
    BasketDiscountRef,
    LaneRef,
    OpenPriceRef,
    OverrideBody,
    OverrideRef,
    SaleLine,
    StaffRef,
)
from gateway.lane.records import Tender as TenderRecord
from gateway.lane.staff import StaffDirectory, StaffMember
from gateway.money import ZERO
from gateway.pricing import BasketLine, PricedBasket
from gateway.pricing.incremental import PricingMemo
from gateway.settings import GatewaySettings


class State(StrEnum):
    CLOSED = "closed"  # no shift open: only a sign-on is accepted
    IDLE = "idle"  # shift open, no sale in progress
    IN_SALE = "in_sale"  # lines being rung up
    TENDERING = "tendering"  # part paid: only more tender, or a void with a supervisor


@dataclass(frozen=True)
class Shift:
    shift_id: str
    staff: StaffMember
    business_day: str
    opening_float: Decimal
    method: str
    language: str = "en"  # the cashier's, chosen at sign-on: their screens and receipts


@dataclass(frozen=True)
class Sale:
    """The basket being rung up, and what has been paid toward it.

    `pricing` is what the last pricing of this sale worked out (a read-only value), handed
    to the next one so a scan prices only what it changed (`gateway.pricing.price_scan`)."""

    started: datetime
    catalog: Catalog
    lines: tuple[BasketLine, ...] = ()
    priced: PricedBasket | None = None
    member: MemberAccount | None = None
    coupons: tuple[str, ...] = ()
    tenders: tuple[TenderRecord, ...] = ()
    voided: tuple[SaleLine, ...] = ()
    overrides: tuple[OverrideRef, ...] = ()
    line_overrides: tuple[tuple[int, str], ...] = ()
    resumed_from: str | None = None
    authorisations: tuple[object, ...] = ()
    priced_at: datetime | None = None
    line_open_prices: tuple[tuple[int, OpenPriceRef], ...] = ()  # line index -> who keyed
    age_check: AgeCheck | None = None
    discount: BasketDiscountRef | None = None  # 整单折扣, as entered (its `discount` unset)
    pricing: PricingMemo | None = field(default=None, compare=False, repr=False)

    @property
    def paid(self) -> Decimal:
        return sum((t.amount for t in self.tenders), ZERO)

    @property
    def age_restricted(self) -> bool:
        """A line of the sale is an age-restricted product (or department)."""
        for line in self.lines:
            product = self.catalog.by_sku(line.sku)
            if product is not None and "age_restricted" in product.flags:
                return True
        return False

    @property
    def needs_age_check(self) -> bool:
        """Age-restricted items are on the sale and nobody confirmed the customer's age
        yet (whether the lane asks at all is the `lane.age_check` setting)."""
        return self.age_check is None and self.age_restricted


@dataclass(frozen=True)
class Acting:
    """Who does an event: `person`, the authenticated one (the event's `actor`, else the
    till's signed-on cashier), and `operator`, that cashier when it is someone else.
    Permissions are checked against `person`'s role; records name both."""

    person: StaffMember
    operator: StaffMember | None = None

    @property
    def staff(self) -> StaffRef:
        """The record's `staff`: who did it."""
        return self.person.ref()

    @property
    def operator_ref(self) -> StaffRef | None:
        """The record's `operator`: the till's cashier, only when someone else did it."""
        return self.operator.ref() if self.operator is not None else None


@dataclass(frozen=True)
class Permit:
    """A permission check passed; `override` is the supervisor's record, when one was needed,
    and `writes` what identifying the supervisor changes (a PIN-attempt count reset)."""

    override: OverrideBody | None = None
    writes: tuple[Also, ...] = ()


@dataclass(frozen=True)
class Step:
    """A handler's result: the lane's next value and what it intends to write.

    `batch` is committed in one transaction after the step was accepted; `document` is the
    id of the record in it that the receipt is the slip of (`prints`: make a receipt)."""

    state: State
    shift: Shift | None
    sale: Sale | None
    batch: Batch = field(default_factory=Batch)
    document: str | None = None
    prints: bool = False
    notices: tuple[str, ...] = ()
    open_drawer: bool = False


class LaneContext(Protocol):
    """What a handler may read of the lane (and the helpers it may call); nothing writes."""

    @property
    def book(self) -> LaneReader: ...
    @property
    def staff(self) -> StaffDirectory: ...
    @property
    def settings(self) -> GatewaySettings: ...
    @property
    def members(self) -> MemberService: ...
    @property
    def catalog(self) -> Catalog: ...
    @property
    def lane_ref(self) -> LaneRef: ...
    @property
    def new_id(self) -> Callable[[], str]: ...
    @property
    def state(self) -> State: ...
    @property
    def shift(self) -> Shift | None: ...
    @property
    def sale(self) -> Sale | None: ...

    def acting(self, event: ev.Event) -> Acting: ...

    def permit(
        self,
        action: str,
        event: ev.Event,
        authorization: ev.Authorization | None,
        *,
        amount: Decimal | None = None,
        receipt_id: str | None = None,
    ) -> Permit | Refusal: ...

    def add_override(self, batch: Batch, permit: Permit, business_day: str) -> None: ...

    def with_sale(
        self,
        state: State,
        sale_: Sale | None,
        *,
        batch: Batch | None = None,
        document: str | None = None,
        prints: bool = False,
        notices: tuple[str, ...] = (),
        open_drawer: bool = False,
    ) -> Step: ...


def shift_document(lane: LaneContext, acting: Acting, at: datetime) -> dict[str, object]:
    """The first fields of a shift's document that is not a sale (`ShiftDocument`): where,
    the shift and its day, when, who, in which currency."""
    assert lane.shift is not None
    return {
        "lane": lane.lane_ref,
        "shift_id": lane.shift.shift_id,
        "business_day": at.date().isoformat(),
        "local_time": at.isoformat(),
        "staff": acting.staff,
        "operator": acting.operator_ref,
        "currency": lane.catalog.money.currency,
        "places": lane.catalog.places,
    }


def sale_override_ref(override: OverrideBody | None) -> OverrideRef | None:
    """The short reference to an override that the authorised record carries."""
    if override is None:
        return None
    return OverrideRef(
        id=override.override_id,
        action=override.action,
        supervisor=override.supervisor,
        reason=override.reason,
    )
