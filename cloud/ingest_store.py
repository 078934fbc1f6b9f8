"""Storing what boxes send, idempotently, and working out each box's acknowledged position.

Owns the writes to `journal_record`, `box_chain`, `box_state`, `box_event`, `telemetry` and
`command` results. `apply()` takes checked messages (`cloud.inbound`) and writes them in
ONE transaction; only after it returns may the MQTT messages be acknowledged. It must not
talk MQTT.

Theory of operation, for any number of workers on one database:
- Records are inserted with `ON CONFLICT DO NOTHING` on (store, box, seq): a re-delivery
  changes nothing. The records a transaction did insert, and only those, are added to
  `sales_summary` in it (`cloud.sales_summary.add`), so the summary counts each once.
  The same key arriving with another hash is a `record.conflict` alert and the stored
  record stays.
- After inserting (in (store, box, seq) order), each box's `box_chain` row is locked
  (`FOR UPDATE`; SQLite's writer lock does the same), in (store, box) order so two
  workers never deadlock. Holding it, the worker walks
  the stored records after `acked_seq` while they are consecutive and each `prev_hash` is
  the hash before it. That position — contiguous and chained — is what head office
  acknowledges. Because the walk happens under the lock and after this transaction's own
  inserts, the worker that stores the record closing a gap also advances past what another
  worker stored beyond it.
- A gap (records stored beyond the position) is normal for a moment when workers share a
  stream; `gap_since` records when the position got stuck, and `cloud.rules` alerts when a
  gap outlives the reorder window. A broken link is a `chain.break` alert at once, and the
  position never passes it — unless `cloud chain accept` recorded an acceptance of exactly
  that break (`chain_acceptance`: that seq, with the same hashes on both sides), which the
  walk honours like a link; any other break stops it again.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from hashlib import sha256
from typing import Any

from cloud import sales_summary
from cloud.alerts import raise_alert
from cloud.db import Database
from cloud.inbound import (
    EventIn,
    Inbound,
    JournalIn,
    Problem,
    Rejected,
    ResultIn,
    StateIn,
    TelemetryIn,
)
from cloud.rules import Thresholds
from gateway.journal.chain import GENESIS_HASH

BoxKey = tuple[str, str]
WALK_CHUNK = 5000
_RECORD_COLUMNS = (
    "store, box, seq, id, time, clock_synced, kind, body, prev_hash, hash, historical, received_at"
)


@dataclass(frozen=True)
class AckPosition:
    """What head office acknowledges for one box: every record up to `seq` is stored."""

    store: str
    box: str
    seq: int
    hash: str


@dataclass
class ApplyResult:
    acks: list[AckPosition]
    stored: int  # records newly inserted
    duplicates: int


class IngestStore:
    """Writes one drained set of messages per transaction; see the module docstring."""

    def __init__(self, db: Database, thresholds: Thresholds | None = None) -> None:
        self.db = db
        self.thresholds = thresholds or Thresholds()
        self._acceptances_seen = 0  # chain_acceptance ids already handed to the worker
        self._staging_on: object | None = None  # the connection holding the temp table

    def apply(self, items: Sequence[Inbound], now: str) -> ApplyResult:
        journal: dict[BoxKey, list[JournalIn]] = defaultdict(list)
        for item in items:
            if isinstance(item, JournalIn):
                journal[(item.store, item.box)].append(item)
        try:
            with self.db.transaction():
                result = self._journal(journal, now)
                seen: set[BoxKey] = set(journal)
                # Box by box in (store, box) order, like the chain locks, so two workers
                # never wait on each other's box_state rows in opposite orders; arrival
                # order within a box is kept (sorted() is stable).
                for item in sorted(items, key=lambda i: (i.store or "", i.box or "")):
                    self._other(item, now, seen)
                for store, box in sorted(seen):
                    self._touch(store, box, now)
        except BaseException:
            self._staging_on = None  # its CREATE TEMP TABLE may have been rolled back too
            raise
        return result

    # ------------------------------------------------------------ journal

    def _journal(self, batches: dict[BoxKey, list[JournalIn]], now: str) -> ApplyResult:
        """Insert first (no lock needed: the unique key arbitrates), then lock each box's
        chain row only for the walk, so workers sharing boxes overlap their inserts."""
        incoming: dict[BoxKey, dict[int, Any]] = {}
        for key, group in batches.items():
            records = incoming.setdefault(key, {})
            for batch in group:
                for problem in batch.problems:
                    self._alert_problem(key, problem, now)
                for checked in batch.records:
                    records.setdefault(checked.record.seq, (checked, batch.historical))
        stored = self._insert(incoming, now)
        total = sum(len(r) for r in incoming.values())
        acks = []
        for key in sorted(batches):
            chain = self._lock_chain(*key, now)
            self._conflicts(key, incoming[key], now)
            position = self._advance(key, chain, max(incoming[key], default=0), now)
            if position.seq > 0:
                acks.append(position)
        return ApplyResult(acks, stored, total - stored)

    def _lock_chain(self, store: str, box: str, now: str) -> tuple[int, str, str | None]:
        self.db.execute(
            "INSERT INTO box_chain (store, box, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (store, box) DO NOTHING",
            (store, box, now),
        )
        row = self.db.execute(
            "SELECT acked_seq, acked_hash, gap_since FROM box_chain WHERE store = ? AND box = ?"
            + self.db.lock_rows_for_update(),
            (store, box),
        ).fetchone()
        return int(row[0]), str(row[1]), row[2]

    def _insert(self, incoming: dict[BoxKey, dict[int, Any]], now: str) -> int:
        rows = [
            (
                store,
                box,
                seq,
                c.record.id,
                c.record.time,
                c.record.clock_synced,
                c.record.kind,
                c.body_text,
                c.record.prev_hash,
                c.record.hash,
                historical,
                now,
            )
            for (store, box), records in sorted(incoming.items())
            for seq, (c, historical) in sorted(records.items())
        ]
        if not rows:
            return 0
        if self.db.dialect == "postgresql":
            inserted = self._insert_copy(rows)
        else:
            cur = self.db.conn.cursor()
            inserted = set()
            for row in rows:
                cur.execute(
                    f"INSERT INTO journal_record ({_RECORD_COLUMNS}) VALUES "
                    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (store, box, seq) DO NOTHING",
                    row,
                )
                if cur.rowcount == 1:
                    inserted.add((row[0], row[1], row[2]))
        # Only what this transaction stored is added: a re-delivery adds nothing.
        sales_summary.add(
            self.db, [(r[0], r[6], r[7]) for r in rows if (r[0], r[1], r[2]) in inserted]
        )
        return len(inserted)

    def _insert_copy(self, rows: list[tuple[Any, ...]]) -> set[tuple[str, str, int]]:
        """COPY into a per-connection staging table, then one INSERT ... ON CONFLICT;
        returns the keys it inserted."""
        cur = self.db.conn.cursor()
        if self._staging_on is not self.db.conn:  # temp tables live per connection
            cur.execute(
                "CREATE TEMP TABLE IF NOT EXISTS incoming_record "
                "(LIKE journal_record INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
            )
            self._staging_on = self.db.conn
        with cur.copy(f"COPY incoming_record ({_RECORD_COLUMNS}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cur.execute(
            f"INSERT INTO journal_record ({_RECORD_COLUMNS}) SELECT {_RECORD_COLUMNS} "
            "FROM incoming_record ON CONFLICT (store, box, seq) DO NOTHING "
            "RETURNING store, box, seq"
        )
        inserted = {(str(s), str(b), int(q)) for s, b, q in cur.fetchall()}
        cur.execute("TRUNCATE incoming_record")
        return inserted

    def _conflicts(self, key: BoxKey, records: dict[int, Any], now: str) -> None:
        """The same (store, box, seq) stored with another hash: alert, keep what is stored."""
        if not records:
            return
        store, box = key
        stored = dict(
            self.db.execute(
                "SELECT seq, hash FROM journal_record WHERE store = ? AND box = ? "
                "AND seq BETWEEN ? AND ?",
                (store, box, min(records), max(records)),
            ).fetchall()
        )
        for seq, (checked, _) in records.items():
            held = stored.get(seq)
            if held is not None and held != checked.record.hash:
                raise_alert(
                    self.db,
                    key=f"record.conflict:{store}/{box}:{seq}:{checked.record.hash}",
                    kind="record.conflict",
                    severity="critical",
                    now=now,
                    store=store,
                    box=box,
                    seq=seq,
                    record_id=checked.record.id,
                    message=f"{store}/{box} sent seq {seq} with hash "
                    f"{checked.record.hash[:12]}... but head office holds {held[:12]}...: "
                    "the journals diverge; the stored record is kept",
                    body={"received_hash": checked.record.hash, "stored_hash": held},
                )

    def _advance(
        self, key: BoxKey, chain: tuple[int, str, str | None], incoming_max: int, now: str
    ) -> AckPosition:
        store, box = key
        acked_seq, acked_hash, gap_since = chain
        seq, last_hash, broken, found = acked_seq, acked_hash, None, ""
        while True:
            rows = self.db.execute(
                "SELECT seq, prev_hash, hash FROM journal_record WHERE store = ? AND box = ? "
                "AND seq > ? ORDER BY seq LIMIT ?",
                (store, box, seq, WALK_CHUNK),
            ).fetchall()
            for row_seq, prev_hash, row_hash in rows:
                if int(row_seq) != seq + 1:
                    break
                if prev_hash != last_hash and not self._accepted(
                    key, int(row_seq), last_hash, prev_hash
                ):
                    broken, found = int(row_seq), str(prev_hash)
                    break
                seq, last_hash = int(row_seq), row_hash
            else:
                if len(rows) == WALK_CHUNK:
                    continue
            break
        if broken is not None:
            self._alert_break(store, box, broken, last_hash, found, now)
        top = self.db.execute(
            "SELECT max(seq) FROM journal_record WHERE store = ? AND box = ?", (store, box)
        ).fetchone()[0]
        max_seq = max(int(top or 0), incoming_max)
        stuck = max_seq > seq
        if seq > acked_seq:
            gap_since = now if stuck else None
        elif stuck and gap_since is None:
            gap_since = now
        elif not stuck:
            gap_since = None
        self.db.execute(
            "UPDATE box_chain SET acked_seq = ?, acked_hash = ?, max_seq = ?, gap_since = ?, "
            "broken_seq = ?, updated_at = ? WHERE store = ? AND box = ?",
            (seq, last_hash, max_seq, gap_since, broken, now, store, box),
        )
        return AckPosition(store, box, seq, last_hash if seq else GENESIS_HASH)

    def _accepted(self, key: BoxKey, seq: int, expected: str, found: str) -> bool:
        """Whether someone accepted exactly this break (`cloud chain accept`)."""
        return (
            self.db.execute(
                "SELECT 1 FROM chain_acceptance WHERE store = ? AND box = ? AND seq = ? "
                "AND expected_prev_hash = ? AND found_prev_hash = ?",
                (*key, seq, expected, found),
            ).fetchone()
            is not None
        )

    def walk(self, store: str, box: str, now: str) -> AckPosition:
        """Lock one box's chain row and walk its position again, inside the caller's
        transaction (what `cloud chain accept` does after recording an acceptance)."""
        chain = self._lock_chain(store, box, now)
        return self._advance((store, box), chain, 0, now)

    def newly_accepted(self) -> list[BoxKey]:
        """Boxes with a chain acceptance recorded since the last call (all of them on the
        first): `cloud chain accept` moves a position without talking MQTT, so a running
        worker publishes those boxes' positions for it."""
        rows = self.db.query(
            "SELECT id, store, box FROM chain_acceptance WHERE id > ? ORDER BY id",
            (self._acceptances_seen,),
        )
        if rows:
            self._acceptances_seen = int(rows[-1][0])
        return sorted({(str(store), str(box)) for _, store, box in rows})

    def _alert_break(
        self, store: str, box: str, seq: int, expected: str, found: str, now: str
    ) -> None:
        raise_alert(
            self.db,
            key=break_alert_key(store, box, seq),
            kind="chain.break",
            severity="critical",
            now=now,
            store=store,
            box=box,
            seq=seq,
            message=f"{store}/{box} record seq {seq} does not link to the hash of seq "
            f"{seq - 1} ({expected[:12]}...): the chain is broken there and nothing "
            f"beyond it is acknowledged (`cloud chain show {store}/{box}`)",
            body={"expected_prev_hash": expected, "found_prev_hash": found},
        )

    def _alert_problem(self, key: BoxKey, problem: Problem, now: str) -> None:
        store, box = key
        raise_alert(
            self.db,
            key=f"{problem.kind}:{store}/{box}:{problem.seq}:{_digest(problem.message)}",
            kind=problem.kind,
            severity=problem.severity,
            now=now,
            store=store,
            box=box,
            seq=problem.seq,
            record_id=problem.record_id,
            message=problem.message,
        )

    def positions(self, boxes: Sequence[BoxKey]) -> list[AckPosition]:
        """The committed acknowledged positions of these boxes (those above 0)."""
        found = []
        for store, box in boxes:
            row = self.db.one(
                "SELECT acked_seq, acked_hash FROM box_chain WHERE store = ? AND box = ?",
                (store, box),
            )
            if row is not None and int(row[0]) > 0:
                found.append(AckPosition(store, box, int(row[0]), str(row[1])))
        return found

    # ------------------------------------------------------------ everything else

    def _other(self, item: Inbound, now: str, seen: set[BoxKey]) -> None:
        if isinstance(item, JournalIn):
            return
        if isinstance(item, Rejected):
            self._rejected(item, now)
            return
        seen.add((item.store, item.box))
        if isinstance(item, EventIn):
            self._event(item, now)
        elif isinstance(item, TelemetryIn):
            self._telemetry(item, now)
        elif isinstance(item, StateIn):
            self._state(item, now)
        elif isinstance(item, ResultIn):
            self._result(item, now)

    def _rejected(self, item: Rejected, now: str) -> None:
        problem = item.problem
        where = f"{item.store}/{item.box}" if item.store else "?"
        raise_alert(
            self.db,
            key=f"{problem.kind}:{where}:{_digest(problem.message + item.payload_excerpt)}",
            kind=problem.kind,
            severity=problem.severity,
            now=now,
            store=item.store,
            box=item.box,
            message=problem.message,
            body={"channel": item.channel, "excerpt": item.payload_excerpt},
        )

    def refuse(self, item: Inbound, topic: str, error: Exception, now: str) -> None:
        """One message that `apply` could not store, alone, for a reason no retry mends:
        a `payload.invalid` alert in a transaction of its own, and nothing else of it."""
        where = f"{item.store}/{item.box}" if item.store else "?"
        reason = (str(error).strip().splitlines() or [""])[0][:300]
        with self.db.transaction():
            raise_alert(
                self.db,
                key=f"payload.invalid:{where}:unstorable:"
                f"{_digest(topic + type(error).__name__ + reason)}",
                kind="payload.invalid",
                severity="error",
                now=now,
                store=item.store,
                box=item.box,
                message=f"message from {where} on {topic} could not be "
                f"stored and was dropped: {type(error).__name__}: {reason}",
                body={"topic": topic, "error": type(error).__name__},
            )

    def _event(self, item: EventIn, now: str) -> None:
        event = item.event
        cur = self.db.execute(
            "INSERT INTO box_event (store, box, id, time, kind, severity, body, received_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (store, box, id) DO NOTHING",
            (
                item.store,
                item.box,
                event.id,
                event.time,
                event.kind,
                event.severity,
                json.dumps(event.body, sort_keys=True),
                now,
            ),
        )
        if cur.rowcount:
            from cloud.rules import event_alerts

            event_alerts(self.db, item.store, item.box, event, now)

    def _telemetry(self, item: TelemetryIn, now: str) -> None:
        from cloud.rules import telemetry_alerts

        body = item.telemetry.model_dump_json()
        self.db.execute(
            "INSERT INTO telemetry (store, box, time, received_at, body) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (store, box, time) DO NOTHING",
            (item.store, item.box, item.telemetry.time, now, body),
        )
        self._ensure_state_row(item.store, item.box)
        previous = self.db.execute(
            "SELECT telemetry, telemetry_time FROM box_state WHERE store = ? AND box = ?",
            (item.store, item.box),
        ).fetchone()
        if previous[1] is not None and previous[1] >= item.telemetry.time:
            telemetry_alerts(
                self.db,
                item.store,
                item.box,
                item.telemetry,
                None,
                now,
                self.thresholds,
                latest=False,
            )
            return
        self.db.execute(
            "UPDATE box_state SET telemetry = ?, telemetry_time = ?, version = ?, "
            "boot_id = ? WHERE store = ? AND box = ?",
            (
                body,
                item.telemetry.time,
                item.telemetry.version,
                item.telemetry.boot_id,
                item.store,
                item.box,
            ),
        )
        prior = json.loads(previous[0]) if previous[0] else None
        telemetry_alerts(self.db, item.store, item.box, item.telemetry, prior, now, self.thresholds)

    def _state(self, item: StateIn, now: str) -> None:
        """Birth/death by session: a death older than the current birth is stale.

        `online_since` / `offline_since` are head office's receive time: a Last Will
        carries the time of the CONNECT it was registered with, not of the loss."""
        state = item.state
        self._ensure_state_row(item.store, item.box)
        row = self.db.execute(
            "SELECT session, online FROM box_state WHERE store = ? AND box = ?",
            (item.store, item.box),
        ).fetchone()
        session, online = int(row[0]), bool(row[1])
        if state.session < session or (
            state.session == session and online == state.online and not state.online
        ):
            return
        if state.session == session and online and state.online:
            return  # a repeated birth
        since_col = "online_since" if state.online else "offline_since"
        self.db.execute(
            f"UPDATE box_state SET online = ?, session = ?, boot_id = ?, "
            f"version = COALESCE(?, version), protocol = COALESCE(?, protocol), "
            f"state_time = ?, {since_col} = ?, "
            f"journal_head_seq = COALESCE(?, journal_head_seq), "
            f"journal_acknowledged_seq = COALESCE(?, journal_acknowledged_seq) "
            f"WHERE store = ? AND box = ?",
            (
                state.online,
                state.session,
                state.boot_id,
                state.version,
                state.protocol,
                state.time,
                now,
                state.journal_head_seq,
                state.journal_acknowledged_seq,
                item.store,
                item.box,
            ),
        )

    def _result(self, item: ResultIn, now: str) -> None:
        """A result updates only a command of the box whose topic it came on: the id in
        the payload is a claim, the topic is the box (the ACL binds it to the box's
        certificate). A result naming another box's command changes nothing of it."""
        result = item.result
        cur = self.db.execute(
            "INSERT INTO command (id, store, box, name, args, issued_at, expires_at, status, "
            "result, error, result_at) VALUES (?, ?, ?, ?, '{}', '', '', ?, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET status = excluded.status, "
            "result = excluded.result, error = excluded.error, result_at = excluded.result_at "
            "WHERE command.store = excluded.store AND command.box = excluded.box",
            (
                result.id,
                item.store,
                item.box,
                result.name or "?",
                result.status,
                json.dumps(result.result, sort_keys=True),
                result.error,
                result.time,
            ),
        )
        if cur.rowcount:
            return
        owner = self.db.execute(
            "SELECT store, box FROM command WHERE id = ?", (result.id,)
        ).fetchone()
        raise_alert(
            self.db,
            key=f"command.foreign_result:{item.store}/{item.box}:{result.id}",
            kind="command.foreign_result",
            severity="critical",
            now=now,
            store=item.store,
            box=item.box,
            message=f"{item.store}/{item.box} sent a result for command {result.id}, which "
            f"head office sent to {owner[0]}/{owner[1]}: ignored, the command is unchanged "
            "(a box answering for another is compromised or misconfigured)",
            body={"command": result.id, "owner": f"{owner[0]}/{owner[1]}"},
        )

    def _ensure_state_row(self, store: str, box: str) -> None:
        self.db.execute(
            "INSERT INTO box_state (store, box) VALUES (?, ?) ON CONFLICT (store, box) DO NOTHING",
            (store, box),
        )

    def _touch(self, store: str, box: str, now: str) -> None:
        self._ensure_state_row(store, box)
        self.db.execute(
            "UPDATE box_state SET last_seen = ? WHERE store = ? AND box = ?", (now, store, box)
        )


def break_alert_key(store: str, box: str, seq: int) -> str:
    """The `chain.break` alert's key (one alert per box and seq)."""
    return f"chain.break:{store}/{box}:{seq}"


def _digest(text: str) -> str:
    return sha256(text.encode("utf-8", "replace")).hexdigest()[:16]
