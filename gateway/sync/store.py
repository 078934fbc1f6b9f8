"""Sync's own SQLite file: the bounded outbox for events/telemetry, document versions in
force, executed command ids, counters and the last status snapshot.

One writer: the process running the sync service (a lock serialises its threads).
`gateway sync status` opens it read-only. It never holds journal records: the journal is
the outbox of record for sales, and nothing here may drop or delay one.

Full policy of the outbox: at `capacity` messages, the oldest telemetry goes first, then the
oldest event; every drop is counted (and reported in telemetry).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from gateway.errors import DatabaseError
from gateway.private_files import private_sqlite

Channel = Literal["events", "telemetry", "cmd_result"]
SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    channel TEXT NOT NULL,
    payload BLOB NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_channel ON outbox(channel, id);
CREATE TABLE IF NOT EXISTS counter (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS document_version (
    kind TEXT PRIMARY KEY, version INTEGER NOT NULL, sha256 TEXT NOT NULL,
    applied_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS command_log (
    id TEXT PRIMARY KEY, name TEXT, received_at TEXT NOT NULL, expires_at TEXT NOT NULL,
    status TEXT NOT NULL, result TEXT
);
CREATE TABLE IF NOT EXISTS status (
    id INTEGER PRIMARY KEY CHECK (id = 1), body TEXT NOT NULL, updated_at TEXT NOT NULL
);
"""
# Dropped first when the outbox is full; command results and events only when no
# telemetry is left to drop.
DROP_ORDER: tuple[Channel, ...] = ("telemetry", "events", "cmd_result")


@dataclass(frozen=True)
class QueuedMessage:
    id: int
    channel: Channel
    payload: bytes


@dataclass(frozen=True)
class CommandEntry:
    id: str
    name: str | None
    status: str
    result: dict[str, Any] | None


