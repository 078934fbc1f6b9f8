"""Reconnect delays: exponential with full jitter, so a fleet does not reconnect in step.

tenacity's `wait_exponential` computes the cap (`min * 2**attempt`, at most `max`); the
jitter is drawn from an injected `random.Random` (not the module-level one tenacity's own
`wait_random_exponential` uses) so tests can replay it. A broker that refuses our
credentials is not going to change its mind in a second: such attempts wait at least
`refused_min`, which keeps a misconfigured box from flooding the broker and the log.

Pure apart from the injected random source: no sleeping here; the caller waits.
"""

from __future__ import annotations

import random

from tenacity import RetryCallState, wait_exponential


class ReconnectBackoff:
    """Delay before the next connection attempt; `reset()` after a successful connect."""

    def __init__(
        self, *, minimum: float, maximum: float, refused_min: float, rng: random.Random
    ) -> None:
        self._cap = wait_exponential(multiplier=minimum, max=maximum, exp_base=2)
        self._refused_min = min(refused_min, maximum)
        self._rng = rng
        self.failures = 0

    def reset(self) -> None:
        self.failures = 0

    def next_delay(self, *, refused: bool = False) -> float:
        """Count one more failure and return the seconds to wait before trying again."""
        self.failures += 1
        state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
        state.attempt_number = self.failures
        high = self._cap(state)
        delay = self._rng.uniform(0, high)
        return max(delay, self._refused_min) if refused else delay
