"""The lane: one till's checkout as a state machine with a transition table.

Everything that decides what the till may do next lives in this file; what happens to the
sale in progress lives in `sale.py`, refunds in `refunds.py`, shifts and the no-sale in
`shifts.py`, paid-in and paid-out in `cash.py` (none of them imports another, or this
file; the drawer's amount rules are `drawer.py`'s).

Theory of operation. The lane is a plain object fed typed events (`events.py`). `TABLE`
says, per state, which event types are legal, which handler takes each and which states it
may lead to; an event not in the table is refused with one sentence naming why
(`WHY_NOT`). A legal event goes to its handler, which computes the next lane value WITHOUT
touching `self` or writing anything: it returns a `Step` carrying its intended writes
(`state.py`). Only when the handler succeeded does `handle` commit the step's batch in one
transaction and swap the new value in. So a refusal has written nothing (its one
exception: a PIN-attempt count, which is what makes a lockout), and an exception from the
journal leaves the lane exactly as it was. The handlers see the lane as a `LaneContext`
(the book as a read-only `LaneReader`); the lane does no I/O of its own: it is handed a
`LaneBook` (journal + lane tables), a `StaffDirectory`, a `MemberService`, the catalog and
the settings; time comes in on events.

A catalog handed over mid-sale waits: the sale in progress keeps the catalog it started
with, the new one applies from the next sale.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import TypeVar, cast

from gateway.catalog.catalog import Catalog
from gateway.journal import JournalRecord
from gateway.lane import cash, refunds, sale, shifts, topups
from gateway.lane import events as ev
from gateway.lane.book import Batch, LaneBook, LaneReader
from gateway.lane.events import Outcome, Refusal
from gateway.lane.members import MemberService, NoMembers
from gateway.lane.records import (
    LaneRef,
    OverrideBody,
)
from gateway.lane.staff import StaffDirectory
from gateway.lane.state import Acting, LaneContext, Permit, Sale, Shift, State, Step
from gateway.receipts.model import Receipt
from gateway.reports import Figures
from gateway.settings import GatewaySettings

__all__ = ["Lane", "Permit", "Shift", "State", "Step"]

E = TypeVar("E", bound=ev.Event)
Handler = Callable[[LaneContext, ev.Event], Step | Refusal]


@dataclass(frozen=True)
class Transition:
    """One cell of the table: who handles the event here, and where it may lead."""

    handler: Handler
    leads_to: tuple[State, ...]


def on(
    event: type[E], handler: Callable[[LaneContext, E], Step | Refusal], *leads_to: State
) -> tuple[type[ev.Event], Transition]:
    """A table entry; the table is keyed by the exact event type, so the handler is only
    ever called with that type."""

    def call(lane: LaneContext, given: ev.Event) -> Step | Refusal:
        return handler(lane, cast(E, given))

    return event, Transition(call, leads_to)


def _items(*leads_to: State) -> list[tuple[type[ev.Event], Transition]]:
    return [
        on(ev.Scan, sale.scan, *leads_to),
        on(ev.Plu, sale.plu, *leads_to),
        on(ev.Weighed, sale.weighed, *leads_to),
        on(ev.Pick, sale.pick, *leads_to),
        on(ev.OpenPrice, sale.open_price, *leads_to),
    ]


# state x event -> (handler, the states it may lead to): legality, next state and side
# effect read in one place, as h2's stream machine keeps them. Not listed: refused.
TABLE: dict[State, dict[type[ev.Event], Transition]] = {
    State.CLOSED: dict([on(ev.OpenShift, shifts.open_shift, State.IDLE)]),
    State.IDLE: dict(
        [
            *_items(State.IN_SALE),
            on(ev.MemberCard, sale.member, State.IN_SALE),
            on(ev.Coupon, sale.coupon, State.IN_SALE),
            on(ev.Resume, sale.resume, State.IN_SALE),
            on(ev.Refund, refunds.refund, State.IDLE),
            on(ev.ReturnWithoutReceipt, refunds.return_without_receipt, State.IDLE),
            on(ev.NoSale, shifts.no_sale, State.IDLE),
            on(ev.PaidIn, cash.paid_in, State.IDLE),
            on(ev.PaidOut, cash.paid_out, State.IDLE),
            on(ev.TopUp, topups.top_up, State.IDLE),
            on(ev.RefundTopUp, topups.refund_top_up, State.IDLE),
            on(ev.CloseShift, shifts.close_shift, State.CLOSED),
        ]
    ),
    State.IN_SALE: dict(
        [
            *_items(State.IN_SALE),
            on(ev.ChangeQuantity, sale.change_quantity, State.IN_SALE),
            on(ev.VoidLine, sale.void_line, State.IN_SALE),
            on(ev.PriceOverride, sale.price_override, State.IN_SALE),
            on(ev.BasketDiscount, sale.basket_discount, State.IN_SALE),
            on(ev.RemoveBasketDiscount, sale.remove_basket_discount, State.IN_SALE),
            on(ev.ConfirmAge, sale.confirm_age, State.IN_SALE),
            on(ev.MemberCard, sale.member, State.IN_SALE),
            on(ev.Coupon, sale.coupon, State.IN_SALE),
            on(ev.Tender, sale.tender, State.TENDERING, State.IDLE),
            on(ev.WalletPayment, sale.wallet_payment, State.TENDERING),
            on(ev.Suspend, sale.suspend, State.IDLE),
            on(ev.VoidSale, sale.void_sale, State.IDLE),
        ]
    ),
    State.TENDERING: dict(
        [
            on(ev.Tender, sale.tender, State.TENDERING, State.IDLE),
            on(ev.WalletPayment, sale.wallet_payment, State.TENDERING),
            on(ev.VoidSale, sale.void_sale, State.IDLE),
        ]
    ),
}

WHY_NOT: dict[State, str] = {
    State.CLOSED: "No shift is open: sign on with your staff card or PIN first.",
    State.IDLE: "There is no sale in progress.",
    State.IN_SALE: "A sale is in progress: finish, suspend or void it first.",
    State.TENDERING: "Payment has started: take the rest of the payment, or void the sale.",
}

ACTION_LABELS = {
    "void_line": "Voiding a line",
    "void_sale": "Voiding the sale",
    "void_after_tender": "Voiding a paid sale",
    "price_override": "A price override",
    "basket_discount": "A discount on the whole sale",
    "refund": "A refund",
    "empties_payout": "Paying out empties",
    "return_without_receipt": "A return without receipt",
    "no_sale": "Opening the drawer",
    "paid_in": "A paid-in",
    "top_up": "A top-up",
    "refund_top_up": "Refunding a top-up",
    "paid_out": "A paid-out",
    "close_shift": "Closing the shift",
    "open_shift": "Opening a shift",
    "sell": "Selling",
    "approve_offline": "A member tender while offline",
    "open_price": "Selling at an open price",
    "open_price_over_ceiling": "An open price above the department's ceiling",
    "confirm_age": "Confirming the customer's age",
}


class Lane:
    """One till. Feed it events with `handle`; it answers an `Outcome` or a `Refusal`."""

    def __init__(
        self,
        *,
        book: LaneBook,
        staff: StaffDirectory,
        catalog: Catalog,
        settings: GatewaySettings,
        members: MemberService | None = None,
        new_id: Callable[[], str] | None = None,
    ) -> None:
        self._book = book
        self.staff = staff
        self.settings = settings
        self.members: MemberService = members or NoMembers()
        self.new_id: Callable[[], str] = new_id or (lambda: uuid.uuid4().hex)
        self.catalog = catalog
        self._pending_catalog: Catalog | None = None
        self.lane_ref = LaneRef(store=settings.store.id, box=settings.store.box)
        self.state = State.CLOSED
        self.shift: Shift | None = None
        self.sale: Sale | None = None
        self.restore_notes: tuple[str, ...] = ()
        self._restore()

    @property
    def book(self) -> LaneReader:
        """The book as the handlers see it: reads and intended writes, no commit."""
        return self._book

    def _restore(self) -> None:
        """After a restart: an open shift is open again (a sale in progress is not kept)."""
        row = self._book.open_shift()
        if row is None:
            return
        member = self.staff.get(row.staff_id)
        if member is None:
            return
        language = self._book.shift_language(row.shift_id) or self.settings.screens.language
        self.shift = Shift(
            row.shift_id, member, row.business_day, row.opening_float, row.method, language
        )
        self.state = State.IDLE
        self._restore_paying()

    def _restore_paying(self) -> None:
        """A sale whose payment was under way comes back in `tendering` (money was taken)."""
        body = self._book.paying()
        if body is None:
            return
        restored = sale.restore_paying(self, body)
        if isinstance(restored, Refusal):
            parked = self._book.park_paying()
            self.restore_notes = (
                f"The sale being paid could not be restored: "
                f"{restored.message} It is kept as {parked}; tenders "
                "already taken: "
                + ", ".join(f"{t['type']} {t['amount']}" for t in body["tenders"]),
            )
            return
        self.sale, self.restore_notes = restored
        # payment had started (a tender taken, or a wallet payment asked): prices stay fixed
        self.state = State.TENDERING

    # -- the one entry point -------------------------------------------------------------

    def handle(self, event: ev.Event) -> Outcome | Refusal:
        """Decide; then, only if accepted, commit what the step intends and take its value."""
        step = self.decide(event)
        if isinstance(step, Refusal):
            if step.writes:  # PIN-attempt counts only: never a journal record
                self._book.commit(Batch(writes=list(step.writes)))
            return step
        return self.apply(step)

    def decide(self, event: ev.Event) -> Step | Refusal:
        """What `event` would do now, with the writes it intends; writes nothing. The
        handler sees the event with any card number masked (`ev.without_card_data`)."""
        event = ev.without_card_data(event)
        transition = TABLE[self.state].get(type(event))
        if transition is None:
            return Refusal("not_now", WHY_NOT[self.state])
        if event.actor is not None and self.staff.get(event.actor) is None:
            return Refusal(
                "unknown_staff",
                f"Staff number {event.actor} is not (or no longer) active here: sign in again.",
            )
        step = transition.handler(self, event)
        if isinstance(step, Refusal):
            return step
        assert step.state in transition.leads_to, f"{type(event).__name__} led to {step.state}"
        if step.state is State.TENDERING and step.shift is not None and step.sale is not None:
            step.batch.writes.append(
                self._book.save_paying(
                    step.shift.shift_id, event.at.isoformat(), sale.snapshot(step.sale)
                )
            )
        return step

    def apply(self, step: Step) -> Outcome:
        """Commit an accepted step's batch (one transaction), then swap the new value in: an
        exception from the journal leaves the lane as it was."""
        records = tuple(self._book.commit(step.batch))
        document = next((r for r in records if r.id == step.document), None)
        receipt = self.receipt_for(document) if step.prints and document is not None else None
        self.state, self.shift, self.sale = step.state, step.shift, step.sale
        if self.sale is None and self._pending_catalog is not None:
            self.catalog, self._pending_catalog = self._pending_catalog, None
        return Outcome(
            state=self.state.value,
            records=records,
            receipt=receipt,
            document=document,
            notices=step.notices,
            open_drawer=step.open_drawer,
        )

    def set_catalog(self, catalog: Catalog) -> None:
        """A new catalog applies between sales only; a sale in progress keeps its prices."""
        if self.sale is None:
            self.catalog = catalog
        else:
            self._pending_catalog = catalog

    # -- permissions ---------------------------------------------------------------------

    def acting(self, event: ev.Event) -> Acting:
        """Who does `event`: the person it names (`decide` refused one not on the staff),
        else the till's signed-on cashier, who is then the operator beside them."""
        cashier = self.shift.staff if self.shift else None
        if event.actor is None or (cashier is not None and event.actor == cashier.id):
            assert cashier is not None, "only a sign-on comes without a shift, and names no one"
            return Acting(cashier)
        person = self.staff.get(event.actor)
        assert person is not None, "decide refuses an actor who is not on the staff"
        return Acting(person, cashier)

    def permit(
        self,
        action: str,
        event: ev.Event,
        authorization: ev.Authorization | None,
        *,
        amount: Decimal | None = None,
        receipt_id: str | None = None,
    ) -> Permit | Refusal:
        """May the person doing `event` (`acting`) do `action` by their own role, or does the
        event carry a supervisor's override? Never the role of whoever else is signed on."""
        at = event.at
        acting = self.acting(event)
        lane = self.settings.lane
        if lane.allows(acting.person.role, action):
            return Permit()
        label = ACTION_LABELS.get(action, action)
        if authorization is None:
            return Refusal(
                "needs_override",
                f"{label} needs a supervisor: scan a supervisor card or enter a supervisor PIN.",
            )
        supervisor, writes = self.staff.identify_intent(authorization.credential, at)
        if isinstance(supervisor, Refusal):
            return replace(supervisor, writes=writes)
        if not lane.allows(supervisor.role, action):
            return Refusal(
                "not_permitted",
                f"{supervisor.name} may not authorise this: {label.lower()}.",
                writes=writes,
            )
        ceiling = self.staff.ceiling_of(supervisor)
        if amount is not None and amount > ceiling:
            return Refusal(
                "over_ceiling",
                f"{amount} is above {supervisor.name}'s override limit of {ceiling}.",
                writes=writes,
            )
        if not authorization.reason.strip():
            return Refusal("needs_reason", "Enter the reason for the override.", writes=writes)
        return Permit(
            OverrideBody(
                override_id=self.new_id(),
                lane=self.lane_ref,
                shift_id=self.shift.shift_id if self.shift else None,
                local_time=at.isoformat(),
                action=action,
                supervisor=supervisor.ref(),
                cashier=acting.staff,
                operator=acting.operator_ref,
                method=authorization.credential.method,
                amount=amount,
                ceiling=ceiling,
                reason=authorization.reason.strip(),
                receipt_id=receipt_id,
            ),
            writes,
        )

    def add_override(self, batch: Batch, permit: Permit, business_day: str) -> None:
        """Put what a permit intends (the supervisor's override record, PIN counts) in a batch."""
        batch.writes.extend(permit.writes)
        if permit.override is not None:
            o = permit.override
            batch.add(
                "override",
                o.to_body(),
                o.override_id,
                business_day=business_day,
                shift_id=o.shift_id,
            )

    def expected_drawer(self) -> Decimal | Refusal:
        """The cash the drawer should hold now, for a count that is not blind."""
        return shifts.expected_drawer(self)

    def x_report(self) -> Figures | Refusal:
        """The X report of the shift in progress (reads the journal, writes nothing)."""
        return shifts.x_report(self)

    def receipt_for(self, record: JournalRecord) -> Receipt:
        """The receipt of a record just committed (never before: commit, then print)."""
        from gateway.receipts.model import from_record

        store = self.settings.store
        language = self.shift.language if self.shift else self.settings.screens.language
        return from_record(
            record,
            store.header_in(language),
            store.footer_in(language),
            language=language,
            names=self.catalog,
        )

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
    ) -> Step:
        return Step(
            state,
            self.shift,
            sale_,
            batch if batch is not None else Batch(),
            document,
            prints,
            notices,
            open_drawer,
        )
