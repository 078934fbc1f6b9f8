"""A serial barcode scanner on a pty: `scan("]E04006381333931")` sends one code with the
configured suffix (CR by default [POSIFLEX]), paced like a 9600-baud line if asked."""

from __future__ import annotations

from devices.simulators.pty import PtyDevice

SUFFIXES = {"cr": b"\r", "lf": b"\n", "crlf": b"\r\n", "none": b""}


class SerialScannerSimulator(PtyDevice):
    def __init__(
        self, *, suffix: str = "cr", prefix: bytes = b"", baudrate: int = 9600, pace: bool = False
    ) -> None:
        super().__init__(baudrate=baudrate, bits_per_char=10, pace=pace)
        self.suffix = SUFFIXES[suffix]
        self.prefix = prefix

    def scan(self, code: str | bytes) -> None:
        data = code.encode() if isinstance(code, str) else code
        self.send(self.prefix + data + self.suffix)

    def raw(self, data: bytes) -> None:
        """Exactly these bytes: line noise, half a frame, a runaway scanner."""
        self.send(data)
