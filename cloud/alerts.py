"""Alerts: raising them (once per key), listing them, and their lifecycle.

An alert is **active** until the condition behind it ends — then the rule or the box
**clears** it (`cleared_at`) — and, apart from that, **acknowledged** or not by a person;
it may be assigned to someone and carry comments. Owns the `alert` and `alert_comment`
tables. An alert is keyed by what it is about (rule, box, record, occurrence)
so the same problem seen again — a re-delivered forged batch, a second worker, the next
rule pass — never raises it twice. Raising happens inside the caller's transaction, so an
alert exists exactly when the data that caused it was committed.

Severities: info < warning < error < critical. Must not evaluate rules (see `cloud.rules`)
nor touch any other table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cloud.db import Database
from gateway.errors import StoregateError

SEVERITIES = ("info", "warning", "error", "critical")


@dataclass(frozen=True)
class Alert:
    id: int
    raised_at: str
    kind: str
    severity: str
    store: str | None
    box: str | None
    seq: int | None
    record_id: str | None
    message: str
    body: dict[str, Any]
    acknowledged_at: str | None
    acknowledged_by: str | None
    cleared_at: str | None = None
    assignee: str | None = None

    @property
    def state(self) -> str:
        """`active` or `cleared`, then `unacknowledged` or `acknowledged`."""
        cleared = "cleared" if self.cleared_at else "active"
        return f"{cleared}, {'acknowledged' if self.acknowledged_at else 'unacknowledged'}"

    def as_json(self) -> dict[str, Any]:
        return {**self.__dict__, "state": self.state}


def raise_alert(
    db: Database,
    *,
    key: str,
    kind: str,
    severity: str,
    message: str,
    now: str,
    store: str | None = None,
    box: str | None = None,
    seq: int | None = None,
    record_id: str | None = None,
    body: dict[str, Any] | None = None,
) -> None:
    """Record an alert unless one with `key` exists (call inside a transaction).

    Its text often quotes what a box sent; a NUL character there (which PostgreSQL cannot
    store in `text`) is written as `\\x00`, so an alert about bad input is always storable."""
    if severity not in SEVERITIES:
        severity = "warning"
    db.execute(
        "INSERT INTO alert (key, raised_at, kind, severity, store, box, seq, record_id, "
        "message, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
        (
            _text(key),
            now,
            _text(kind),
            severity,
            _text(store),
            _text(box),
            seq,
            _text(record_id),
            _text(message),
            json.dumps(body or {}, sort_keys=True, default=str),
        ),
    )


def _text(value: str | None) -> str | None:
    return None if value is None else value.replace("\x00", "\\x00")


_COLUMNS = (
    "id, raised_at, kind, severity, store, box, seq, record_id, message, body, "
    "acknowledged_at, acknowledged_by, cleared_at, assignee"
)


def list_alerts(
    db: Database,
    *,
    since: str | None = None,
    include_acknowledged: bool = False,
    store: str | None = None,
    min_severity: str = "info",
    after_id: int = 0,
    cleared: bool | None = None,
    acknowledged: bool | None = None,
    kind: str | None = None,
) -> list[Alert]:
    """Alerts raised at or after `since` (ISO time), newest last: the open ones (active and
    unacknowledged) unless `include_acknowledged`. `cleared` / `acknowledged` (True or
    False) keep only the alerts in that state; `kind` only that rule's alerts (the
    page's filter; None: either)."""
    where = ["raised_at >= ?", "id > ?"]
    params: list[Any] = [since or "", after_id]
    if not include_acknowledged:
        where.append("acknowledged_at IS NULL AND cleared_at IS NULL")
    if cleared is not None:
        where.append("cleared_at IS NOT NULL" if cleared else "cleared_at IS NULL")
    if acknowledged is not None:
        where.append("acknowledged_at IS NOT NULL" if acknowledged else "acknowledged_at IS NULL")
    if store:
        where.append("store = ?")
        params.append(store)
    if kind:
        where.append("kind = ?")
        params.append(kind)
    rows = db.query(
        f"SELECT {_COLUMNS} FROM alert WHERE {' AND '.join(where)} ORDER BY raised_at, id", params
    )
    floor = SEVERITIES.index(min_severity)
    alerts = [_alert(row) for row in rows]
    return [a for a in alerts if SEVERITIES.index(a.severity) >= floor]


def acknowledge(db: Database, alert_id: int, *, who: str, now: str) -> None:
    """Mark one alert as seen; acknowledging twice keeps the first acknowledgement."""
    with db.transaction():
        row = db.execute("SELECT acknowledged_at FROM alert WHERE id = ?", (alert_id,)).fetchone()
        if row is None:
            raise StoregateError(
                f"no alert with id {alert_id}",
                where="cloud alerts ack",
                fix="list alerts with `cloud alerts --all` for their ids",
            )
        if row[0] is None:
            db.execute(
                "UPDATE alert SET acknowledged_at = ?, acknowledged_by = ? WHERE id = ?",
                (now, who, alert_id),
            )


