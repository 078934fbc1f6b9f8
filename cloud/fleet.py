"""The fleet view: per box, what head office knows right now (`cloud fleet`).

Owns reading `box_state` and `box_chain` into one row per box and rendering it as a table
or JSON. Online/offline come from the box's birth and Last Will (by session), the rest from
its latest telemetry (the software version, and the last update's state) and the chain
position head office has acknowledged. Read-only.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from cloud.db import Database


@dataclass(frozen=True)
class BoxView:
    store: str
    box: str
    online: bool
    since: str | None
    last_seen: str | None
    version: str | None
    boot_id: str | None
    session: int
    acknowledged_seq: int
    stored_max_seq: int
    chain_broken_at: int | None
    backlog: int | None
    oldest_unacknowledged_age_s: float | None
    clock_synced: bool | None
    telemetry_time: str | None
    devices: dict[str, Any] = field(default_factory=dict)
    host: dict[str, Any] = field(default_factory=dict)
    update: dict[str, Any] | None = None  # the box's last software update (telemetry)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def fleet(db: Database, store: str | None = None) -> list[BoxView]:
    """Every box head office has heard from (optionally one store), ordered."""
    where, params = ("WHERE s.store = ?", (store,)) if store else ("", ())
    rows = db.query(
        "SELECT s.store, s.box, s.online, s.online_since, s.offline_since, s.last_seen, "
        "s.version, s.boot_id, s.session, s.telemetry, s.telemetry_time, s.journal_head_seq, "
        "c.acked_seq, c.max_seq, c.broken_seq FROM box_state s LEFT JOIN box_chain c "
        f"ON c.store = s.store AND c.box = s.box {where} ORDER BY s.store, s.box",
        params,
    )
    return [_view(row) for row in rows]


def _view(row: tuple[Any, ...]) -> BoxView:
    (
        store,
        box,
        online,
        online_since,
        offline_since,
        last_seen,
        version,
        boot_id,
        session,
        telemetry,
        telemetry_time,
        head,
        acked,
        top,
        broken,
    ) = row
    tele = json.loads(telemetry) if telemetry else {}
    journal = tele.get("journal", {})
    backlog = journal.get("backlog")
    if backlog is None and head is not None:  # no telemetry yet: the birth's journal head
        backlog = max(0, int(head) - int(acked or 0))
    return BoxView(
        store=store,
        box=box,
        online=bool(online),
        since=online_since if online else offline_since,
        last_seen=last_seen,
        version=version,
        boot_id=boot_id,
        session=int(session),
        acknowledged_seq=int(acked or 0),
        stored_max_seq=int(top or 0),
        chain_broken_at=None if broken is None else int(broken),
        backlog=backlog,
        oldest_unacknowledged_age_s=journal.get("oldest_unacknowledged_age_s"),
        clock_synced=tele.get("clock_synced"),
        telemetry_time=telemetry_time,
        devices=tele.get("devices", {}),
        host=tele.get("host", {}),
        update=tele.get("update"),
    )


def render(boxes: list[BoxView]) -> str:
    """A fixed-width table a person can scan: problems first in each row's last column."""
    head: tuple[str, ...] = ("STORE", "BOX", "STATE", "LAST SEEN", "VERSION", "UPDATE")
    head = (*head, "ACKED", "BACKLOG", "CLOCK", "DEVICES")
    rows = [head] + [
        (
            b.store,
            b.box,
            "online" if b.online else "OFFLINE",
            (b.last_seen or "-")[:19],
            b.version or "-",
            update_text(b.update),
            str(b.acknowledged_seq)
            + (f" (break@{b.chain_broken_at})" if b.chain_broken_at else ""),
            "-" if b.backlog is None else str(b.backlog),
            "-" if b.clock_synced is None else ("synced" if b.clock_synced else "UNSYNCED"),
            _devices(b.devices),
        )
        for b in boxes
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r)).rstrip() for r in rows]
    online = sum(b.online for b in boxes)
    lines.append(f"{len(boxes)} boxes, {online} online, {len(boxes) - online} offline")
    return "\n".join(lines)


def update_text(update: dict[str, Any] | None) -> str:
    """`2.0.0 done`, `2.0.0 ROLLED_BACK`, `2.0.0 installed`: the last update's target and
    state, in capitals when it did not end as head office wanted."""
    if not update:
        return "-"
    state = str(update.get("state"))
    shown = state.upper() if state in ("rolled_back", "failed") else state
    return f"{update.get('version')} {shown}"


def _devices(devices: dict[str, Any]) -> str:
    if not devices:
        return "-"
    parts = []
    for name, state in sorted(devices.items()):
        text = f"{name}:{state.get('state')}"
        if state.get("paper") not in (None, "ok", "unknown"):
            text += f"/paper {state['paper']}"
        parts.append(text)
    return " ".join(parts)
