"""What boxes uploaded to head office on request: log uploads (`log.upload` events, sent
for `cloud cmd STORE BOX upload_logs`) and backups (`backup.chunk` events, for `cloud cmd
STORE BOX upload_backup`), as ingest stored them in `box_event`.

Read by `cloud logs`, `cloud backups` and the box's page alike. Reads only; the formats
of the parts are the box's (gateway.sync.log_upload, gateway.sync.backup_upload).
"""

from __future__ import annotations

import json
from typing import Any

from cloud.db import Database
from gateway.errors import UsageError
from gateway.sync.backup_upload import EVENT_KIND as BACKUP_EVENT
from gateway.sync.backup_upload import UploadedBackup, describe
from gateway.sync.log_upload import EVENT_KIND as LOG_EVENT


def _parts(db: Database, store: str, box: str, kind: str) -> dict[str, list[dict[str, Any]]]:
    """Every upload's parts, newest upload first (by when its first part was stored)."""
    rows = db.query(
        "SELECT body FROM box_event WHERE store = ? AND box = ? AND kind = ? "
        "ORDER BY received_at, time",
        (store, box, kind),
    )
    found: dict[str, list[dict[str, Any]]] = {}
    for (body,) in rows:
        part = json.loads(body)
        found.setdefault(str(part.get("upload")), []).append(part)
    return dict(reversed(list(found.items())))


def log_uploads(db: Database, store: str, box: str) -> dict[str, list[dict[str, Any]]]:
    """Every log upload's parts, newest first."""
    return _parts(db, store, box, LOG_EVENT)


def backup_uploads(db: Database, store: str, box: str) -> dict[str, list[dict[str, Any]]]:
    """Every backup upload's chunks, newest first."""
    return _parts(db, store, box, BACKUP_EVENT)


def acked_seq(db: Database, store: str, box: str) -> int:
    """The seq head office acknowledged for the box (0: nothing yet)."""
    row = db.one("SELECT acked_seq FROM box_chain WHERE store = ? AND box = ?", (store, box))
    return int(row[0]) if row else 0


def choose_backup(
    db: Database, store: str, box: str, upload: str | None, force: bool, where: str
) -> tuple[UploadedBackup, list[dict[str, Any]]]:
    """The upload to fetch or send (default: the newest complete one), refused when it
    ends before head office's acknowledged position for the box (restoring it would hand
    those seqs out again for different records) unless `force`."""
    found = backup_uploads(db, store, box)
    acked = acked_seq(db, store, box)
    complete = [u for u, parts in found.items() if describe(parts).complete]
    chosen = upload or (complete[0] if complete else None)
    if chosen is None or chosen not in found:
        raise UsageError(
            f"no {'upload ' + repr(chosen) if chosen else 'complete backup'} from {store}/{box}",
            where=where,
            fix=f"`cloud backups list {store}/{box}`; ask for one with `cloud cmd {store} {box} "
            "upload_backup`",
        )
    info = describe(found[chosen])
    if info.head_seq < acked and not force:
        raise UsageError(
            f"backup {info.name} ends at seq {info.head_seq}, but head office acknowledged "
            f"{store}/{box} up to {acked}: a box restored from it would hand out seqs "
            f"{info.head_seq + 1}..{acked} again for different records",
            where=where,
            fix="fetch a newer backup (`cloud backups list`), or --force once you decided to",
        )
    return info, found[chosen]
