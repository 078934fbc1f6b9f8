"""A scale on a pseudo-terminal, speaking one protocol of `devices.scale_protocols`.

Configurable to answer like a healthy scale (stable / motion / zero / under zero / over
capacity / error) or like a broken set-up (garbage, the wrong protocol, silence, half a
frame). Replies are paced to the line speed (start + data + parity + stop bits per byte),
so round-trip figures over the pty are comparable with a real 9600-baud cable.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Literal

from devices.scale_protocols import PROTOCOLS, ScaleProtocol
from devices.simulators.pty import PtyDevice

Mode = Literal[
    "stable",
    "motion",
    "zero",
    "under_zero",
    "over_capacity",
    "error",
    "garbage",
    "wrong_protocol",
    "silent",
    "partial",
]
MODES: tuple[str, ...] = Mode.__args__  # type: ignore[attr-defined]
GARBAGE = b"\xfe\x13\x8f\x7f\x1b\xc3"


class ScaleSimulator(PtyDevice):
    def __init__(
        self,
        protocol: str,
        *,
        weight: Decimal | str = "1.234",
        unit: str = "kg",
        mode: Mode = "stable",
        net: bool = False,
        pace: bool = True,
        interval: float = 0.1,
    ) -> None:
        self.protocol: ScaleProtocol = PROTOCOLS[protocol]
        super().__init__(
            baudrate=self.protocol.baudrate, bits_per_char=self.protocol.bits_per_char(), pace=pace
        )
        self.weight = Decimal(weight)
        self.unit = unit
        self.mode: Mode = mode
        self.net = net
        self.interval = interval
        self.commands: list[bytes] = []
        self._pending = bytearray()
        self._next_stream = 0.0

    def set(self, *, mode: Mode | None = None, weight: Decimal | str | None = None) -> None:
        if mode is not None:
            self.mode = mode
        if weight is not None:
            self.weight = Decimal(weight)

    # -- request/response ----------------------------------------------------------------
    def on_bytes(self, data: bytes) -> None:
        self._pending.extend(data)
        for command in self._commands():
            self.commands.append(command)
            reply = self.reply(command)
            if reply:
                self.send(reply, after_request=len(command))

    def _commands(self) -> list[bytes]:
        out = []
        if self.protocol.name == "toledo8217":  # single letters, no terminator
            out = [bytes([b]) for b in self._pending]
            self._pending.clear()
            return out
        while (
            end := min(
                (i for i in (self._pending.find(b"\r"), self._pending.find(b"\n")) if i >= 0),
                default=-1,
            )
        ) >= 0:
            if self._pending[end : end + 2] == b"\r\n":
                end += 1  # CR LF ends MT-SICS commands: both characters were on the wire
            command = bytes(self._pending[: end + 1])
            del self._pending[: end + 1]
            if command.strip():
                out.append(command)
        return out

    def tick(self, now: float) -> None:
        if not self.protocol.continuous or now < self._next_stream:
            return
        self._next_stream = now + self.interval
        frame = self.reply(b"")
        if frame:
            self.send(frame)

    def reply(self, command: bytes) -> bytes:
        """The bytes this scale answers to `command` in its current mode."""
        mode = self.mode
        if mode == "silent":
            return b""
        if mode == "garbage":
            return GARBAGE + self.protocol.frame_end
        if mode == "wrong_protocol":
            return b"\x0201.234\r" if self.protocol.name == "mtsics" else b"S S      1.234 kg\r\n"
        build: Callable[[bytes, str], bytes] = getattr(self, f"_{self.protocol.name}")
        frame = build(command.strip(), mode)
        return frame[: len(frame) // 2] if mode == "partial" else frame

    def _value(self, mode: str) -> Decimal:
        if mode == "zero":
            return Decimal("0.000")
        return -abs(self.weight) if mode == "under_zero" else self.weight

    def _toledo8217(self, command: bytes, mode: str) -> bytes:
        status = {"motion": 0x41, "under_zero": 0x44, "over_capacity": 0x42, "error": 0x40}
        if command in (b"Z", b"T", b"C"):
            return b"\x02?" + bytes([0x41 if mode == "motion" else 0x50]) + b"\r"
        if command != b"W":
            return b""  # an 8217 scale ignores unknown letters
        if mode in status:
            return b"\x02?" + bytes([status[mode] | (0x20 if self.net else 0)]) + b"\r"
        places = 2 if self.unit == "lb" else 3
        text = f"{self._value(mode):0{places + 3}.{places}f}"
        return b"\x02" + text.encode() + (b"N" if self.net else b"") + b"\r"

    def _nci(self, command: bytes, mode: str) -> bytes:
        status = {"motion": b"10", "under_zero": b"01", "over_capacity": b"02", "error": b"40"}
        if command == b"Z" or command == b"S":
            return b"\n" + (b"10" if mode == "motion" else b"20") + b"\r\x03"
        if command != b"W":
            return b"\n?\r\x03"
        if mode in status:
            return b"\n" + status[mode] + b"\r\x03"
        code = b"20" if mode == "zero" else b"00"
        text = f"{self._value(mode):06.3f}{self.unit.upper()}"
        return b"\n" + text.encode() + b"\r\n" + code + b"\r\x03"

    def _mtsics(self, command: bytes, mode: str) -> bytes:
        if command == b"Z":
            return b"Z I\r\n" if mode == "motion" else b"Z A\r\n"
        if command == b"T":
            return (
                b"T I\r\n"
                if mode == "motion"
                else f"T S {self.weight:>10} {self.unit}\r\n".encode()
            )
        if command not in (b"S", b"SI"):
            return b"ES\r\n"
        fixed = {"over_capacity": b"S +\r\n", "under_zero": b"S -\r\n", "error": b"EL\r\n"}
        if mode in fixed:
            return fixed[mode]
        if mode == "motion" and command == b"S":
            return b"S I\r\n"
        kind = "D" if mode == "motion" else "S"
        return f"S {kind} {self._value(mode):>10} {self.unit}\r\n".encode()

    def _cas(self, command: bytes, mode: str) -> bytes:
        if mode == "error":
            return b"ERR 03\r\n"
        head = {"motion": b"US", "over_capacity": b"OL"}.get(mode, b"ST")
        kind = b"NT" if self.net else b"GS"
        lamp = bytes([0x80 | (0x40 if head == b"ST" else 0) | (0x01 if mode == "zero" else 0)])
        weight = f"{self._value(mode):08.3f}".encode()
        return (
            head + b"," + kind + b",1" + lamp + b"," + weight + b" " + self.unit.encode() + b"\r\n"
        )
