"""The lane's book: the journal plus the lane's own tables, behind one small interface.

Two faces. `LaneReader` is what a lane step sees: reads, and builders of the writes a step
*intends* (`Also` callables, run later inside the commit's transaction). `LaneBook` adds the
one way to write: `commit(batch)`, called by the lane only after a step succeeded, so a
refused step cannot have written anything (issue 12, "the lane returns its writes").

Owns the lane tables of migration 3 except `lane_staff` (see `staff`): shifts, suspended
sales, document counters, the record index `lane_doc` (business day / shift / receipt id of
each lane record, for reports and look-ups) and `lane_refunded`. It appends to the journal
only through `Journal.append_many`, and writes its index rows inside that same transaction
(the journal's `also`), so an index row exists exactly when its record does. It never
updates or deletes journal rows and touches no other room's tables.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlite_utils

from gateway.i18n import Language, language_of
from gateway.journal import Journal, JournalRecord
from gateway.lane.digest import DIGEST_VERSION, REPORTED, Digest, digest

Also = Callable[[sqlite3.Connection], None]
PAYING = "PAYING"  # the lane_suspended row of the sale whose payment is under way
# A stored digest is used only when it is of this code's version (digests written before
# versions existed are version 1); any other is folded again from its record's body.
CURRENT = "(d.digest IS NOT NULL AND IFNULL(json_extract(d.digest, '$.v'), 1) = ?)"


@dataclass(frozen=True)
class DocIndex:
    """How a record is found again: by business day, shift and receipt id."""

    record_id: str
    kind: str
    business_day: str
    shift_id: str | None = None
    receipt_id: str | None = None


@dataclass
class Batch:
    """Records to commit together, with their index rows and table writes."""

    entries: list[tuple[str, dict[str, Any], str]] = field(default_factory=list)
    index: list[DocIndex] = field(default_factory=list)
    writes: list[Also] = field(default_factory=list)

    def add(
        self,
        kind: str,
        body: dict[str, Any],
        record_id: str,
        *,
        business_day: str,
        shift_id: str | None = None,
        receipt_id: str | None = None,
    ) -> None:
        self.entries.append((kind, body, record_id))
        self.index.append(DocIndex(record_id, kind, business_day, shift_id, receipt_id))

    def extend(self, other: Batch) -> None:
        """Take another batch's intents into this one (they commit together)."""
        self.entries += other.entries
        self.index += other.index
        self.writes += other.writes


@dataclass(frozen=True)
class OpenShiftRow:
    shift_id: str
    staff_id: str
    method: str
    opened_at: str
    business_day: str
    opening_float: Decimal


