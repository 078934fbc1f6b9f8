"""The journal's clock: aware UTC wall time plus whether NTP has synchronised it.

Owns reading the system clock and its synchronisation state; nothing else here may read
time. A Raspberry Pi has no real-time clock, so until NTP syncs the wall time can be far
off; records therefore carry `clock_synced`, and their order is `seq`, never the time.
"""

from __future__ import annotations

import ctypes
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], tuple[datetime, bool]]
SyncProbe = Callable[[], bool]

TIME_ERROR = 5  # adjtimex(2) return value while the kernel clock is unsynchronised
_TIMEX_BUFFER = 512  # larger than struct timex on every Linux ABI; modes=0 only reads


def adjtimex_synchronised() -> bool | None:
    """Ask the kernel (no subprocess, microseconds); None when adjtimex is unavailable."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        state = libc.adjtimex(ctypes.create_string_buffer(_TIMEX_BUFFER))
    except (OSError, AttributeError):
        return None
    if state < 0:
        return None
    return bool(state != TIME_ERROR)


def timedatectl_synchronised() -> bool | None:
    """Ask systemd-timedated; None when timedatectl is missing or cannot answer."""
    try:
        done = subprocess.run(
            ["timedatectl", "show", "-p", "NTPSynchronized", "--value"],
            capture_output=True,
            text=True,
            timeout=2,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    answer = done.stdout.strip()
    return answer == "yes" if done.returncode == 0 and answer in ("yes", "no") else None


def probe_ntp_synchronised() -> bool:
    """The kernel's view first (cheap), timedatectl second; unknown counts as not synced."""
    for probe in (adjtimex_synchronised, timedatectl_synchronised):
        answer = probe()
        if answer is not None:
            return answer
    return False


class SystemClock:
    """Wall clock whose synchronisation probe is cached for `ttl` seconds (appends are hot)."""

    def __init__(
        self,
        *,
        probe: SyncProbe = probe_ntp_synchronised,
        ttl: float = 30.0,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._probe = probe
        self._ttl = ttl
        self._monotonic = monotonic
        self._wall = wall
        self._synced = False
        self._probed_at: float | None = None

    def synchronised(self) -> bool:
        now = self._monotonic()
        if self._probed_at is None or now - self._probed_at >= self._ttl:
            self._synced = self._probe()
            self._probed_at = now
        return self._synced

    def __call__(self) -> tuple[datetime, bool]:
        return self._wall(), self.synchronised()


_system = SystemClock()


def system_clock() -> tuple[datetime, bool]:
    """(aware UTC now, NTP-synchronised?) from the box's clock; the default `Clock`."""
    return _system()


def utc_iso(moment: datetime) -> str:
    """ISO-8601 UTC with milliseconds and `Z`: one fixed width, so text order is time order."""
    if moment.tzinfo is None:
        raise ValueError("journal times must be timezone-aware (the clock must give UTC)")
    utc = moment.astimezone(UTC)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"
