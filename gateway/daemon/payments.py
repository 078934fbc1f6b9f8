"""The daemon's side of wallet and card terminal payments: carries out what the payment
machine asks.

The machine (`gateway.payments.machine`) decides; this module journals each change it
reports (through the box's one writer, `LaneBook.commit`, on the main loop), makes each
provider call it asks for on a short thread of its own (never on the main loop: a call may
take `timeout_s`) and posts the answer back into the box's inbox as a `ProviderReply`. A
payment code is held in memory only, for its one `pay` call, and never written anywhere.

After a restart the journal's `payment` records say which payments were left unresolved:
each comes back `in_doubt` and is queried (`Restarted`, then the machine's retries).

A card terminal payment (provider `card`, `[payments.terminal]`) is the same machine with
the ZVT terminal as its provider (`gateway.payments.terminal`): it has no code, and its
paid answer brings the masked card number. The desk keeps the terminal references of the
card payments the journal holds as paid (`card_references`), so that a repeat receipt of
an earlier sale's payment is never taken for a lost answer.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from gateway.barcodes.payment_codes import mask_payment_code
from gateway.lane.book import Batch, LaneBook
from gateway.payments import machine as pm
from gateway.payments.providers import Provider
from gateway.payments.settings import PaymentSettings

log = logging.getLogger(__name__)

UNRESOLVED = (pm.PaymentState.PENDING, pm.PaymentState.IN_DOUBT)


@dataclass(frozen=True)
class ProviderReply:
    """A provider's answer (or its silence) to one call, for the main loop."""

    payment_id: str
    answer: pm.Answer | pm.NoAnswer


def build_providers(
    settings: PaymentSettings, known: Callable[[str], bool] | None = None
) -> dict[str, Provider]:
    """The enabled providers' adapters (`known`: the card terminal's references the till
    already recorded)."""
    providers: dict[str, Provider] = {}
    if settings.wechat.enabled:
        from gateway.payments.wechat import WeChatPay

        providers["wechat"] = WeChatPay(settings.wechat, settings.timeout_s)
    if settings.alipay.enabled:
        from gateway.payments.alipay import Alipay

        providers["alipay"] = Alipay(settings.alipay, settings.timeout_s)
    if settings.terminal.enabled:
        from gateway.payments.terminal import ZvtTerminal

        providers["card"] = ZvtTerminal(settings.terminal, known)
    return providers


