"""Scale protocols end to end: real pyserial against the pty simulators, plus the pure
parsers on hand-written frames from the makers' documentation, and a fuzz of each reader."""

from __future__ import annotations

import queue
import threading
import time
from decimal import Decimal

import pytest
from devices_testkit import StepClock
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.errors import DeviceNotFound, ScaleGarbled, ScaleNoAnswer
from devices.events import DeviceState, DeviceStateEvent, WeightReading, WeightStatus
from devices.scale_driver import ScaleMonitor, SerialScale
from devices.scale_protocols import PROTOCOLS, ScaleReader
from devices.simulators.scale import ScaleSimulator

PROTOCOL_NAMES = sorted(PROTOCOLS)


def only(reader_output):
    assert len(reader_output) == 1
    return reader_output[0][1]


# -- documented frames --------------------------------------------------------------------
def test_toledo_frames_from_the_manual():
    r = ScaleReader(PROTOCOLS["toledo8217"])
    # device-protocols.md §1.2: 1.234 kg gross = 02 30 31 2E 32 33 34 0D; moving = 02 3F 41 0D
    a = only(r.feed(bytes.fromhex("02 30 31 2E 32 33 34 0D")))
    assert (a.status, a.weight, a.unit) == (WeightStatus.STABLE, Decimal("1.234"), "kg")
    assert only(r.feed(bytes.fromhex("02 3F 41 0D"))).status is WeightStatus.MOTION
    assert only(r.feed(b"\x02  1.50N\r")).unit == "lb" and only(r.feed(b"\x02 1.50N\r")).net
    assert only(r.feed(b"\x02?B\r")).status is WeightStatus.OVER_CAPACITY
    assert only(r.feed(b"\x02?D\r")).status is WeightStatus.UNDER_ZERO
    assert only(r.feed(b"\x02?P\r")).status is WeightStatus.ZERO  # centre of zero
    assert only(r.feed(b"\x02?\x01\r")).garbled  # bit 6 must be set
    # line noise before STX is skipped, the frame still decodes
    assert only(r.feed(b"\xff\x13\x0201.000\r")).weight == Decimal("1.000")


def test_nci_frames_both_vendor_styles():
    r = ScaleReader(PROTOCOLS["nci"])
    a = only(r.feed(b"\n001.25kg\r\n00\r\x03"))  # Avery: lower-case units, no S
    assert (a.status, a.weight, a.unit) == (WeightStatus.STABLE, Decimal("1.25"), "kg")
    a = only(r.feed(b"\n01.250KG\r\nS00\r\x03"))  # DIVA: S-prefixed status
    assert a.weight == Decimal("1.250")
    assert only(r.feed(b"\n 2LB 3.5OZ\r\n00\r\x03")).weight == Decimal("2.21875")
    assert only(r.feed(b"\n10\r\x03")).status is WeightStatus.MOTION
    assert only(r.feed(b"\n01\r\x03")).status is WeightStatus.UNDER_ZERO
    assert only(r.feed(b"\n02\r\x03")).status is WeightStatus.OVER_CAPACITY
    assert only(r.feed(b"\n60\r\x03")).status is WeightStatus.ERROR  # RAM error + at zero
    assert "RAM error" in only(r.feed(b"\n60\r\x03")).detail
    assert only(r.feed(b"\n24\r\x03")).detail == "ROM error"
    assert only(r.feed(b"\n20\r\x03")).status is WeightStatus.ZERO
    assert only(r.feed(b"\n?\r\x03")).garbled  # unknown command


def test_mtsics_replies():
    r = ScaleReader(PROTOCOLS["mtsics"])
    a = only(r.feed(b"S S     100.00 g\r\n"))
    assert (a.status, a.weight, a.unit) == (WeightStatus.STABLE, Decimal("100.00"), "g")
    a = only(r.feed(b"S D      0.512 kg\r\n"))
    assert (a.status, a.weight) == (WeightStatus.MOTION, Decimal("0.512"))
    assert only(r.feed(b"S I\r\n")).status is WeightStatus.MOTION
    assert only(r.feed(b"S +\r\n")).status is WeightStatus.OVER_CAPACITY
    assert only(r.feed(b"S -\r\n")).status is WeightStatus.UNDER_ZERO
    assert only(r.feed(b"S S     -0.20 kg\r\n")).status is WeightStatus.UNDER_ZERO
    assert "parity" in only(r.feed(b"ET\r\n")).detail
    assert only(r.feed(b"hello\r\n")).garbled


