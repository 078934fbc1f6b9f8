"""Opening the box's SQLite file: pragmas, integrity of the header, migrations.

The daemon holds the only writing connection; commands that only read (verify, export,
reports) open their own. WAL with `synchronous=FULL` so a committed sale survives a
power cut. A file written by a newer storegate is refused rather than guessed at.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlite_utils

from gateway.errors import DatabaseError
from gateway.migrations import LATEST_VERSION, MIGRATIONS
from gateway.private_files import private_sqlite


def _unreadable(exc: sqlite3.DatabaseError, path: Path) -> DatabaseError:
    """The header is checked by SQLite itself, never by opening the file here: closing any
    other descriptor of a database file drops every POSIX lock this process holds on it
    (fcntl locks are per process and inode), after which another process's connection
    believes it is the last one and deletes the WAL the daemon is still writing — the
    sales in it are lost (https://www.sqlite.org/howtocorrupt.html, section 2.2)."""
    if "not a database" in str(exc):
        return DatabaseError(
            "not a SQLite database (the file is truncated or was overwritten)",
            where=str(path),
            fix="restore the newest backup with `gateway restore PATH`; keep this file for "
            "inspection, do not delete it",
        )
    return DatabaseError(
        f"SQLite cannot read the database: {exc}",
        where=str(path),
        fix="run `gateway journal verify`; restore the newest backup with "
        "`gateway restore PATH` if the file is damaged",
    )


def _apply_pragmas(conn: sqlite3.Connection, readonly: bool) -> None:
    conn.execute("PRAGMA busy_timeout = 5000")
    if not readonly:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")


def _schema_version(conn: sqlite3.Connection, path: Path) -> int:
    version: int = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > LATEST_VERSION:
        raise DatabaseError(
            f"database schema version {version} is newer than this storegate understands "
            f"(up to {LATEST_VERSION})",
            where=str(path),
            fix="upgrade storegate to the version that wrote this file, or restore a backup "
            "made by this version",
        )
    return version


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    current = _schema_version(conn, path)
    for migration in MIGRATIONS:
        if migration.version <= current:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(migration.sql):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {migration.version}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


def _statements(sql: str) -> list[str]:
    """Split a migration into statements; a `;` inside a trigger body does not end one."""
    statements: list[str] = []
    pending = ""
    for piece in sql.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n\t;"):
                statements.append(pending.strip())
            pending = ""
    return statements


def open_database(
    path: str | Path, *, readonly: bool = False, owner_thread_only: bool = False
) -> sqlite_utils.Database:
    """Open (creating and migrating when writable) the box database at `path`.

    `owner_thread_only`: the connection raises `sqlite3.ProgrammingError` when any thread
    but the one that opened it uses it (sqlite3's `check_same_thread`). The daemon opens
    its connection so: its main loop is the one user, and a web or device thread that
    touched the database would fail loudly instead of racing the main loop's writes."""
    path = Path(path)
    if readonly and not path.exists():
        raise DatabaseError(
            "database file does not exist",
            where=str(path),
            fix="check --db PATH, or `paths.data_dir` in the settings",
        )
    if not readonly:
        private_sqlite(path)  # 0600 whatever the umask: it holds PIN hashes and the books
    try:
        if readonly:
            conn = sqlite3.connect(
                f"file:{path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
            )
        else:
            conn = sqlite3.connect(
                str(path), isolation_level=None, check_same_thread=owner_thread_only
            )
        _apply_pragmas(conn, readonly)
        if readonly:
            _schema_version(conn, path)
        else:
            _migrate(conn, path)
    except sqlite3.DatabaseError as exc:
        raise _unreadable(exc, path) from exc
    return sqlite_utils.Database(conn)
