"""Keyboard-wedge devices through evdev: find the configured node(s), grab, read, decode.

Owns opening /dev/input/event* nodes that match a role's `InputMatch`, the exclusive grab
(EVIOCGRAB, so scans do not leak into the console [EVDEV-DEVICE]), one select() over all
of the device's nodes (many scanners expose several HID interfaces [SYSTEMD-INPUT]), idle
expiry of the decoder, and reconnection after an unplug. Decoding stays in
`devices.wedge` / `devices.scanner` / `devices.cards`; only nodes the settings name are
opened — never every keyboard.

No uinput on the build machines: this adapter is exercised on real hardware only; the
decoders it feeds are tested on real `evdev.InputEvent` sequences.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import select
import stat
import struct
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from devices.discovery import InputDeviceInfo, input_mismatch, list_input_devices
from devices.errors import DeviceNotFound
from devices.events import (
    CardEvent,
    Clock,
    DecodeFault,
    DeviceState,
    DeviceStateEvent,
    EventSink,
    Role,
    ScanEvent,
    utc_now,
)
from devices.hotplug import connect_with_backoff
from devices.settings import InputMatch

IDLE_SLICE = 0.02


class WedgeDecoder(Protocol):
    """What the adapter needs of a decoder (WedgeScanDecoder, WedgeCardDecoder)."""

    def feed(self, event: Any) -> Sequence[ScanEvent | CardEvent | DecodeFault]: ...
    def expire(self, now: float) -> Sequence[ScanEvent | CardEvent | DecodeFault]: ...
    def reset(self) -> Sequence[ScanEvent | CardEvent | DecodeFault]: ...


def open_evdev_node(path: str) -> Any:
    """An evdev node; a FIFO (a simulator's stream of input_event records) as a node too."""
    if stat.S_ISFIFO(os.stat(path).st_mode):
        return EventStreamNode(path)
    import evdev

    return evdev.InputDevice(path)


INPUT_EVENT = struct.Struct("llHHi")  # struct input_event: timeval, type, code, value


class EventStreamNode:
    """A FIFO carrying `struct input_event` records, read like an evdev node: the card
    reader and wedge simulators write one, so a box on the bench reads them through the
    same adapter and decoders as a real reader. No writer left = unplugged (ENODEV)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        self._partial = b""

    def read(self) -> list[Any]:
        from evdev import InputEvent

        data = os.read(self.fd, INPUT_EVENT.size * 256)
        if not data:
            raise OSError(errno.ENODEV, f"{self.path}: the simulator stopped writing")
        data = self._partial + data
        whole = len(data) - len(data) % INPUT_EVENT.size
        self._partial = data[whole:]
        return [InputEvent(*fields) for fields in INPUT_EVENT.iter_unpack(data[:whole])]

    def grab(self) -> None:
        """Nothing to grab: no other reader sees a FIFO's records."""

    def ungrab(self) -> None:
        """See grab."""

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)


class WedgeInput:
    def __init__(
        self,
        name: str,
        role: Role,
        match: InputMatch,
        decoder: WedgeDecoder,
        sink: EventSink,
        *,
        grab: bool = True,
        clock: Clock = utc_now,
        max_backoff: float = 5.0,
        list_devices: Callable[[], list[InputDeviceInfo]] = list_input_devices,
        open_node: Callable[[str], Any] = open_evdev_node,
    ) -> None:
        self.list_devices = list_devices
        self.open_node = open_node
        self.name = name
        self.role = role
        self.match = match
        self.decoder = decoder
        self.sink = sink
        self.grab = grab
        self.clock = clock
        self.max_backoff = max_backoff
        self._state: DeviceState | None = None

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            nodes = connect_with_backoff(
                self._open,
                stop,
                lambda e: self._report(DeviceState.DISCONNECTED, e.what),
                max_delay=self.max_backoff,
            )
            if nodes is None:
                return
            self._report(DeviceState.CONNECTED, ", ".join(n.path for n in nodes))
            try:
                self._pump(nodes, stop)
            except OSError as exc:  # ENODEV when unplugged
                self._deliver(self.decoder.reset())
                self._report(DeviceState.DISCONNECTED, str(exc))
            finally:
                for node in nodes:
                    with contextlib.suppress(OSError):
                        if self.grab:
                            node.ungrab()
                    with contextlib.suppress(OSError):
                        node.close()

    def _open(self) -> list[Any]:
        if self.match.path:  # named nodes (a by-id link, a simulator's FIFO), no listing
            paths = sorted(glob.glob(self.match.path))
        else:
            paths = [
                info.path for info in self.list_devices() if not input_mismatch(self.match, info)
            ]
        if not paths:
            raise DeviceNotFound(
                f"no input device matches {self.name!r}",
                fix="check `gateway devices list`; the service user needs group 'input'",
            )
        nodes = []
        for path in paths:
            try:
                node = self.open_node(path)
            except OSError as exc:
                raise DeviceNotFound(f"cannot open {path}: {exc}", where=path) from exc
            if self.grab:
                try:
                    node.grab()
                except OSError as exc:
                    node.close()
                    raise DeviceNotFound(
                        f"cannot grab {path}: {exc}",
                        fix="another program holds the scanner (only one grab is allowed)",
                    ) from exc
            nodes.append(node)
        return nodes

    def _pump(self, nodes: list[Any], stop: threading.Event) -> None:
        by_fd = {node.fd: node for node in nodes}
        while not stop.is_set():
            ready, _, _ = select.select(list(by_fd), [], [], IDLE_SLICE)
            for fd in ready:
                try:
                    batch = list(by_fd[fd].read())
                except BlockingIOError:
                    continue  # woken without events (EAGAIN): not an unplug
                for event in batch:
                    self._deliver(self.decoder.feed(event))
            if not ready:
                self._deliver(self.decoder.expire(time.time()))

    def _deliver(self, events: Sequence[ScanEvent | CardEvent | DecodeFault]) -> None:
        for event in events:
            self.sink(event)

    def _report(self, state: DeviceState, detail: str) -> None:
        if state != self._state:
            self._state = state
            self.sink(DeviceStateEvent(self.name, self.role, state, detail, self.clock()))
