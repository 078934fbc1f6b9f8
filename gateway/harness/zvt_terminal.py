"""A card terminal without a card: a local TCP server speaking ZVT as a payment terminal
(PT) does, with scripted outcomes, for the tests and the demo.

It answers registration (06 00), authorisation (06 01), refund (06 31, Gutschrift),
repeat receipt (06 20), reversal (06 30) and status enquiry (05 01) with the APDUs the
specification lays out: ACK, then
intermediate status (04 FF), status information (04 0F), completion (06 0F) or abort
(06 1E), waiting for the till's ACK after each. It checks the password of every command
that carries one (a wrong one: abort, result code 0x83... and nothing charged).

`script(outcome)` sets what the next authorisations and refunds do (a refund: the money
goes back to the card, or is declined, or never answered, or lost after it went back):
- `approved`: charged; the status information carries the *full* card number in BMP 22,
  as a careless terminal might, so a test can check the till keeps only its last four;
- `declined`: status information with result code 05 ("Abgelehnt"), then abort 05;
- `silent`: the terminal answers nothing at all, not even the ACK (switched off mid-way,
  a broken network): nothing charged;
- `lost`: charged, then the connection drops before the status information goes out —
  the answer lost after the approval;
- `gone`: as `lost`, and then the terminal answers nothing (`silent` is set) until a test
  sets it back — approved, then off the network before the till could ask again;
- `slow`: as `approved`, after `delay_s` seconds of intermediate status.

`silent = True` makes the terminal answer nothing to any command until set back. The
`ledger` keeps every authorisation and refund (its receipt number, amount, reversed or
not): `charged()` is what stays charged, the refunds taken off; `refunded()` what went
back. Harness only: the box never imports it.
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from gateway.payments import zvt

OUTCOMES = ("approved", "declined", "silent", "lost", "gone", "slow")
PAN = "4111111111111111"  # the simulator's card: a test looks for it everywhere


@dataclass
class Transaction:
    receipt_number: str
    trace_number: str
    amount: Decimal
    currency: str
    approved: bool
    reversed: bool = False
    kind: Literal["payment", "refund"] = "payment"


class Hangup(Exception):
    """The till went away (or the script drops the line)."""


class ZvtTerminalSimulator:
    def __init__(
        self,
        password: str = "123456",
        terminal_id: str = "52500001",
        delay_s: float = 0.5,
    ) -> None:
        self.password = password
        self.terminal_id = terminal_id
        self.delay_s = delay_s
        self.outcomes: list[str] = []
        self.default = "approved"
        self.silent = False
        self.ledger: list[Transaction] = []
        self.requests: list[str] = []
        self.registered: list[zvt.Registered] = []
        self._lock = threading.Lock()
        self._server: socketserver.ThreadingTCPServer | None = None

    # -- life cycle ---------------------------------------------------------------------

    def start(self) -> None:
        simulator = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                simulator._serve(self.request)

        server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self._server = server
        threading.Thread(target=server.serve_forever, name="zvt-terminal", daemon=True).start()

    @property
    def port(self) -> int:
        assert self._server is not None
        port: int = self._server.server_address[1]
        return port

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> ZvtTerminalSimulator:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- the script and the ledger --------------------------------------------------------

    def script(self, *outcomes: str) -> None:
        """The next authorisations' outcomes, in turn; after them, the last one given."""
        for outcome in outcomes:
            if outcome not in OUTCOMES:
                raise ValueError(f"{outcome!r} is not one of {', '.join(OUTCOMES)}")
        with self._lock:
            self.outcomes = list(outcomes[:-1])
            self.default = outcomes[-1]

    def charged(self) -> Decimal:
        """What stays charged: approved payments not reversed, less the refunds."""
        with self._lock:
            kept = [t for t in self.ledger if t.approved and not t.reversed]
        paid = sum((t.amount for t in kept if t.kind == "payment"), Decimal(0))
        return paid - sum((t.amount for t in kept if t.kind == "refund"), Decimal(0))

    def refunded(self) -> list[Decimal]:
        """The refunds that went back to the card, in turn."""
        with self._lock:
            return [t.amount for t in self.ledger if t.kind == "refund" and t.approved]

    def wait_for(self, what: str, times: int = 1, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while self.requests.count(what) < times:
            if time.monotonic() > deadline:
                raise AssertionError(f"the terminal never saw {what} x{times}: {self.requests}")
            time.sleep(0.02)

    def _next_outcome(self) -> str:
        with self._lock:
            return self.outcomes.pop(0) if self.outcomes else self.default

    # -- one connection -------------------------------------------------------------------------

    def _serve(self, sock: socket.socket) -> None:
        buffer = b""
        with contextlib.suppress(Hangup, OSError):
            while True:
                apdu, buffer = self._read(sock, buffer)
                if self.silent:
                    continue  # a terminal that answers nothing
                self.requests.append(apdu.name)
                rest = self._command(sock, apdu, buffer)
                if rest is None:
                    return
                buffer = rest

    def _read(self, sock: socket.socket, buffer: bytes) -> tuple[zvt.Apdu, bytes]:
        while True:
            total = zvt.frame_length(buffer)
            if total is not None:
                return zvt.decode_apdu(buffer[:total]), buffer[total:]
            data = sock.recv(4096)
            if not data:
                raise Hangup
            buffer += data

    def _send(self, sock: socket.socket, apdu: zvt.Apdu, buffer: bytes) -> bytes:
        """Send one APDU of the terminal's and wait for the till's ACK."""
        sock.sendall(apdu.encode())
        answer, buffer = self._read(sock, buffer)
        if not zvt.is_ack(answer):
            raise Hangup
        return buffer

    def _command(self, sock: socket.socket, apdu: zvt.Apdu, buffer: bytes) -> bytes | None:
        """One command; what the till sent beyond it (None: the script drops the line)."""
        control, data = apdu.control, apdu.data
        with_password = (
            zvt.REGISTRATION,
            zvt.REFUND,
            zvt.REPEAT_RECEIPT,
            zvt.REVERSAL,
            zvt.STATUS_ENQUIRY,
        )
        if control in with_password and data[:3] != zvt.password_bytes(self.password):
            sock.sendall(zvt.ack().encode())
            return self._send(sock, zvt.Apdu(zvt.ABORT, b"\x83"), buffer)
        if control == zvt.REGISTRATION:
            self.registered.append(zvt.decode_registration(data))
            sock.sendall(zvt.ack().encode())
            completion = zvt.Apdu(
                zvt.COMPLETION, zvt.encode_bmps({"terminal_id": self.terminal_id})
            )
            return self._send(sock, completion, buffer)
        if control == zvt.AUTHORISATION:
            return self._authorise(sock, zvt.decode_bmps(data, "authorisation"), buffer)
        if control == zvt.REFUND:
            fields = zvt.decode_bmps(data[3:], "refund")
            return self._authorise(sock, fields, buffer, kind="refund")
        if control == zvt.REPEAT_RECEIPT:
            sock.sendall(zvt.ack().encode())
            with self._lock:
                last = self.ledger[-1] if self.ledger else None
            if last is None:
                return self._send(sock, zvt.Apdu(zvt.ABORT, b"\x83"), buffer)
            buffer = self._send(sock, self._status(last), buffer)
            return self._send(sock, zvt.Apdu(zvt.COMPLETION), buffer)
        if control == zvt.REVERSAL:
            return self._reverse(sock, zvt.decode_bmps(data[3:], "reversal"), buffer)
        if control == zvt.STATUS_ENQUIRY:
            sock.sendall(zvt.ack().encode())
            status = zvt.encode_bmps({"result_code": 0, "terminal_id": self.terminal_id})
            buffer = self._send(sock, zvt.Apdu(zvt.STATUS_INFORMATION, status), buffer)
            return self._send(sock, zvt.Apdu(zvt.COMPLETION), buffer)
        sock.sendall(zvt.nak().encode())  # a command this terminal does not know
        return buffer

    def _authorise(
        self,
        sock: socket.socket,
        fields: dict[str, zvt.Value],
        buffer: bytes,
        kind: Literal["payment", "refund"] = "payment",
    ) -> bytes | None:
        """An authorisation (money from the card) or a refund (money back to it): the same
        dialogue, the same outcomes."""
        outcome = self._next_outcome()
        if outcome == "silent":
            return buffer  # never answered: the till times out
        amount = zvt.amount_of(str(fields["amount"]))
        currency = str(fields.get("currency_code", "0978"))
        sock.sendall(zvt.ack().encode())
        buffer = self._send(sock, zvt.Apdu(zvt.INTERMEDIATE_STATUS, b"\x0a"), buffer)  # card?
        if outcome == "slow":
            deadline = time.monotonic() + self.delay_s
            while time.monotonic() < deadline:
                time.sleep(min(0.2, self.delay_s))
                buffer = self._send(sock, zvt.Apdu(zvt.INTERMEDIATE_STATUS, b"\x17"), buffer)
        if outcome == "declined":
            refused = zvt.encode_bmps(
                {
                    "result_code": 0x05,
                    "terminal_id": self.terminal_id,
                    "additional_text": "Abgelehnt",
                }
            )
            buffer = self._send(sock, zvt.Apdu(zvt.STATUS_INFORMATION, refused), buffer)
            return self._send(sock, zvt.Apdu(zvt.ABORT, b"\x05"), buffer)
        with self._lock:
            number = len(self.ledger) + 1
            transaction = Transaction(
                receipt_number=str(number).rjust(4, "0"),
                trace_number=str(number).rjust(6, "0"),
                amount=amount,
                currency=currency,
                approved=True,
                kind=kind,
            )
            self.ledger.append(transaction)
        if outcome in ("lost", "gone"):
            self.silent = outcome == "gone" or self.silent
            sock.shutdown(socket.SHUT_RDWR)  # charged; the answer never reaches the till
            return None
        buffer = self._send(sock, self._status(transaction), buffer)
        return self._send(sock, zvt.Apdu(zvt.COMPLETION), buffer)

    def _status(self, transaction: Transaction) -> zvt.Apdu:
        return zvt.Apdu(
            zvt.STATUS_INFORMATION,
            zvt.encode_bmps(
                {
                    "result_code": 0 if transaction.approved else 0x05,
                    "amount": zvt.amount_digits(transaction.amount),
                    "trace_number": transaction.trace_number,
                    "time": "120000",
                    "date": "1203",
                    "pan": PAN,
                    "terminal_id": self.terminal_id,
                    "currency_code": transaction.currency,
                    "receipt_number": transaction.receipt_number,
                    "card_name": "VISA",
                    "additional_text": "STORNO" if transaction.reversed else "",
                }
            ),
        )

    def _reverse(self, sock: socket.socket, fields: dict[str, zvt.Value], buffer: bytes) -> bytes:
        sock.sendall(zvt.ack().encode())
        number = str(fields.get("receipt_number", ""))
        with self._lock:
            found = next((t for t in self.ledger if t.receipt_number == number), None)
            if found is not None and found.approved and not found.reversed:
                found.reversed = True
            else:
                code = b"\xb4" if found is not None and found.reversed else b"\xb5"
                found = None
        if found is None:
            return self._send(sock, zvt.Apdu(zvt.ABORT, code), buffer)
        buffer = self._send(sock, self._status(found), buffer)
        return self._send(sock, zvt.Apdu(zvt.COMPLETION), buffer)