def test_cas_continuous_lines():
    r = ScaleReader(PROTOCOLS["cas"])
    a = only(r.feed(b"ST,GS,1\xc0,00013.5 kg\r\n"))  # the 22-byte format of the CI-600D
    assert (a.status, a.weight, a.unit, a.net) == (
        WeightStatus.STABLE,
        Decimal("13.5"),
        "kg",
        False,
    )
    assert only(r.feed(b"US,NT,+  1.234kg\r\n")).status is WeightStatus.MOTION
    assert only(r.feed(b"OL,GS,1\x80,--------  kg\r\n")).status is WeightStatus.OVER_CAPACITY
    assert only(r.feed(b"ST,GS,-  0.120kg\r\n")).status is WeightStatus.UNDER_ZERO
    assert only(r.feed(b"ERR 03\r\n")).status is WeightStatus.ERROR


# -- the priceable rule -------------------------------------------------------------------
def test_only_stable_positive_in_range_weight_is_priceable():
    clock = StepClock()

    def reading(status, weight):
        return WeightReading(
            "s", None if weight is None else Decimal(weight), "kg", status, b"", clock()
        )

    assert reading(WeightStatus.STABLE, "1.234").is_priceable(capacity=Decimal("15"))
    assert not reading(WeightStatus.STABLE, "15.001").is_priceable(capacity=Decimal("15"))
    assert not reading(WeightStatus.STABLE, "0.000").is_priceable()
    assert not reading(WeightStatus.ZERO, "0.000").is_priceable()
    assert not reading(WeightStatus.MOTION, "1.234").is_priceable()
    assert not reading(WeightStatus.UNDER_ZERO, "-1").is_priceable()
    assert not reading(WeightStatus.OVER_CAPACITY, None).is_priceable()
    assert not reading(WeightStatus.STABLE, None).is_priceable()
    assert "motion" in reading(WeightStatus.MOTION, "1").why_not_priceable()


# -- end to end through the pty simulators ------------------------------------------------
@pytest.mark.parametrize("protocol", PROTOCOL_NAMES)
@pytest.mark.parametrize(
    ("mode", "status", "weight"),
    [
        ("stable", WeightStatus.STABLE, "1.234"),
        ("zero", WeightStatus.ZERO, "0.000"),
        ("over_capacity", WeightStatus.OVER_CAPACITY, None),
        ("under_zero", WeightStatus.UNDER_ZERO, None),
        ("motion", WeightStatus.MOTION, None),
        ("error", WeightStatus.ERROR, None),
    ],
)
def test_reading_through_pty(protocol, mode, status, weight):
    with (
        ScaleSimulator(protocol, mode=mode, pace=False) as sim,
        SerialScale("deli", protocol, sim.path, reply_timeout=0.5, clock=StepClock()) as scale,
    ):
        reading = scale.read_weight()
    assert reading.status is status, reading
    if weight is not None:
        assert reading.weight == Decimal(weight)
        assert reading.unit == "kg"
    assert reading.is_priceable() == (mode == "stable")
    assert reading.device == "deli" and reading.raw


@pytest.mark.parametrize("protocol", ["toledo8217", "nci", "mtsics"])
def test_silent_scale_names_the_likely_cause_within_the_timeout(protocol):
    with ScaleSimulator(protocol, mode="silent", pace=False) as sim:
        scale = SerialScale("deli", protocol, sim.path, reply_timeout=0.1, retries=1)
        started = time.monotonic()
        with pytest.raises(ScaleNoAnswer) as info:
            scale.read_weight()
        elapsed = time.monotonic() - started
        scale.close()
    assert elapsed < 2 * 0.1 + 0.05 + 0.75  # two attempts + pause; slack for a loaded CI box
    assert "baud" in info.value.describe()
    assert len(sim.commands) == 2  # one retry


@pytest.mark.parametrize("protocol", PROTOCOL_NAMES)
@pytest.mark.parametrize("mode", ["garbage", "wrong_protocol", "partial"])
def test_bad_answers_are_garbled_errors(protocol, mode):
    with ScaleSimulator(protocol, mode=mode, pace=False, interval=0.02) as sim:
        scale = SerialScale("deli", protocol, sim.path, reply_timeout=0.15, retries=0)
        with pytest.raises(ScaleGarbled) as info:
            scale.read_weight()
        scale.close()
    assert "protocol" in info.value.describe()


