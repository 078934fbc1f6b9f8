"""Journal records straight to wire bytes, for the uplink's hot path.

`Journal.read()` parses each stored body into a dict, and `JournalRecord.to_wire()` makes
another copy; JSON-encoding that again cost about half of the box's CPU while draining a
backlog. The stored body already *is* the record's canonical JSON, so this reader splices
it into the wire form as bytes, without parsing. It reads the journal's table (migration 2)
through its own read-only connection and never writes; `tests/sync/test_wire.py` checks
that its bytes decode to exactly `JournalRecord.to_wire()`, so a schema change in the
journal fails a test here rather than silently changing what head office receives.
"""

from __future__ import annotations

import json
import sqlite3
from collections import deque
from json.encoder import encode_basestring
from pathlib import Path

from gateway.errors import DatabaseError

_SELECT = (
    "SELECT seq, id, time, clock_synced, kind, body, prev_hash, hash "
    "FROM journal_record WHERE seq > ? ORDER BY seq LIMIT ?"
)


def _text(value: bytes) -> bytes:
    """A JSON string literal for a stored text value (ids, times and kinds are short)."""
    return encode_basestring(value.decode("utf-8")).encode("utf-8")


class WireReader:
    """Reads journal records as `(seq, hash, wire bytes)`; one per uplink thread."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self._conn = sqlite3.connect(
                f"file:{self.path}?mode=ro", uri=True, check_same_thread=False
            )
            self._conn.text_factory = bytes
            self._conn.execute("PRAGMA busy_timeout = 5000")
        except sqlite3.DatabaseError as exc:
            raise DatabaseError(
                f"cannot open the journal read-only: {exc}",
                where=str(self.path),
                fix="check paths.data_dir; run `gateway journal verify`",
            ) from exc

    def read(self, after_seq: int, limit: int) -> list[tuple[int, str, bytes]]:
        rows = self._conn.execute(_SELECT, (after_seq, limit)).fetchall()
        return [
            (
                seq,
                digest.decode("ascii"),
                b"".join(
                    (
                        b'{"seq":',
                        str(seq).encode(),
                        b',"id":',
                        _text(ident),
                        b',"time":',
                        _text(time),
                        b',"clock_synced":',
                        b"true" if synced else b"false",
                        b',"kind":',
                        _text(kind),
                        b',"body":',
                        body,
                        b',"prev_hash":"',
                        prev,
                        b'","hash":"',
                        digest,
                        b'"}',
                    )
                ),
            )
            for seq, ident, time, synced, kind, body, prev, digest in rows
        ]

    def close(self) -> None:
        self._conn.close()


def take_batch(
    pending: deque[tuple[int, bytes]], max_records: int, max_bytes: int
) -> list[tuple[int, bytes]]:
    """Pop encoded records off `pending` while the batch stays within both bounds.

    At least one record is taken even when it alone exceeds `max_bytes`, so one large
    record never blocks the journal.
    """
    batch: list[tuple[int, bytes]] = []
    size = 0
    while pending and len(batch) < max_records:
        encoded = pending[0][1]
        if batch and size + len(encoded) + 1 > max_bytes:
            break
        batch.append(pending.popleft())
        size += len(encoded) + 1
    return batch


def batch_payload(
    *, store: str, box: str, historical: bool, sent_at: str, records: list[tuple[int, bytes]]
) -> bytes:
    """A `JournalBatch` message around already-encoded records (see payloads.JournalBatch)."""
    head = json.dumps(
        {
            "v": 1,
            "store": store,
            "box": box,
            "first_seq": records[0][0],
            "last_seq": records[-1][0],
            "historical": historical,
            "sent_at": sent_at,
        },
        separators=(",", ":"),
    )
    return head[:-1].encode() + b',"records":[' + b",".join(r for _, r in records) + b"]}"
