"""Customer pole displays: the 2x20 VFD on a serial port beside most tills.

Owns the command sets (as data: `CD5220` and Epson's `ESC/POS` customer-display set), the
fitting of text into 20 columns without splitting a double-byte Chinese character, and
the serial writes. What to show (last item, total, change) is decided by the caller
(gateway.screens.pole); this module knows nothing of sales or money. It opens only the
port it is given and never reads from it: these displays are write-only.

Hardware folklore, from the CD5220 manual's command set (Partner Tech):
- `ESC Q A text CR` / `ESC Q B text CR` write a whole upper / lower line, but leave the
  display in "string mode" where cursor commands are ignored until `CLR` (0x0C) or `CAN`.
  So every frame starts with `CLR`, and each line is padded to the full width so nothing
  of the previous text survives on a display that ignores the clear.
- Chinese pole displays take GB2312/GB18030 text: a Chinese character is two bytes and
  two columns wide. Fitting counts encoded bytes, so a cut never leaves half a character
  (which such displays show as a random glyph and which shifts the rest of the line).
"""

from __future__ import annotations

import contextlib
import termios
import threading
from dataclasses import dataclass
from typing import Literal

import serial

from devices.errors import DeviceNotFound
from devices.serial_line import open_serial

ESC, CLR, CR, US = b"\x1b", b"\x0c", b"\x0d", b"\x1f"
WIDTH = 20
Align = Literal["left", "right", "center"]
# GB2312 displays have no half-width yen (GB18030 makes it four bytes): use the full-width.
SUBSTITUTES = {"gb2312": {"¥": "￥"}, "gbk": {"¥": "￥"}, "gb18030": {"¥": "￥"}}


@dataclass(frozen=True)
class CommandSet:
    """The bytes one family of displays wants for: reset, clear, and each of two lines."""

    name: str
    init: bytes
    clear: bytes
    line_prefix: tuple[bytes, bytes]
    line_suffix: bytes


COMMAND_SETS: dict[str, CommandSet] = {
    # CD5220 (and the many clones that call it "CD5220 mode"): string-mode line commands.
    "cd5220": CommandSet(
        "cd5220", init=ESC + b"@", clear=CLR, line_prefix=(ESC + b"QA", ESC + b"QB"), line_suffix=CR
    ),
    # Epson ESC/POS customer displays (DM-D series): overwrite mode, then US $ col row.
    "escpos": CommandSet(
        "escpos",
        init=ESC + b"@" + US + b"\x01",
        clear=CLR,
        line_prefix=(US + b"$\x01\x01", US + b"$\x01\x02"),
        line_suffix=b"",
    ),
}


