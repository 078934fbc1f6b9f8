"""Serial scales through pyserial: one request/reply exchange, retries, and a monitor
that polls, reconnects and reports state changes.

Owns the port and time; protocol knowledge stays in `devices.scale_protocols` (pure).
Every call is bounded: `read_weight()` blocks at most `(retries + 1) * reply_timeout`
plus `retries * RETRY_PAUSE` — the NCI specification says one second is an adequate host
time-out [DIVA-NCI]; Odoo's 8217 driver also uses 1 s [ODOO-SSD].
"""

from __future__ import annotations

import contextlib
import termios
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import TypeVar

import serial
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_fixed

from devices.errors import DeviceError, DeviceNotFound, ScaleGarbled, ScaleNoAnswer
from devices.events import (
    Clock,
    DeviceState,
    DeviceStateEvent,
    EventSink,
    Role,
    WeightReading,
    WeightStatus,
    utc_now,
)
from devices.scale_protocols import PROTOCOLS, CommandResult, ScaleProtocol, ScaleReader
from devices.serial_line import open_serial, read_available

RETRY_PAUSE = 0.05
T = TypeVar("T")


class SerialScale:
    """One scale on one serial port. Exchanges are serialised by a lock, so the monitor's
    polling and a lane's zero/tare request never interleave on the line."""

    def __init__(
        self,
        name: str,
        protocol: str | ScaleProtocol,
        port: str,
        *,
        baudrate: int | None = None,
        bytesize: int | None = None,
        parity: str | None = None,
        stopbits: int | None = None,
        reply_timeout: float = 1.0,
        retries: int = 2,
        unit: str | None = None,
        mtsics_command: str = "SI",
        capacity: Decimal | None = None,
        clock: Clock = utc_now,
    ) -> None:
        if isinstance(protocol, str):
            if protocol not in PROTOCOLS:
                raise DeviceError(
                    f"unknown scale protocol {protocol!r}", fix=f"use one of {', '.join(PROTOCOLS)}"
                )
            protocol = PROTOCOLS[protocol]
        self.name = name
        self.protocol = protocol
        self.port = port
        self.baudrate = baudrate or protocol.baudrate
        self.bytesize = bytesize or protocol.bytesize
        self.parity = parity or protocol.parity
        self.stopbits = stopbits or protocol.stopbits
        self.reply_timeout = reply_timeout
        self.retries = retries
        self.capacity = capacity
        self.clock = clock
        self.weigh_command = (
            f"{mtsics_command}\r\n".encode()
            if protocol.name == "mtsics"
            else protocol.weigh_command
        )
        self.reader = ScaleReader(protocol, unit)
        self._serial: serial.Serial | None = None
        self._lock = threading.RLock()

    # -- connection ------------------------------------------------------------------------
    def open(self) -> None:
        if self._serial is None:
            self._serial = open_serial(
                self.port,
                baudrate=self.baudrate,
                bytesize=self.bytesize,
                parity=self.parity,
                stopbits=self.stopbits,
                timeout=self.reply_timeout,
            )

    def close(self) -> None:
        if self._serial is not None:
            with contextlib.suppress(serial.SerialException, OSError):
                self._serial.close()
            self._serial = None

    def __enter__(self) -> SerialScale:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- operations --------------------------------------------------------------------------
    def read_weight(self) -> WeightReading:
        """One reading, retried on silence or garbage; raises ScaleNoAnswer / ScaleGarbled."""
        with self._lock:
            return self._retrying(self._read_once)

    def zero(self) -> CommandResult:
        with self._lock:
            return self._command(self.protocol.zero_command, "zero")

    def tare(self) -> CommandResult:
        with self._lock:
            return self._command(self.protocol.tare_command, "tare")

    def line_time(self, frame_bytes: int) -> float:
        """Seconds `frame_bytes` characters take on this line (the benchmark's yardstick)."""
        return (
            frame_bytes
            * self.protocol.bits_per_char(self.bytesize, self.parity, self.stopbits)
            / self.baudrate
        )

    # -- internals ---------------------------------------------------------------------------
    def _retrying(self, action: Callable[[], T]) -> T:
        retrying = Retrying(
            stop=stop_after_attempt(self.retries + 1),
            wait=wait_fixed(RETRY_PAUSE),
            retry=retry_if_exception_type((ScaleNoAnswer, ScaleGarbled)),
            reraise=True,
        )
        return retrying(action)

    def _read_once(self) -> WeightReading:
        frame = self._exchange(self.weigh_command)
        answer = self.reader.protocol.parse(frame, self.reader.unit)
        if answer.garbled:
            raise ScaleGarbled(
                f"{self.name}: {answer.detail}",
                where=f"{self.port} ({self.protocol.name}, {self._line()})",
                fix="check the protocol selected in the scale's set-up menu matches "
                f"'{self.protocol.name}', and the baud rate / parity",
            )
        status, detail = answer.status, answer.detail
        if (
            status is WeightStatus.STABLE
            and self.capacity is not None
            and answer.weight is not None
            and answer.weight > self.capacity
        ):
            status, detail = (
                WeightStatus.OVER_CAPACITY,
                f"above the configured capacity {self.capacity}",
            )
        return WeightReading(
            self.name, answer.weight, answer.unit, status, frame, self.clock(), answer.net, detail
        )

    def _command(self, command: bytes | None, what: str) -> CommandResult:
        if command is None or self.protocol.parse_ack is None:
            return CommandResult(False, f"{self.protocol.title} has no {what} command")
        frame = self._retrying(lambda: self._exchange(command))
        return self.protocol.parse_ack(frame)

    def _exchange(self, command: bytes | None) -> bytes:
        """Send `command` (None: just listen) and return the first complete frame."""
        port = self._port()
        splitter = self.reader.splitter
        try:
            port.reset_input_buffer()
            if command is None:
                splitter.resync()
            else:
                splitter.clear()
                port.write(command)
            return self._await_frame(port)
        except (serial.SerialException, OSError, termios.error) as exc:
            self.close()
            raise DeviceNotFound(
                f"{self.name}: the port went away ({exc})",
                where=self.port,
                fix="check the cable; the monitor reconnects by itself",
            ) from exc

    def _await_frame(self, port: serial.Serial) -> bytes:
        deadline = time.monotonic() + self.reply_timeout
        received = 0
        while (remaining := deadline - time.monotonic()) > 0:
            chunk = read_available(port, remaining)
            if not chunk:
                continue
            received += len(chunk)
            frames = self.reader.splitter.feed(chunk)
            if frames:
                return frames[0]
        if received:
            raise ScaleGarbled(
                f"{self.name}: {received} bytes but no complete {self.protocol.title} frame "
                f"within {self.reply_timeout:g} s",
                where=f"{self.port} ({self._line()})",
                fix="wrong protocol, baud rate or parity? (8217 and NCI use 7E1, MT-SICS and "
                "CAS usually 8N1)",
            )
        if self.protocol.continuous:
            fix = (
                f"{self.protocol.title} scales send readings by themselves: enable continuous "
                "output in the scale's set-up menu, or choose the protocol it speaks "
                "(wrong baud rate or protocol?)"
            )
        else:
            fix = (
                f"wrong baud rate or protocol? check the scale is on and cabled (null-modem?) "
                f"and its interface is set to {self.protocol.title}, {self._line()}"
            )
        raise ScaleNoAnswer(
            f"{self.name}: no answer within {self.reply_timeout:g} s",
            where=f"{self.port} ({self.protocol.name}, {self._line()})",
            fix=fix,
        )

    def _port(self) -> serial.Serial:
        self.open()
        assert self._serial is not None
        return self._serial

    def _line(self) -> str:
        return f"{self.baudrate} {self.bytesize}{self.parity}{self.stopbits}"


