"""Barcode scanners: finished lines (from a wedge or a serial line) -> `ScanEvent`s.

Owns AIM symbology identifiers, prefix stripping, serial framing (CR / LF / CR LF) and the
scanner-side checks (line noise, overlong input). Pure: fed bytes or `evdev.InputEvent`s,
stamped with an injected clock; the pyserial and evdev adapters live in
`devices.serial_scanner` and `devices.inputs`.

Sources: AIM identifiers are `]` + code letter + modifier, ISO/IEC 15424
[HONEYWELL-AIM][DATALOGIC-AIM]; GS1 values from [BIIP-SYMB][NT8080]; serial suffix CR by
default, CR LF / LF selectable [POSIFLEX][HANDHELD-3220] (device-protocols.md §2.4).
"""

from __future__ import annotations

import re
from typing import Literal

from devices.events import Clock, DecodeFault, Role, ScanEvent
from devices.keymaps import Keymap
from devices.wedge import (
    KeyboardWedgeDecoder,
    KeyEventLike,
    Terminator,
    WedgeFault,
    WedgeOutput,
)
from gateway.cardsafe import has_track_data

# AIM identifier -> symbology. Exact identifiers first, then per code letter.
AIM_EXACT: dict[str, str] = {
    "]E0": "EAN-13/UPC",
    "]E1": "EAN/UPC 2-digit add-on",
    "]E2": "EAN/UPC 5-digit add-on",
    "]E3": "EAN/UPC with add-on",
    "]E4": "EAN-8",
    "]C1": "GS1-128",
    "]e0": "GS1 DataBar",
    "]d2": "GS1 DataMatrix",
    "]Q3": "GS1 QR Code",
    "]J1": "GS1 DotCode",
    "]I1": "ITF-14",
}
AIM_LETTER: dict[str, str] = {
    "A": "Code 39",
    "C": "Code 128",
    "d": "Data Matrix",
    "E": "EAN/UPC",
    "e": "GS1 DataBar",
    "F": "Codabar",
    "G": "Code 93",
    "I": "Interleaved 2 of 5",
    "J": "DotCode",
    "L": "PDF417",
    "Q": "QR Code",
    "z": "Aztec",
    "X": "other",
}
AIM_PATTERN = re.compile(r"^\][A-Za-z][0-9A-Za-z]")
# Printable text plus the GS1 separators a scanner may pass through (GS, RS, EOT).
ALLOWED_CONTROLS = frozenset("\x1d\x1e\x04")
Framing = Literal["cr", "lf", "crlf", "any"]


def symbology_of(aim_id: str) -> str:
    return AIM_EXACT.get(aim_id) or AIM_LETTER.get(aim_id[1], "unknown")


def split_scan(text: str, *, prefix: str = "", aim_ids: bool = True) -> tuple[str, str | None]:
    """Remove the configured prefix and a leading AIM identifier: (data, aim_id)."""
    if prefix and text.startswith(prefix):
        text = text[len(prefix) :]
    if aim_ids and AIM_PATTERN.match(text):
        return text[3:], text[:3]
    return text, None


def carries_payment_track(text: str) -> bool:
    """A magstripe swipe on a scanner-role device (keyboard with an MSR, misconfigured
    reader) must never become a ScanEvent: the track would be logged and journaled. (A
    card number alone reaches the lane, which refuses it unless a product has that code.)"""
    return has_track_data(text)


def garbled(text: str) -> bool:
    """Control characters other than GS1 separators mean line noise or a wrong baud rate."""
    return any(
        ((ord(c) < 32 or 0x7F <= ord(c) < 0xA0) and c not in ALLOWED_CONTROLS) or c == "\ufffd"
        for c in text
    )


class ScanFramer:
    """Shared tail of both scanner kinds: a finished line -> ScanEvent or DecodeFault."""

    def __init__(
        self, device: str, clock: Clock, *, prefix: str = "", aim_ids: bool = True
    ) -> None:
        self.device = device
        self.clock = clock
        self.prefix = prefix
        self.aim_ids = aim_ids

    def line(self, text: str) -> ScanEvent | DecodeFault | None:
        if carries_payment_track(text):
            return self.fault(
                "card data on a scanner",
                "a payment card track arrived on a scanner and was discarded; "
                "configure this device as a card reader",
            )
        if garbled(text):
            return self.fault(
                "garbled scan",
                f"{len(text)} characters with control bytes (baud rate or parity wrong?)",
            )
        data, aim_id = split_scan(text, prefix=self.prefix, aim_ids=self.aim_ids)
        if not data:
            return None
        symbology = symbology_of(aim_id) if aim_id else None
        return ScanEvent(self.device, data, symbology, aim_id, self.clock())

    def fault(self, reason: str, detail: str) -> DecodeFault:
        return DecodeFault(self.device, Role.SCANNER, reason, detail, self.clock())


