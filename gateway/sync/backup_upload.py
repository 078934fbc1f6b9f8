"""Backups off the box (`cloud cmd STORE BOX upload_backup`, `cloud backups`): how a backup
file is cut into chunks with a checksum and put back together at head office.

Pure: bytes in, event bodies out, and back; no I/O, no clock. Each chunk is an event of
kind `backup.chunk` carrying `{upload, name, head_seq, size, sha256, part, parts, data}`
(`data` is base64 of at most CHUNK_BYTES; `sha256` is of the whole file). They go through
sync's bounded outbox: the journal keeps its own uplink and window. A file larger than
MAX_BYTES is refused rather than queued (it would take the outbox from the events).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gateway.errors import StoregateError

EVENT_KIND = "backup.chunk"
CHUNK_BYTES = 192 * 1024  # 256 KiB once base64: well below any broker's message limit
MAX_BYTES = 64 * 1024 * 1024  # at most 342 chunks
RESTORE_EXPIRY_S = 24 * 3600  # chunks sent back to a box stay on the broker a day


class BackupUploadError(StoregateError):
    """A backup too large to send, or an upload that does not reassemble."""


def chunk_bodies(upload: str, name: str, head_seq: int, data: bytes) -> list[dict[str, Any]]:
    """The events that carry `data` (the backup file `name`, journal head `head_seq`)."""
    if len(data) > MAX_BYTES:
        raise BackupUploadError(
            f"the backup is {len(data) // (1024 * 1024)} MiB, more than the "
            f"{MAX_BYTES // (1024 * 1024)} MiB the outbox takes",
            where=name,
            fix="copy the backup off the box by hand (`gateway backup`, then scp)",
        )
    digest = hashlib.sha256(data).hexdigest()
    pieces = [data[i : i + CHUNK_BYTES] for i in range(0, len(data), CHUNK_BYTES)] or [b""]
    return [
        {
            "upload": upload,
            "name": name,
            "head_seq": head_seq,
            "size": len(data),
            "sha256": digest,
            "part": number,
            "parts": len(pieces),
            "data": base64.b64encode(piece).decode("ascii"),
        }
        for number, piece in enumerate(pieces, start=1)
    ]


@dataclass(frozen=True)
class UploadedBackup:
    upload: str
    name: str
    head_seq: int
    size: int
    sha256: str
    parts: int
    missing: list[int]

    @property
    def complete(self) -> bool:
        return not self.missing


def describe(bodies: Sequence[Mapping[str, Any]]) -> UploadedBackup:
    """What an upload's chunks (any order, duplicates allowed) say about it."""
    first = bodies[0]
    total = int(first.get("parts", 1))
    have = {int(b.get("part", 0)) for b in bodies}
    return UploadedBackup(
        upload=str(first.get("upload")),
        name=str(first.get("name")),
        head_seq=int(first.get("head_seq", 0)),
        size=int(first.get("size", 0)),
        sha256=str(first.get("sha256")),
        parts=total,
        missing=[n for n in range(1, total + 1) if n not in have],
    )


def reassemble(bodies: Sequence[Mapping[str, Any]]) -> bytes:
    """The backup file; `BackupUploadError` when a chunk is missing or the checksum fails."""
    info = describe(bodies)
    where = f"backup upload {info.upload}"
    if info.missing:
        raise BackupUploadError(
            f"chunk(s) {', '.join(map(str, info.missing))} of {info.parts} not stored yet",
            where=where,
            fix="wait for the box to send them (`cloud backups list` shows progress)",
        )
    by_part: dict[int, bytes] = {}
    for body in bodies:
        if body.get("upload") != info.upload or body.get("sha256") != info.sha256:
            raise BackupUploadError("chunks of different uploads mixed", where=where)
        try:
            by_part[int(body["part"])] = base64.b64decode(str(body["data"]), validate=True)
        except (binascii.Error, ValueError, KeyError) as exc:
            raise BackupUploadError(f"a chunk is not base64: {exc}", where=where) from exc
    data = b"".join(by_part[n] for n in range(1, info.parts + 1))
    if len(data) != info.size or hashlib.sha256(data).hexdigest() != info.sha256:
        raise BackupUploadError(
            "the reassembled backup does not match its checksum",
            where=where,
            fix="ask the box for a new upload (`cloud cmd STORE BOX upload_backup`)",
        )
    return data


def newest_complete(bodies: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]] | None:
    """Of chunks of possibly several uploads (a box's restore topics), those of the
    complete upload with the highest journal head; None when none is complete yet."""
    uploads: dict[str, list[Mapping[str, Any]]] = {}
    for body in bodies:
        uploads.setdefault(str(body.get("upload")), []).append(body)
    complete = [parts for parts in uploads.values() if describe(parts).complete]
    return max(complete, key=lambda parts: describe(parts).head_seq, default=None)