class ScaleMonitor:
    """Polls a scale, delivers readings when they change, reconnects with backoff.

    Runs in the caller's thread until `stop` is set (the daemon gives it one); every wait
    is `stop.wait(...)`, so stopping takes effect within one reply timeout.
    """

    def __init__(
        self,
        scale: SerialScale,
        sink: EventSink,
        *,
        poll_interval: float = 0.3,
        max_backoff: float = 5.0,
    ) -> None:
        self.scale = scale
        self.sink = sink
        self.poll_interval = poll_interval
        self.max_backoff = max_backoff
        self._state: DeviceState | None = None
        self._last: tuple[object, ...] | None = None

    def run(self, stop: threading.Event) -> None:
        backoff = 0.1
        while not stop.is_set():
            try:
                reading = self.scale.read_weight()
            except DeviceNotFound as exc:
                self._report(DeviceState.DISCONNECTED, exc.what)
                self.scale.close()
                stop.wait(backoff)
                backoff = min(backoff * 2, self.max_backoff)
                continue
            except (ScaleNoAnswer, ScaleGarbled) as exc:
                self._report(DeviceState.ERROR, exc.what)
                self._last = None
                stop.wait(self.poll_interval)
                continue
            backoff = 0.1
            self._report(DeviceState.CONNECTED, f"{self.scale.port} {self.scale.protocol.name}")
            key = (reading.status, reading.weight, reading.unit, reading.net)
            if key != self._last:
                self._last = key
                self.sink(reading)
            stop.wait(self.poll_interval)
        self.scale.close()

    def _report(self, state: DeviceState, detail: str) -> None:
        if state != self._state:
            self._state = state
            self.sink(
                DeviceStateEvent(self.scale.name, Role.SCALE, state, detail, self.scale.clock())
            )