class LaneReader:
    """What a lane step may use: reads of the journal and lane tables, and builders of the
    writes it intends. Nothing here writes."""

    def __init__(self, db: sqlite_utils.Database, journal: Journal | None = None) -> None:
        self.db = db
        self.conn: sqlite3.Connection = db.conn
        self.journal = journal or Journal(db)

    # -- counters ------------------------------------------------------------------------

    def next_number(self, name: str) -> int:
        """The next number of a counter; it is taken only when `take_number` commits."""
        row = self.conn.execute("SELECT value FROM lane_counter WHERE name = ?", (name,)).fetchone()
        return (row[0] if row else 0) + 1

    @staticmethod
    def take_number(name: str, value: int) -> Also:
        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO lane_counter (name, value) VALUES (?, ?) ON CONFLICT(name) "
                "DO UPDATE SET value = max(value, excluded.value)",
                (name, value),
            )

        return write

    # -- shifts --------------------------------------------------------------------------

    def open_shift(self) -> OpenShiftRow | None:
        row = self.conn.execute(
            "SELECT shift_id, staff_id, method, opened_at, business_day, opening_float "
            "FROM lane_shift WHERE closed = 0 ORDER BY opened_at DESC LIMIT 1"
        ).fetchone()
        if row is None:
            return None
        shift_id, staff_id, method, opened_at, day, opening = row
        return OpenShiftRow(shift_id, staff_id, method, opened_at, day, Decimal(opening))

    def shift_language(self, shift_id: str) -> str | None:
        """The language the cashier chose when `shift_id` opened (its shift_open record)."""
        row = self.conn.execute(
            "SELECT r.body FROM lane_doc d JOIN journal_record r ON r.seq = d.seq "
            "WHERE d.kind = 'shift_open' AND d.shift_id = ? ORDER BY d.seq DESC LIMIT 1",
            (shift_id,),
        ).fetchone()
        language = json.loads(row[0]).get("language") if row else None
        return str(language) if language else None

    def record_language(self, record: JournalRecord, default: Language) -> Language:
        """The language a record's receipt is printed in, again too: the one its shift's
        cashier chose at sign-on, else `default` (`[screens] language`)."""
        shift = record.body.get("shift_id")
        return language_of(self.shift_language(str(shift)) if shift else None, default)

    def last_count(self) -> Decimal | None:
        """The cash counted when the last shift closed (for a handover), if any."""
        row = self.conn.execute(
            "SELECT r.body FROM lane_doc d JOIN journal_record r ON r.seq = d.seq "
            "WHERE d.kind = 'shift_close' ORDER BY d.seq DESC LIMIT 1"
        ).fetchone()
        return Decimal(json.loads(row[0])["counted"]) if row else None

    @staticmethod
    def record_shift(row: OpenShiftRow) -> Also:
        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO lane_shift (shift_id, staff_id, method, opened_at, "
                "business_day, opening_float) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    row.shift_id,
                    row.staff_id,
                    row.method,
                    row.opened_at,
                    row.business_day,
                    str(row.opening_float),
                ),
            )

        return write

    @staticmethod
    def close_shift(shift_id: str) -> Also:
        def write(conn: sqlite3.Connection) -> None:
            conn.execute("UPDATE lane_shift SET closed = 1 WHERE shift_id = ?", (shift_id,))

        return write

    def shift_bodies(
        self, shift_id: str, kinds: Sequence[str]
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        marks = ", ".join("?" * len(kinds))
        rows = self.conn.execute(
            f"SELECT d.kind, r.body FROM lane_doc d JOIN journal_record r ON r.seq = d.seq "
            f"WHERE d.shift_id = ? AND d.kind IN ({marks}) ORDER BY d.seq",
            (shift_id, *kinds),
        )
        for kind, body in rows:
            yield kind, json.loads(body)

    # -- suspended sales -----------------------------------------------------------------

    @staticmethod
    def suspend(suspension_id: str, shift_id: str, at: str, body: dict[str, Any]) -> Also:
        """Keep a basket (not a journal record: nothing was sold)."""

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO lane_suspended (id, shift_id, suspended_at, body) VALUES (?, ?, ?, ?)",
                (suspension_id, shift_id, at, json.dumps(body)),
            )

        return write

    def suspended(self, suspension_id: str) -> dict[str, Any] | None:
        row = self.conn.execute(
            "SELECT body FROM lane_suspended WHERE id = ?", (suspension_id,)
        ).fetchone()
        return json.loads(row[0]) if row else None

    def suspended_ids(self) -> list[str]:
        return [
            r[0]
            for r in self.conn.execute(
                "SELECT id FROM lane_suspended WHERE id != ? ORDER BY suspended_at, id", (PAYING,)
            )
        ]

    # -- the sale whose payment is under way ---------------------------------------------

    @staticmethod
    def save_paying(shift_id: str, at: str, body: dict[str, Any]) -> Also:
        """Keep the sale being paid (tenders already taken) so a restart can finish it."""

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO lane_suspended (id, shift_id, suspended_at, body) "
                "VALUES (?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
                "shift_id = excluded.shift_id, suspended_at = excluded.suspended_at, "
                "body = excluded.body",
                (PAYING, shift_id, at, json.dumps(body)),
            )

        return write

    def paying(self) -> dict[str, Any] | None:
        return self.suspended(PAYING)

    @staticmethod
    def clear_paying(conn: sqlite3.Connection) -> None:
        """Run in the transaction that completes or voids the sale being paid."""
        conn.execute("DELETE FROM lane_suspended WHERE id = ?", (PAYING,))

    @staticmethod
    def unsuspend(suspension_id: str) -> Also:
        def write(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM lane_suspended WHERE id = ?", (suspension_id,))

        return write

    # -- receipts and refunds ------------------------------------------------------------

    def by_receipt(self, receipt_id: str) -> JournalRecord | None:
        row = self.conn.execute(
            "SELECT seq FROM lane_doc WHERE receipt_id = ?", (receipt_id,)
        ).fetchone()
        return self.journal.get(row[0]) if row else None

    def refunded(self, receipt_id: str) -> dict[int, Decimal]:
        """Quantity already refunded per line index of an original receipt."""
        out: dict[int, Decimal] = {}
        for index, quantity in self.conn.execute(
            "SELECT line_index, quantity FROM lane_refunded WHERE receipt_id = ?", (receipt_id,)
        ):
            out[index] = out.get(index, Decimal(0)) + Decimal(quantity)
        return out

    @staticmethod
    def record_refunded(
        receipt_id: str, refund_record_id: str, lines: Sequence[tuple[int, Decimal]]
    ) -> Also:
        def write(conn: sqlite3.Connection) -> None:
            seq = conn.execute(
                "SELECT seq FROM journal_record WHERE id = ?", (refund_record_id,)
            ).fetchone()[0]
            conn.executemany(
                "INSERT INTO lane_refunded (receipt_id, line_index, quantity, "
                "refund_seq) VALUES (?, ?, ?, ?)",
                [(receipt_id, i, str(q), seq) for i, q in lines],
            )

        return write

    # -- 限购 per member -------------------------------------------------------------------

    def member_units(self, member_id: str) -> tuple[tuple[str, str, int], ...]:
        """What the member took of promotions with a `limit_per_member` at this box, as
        `MemberContext.taken` holds it: (promotion, the sale's store-local time, units),
        a sale's refunds netted against it; the engine counts those in a promotion's window."""
        rows = self.conn.execute(
            "SELECT promotion, sale_time, SUM(units) FROM lane_member_units "
            "WHERE member_id = ? GROUP BY promotion, sale_time HAVING SUM(units) != 0 "
            "ORDER BY promotion, sale_time",
            (member_id,),
        )
        return tuple((str(p), str(t), int(n)) for p, t, n in rows)

    @staticmethod
    def record_member_units(
        member_id: str, record_id: str, sale_time: str, units: Mapping[str, int]
    ) -> Also:
        """A sale's units of member-limited promotions (a refund's given back: negative, at
        its sale's time), written with its record; once per record and promotion."""

        def write(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "INSERT OR IGNORE INTO lane_member_units VALUES (?, ?, ?, ?, ?)",
                [(member_id, p, record_id, sale_time, n) for p, n in sorted(units.items()) if n],
            )

        return write

    # -- days ----------------------------------------------------------------------------

    def day_digests(self, day: str) -> Iterator[tuple[int, str, str | None, str | None]]:
        """(seq, kind, digest, body-if-no-digest) of a business day's reported records."""
        yield from self._digests("d.business_day = ?", day)

    def shift_digests(self, shift_id: str) -> Iterator[tuple[int, str, str | None, str | None]]:
        yield from self._digests("d.shift_id = ?", shift_id)

    def bodies(
        self, *, day: str | None = None, shift_id: str | None = None
    ) -> Iterator[tuple[int, str, dict[str, Any]]]:
        """(seq, kind, body) of reported records of a day or a shift, from the journal."""
        where, value = ("d.business_day = ?", day) if day else ("d.shift_id = ?", shift_id)
        marks = ", ".join("?" * len(REPORTED))
        rows = self.conn.execute(
            f"SELECT d.seq, d.kind, r.body FROM lane_doc d JOIN journal_record r "
            f"ON r.seq = d.seq WHERE {where} AND d.kind IN ({marks}) ORDER BY d.seq",
            (value, *REPORTED),
        )
        for seq, kind, body in rows:
            yield seq, kind, json.loads(body)

    def payment_bodies(
        self, *, day: str | None = None, shift_id: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """The `payment` records (wallet payments' state changes) of a day or a shift."""
        where, value = ("d.business_day = ?", day) if day else ("d.shift_id = ?", shift_id)
        rows = self.conn.execute(
            f"SELECT r.body FROM lane_doc d JOIN journal_record r ON r.seq = d.seq "
            f"WHERE {where} AND d.kind = 'payment' ORDER BY d.seq",
            (value,),
        )
        for (body,) in rows:
            yield json.loads(body)

    def _digests(self, where: str, value: str) -> Iterator[tuple[int, str, str | None, str | None]]:
        marks = ", ".join("?" * len(REPORTED))
        yield from self.conn.execute(
            f"SELECT d.seq, d.kind, CASE WHEN {CURRENT} THEN d.digest END, CASE WHEN NOT "
            f"{CURRENT} THEN (SELECT body FROM journal_record r WHERE r.seq = d.seq) END "
            f"FROM lane_doc d WHERE {where} AND d.kind IN ({marks}) ORDER BY d.seq",
            (DIGEST_VERSION, DIGEST_VERSION, value, *REPORTED),
        )

    def has_shift(self, shift_id: str) -> bool:
        """Whether this till ever opened the shift (for reports asked about one by id)."""
        return (
            self.conn.execute("SELECT 1 FROM lane_shift WHERE shift_id = ?", (shift_id,)).fetchone()
            is not None
        )

    def first_indexed_day(self) -> str | None:
        """The business day of the oldest record still indexed (reports after pruning)."""
        row = self.conn.execute("SELECT business_day FROM lane_doc ORDER BY seq LIMIT 1").fetchone()
        return str(row[0]) if row else None

    @staticmethod
    def forget_through(conn: sqlite3.Connection, seq: int) -> None:
        """Journal retention pruned records 1..seq: their index rows and refunded
        quantities go in the same transaction (a refund always follows its sale, so a
        refund row up to `seq` belongs to a pruned sale)."""
        conn.execute("DELETE FROM lane_doc WHERE seq <= ?", (seq,))
        conn.execute("DELETE FROM lane_refunded WHERE refund_seq <= ?", (seq,))

    def z_of_day(self, day: str) -> int | None:
        row = self.conn.execute(
            "SELECT seq FROM lane_doc WHERE business_day = ? AND kind = 'z_report'", (day,)
        ).fetchone()
        return row[0] if row else None


class LaneBook(LaneReader):
    """One writer's view of the journal and lane tables (the daemon holds the only one)."""

    def commit(self, batch: Batch) -> list[JournalRecord]:
        """Append the batch's records and run its index rows and writes in one transaction
        (a batch of table writes only, e.g. a suspension, gets a transaction of its own)."""
        if not batch.entries:
            with self._transaction():
                for write in batch.writes:
                    write(self.conn)
            return []
        bodies = {record_id: body for _, body, record_id in batch.entries}

        def also(conn: sqlite3.Connection) -> None:
            for doc in batch.index:
                seq = conn.execute(
                    "SELECT seq FROM journal_record WHERE id = ?", (doc.record_id,)
                ).fetchone()[0]
                figures = _digest_or_none(doc.kind, bodies[doc.record_id])
                conn.execute(
                    "INSERT INTO lane_doc (seq, kind, business_day, shift_id, "
                    "receipt_id, digest) VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        seq,
                        doc.kind,
                        doc.business_day,
                        doc.shift_id,
                        doc.receipt_id,
                        None if figures is None else json.dumps(figures),
                    ),
                )
            for write in batch.writes:
                write(conn)

        return self.journal.append_many(batch.entries, also=also)

    def park_paying(self) -> str:
        """Turn a sale being paid that cannot come back into a suspended one (kept, not
        restored again at every start); returns its suspension id."""
        number = self.next_number("suspend")
        suspension_id = f"H{number:04d}"
        with self._transaction():
            self.conn.execute(
                "UPDATE lane_suspended SET id = ? WHERE id = ?", (suspension_id, PAYING)
            )
            self.take_number("suspend", number)(self.conn)
        return suspension_id

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE ... COMMIT (the connection autocommits otherwise)."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")


def _digest_or_none(kind: str, body: dict[str, Any]) -> Digest | None:
    """A record is never refused for its report digest: an amount the digest cannot take
    leaves it empty, and reports then read (and complain about) the body itself."""
    try:
        return digest(kind, body)
    except (ValueError, KeyError, TypeError):
        return None
