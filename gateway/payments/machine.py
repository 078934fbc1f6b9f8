"""One wallet payment as a pure state machine: fed inputs, it answers the next payment
value, the journal events and the provider calls it intends.

Everything that decides what a payment does next lives in this file. Pure: no I/O, no
threads, no clock — `now` (monotonic seconds) comes with every input, the provider's answer
comes in as a typed value, and the caller (the daemon) journals the events and makes the
calls. The payment code itself is never part of a payment value: the caller keeps it in
memory for the one `Pay` call and drops it.

Theory of operation. `start()` makes a `pending` payment and asks for `Pay`. The provider
answers `paid`, `declined` or `waiting` (the customer confirms on the phone: WeChat's
USERPAYING, Alipay's 10003); while waiting the payment is queried every `poll_s`
(3-5 s, the providers' rule) and revoked (`Revoke`) once `revoke_s` (30 s) have passed
since it started. A call that gets no answer (network lost, time-out, the daemon killed)
leaves the payment `in_doubt`: never silently paid or unpaid. An in-doubt payment is
queried on `Reconnect` (the daemon's restart is one); the provider's word settles it. A
supervisor may settle it instead (`SupervisorConfirm` with the provider's transaction id,
or `SupervisorCancel`, which also revokes at the provider), always with a reason.

A refund (`start_refund`) goes through the same states with the same table: `Pay` then
means "ask for the refund", `paid` that the money went back, `waiting` that the provider is
still processing it (queried every `poll_s`). A refund is never revoked: one still
processing after `revoke_s` is `in_doubt` (queried on), and a supervisor's cancel records
that it was not made (nothing is sent).

The card terminal (provider `card`, ZVT: `gateway.payments.terminal`) uses the same table:
its `pay` is the authorisation, answered `paid` (with the masked card number, kept as the
payment's `code_masked`), `declined` or not at all; its `query` is a repeat receipt and its
`revoke` a reversal. It never answers `waiting`, so the revoke timer does not apply to it.

`TABLE[state][input type]` is the handler; an input missing there is one precise
`PaymentProtocolError` naming the input and the state. Final states (`paid`, `declined`,
`revoked`) accept nothing.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Literal

from gateway.barcodes.payment_codes import SCHEME_NAMES, PaymentScheme

ProviderId = PaymentScheme | Literal["card"]  # a wallet, or the card terminal
PROVIDER_NAMES: dict[ProviderId, str] = {key: name for key, name in SCHEME_NAMES.items()}
PROVIDER_NAMES["card"] = "Card"

POLL_S = 4.0  # WeChat: query every 5-10 s, Alipay every 3-5 s, while the customer confirms
REVOKE_S = 30.0  # WeChat: revoke a code payment not confirmed in 30 s


class PaymentState(enum.Enum):
    PENDING = "pending"
    PAID = "paid"
    DECLINED = "declined"
    REVOKED = "revoked"
    IN_DOUBT = "in_doubt"


Kind = Literal["payment", "refund"]
FINAL = frozenset({PaymentState.PAID, PaymentState.DECLINED, PaymentState.REVOKED})
Call = Literal["pay", "query", "revoke"]


@dataclass(frozen=True)
class Payment:
    """A payment's value. `out_trade_no` is our order number at the provider (our id);
    `waiting_for` the call whose answer is awaited (None: none in flight)."""

    payment_id: str
    provider: ProviderId
    amount: Decimal
    currency: str
    out_trade_no: str
    code_masked: str
    state: PaymentState
    started_at: float
    next_query_at: float | None = None
    waiting_for: Call | None = None
    revoke_asked: bool = False
    transaction_id: str | None = None
    reason: str = ""
    supervisor: str | None = None
    kind: Kind = "payment"
    refund_of: str | None = None  # a refund: the payment's out_trade_no
    original_amount: Decimal | None = None  # a refund: what that payment took
    original_transaction: str | None = None  # a refund: that payment's transaction id

    @property
    def is_refund(self) -> bool:
        return self.kind == "refund"


# -- inputs ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """The provider answered a call: `paid` (with its transaction id), `waiting` (the
    customer is confirming), `declined` (with the provider's reason), `revoked` (the order
    is closed or reversed: nothing charged, or given back), `unpaid` (a query: the order
    exists and is not paid)."""

    call: Call
    outcome: Literal["paid", "waiting", "declined", "revoked", "unpaid"]
    transaction_id: str | None = None
    reason: str = ""
    card: str = ""  # a card terminal's paid answer: the card number, masked (last four)


@dataclass(frozen=True)
class NoAnswer:
    """A call got no usable answer (connection refused, time-out, a provider system
    error): what was sent may or may not have moved money."""

    call: Call
    reason: str


@dataclass(frozen=True)
class Tick:
    """Time passed (the daemon's loop ticks)."""


@dataclass(frozen=True)
class Reconnect:
    """The network is back, or the daemon restarted with this payment unresolved."""


@dataclass(frozen=True)
class Restarted:
    """The daemon started again and found this payment unresolved in the journal."""


@dataclass(frozen=True)
class SupervisorConfirm:
    supervisor: str
    transaction_id: str
    reason: str


@dataclass(frozen=True)
class SupervisorCancel:
    supervisor: str
    reason: str


Input = Answer | NoAnswer | Tick | Reconnect | Restarted | SupervisorConfirm | SupervisorCancel


# -- outputs --------------------------------------------------------------------------


@dataclass(frozen=True)
class Changed:
    """The payment's state changed (or it started): one journal record."""

    payment: Payment


@dataclass(frozen=True)
class Request:
    """Call the provider (`pay` needs the code, which only the caller holds)."""

    call: Call
    payment: Payment


@dataclass(frozen=True)
class Result:
    payment: Payment
    changed: Changed | None = None
    request: Request | None = None


class PaymentProtocolError(Exception):
    """An input the machine does not take in the payment's state."""


@dataclass(frozen=True)
class Timing:
    poll_s: float = POLL_S
    revoke_s: float = REVOKE_S


def start(
    payment_id: str,
    provider: ProviderId,
    amount: Decimal,
    currency: str,
    code_masked: str,
    now: float,
) -> Result:
    """A new pending payment; the caller sends `Pay` with the code."""
    payment = Payment(
        payment_id=payment_id,
        provider=provider,
        amount=amount,
        currency=currency,
        out_trade_no=payment_id,
        code_masked=code_masked,
        state=PaymentState.PENDING,
        started_at=now,
        waiting_for="pay",
    )
    return Result(payment, Changed(payment), Request("pay", payment))


def start_refund(
    payment_id: str,
    original: Payment,
    amount: Decimal,
    out_refund_no: str,
    code_masked: str,
    now: float,
) -> Result:
    """A new pending refund of `amount` of the paid `original`; the caller asks for it."""
    refund = Payment(
        payment_id=payment_id,
        provider=original.provider,
        amount=amount,
        currency=original.currency,
        out_trade_no=out_refund_no,
        code_masked=code_masked,
        state=PaymentState.PENDING,
        started_at=now,
        waiting_for="pay",
        kind="refund",
        refund_of=original.out_trade_no,
        original_amount=original.amount,
        original_transaction=original.transaction_id,
    )
    return Result(refund, Changed(refund), Request("pay", refund))


def step(payment: Payment, given: Input, now: float, timing: Timing = Timing()) -> Result:
    """The payment after `given` at `now`."""
    handler = TABLE[payment.state].get(type(given))
    if handler is None:
        raise PaymentProtocolError(
            f"{type(given).__name__} is not taken by a payment in state {payment.state.value}"
        )
    return handler(payment, given, now, timing)


def _to(payment: Payment, state: PaymentState, **changes: object) -> Result:
    after = replace(payment, state=state, waiting_for=None, next_query_at=None, **changes)  # type: ignore[arg-type]
    return Result(after, Changed(after))


def _ask(payment: Payment, call: Call, **changes: object) -> Result:
    after = replace(payment, waiting_for=call, **changes)  # type: ignore[arg-type]
    return Result(after, None, Request(call, after))


def _answer(payment: Payment, given: Input, now: float, timing: Timing) -> Result:
    assert isinstance(given, Answer)
    if given.call != payment.waiting_for:
        return Result(payment)  # a late or repeated answer to a call no longer awaited
    match given.outcome:
        case "paid":
            if payment.revoke_asked and given.call == "query":
                # paid after we asked to revoke: revoke again, never keep it silently
                return _ask(payment, "revoke")
            return _to(
                payment,
                PaymentState.PAID,
                transaction_id=given.transaction_id,
                code_masked=given.card or payment.code_masked,
            )
        case "declined":
            return _to(payment, PaymentState.DECLINED, reason=given.reason)
        case "revoked":
            return _to(payment, PaymentState.REVOKED, reason=given.reason or payment.reason)
        case "unpaid" if payment.is_refund:
            return _to(payment, PaymentState.DECLINED, reason=given.reason or "no such refund")
        case "waiting" if payment.is_refund:
            late = now - payment.started_at >= timing.revoke_s
            if late and payment.state is PaymentState.PENDING:
                doubt = _to(payment, PaymentState.IN_DOUBT, reason="refund still processing")
                retry = replace(doubt.payment, next_query_at=now + timing.poll_s)
                return replace(doubt, payment=retry)
            return Result(replace(payment, waiting_for=None, next_query_at=now + timing.poll_s))
        case "waiting" | "unpaid":
            if payment.state is PaymentState.IN_DOUBT or payment.revoke_asked:
                # nobody waits at the till for an order found unpaid after a loss: close it
                return _ask(payment, "revoke", revoke_asked=True)
            if now - payment.started_at >= timing.revoke_s:
                return _ask(payment, "revoke", revoke_asked=True, reason="not confirmed in time")
            after = replace(payment, waiting_for=None, next_query_at=now + timing.poll_s)
            return Result(after)
    raise AssertionError(given.outcome)


def _no_answer(payment: Payment, given: Input, now: float, timing: Timing) -> Result:
    assert isinstance(given, NoAnswer)
    if given.call != payment.waiting_for:
        return Result(payment)
    retry = now + timing.poll_s  # asked again (a query) until the provider answers
    if payment.state is PaymentState.IN_DOUBT:
        return Result(replace(payment, waiting_for=None, next_query_at=retry))
    after = _to(payment, PaymentState.IN_DOUBT, reason=given.reason)
    return replace(after, payment=replace(after.payment, next_query_at=retry))


def _restarted(payment: Payment, given: Input, now: float, timing: Timing) -> Result:
    """Found unresolved after a restart: in doubt until the provider is asked."""
    reason = "the box stopped during the payment"
    if payment.state is PaymentState.IN_DOUBT:
        after = Result(replace(payment, waiting_for=None))
    else:
        after = _to(payment, PaymentState.IN_DOUBT, reason=reason)
    return Result(after.payment, after.changed, None)


def _retry(payment: Payment, given: Input, now: float, timing: Timing) -> Result:
    """In doubt: ask the provider again once `poll_s` passed since the last try."""
    if payment.waiting_for is not None:
        return Result(payment)
    if payment.next_query_at is not None and now < payment.next_query_at:
        return Result(payment)
    return _ask(payment, "revoke" if payment.revoke_asked else "query", next_query_at=None)


def _tick(payment: Payment, given: Input, now: float, timing: Timing) -> Result:
    if payment.waiting_for is not None or payment.next_query_at is None:
        return Result(payment)
    if now - payment.started_at >= timing.revoke_s and not payment.is_refund:
        return _ask(payment, "revoke", revoke_asked=True, reason="not confirmed in time")
    if now >= payment.next_query_at:
        return _ask(payment, "query", next_query_at=None)
    return Result(payment)


def _reconnect(payment: Payment, given: Input, now: float, timing: Timing) -> Result:
    if payment.waiting_for is not None:
        return Result(payment)
    return _ask(payment, "revoke" if payment.revoke_asked else "query")


def _confirm(payment: Payment, given: Input, now: float, timing: Timing) -> Result:
    assert isinstance(given, SupervisorConfirm)
    return _to(
        payment,
        PaymentState.PAID,
        transaction_id=given.transaction_id,
        supervisor=given.supervisor,
        reason=given.reason,
    )


def _cancel(payment: Payment, given: Input, now: float, timing: Timing) -> Result:
    assert isinstance(given, SupervisorCancel)
    after = _to(payment, PaymentState.REVOKED, supervisor=given.supervisor, reason=given.reason)
    if payment.is_refund:
        return after  # a refund cannot be taken back: recorded as not made
    # the provider is told too: whatever it may have taken goes back
    return Result(after.payment, after.changed, Request("revoke", after.payment))


Handler = Callable[[Payment, Input, float, Timing], Result]
TABLE: dict[PaymentState, dict[type, Handler]] = {
    PaymentState.PENDING: {
        Answer: _answer,
        NoAnswer: _no_answer,
        Tick: _tick,
        Reconnect: _reconnect,
        Restarted: _restarted,
    },
    PaymentState.IN_DOUBT: {
        Answer: _answer,
        NoAnswer: _no_answer,
        Tick: _retry,
        Reconnect: _reconnect,
        Restarted: _restarted,
        SupervisorConfirm: _confirm,
        SupervisorCancel: _cancel,
    },
    PaymentState.PAID: {},
    PaymentState.DECLINED: {},
    PaymentState.REVOKED: {},
}


def record_body(payment: Payment) -> dict[str, object]:
    """The journal body of a state change: never the code (only its mask), never a key."""
    body: dict[str, object] = {
        "schema": "storegate.payment/1",
        "payment_id": payment.payment_id,
        "provider": payment.provider,
        "state": payment.state.value,
        "amount": str(payment.amount),
        "currency": payment.currency,
        "out_trade_no": payment.out_trade_no,
        "code": payment.code_masked,
    }
    if payment.transaction_id:
        body["transaction_id"] = payment.transaction_id
    if payment.reason:
        body["reason"] = payment.reason
    if payment.supervisor:
        body["supervisor"] = payment.supervisor
    if payment.is_refund:
        body["kind"] = "refund"
        body["refund_of"] = payment.refund_of
        body["original_amount"] = str(payment.original_amount)
        if payment.original_transaction:
            body["original_transaction"] = payment.original_transaction
    return body


def from_record(body: dict[str, object], now: float) -> Payment:
    """A payment as its last journal record left it (after a restart)."""
    return Payment(
        payment_id=str(body["payment_id"]),
        provider=body["provider"],  # type: ignore[arg-type]
        amount=Decimal(str(body["amount"])),
        currency=str(body["currency"]),
        out_trade_no=str(body["out_trade_no"]),
        code_masked=str(body["code"]),
        state=PaymentState(body["state"]),
        started_at=now,
        transaction_id=body.get("transaction_id"),  # type: ignore[arg-type]
        reason=str(body.get("reason", "")),
        supervisor=body.get("supervisor"),  # type: ignore[arg-type]
        kind="refund" if body.get("kind") == "refund" else "payment",
        refund_of=body.get("refund_of"),  # type: ignore[arg-type]
        original_amount=(
            Decimal(str(body["original_amount"])) if body.get("original_amount") else None
        ),
        original_transaction=body.get("original_transaction"),  # type: ignore[arg-type]
    )
