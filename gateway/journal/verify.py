"""Walking the stored chain and naming the first record altered, removed or inserted.

`ChainCheck` is a pure state machine fed stored rows in seq order (no SQLite, no clock);
`verify_journal` is the only part that reads the database, and it only reads (a read-only
connection is enough). Bytes are hashed exactly as stored (the body column is read as a
BLOB), so any changed byte, even one that leaves the JSON meaning intact, is found.

What a local check can and cannot see: every edit of a record, a gap, a renumbering, and a
change of the head/acknowledged anchors kept in `journal_state`. Someone who rewrites the
whole chain *and* the anchors is caught only by head office, whose acknowledged hashes do
not move (see docs/journal.md).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from gateway.errors import DatabaseError
from gateway.journal.chain import GENESIS_HASH, envelope_bytes, hash_bytes

# Every column as bytes (NULL as empty): damaged text must not stop the walk, it must show.
_ROWS = (
    "SELECT seq, "
    + ", ".join(
        f"CAST(coalesce({column}, '') AS BLOB)" if column != "clock_synced" else column
        for column in ("id", "time", "clock_synced", "kind", "body", "prev_hash", "hash")
    )
    + " FROM journal_record ORDER BY seq"
)
_STATE = (
    "SELECT head_seq, head_hash, acknowledged_seq, acknowledged_hash, anchor_seq, "
    "anchor_hash FROM journal_state WHERE id = 1"
)
_SYNCED: dict[Any, bool] = {0: False, 1: True}


@dataclass(frozen=True)
class StoredRow:
    """A journal row as its bytes were found; text is decoded leniently so damage shows."""

    seq: int
    id: str
    time: str
    clock_synced: Any
    kind: str
    body_bytes: bytes
    prev_hash: str
    hash: str

    @classmethod
    def from_sql(cls, row: tuple[Any, ...]) -> StoredRow:
        seq, rid, time, synced, kind, body, prev_hash, digest = row
        return cls(
            seq,
            rid.decode("utf-8", "replace"),
            time.decode("utf-8", "replace"),
            synced,
            kind.decode("utf-8", "replace"),
            body,
            prev_hash.decode("utf-8", "replace"),
            digest.decode("utf-8", "replace"),
        )

    def digest_as(self, seq: int, synced: bool) -> str:
        """The hash this row's content would carry if it were record `seq`."""
        return hash_bytes(
            envelope_bytes(
                prev_hash=self.prev_hash,
                seq=seq,
                id=self.id,
                time=self.time,
                clock_synced=synced,
                kind=self.kind,
                body_bytes=self.body_bytes,
            )
        )


@dataclass(frozen=True)
class Finding:
    """The first bad record and what is wrong with it, in words a technician can act on."""

    seq: int
    problem: str


def _missing(first: int, last: int) -> str:
    return f"record {first} is missing" if first == last else f"records {first}..{last} are missing"


class ChainCheck:
    """Fed rows in seq order; `feed` and `finish` return the first Finding, or None."""

    def __init__(
        self,
        *,
        anchor_seq: int = 0,
        anchor_hash: str = GENESIS_HASH,
        acknowledged_seq: int = 0,
        acknowledged_hash: str = GENESIS_HASH,
    ) -> None:
        self.anchor_seq = anchor_seq
        self.acknowledged_seq = acknowledged_seq
        self.acknowledged_hash = acknowledged_hash
        self.expected = anchor_seq + 1
        self.prev_hash = anchor_hash
        self.prev_prev_hash: str | None = None
        self.checked = 0
        self.clock_steps_back = 0
        self.unsynchronised = 0
        self._last_time = ""

    def feed(self, row: StoredRow) -> Finding | None:
        finding = self._diagnose(row)
        if finding is None:
            self._advance(row)
        return finding

    def finish(self, head_seq: int, head_hash: str) -> Finding | None:
        """Compare where the walk ended with the head the journal recorded on each append."""
        last = self.expected - 1
        if last < head_seq:
            return Finding(
                last + 1,
                f"{_missing(last + 1, head_seq)} (removed): the journal head is record {head_seq}",
            )
        if last > head_seq:
            return Finding(
                head_seq + 1,
                f"record {head_seq + 1} was inserted after the head "
                f"the journal recorded (record {head_seq})",
            )
        if self.prev_hash != head_hash:
            return Finding(
                head_seq,
                f"record {head_seq} was altered and re-hashed: its hash "
                f"differs from the recorded head hash {head_hash[:16]}",
            )
        return None

    def _advance(self, row: StoredRow) -> None:
        self.checked += 1
        self.expected = row.seq + 1
        self.prev_prev_hash, self.prev_hash = self.prev_hash, row.hash
        self.clock_steps_back += row.time < self._last_time
        self.unsynchronised += row.clock_synced == 0
        self._last_time = row.time

    def _diagnose(self, row: StoredRow) -> Finding | None:
        seq = row.seq
        if seq < self.expected:
            return Finding(
                seq,
                f"record {seq} lies at or before the prune anchor (record "
                f"{self.anchor_seq}): it was inserted",
            )
        if seq > self.expected:
            return Finding(
                self.expected,
                f"{_missing(self.expected, seq - 1)} (removed): "
                f"record {seq} follows record {self.expected - 1}",
            )
        synced = _SYNCED.get(row.clock_synced)
        intact = synced is not None and row.digest_as(seq, synced) == row.hash
        linked = row.prev_hash == self.prev_hash
        if intact and linked:
            return self._against_acknowledged(row)
        if not linked and row.prev_hash == self.prev_prev_hash:
            return Finding(
                seq - 1,
                f"record {seq - 1} was inserted: record {seq} links straight to record {seq - 2}",
            )
        if intact:
            return self._unlinked(seq)
        return self._altered(row, synced, linked)

    def _unlinked(self, seq: int) -> Finding:
        if seq == self.anchor_seq + 1:
            start = (
                "the genesis hash"
                if self.anchor_seq == 0
                else f"the prune anchor (record {self.anchor_seq})"
            )
            return Finding(
                seq,
                f"record {seq} does not link to {start}: it was altered and "
                "re-hashed, or the anchor was changed",
            )
        return Finding(
            seq - 1,
            f"record {seq - 1} was altered and re-hashed: record {seq} links to a different hash",
        )

    def _altered(self, row: StoredRow, synced: bool | None, linked: bool) -> Finding:
        seq = row.seq
        if synced is None:
            return Finding(
                seq, f"record {seq} was altered: clock_synced is {row.clock_synced!r}, not 0 or 1"
            )
        moved = [other for other in (seq + 1, seq - 1) if row.digest_as(other, synced) == row.hash]
        if moved:
            return Finding(
                seq,
                f"record {seq} holds the content of record {moved[0]}: records "
                "were removed, inserted or reordered and renumbered",
            )
        if not linked:
            return Finding(
                seq, f"record {seq} was altered: its prev_hash and its hash do not match the chain"
            )
        return Finding(seq, f"record {seq} was altered: its content does not match its hash")

    def _against_acknowledged(self, row: StoredRow) -> Finding | None:
        if row.seq == self.acknowledged_seq and row.hash != self.acknowledged_hash:
            return Finding(
                row.seq,
                f"record {row.seq} differs from the one head office "
                "acknowledged: the chain up to it was rewritten",
            )
        return None


