"""One spelling of instants on the wire: UTC ISO-8601 with milliseconds and `Z`.

Pure. Parsing accepts any ISO-8601 with an offset (head office may write `+00:00`);
a naive time is refused because a shop's clock zone must never be guessed.
"""

from __future__ import annotations

from datetime import UTC, datetime


def iso(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_instant(text: str) -> datetime:
    """Parse an ISO-8601 instant with an offset; ValueError otherwise."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(f"time {text!r} has no UTC offset")
    return value.astimezone(UTC)
