"""The journal in SQLite: append (one writer), read, acknowledge, prune.

Owns the `journal_record` and `journal_state` tables (migration 2) and nothing else; it
never opens the database itself (gateway.database does, with WAL + synchronous=FULL) and
never touches another room's tables except through the caller's `also` callback, which runs
inside the journal's own transaction.

Theory of operation: `journal_state` holds the head (seq, hash), the head-office
acknowledgement watermark (seq, hash) and the prune anchor (seq, hash of the last record
deleted). An append reads the head, chains the new records onto it, inserts them and moves
the head, all in one `BEGIN IMMEDIATE` transaction that is committed (fsync) before the
call returns: a sale is durable before its receipt is printed. Each record's `id` is its
idempotency key; re-appending an id already present returns the stored record and does
not run `also` again, so a crash between commit and print never records a sale twice.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlite_utils

from gateway.errors import DatabaseError
from gateway.journal.chain import canonical_json, envelope_bytes, hash_bytes
from gateway.journal.clock import Clock, SystemClock, system_clock, utc_iso
from gateway.journal.errors import JournalError, RecordIdConflict
from gateway.journal.records import JournalRecord
from gateway.journal.retention import Dependent, Hold, Watermarks, step_end, window
from gateway.journal.verify import VerifyReport, database_where, verify_journal

__all__ = [
    "DEFAULT_RETENTION",
    "Clock",
    "Journal",
    "JournalState",
    "SystemClock",
    "VerifyReport",
    "new_record_id",
    "system_clock",
    "verify_journal",
]

log = logging.getLogger(__name__)

DEFAULT_RETENTION = timedelta(days=90)
Also = Callable[[sqlite3.Connection], None]
Entry = tuple[str, Mapping[str, Any]] | tuple[str, Mapping[str, Any], str | None]

_COLUMNS = "seq, id, time, clock_synced, kind, body, prev_hash, hash"
_INSERT = "INSERT INTO journal_record (" + _COLUMNS + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
_STATE = (
    "SELECT head_seq, head_hash, acknowledged_seq, acknowledged_hash, anchor_seq, "
    "anchor_hash FROM journal_state WHERE id = 1"
)


def new_record_id() -> str:
    """A fresh idempotency key (uuid4 hex); inject another for deterministic tests."""
    return uuid.uuid4().hex


@dataclass(frozen=True)
class JournalState:
    """The anchors of the chain, read in one statement."""

    head_seq: int
    head_hash: str
    acknowledged_seq: int
    acknowledged_hash: str
    anchor_seq: int
    anchor_hash: str


@dataclass(frozen=True)
class _Prepared:
    """An entry turned into canonical bytes before the transaction starts."""

    kind: str
    body_bytes: bytes
    record_id: str
    caller_id: bool


def _row_to_record(row: Sequence[Any]) -> JournalRecord:
    seq, record_id, time, synced, kind, body, prev_hash, record_hash = row
    return JournalRecord(
        seq=seq,
        id=record_id,
        time=time,
        clock_synced=bool(synced),
        kind=kind,
        body=json.loads(body),
        prev_hash=prev_hash,
        hash=record_hash,
    )


class Journal:
    """The box's hash-chained journal; one instance per writing connection (one writer)."""

    def __init__(
        self,
        db: sqlite_utils.Database,
        *,
        clock: Clock = system_clock,
        new_id: Callable[[], str] = new_record_id,
    ) -> None:
        self._db = db
        self._conn: sqlite3.Connection = db.conn
        self._clock = clock
        self._new_id = new_id
        self._lock = threading.RLock()  # reads too: the connection may be shared by threads
        self._last_time: str | None = None
        self._where = database_where(db)

    # -- writing -----------------------------------------------------------------------

    def append(
        self,
        kind: str,
        body: Mapping[str, Any],
        *,
        record_id: str | None = None,
        also: Also | None = None,
    ) -> JournalRecord:
        """Commit one record (durable on return); an id already present returns that record."""
        return self.append_many([(kind, body, record_id)], also=also)[0]

    def append_many(
        self, entries: Sequence[Entry], *, also: Also | None = None
    ) -> list[JournalRecord]:
        """Commit several records in one transaction: all are written, or none.

        Entries are (kind, body) or (kind, body, record_id). When every given id is already
        present the stored records are returned and `also` is not run; a batch mixing old
        and new ids is refused (ids are written in batches, so that is id re-use).
        """
        if not entries:
            return []
        prepared = [self._prepare(entry) for entry in entries]
        _refuse_repeated_ids(prepared)
        with self._lock, self._write_transaction() as conn:
            existing = self._already_recorded(prepared)
            if existing is not None:
                return existing
            records = self._chain_and_insert(conn, prepared)
            if also is not None:
                also(conn)
        return records

    def _prepare(self, entry: Entry) -> _Prepared:
        kind, body = entry[0], entry[1]
        record_id = entry[2] if len(entry) > 2 else None
        if not isinstance(kind, str) or not kind:
            raise JournalError(
                f"record kind {kind!r} must be a non-empty string",
                where="journal append",
                fix="pass a kind such as 'sale'",
            )
        if not isinstance(body, Mapping):
            raise JournalError(
                f"record body must be a mapping, not {type(body).__name__}",
                where=f"journal append kind={kind}",
                fix="pass a dict body",
            )
        if record_id is not None and (not isinstance(record_id, str) or not record_id):
            raise JournalError(
                f"record id {record_id!r} must be a non-empty string",
                where=f"journal append kind={kind}",
                fix="pass a uuid hex string, or None for a fresh one",
            )
        return _Prepared(
            kind=kind,
            body_bytes=canonical_json(body),
            record_id=record_id or self._new_id(),
            caller_id=record_id is not None,
        )

    def _already_recorded(self, prepared: list[_Prepared]) -> list[JournalRecord] | None:
        given = [p for p in prepared if p.caller_id]
        if not given:
            return None
        found = {r.id: r for r in self._find_many([p.record_id for p in given])}
        if not found:
            return None
        if len(found) != len(prepared):
            raise RecordIdConflict(
                f"{len(found)} of {len(prepared)} record ids in this batch are already in the "
                "journal",
                where=f"record ids {sorted(found)}",
                fix="re-append a committed batch exactly as it was, or use fresh ids",
            )
        for item in prepared:
            _check_same(found[item.record_id], item)
        return [found[p.record_id] for p in prepared]

    def _chain_and_insert(
        self, conn: sqlite3.Connection, prepared: list[_Prepared]
    ) -> list[JournalRecord]:
        moment, synced = self._clock()
        time = utc_iso(moment)
        self._note_clock_step(time)
        state = self._state()
        seq, prev = state.head_seq, state.head_hash
        rows: list[tuple[Any, ...]] = []
        for item in prepared:
            seq += 1
            digest = hash_bytes(
                envelope_bytes(
                    prev_hash=prev,
                    seq=seq,
                    id=item.record_id,
                    time=time,
                    clock_synced=synced,
                    kind=item.kind,
                    body_bytes=item.body_bytes,
                )
            )
            rows.append(
                (
                    seq,
                    item.record_id,
                    time,
                    int(synced),
                    item.kind,
                    item.body_bytes.decode("utf-8"),
                    prev,
                    digest,
                )
            )
            prev = digest
        with self._sqlite_errors("appending to the journal"):
            conn.executemany(_INSERT, rows)
            conn.execute(
                "UPDATE journal_state SET head_seq = ?, head_hash = ? WHERE id = 1", (seq, prev)
            )
        return [_row_to_record(row) for row in rows]

    def _note_clock_step(self, time: str) -> None:
        """A clock stepping backwards is recorded as it is (seq keeps the order), and logged."""
        if self._last_time is None:
            head = self.head()
            self._last_time = head.time if head else time
        if time < self._last_time:
            log.warning(
                "wall clock stepped back: %s after %s (journal order is seq)", time, self._last_time
            )
        self._last_time = time

    # -- acknowledgement and pruning ---------------------------------------------------

    def acknowledge(self, seq: int, *, expected_hash: str | None = None) -> None:
        """Move the head-office watermark up to `seq` (never down; lower is a no-op).

        `expected_hash`, when given, is the hash head office holds for `seq`; a mismatch
        means the two copies of the chain differ and nothing is acknowledged.
        """
        with self._lock, self._write_transaction():
            state = self._state()
            if seq > state.head_seq or seq < 0:
                raise JournalError(
                    f"cannot acknowledge seq {seq}: the journal head is {state.head_seq}",
                    where=self._where,
                    fix="acknowledge only records this box has sent",
                )
            if seq <= state.acknowledged_seq:
                return
            stored = self._hash_of(seq)
            if expected_hash is not None and expected_hash != stored:
                raise JournalError(
                    f"head office acknowledged seq {seq} with hash {expected_hash}, but this "
                    f"box holds {stored}",
                    where=self._where,
                    fix="run `gateway journal verify`; the chains diverge, do not prune",
                )
            with self._sqlite_errors("acknowledging"):
                self._conn.execute(
                    "UPDATE journal_state SET acknowledged_seq = ?, "
                    "acknowledged_hash = ? WHERE id = 1",
                    (seq, stored),
                )

    def prune(
        self,
        now: datetime,
        retention: timedelta = DEFAULT_RETENTION,
        *,
        backed_up_seq: int,
        batch: int = 1_000_000,
    ) -> int:
        """Delete the oldest records that are acknowledged, held in a backup (seq <=
        `backed_up_seq`) AND older than `retention`, at most `batch` of them.

        Only a prefix is deleted (so the chain stays verifiable from the new anchor), the
        head record is always kept, and a record stamped in the future (clock jump) stops
        the prefix until it too has aged. Returns how many records were deleted. The
        daemon prunes through `gateway.journal.retention.RetentionKeeper` instead, in steps.
        """
        state = self._state()
        marks = Watermarks(state.anchor_seq, state.head_seq, state.acknowledged_seq, backed_up_seq)
        chosen = window(marks, batch)
        if isinstance(chosen, Hold):
            return 0
        young = self.first_young(chosen.first, chosen.last, utc_iso(now - retention))
        end = step_end(chosen, young)
        return 0 if isinstance(end, Hold) else self.prune_through(end)

    def first_young(self, first: int, last: int, cutoff: str) -> int | None:
        """The first seq in `first..last` stamped at or after `cutoff` (UTC ISO), if any.

        Reads at most `last - first + 1` rows, by primary key: bounded work per step."""
        with self._lock, self._sqlite_errors("reading the journal"):
            row = self._conn.execute(
                "SELECT min(seq) FROM journal_record WHERE seq BETWEEN ? AND ? AND time >= ?",
                (first, last, cutoff),
            ).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def prune_through(self, upto: int, *, dependents: Sequence[Dependent] = ()) -> int:
        """Delete records anchor+1..`upto` and move the anchor to `upto`, in one transaction
        with each dependent's own deletions (`dependent(conn, upto)`).

        Refuses (JournalError, nothing deleted) to delete the head or anything not yet
        acknowledged; whether the records are old enough and backed up is the caller's
        decision (`gateway.journal.retention`). Returns how many records were deleted."""
        with self._lock, self._write_transaction() as conn:
            state = self._state()
            if upto <= state.anchor_seq:
                return 0
            if upto > state.acknowledged_seq or upto >= state.head_seq:
                raise JournalError(
                    f"cannot prune up to record {upto}: head office acknowledged up to "
                    f"{state.acknowledged_seq} and the head ({state.head_seq}) is always kept",
                    where=self._where,
                    fix="prune only acknowledged records before the head",
                )
            anchor_hash = self._hash_of(upto)
            with self._sqlite_errors("pruning"):
                deleted = conn.execute(
                    "DELETE FROM journal_record WHERE seq <= ?", (upto,)
                ).rowcount
                conn.execute(
                    "UPDATE journal_state SET anchor_seq = ?, anchor_hash = ? WHERE id = 1",
                    (upto, anchor_hash),
                )
                for dependent in dependents:
                    dependent(conn, upto)
        return int(deleted)

    # -- reading -----------------------------------------------------------------------

    def state(self) -> JournalState:
        """Head, acknowledgement and prune anchor as one consistent snapshot."""
        return self._state()

    def head(self) -> JournalRecord | None:
        """The newest record, or None before the first append."""
        return self._one(f"SELECT {_COLUMNS} FROM journal_record ORDER BY seq DESC LIMIT 1", ())

    def get(self, seq: int) -> JournalRecord | None:
        return self._one(f"SELECT {_COLUMNS} FROM journal_record WHERE seq = ?", (seq,))

    def find(self, record_id: str) -> JournalRecord | None:
        """The record with this idempotency key (e.g. to reprint a receipt after a crash)."""
        return self._one(f"SELECT {_COLUMNS} FROM journal_record WHERE id = ?", (record_id,))

    def read(self, after_seq: int, limit: int) -> list[JournalRecord]:
        """Up to `limit` records with seq > after_seq, in seq order (the sync outbox read)."""
        with self._lock, self._sqlite_errors("reading the journal"):
            rows = self._conn.execute(
                f"SELECT {_COLUMNS} FROM journal_record WHERE seq > ? ORDER BY seq LIMIT ?",
                (after_seq, limit),
            ).fetchall()
        return [_row_to_record(row) for row in rows]

    def acknowledged_seq(self) -> int:
        return self._state().acknowledged_seq

    def backlog(self) -> tuple[int, str | None]:
        """(records not yet acknowledged, time of the oldest of them or None)."""
        state = self._state()
        count = state.head_seq - state.acknowledged_seq
        oldest = self.get(state.acknowledged_seq + 1) if count else None
        return count, oldest.time if oldest else None

    # -- plumbing ----------------------------------------------------------------------

    def _state(self) -> JournalState:
        with self._lock, self._sqlite_errors("reading the journal state"):
            row = self._conn.execute(_STATE).fetchone()
        if row is None:
            raise DatabaseError(
                "the journal_state row is missing",
                where=self._where,
                fix="run `gateway journal verify`; restore the newest backup",
            )
        return JournalState(*row)

    def _hash_of(self, seq: int) -> str:
        with self._sqlite_errors("reading the journal"):
            row = self._conn.execute(
                "SELECT hash FROM journal_record WHERE seq = ?", (seq,)
            ).fetchone()
        if row is None:
            raise DatabaseError(
                f"journal record {seq} is missing",
                where=self._where,
                fix="run `gateway journal verify`",
            )
        return str(row[0])

    def _one(self, sql: str, params: tuple[Any, ...]) -> JournalRecord | None:
        with self._lock, self._sqlite_errors("reading the journal"):
            row = self._conn.execute(sql, params).fetchone()
        return _row_to_record(row) if row else None

    def _find_many(self, ids: list[str]) -> list[JournalRecord]:
        marks = ", ".join("?" * len(ids))
        with self._sqlite_errors("reading the journal"):
            rows = self._conn.execute(
                f"SELECT {_COLUMNS} FROM journal_record WHERE id IN ({marks})", ids
            ).fetchall()
        return [_row_to_record(row) for row in rows]

    @contextmanager
    def _write_transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT; any exception (also from `also`) rolls back."""
        if self._conn.in_transaction:
            raise JournalError(
                "the journal's connection is already inside a transaction; a record must "
                "commit on its own before a receipt prints",
                where=self._where,
                fix="commit first, or pass the work that must commit with the record as `also=`",
            )
        with self._sqlite_errors("starting a journal transaction"):
            self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise
        try:
            with self._sqlite_errors("committing the journal"):
                self._conn.execute("COMMIT")
        finally:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")

    @contextmanager
    def _sqlite_errors(self, doing: str) -> Iterator[None]:
        """Turn SQLite failures of the journal's own statements into a DatabaseError."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            raise DatabaseError(
                f"SQLite failed while {doing}: {exc}",
                where=self._where,
                fix="run `gateway journal verify`; if the file is damaged restore the newest "
                "backup with `gateway restore PATH`",
            ) from exc


def _refuse_repeated_ids(prepared: list[_Prepared]) -> None:
    counts = Counter(item.record_id for item in prepared)
    repeated = sorted(record_id for record_id, count in counts.items() if count > 1)
    if repeated:
        raise RecordIdConflict(
            f"record ids {repeated} appear more than once in one batch",
            where="journal append_many",
            fix="give every record of a batch its own id",
        )


def _check_same(stored: JournalRecord, item: _Prepared) -> None:
    if stored.kind == item.kind and canonical_json(stored.body) == item.body_bytes:
        return
    raise RecordIdConflict(
        f"record id {item.record_id} is already journalled as seq {stored.seq} "
        f"({stored.kind}) with a different body",
        where=f"journal record {stored.seq}",
        fix="re-append a committed record exactly as before (same kind and body), or use a "
        "fresh id for a new record",
    )
