"""Cash in and out of the drawer that is not a sale or a refund: the paid-in and paid-out.

Like every handler, each takes the lane read-only (`LaneContext`) and returns a `Step`
with its intended writes (the `paid_in` / `paid_out` record, a supervisor's override) or a
`Refusal` that writes nothing. The drawer's amount rules are `gateway.lane.drawer`'s; what
the drawer holds now is the shift's X (`Figures.expected_with` the shift's float).

Order of the checks: what needs no one's credential first (the amount, the reason, the
drawer holding enough), then the permission (`lane.paid_in` / `lane.paid_out` roles, or a
supervisor's override up to their ceiling), so a wrong amount never costs a PIN attempt.
"""

from __future__ import annotations

from decimal import Decimal

from gateway import reports
from gateway.lane import drawer
from gateway.lane import events as ev
from gateway.lane.book import Batch
from gateway.lane.events import Refusal
from gateway.lane.records import CashMovementBody, PaidInBody, PaidOutBody
from gateway.lane.state import LaneContext, Step, sale_override_ref, shift_document


def paid_in(lane: LaneContext, event: ev.PaidIn) -> Step | Refusal:
    return _movement(lane, event, "paid_in")


def paid_out(lane: LaneContext, event: ev.PaidOut) -> Step | Refusal:
    return _movement(lane, event, "paid_out")


def _movement(lane: LaneContext, event: ev.PaidIn | ev.PaidOut, kind: str) -> Step | Refusal:
    assert lane.shift is not None
    word = "paid in" if kind == "paid_in" else "paid out"
    places = lane.catalog.places
    problem = drawer.amount_problem(event.amount, places, f"The amount {word}")
    if problem is not None:
        return Refusal("bad_amount", problem)
    reason = event.reason.strip()
    if not reason:
        return Refusal("needs_reason", f"Enter why cash is {word}.")
    amount = event.amount.quantize(Decimal(1).scaleb(-places))
    if kind == "paid_out":
        figures = reports.x_report(lane.book, lane.shift.shift_id)
        holds = figures.expected_with(lane.shift.opening_float)
        if amount > holds:  # a paid-out cannot take the drawer below zero
            return Refusal(
                "drawer_short",
                f"The drawer should hold {holds}: {amount} cannot be paid out of it.",
            )
    acting = lane.acting(event)
    permit = lane.permit(kind, event, event.authorization, amount=amount)
    if isinstance(permit, Refusal):
        return permit
    day = event.at.date().isoformat()
    movement_id = lane.new_id()
    model: type[CashMovementBody] = PaidInBody if kind == "paid_in" else PaidOutBody
    body = model(
        **shift_document(lane, acting, event.at),
        movement_id=movement_id,
        amount=amount,
        reason=reason,
        override=sale_override_ref(permit.override),
    )
    batch = Batch()
    lane.add_override(batch, permit, day)
    batch.add(kind, body.to_body(), movement_id, business_day=day, shift_id=lane.shift.shift_id)
    return Step(
        lane.state,
        lane.shift,
        None,
        batch,
        document=movement_id,
        prints=True,
        notices=(f"{word.capitalize()}: {amount}.",),
        open_drawer=True,
    )
