"""Remote logs (`cloud cmd STORE BOX upload_logs`): what is sent, how it is cut, how
head office puts it back together.

Pure: no I/O, no clock. The box's handler (gateway.daemon.remote) takes the newest log
lines it keeps, `select_lines` bounds them by count and bytes (the newest win), and
`parts` cuts them into events of kind `log.upload` of at most PART_BYTES each. They go
through sync's bounded outbox like every event: the journal has its own uplink and window
and never waits behind them, and one upload is at most MAX_BYTES / PART_BYTES events, so
it cannot fill the outbox (telemetry is dropped first if it ever is full).
Head office (`cloud logs`) gathers an upload's parts with `assemble`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gateway.sync.errors import CommandFailed

EVENT_KIND = "log.upload"
DEFAULT_LINES = 200
MAX_LINES = 2000
DEFAULT_BYTES = 64 * 1024
MAX_BYTES = 256 * 1024
PART_BYTES = 16 * 1024


@dataclass(frozen=True)
class UploadLimits:
    lines: int
    max_bytes: int


def limits(args: Mapping[str, Any]) -> UploadLimits:
    """`{lines?, max_bytes?}` of the command, checked; `CommandFailed` says the bounds."""
    unknown = sorted(set(args) - {"lines", "max_bytes"})
    if unknown:
        raise CommandFailed(
            f"unknown argument(s) {', '.join(unknown)}",
            fix="upload_logs takes lines=N and max_bytes=N only",
        )
    lines = _bounded(args, "lines", DEFAULT_LINES, MAX_LINES)
    max_bytes = _bounded(args, "max_bytes", DEFAULT_BYTES, MAX_BYTES)
    return UploadLimits(lines, max_bytes)


def _bounded(args: Mapping[str, Any], name: str, default: int, most: int) -> int:
    value = args.get(name, default)
    try:
        number = int(str(value))
    except ValueError:
        number = 0
    if not 1 <= number <= most:
        raise CommandFailed(
            f"{name}={value!r} is out of range", fix=f"{name} is a whole number from 1 to {most}"
        )
    return number


def select_lines(lines: Sequence[str], bounds: UploadLimits) -> list[str]:
    """The newest lines within both bounds, oldest first (a longer line is cut)."""
    chosen: list[str] = []
    used = 0
    for line in reversed(lines[-bounds.lines :]):
        kept = line[: PART_BYTES // 4]  # one line never fills a part alone
        size = len(kept.encode()) + 1
        if used + size > bounds.max_bytes:
            break
        chosen.append(kept)
        used += size
    chosen.reverse()
    return chosen


def parts(upload: str, lines: Sequence[str]) -> list[dict[str, Any]]:
    """Event bodies of at most PART_BYTES of lines each, numbered from 1 (at least one)."""
    groups: list[list[str]] = [[]]
    size = 0
    for line in lines:
        length = len(line.encode()) + 1
        if groups[-1] and size + length > PART_BYTES:
            groups.append([])
            size = 0
        groups[-1].append(line)
        size += length
    return [
        {"upload": upload, "part": i, "parts": len(groups), "lines": group}
        for i, group in enumerate(groups, start=1)
    ]


@dataclass(frozen=True)
class Upload:
    upload: str
    lines: list[str]
    parts: int
    missing: list[int]  # part numbers not (yet) at head office


def assemble(bodies: Sequence[Mapping[str, Any]]) -> Upload:
    """One upload's parts (any order, duplicates allowed) back into its lines."""
    if not bodies:
        raise ValueError("no parts")
    upload = str(bodies[0].get("upload"))
    total = max(int(b.get("parts", 1)) for b in bodies)
    by_part = {int(b.get("part", 0)): list(b.get("lines", [])) for b in bodies}
    missing = [n for n in range(1, total + 1) if n not in by_part]
    lines = [str(line) for n in sorted(by_part) if 1 <= n <= total for line in by_part[n]]
    return Upload(upload, lines, total, missing)
