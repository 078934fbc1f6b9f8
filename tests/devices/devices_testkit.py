"""Shared helpers for the devices tests (a module, not a conftest, so other rooms' conftests
cannot collide with it): a deterministic clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class StepClock:
    """Each call returns the previous time plus one millisecond."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now
