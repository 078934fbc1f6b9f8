"""A 2x20 customer pole display on a pty: decodes what it receives into the two lines shown.

Understands both command sets of `devices.pole_display` (CD5220 string mode `ESC Q A/B
... CR`, and the Epson customer-display cursor move `US $ col row`) plus the plain
cursor bytes every such display honours (CLR, CAN, HOME, CR, LF, BS, `ESC l x y`), in
overwrite mode. Anything else is kept in `unknown` so a test sees a driver sending bytes
a real display would misread. Screen cells hold bytes; `lines` decodes them with the
display's encoding (GB18030 for a Chinese display), so a half character shows as U+FFFD.
"""

from __future__ import annotations

import threading

from devices.simulators.pty import PtyDevice

ESC, CLR, CAN, HOME, CR, LF, BS, US = 0x1B, 0x0C, 0x18, 0x0B, 0x0D, 0x0A, 0x08, 0x1F
# Escape sequences the decoder accepts, by the byte after ESC: how many argument bytes.
ESC_ARGS = {
    ord("@"): 0,
    ord("l"): 2,
    ord("*"): 1,
    ord("_"): 1,
    ord("f"): 1,
    0x11: 0,
    0x12: 0,
    0x13: 0,
}
US_ARGS = {0x01: 0, 0x02: 0, 0x03: 0, ord("$"): 2, ord("X"): 1, ord("C"): 1}


class PoleDisplayScreen:
    """The display's memory and cursor, fed bytes (pure: no I/O)."""

    def __init__(self, width: int = 20, encoding: str = "ascii") -> None:
        self.width = width
        self.encoding = encoding
        self.cells = [bytearray(b" " * width), bytearray(b" " * width)]
        self.row = self.col = 0
        self.unknown = bytearray()
        self.frames = 0  # completed ESC Q B lines (one per frame the driver sends)
        self._pending = bytearray()

    @property
    def lines(self) -> tuple[str, str]:
        return (
            self.cells[0].decode(self.encoding, "replace"),
            self.cells[1].decode(self.encoding, "replace"),
        )

    def feed(self, data: bytes) -> None:
        self._pending += data
        while self._pending:
            used = self._step(bytes(self._pending))
            if used == 0:
                return  # an incomplete command: wait for more bytes
            del self._pending[:used]

    def _step(self, data: bytes) -> int:
        """Consume one byte or one whole command from `data`; 0 if it is incomplete."""
        first = data[0]
        if first == ESC:
            return self._escape(data)
        if first == US:
            return self._unit(data)
        self._control_or_char(first)
        return 1

    def _control_or_char(self, byte: int) -> None:
        if byte == CLR:
            self.cells = [bytearray(b" " * self.width), bytearray(b" " * self.width)]
            self.row = self.col = 0
        elif byte == CAN:
            self.cells[self.row][:] = b" " * self.width
            self.col = 0
        elif byte == HOME:
            self.row = self.col = 0
        elif byte == CR:
            self.col = 0
        elif byte == LF:
            self.row = 1
        elif byte == BS:
            self.col = max(self.col - 1, 0)
        elif byte >= 0x20:
            self._put(byte)
        else:
            self.unknown.append(byte)

    def _put(self, byte: int) -> None:
        if self.col >= self.width:
            return  # overwrite mode: text past the last column is lost
        self.cells[self.row][self.col] = byte
        self.col += 1

    def _escape(self, data: bytes) -> int:
        if len(data) < 2:
            return 0
        op = data[1]
        if op == ord("Q"):
            return self._string_line(data)
        if op not in ESC_ARGS:
            self.unknown += data[:2]
            return 2
        need = 2 + ESC_ARGS[op]
        if len(data) < need:
            return 0
        if op == ord("@"):
            self._control_or_char(CLR)
        elif op == ord("l"):
            self._move(data[2], data[3])
        return need

    def _string_line(self, data: bytes) -> int:
        """ESC Q A/B text CR: a whole line at once (ESC Q D scrolls: shown on line 1)."""
        if len(data) < 3:
            return 0
        end = data.find(bytes([CR]), 3)
        if end < 0:
            return 0
        row = {ord("A"): 0, ord("B"): 1, ord("D"): 0}.get(data[2])
        if row is None:
            self.unknown += data[: end + 1]
            return end + 1
        text = data[3:end][: self.width]
        self.cells[row][:] = text + b" " * (self.width - len(text))
        if row == 1:
            self.frames += 1
        return end + 1

    def _unit(self, data: bytes) -> int:
        if len(data) < 2:
            return 0
        op = data[1]
        if op not in US_ARGS:
            self.unknown += data[:2]
            return 2
        need = 2 + US_ARGS[op]
        if len(data) < need:
            return 0
        if op == ord("$"):
            self._move(data[2], data[3])
            if data[3] == 2:
                self.frames += 1
        return need

    def _move(self, col: int, row: int) -> None:
        """Columns and rows count from 1 on the wire."""
        self.col = min(max(col - 1, 0), self.width)
        self.row = min(max(row - 1, 0), 1)


class PoleDisplaySimulator(PtyDevice):
    """The display on a pty: give `path` to `PoleDisplay`, read `lines` back."""

    def __init__(self, *, width: int = 20, encoding: str = "ascii", baudrate: int = 9600) -> None:
        super().__init__(baudrate=baudrate, pace=False)
        self.screen = PoleDisplayScreen(width, encoding)
        self._changed = threading.Condition()

    @property
    def lines(self) -> tuple[str, str]:
        with self._changed:
            return self.screen.lines

    def on_bytes(self, data: bytes) -> None:
        with self._changed:
            self.screen.feed(data)
            self._changed.notify_all()

    def wait_for(
        self, top: str | None = None, bottom: str | None = None, timeout: float = 5.0
    ) -> tuple[str, str]:
        """Wait until the lines (stripped) equal what is given; returns them either way."""

        def shown() -> bool:
            a, b = self.screen.lines
            return (top is None or a.strip() == top.strip()) and (
                bottom is None or b.strip() == bottom.strip()
            )

        with self._changed:
            self._changed.wait_for(shown, timeout)
            return self.screen.lines
