"""Bench tools beside the service (issue 15, item 5): with `gateway run` holding the
scanner's and the scale's ports, `gateway devices watch` and `gateway devices scale`
(real subprocesses) say that the daemon holds them and work through its control socket
(`device_events`, `scale_reading`) instead of failing to lock the port."""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

from daemon_testkit import GATEWAY, NO_SYNC, Daemon, box_config

from devices.simulators.scale import ScaleSimulator
from devices.simulators.scanner import SerialScannerSimulator

EAN = "]E04006381333931"  # an EAN-13 with its AIM symbology identifier


def wait_until(condition: Callable[[], object], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def devices_config(tmp_path: Path, scale: str, scanner: str) -> Path:
    return box_config(
        tmp_path,
        f'\n[[devices.scales]]\nname = "deli-scale"\nprotocol = "mtsics"\n'
        f'serial = {{ port = "{scale}" }}\npoll_interval_s = 0.1\n'
        f'\n[[devices.scanners]]\nname = "front-scanner"\nkind = "serial"\n'
        f'serial = {{ port = "{scanner}" }}\n',
    )


def test_scale_and_watch_work_through_the_running_daemon(tmp_path: Path) -> None:
    scale = ScaleSimulator("mtsics", weight="0.456", unit="kg", pace=False).start()
    scanner = SerialScannerSimulator().start()
    daemon: Daemon | None = None
    try:
        config = devices_config(tmp_path, scale.path, scanner.path)
        daemon = Daemon(tmp_path, config, NO_SYNC)
        wait_until(lambda: daemon is not None and daemon.status()["scale"] is not None)

        read = subprocess.run(
            [str(GATEWAY), "devices", "scale", "--port", scale.path, "--config", str(config)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert read.returncode == 0, read.stderr
        assert f"gateway run holds {scale.path} (scale 'deli-scale')" in read.stdout
        assert "0.456 kg  status=stable" in read.stdout
        assert "priceable: yes" in read.stdout
        as_json = subprocess.run(
            [str(GATEWAY), "devices", "scale", "--port", scale.path, "--config", str(config),
             "--json"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert as_json.returncode == 0, as_json.stderr
        reading = json.loads(as_json.stdout)
        assert (reading["weight"], reading["unit"], reading["device"]) == (
            "0.456",
            "kg",
            "deli-scale",
        )
        zero = subprocess.run(
            [str(GATEWAY), "devices", "scale", "--port", scale.path, "--config", str(config),
             "--zero"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert zero.returncode != 0 and "Traceback" not in zero.stderr
        assert "the bench cannot zero it" in zero.stderr

        watch = subprocess.Popen(
            [str(GATEWAY), "devices", "watch", "--config", str(config), "--duration", "30"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        lines: queue.Queue[str] = queue.Queue()
        seen: list[str] = []
        assert watch.stdout is not None
        out = watch.stdout

        def read_all() -> None:
            for line in out:
                lines.put(line)

        reader = threading.Thread(target=read_all)
        reader.start()

        def said(text: str) -> bool:
            while not lines.empty():
                seen.append(lines.get())
            return any(text in line for line in seen)

        try:
            wait_until(lambda: said("watching"))
            scanner.scan(EAN)
            try:
                wait_until(lambda: said("4006381333931"))
            except AssertionError:
                raise AssertionError(f"{seen}\n{daemon.output()}") from None
        finally:
            watch.terminate()
            watch.wait(10)
            reader.join(5)
        text = "".join(seen)
        assert "gateway run holds the ports of front-scanner, deli-scale" in text, text
        (scan,) = [line for line in seen if "4006381333931" in line]
        assert "scan    front-scanner" in scan and "EAN-13/UPC" in scan, scan
        assert "could not" not in text.lower() and "busy" not in text.lower(), text
    finally:
        if daemon is not None:
            code = daemon.stop()
            assert code == 0, daemon.output()
        scanner.stop()
        scale.stop()


def test_device_events_request_is_checked(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path, box_config(tmp_path), NO_SYNC)
    try:
        bad = daemon.ask({"command": "device_events", "after": "x"})
        assert bad["ok"] is False and bad["exit_code"] == 2
        assert daemon.ask({"command": "device_events"}) == {"ok": True, "events": [], "last": 0}
        none = daemon.ask({"command": "scale_reading"})
        assert none["ok"] is False and "no reading from any scale yet" in str(none["error"])
    finally:
        assert daemon.stop() == 0, daemon.output()