def fit(text: str, encoding: str, width: int = WIDTH, align: Align = "left") -> bytes:
    """`text` encoded and padded or cut to exactly `width` columns (one byte = one column).

    Characters the display cannot show become '?'; a character that would cross the last
    column is dropped whole, never cut in half.
    """
    out = bytearray()
    swap = SUBSTITUTES.get(encoding.lower().replace("-", ""), {})
    for char in text.replace("\n", " "):
        char = swap.get(char, char)
        try:
            encoded = char.encode(encoding)
        except UnicodeEncodeError:
            encoded = b"?"
        if len(encoded) > 2 or not char.isprintable():
            encoded = b"?"  # GB18030's four-byte characters have no glyph on a VFD
        if len(out) + len(encoded) > width:
            break
        out += encoded
    room = width - len(out)
    if align == "right":
        return b" " * room + bytes(out)
    if align == "center":
        return b" " * (room // 2) + bytes(out) + b" " * (room - room // 2)
    return bytes(out) + b" " * room


def columns(text: str, encoding: str) -> int:
    """How many display columns `text` takes (its encoded length, '?' for the unshowable)."""
    return len(fit(text, encoding, width=10_000).rstrip(b" ")) if text.strip() else 0


def frame(commands: CommandSet, top: bytes, bottom: bytes) -> bytes:
    """One full screen: clear, then both lines (each already `fit` to the width)."""
    return (
        commands.clear
        + commands.line_prefix[0]
        + top
        + commands.line_suffix
        + commands.line_prefix[1]
        + bottom
        + commands.line_suffix
    )


def two_columns(left: str, right: str, encoding: str, width: int = WIDTH) -> bytes:
    """`left` then `right` flush right on one line; the right part (a price) always wins."""
    right_bytes = fit(right, encoding, width, "right").lstrip(b" ")
    room = width - len(right_bytes) - (1 if right_bytes else 0)
    left_bytes = fit(left, encoding, max(room, 0)).rstrip(b" ") if room > 0 else b""
    gap = width - len(left_bytes) - len(right_bytes)
    return left_bytes + b" " * gap + right_bytes


class PoleDisplay:
    """A pole display on `port`; `show(top, bottom)` puts two lines on it.

    Writes are serialised by a lock (the screens' feed and a technician's test may both
    write). A write that fails marks the display disconnected and it reopens on the next
    `show`, so a display plugged back in comes back without a restart.
    """

    def __init__(
        self,
        port: str,
        *,
        command_set: str = "cd5220",
        encoding: str = "ascii",
        baudrate: int = 9600,
        timeout: float = 1.0,
    ) -> None:
        if command_set not in COMMAND_SETS:
            raise ValueError(
                f"unknown pole display command set {command_set!r}; "
                f"use one of {', '.join(COMMAND_SETS)}"
            )
        "x".encode(encoding)  # an unknown encoding fails here, at configuration time
        self.port_pattern = port
        self.commands = COMMAND_SETS[command_set]
        self.encoding = encoding
        self.baudrate = baudrate
        self.timeout = timeout
        self._port: serial.Serial | None = None
        self._lock = threading.Lock()
        self.shown: tuple[bytes, bytes] | None = None

    def open(self) -> None:
        """Open the port and reset the display (ESC @) so it starts from a known state."""
        with self._lock:
            self._open_locked()

    def _open_locked(self) -> None:
        if self._port is None:
            self._port = open_serial(
                self.port_pattern,
                baudrate=self.baudrate,
                bytesize=8,
                parity="N",
                stopbits=1,
                timeout=self.timeout,
            )
            self._write_locked(self.commands.init)

    def close(self) -> None:
        with self._lock:
            self._close_locked()

    def _close_locked(self) -> None:
        if self._port is not None:
            with contextlib.suppress(OSError, serial.SerialException):
                self._port.close()
            self._port = None

    def __enter__(self) -> PoleDisplay:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def show(
        self, top: str, bottom: str, *, top_align: Align = "left", bottom_align: Align = "right"
    ) -> None:
        """Show two lines of text, each fitted to the width."""
        self.show_bytes(
            fit(top, self.encoding, WIDTH, top_align),
            fit(bottom, self.encoding, WIDTH, bottom_align),
        )

    def show_pair(self, top: tuple[str, str], bottom: tuple[str, str]) -> None:
        """Show two lines each made of a label and a right-aligned value (name, price)."""
        self.show_bytes(two_columns(*top, self.encoding), two_columns(*bottom, self.encoding))

    def show_bytes(self, top: bytes, bottom: bytes) -> None:
        """Send a frame; raises DeviceNotFound (with a fix) when the display is gone."""
        with self._lock:
            self._open_locked()
            self._write_locked(frame(self.commands, top, bottom))
            self.shown = (top, bottom)

    def _write_locked(self, data: bytes) -> None:
        assert self._port is not None
        try:
            self._port.write(data)
            self._port.flush()
        except (OSError, serial.SerialException, termios.error) as exc:
            self._close_locked()
            raise DeviceNotFound(
                f"pole display on {self.port_pattern} stopped taking data: {exc}",
                where=self.port_pattern,
                fix="check the display's cable and power",
            ) from exc