class SerialScanDecoder:
    """Bytes from a serial scanner -> events. Framing by terminator, never by timeout."""

    def __init__(
        self,
        device: str,
        clock: Clock,
        *,
        framing: Framing = "any",
        prefix: str = "",
        aim_ids: bool = True,
        max_length: int = 4096,
    ) -> None:
        self.framer = ScanFramer(device, clock, prefix=prefix, aim_ids=aim_ids)
        self.framing = framing
        self.max_length = max_length
        self._buffer = bytearray()
        self._discarding = False

    def feed(self, data: bytes) -> list[ScanEvent | DecodeFault]:
        out: list[ScanEvent | DecodeFault] = []
        self._buffer.extend(data)
        while True:
            frame = self._next_frame()
            if frame is None:
                break
            if self._discarding:
                self._discarding = False
                continue
            event = self.framer.line(_text(frame.strip(b"\x02\x03")))
            if event is not None:
                out.append(event)
        if len(self._buffer) > self.max_length:
            self._buffer.clear()
            if not self._discarding:
                self._discarding = True
                out.append(
                    self.framer.fault(
                        "scan too long",
                        f"more than {self.max_length} bytes without {self.framing.upper()} "
                        "(suffix setting of the scanner?)",
                    )
                )
        return out

    def reset(self) -> list[ScanEvent | DecodeFault]:
        """The line was lost (unplug): a partial scan is reported, never completed later."""
        had = bool(self._buffer)
        self._buffer.clear()
        self._discarding = False
        return (
            [self.framer.fault("partial scan dropped", "device went away mid-scan")] if had else []
        )

    def _next_frame(self) -> bytes | None:
        buf = self._buffer
        if self.framing == "crlf":
            end = buf.find(b"\r\n")
            size = 2
        else:
            terminators = {"cr": b"\r", "lf": b"\n", "any": b"\r\n"}[self.framing]
            positions = [p for p in (buf.find(bytes([t])) for t in terminators) if p >= 0]
            end = min(positions) if positions else -1
            size = 1
        if end < 0:
            return None
        frame = bytes(buf[:end])
        del buf[: end + size]
        return frame


class WedgeScanDecoder:
    """Key events from a wedge scanner -> events."""

    def __init__(
        self,
        device: str,
        clock: Clock,
        keymap: Keymap,
        *,
        terminator: Terminator = "enter",
        inter_key_timeout: float = 0.1,
        max_length: int = 4096,
        prefix: str = "",
        aim_ids: bool = True,
    ) -> None:
        self.framer = ScanFramer(device, clock, prefix=prefix, aim_ids=aim_ids)
        self.keys = KeyboardWedgeDecoder(
            keymap,
            terminator=terminator,
            inter_key_timeout=inter_key_timeout,
            max_length=max_length,
        )

    def feed(self, event: KeyEventLike) -> list[ScanEvent | DecodeFault]:
        return self._convert(self.keys.feed(event))

    def expire(self, now: float) -> list[ScanEvent | DecodeFault]:
        return self._convert(self.keys.expire(now))

    def reset(self) -> list[ScanEvent | DecodeFault]:
        return self._convert(self.keys.reset())

    def _convert(self, outputs: list[WedgeOutput]) -> list[ScanEvent | DecodeFault]:
        events: list[ScanEvent | DecodeFault] = []
        for item in outputs:
            if isinstance(item, WedgeFault):
                events.append(self.framer.fault(item.reason, item.detail))
            else:
                event = self.framer.line(item.text)
                if event is not None:
                    events.append(event)
        return events


def _text(frame: bytes) -> str:
    """UTF-8 (QR codes carry it); undecodable bytes become U+FFFD and count as garbled."""
    return frame.decode("utf-8", errors="replace")
