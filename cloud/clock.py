"""Head office's clock: one spelling of "now" (the wire's UTC ISO-8601 with `Z`).

Pure helpers; callers inject `Clock` where tests must control time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from gateway.sync.timefmt import iso, parse_instant

Clock = Callable[[], datetime]

__all__ = ["Clock", "iso", "parse_instant", "system_clock", "utc_now_iso"]


def system_clock() -> datetime:
    return datetime.now(UTC)


def utc_now_iso() -> str:
    return iso(system_clock())
