"""Serial (RS-232 / USB-CDC) barcode scanners: pyserial adapter around `SerialScanDecoder`.

Owns the port, the read loop and reconnection; decoding stays in `devices.scanner`.
Reads wait at most `READ_SLICE` seconds, so `stop` is honoured promptly; events go to the
caller's sink (a callback or `queue.Queue.put`).
"""

from __future__ import annotations

import contextlib
import termios
import threading

import serial

from devices.events import Clock, DeviceState, DeviceStateEvent, EventSink, Role, utc_now
from devices.hotplug import connect_with_backoff
from devices.scanner import Framing, SerialScanDecoder
from devices.serial_line import open_serial, read_available

READ_SLICE = 0.1


class SerialScanner:
    def __init__(
        self,
        name: str,
        port: str,
        sink: EventSink,
        *,
        baudrate: int = 9600,
        bytesize: int = 8,
        parity: str = "N",
        stopbits: int = 1,
        framing: Framing = "any",
        prefix: str = "",
        aim_ids: bool = True,
        max_length: int = 4096,
        clock: Clock = utc_now,
        max_backoff: float = 5.0,
    ) -> None:
        self.name = name
        self.port = port
        self.sink = sink
        self.line = {
            "baudrate": baudrate,
            "bytesize": bytesize,
            "parity": parity,
            "stopbits": stopbits,
        }
        self.clock = clock
        self.max_backoff = max_backoff
        self.decoder = SerialScanDecoder(
            name, clock, framing=framing, prefix=prefix, aim_ids=aim_ids, max_length=max_length
        )
        self._state: DeviceState | None = None

    def run(self, stop: threading.Event) -> None:
        """Read and deliver scans until `stop` is set, reconnecting after unplugs."""
        while not stop.is_set():
            port = connect_with_backoff(
                self._open,
                stop,
                lambda e: self._report(DeviceState.DISCONNECTED, e.what),
                max_delay=self.max_backoff,
            )
            if port is None:
                return
            self._report(DeviceState.CONNECTED, port.port or self.port)
            try:
                self._pump(port, stop)
            except (serial.SerialException, OSError, termios.error) as exc:
                for event in self.decoder.reset():
                    self.sink(event)
                self._report(DeviceState.DISCONNECTED, f"{self.port}: {exc}")
            finally:
                with contextlib.suppress(serial.SerialException, OSError):
                    port.close()

    def _open(self) -> serial.Serial:
        return open_serial(self.port, timeout=READ_SLICE, **self.line)  # type: ignore[arg-type]

    def _pump(self, port: serial.Serial, stop: threading.Event) -> None:
        while not stop.is_set():
            data = read_available(port, READ_SLICE)
            if data:
                for event in self.decoder.feed(data):
                    self.sink(event)

    def _report(self, state: DeviceState, detail: str) -> None:
        if state != self._state:
            self._state = state
            self.sink(DeviceStateEvent(self.name, Role.SCANNER, state, detail, self.clock()))
