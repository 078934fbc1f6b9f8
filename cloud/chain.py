"""One box's chain position, and accepting a break in it (`cloud chain show / accept`).

Owns the `chain_acceptance` table: the audited "accept and move on" for a `chain.break` —
who, when, why, and the hashes on both sides of the break. An acceptance covers exactly one
break: that seq, with the `prev_hash` the record there carries (found) and the hash head
office holds for the seq before it (expected). The position walk stays in
`cloud.ingest_store`, which honours acceptances like links; a different break later stops
it again and raises its own alert.

Accepting records the acceptance, acknowledges the box's `chain.break` alert for that seq
and walks the position again, all in one transaction under the box's chain lock (the same
lock ingest workers take). Must not talk MQTT: the running `cloud ingest` workers publish
the new position (they watch for new acceptances; the box's own re-send brings it too).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from cloud.alerts import acknowledge_key
from cloud.db import Database
from cloud.ingest_store import AckPosition, IngestStore, break_alert_key
from gateway.errors import StoregateError, UsageError
from gateway.journal.chain import GENESIS_HASH


class ChainError(StoregateError):
    """A `cloud chain` request that does not fit what head office holds."""


@dataclass(frozen=True)
class ChainBreak:
    """Where the walk stopped: the record at `seq` does not link to the one before it."""

    seq: int
    expected_prev_hash: str  # the hash head office holds for seq - 1
    found_prev_hash: str  # the prev_hash the record at seq carries
    record_id: str
    record_time: str
    record_kind: str
    alert_id: int | None
    alert_acknowledged_by: str | None


@dataclass(frozen=True)
class Acceptance:
    id: int
    store: str
    box: str
    seq: int
    expected_prev_hash: str
    found_prev_hash: str
    reason: str
    accepted_by: str
    accepted_at: str


@dataclass(frozen=True)
class ChainView:
    store: str
    box: str
    acked_seq: int
    acked_hash: str
    max_seq: int
    gap_since: str | None
    updated_at: str | None
    stored: int  # records head office holds for the box
    beyond: int  # of which after the acknowledged position
    broken: ChainBreak | None
    acceptances: list[Acceptance]

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class AcceptResult:
    acceptance: Acceptance
    before: AckPosition
    after: AckPosition
    alert_id: int | None
    next_break: int | None  # the walk stopped at another break (a new alert)


def parse_box(text: str) -> tuple[str, str]:
    """`STORE/BOX` -> (store, box)."""
    store, _, box = text.partition("/")
    if not store or not box or "/" in box:
        raise UsageError(
            f"{text!r} is not STORE/BOX",
            where="cloud chain",
            fix="name the box as its store and box ids, e.g. store-1/box-1 "
            "(`cloud fleet` lists them)",
        )
    return store, box


def chain_view(db: Database, store: str, box: str) -> ChainView:
    """What head office holds for one box's chain, read without changing anything."""
    _require_known(db, store, box, "cloud chain show")
    row = db.one(
        "SELECT acked_seq, acked_hash, max_seq, gap_since, broken_seq, updated_at "
        "FROM box_chain WHERE store = ? AND box = ?",
        (store, box),
    )
    acked_seq, acked_hash, max_seq, gap_since, broken_seq, updated_at = row or (
        0,
        GENESIS_HASH,
        0,
        None,
        None,
        None,
    )
    counted = db.one(
        "SELECT count(*), count(CASE WHEN seq > ? THEN 1 END) FROM "
        "journal_record WHERE store = ? AND box = ?",
        (acked_seq, store, box),
    )
    stored, beyond = counted or (0, 0)
    broken = None if broken_seq is None else _break(db, store, box, int(broken_seq))
    acceptances = _acceptances(db, store, box)
    db.conn.commit()  # end the read transaction (PostgreSQL): never hold a snapshot open
    return ChainView(
        store,
        box,
        int(acked_seq),
        str(acked_hash),
        int(max_seq),
        gap_since,
        updated_at,
        int(stored),
        int(beyond or 0),
        broken,
        acceptances,
    )


