"""Serial scanners through real pyserial on a pty: framing, prefix and AIM identifiers,
line noise, runaway input, and an unplug / replug under a new device path."""

from __future__ import annotations

import queue
import threading
import time

import pytest
from devices_testkit import StepClock
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.events import DecodeFault, DeviceState, DeviceStateEvent, ScanEvent
from devices.scanner import SerialScanDecoder, split_scan
from devices.serial_scanner import SerialScanner
from devices.simulators.scanner import SerialScannerSimulator


def decoder(**kw):
    return SerialScanDecoder("door", StepClock(), **kw)


@pytest.mark.parametrize(
    ("framing", "data"),
    [
        ("cr", b"123\r456\r"),
        ("lf", b"123\n456\n"),
        ("crlf", b"123\r\n456\r\n"),
        ("any", b"123\r\n456\n"),
    ],
)
def test_framings(framing, data):
    out = decoder(framing=framing).feed(data)
    assert [e.text for e in out] == ["123", "456"]


def test_crlf_split_across_reads_and_partial_frames():
    d = decoder(framing="crlf")
    assert d.feed(b"40063813") == []
    assert d.feed(b"33931\r") == []
    assert [e.text for e in d.feed(b"\n")] == ["4006381333931"]


def test_prefix_and_aim_identifier_are_stripped_and_reported():
    d = decoder(prefix="#")
    (event,) = d.feed(b"#]E04006381333931\r")
    assert (event.text, event.aim_id, event.symbology) == ("4006381333931", "]E0", "EAN-13/UPC")
    (event,) = d.feed(b"]d2010400638133393110ABC\x1d21XYZ\r")
    assert event.symbology == "GS1 DataMatrix" and "\x1d" in event.text
    assert split_scan("]Q1hello") == ("hello", "]Q1")
    assert split_scan("]E0123", aim_ids=False) == ("]E0123", None)


def test_line_noise_is_a_fault_not_a_scan():
    (fault,) = decoder().feed(b"\x8f\x13\xfe\x01garbage\r")
    assert isinstance(fault, DecodeFault) and "baud" in fault.detail


def test_ten_thousand_characters_without_terminator():
    d = decoder(max_length=4096)
    out = []
    for _ in range(10):
        out.extend(d.feed(b"9" * 1000))
    out.extend(d.feed(b"999\r42\r"))
    assert [type(e) for e in out] == [DecodeFault, ScanEvent]
    assert out[1].text == "42"


def test_scans_through_pty_and_reconnect_under_a_new_path(tmp_path):
    link = tmp_path / "usb-Scanner_1234-if00"
    first = SerialScannerSimulator(suffix="crlf").start()
    link.symlink_to(first.path)
    events: queue.Queue = queue.Queue()
    clock = StepClock()
    scanner = SerialScanner(
        "door", str(link), events.put, framing="crlf", clock=clock, max_backoff=0.1
    )
    stop = threading.Event()
    thread = threading.Thread(target=scanner.run, args=(stop,), daemon=True)
    thread.start()
    try:
        assert next_of(events, DeviceStateEvent).state is DeviceState.CONNECTED
        first.scan("]E04006381333931")
        scan = next_of(events, ScanEvent)
        assert (scan.text, scan.aim_id, scan.device) == ("4006381333931", "]E0", "door")
        first.raw(b"40063")  # unplugged mid-scan
        time.sleep(0.2)
        first.stop()
        fault = next_of(events, DecodeFault)
        assert fault.reason == "partial scan dropped"
        assert next_of(events, DeviceStateEvent).state is DeviceState.DISCONNECTED
        second = SerialScannerSimulator(suffix="crlf").start()  # back as another tty
        link.unlink()
        link.symlink_to(second.path)
        assert next_of(events, DeviceStateEvent).state is DeviceState.CONNECTED
        second.scan("12345670")
        assert next_of(events, ScanEvent).text == "12345670"
        second.stop()
    finally:
        stop.set()
        thread.join(timeout=2)
    assert not thread.is_alive()


def test_missing_port_reports_disconnected_and_stops_promptly(tmp_path):
    events: queue.Queue = queue.Queue()
    scanner = SerialScanner("door", str(tmp_path / "nothing"), events.put, max_backoff=0.05)
    stop = threading.Event()
    thread = threading.Thread(target=scanner.run, args=(stop,), daemon=True)
    thread.start()
    state = next_of(events, DeviceStateEvent)
    assert state.state is DeviceState.DISCONNECTED and "no serial port" in state.detail
    stop.set()
    thread.join(timeout=1)
    assert not thread.is_alive()
    assert events.empty()  # one report per outage, not one per attempt


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


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=80), max_size=30), st.sampled_from(["cr", "lf", "crlf", "any"]))
def test_fuzz_serial_scanner_never_raises(chunks, framing):
    d = decoder(framing=framing, max_length=64, prefix="#")
    for chunk in chunks:
        for event in d.feed(chunk):
            assert isinstance(event, ScanEvent | DecodeFault)
    d.reset()


def test_payment_track_on_a_scanner_is_discarded_not_scanned():
    d = decoder()
    (fault,) = d.feed(b"%B4111111111111111^SMITH/JOHN^2512101?;4111111111111111=2512101?\r")
    assert isinstance(fault, DecodeFault) and fault.reason == "card data on a scanner"
    assert "4111" not in fault.detail
    (scan,) = d.feed(b";990012345678?\r")  # a loyalty track is not payment data
    assert isinstance(scan, ScanEvent)
