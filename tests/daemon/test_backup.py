"""Online backups while a writer appends, rotation, and restore's refusals."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from daemon_testkit import GATEWAY, append_records, write_config

from gateway.daemon.backup import list_backups
from gateway.daemon.lock import daemon_lock
from gateway.database import open_database
from gateway.journal import Journal, verify_journal

WRITER = """
import sys
from gateway.database import open_database
from gateway.journal import Journal
journal = Journal(open_database(sys.argv[1]))
print("ready", flush=True)
for i in range(100000):
    journal.append("sale", {"total": "2.50", "n": i})
"""


def gateway(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(GATEWAY), *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_backup_during_appends_verifies_and_rotation_keeps_the_newest(tmp_path: Path) -> None:
    config = write_config(tmp_path, "")
    config.write_text(config.read_text().replace("keep = 14", "keep = 3"))
    database = tmp_path / "storegate.db"
    append_records(database, 5)
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(database)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
        for _ in range(5):
            done = gateway("backup", "--config", str(config))
            assert done.returncode == 0, done.stderr
            assert "records verified" in done.stdout
    finally:
        writer.kill()
        writer.wait()
    backups = list_backups(tmp_path / "backups")
    assert len(backups) == 3
    heads = []
    for path in backups:
        report = verify_journal(open_database(path, readonly=True))
        assert report.ok, report.describe()
        heads.append(report.head_seq)
        assert path.name.endswith(f"-seq{report.head_seq}.db")
    assert heads == sorted(heads) and heads[0] >= 5


def test_restore_refuses_a_backup_older_than_the_acknowledged_position(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    database = tmp_path / "storegate.db"
    append_records(database, 10)
    old = tmp_path / "old.db"
    assert gateway("backup", str(old), "--config", str(config)).returncode == 0
    append_records(database, 10)
    Journal(open_database(database)).acknowledge(15)
    refused = gateway("restore", str(old), "--config", str(config))
    assert refused.returncode == 1
    assert "acknowledged up to 15" in refused.stderr and "Traceback" not in refused.stderr
    assert Journal(open_database(database, readonly=True)).state().head_seq == 20
    forced = gateway("restore", str(old), "--force", "--config", str(config))
    assert forced.returncode == 0, forced.stderr
    assert Journal(open_database(database, readonly=True)).state().head_seq == 10
    assert list(tmp_path.glob("storegate.db.replaced-*"))


def test_restore_refuses_a_tampered_backup_and_a_running_daemon(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    database = tmp_path / "storegate.db"
    append_records(database, 6)
    copy = tmp_path / "copy.db"
    assert gateway("backup", str(copy), "--config", str(config)).returncode == 0
    with sqlite3.connect(copy) as conn:
        conn.execute("DROP TRIGGER IF EXISTS journal_record_no_update")
        triggers = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type='trigger' AND tbl_name='journal_record'"
            )
        ]
        for name in triggers:
            conn.execute(f"DROP TRIGGER {name}")
        conn.execute('UPDATE journal_record SET body = \'{"total":"9.99"}\' WHERE seq = 3')
    tampered = gateway("restore", str(copy), "--config", str(config))
    assert tampered.returncode == 1 and "record 3" in tampered.stderr
    good = tmp_path / "good.db"
    assert gateway("backup", str(good), "--config", str(config)).returncode == 0
    with daemon_lock(tmp_path, holder="test daemon"):
        busy = gateway("restore", str(good), "--config", str(config))
    assert busy.returncode == 1 and "in use by a running daemon" in busy.stderr
    assert gateway("restore", str(good), "--config", str(config)).returncode == 0
