"""Wallet and card terminal payments at the till: between the box's lane and its
`WalletDesk`.

A payment code scanned while a sale has items (or is being paid) starts a wallet payment
of the amount due: the lane fixes the prices and keeps the sale in `tendering`
(`ev.WalletPayment`), the desk journals `pending` and asks the provider. While the payment
is unresolved the lane takes nothing else (`payment_pending`). `paid` becomes the lane's
`mobile` tender with the provider and its transaction id as the reference, which completes
the sale; `declined` and `revoked` leave the sale in `tendering` for another way to pay;
`in_doubt` waits for the provider's word or a supervisor (`resolve_payment`).

F9 "Card" with no typed reference, while `[payments.terminal]` is enabled, is the same
path with the card terminal as the provider (`card`): the amount goes to the terminal,
`paid` becomes a `card` tender with the terminal's references and the masked card number.
A typed reference is taken as before (a payment made on a terminal the till does not
drive).

Runs on the main loop only (the box's one writer); the desk's provider calls run on their
own threads and come back as `ProviderReply` messages.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from gateway.barcodes.payment_codes import SCHEME_NAMES, payment_scheme
from gateway.daemon.payments import ProviderReply, WalletDesk
from gateway.lane import events as ev
from gateway.lane.events import Outcome, Refusal
from gateway.lane.state import State
from gateway.payments import machine as pm

if TYPE_CHECKING:
    from gateway.daemon.box import Box

log = logging.getLogger(__name__)

MAX_REASON = 500
MAX_TRANSACTION_ID = 64


class WalletTill:
    def __init__(self, box: Box, desk: WalletDesk) -> None:
        self.box = box
        self.desk = desk
        self.refunds: dict[str, ev.Refund] = {}  # refund payment -> the lane's event (memory)

    # -- the lane's gate ---------------------------------------------------------------------

    def gate(self) -> Refusal | None:
        """While a payment is unresolved the sale stays as the provider was asked to charge."""
        payment = self.desk.unresolved()
        if payment is None:
            return None
        name = pm.PROVIDER_NAMES[payment.provider]
        what = "refund" if payment.is_refund else "payment"
        if payment.state is pm.PaymentState.IN_DOUBT:
            return Refusal(
                "payment_in_doubt",
                f"The {name} {what} of {payment.amount} is in doubt ({payment.reason}): "
                "wait while the box asks again, or have a supervisor resolve it.",
            )
        if payment.is_refund and payment.provider == "card":
            return Refusal(
                "payment_pending",
                f"Waiting for the card terminal: {payment.amount} goes back to the card there.",
            )
        if payment.is_refund:
            return Refusal("payment_pending", f"Waiting for {name} to refund {payment.amount}.")
        if payment.provider == "card":
            return Refusal(
                "payment_pending",
                f"Waiting for the card terminal: the customer pays {payment.amount} there.",
            )
        return Refusal(
            "payment_pending",
            f"Waiting for the customer to pay {payment.amount} with {name}.",
        )

    def scan(self, event: ev.Scan) -> Outcome | Refusal | None:
        """A scan that is a payment code this till takes, in a sale: the payment starts.
        None: not one (the lane answers the scan as before)."""
        scheme = payment_scheme(event.raw)
        lane = self.box.lane
        if scheme is None or not self.desk.takes(scheme):
            return None
        if lane.state is State.IDLE:
            return Refusal(
                "payment_code_scanned",
                f"That is a {SCHEME_NAMES[scheme]} payment code: nothing of it was kept. "
                "Ring up the items first, then scan it to pay.",
            )
        if lane.state not in (State.IN_SALE, State.TENDERING):
            return None
        refused = self.gate()
        if refused is not None:
            return refused
        answer = self.box.feed(ev.WalletPayment(event.at, SCHEME_NAMES[scheme]), wallet=True)
        if isinstance(answer, Refusal):
            return answer
        sale = lane.sale
        assert sale is not None and sale.priced is not None and lane.shift is not None
        due = sale.priced.total - sale.paid
        self.desk.start(
            scheme,
            event.raw,
            due,
            sale.catalog.money.currency,
            self.box.clock.monotonic(),
            lane.shift.business_day,
            lane.shift.shift_id,
        )
        return answer

    def card(self, event: ev.Tender) -> Outcome | Refusal | None:
        """F9 "Card" without a typed reference while the card terminal is set up: the
        amount (what is due, or the amount keyed) goes to the terminal. None: not such a
        tender (the lane takes it as before)."""
        lane = self.box.lane
        if (
            event.type != "card"
            or (event.reference or "").strip()
            or not self.desk.takes("card")
            or lane.state not in (State.IN_SALE, State.TENDERING)
            or lane.sale is None
        ):
            return None
        refused = self.gate()
        if refused is not None:
            return refused
        terminal = self.box.settings.payments.terminal.currency
        currency = lane.sale.catalog.money.currency
        if currency != terminal:
            return Refusal(
                "payment_declined",
                f"The card terminal is set up for {terminal} and this sale is in {currency}: "
                "set [payments.terminal] currency, or type the reference of a payment made "
                "another way.",
            )
        priced = lane.sale.priced
        if event.amount is not None and priced is not None:
            due_now = priced.total - lane.sale.paid
            if not 0 < event.amount <= due_now:  # refused before prices are fixed
                return Refusal(
                    "no_change", f"Only cash gives change: the card can pay at most {due_now}."
                )
        answer = self.box.feed(ev.WalletPayment(event.at, "the card terminal"), wallet=True)
        if isinstance(answer, Refusal):
            return answer
        sale = lane.sale
        assert sale is not None and sale.priced is not None and lane.shift is not None
        due = sale.priced.total - sale.paid
        amount = due if event.amount is None else event.amount
        if not 0 < amount <= due:
            return Refusal("no_change", f"Only cash gives change: the card can pay at most {due}.")
        self.desk.start(
            "card",
            "",
            amount,
            currency,
            self.box.clock.monotonic(),
            lane.shift.business_day,
            lane.shift.shift_id,
        )
        return Outcome(
            state=lane.state.value, notices=(f"Waiting for the card terminal: {amount}",)
        )

    def refund(self, event: ev.Refund) -> Outcome | Refusal | None:
        """A refund to `mobile` of a sale a wallet paid goes back through that provider
        first, a refund to `card` of a sale the card terminal paid back through the
        terminal (a ZVT refund to the customer's card); the lane records it once the
        provider says the money went back. None: not such a refund (the lane answers it as
        before: a card sale paid on a terminal the till does not drive is paid back there
        by hand)."""
        if event.tender not in ("mobile", "card"):
            return None
        card = event.tender == "card"
        record = self.box.book.by_receipt(event.receipt_id)
        if record is None or record.kind != "sale":
            return None
        references = [t.get("reference") or "" for t in record.body.get("tenders", ())]
        original = next(
            (
                found
                for reference in references
                if (found := self.desk.paid_payment(reference.rpartition(" ")[2])) is not None
            ),
            None,
        )
        if (
            original is None
            or (original.provider == "card") != card
            or not self.desk.takes(original.provider)
        ):
            return None  # not paid through this provider: the lane's refund as before
        refused = self.gate()
        if refused is not None:
            return refused
        step = self.box.lane.decide(event)
        if isinstance(step, Refusal):
            return None  # the lane refuses it (and counts a wrong PIN) as for any refund
        amount = sum(
            (
                Decimal(t["amount"])
                for kind, body, _ in step.batch.entries
                if kind == "refund"
                for t in body["tenders"]
                if t["type"] == event.tender
            ),
            Decimal(0),
        )
        if amount <= 0:
            return None
        name = "The card terminal" if card else pm.PROVIDER_NAMES[original.provider]
        (done,) = self.box.book.conn.execute(
            "SELECT count(*) FROM journal_record WHERE kind = 'refund' "
            "AND json_extract(body, '$.original_receipt_id') = ?",
            (event.receipt_id,),
        ).fetchone()
        # the same number when a refund is asked again after a crash: never refunded twice
        out_refund_no = f"{original.out_trade_no}R{done + 1}"
        went_back = self.desk.paid_refund(out_refund_no) if card else None
        if went_back is not None and went_back.amount == amount:
            # the terminal refunded it and the box stopped before the lane recorded it: a
            # second ZVT refund would pay the card twice, so it is recorded, not sent
            return self._record(event, went_back)
        back = self.desk.refunded(original.out_trade_no, but=out_refund_no)
        if back + amount > original.amount:
            return Refusal(
                "refund_over_payment",
                f"{name} took {original.amount} for this sale and {back} went back already: "
                f"refund at most {original.amount - back} to it, the rest another way.",
            )
        lane = self.box.lane
        assert lane.shift is not None
        refund = self.desk.start_refund(
            original,
            amount,
            out_refund_no,
            self.box.clock.monotonic(),
            lane.shift.business_day,
            lane.shift.shift_id,
        )
        self.refunds[refund.payment_id] = event
        notice = (
            f"Refunding {amount} to the card: the customer presents it at the terminal."
            if card
            else f"Refunding {amount} to {name}."
        )
        return Outcome(state=lane.state.value, notices=(notice,))

    # -- the desk's news -----------------------------------------------------------------------

    def reply(self, message: ProviderReply) -> None:
        result = self.desk.feed(message.payment_id, message.answer, self.box.clock.monotonic())
        if result is not None:
            self._after(result)

    def tick(self, now: float) -> None:
        for result in self.desk.tick(now):
            self._after(result)

    def restore(self) -> None:
        for result in self.desk.restore(self.box.clock.monotonic()):
            self._after(result)

    def _after(self, result: pm.Result) -> None:
        if result.changed is None:
            return
        payment = result.payment
        name = pm.PROVIDER_NAMES[payment.provider]
        at = self.box.clock.local()
        shown = ev.WalletPayment(at, name)
        if payment.is_refund:
            self._refund_after(payment)
            return
        match payment.state:
            case pm.PaymentState.PAID:
                self._paid(payment)
            case pm.PaymentState.DECLINED:
                self.desk.settled(payment.payment_id)
                self.box.screens.record(
                    shown,
                    Refusal(
                        "payment_declined",
                        f"{name} declined the payment ({payment.reason}): nothing was "
                        "charged. Ask for another way to pay.",
                    ),
                )
            case pm.PaymentState.REVOKED:
                self.desk.settled(payment.payment_id)
                self.box.screens.record(
                    shown,
                    Refusal(
                        "payment_revoked",
                        f"The {name} payment was cancelled ({payment.reason}): nothing is "
                        "charged. "
                        + (
                            "Press Card again or take another way to pay."
                            if payment.provider == "card"
                            else "Scan a new payment code or take another way to pay."
                        ),
                    ),
                )
            case pm.PaymentState.IN_DOUBT:
                self.box.alert("payments", f"{name} payment {payment.amount} in doubt")
                self.box.screens.record(shown, self.gate() or Refusal("payment_in_doubt", ""))

    def _refund_after(self, refund: pm.Payment) -> None:
        card = refund.provider == "card"
        name = pm.PROVIDER_NAMES[refund.provider]
        if refund.state is pm.PaymentState.IN_DOUBT:
            self.box.alert("payments", f"{name} refund {refund.amount} in doubt")
            return
        event = self.refunds.pop(refund.payment_id, None)
        self.desk.settled(refund.payment_id)
        if refund.state is not pm.PaymentState.PAID:
            who = "The card terminal" if card else name
            message = (
                f"{who} did not refund {refund.amount} ({refund.reason}): nothing went back "
                "and nothing is recorded as refunded. Pay it back another way"
                + (" (or try the card again)." if card else ".")
            )
            log.warning("refund %s: %s", refund.payment_id, message)
            if event is not None:
                self.box.screens.record(event, Refusal("payment_declined", message))
            return
        if event is None:  # the box restarted meanwhile: the lane's event is gone
            self.box.alert(
                "payments",
                f"{name} refunded {refund.amount} ({refund.transaction_id}) but the till has not "
                "recorded it: do the same refund again at the till to record it ("
                + (
                    "the terminal is not asked again)."
                    if card
                    else "the provider will not refund it twice)."
                ),
            )
            return
        self._record(event, refund)

    def _record(self, event: ev.Refund, refund: pm.Payment) -> Outcome | Refusal:
        """The money went back: the lane records the refund, its reference the provider's."""
        name = pm.PROVIDER_NAMES[refund.provider]
        given = replace(
            event,
            at=self.box.clock.local(),
            reference=f"{name} refund {refund.transaction_id or refund.out_trade_no}",
        )
        answer = self.box.feed(given, wallet=True)
        self.box.screens.record(given, answer)
        if isinstance(answer, Refusal):
            self.box.alert(
                "payments",
                f"{name} refunded {refund.amount} but the till could not record it: "
                f"{answer.message}",
            )
        return answer

    def _paid(self, payment: pm.Payment) -> None:
        """The money is taken: the sale takes it as a `mobile` tender (a `card` tender with
        the masked card number for the terminal) and completes."""
        name = pm.PROVIDER_NAMES[payment.provider]
        card = payment.provider == "card"
        tender = ev.Tender(
            self.box.clock.local(),
            "card" if card else "mobile",
            payment.amount,
            reference=(
                payment.transaction_id or payment.out_trade_no
                if card  # the terminal's `TID…-TR…-R…`: "Card" is the type
                else f"{name} {payment.transaction_id or payment.out_trade_no}"
            ),
            card=payment.code_masked if card and payment.code_masked else None,
        )
        answer = self.box.feed(tender, wallet=True)
        self.box.screens.record(tender, answer)
        if isinstance(answer, Refusal):
            # the provider holds the customer's money and the sale did not take it
            log.error(
                "paid %s payment %s could not complete the sale: %s",
                name,
                payment.payment_id,
                answer.message,
            )
            self.box.alert(
                "payments",
                f"{name} payment {payment.amount} ({payment.transaction_id}) was paid but the "
                f"sale did not take it: {answer.message} Refund it at the provider.",
            )
        self.desk.settled(payment.payment_id)

    # -- a supervisor's word -----------------------------------------------------------------

    def resolve(self, fields: dict[str, Any]) -> dict[str, Any]:
        """`{"command": "lane", "action": "resolve_payment", "decision": "confirm" |
        "cancel", "transaction_id": ..., "reason": ..., "staff": ..., "pin": ...}`: a
        supervisor settles the payment in doubt."""
        payment = self.desk.unresolved()
        if payment is None or payment.state is not pm.PaymentState.IN_DOUBT:
            return _bad("no payment is in doubt", 1)
        decision = fields.get("decision")
        reason = str(fields.get("reason") or "").strip()[:MAX_REASON]
        if decision not in ("confirm", "cancel"):
            return _bad("decision must be confirm (paid, with the transaction id) or cancel", 2)
        if not reason:
            return _bad("a supervisor's resolution needs a reason", 2)
        transaction = str(fields.get("transaction_id") or "").strip()
        if decision == "confirm" and not (
            transaction.replace("-", "").isalnum() and len(transaction) <= MAX_TRANSACTION_ID
        ):
            return _bad(
                "confirm needs the provider's transaction id (letters, digits and '-', as the "
                "provider's merchant app or the terminal's receipt shows it)",
                2,
            )
        credential = ev.Credential(
            staff_id=str(fields.get("staff") or ""), pin=str(fields.get("pin") or "")
        )
        who = self.box.staff.identify(credential, self.box.clock.local())
        if isinstance(who, Refusal):
            return {"ok": False, "refused": who.code, "error": who.message}
        if who.role not in self.box.settings.lane.permissions.get("resolve_payment", ()):
            return {
                "ok": False,
                "refused": "not_permitted",
                "error": f"{who.name} may not resolve a payment in doubt (a supervisor may).",
            }
        given: pm.Input = (
            pm.SupervisorConfirm(who.id, transaction, reason)
            if decision == "confirm"
            else pm.SupervisorCancel(who.id, reason)
        )
        result = self.desk.feed(payment.payment_id, given, self.box.clock.monotonic())
        assert result is not None
        self._after(result)
        return {
            "ok": True,
            "payment": pm.record_body(result.payment),
            "lane": self.box.lane_view(),
        }

    def view(self) -> dict[str, Any] | None:
        payment = self.desk.unresolved()
        return None if payment is None else pm.record_body(payment)


def _bad(message: str, exit_code: int) -> dict[str, Any]:
    return {"ok": False, "error": f"resolve_payment: {message}", "exit_code": exit_code}
