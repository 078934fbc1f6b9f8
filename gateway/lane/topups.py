"""Top-ups (充值) of a member's cash wallet at the till, and their refunds.

Like every handler, each takes the lane read-only (`LaneContext`) and returns a `Step` with
its intended writes or a `Refusal` that writes nothing. A top-up is one `top_up` record and
the wallet's `member_balance` change (the amount and the store's bonus, `充100送10`, from
the members document's `top_up` rules), committed together; paid in cash it goes into the
drawer (the X/Z's `top_up` figure), by card it carries the terminal's reference. A refund
of a top-up (`top_up_refund`, permission `refund_top_up`: a supervisor) pays the amount
back by the same tender and takes the amount and its bonus off the wallet — refused once
the wallet no longer holds them, and refused a second time for the same top-up.

Order of the checks: the amount and the tender, then the card (the members room), then
the permission, so a wrong amount never costs a PIN attempt.
"""

from __future__ import annotations

from decimal import Decimal

from gateway import reports
from gateway.lane import drawer
from gateway.lane import events as ev
from gateway.lane.book import Batch
from gateway.lane.events import Refusal
from gateway.lane.members import MemberAccount, TopUpPosting
from gateway.lane.records import TopUpBody, TopUpRefundBody
from gateway.lane.state import LaneContext, Step, sale_override_ref, shift_document

KIND = "top_up"
REFUND_KIND = "top_up_refund"


def top_up(lane: LaneContext, event: ev.TopUp) -> Step | Refusal:
    assert lane.shift is not None
    places = lane.catalog.places
    problem = drawer.amount_problem(event.amount, places, "A top-up")
    if problem is not None:
        return Refusal("bad_amount", problem)
    reference = (event.reference or "").strip() or None
    if event.tender == "card" and reference is None:
        return Refusal("needs_reference", "Enter the card terminal's reference of the top-up.")
    account = lane.members.identify(event.card, event.at)
    if isinstance(account, Refusal):
        return account
    amount = event.amount.quantize(Decimal(1).scaleb(-places))
    acting = lane.acting(event)
    permit = lane.permit("top_up", event, event.authorization, amount=amount)
    if isinstance(permit, Refusal):
        return permit
    number = lane.book.next_number("top_up")
    top_up_id = f"{lane.lane_ref.box}-T{number:06d}"
    posting = lane.members.top_up(account, amount, event.at, top_up_id)
    if isinstance(posting, Refusal):
        return posting
    day = event.at.date().isoformat()
    body = TopUpBody(
        **shift_document(lane, acting, event.at),
        top_up_id=top_up_id,
        member=account.id,
        amount=amount,
        bonus=posting.bonus,
        tender=event.tender,
        reference=reference,
        balance=posting.balance,
        override=sale_override_ref(permit.override),
    )
    batch = Batch()
    lane.add_override(batch, permit, day)
    batch.add(
        KIND,
        body.to_body(),
        top_up_id,
        business_day=day,
        shift_id=lane.shift.shift_id,
        receipt_id=top_up_id,
    )
    _member_entries(batch, posting)
    batch.writes.append(lane.book.take_number("top_up", number))
    bonus = f" + {posting.bonus} bonus" if posting.bonus else ""
    return Step(
        lane.state,
        lane.shift,
        None,
        batch,
        document=top_up_id,
        prints=True,
        notices=(f"Topped up {_name(account)}: {amount}{bonus}; balance {posting.balance}.",),
        open_drawer=event.tender == "cash",
    )


def refund_top_up(lane: LaneContext, event: ev.RefundTopUp) -> Step | Refusal:
    assert lane.shift is not None
    top_up_id = event.top_up_id.strip()
    record = lane.book.by_receipt(top_up_id)
    if record is None or record.kind != KIND:
        return Refusal("unknown_receipt", f"No top-up {top_up_id} on this till.")
    refund_id = f"{top_up_id}/refund"
    if lane.book.by_receipt(refund_id) is not None:
        return Refusal("already_refunded", f"Top-up {top_up_id} was refunded already.")
    reason = event.reason.strip()
    if not reason:
        return Refusal("needs_reason", "Enter why the top-up is refunded.")
    original = TopUpBody.model_validate(record.body)
    account = lane.members.identify(event.card, event.at)
    if isinstance(account, Refusal):
        return account
    if account.id != original.member or not (account.card_present or event.source == "reader"):
        return Refusal(
            "needs_member_card",
            f"Refunding a top-up needs the card of member {original.member}: read it.",
        )
    change = lane.book.journal.find(f"{top_up_id}/topup/cash")
    if change is None:
        return Refusal("unknown_receipt", f"Top-up {top_up_id} has no wallet change here.")
    if original.tender == "cash":
        figures = reports.x_report(lane.book, lane.shift.shift_id)
        holds = figures.expected_with(lane.shift.opening_float)
        if original.amount > holds:
            return Refusal(
                "drawer_short",
                f"The drawer should hold {holds}: {original.amount} cannot be paid back.",
            )
    acting = lane.acting(event)
    permit = lane.permit("refund_top_up", event, event.authorization, amount=original.amount)
    if isinstance(permit, Refusal):
        return permit
    posting = lane.members.reverse_top_up(refund_id, change.body, event.at)
    if isinstance(posting, Refusal):
        return posting
    day = event.at.date().isoformat()
    body = TopUpRefundBody(
        **shift_document(lane, acting, event.at),
        refund_id=refund_id,
        top_up_id=top_up_id,
        member=original.member,
        amount=original.amount,
        taken=original.amount + original.bonus,
        tender=original.tender,
        reason=reason,
        balance=posting.balance,
        override=sale_override_ref(permit.override),
    )
    batch = Batch()
    lane.add_override(batch, permit, day)
    batch.add(
        REFUND_KIND,
        body.to_body(),
        refund_id,
        business_day=day,
        shift_id=lane.shift.shift_id,
        receipt_id=refund_id,
    )
    _member_entries(batch, posting)
    return Step(
        lane.state,
        lane.shift,
        None,
        batch,
        document=refund_id,
        prints=True,
        notices=(f"Top-up {top_up_id} refunded: pay back {original.amount} ({original.tender}).",),
        open_drawer=original.tender == "cash",
    )


def _member_entries(batch: Batch, posting: TopUpPosting) -> None:
    """The wallet change's records and table writes go in the same batch (as a sale's)."""
    batch.entries.extend((k, dict(b), i) for k, b, i in posting.entries)
    if posting.also is not None:
        batch.writes.append(posting.also)


def _name(account: MemberAccount) -> str:
    return account.name or account.id
