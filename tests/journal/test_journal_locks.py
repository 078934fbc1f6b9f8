"""The daemon's WAL survives other connections coming and going (found in `gateway demo`).

POSIX locks belong to a process and an inode: closing *any* descriptor of the database
file drops every lock the process holds on it. `open_database` once read the header with
a plain `open()`, so the daemon opening a read-only connection beside its writer lost its
locks; the next process to close a connection then thought it was the last one, deleted
the WAL the daemon was still writing, and every sale after that was gone at the stop.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gateway.database import open_database
from gateway.errors import DatabaseError

OTHER_PROCESS = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1])
conn.execute("SELECT count(*) FROM sqlite_master").fetchall()
print("ready", flush=True)
sys.stdin.readline()
conn.close()
"""


def _rows(path: Path) -> int:
    db = open_database(path, readonly=True)
    try:
        (count,) = db.conn.execute("SELECT count(*) FROM t").fetchone()
    finally:
        db.conn.close()
    return int(count)


def test_a_reader_beside_the_writer_keeps_the_writers_wal(tmp_path: Path) -> None:
    path = tmp_path / "storegate.db"
    writer = open_database(path)
    writer.conn.execute("CREATE TABLE t (n INTEGER)")
    writer.conn.execute("INSERT INTO t VALUES (1)")
    other = subprocess.Popen(
        [sys.executable, "-c", OTHER_PROCESS, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert other.stdout is not None and other.stdin is not None
    assert other.stdout.readline() == "ready\n"
    reader = open_database(path, readonly=True)  # in the writer's process, as the daemon does
    reader.conn.close()
    other.stdin.write("\n")
    other.stdin.close()
    assert other.wait(timeout=60) == 0  # the other process's last close
    assert path.with_name("storegate.db-wal").exists()
    for n in range(2, 12):
        writer.conn.execute("INSERT INTO t VALUES (?)", (n,))
    assert _rows(path) == 11  # a new connection sees what the writer wrote after
    writer.conn.close()
    assert _rows(path) == 11


@pytest.mark.parametrize(
    "content", [b"", b"SQLite format 3\x00", b"not a database at all" * 50], ids=str
)
def test_a_file_that_is_not_a_database_is_refused_with_the_fix(
    tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "storegate.db"
    real = open_database(path)
    real.conn.execute("CREATE TABLE t (n INTEGER)")
    real.conn.close()
    whole = path.read_bytes()
    path.write_bytes(content or whole[:100])  # empty stands for a database cut to 100 bytes
    for readonly in (True, False):
        with pytest.raises(DatabaseError) as refused:
            open_database(path, readonly=readonly)
        expected = "malformed" if not content else "not a SQLite database"
        assert expected in refused.value.what
        assert "gateway restore" in (refused.value.fix or "")
    assert path.read_bytes() == (content or whole[:100])  # refused, never overwritten
