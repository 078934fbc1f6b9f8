"""The lane: one till's checkout as a state machine with a transition table.

Everything that decides what the till may do next lives in this file; what happens to the
sale in progress lives in `sale.py`, refunds in `refunds.py`.

Theory of operation. The lane is a plain object fed typed events (`events.py`). `TABLE`
says, per state, which event types are legal and which states they may lead to; an event
not in the table is refused with one sentence naming why (`WHY_NOT`). A legal event goes to
its handler, which computes the next lane value WITHOUT touching `self` or writing anything:
it returns a `Step` carrying its intended writes (`state.py`). Only when the handler
succeeded does `handle` commit the step's batch in one transaction and swap the new value
in. So a refusal has written nothing (its one exception: a PIN-attempt count, which is what
makes a lockout), and an exception from the journal leaves the lane exactly as it was. The
handlers see the lane as a `LaneContext` (the book as a read-only `LaneReader`); the lane
does no I/O of its own: it is handed a `LaneBook` (journal + lane tables), a
`StaffDirectory`, a `MemberService`, the catalog and the settings; time comes in on events.

A catalog handed over mid-sale waits: the sale in progress keeps the catalog it started
with, the new one applies from the next sale.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from gateway.catalog.catalog import Catalog
from gateway.journal import JournalRecord
from gateway.lane import events as ev
from gateway.lane import refunds, sale
from gateway.lane.book import Batch, LaneBook, LaneReader, OpenShiftRow
from gateway.lane.events import Outcome, Refusal
from gateway.lane.members import MemberService, NoMembers
from gateway.lane.records import (
    LaneRef,
    NoSaleBody,
    OverrideBody,
    ShiftCloseBody,
    ShiftOpenBody,
)
from gateway.lane.staff import StaffDirectory
from gateway.lane.state import Permit, Sale, Shift, State, Step, sale_override_ref
from gateway.receipts.model import Receipt
from gateway.reports import Figures, x_report
from gateway.settings import GatewaySettings

__all__ = ["Lane", "Permit", "Shift", "State", "Step"]

ITEM_EVENTS = (ev.Scan, ev.Plu, ev.Weighed)
TABLE: dict[State, dict[type[ev.Event], tuple[State, ...]]] = {
    State.CLOSED: {ev.OpenShift: (State.IDLE,)},
    State.IDLE: {
        **dict.fromkeys(ITEM_EVENTS, (State.IN_SALE,)),
        ev.MemberCard: (State.IN_SALE,),
        ev.Coupon: (State.IN_SALE,),
        ev.Resume: (State.IN_SALE,),
        ev.Refund: (State.IDLE,),
        ev.ReturnWithoutReceipt: (State.IDLE,),
        ev.NoSale: (State.IDLE,),
        ev.CloseShift: (State.CLOSED,),
    },
    State.IN_SALE: {
        **dict.fromkeys(ITEM_EVENTS, (State.IN_SALE,)),
        ev.ChangeQuantity: (State.IN_SALE,),
        ev.VoidLine: (State.IN_SALE,),
        ev.PriceOverride: (State.IN_SALE,),
        ev.MemberCard: (State.IN_SALE,),
        ev.Coupon: (State.IN_SALE,),
        ev.Tender: (State.TENDERING, State.IDLE),
        ev.Suspend: (State.IDLE,),
        ev.VoidSale: (State.IDLE,),
    },
    State.TENDERING: {
        ev.Tender: (State.TENDERING, State.IDLE),
        ev.VoidSale: (State.IDLE,),
    },
}

WHY_NOT: dict[State, str] = {
    State.CLOSED: "No shift is open: sign on with your staff card or PIN first.",
    State.IDLE: "There is no sale in progress.",
    State.IN_SALE: "A sale is in progress: finish, suspend or void it first.",
    State.TENDERING: "Payment has started: take the rest of the payment, or void the sale.",
}

ACTION_LABELS = {
    "void_line": "Voiding a line", "void_sale": "Voiding the sale",
    "void_after_tender": "Voiding a paid sale", "price_override": "A price override",
    "refund": "A refund", "return_without_receipt": "A return without receipt",
    "no_sale": "Opening the drawer", "close_shift": "Closing the shift",
    "open_shift": "Opening a shift", "sell": "Selling",
    "approve_offline": "A member tender while offline",
}


class Lane:
    """One till. Feed it events with `handle`; it answers an `Outcome` or a `Refusal`."""

    def __init__(self, *, book: LaneBook, staff: StaffDirectory, catalog: Catalog,
                 settings: GatewaySettings, members: MemberService | None = None,
                 new_id: Callable[[], str] | None = None) -> None:
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
        self.shift = Shift(row.shift_id, member, row.business_day, row.opening_float, row.method)
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
            self.restore_notes = (f"The sale being paid could not be restored: "
                                  f"{restored.message} It is kept as {parked}; tenders "
                                  "already taken: " + ", ".join(
                                      f"{t['type']} {t['amount']}" for t in body["tenders"]),)
            return
        self.sale, self.restore_notes = restored
        self.state = State.TENDERING if self.sale.tenders else State.IN_SALE

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
        """What `event` would do now, with the writes it intends; writes nothing."""
        allowed = TABLE[self.state].get(type(event))
        if allowed is None:
            return Refusal("not_now", WHY_NOT[self.state])
        step = self._dispatch(event)
        if isinstance(step, Refusal):
            return step
        assert step.state in allowed, f"{type(event).__name__} led to {step.state}"
        if step.state is State.TENDERING and step.shift is not None and step.sale is not None:
            step.batch.writes.append(self._book.save_paying(
                step.shift.shift_id, event.at.isoformat(), sale.snapshot(step.sale)))
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
        return Outcome(state=self.state.value, records=records, receipt=receipt,
                       document=document, notices=step.notices, open_drawer=step.open_drawer)

    def set_catalog(self, catalog: Catalog) -> None:
        """A new catalog applies between sales only; a sale in progress keeps its prices."""
        if self.sale is None:
            self.catalog = catalog
        else:
            self._pending_catalog = catalog

    def _dispatch(self, event: ev.Event) -> Step | Refusal:
        match event:
            case ev.OpenShift():
                return self._open_shift(event)
            case ev.CloseShift():
                return self._close_shift(event)
            case ev.NoSale():
                return self._no_sale(event)
            case ev.Refund():
                return refunds.refund(self, event)
            case ev.ReturnWithoutReceipt():
                return refunds.return_without_receipt(self, event)
        return sale.handle(self, event)

    # -- permissions ---------------------------------------------------------------------

    def permit(self, action: str, at: datetime, authorization: ev.Authorization | None, *,
               amount: Decimal | None = None,
               receipt_id: str | None = None) -> Permit | Refusal:
        """May the signed-on cashier do `action`, or does this event carry an override?"""
        actor = self.shift.staff if self.shift else None
        lane = self.settings.lane
        if actor is not None and lane.allows(actor.role, action):
            return Permit()
        label = ACTION_LABELS.get(action, action)
        if authorization is None:
            return Refusal("needs_override", f"{label} needs a supervisor: scan a supervisor "
                           "card or enter a supervisor PIN.")
        supervisor, writes = self.staff.identify_intent(authorization.credential, at)
        if isinstance(supervisor, Refusal):
            return replace(supervisor, writes=writes)
        if not lane.allows(supervisor.role, action):
            return Refusal("not_permitted", f"{supervisor.name} may not authorise this: "
                           f"{label.lower()}.", writes=writes)
        ceiling = self.staff.ceiling_of(supervisor)
        if amount is not None and amount > ceiling:
            return Refusal("over_ceiling", f"{amount} is above {supervisor.name}'s override "
                           f"limit of {ceiling}.", writes=writes)
        if not authorization.reason.strip():
            return Refusal("needs_reason", "Enter the reason for the override.", writes=writes)
        return Permit(OverrideBody(
            override_id=self.new_id(), lane=self.lane_ref,
            shift_id=self.shift.shift_id if self.shift else None, local_time=at.isoformat(),
            action=action, supervisor=supervisor.ref(),
            cashier=actor.ref() if actor else None, method=authorization.credential.method,
            amount=amount, ceiling=ceiling, reason=authorization.reason.strip(),
            receipt_id=receipt_id), writes)

    def add_override(self, batch: Batch, permit: Permit, business_day: str) -> None:
        """Put what a permit intends (the supervisor's override record, PIN counts) in a batch."""
        batch.writes.extend(permit.writes)
        if permit.override is not None:
            o = permit.override
            batch.add("override", o.to_body(), o.override_id, business_day=business_day,
                      shift_id=o.shift_id)

    # -- shift open / close, no-sale -----------------------------------------------------

    def _open_shift(self, event: ev.OpenShift) -> Step | Refusal:
        who, writes = self.staff.identify_intent(event.credential, event.at)
        if isinstance(who, Refusal):
            return replace(who, writes=writes)
        if not self.settings.lane.allows(who.role, "open_shift"):
            return Refusal("not_permitted", f"{who.name} ({who.role}) may not open a shift.",
                           writes=writes)
        number = self._book.next_number("shift")
        shift_id = f"{self.lane_ref.box}-S{number:05d}"
        day = event.at.date().isoformat()
        opening = event.opening_float
        if opening is None and self.settings.lane.carry_over_drawer:
            opening = self._book.last_count()
        if opening is None:
            opening = self.settings.lane.opening_float
        if opening < 0:
            return Refusal("bad_float", "The opening float cannot be negative.", writes=writes)
        body = ShiftOpenBody(shift_id=shift_id, lane=self.lane_ref, business_day=day,
                             local_time=event.at.isoformat(), staff=who.ref(),
                             method=event.credential.method, opening_float=opening)
        batch = Batch(writes=list(writes))
        batch.add("shift_open", body.to_body(), self.new_id(), business_day=day,
                  shift_id=shift_id)
        row = OpenShiftRow(shift_id, who.id, event.credential.method, event.at.isoformat(),
                           day, opening)
        batch.writes += [self._book.take_number("shift", number), self._book.record_shift(row)]
        shift = Shift(shift_id, who, day, opening, event.credential.method)
        return Step(State.IDLE, shift, None, batch,
                    notices=(f"Shift {shift_id} open for {who.name}.",))

    def _close_shift(self, event: ev.CloseShift) -> Step | Refusal:
        assert self.shift is not None
        if event.counted < 0:
            return Refusal("bad_count", "The counted cash cannot be negative.")
        permit = self.permit("close_shift", event.at, event.authorization)
        if isinstance(permit, Refusal):
            return permit
        cash_in, cash_out, sales, refunds_ = self._shift_cash(self.shift.shift_id)
        expected = self.shift.opening_float + cash_in - cash_out
        day = self.shift.business_day
        body = ShiftCloseBody(
            shift_id=self.shift.shift_id, lane=self.lane_ref, business_day=day,
            local_time=event.at.isoformat(), staff=self.shift.staff.ref(),
            blind=self.settings.lane.blind_count if event.blind is None else event.blind,
            opening_float=self.shift.opening_float, cash_sales=cash_in, cash_refunds=cash_out,
            expected=expected, counted=event.counted, over_short=event.counted - expected,
            sales=sales, refunds=refunds_)
        batch = Batch()
        self.add_override(batch, permit, day)
        batch.add("shift_close", body.to_body(), self.new_id(), business_day=day,
                  shift_id=self.shift.shift_id)
        batch.writes.append(self._book.close_shift(self.shift.shift_id))
        word = "over" if body.over_short > 0 else "short" if body.over_short < 0 else "even"
        return Step(State.CLOSED, None, None, batch,
                    notices=(f"Drawer {word}: {body.over_short} (expected {expected}, "
                             f"counted {event.counted}).",))

    def expected_drawer(self) -> Decimal | Refusal:
        """The cash the drawer should hold now, for a count that is not blind."""
        if self.shift is None:
            return Refusal("no_shift", WHY_NOT[State.CLOSED])
        if self.settings.lane.blind_count:
            return Refusal("blind_count", "Counts are blind here: count the drawer first.")
        cash_in, cash_out, _, _ = self._shift_cash(self.shift.shift_id)
        expected: Decimal = Decimal(self.shift.opening_float) + cash_in - cash_out
        return expected

    def x_report(self) -> Figures | Refusal:
        """The X report of the shift in progress (reads the journal, writes nothing)."""
        if self.shift is None:
            return Refusal("no_shift", WHY_NOT[State.CLOSED])
        return x_report(self._book, self.shift.shift_id)

    def _shift_cash(self, shift_id: str) -> tuple[Decimal, Decimal, int, int]:
        """Cash taken and paid back in a shift, from the X report of that shift."""
        figures = x_report(self._book, shift_id)
        return figures.cash_sales, figures.cash_refunds, figures.sales, figures.refunds

    def _no_sale(self, event: ev.NoSale) -> Step | Refusal:
        assert self.shift is not None
        if not event.reason.strip():
            return Refusal("needs_reason", "Enter why the drawer is opened.")
        permit = self.permit("no_sale", event.at, event.authorization)
        if isinstance(permit, Refusal):
            return permit
        day = event.at.date().isoformat()
        body = NoSaleBody(lane=self.lane_ref, shift_id=self.shift.shift_id, business_day=day,
                          local_time=event.at.isoformat(), staff=self.shift.staff.ref(),
                          reason=event.reason.strip(),
                          override=sale_override_ref(permit.override))
        batch = Batch()
        self.add_override(batch, permit, day)
        batch.add("no_sale", body.to_body(), self.new_id(), business_day=day,
                  shift_id=self.shift.shift_id)
        return Step(State.IDLE, self.shift, None, batch, notices=("Drawer open.",),
                    open_drawer=True)

    def receipt_for(self, record: JournalRecord) -> Receipt:
        """The receipt of a record just committed (never before: commit, then print)."""
        from gateway.receipts.model import from_record
        store = self.settings.store
        return from_record(record, store.header, store.footer)

    def with_sale(self, state: State, sale_: Sale | None, *, batch: Batch | None = None,
                  document: str | None = None, prints: bool = False,
                  notices: tuple[str, ...] = (), open_drawer: bool = False) -> Step:
        return Step(state, self.shift, sale_, batch if batch is not None else Batch(),
                    document, prints, notices, open_drawer)
