"""`cloud logs` and `cloud backups list|fetch` on both engines, over what ingest stores for
`log.upload` and `backup.chunk` events (`box_event`); the whole path from the box is in
tests/daemon/test_remote_commands.py."""

from __future__ import annotations

import json
from pathlib import Path

from cloud_testkit import cloud_cli

from cloud.db import Database
from gateway.sync.backup_upload import CHUNK_BYTES, chunk_bodies
from gateway.sync.log_upload import parts


def store_events(db_url: str, kind: str, bodies: list[dict[str, object]], at: str) -> None:
    db = Database.open(db_url)
    try:
        with db.transaction():
            for n, body in enumerate(bodies):
                db.execute(
                    "INSERT INTO box_event (store, box, id, time, kind, severity, body, "
                    "received_at) VALUES ('s1', 'b1', ?, ?, ?, 'info', ?, ?)",
                    (f"{kind}-{at}-{n}", at, kind, json.dumps(body), at),
                )
    finally:
        db.close()


def test_logs_and_backups_read_back_on_either_database(tmp_path: Path, db_url: str) -> None:
    db = ("--db", db_url)
    lines = [f"12:00:{n:02d} INFO gateway: line {n}" + "x" * 300 for n in range(120)]
    old, new = parts("old", ["an older upload"]), parts("new", lines)
    assert len(new) > 1
    store_events(db_url, "log.upload", old, "2026-12-01T10:00:00.000Z")
    store_events(db_url, "log.upload", list(reversed(new[1:])), "2026-12-01T11:00:00.000Z")
    status, out, err = cloud_cli("logs", "s1/b1", *db)
    assert status == 1 and "part(s) 1 of" in err  # the newest, with its first part missing
    store_events(db_url, "log.upload", new[:1], "2026-12-01T11:00:01.000Z")
    status, out, _ = cloud_cli("logs", "s1/b1", *db)
    assert status == 0 and out.splitlines() == lines
    status, out, _ = cloud_cli("logs", "s1/b1", "--upload", "old", "--json", *db)
    assert status == 0 and json.loads(out)["lines"] == ["an older upload"]
    status, _, err = cloud_cli("logs", "s1", *db)
    assert status == 2 and "is not STORE/BOX" in err

    data = bytes(range(256)) * (CHUNK_BYTES // 128)
    chunks = chunk_bodies("up1", "storegate-x-seq7.db", 7, data)
    store_events(db_url, "backup.chunk", chunks, "2026-12-01T12:00:00.000Z")
    status, out, _ = cloud_cli("backups", "list", "s1/b1", *db)
    assert status == 0 and "up1  storegate-x-seq7.db  seq 7" in out and "complete" in out
    status, _, err = cloud_cli("backups", "fetch", "s1/b1", "--out", str(tmp_path / "b.db"), *db)
    assert status == 0, err
    assert (tmp_path / "b.db").read_bytes() == data
    database = Database.open(db_url)
    try:
        with database.transaction():
            database.execute("INSERT INTO box_chain (store, box, acked_seq) VALUES ('s1', 'b1', 9)")
    finally:
        database.close()
    status, _, err = cloud_cli("backups", "fetch", "s1/b1", "--out", str(tmp_path / "c.db"), *db)
    assert status == 2 and "ends at seq 7, but head office acknowledged s1/b1 up to 9" in err
    assert not (tmp_path / "c.db").exists()
