"""ESC/POS real-time status (`DLE EOT n`) as data, and its pure decoder.

Owns the meaning of the status bytes; no I/O. Table from the Epson TM-T88 reference
[EPSON-T88III][EPSON-L60II][ITHACA] (device-protocols.md §5.2): every reply byte has bits 1
and 4 set and bits 0 and 7 clear (0x12 pattern) — a byte without that pattern is not a
status reply (a clone that echoes, or line noise) and is treated as "no answer", because
python-escpos' own `paper_status()` reports "adequate" when nothing came back, which makes
a silent printer look healthy [ESCPOS-31].
"""

from __future__ import annotations

from dataclasses import dataclass, field

from devices.events import DeviceState

DLE_EOT = b"\x10\x04"
QUERIES = (1, 2, 4)  # printer, off-line cause, roll paper
FIXED_MASK, FIXED_VALUE = 0x93, 0x12

BITS: dict[int, dict[str, int]] = {
    1: {"drawer_pin3_high": 0x04, "offline": 0x08},
    2: {"cover_open": 0x04, "feed_button": 0x08, "paper_end_stop": 0x20, "error": 0x40},
    4: {"paper_near_end": 0x0C, "paper_out": 0x60},
}


@dataclass(frozen=True, slots=True)
class PrinterStatus:
    """What the printer said; `answered` is False when it said nothing usable."""

    answered: bool
    flags: frozenset[str] = field(default_factory=frozenset)
    raw: tuple[tuple[int, int], ...] = ()

    @property
    def state(self) -> DeviceState:
        for flag, state in (
            ("paper_out", DeviceState.PAPER_OUT),
            ("paper_end_stop", DeviceState.PAPER_OUT),
            ("cover_open", DeviceState.COVER_OPEN),
            ("error", DeviceState.ERROR),
            ("offline", DeviceState.OFFLINE),
            ("paper_near_end", DeviceState.PAPER_NEAR_END),
        ):
            if flag in self.flags:
                return state
        return DeviceState.READY

    @property
    def can_print(self) -> bool:
        """Unanswered counts as "try": many printers never answer status queries."""
        return not self.answered or self.state in (DeviceState.READY, DeviceState.PAPER_NEAR_END)

    def describe(self) -> str:
        if not self.answered:
            return "status unknown (the printer does not answer DLE EOT)"
        shown = ", ".join(sorted(self.flags - {"drawer_pin3_high"})) or "ready"
        drawer = "; drawer sensor high" if "drawer_pin3_high" in self.flags else ""
        return shown + drawer


def query(n: int) -> bytes:
    return DLE_EOT + bytes([n])


def valid_reply(byte: int) -> bool:
    return byte & FIXED_MASK == FIXED_VALUE


def decode_status(replies: dict[int, int]) -> PrinterStatus:
    """Replies per query n -> PrinterStatus; invalid or missing bytes mean "no answer"."""
    usable = {n: b for n, b in replies.items() if n in BITS and valid_reply(b)}
    if not usable:
        return PrinterStatus(False)
    flags = {
        name for n, byte in usable.items() for name, mask in BITS[n].items() if byte & mask == mask
    }
    return PrinterStatus(True, frozenset(flags), tuple(sorted(usable.items())))


def status_byte(n: int, flags: set[str]) -> int:
    """The inverse, for the simulators: the byte a printer with `flags` answers to n."""
    byte = FIXED_VALUE
    for name, mask in BITS.get(n, {}).items():
        if name in flags:
            byte |= mask
    return byte
