"""A ZVT card terminal over TCP as a thin adapter: one payment call in, the machine's
`Answer` or `NoAnswer` out (the codec is `gateway.payments.zvt`; the decisions are the
payment machine's, as for the wallets).

Each call opens one connection to the terminal, registers (06 00: the password, the
config byte, the currency) and sends its command, then reads the terminal's APDUs and ACKs
each (intermediate status, status information, print lines) until completion (06 0F) or
abort (06 1E). Two waits, never a sleep: the terminal's ACK to a command must come within
`ACK_S` (the specification's T3, 5 s); after it, the terminal may stay silent for
`timeout_s` (the customer inserts the card and types the PIN; each intermediate status
starts the wait again).

- `pay`: authorisation (06 01) of the amount. Status information with result code 00 is
  `paid`, its transaction id `TID<terminal id>-TR<trace>-R<receipt number>`, its card
  the masked PAN (last four digits). A decline or an abort is `declined` with the
  terminal's reason. A connection refused, dropped or silent before the status information
  arrived is `NoAnswer`: the payment is in doubt, never silently paid or unpaid.
- `query`: repeat receipt (06 20): the terminal sends its last transaction's status
  information again. It is this payment's when it was approved for the same amount and its
  reference is not one the till already recorded (`known`); then `paid`. Otherwise this
  payment never reached the terminal: `revoked`, nothing charged.
- `refund` / `refund_query`: a refund (06 31, Gutschrift) of a card sale, answered as
  `pay` and `query` are (the repeat receipt finds a refund whose answer was lost). A
  refund the terminal never made is `unpaid` (the machine records it declined).
- `revoke`: reversal (06 30) of the payment's receipt number — known from its transaction
  id, or from the repeat receipt when the answer was lost. Nothing of the payment at the
  terminal: `revoked` with nothing to reverse.

The card number never reaches this module in full (the codec masks BMP 22).
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass

from gateway.payments import zvt
from gateway.payments.machine import Answer, Call, NoAnswer, Payment
from gateway.payments.settings import TerminalSettings

ACK_S = 5.0  # the terminal acknowledges a command at once (T3)


class Silent(Exception):
    """The terminal said nothing in time, or went away mid-way."""


@dataclass(frozen=True)
class Ended:
    """What a command ended with: the status information (if any came), and the abort's
    result code (None: completed)."""

    status: zvt.StatusInformation | None
    abort: int | None
    refused: int | None = None  # the command was refused outright (84 xx)


class _Line:
    """One connection to the terminal: send a command, read what comes back."""

    def __init__(self, sock: socket.socket, timeout_s: float) -> None:
        self.sock = sock
        self.timeout_s = timeout_s
        self.buffer = b""

    def _read(self, wait_s: float) -> zvt.Apdu:
        self.sock.settimeout(wait_s)
        while (total := zvt.frame_length(self.buffer)) is None:
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                raise Silent(f"nothing from the terminal for {wait_s:g} s") from None
            if not data:
                raise Silent("the terminal closed the connection")
            self.buffer += data
        apdu = zvt.decode_apdu(self.buffer[:total])
        self.buffer = self.buffer[total:]
        return apdu

    def command(self, apdu: zvt.Apdu, on_status: Callable[[zvt.StatusInformation], None]) -> Ended:
        self.sock.sendall(apdu.encode())
        status: zvt.StatusInformation | None = None
        answer = self._read(min(ACK_S, self.timeout_s))
        if zvt.is_nak(answer):
            return Ended(None, None, refused=answer.control[1])
        while True:
            if zvt.is_ack(answer):
                pass  # the command was taken; what it does follows
            elif answer.control == zvt.COMPLETION:
                self.sock.sendall(zvt.ack().encode())
                return Ended(status, None)
            elif answer.control == zvt.ABORT:
                self.sock.sendall(zvt.ack().encode())
                return Ended(status, zvt.decode_abort(answer.data))
            else:
                if answer.control == zvt.STATUS_INFORMATION:
                    status = zvt.decode_status(answer.data)
                    on_status(status)
                self.sock.sendall(zvt.ack().encode())  # intermediate status, print lines
            answer = self._read(self.timeout_s)


class ZvtTerminal:
    """The card terminal at `settings.host:port` (a simulator's in tests). `known(ref)`
    says whether the till already recorded a payment with that transaction id."""

    name = "card"

    def __init__(self, settings: TerminalSettings, known: Callable[[str], bool] | None = None):
        assert settings.password is not None
        self.settings = settings
        self.password = settings.password.get_secret_value()
        self.known: Callable[[str], bool] = known or (lambda _: False)

    def _run(self, apdu: zvt.Apdu) -> Ended:
        """Register, then one command. Raises `Silent`, `OSError` or `ZvtError`; the
        status information seen (acknowledged) is kept even if the line drops after it."""
        seen: list[zvt.StatusInformation] = []
        with socket.create_connection(
            (self.settings.host, self.settings.port), timeout=ACK_S
        ) as sock:
            line = _Line(sock, self.settings.timeout_s)
            registered = line.command(
                zvt.registration(self.password, self.settings.currency), lambda s: None
            )
            if registered.refused is not None or registered.abort is not None:
                code = registered.refused if registered.refused is not None else registered.abort
                assert code is not None
                raise _Refused(
                    f"the terminal refused the registration ({zvt.result_text(code)}): "
                    "check [payments.terminal] password"
                )
            try:
                return line.command(apdu, seen.append)
            except (Silent, OSError):
                if seen:
                    return Ended(seen[-1], None)  # acknowledged: it stands
                raise

    def _ask(self, apdu: zvt.Apdu, call: Call) -> Ended | NoAnswer | Answer:
        try:
            ended = self._run(apdu)
        except _Refused as exc:
            return Answer(call, "declined", reason=str(exc))
        except (Silent, OSError, zvt.ZvtError) as exc:
            return NoAnswer(call, f"the card terminal did not answer: {exc}")
        return ended

    @staticmethod
    def reference(status: zvt.StatusInformation) -> str:
        """`TID<terminal id>-TR<trace number>-R<receipt number>`: letters between the
        numbers, so that the digits never read as one card number (gateway.cardsafe
        would mask a Luhn-valid run of them in the records)."""
        return f"TID{status.terminal_id}-TR{status.trace_number}-R{status.receipt_number}"

    def pay(self, payment: Payment, code: str) -> Answer | NoAnswer:
        return self._transaction(
            self._ask(zvt.authorisation(payment.amount, payment.currency), "pay")
        )

    def _transaction(self, ended: Ended | NoAnswer | Answer) -> Answer | NoAnswer:
        """An authorisation's or a refund's end as the machine's answer to `pay`."""
        if not isinstance(ended, Ended):
            return ended
        if ended.refused is not None:
            return Answer("pay", "declined", reason=f"refused: {zvt.result_text(ended.refused)}")
        status = ended.status
        if status is not None and status.approved and ended.abort is None:
            return Answer("pay", "paid", transaction_id=self.reference(status), card=status.pan)
        if status is not None and not status.approved:
            return Answer("pay", "declined", reason=status.reason)
        if ended.abort is not None:
            return Answer("pay", "declined", reason=zvt.result_text(ended.abort))
        return NoAnswer("pay", "the terminal completed without telling the result")

    def _last(self, payment: Payment, call: Call) -> zvt.StatusInformation | str | NoAnswer:
        """The terminal's last transaction if it is this payment's; else why not."""
        ended = self._ask(zvt.repeat_receipt(self.password), call)
        if isinstance(ended, NoAnswer):
            return ended
        if isinstance(ended, Answer) or ended.refused is not None:
            return NoAnswer(call, "the terminal refused to repeat its last receipt")
        status = ended.status
        if status is None:
            return "the terminal has no payment to repeat: nothing was charged"
        if not (status.approved and status.amount == payment.amount):
            return (
                f"the terminal's last payment (receipt {status.receipt_number}) is not this "
                "one: nothing was charged"
            )
        if self.known(self.reference(status)):
            return (
                f"the terminal's last payment (receipt {status.receipt_number}) is an "
                "earlier sale's: nothing was charged"
            )
        return status

    def query(self, payment: Payment) -> Answer | NoAnswer:
        last = self._last(payment, "query")
        if isinstance(last, NoAnswer):
            return last
        if isinstance(last, str):
            return Answer("query", "revoked", reason=last)
        return Answer("query", "paid", transaction_id=self.reference(last), card=last.pan)

    def revoke(self, payment: Payment) -> Answer | NoAnswer:
        last_part = (payment.transaction_id or "").rpartition("-")[2]
        receipt = last_part[1:] if last_part.startswith("R") else last_part
        if not receipt:
            last = self._last(payment, "revoke")
            if isinstance(last, NoAnswer):
                return last
            if isinstance(last, str):
                return Answer("revoke", "revoked", reason=payment.reason or last)
            receipt = last.receipt_number
        ended = self._ask(zvt.reversal(self.password, receipt), "revoke")
        if not isinstance(ended, Ended):
            return ended if isinstance(ended, NoAnswer) else NoAnswer("revoke", ended.reason)
        if ended.abort is None and ended.refused is None:
            return Answer("revoke", "revoked", reason=payment.reason or "reversed at the terminal")
        code = ended.abort if ended.abort is not None else ended.refused
        if code == 0xB4:  # already reversed
            return Answer("revoke", "revoked", reason=payment.reason or "reversed at the terminal")
        assert code is not None
        return NoAnswer(
            "revoke", f"the terminal did not reverse receipt {receipt}: {zvt.result_text(code)}"
        )

    def refund(self, refund: Payment) -> Answer | NoAnswer:
        """Refund (06 31, Gutschrift) of the refund's amount to the card the customer
        presents, answered as `pay` is: approved `paid` with the terminal's references, a
        decline or an abort `declined`, silence `NoAnswer` (the refund in doubt)."""
        apdu = zvt.refund(self.password, refund.amount, refund.currency)
        return self._transaction(self._ask(apdu, "pay"))

    def refund_query(self, refund: Payment) -> Answer | NoAnswer:
        """A refund whose answer was lost: the repeat receipt says whether it went back
        (`paid`) or never reached the terminal (`unpaid`: the machine records it declined,
        nothing went back), as `query` does for a payment."""
        last = self._last(refund, "query")
        if isinstance(last, NoAnswer):
            return last
        if isinstance(last, str):
            return Answer("query", "unpaid", reason=last.replace("charged", "refunded"))
        return Answer("query", "paid", transaction_id=self.reference(last), card=last.pan)


class _Refused(Exception):
    """The terminal refused the registration: nothing was asked of the card."""