class SyncStore:
    """The sync state file; thread-safe for the one process that owns it."""

    def __init__(self, path: str | Path, *, capacity: int, readonly: bool = False) -> None:
        self.path = Path(path)
        self.capacity = capacity
        self._lock = threading.Lock()
        try:
            if readonly:
                self._conn = sqlite3.connect(
                    f"file:{self.path}?mode=ro",
                    uri=True,
                    isolation_level=None,
                    check_same_thread=False,
                )
            else:
                private_sqlite(self.path)  # 0600 whatever the umask
                self._conn = sqlite3.connect(
                    str(self.path), isolation_level=None, check_same_thread=False
                )
                self._conn.execute("PRAGMA journal_mode = WAL")
                self._conn.execute("PRAGMA synchronous = FULL")
                self._conn.executescript(SCHEMA)
                self._conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            self._conn.execute("PRAGMA busy_timeout = 5000")
        except sqlite3.DatabaseError as exc:
            raise DatabaseError(
                f"sync state file cannot be used: {exc}",
                where=str(self.path),
                fix=_fix_for(exc),
            ) from exc

    def close(self) -> None:
        self._conn.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    # ------------------------------------------------------------ outbox

    def enqueue(self, channel: Channel, payload: bytes, created_at: str) -> int:
        """Queue a message; drops the oldest by DROP_ORDER first when full. Returns drops."""
        with self._transaction() as db:
            depth = db.execute("SELECT count(*) FROM outbox").fetchone()[0]
            dropped = 0
            while depth - dropped >= self.capacity and self._drop_oldest(db):
                dropped += 1
            db.execute(
                "INSERT INTO outbox (channel, payload, created_at) VALUES (?, ?, ?)",
                (channel, payload, created_at),
            )
            return dropped

    def _drop_oldest(self, db: sqlite3.Connection) -> bool:
        for channel in DROP_ORDER:
            row = db.execute(
                "SELECT id FROM outbox WHERE channel = ? ORDER BY id LIMIT 1", (channel,)
            ).fetchone()
            if row is not None:
                db.execute("DELETE FROM outbox WHERE id = ?", (row[0],))
                self._bump(db, f"dropped_{channel}", 1)
                return True
        return False

    def peek(self, after_id: int, limit: int) -> list[QueuedMessage]:
        """Queued messages with id > after_id, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, channel, payload FROM outbox WHERE id > ? ORDER BY id LIMIT ?",
                (after_id, limit),
            ).fetchall()
        return [QueuedMessage(r[0], r[1], bytes(r[2])) for r in rows]

    def remove(self, message_id: int) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM outbox WHERE id = ?", (message_id,))

    def depth(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT count(*) FROM outbox").fetchone()[0])

    # ------------------------------------------------------------ counters

    @staticmethod
    def _bump(db: sqlite3.Connection, name: str, by: int) -> None:
        db.execute(
            "INSERT INTO counter VALUES (?, ?) ON CONFLICT(name) DO UPDATE "
            "SET value = value + excluded.value",
            (name, by),
        )

    def bump(self, name: str, by: int = 1) -> int:
        with self._transaction() as db:
            self._bump(db, name, by)
            return int(
                db.execute("SELECT value FROM counter WHERE name = ?", (name,)).fetchone()[0]
            )

    def counter(self, name: str) -> int:
        with self._lock:
            row = self._conn.execute("SELECT value FROM counter WHERE name = ?", (name,)).fetchone()
        return int(row[0]) if row else 0

    # ------------------------------------------------------------ documents

    def document_version(self, kind: str) -> tuple[int, str] | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT version, sha256 FROM document_version WHERE kind = ?", (kind,)
            ).fetchone()
        return (int(row[0]), str(row[1])) if row else None

    def set_document_version(self, kind: str, version: int, sha256: str, at: str) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO document_version VALUES (?, ?, ?, ?)",
                (kind, version, sha256, at),
            )

    # ------------------------------------------------------------ commands

    def claim_command(
        self, command_id: str, name: str | None, received_at: str, expires_at: str
    ) -> CommandEntry | None:
        """Record `command_id` as running; the earlier entry if it was seen before."""
        with self._transaction() as db:
            row = db.execute(
                "SELECT id, name, status, result FROM command_log WHERE id = ?", (command_id,)
            ).fetchone()
            if row is not None:
                return CommandEntry(row[0], row[1], row[2], json.loads(row[3]) if row[3] else None)
            db.execute(
                "INSERT INTO command_log VALUES (?, ?, ?, ?, 'running', NULL)",
                (command_id, name, received_at, expires_at),
            )
            return None

    def finish_command(self, command_id: str, status: str, result: dict[str, Any]) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE command_log SET status = ?, result = ? WHERE id = ?",
                (status, json.dumps(result), command_id),
            )

    def forget_commands(self, expired_before: str) -> int:
        """Drop ids whose expiry passed long ago: a replay of them is refused as expired."""
        with self._transaction() as db:
            return db.execute(
                "DELETE FROM command_log WHERE expires_at < ?", (expired_before,)
            ).rowcount

    # ------------------------------------------------------------ status snapshot

    def write_status(self, body: dict[str, Any], at: str) -> None:
        with self._transaction() as db:
            db.execute("INSERT OR REPLACE INTO status VALUES (1, ?, ?)", (json.dumps(body), at))

    def read_status(self) -> tuple[dict[str, Any], str] | None:
        with self._lock:
            row = self._conn.execute("SELECT body, updated_at FROM status WHERE id = 1").fetchone()
        return (json.loads(row[0]), str(row[1])) if row else None


def _fix_for(exc: sqlite3.DatabaseError) -> str:
    """What a technician does: a full disk needs space, not a new file (moving the file
    aside would lose the queued events and change nothing)."""
    text = str(exc).lower()
    if "full" in text or "disk i/o" in text or "no space" in text:
        return (
            "free space on the box's disk (`gateway doctor` shows how much is left); "
            "sync starts again by itself"
        )
    return (
        "stop the gateway, move the file aside (it holds only queued telemetry, "
        "events and downlink versions) and start again"
    )