def accept_break(
    db: Database, store: str, box: str, *, seq: int, reason: str, by: str, now: str
) -> AcceptResult:
    """Record that `by` accepts the break at `seq` because of `reason`, acknowledge its
    alert and walk the position past it; refuses anything but the box's current break."""
    reason, by = reason.strip(), by.strip()
    if not reason:
        raise UsageError(
            "a reason is required to accept a chain break",
            where="--reason",
            fix="say why the break is expected, e.g. --reason 'box restored "
            "from the 2026-11-20 backup with --force, ticket 4711'",
        )
    if not by:
        raise UsageError(
            "who accepts the break is required", where="--by", fix="give your name: --by NAME"
        )
    ingest = IngestStore(db)
    with db.transaction():
        _require_known(db, store, box, "cloud chain accept")
        before = ingest.walk(store, box, now)  # the current break, under the chain lock
        broken = _broken_seq(db, store, box)
        if broken != seq:
            _refuse(db, store, box, seq, broken, before)
        found = db.execute(
            "SELECT prev_hash FROM journal_record WHERE store = ? AND box = ? AND seq = ?",
            (store, box, seq),
        ).fetchone()[0]
        db.execute(
            "INSERT INTO chain_acceptance (store, box, seq, expected_prev_hash, "
            "found_prev_hash, reason, accepted_by, accepted_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (store, box, seq, before.hash, found, reason, by, now),
        )
        alert_id = acknowledge_key(db, break_alert_key(store, box, seq), who=by, now=now)
        after = ingest.walk(store, box, now)
        next_break = _broken_seq(db, store, box)
        acceptance = next(a for a in _acceptances(db, store, box) if a.seq == seq)
    return AcceptResult(acceptance, before, after, alert_id, next_break)


def _refuse(
    db: Database, store: str, box: str, seq: int, broken: int | None, position: AckPosition
) -> None:
    where = f"cloud chain accept {store}/{box} --seq {seq}"
    earlier = [a for a in _acceptances(db, store, box) if a.seq == seq]
    if earlier:
        a = earlier[0]
        raise ChainError(
            f"the break at seq {seq} was already accepted (#{a.id}) by "
            f"{a.accepted_by} at {a.accepted_at}: {a.reason}",
            where=where,
            fix=f"nothing to do; `cloud chain show {store}/{box}` shows the position now",
        )
    if broken is None:
        raise ChainError(
            f"there is no chain break at seq {seq}: {store}/{box}'s chain is "
            f"not broken (acknowledged up to seq {position.seq})",
            where=where,
            fix=f"check with `cloud chain show {store}/{box}`; only a break "
            "the walk stopped at can be accepted",
        )
    raise ChainError(
        f"there is no chain break at seq {seq}: {store}/{box}'s chain breaks at seq {broken}",
        where=where,
        fix=f"look at it with `cloud chain show {store}/{box}`, then accept "
        f"--seq {broken} if it is expected",
    )


def _require_known(db: Database, store: str, box: str, where: str) -> None:
    known = db.execute(
        "SELECT 1 FROM box_chain WHERE store = ? AND box = ? UNION ALL "
        "SELECT 1 FROM box_state WHERE store = ? AND box = ?",
        (store, box, store, box),
    ).fetchone()
    if known is None:
        raise ChainError(
            f"head office knows no box {store}/{box}",
            where=where,
            fix="check the store and box ids with `cloud fleet` (and --db)",
        )


def _broken_seq(db: Database, store: str, box: str) -> int | None:
    row = db.execute(
        "SELECT broken_seq FROM box_chain WHERE store = ? AND box = ?", (store, box)
    ).fetchone()
    return None if row is None or row[0] is None else int(row[0])


def _break(db: Database, store: str, box: str, seq: int) -> ChainBreak:
    record = db.execute(
        "SELECT prev_hash, id, time, kind FROM journal_record "
        "WHERE store = ? AND box = ? AND seq = ?",
        (store, box, seq),
    ).fetchone()
    before = db.execute(
        "SELECT hash FROM journal_record WHERE store = ? AND box = ? AND seq = ?",
        (store, box, seq - 1),
    ).fetchone()
    alert = db.execute(
        "SELECT id, acknowledged_by FROM alert WHERE key = ?", (break_alert_key(store, box, seq),)
    ).fetchone()
    return ChainBreak(
        seq,
        str(before[0]) if before else GENESIS_HASH,
        str(record[0]),
        str(record[1]),
        str(record[2]),
        str(record[3]),
        int(alert[0]) if alert else None,
        alert[1] if alert else None,
    )


def _acceptances(db: Database, store: str, box: str) -> list[Acceptance]:
    rows = db.execute(
        "SELECT id, store, box, seq, expected_prev_hash, found_prev_hash, "
        "reason, accepted_by, accepted_at FROM chain_acceptance "
        "WHERE store = ? AND box = ? ORDER BY seq",
        (store, box),
    ).fetchall()
    return [
        Acceptance(
            id=int(r[0]),
            store=r[1],
            box=r[2],
            seq=int(r[3]),
            expected_prev_hash=r[4],
            found_prev_hash=r[5],
            reason=r[6],
            accepted_by=r[7],
            accepted_at=r[8],
        )
        for r in rows
    ]
