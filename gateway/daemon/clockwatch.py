"""Noticing the wall clock jump backwards (a Pi has no RTC; NTP may step it).

Pure: fed (wall time, monotonic time) pairs by the main loop. A backwards step of more
than `tolerance` seconds relative to the monotonic clock is reported, never fatal: the
journal orders by seq and records `clock_synced` on every record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class ClockJump:
    seconds: float  # negative: backwards
    before: str
    after: str


class ClockWatch:
    def __init__(self, tolerance: float = 1.0) -> None:
        self.tolerance = tolerance
        self.last: tuple[datetime, float] | None = None
        self.jumps_back = 0
        self.last_jump: ClockJump | None = None

    def tick(self, wall: datetime, mono: float) -> ClockJump | None:
        previous, self.last = self.last, (wall, mono)
        if previous is None:
            return None
        expected = mono - previous[1]
        actual = (wall - previous[0]).total_seconds()
        drift = actual - expected
        if drift >= -self.tolerance:
            return None
        self.jumps_back += 1
        self.last_jump = ClockJump(round(drift, 3), previous[0].isoformat(), wall.isoformat())
        return self.last_jump