def test_zero_and_tare_commands():
    with (
        ScaleSimulator("mtsics", pace=False) as sim,
        SerialScale("lab", "mtsics", sim.path, reply_timeout=0.5) as scale,
    ):
        assert scale.zero().ok
        assert scale.tare().ok
        sim.set(mode="motion")
        assert not scale.zero().ok
    with (
        ScaleSimulator("toledo8217", pace=False) as sim,
        SerialScale("pos", "toledo8217", sim.path, reply_timeout=0.5) as scale,
    ):
        assert scale.zero().ok
        sim.set(mode="motion")
        assert scale.zero().detail == "in motion"
    with (
        ScaleSimulator("cas", pace=False) as sim,
        SerialScale("cas", "cas", sim.path, reply_timeout=0.5) as scale,
    ):
        assert not scale.zero().ok


def test_paced_round_trip_matches_line_time():
    with (
        ScaleSimulator("toledo8217", pace=True) as sim,
        SerialScale("pos", "toledo8217", sim.path, reply_timeout=1.0) as scale,
    ):
        scale.read_weight()  # warm up
        started = time.perf_counter()
        reading = scale.read_weight()
        elapsed = time.perf_counter() - started
    expected = scale.line_time(1 + len(reading.raw))  # 'W' + STX 01.234 CR, 7E1 = 10 bits
    assert expected == pytest.approx(9 * 10 / 9600)
    assert expected <= elapsed < expected + 0.25  # the ratio itself is measured in bench/


def test_configured_capacity_turns_a_heavy_stable_reading_into_over_capacity():
    with (
        ScaleSimulator("mtsics", weight="16.000", pace=False) as sim,
        SerialScale("deli", "mtsics", sim.path, capacity=Decimal("15")) as scale,
    ):
        reading = scale.read_weight()
    assert reading.status is WeightStatus.OVER_CAPACITY and reading.weight == Decimal("16.000")
    assert "capacity 15" in reading.detail and not reading.is_priceable()


def test_missing_port_is_device_not_found():
    with pytest.raises(DeviceNotFound) as info:
        SerialScale("x", "nci", "/dev/serial/by-id/usb-nothing-here").read_weight()
    assert "by-id" in info.value.describe()


def test_monitor_reports_changes_and_reconnects_after_unplug(tmp_path):
    link = tmp_path / "usb-Scale-if00"  # stands in for a /dev/serial/by-id link
    events: queue.Queue = queue.Queue()
    first = ScaleSimulator("nci", pace=False).start()
    link.symlink_to(first.path)
    scale = SerialScale("deli", "nci", str(link), reply_timeout=0.1, retries=0)
    monitor = ScaleMonitor(scale, events.put, poll_interval=0.02, max_backoff=0.1)
    stop = threading.Event()
    thread = threading.Thread(target=monitor.run, args=(stop,), daemon=True)
    thread.start()
    try:
        seen = wait_for(events, lambda e: isinstance(e, WeightReading))
        assert seen.weight == Decimal("1.234")
        first.set(weight="2.000")
        assert wait_for(events, lambda e: isinstance(e, WeightReading)).weight == Decimal("2.000")
        first.stop()  # unplugged; comes back under another path
        assert wait_for(events, lambda e: isinstance(e, DeviceStateEvent)).state in (
            DeviceState.DISCONNECTED,
            DeviceState.ERROR,
        )
        second = ScaleSimulator("nci", weight="3.500", pace=False).start()
        link.unlink()
        link.symlink_to(second.path)
        back = wait_for(
            events, lambda e: isinstance(e, DeviceStateEvent) and e.state is DeviceState.CONNECTED
        )
        assert back.device == "deli"
        assert wait_for(events, lambda e: isinstance(e, WeightReading)).weight == Decimal("3.500")
        second.stop()
    finally:
        stop.set()
        thread.join(timeout=2)
    assert not thread.is_alive()


def wait_for(events: queue.Queue, predicate, timeout: float = 3.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            event = events.get(timeout=0.05)
        except queue.Empty:
            continue
        if predicate(event):
            return event
    raise AssertionError("expected event did not arrive")


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(PROTOCOL_NAMES), st.lists(st.binary(max_size=64), max_size=20))
def test_fuzz_scale_readers_never_raise(protocol, chunks):
    reader = ScaleReader(PROTOCOLS[protocol])
    for chunk in chunks:
        for _frame, answer in reader.feed(chunk):
            assert answer.status in WeightStatus


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(PROTOCOL_NAMES), st.binary(max_size=60))
def test_fuzz_frames_with_valid_framing(protocol, body):
    p = PROTOCOLS[protocol]
    frame = (p.frame_start or b"") + body.replace(p.frame_end, b"") + p.frame_end
    p.parse(frame, None)
    if p.parse_ack is not None:
        p.parse_ack(frame)
