"""A pseudo-terminal pair with a background responder thread — the serial "cable" of the
simulators. The driver opens `path` with real pyserial; the simulator owns the master side.

Owns the pty lifetime and the read loop; subclasses decide what to answer. `unplug()`
closes the master, which the driver sees exactly like a USB-serial adapter pulled out.
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
import time
import tty
from types import TracebackType
from typing import Self


class PtyDevice:
    """Base class: call `start()`, give `path` to the driver, `stop()` at the end."""

    def __init__(self, *, baudrate: int = 9600, bits_per_char: int = 10, pace: bool = True) -> None:
        self.baudrate = baudrate
        self.bits_per_char = bits_per_char
        self.pace = pace
        self.received = bytearray()
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no echo even before the driver configures the port
        self.path = os.ttyname(self._slave)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"sim {self.path}", daemon=True)
        self._lock = threading.Lock()

    # -- lifetime --------------------------------------------------------------------------
    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        self.unplug()
        with contextlib.suppress(OSError):
            os.close(self._slave)
        self._slave = -1

    def unplug(self) -> None:
        """Pull the cable: the driver's next read fails."""
        with self._lock:
            if self._master >= 0:
                with contextlib.suppress(OSError):
                    os.close(self._master)
                self._master = -1

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object | TracebackType) -> None:
        self.stop()

    # -- I/O for subclasses ------------------------------------------------------------------
    def line_time(self, count: int) -> float:
        """Seconds `count` characters take on the simulated line."""
        return count * self.bits_per_char / self.baudrate

    def send(self, data: bytes, *, after_request: int = 0) -> None:
        """Write `data`, first waiting as long as the request and the reply take on the wire."""
        if self.pace:
            self._stop.wait(self.line_time(after_request + len(data)))
        with self._lock:
            if self._master >= 0:
                with contextlib.suppress(OSError):
                    os.write(self._master, data)

    def on_bytes(self, data: bytes) -> None:
        """Bytes the driver sent; subclasses answer them."""

    def tick(self, now: float) -> None:
        """Called about every 10 ms; continuous devices send from here."""

    def _run(self) -> None:
        while not self._stop.is_set():
            master = self._master
            if master < 0:
                self._stop.wait(0.01)
                continue
            try:
                ready, _, _ = select.select([master], [], [], 0.01)
                data = os.read(master, 4096) if ready else b""
            except OSError:
                self._stop.wait(0.01)
                continue
            if data:
                self.received.extend(data)
                self.on_bytes(data)
            self.tick(time.monotonic())