class WalletDesk:
    """The till's wallet and card payments in progress (at most one at a time)."""

    def __init__(
        self,
        settings: PaymentSettings,
        book: LaneBook,
        inbox: queue.SimpleQueue[Any],
        new_id: Callable[[], str],
        providers: dict[str, Provider] | None = None,
    ) -> None:
        self.timing = pm.Timing(poll_s=settings.poll_s, revoke_s=settings.revoke_s)
        self.book = book
        self.inbox = inbox
        self.new_id = new_id
        self.card_references: set[str] = {
            str(body["transaction_id"])
            for body in self._bodies("json_extract(r.body, '$.provider') = ?", "card")
            if body.get("state") == "paid" and body.get("transaction_id")
        }
        self.providers = (
            build_providers(settings, self.card_references.__contains__)
            if providers is None
            else providers
        )
        self.active: dict[str, pm.Payment] = {}
        self.where: dict[str, tuple[str, str | None]] = {}  # payment -> (day, shift)
        self._codes: dict[str, str] = {}  # payment -> code, until its pay call is sent

    def takes(self, provider: pm.ProviderId) -> bool:
        return provider in self.providers

    def unresolved(self) -> pm.Payment | None:
        """The payment the till waits on (pending or in doubt), if any."""
        return next((p for p in self.active.values() if p.state in UNRESOLVED), None)

    def get(self, payment_id: str) -> pm.Payment | None:
        return self.active.get(payment_id)

    # -- inputs ----------------------------------------------------------------------------

    def start(
        self,
        provider: pm.ProviderId,
        code: str,
        amount: Decimal,
        currency: str,
        now: float,
        day: str,
        shift: str | None,
    ) -> pm.Payment:
        """A payment starts: `code` the scanned payment code ("" for the card terminal,
        whose card number only the terminal sees)."""
        payment_id = self.new_id()
        masked = mask_payment_code(code) if code else ""
        result = pm.start(payment_id, provider, amount, currency, masked, now)
        self.where[payment_id] = (day, shift)
        self._codes[payment_id] = code
        self._carry_out(result)
        return result.payment

    def start_refund(
        self,
        original: pm.Payment,
        amount: Decimal,
        out_refund_no: str,
        now: float,
        day: str,
        shift: str | None,
    ) -> pm.Payment:
        refund_id = self.new_id()
        result = pm.start_refund(refund_id, original, amount, out_refund_no, "", now)
        self.where[refund_id] = (day, shift)
        self._carry_out(result)
        return result.payment

    def paid_payment(self, transaction_id: str) -> pm.Payment | None:
        """The paid wallet payment with this provider transaction id (a sale's tender)."""
        found = None
        for body in self._bodies("json_extract(r.body, '$.transaction_id') = ?", transaction_id):
            if body.get("kind", "payment") == "payment":
                found = body
        if found is None or found["state"] != "paid":
            return None
        return pm.from_record(found, 0.0)

    def paid_refund(self, out_refund_no: str) -> pm.Payment | None:
        """The refund numbered `out_refund_no` if the journal holds it as paid (the money
        went back), else None."""
        found = None
        for body in self._bodies("json_extract(r.body, '$.out_trade_no') = ?", out_refund_no):
            if body.get("kind") == "refund":
                found = body
        if found is None or found["state"] != "paid":
            return None
        return pm.from_record(found, 0.0)

    def refunded(self, out_trade_no: str, but: str) -> Decimal:
        """What refunds already gave back of the payment `out_trade_no` (paid ones; `but`
        the refund number being asked again, which is not counted)."""
        last: dict[str, dict[str, Any]] = {}
        for body in self._bodies("json_extract(r.body, '$.refund_of') = ?", out_trade_no):
            last[body["payment_id"]] = body
        return sum(
            (
                Decimal(b["amount"])
                for b in last.values()
                if b["state"] in ("paid", "pending", "in_doubt") and b["out_trade_no"] != but
            ),
            Decimal(0),
        )

    def _bodies(self, where: str, value: str) -> list[dict[str, Any]]:
        rows = self.book.conn.execute(
            "SELECT r.body FROM lane_doc d JOIN journal_record r ON r.seq = d.seq "
            f"WHERE d.kind = 'payment' AND {where} ORDER BY d.seq",
            (value,),
        )
        return [json.loads(body) for (body,) in rows]

    def feed(self, payment_id: str, given: pm.Input, now: float) -> pm.Result | None:
        """One input to one payment; its change journalled, its call made. None: no such
        payment in progress (an answer after it was settled)."""
        payment = self.active.get(payment_id)
        if payment is None or payment.state in pm.FINAL:
            return None
        result = pm.step(payment, given, now, self.timing)
        self._carry_out(result)
        return result

    def tick(self, now: float) -> list[pm.Result]:
        results = []
        for payment_id in list(self.active):
            result = self.feed(payment_id, pm.Tick(), now)
            if result is not None and result.changed is not None:
                results.append(result)
        return results

    def settled(self, payment_id: str) -> None:
        """The till has done with a final payment (the sale took it, or moved on)."""
        self.active.pop(payment_id, None)
        self.where.pop(payment_id, None)
        self._codes.pop(payment_id, None)

    def restore(self, now: float) -> list[pm.Result]:
        """After a restart: every payment whose last record is unresolved, in doubt."""
        last: dict[str, tuple[dict[str, Any], str, str | None]] = {}
        rows = self.book.conn.execute(
            "SELECT r.body, d.business_day, d.shift_id FROM lane_doc d JOIN journal_record r "
            "ON r.seq = d.seq WHERE d.kind = 'payment' ORDER BY d.seq"
        )
        for body, day, shift in rows:
            data = json.loads(body)
            last[data["payment_id"]] = (data, day, shift)
        results = []
        for payment_id, (data, day, shift) in last.items():
            if data["state"] not in ("pending", "in_doubt"):
                continue
            payment = pm.from_record(data, now)
            self.active[payment_id] = payment
            self.where[payment_id] = (day, shift)
            result = self.feed(payment_id, pm.Restarted(), now)
            if result is not None:
                results.append(result)
        return results

    # -- effects -----------------------------------------------------------------------------

    def _carry_out(self, result: pm.Result) -> None:
        """Journal the change first: a change the journal refused (storage failing) is not
        taken, and no call is made on its strength (a restart resolves from the journal)."""
        payment = result.payment
        if result.changed is not None:
            self._journal(payment)
        self.active[payment.payment_id] = payment
        if result.request is not None:
            self._call(result.request)

    def _journal(self, payment: pm.Payment) -> None:
        day, shift = self.where[payment.payment_id]
        batch = Batch()
        batch.add(
            "payment",
            {**pm.record_body(payment), "business_day": day},
            self.new_id(),
            business_day=day,
            shift_id=shift,
        )
        self.book.commit(batch)
        if payment.provider == "card" and payment.state is pm.PaymentState.PAID:
            self.card_references.add(payment.transaction_id or "")
        log.info(
            "%s %s (%s %s %s): %s%s",
            payment.kind,
            payment.payment_id,
            pm.PROVIDER_NAMES[payment.provider],
            payment.amount,
            payment.code_masked,
            payment.state.value,
            f" ({payment.reason})" if payment.reason else "",
        )

    def _call(self, request: pm.Request) -> None:
        payment = request.payment
        provider = self.providers.get(payment.provider)
        if provider is None:
            reply = pm.NoAnswer(
                request.call, f"{pm.PROVIDER_NAMES[payment.provider]} is not set up"
            )
            self.inbox.put(ProviderReply(payment.payment_id, reply))
            return
        code = self._codes.pop(payment.payment_id, None) if request.call == "pay" else None

        def run() -> None:
            answer: pm.Answer | pm.NoAnswer
            try:
                if payment.is_refund:
                    call = provider.refund if request.call == "pay" else provider.refund_query
                    answer = call(payment)
                elif request.call == "pay":
                    assert code is not None
                    answer = provider.pay(payment, code)
                elif request.call == "query":
                    answer = provider.query(payment)
                else:
                    answer = provider.revoke(payment)
            except Exception as exc:  # an adapter's bug must not lose the payment
                log.exception("the %s %s call failed", payment.provider, request.call)
                answer = pm.NoAnswer(request.call, f"{type(exc).__name__}: {exc}")
            self.inbox.put(ProviderReply(payment.payment_id, answer))

        threading.Thread(target=run, name=f"wallet-{request.call}", daemon=True).start()
