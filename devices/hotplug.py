"""Reconnecting with backoff when a device disappears and comes back.

Owns the connect-retry policy shared by every driver loop (serial scanners, scales, evdev
wedge devices): tenacity's exponential backoff, interruptible by the caller's stop event,
with one "disconnected" report per outage rather than one per attempt. The device path is
re-resolved on every attempt (by-id link, glob, or input-device match), so a scanner that
returns as /dev/ttyUSB1 instead of /dev/ttyUSB0 is found again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception_type, wait_exponential

from devices.errors import DeviceNotFound

T = TypeVar("T")


def connect_with_backoff(
    connect: Callable[[], T],
    stop: threading.Event,
    on_failure: Callable[[DeviceNotFound], None],
    *,
    first_delay: float = 0.1,
    max_delay: float = 5.0,
) -> T | None:
    """Call `connect` until it succeeds (returns its result) or `stop` is set (None).

    Waits 0.1, 0.2, 0.4 ... up to `max_delay` seconds between attempts, in `stop.wait`, so
    stopping the daemon never waits for a backoff to run out.
    """

    def failed(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, DeviceNotFound):
            on_failure(error)

    def pause(seconds: float) -> None:
        stop.wait(seconds)  # interruptible, unlike time.sleep

    retrying = Retrying(
        retry=retry_if_exception_type(DeviceNotFound),
        wait=wait_exponential(multiplier=first_delay, min=first_delay, max=max_delay),
        stop=lambda _state: stop.is_set(),
        sleep=pause,
        before_sleep=failed,
        reraise=True,
    )
    try:
        return retrying(connect)
    except DeviceNotFound:
        return None