@dataclass(frozen=True)
class VerifyReport:
    """Result of walking the journal; `problem` names the first bad record when not ok."""

    ok: bool
    checked: int
    first_bad_seq: int | None
    problem: str | None
    head_seq: int
    anchor_seq: int
    acknowledged_seq: int
    clock_steps_back: int
    unsynchronised: int

    def describe(self) -> str:
        if self.ok:
            first = self.anchor_seq + 1 if self.checked else 0
            return (
                f"journal intact: {self.checked} records checked ({first}..{self.head_seq}), "
                f"acknowledged up to {self.acknowledged_seq}, "
                f"{self.clock_steps_back} clock steps back, "
                f"{self.unsynchronised} written with an unsynchronised clock"
            )
        return f"journal BROKEN at record {self.first_bad_seq}: {self.problem}"


def database_where(db: sqlite_utils.Database) -> str:
    """The file behind a connection, for error messages."""
    try:
        for _, name, file in db.conn.execute("PRAGMA database_list"):
            if name == "main":
                return str(file or ":memory:")
    except sqlite3.Error:
        pass
    return "journal database"


def _rows(conn: sqlite3.Connection) -> Iterator[StoredRow]:
    cursor = conn.execute(_ROWS)
    while batch := cursor.fetchmany(2048):
        for row in batch:
            yield StoredRow.from_sql(row)


@contextmanager
def _snapshot(conn: sqlite3.Connection) -> Iterator[None]:
    """One read transaction, so the state row and the records come from the same commit
    even while the daemon keeps appending (WAL readers see a fixed snapshot)."""
    if conn.in_transaction:
        yield
        return
    conn.execute("BEGIN")
    try:
        yield
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")


def verify_journal(db: sqlite_utils.Database) -> VerifyReport:
    """Walk the whole chain from the prune anchor to the head; read-only."""
    where = database_where(db)
    try:
        with _snapshot(db.conn):
            state = db.conn.execute(_STATE).fetchone()
            if state is None:
                raise DatabaseError(
                    "the journal_state row is missing",
                    where=where,
                    fix="restore the newest backup with `gateway restore PATH`",
                )
            head_seq, head_hash, ack_seq, ack_hash, anchor_seq, anchor_hash = state
            check = ChainCheck(
                anchor_seq=anchor_seq,
                anchor_hash=anchor_hash,
                acknowledged_seq=ack_seq,
                acknowledged_hash=ack_hash,
            )
            finding = next((f for f in map(check.feed, _rows(db.conn)) if f), None)
    except sqlite3.DatabaseError as exc:
        raise DatabaseError(
            f"SQLite cannot read the journal: {exc}",
            where=where,
            fix="the file is damaged or not a storegate database; restore the newest backup "
            "with `gateway restore PATH` and keep this file for inspection",
        ) from exc
    finding = finding or check.finish(head_seq, head_hash)
    return VerifyReport(
        ok=finding is None,
        checked=check.checked,
        first_bad_seq=finding.seq if finding else None,
        problem=finding.problem if finding else None,
        head_seq=head_seq,
        anchor_seq=anchor_seq,
        acknowledged_seq=ack_seq,
        clock_steps_back=check.clock_steps_back,
        unsynchronised=check.unsynchronised,
    )
