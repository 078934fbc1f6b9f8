"""Health telemetry: what the host says about itself, and when to send it.

`TelemetryPolicy` is pure: given the time and a "what matters changed" key it says whether
a message is due (every `interval` seconds, and at once when a device, the paper or the
clock synchronisation changed). `read_host` reads /proc and /sys (paths injectable for
tests; each value is None where the host has no such file, e.g. no thermal zone).
Must not publish: the service queues the message in the bounded outbox.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Hashable
from pathlib import Path

from gateway.sync.payloads import DeviceHealth, HostHealth, UpdateHealth


class TelemetryPolicy:
    """Every `interval` seconds, and on change of the key."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._last_at: float | None = None
        self._last_key: Hashable = None

    def due(self, now: float, key: Hashable) -> bool:
        if self._last_at is None or now - self._last_at >= self.interval:
            return True
        return key != self._last_key

    def sent(self, now: float, key: Hashable) -> None:
        self._last_at = now
        self._last_key = key


def change_key(
    devices: dict[str, DeviceHealth], clock_synced: bool, update: UpdateHealth | None = None
) -> Hashable:
    """What must be reported at once when it changes (not load, memory or backlog): the
    devices, the clock, and a software update's state."""
    return (
        clock_synced,
        tuple(sorted((name, d.state, d.error, d.paper) for name, d in devices.items())),
        None if update is None else (update.id, update.state),
    )


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


def cpu_temperature(sys_root: Path = Path("/sys")) -> float | None:
    """Highest thermal-zone temperature in °C, or None where /sys/class/thermal has none."""
    readings = []
    for zone in sorted((sys_root / "class" / "thermal").glob("thermal_zone*/temp")):
        text = _read(zone)
        if text and text.strip().lstrip("-").isdigit():
            readings.append(int(text) / 1000)
    return max(readings) if readings else None


def _meminfo(proc_root: Path) -> tuple[int | None, int | None]:
    text = _read(proc_root / "meminfo") or ""
    fields = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            fields[name] = int(parts[0]) * 1024
    return fields.get("MemTotal"), fields.get("MemAvailable")


def boot_id(proc_root: Path = Path("/proc")) -> str:
    """The kernel's id of this boot (changes on every power cycle)."""
    text = _read(proc_root / "sys" / "kernel" / "random" / "boot_id")
    return text.strip() if text else "unknown"


def read_host(
    data_dir: Path, *, proc_root: Path = Path("/proc"), sys_root: Path = Path("/sys")
) -> HostHealth:
    total, available = _meminfo(proc_root)
    disk_total: int | None = None
    disk_free: int | None = None
    try:
        disk = shutil.disk_usage(data_dir)
        disk_total, disk_free = disk.total, disk.free
    except OSError:
        pass
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    return HostHealth(
        load=load,
        temperature_c=cpu_temperature(sys_root),
        memory_total=total,
        memory_available=available,
        disk_total=disk_total,
        disk_free=disk_free,
    )
