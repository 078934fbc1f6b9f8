"""Devices benchmarks (issue 4).

1. Decode latency, from the last key event / byte of a scan to the typed ScanEvent:
   a) pure decoders (wedge: the Enter press; serial: the CR), p50/p99 over N scans;
   b) end to end through a pty, real pyserial and the SerialScanner thread into a
      queue.Queue, against a baseline measured in the same run: the bare pty hop (write the
      same bytes to the master, wait for them on the slave with select()).
   Target: p99 < 1 ms.
2. Scale reading round trip over a pty at the protocol's line speed (the simulator paces
   its reply to 9600 baud and the bits per character of the protocol), against the line's
   own transmission time for that frame (request + reply characters x bits / baud).
   Target: within 20 % (ratio <= 1.20).

Run: .venv/bin/python bench/bench_devices.py [--scans N] [--readings N]
"""

from __future__ import annotations

import argparse
import os
import queue
import select
import statistics
import sys
import threading
import time
import tty
from datetime import UTC, datetime

from evdev import ecodes

from devices.events import ScanEvent
from devices.keymaps import load_keymap
from devices.scale_driver import SerialScale
from devices.scale_protocols import PROTOCOLS
from devices.scanner import SerialScanDecoder, WedgeScanDecoder
from devices.serial_scanner import SerialScanner
from devices.simulators.keystrokes import KeyScript
from devices.simulators.scale import ScaleSimulator
from devices.simulators.scanner import SerialScannerSimulator

CODE = "]E04006381333931"


def clock() -> datetime:
    return datetime.now(UTC)


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return statistics.median(ordered), p99, ordered[-1]


def ms(value: float) -> str:
    return f"{value * 1000:.3f} ms"


def wedge_decode(scans: int) -> list[float]:
    keymap = load_keymap("us")
    decoder = WedgeScanDecoder("bench", clock, keymap)
    events = KeyScript().type_text(CODE, keymap, terminator=None).events
    enter = KeyScript(start=events[-1].timestamp() + 0.002).tap(ecodes.KEY_ENTER).events
    press, rest = enter[:3], enter[3:]
    samples = []
    for _ in range(scans):
        for event in events:
            decoder.feed(event)
        started = time.perf_counter()
        out = []
        for event in press:
            out.extend(decoder.feed(event))
        samples.append(time.perf_counter() - started)
        assert isinstance(out[0], ScanEvent)
        for event in rest:
            decoder.feed(event)
    return samples


def serial_decode(scans: int) -> list[float]:
    decoder = SerialScanDecoder("bench", clock, framing="cr")
    body = CODE.encode()
    samples = []
    for _ in range(scans):
        decoder.feed(body)
        started = time.perf_counter()
        out = decoder.feed(b"\r")
        samples.append(time.perf_counter() - started)
        assert isinstance(out[0], ScanEvent)
    return samples


def bare_pty_hop(scans: int) -> list[float]:
    master, slave = os.openpty()
    tty.setraw(slave)
    data = CODE.encode() + b"\r"
    samples = []
    try:
        for _ in range(scans):
            started = time.perf_counter()
            os.write(master, data)
            got = b""
            while not got.endswith(b"\r"):
                select.select([slave], [], [], 1.0)
                got += os.read(slave, 4096)
            samples.append(time.perf_counter() - started)
    finally:
        os.close(master)
        os.close(slave)
    return samples


def serial_end_to_end(scans: int) -> list[float]:
    events: queue.Queue = queue.Queue()
    samples = []
    with SerialScannerSimulator(pace=False) as sim:
        scanner = SerialScanner("bench", sim.path, events.put, framing="cr")
        stop = threading.Event()
        thread = threading.Thread(target=scanner.run, args=(stop,), daemon=True)
        thread.start()
        events.get(timeout=2)  # connected
        for _ in range(scans):
            started = time.perf_counter()
            sim.raw(CODE.encode() + b"\r")
            event = events.get(timeout=2)
            samples.append(time.perf_counter() - started)
            assert isinstance(event, ScanEvent)
        stop.set()
        thread.join(timeout=2)
    return samples


def scale_round_trips(readings: int) -> list[tuple[str, float, float, int]]:
    rows = []
    for name, protocol in PROTOCOLS.items():
        if protocol.continuous:
            continue  # a streaming scale has no request/reply round trip
        with ScaleSimulator(name, pace=True) as sim, SerialScale(name, name, sim.path) as scale:
            scale.read_weight()
            samples, frame_chars = [], 0
            for _ in range(readings):
                started = time.perf_counter()
                reading = scale.read_weight()
                samples.append(time.perf_counter() - started)
                frame_chars = len(scale.weigh_command or b"") + len(reading.raw)
            line = scale.line_time(frame_chars)
            rows.append((name, line, statistics.median(samples), frame_chars))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", type=int, default=2000)
    parser.add_argument("--readings", type=int, default=30)
    args = parser.parse_args()
    ok = True

    print(f"1. scan decode latency, {args.scans} scans of {CODE!r}")
    for label, samples in (
        ("wedge decoder (Enter press -> ScanEvent)", wedge_decode(args.scans)),
        ("serial decoder (CR -> ScanEvent)", serial_decode(args.scans)),
    ):
        p50, p99, worst = percentiles(samples)
        passed = p99 < 0.001
        ok &= passed
        print(
            f"   {label}: p50 {ms(p50)}  p99 {ms(p99)}  max {ms(worst)}  "
            f"[{'PASS' if passed else 'FAIL'} p99 < 1 ms]"
        )
    base = percentiles(bare_pty_hop(args.scans))
    e2e = percentiles(serial_end_to_end(args.scans))
    passed = e2e[1] < 0.001
    ok &= passed
    print(
        f"   baseline bare pty hop (write master -> read slave): p50 {ms(base[0])}  "
        f"p99 {ms(base[1])}"
    )
    print(
        f"   end to end pty -> pyserial -> SerialScanner -> queue: p50 {ms(e2e[0])}  "
        f"p99 {ms(e2e[1])}  max {ms(e2e[2])}  ratio p99 {e2e[1] / base[1]:.1f}x the bare hop  "
        f"[{'PASS' if passed else 'FAIL'} p99 < 1 ms]"
    )

    print(f"2. scale round trip at 9600 baud over a pty, median of {args.readings}")
    for name, line, measured, chars in scale_round_trips(args.readings):
        ratio = measured / line
        passed = ratio <= 1.20
        ok &= passed
        print(
            f"   {name:<11} {chars:>2} chars: line time {ms(line)}  measured {ms(measured)}  "
            f"ratio {ratio:.3f}  [{'PASS' if passed else 'FAIL'} <= 1.20]"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
