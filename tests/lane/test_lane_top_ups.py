"""Top-ups (充值) at the till (issue 20, item 2): a member's cash wallet topped up by cash
or card with the store's bonus (充100送10), journalled with its wallet change, in the
drawer's expected cash; refunded only by a supervisor, with the member's card, once, and
not after the money was spent."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from lane_testkit import ALICE, CASHIER, SUPERVISOR, Clock

from gateway import reports
from gateway.journal import verify_journal
from gateway.lane import events as ev
from gateway.lane.events import Authorization, Outcome, Refusal
from gateway.lane.machine import Lane

D = Decimal
WINE = "7612345001326"  # 12.50, no_discount


def ok(lane: Lane, event: ev.Event) -> Outcome:
    answer = lane.handle(event)
    assert isinstance(answer, Outcome), answer
    return answer


def refused(lane: Lane, event: ev.Event, code: str) -> Refusal:
    head = lane.book.journal.state().head_seq
    answer = lane.handle(event)
    assert isinstance(answer, Refusal) and answer.code == code, answer
    assert lane.book.journal.state().head_seq == head  # a refusal writes nothing
    return answer


def test_a_top_up_with_its_bonus_then_refunded_by_a_supervisor(lane: Lane, clock: Clock) -> None:
    ok(lane, ev.OpenShift(clock(), CASHIER, Decimal("100.00")))
    refused(lane, ev.TopUp(clock(), ALICE, D("5.00")), "top_up_amount")  # min 10.00
    refused(lane, ev.TopUp(clock(), ALICE, D("10.001")), "bad_amount")
    refused(lane, ev.TopUp(clock(), ALICE, D("50"), tender="card"), "needs_reference")
    refused(lane, ev.TopUp(clock(), "04FFFFFFFFFFFF", D("50")), "unknown_card")
    out = ok(lane, ev.TopUp(clock(), ALICE, D("100")))
    assert [r.kind for r in out.records] == ["top_up", "member_balance"]
    top_up, change = out.records[0].body, out.records[1].body
    assert (top_up["amount"], top_up["bonus"], top_up["balance"]) == ("100.00", "10.00", "160.00")
    assert top_up["staff"]["id"] == "101" and top_up["member"] == "M0001"
    assert (change["wallet"], change["delta"], change["reason"]) == ("cash", "110.00", "top_up")
    assert out.open_drawer and out.receipt is not None
    assert "TOP-UP" in out.receipt.title
    card = ok(lane, ev.TopUp(clock(), ALICE, D("200.00"), tender="card", reference="T-77"))
    assert card.records[0].body["bonus"] == "30.00" and not card.open_drawer
    assert lane.shift is not None
    figures = reports.x_report(lane.book, lane.shift.shift_id)
    assert (figures.top_ups, figures.top_up, figures.top_up_cash) == (2, D("300.00"), D("100.00"))
    assert figures.expected_with(lane.shift.opening_float) == D("200.00")  # float + cash top-up

    first = top_up["top_up_id"]
    refused(lane, ev.RefundTopUp(clock(), first, ALICE, ""), "needs_reason")
    refused(lane, ev.RefundTopUp(clock(), first, "M0001", "mistake"), "needs_member_card")
    refused(lane, ev.RefundTopUp(clock(), first, ALICE, "mistake"), "needs_override")
    supervisor = Authorization(SUPERVISOR, "customer changed her mind")
    back = ok(lane, ev.RefundTopUp(clock(), first, ALICE, "mistake", authorization=supervisor))
    kinds = [r.kind for r in back.records]
    assert kinds == ["override", "top_up_refund", "member_balance"], kinds
    body = back.records[1].body
    assert (body["amount"], body["taken"], body["balance"]) == ("100.00", "110.00", "280.00")
    assert back.records[2].body["delta"] == "-110.00"
    refused(
        lane,
        ev.RefundTopUp(clock(), first, ALICE, "again", authorization=supervisor),
        "already_refunded",
    )
    figures = reports.x_report(lane.book, lane.shift.shift_id)
    assert (figures.top_ups, figures.top_up_cash) == (1, D("0.00"))
    assert verify_journal(lane.book.db).ok


def test_a_spent_top_up_is_not_refunded(lane: Lane) -> None:
    clock = Clock(datetime(2026, 11, 24, 16, 0))  # no meal period: the day's 80.00 limit
    ok(lane, ev.OpenShift(clock(), CASHIER))
    out = ok(lane, ev.TopUp(clock(), ALICE, D("20.00")))  # no bonus below 100
    assert out.records[0].body["bonus"] == "0.00"
    ok(lane, ev.MemberCard(clock(), ALICE, source="reader"))
    ok(lane, ev.Scan(clock(), WINE, D(6)))  # 75.00: 20 subsidy, 55.00 of the 70.00 cash
    ok(lane, ev.Tender(clock(), "stored_value", None))
    supervisor = Authorization(SUPERVISOR, "asked")
    answer = refused(
        lane,
        ev.RefundTopUp(
            clock(), out.records[0].body["top_up_id"], ALICE, "asked", authorization=supervisor
        ),
        "top_up_spent",
    )
    assert "15.00" in answer.message
