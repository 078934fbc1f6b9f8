"""Opening and closing a shift, and the no-sale: the lane's handlers that are not a sale.

Like every handler, each takes the lane read-only (`LaneContext`) and returns a `Step` with
its intended writes or a `Refusal`; the cash figures come from the X report of the shift.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from gateway import reports
from gateway.i18n import LANGUAGES
from gateway.lane import drawer
from gateway.lane import events as ev
from gateway.lane.book import Batch, OpenShiftRow
from gateway.lane.events import Refusal
from gateway.lane.records import DenominationCount, NoSaleBody, ShiftCloseBody, ShiftOpenBody
from gateway.lane.state import LaneContext, Shift, State, Step, sale_override_ref
from gateway.money import decimal_places

NO_SHIFT = "No shift is open: sign on with your staff card or PIN first."


def open_shift(lane: LaneContext, event: ev.OpenShift) -> Step | Refusal:
    who, writes = lane.staff.identify_intent(event.credential, event.at)
    if isinstance(who, Refusal):
        return replace(who, writes=writes)
    if not lane.settings.lane.allows(who.role, "open_shift"):
        return Refusal(
            "not_permitted", f"{who.name} ({who.role}) may not open a shift.", writes=writes
        )
    number = lane.book.next_number("shift")
    shift_id = f"{lane.lane_ref.box}-S{number:05d}"
    day = event.at.date().isoformat()
    opening = event.opening_float
    if opening is None and lane.settings.lane.carry_over_drawer:
        opening = lane.book.last_count()
    if opening is None:
        opening = lane.settings.lane.opening_float
    if opening < 0:
        return Refusal("bad_float", "The opening float cannot be negative.", writes=writes)
    own = event.language or lane.settings.screens.staff_languages.get(who.id)
    language = own or lane.settings.screens.language
    if language not in LANGUAGES:  # journalled when chosen or the staff's own, else left out
        known = ", ".join(LANGUAGES)
        return Refusal(
            "bad_language", f"No language {language!r} here: choose {known}.", writes=writes
        )
    body = ShiftOpenBody(
        shift_id=shift_id,
        lane=lane.lane_ref,
        business_day=day,
        local_time=event.at.isoformat(),
        staff=who.ref(),
        method=event.credential.method,
        opening_float=opening,
        language=own,
    )
    batch = Batch(writes=list(writes))
    batch.add("shift_open", body.to_body(), lane.new_id(), business_day=day, shift_id=shift_id)
    row = OpenShiftRow(
        shift_id, who.id, event.credential.method, event.at.isoformat(), day, opening
    )
    batch.writes += [lane.book.take_number("shift", number), lane.book.record_shift(row)]
    shift = Shift(shift_id, who, day, opening, event.credential.method, language)
    return Step(State.IDLE, shift, None, batch, notices=(f"Shift {shift_id} open for {who.name}.",))


def close_shift(lane: LaneContext, event: ev.CloseShift) -> Step | Refusal:
    assert lane.shift is not None
    if event.counted < 0:
        return Refusal("bad_count", "The counted cash cannot be negative.")
    places = lane.catalog.places
    if decimal_places(event.counted) > places:
        return Refusal(
            "bad_count", f"The counted cash {event.counted} has more than {places} decimals."
        )
    cent = Decimal(1).scaleb(-places)
    counted = event.counted.quantize(cent)  # kept to the currency's decimals
    counts = _denominations(lane, event, cent)
    if isinstance(counts, Refusal):
        return counts
    acting = lane.acting(event)
    permit = lane.permit("close_shift", event, event.authorization)
    if isinstance(permit, Refusal):
        return permit
    figures = reports.x_report(lane.book, lane.shift.shift_id)
    cash_in, cash_out = figures.cash_sales, figures.cash_refunds
    expected = figures.expected_with(lane.shift.opening_float)
    day = lane.shift.business_day
    body = ShiftCloseBody(
        shift_id=lane.shift.shift_id,
        lane=lane.lane_ref,
        business_day=day,
        local_time=event.at.isoformat(),
        staff=acting.staff,
        operator=acting.operator_ref,
        blind=lane.settings.lane.blind_count if event.blind is None else event.blind,
        opening_float=lane.shift.opening_float,
        cash_sales=cash_in,
        cash_refunds=cash_out,
        expected=expected,
        counted=counted,
        over_short=drawer.over_short(counted, expected),
        sales=figures.sales,
        refunds=figures.refunds,
        paid_in=figures.paid_in,
        paid_out=figures.paid_out,
        denominations=counts or None,
    )
    batch = Batch()
    lane.add_override(batch, permit, day)
    batch.add(
        "shift_close", body.to_body(), lane.new_id(), business_day=day, shift_id=lane.shift.shift_id
    )
    batch.writes.append(lane.book.close_shift(lane.shift.shift_id))
    word = "over" if body.over_short > 0 else "short" if body.over_short < 0 else "even"
    return Step(
        State.CLOSED,
        None,
        None,
        batch,
        notices=(f"Drawer {word}: {body.over_short} (expected {expected}, counted {counted}).",),
    )


def _denominations(
    lane: LaneContext, event: ev.CloseShift, cent: Decimal
) -> list[DenominationCount] | Refusal:
    """The count per note and coin, when given: each one of the currency's, its sum the
    counted cash (`drawer.count_total`)."""
    if not event.denominations:
        return []
    currency = lane.catalog.money.currency
    try:
        total = drawer.count_total(currency, event.denominations)
    except drawer.CountError as exc:
        return Refusal("bad_denomination", f"{exc}.")
    if total != event.counted:
        return Refusal(
            "count_mismatch",
            f"The notes and coins counted add up to {total}, not {event.counted}: count again.",
        )
    return [
        DenominationCount(value=value, pieces=pieces, amount=(value * pieces).quantize(cent))
        for value, pieces in event.denominations
        if pieces
    ]


def expected_drawer(lane: LaneContext) -> Decimal | Refusal:
    """The cash the drawer should hold now, for a count that is not blind."""
    if lane.shift is None:
        return Refusal("no_shift", NO_SHIFT)
    if lane.settings.lane.blind_count:
        return Refusal("blind_count", "Counts are blind here: count the drawer first.")
    figures = reports.x_report(lane.book, lane.shift.shift_id)
    return figures.expected_with(lane.shift.opening_float)


def x_report(lane: LaneContext) -> reports.Figures | Refusal:
    """The X report of the shift in progress (reads the journal, writes nothing)."""
    if lane.shift is None:
        return Refusal("no_shift", NO_SHIFT)
    return reports.x_report(lane.book, lane.shift.shift_id)


def no_sale(lane: LaneContext, event: ev.NoSale) -> Step | Refusal:
    assert lane.shift is not None
    if not event.reason.strip():
        return Refusal("needs_reason", "Enter why the drawer is opened.")
    acting = lane.acting(event)
    permit = lane.permit("no_sale", event, event.authorization)
    if isinstance(permit, Refusal):
        return permit
    day = event.at.date().isoformat()
    body = NoSaleBody(
        lane=lane.lane_ref,
        shift_id=lane.shift.shift_id,
        business_day=day,
        local_time=event.at.isoformat(),
        staff=acting.staff,
        operator=acting.operator_ref,
        reason=event.reason.strip(),
        override=sale_override_ref(permit.override),
    )
    batch = Batch()
    lane.add_override(batch, permit, day)
    batch.add(
        "no_sale", body.to_body(), lane.new_id(), business_day=day, shift_id=lane.shift.shift_id
    )
    return Step(State.IDLE, lane.shift, None, batch, notices=("Drawer open.",), open_drawer=True)