def acknowledge_key(db: Database, key: str, *, who: str, now: str) -> int | None:
    """Acknowledge the alert with `key` inside the caller's transaction (keeping an earlier
    acknowledgement); its id, or None when no such alert was raised."""
    row = db.execute("SELECT id, acknowledged_at FROM alert WHERE key = ?", (key,)).fetchone()
    if row is None:
        return None
    if row[1] is None:
        db.execute(
            "UPDATE alert SET acknowledged_at = ?, acknowledged_by = ? WHERE id = ?",
            (now, who, row[0]),
        )
    return int(row[0])


def clear_alerts(
    db: Database, *, kind: str, store: str, box: str, now: str, key_prefix: str | None = None
) -> int:
    """The condition is gone (the box says so, or the rule no longer sees it): its active
    alerts of `kind` (those whose key starts with `key_prefix`, when given) are cleared
    inside the caller's transaction; returns how many. Acknowledgement is left as it was."""
    sql = (
        "UPDATE alert SET cleared_at = ? WHERE kind = ? AND store = ? AND box = ? "
        "AND cleared_at IS NULL"
    )
    params: list[Any] = [now, kind, store, box]
    if key_prefix is not None:
        sql += " AND substr(key, 1, ?) = ?"
        params += [len(key_prefix), key_prefix]
    cur = db.execute(sql, params)
    return max(0, int(cur.rowcount or 0))


def get_alert(db: Database, alert_id: int, where: str) -> Alert:
    row = db.one(f"SELECT {_COLUMNS} FROM alert WHERE id = ?", (alert_id,))
    if row is None:
        raise StoregateError(
            f"no alert with id {alert_id}",
            where=where,
            fix="list alerts with `cloud alerts --all` for their ids",
        )
    return _alert(row)


def assign(db: Database, alert_id: int, *, to: str, by: str, now: str) -> None:
    """Give an alert to someone to look after; recorded as a comment naming who did it."""
    if not to.strip():
        raise StoregateError(
            "assigned to nobody", where="cloud alerts assign", fix="name who looks after it"
        )
    with db.transaction():
        get_alert(db, alert_id, "cloud alerts assign")
        db.execute("UPDATE alert SET assignee = ? WHERE id = ?", (_text(to), alert_id))
        _comment(db, alert_id, by, f"assigned to {to}", now)


def comment(db: Database, alert_id: int, *, text: str, by: str, now: str) -> None:
    if not text.strip():
        raise StoregateError(
            "an empty comment", where="cloud alerts comment", fix="say what was found or done"
        )
    with db.transaction():
        get_alert(db, alert_id, "cloud alerts comment")
        _comment(db, alert_id, by, text, now)


def alert_kinds(db: Database) -> list[str]:
    """The kinds (rules) alerts were raised for, for a filter to offer."""
    return [str(k) for (k,) in db.query("SELECT DISTINCT kind FROM alert ORDER BY kind")]


def _comment(db: Database, alert_id: int, by: str, text: str, now: str) -> None:
    db.execute(
        "INSERT INTO alert_comment (alert, at, author, text) VALUES (?, ?, ?, ?)",
        (alert_id, now, _text(by), _text(text)),
    )


def comments(db: Database, alert_id: int) -> list[tuple[str, str, str]]:
    """(time, author, text) of an alert's comments, oldest first."""
    rows = db.query(
        "SELECT at, author, text FROM alert_comment WHERE alert = ? ORDER BY id", (alert_id,)
    )
    return [(str(a), str(b), str(c)) for a, b, c in rows]


def _alert(row: tuple[Any, ...]) -> Alert:
    (id_, raised_at, kind, severity, store, box, seq, record_id, message, body) = row[:10]
    ack_at, ack_by, cleared_at, assignee = row[10:14]
    return Alert(
        int(id_),
        raised_at,
        kind,
        severity,
        store,
        box,
        None if seq is None else int(seq),
        record_id,
        message,
        json.loads(body),
        ack_at,
        ack_by,
        cleared_at,
        assignee,
    )


def clear_key_prefix(db: Database, key_prefix: str, *, now: str) -> int:
    """The condition is gone: active alerts whose key starts with `key_prefix` are cleared
    inside the caller's transaction; returns how many."""
    cur = db.execute(
        "UPDATE alert SET cleared_at = ? WHERE cleared_at IS NULL AND substr(key, 1, ?) = ?",
        (now, len(key_prefix), key_prefix),
    )
    return max(0, int(cur.rowcount or 0))
