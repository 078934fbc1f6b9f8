"""The payment state machine on its own: pure, fed inputs with an injected `now`."""

from __future__ import annotations

from decimal import Decimal

import pytest

from gateway.payments import machine as pm

TIMING = pm.Timing(poll_s=4, revoke_s=30)


def started(now: float = 0.0) -> pm.Payment:
    result = pm.start("p1", "wechat", Decimal("12.50"), "CNY", "1345…6789", now)
    assert result.changed is not None and result.request is not None
    assert result.request.call == "pay" and result.payment.state is pm.PaymentState.PENDING
    return result.payment


def test_paid_at_once() -> None:
    result = pm.step(started(), pm.Answer("pay", "paid", "4200"), 1.0, TIMING)
    assert result.payment.state is pm.PaymentState.PAID
    assert result.payment.transaction_id == "4200" and result.changed is not None


def test_password_polls_every_interval_then_paid() -> None:
    payment = pm.step(started(), pm.Answer("pay", "waiting"), 1.0, TIMING).payment
    assert payment.state is pm.PaymentState.PENDING and payment.next_query_at == 5.0
    assert pm.step(payment, pm.Tick(), 4.9, TIMING).request is None
    asked = pm.step(payment, pm.Tick(), 5.0, TIMING)
    assert asked.request is not None and asked.request.call == "query"
    # no second query while one is in flight
    assert pm.step(asked.payment, pm.Tick(), 9.5, TIMING).request is None
    paid = pm.step(asked.payment, pm.Answer("query", "paid", "4201"), 6.0, TIMING)
    assert paid.payment.state is pm.PaymentState.PAID


def test_revoked_at_thirty_seconds() -> None:
    payment = pm.step(started(), pm.Answer("pay", "waiting"), 1.0, TIMING).payment
    now = 1.0
    while True:
        now += 4
        tick = pm.step(payment, pm.Tick(), now, TIMING)
        payment = tick.payment
        if tick.request is not None and tick.request.call == "revoke":
            break
        if tick.request is not None:
            payment = pm.step(payment, pm.Answer("query", "waiting"), now, TIMING).payment
    assert now >= 30 and payment.revoke_asked
    done = pm.step(payment, pm.Answer("revoke", "revoked"), now, TIMING)
    assert done.payment.state is pm.PaymentState.REVOKED
    assert done.payment.reason == "not confirmed in time"


def test_declined() -> None:
    result = pm.step(started(), pm.Answer("pay", "declined", reason="NOTENOUGH"), 1, TIMING)
    assert result.payment.state is pm.PaymentState.DECLINED


def test_no_answer_is_in_doubt_and_asked_again_until_answered() -> None:
    doubt = pm.step(started(), pm.NoAnswer("pay", "timed out"), 10.0, TIMING)
    assert doubt.payment.state is pm.PaymentState.IN_DOUBT and doubt.changed is not None
    assert pm.step(doubt.payment, pm.Tick(), 13.0, TIMING).request is None
    query = pm.step(doubt.payment, pm.Tick(), 14.0, TIMING)
    assert query.request is not None and query.request.call == "query"
    again = pm.step(query.payment, pm.NoAnswer("query", "refused"), 14.5, TIMING)
    assert again.payment.state is pm.PaymentState.IN_DOUBT and again.changed is None
    found = pm.step(
        pm.step(again.payment, pm.Tick(), 19.0, TIMING).payment,
        pm.Answer("query", "paid", "4202"),
        19.1,
        TIMING,
    )
    assert found.payment.state is pm.PaymentState.PAID


def test_in_doubt_found_unpaid_is_revoked_never_left_open() -> None:
    doubt = pm.step(started(), pm.NoAnswer("pay", "lost"), 1, TIMING).payment
    query = pm.step(doubt, pm.Reconnect(), 2, TIMING)
    assert query.request is not None and query.request.call == "query"
    unpaid = pm.step(query.payment, pm.Answer("query", "waiting"), 3, TIMING)
    assert unpaid.request is not None and unpaid.request.call == "revoke"


def test_paid_after_revoke_was_asked_is_revoked_again() -> None:
    payment = pm.replace(started(), revoke_asked=True, waiting_for="query")
    result = pm.step(payment, pm.Answer("query", "paid", "4203"), 40, TIMING)
    assert result.request is not None and result.request.call == "revoke"
    assert result.payment.state is pm.PaymentState.PENDING


