"""The evdev wedge adapter (WedgeInput): matching, grab, select() over every node, idle
expiry and reconnect. No /dev/input or /dev/uinput here, so each node is a stand-in backed
by a real pipe (select() works on it) that returns real evdev.InputEvent objects; the
adapter and the decoders run unchanged."""

from __future__ import annotations

import errno
import os
import queue
import threading
import time

from devices_testkit import StepClock

from devices.cards import CardLineDecoder, WedgeCardDecoder
from devices.discovery import InputDeviceInfo
from devices.events import (
    CardEvent,
    CardKind,
    DecodeFault,
    DeviceState,
    DeviceStateEvent,
    Role,
    ScanEvent,
)
from devices.inputs import WedgeInput
from devices.keymaps import load_keymap
from devices.scanner import WedgeScanDecoder
from devices.settings import InputMatch
from devices.simulators.keystrokes import KeyScript

US = load_keymap("us")
SCANNER = InputDeviceInfo(
    "/dev/input/event7", "Honeywell Scanner", "usb-1.2/input0", 0x0C2E, 0x0B61
)
KEYBOARD = InputDeviceInfo("/dev/input/event2", "USB Keyboard", "usb-1.1/input0", 0x046D, 0xC31C)


class PipeNode:
    """Stands in for evdev.InputDevice: `fd` is a pipe; `send()` queues events."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd, self._w = os.pipe()
        self._pending: list = []
        self.grabbed = False
        self.closed = False
        self.unplugged = False

    def send(self, events) -> None:
        self._pending.extend(events)
        os.write(self._w, b"x")

    def unplug(self) -> None:
        self.unplugged = True
        os.write(self._w, b"x")

    def read(self):
        os.read(self.fd, 4096)
        if self.unplugged:
            raise OSError(errno.ENODEV, "No such device")
        events, self._pending = self._pending, []
        return events

    def grab(self) -> None:
        self.grabbed = True

    def ungrab(self) -> None:
        self.grabbed = False

    def close(self) -> None:
        self.closed = True
        os.close(self.fd)
        os.close(self._w)


class FakeBus:
    """The present input devices, changeable while the adapter runs."""

    def __init__(self, *infos: InputDeviceInfo) -> None:
        self.infos = list(infos)
        self.opened: dict[str, PipeNode] = {}

    def list(self) -> list[InputDeviceInfo]:
        return list(self.infos)

    def open(self, path: str) -> PipeNode:
        self.opened[path] = PipeNode(path)
        return self.opened[path]


def start(wedge: WedgeInput):
    stop = threading.Event()
    thread = threading.Thread(target=wedge.run, args=(stop,), daemon=True)
    thread.start()
    return stop, thread


def next_of(events: queue.Queue, kind, timeout: float = 3.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            event = events.get(timeout=0.05)
        except queue.Empty:
            continue
        if isinstance(event, kind):
            return event
    raise AssertionError(f"no {kind.__name__} arrived")


def test_only_the_matching_node_is_opened_and_grabbed_and_scans_flow():
    bus = FakeBus(KEYBOARD, SCANNER)
    events: queue.Queue = queue.Queue()
    decoder = WedgeScanDecoder("front", StepClock(), US)
    wedge = WedgeInput(
        "front",
        Role.SCANNER,
        InputMatch(vendor_product="0c2e:0b61"),
        decoder,
        events.put,
        list_devices=bus.list,
        open_node=bus.open,
        max_backoff=0.05,
    )
    stop, thread = start(wedge)
    try:
        connected = next_of(events, DeviceStateEvent)
        assert connected.state is DeviceState.CONNECTED and "event7" in connected.detail
        assert list(bus.opened) == ["/dev/input/event7"]  # the keyboard is never touched
        node = bus.opened["/dev/input/event7"]
        assert node.grabbed
        node.send(KeyScript(start=time.time()).type_text("]E04006381333931", US).events)
        scan = next_of(events, ScanEvent)
        assert (scan.text, scan.symbology) == ("4006381333931", "EAN-13/UPC")
    finally:
        stop.set()
        thread.join(timeout=2)
    assert node.closed and not node.grabbed


def test_timeout_terminator_ends_scan_when_keys_stop():
    bus = FakeBus(SCANNER)
    events: queue.Queue = queue.Queue()
    decoder = WedgeScanDecoder(
        "front", StepClock(), US, terminator="timeout", inter_key_timeout=0.05
    )
    wedge = WedgeInput(
        "front",
        Role.SCANNER,
        InputMatch(name="*Scanner"),
        decoder,
        events.put,
        list_devices=bus.list,
        open_node=bus.open,
    )
    stop, thread = start(wedge)
    try:
        next_of(events, DeviceStateEvent)
        bus.opened[SCANNER.path].send(
            KeyScript(start=time.time()).type_text("12345", US, None).events
        )
        assert next_of(events, ScanEvent).text == "12345"
    finally:
        stop.set()
        thread.join(timeout=2)


def test_unplug_mid_swipe_then_replug_under_a_new_node():
    bus = FakeBus(SCANNER)
    events: queue.Queue = queue.Queue()
    lines = CardLineDecoder("loyalty", StepClock(), rfid_byte_order="lsb_first")
    decoder = WedgeCardDecoder(lines, US)
    wedge = WedgeInput(
        "loyalty",
        Role.CARD_READER,
        InputMatch(vendor_product="0c2e:0b61"),
        decoder,
        events.put,
        list_devices=bus.list,
        open_node=bus.open,
        max_backoff=0.05,
    )
    stop, thread = start(wedge)
    try:
        next_of(events, DeviceStateEvent)
        first = bus.opened[SCANNER.path]
        first.send(KeyScript(start=time.time()).type_text("32203", US, None).events)
        time.sleep(0.05)
        bus.infos = []
        first.unplug()
        fault = next_of(events, DecodeFault)
        assert fault.reason == "partial line dropped" and "32203" not in fault.detail
        assert next_of(events, DeviceStateEvent).state is DeviceState.DISCONNECTED
        moved = InputDeviceInfo("/dev/input/event9", SCANNER.name, "usb-1.4/input0", 0x0C2E, 0x0B61)
        bus.infos = [moved]
        back = next_of(events, DeviceStateEvent)
        assert back.state is DeviceState.CONNECTED and "event9" in back.detail
        bus.opened[moved.path].send(KeyScript(start=time.time()).type_text("3220338716", US).events)
        card = next_of(events, CardEvent)
        assert (card.card_id, card.kind, card.source) == ("1C78F2BF", CardKind.UNKNOWN, "rfid")
    finally:
        stop.set()
        thread.join(timeout=2)
    assert not thread.is_alive()


def test_no_matching_device_reports_once_and_stops_promptly():
    bus = FakeBus(KEYBOARD)
    events: queue.Queue = queue.Queue()
    wedge = WedgeInput(
        "front",
        Role.SCANNER,
        InputMatch(vendor_product="0c2e:0b61"),
        WedgeScanDecoder("front", StepClock(), US),
        events.put,
        list_devices=bus.list,
        open_node=bus.open,
        max_backoff=0.02,
    )
    stop, thread = start(wedge)
    state = next_of(events, DeviceStateEvent)
    assert state.state is DeviceState.DISCONNECTED and "no input device matches" in state.detail
    time.sleep(0.2)
    stop.set()
    thread.join(timeout=1)
    assert not thread.is_alive() and events.empty() and not bus.opened
