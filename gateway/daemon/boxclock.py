"""The daemon's clocks and ids, in one object handed to `Box` (tests pass their own).

Three clocks, each for one purpose: `wall()` (aware UTC) stamps alerts, anomalies and the
status; `local()` (naive store-local time) is the `at` of every lane event and the
business day; `monotonic()` measures intervals (watchdog, backups, uptime), which a wall
clock stepped by NTP must not disturb. `stamp()` is the journal's and sync's `Clock`: wall
time with the kernel's NTP state. `new_id()` names what the box creates (Z records, shifts,
sales).
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from gateway.journal.clock import probe_ntp_synchronised


class BoxClock(Protocol):
    """What `Box` reads time and ids from."""

    def wall(self) -> datetime: ...
    def local(self) -> datetime: ...
    def monotonic(self) -> float: ...
    def stamp(self) -> tuple[datetime, bool]: ...
    def synchronised(self) -> bool: ...
    def new_id(self) -> str: ...


class SystemClock:
    """The box's real clocks in the store's time zone, and random ids."""

    def __init__(self, timezone: str) -> None:
        self.zone = ZoneInfo(timezone)

    def wall(self) -> datetime:
        return datetime.now(UTC)

    def local(self) -> datetime:
        return datetime.now(self.zone).replace(tzinfo=None)

    def monotonic(self) -> float:
        return time.monotonic()

    def stamp(self) -> tuple[datetime, bool]:
        return datetime.now(UTC), probe_ntp_synchronised()

    def synchronised(self) -> bool:
        return probe_ntp_synchronised()

    def new_id(self) -> str:
        return uuid.uuid4().hex