def test_restart_puts_pending_in_doubt() -> None:
    result = pm.step(started(), pm.Restarted(), 0, TIMING)
    assert result.payment.state is pm.PaymentState.IN_DOUBT
    assert result.payment.reason == "the box stopped during the payment"
    assert result.request is None
    assert pm.step(result.payment, pm.Tick(), 0, TIMING).request is not None  # asked now


def test_supervisor_confirms_or_cancels_with_reason() -> None:
    doubt = pm.step(started(), pm.NoAnswer("pay", "lost"), 1, TIMING).payment
    confirm = pm.step(doubt, pm.SupervisorConfirm("201", "4204", "seen in the app"), 2, TIMING)
    assert confirm.payment.state is pm.PaymentState.PAID
    assert confirm.payment.supervisor == "201" and confirm.payment.reason == "seen in the app"
    cancel = pm.step(doubt, pm.SupervisorCancel("201", "customer paid cash"), 2, TIMING)
    assert cancel.payment.state is pm.PaymentState.REVOKED
    assert cancel.request is not None and cancel.request.call == "revoke"
    body = pm.record_body(cancel.payment)
    assert body["supervisor"] == "201" and "auth_code" not in body


def test_supervisor_cannot_settle_a_pending_payment() -> None:
    with pytest.raises(pm.PaymentProtocolError, match=r"SupervisorConfirm .* state pending"):
        pm.step(started(), pm.SupervisorConfirm("201", "1", "x"), 1, TIMING)


def test_final_states_take_nothing() -> None:
    paid = pm.step(started(), pm.Answer("pay", "paid", "1"), 1, TIMING).payment
    with pytest.raises(pm.PaymentProtocolError, match=r"Tick is not taken .* paid"):
        pm.step(paid, pm.Tick(), 2, TIMING)


def test_a_late_answer_to_a_call_no_longer_awaited_changes_nothing() -> None:
    payment = pm.step(started(), pm.Answer("pay", "waiting"), 1, TIMING).payment
    assert pm.step(payment, pm.Answer("pay", "paid", "9"), 2, TIMING).payment == payment


def test_record_round_trip() -> None:
    payment = pm.step(started(), pm.NoAnswer("pay", "lost"), 1, TIMING).payment
    again = pm.from_record(pm.record_body(payment), 50)
    assert again.state is pm.PaymentState.IN_DOUBT and again.amount == Decimal("12.50")


def refund_of(now: float = 0.0) -> pm.Payment:
    paid = pm.step(started(), pm.Answer("pay", "paid", "4200"), 1.0, TIMING).payment
    result = pm.start_refund("r1", paid, Decimal("5.00"), "p1R1", "", now)
    assert result.request is not None and result.request.call == "pay"
    assert result.payment.is_refund and result.payment.refund_of == "p1"
    return result.payment


def test_a_refund_processing_is_polled_then_done() -> None:
    refund = pm.step(refund_of(), pm.Answer("pay", "waiting"), 1, TIMING).payment
    query = pm.step(refund, pm.Tick(), 5, TIMING)
    assert query.request is not None and query.request.call == "query"
    done = pm.step(query.payment, pm.Answer("query", "paid", "5030"), 6, TIMING)
    assert done.payment.state is pm.PaymentState.PAID and done.payment.transaction_id == "5030"
    body = pm.record_body(done.payment)
    assert body["kind"] == "refund" and body["refund_of"] == "p1"
    assert pm.from_record(body, 0).is_refund


def test_a_refund_is_never_revoked_but_in_doubt_when_slow() -> None:
    refund = pm.step(refund_of(), pm.Answer("pay", "waiting"), 1, TIMING).payment
    tick = pm.step(refund, pm.Tick(), 31, TIMING)
    assert tick.request is not None and tick.request.call == "query"
    late = pm.step(tick.payment, pm.Answer("query", "waiting"), 31, TIMING)
    assert late.payment.state is pm.PaymentState.IN_DOUBT
    assert late.payment.reason == "refund still processing"
    cancel = pm.step(late.payment, pm.SupervisorCancel("201", "not refunded"), 40, TIMING)
    assert cancel.payment.state is pm.PaymentState.REVOKED and cancel.request is None


def test_a_refund_the_provider_does_not_know_was_not_made() -> None:
    doubt = pm.step(refund_of(), pm.NoAnswer("pay", "lost"), 1, TIMING).payment
    query = pm.step(doubt, pm.Reconnect(), 2, TIMING).payment
    gone = pm.step(query, pm.Answer("query", "unpaid", reason="no such refund"), 3, TIMING)
    assert gone.payment.state is pm.PaymentState.DECLINED
