"""Online backups of the box's database and restoring one.

Owns the backup files (`<backup dir>/storegate-<UTC time>-seq<N>.db`), their rotation and
the restore procedure. A backup is always taken with SQLite's online backup API from a
read-only connection (never a file copy of a live WAL database), written under a
temporary name, checked (integrity and journal chain) and fsynced before it gets its
final name, so a half-written backup is never mistaken for a good one.

Restore refuses a backup whose journal ends before what head office has acknowledged:
the box would hand out those seqs again for different records. `force` overrides that
after a person has decided to. It must not run while the daemon holds the database.

What a backup holds is recorded in the backup itself when it is taken: its name carries
the head seq (`-seq<N>`), given only after the chain was verified, and its own
`journal_state` the head hash. `BackupReach` reads that back for journal retention
(`gateway.journal.retention`): records up to the newest backup whose head record is the
box's own record of that seq count as backed up.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from gateway.database import open_database
from gateway.errors import StoregateError
from gateway.journal import JournalRecord, verify_journal
from gateway.private_files import private_dir, private_sqlite

BACKUP_NAME = re.compile(r"^storegate-(\d{8}T\d{6}\d{0,6}Z)-seq(\d+)\.db$")


class BackupError(StoregateError):
    """A backup could not be taken or a restore was refused."""


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    head_seq: int
    acknowledged_seq: int
    records_checked: int


def backup_dir(settings: object) -> Path:
    chosen = settings.backup.directory  # type: ignore[attr-defined]
    return Path(chosen) if chosen else Path(settings.paths.data_dir) / "backups"  # type: ignore[attr-defined]


def _stamp(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def _readonly(path: Path) -> sqlite3.Connection:
    if not path.exists():
        raise BackupError(
            "there is no database to back up",
            where=str(path),
            fix="check paths.data_dir in the settings; the daemon creates the "
            "database on its first start",
        )
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    conn.execute("PRAGMA busy_timeout = 10000")
    return conn


def check_backup(path: Path) -> BackupInfo:
    """SQLite integrity plus the journal chain of a backup file; raises when either fails."""
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        try:
            answer = conn.execute("PRAGMA integrity_check").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            answer = str(exc)
    if answer != "ok":
        raise BackupError(
            f"the backup is damaged: {answer}",
            where=str(path),
            fix="use an older backup (`ls` the backup folder)",
        )
    report = verify_journal(open_database(path, readonly=True))
    if not report.ok:
        raise BackupError(
            f"the backup's journal does not verify: {report.describe()}",
            where=str(path),
            fix="use an older backup",
        )
    return BackupInfo(path, report.head_seq, report.acknowledged_seq, report.checked)


def take_backup(
    database: Path,
    directory: Path,
    *,
    keep: int,
    now: datetime | None = None,
    target: Path | None = None,
) -> BackupInfo:
    """Back up `database` online; rotate `directory` to the newest `keep` backups."""
    moment = now or datetime.now(UTC)
    private_dir(directory)
    partial = (target or directory / "storegate.db").with_suffix(".partial")
    partial.unlink(missing_ok=True)
    private_sqlite(partial)  # a backup is the whole database: 0600 whatever the umask
    with closing(_readonly(database)) as source, closing(sqlite3.connect(partial)) as copy:
        source.backup(copy)  # one step: a consistent snapshot; WAL writers go on
        copy.execute("PRAGMA journal_mode = DELETE")
    info = check_backup(partial)
    final = target or directory / f"storegate-{_stamp(moment)}-seq{info.head_seq}.db"
    _fsync(partial)
    partial.replace(final)
    _fsync_dir(final.parent)
    if target is None:
        rotate(directory, keep)
    return BackupInfo(final, info.head_seq, info.acknowledged_seq, info.records_checked)


def list_backups(directory: Path) -> list[Path]:
    """Backups made by `take_backup`, oldest first (the name sorts by time)."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if BACKUP_NAME.match(p.name))


def backup_head(path: Path) -> tuple[int, str] | None:
    """(head seq, head hash) a finished backup holds, from its own journal_state."""
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            row = conn.execute(
                "SELECT head_seq, head_hash FROM journal_state WHERE id = 1"
            ).fetchone()
    except sqlite3.DatabaseError:
        return None
    return (int(row[0]), str(row[1])) if row else None


class BackupReach:
    """How far the backups in `directory` reach into the live journal (a seq, 0 for none).

    A backup counts when its head record is the live journal's record of that seq (same
    hash): a backup of another chain (e.g. from before a forced restore that reused seqs)
    or a damaged one holds nothing of this one. Each file is opened once (backups do not
    change once named); a deleted backup stops counting at the next look, so retention
    never prunes on the strength of a backup that is gone."""

    def __init__(self, directory: Path, live: Callable[[int], JournalRecord | None]) -> None:
        self.directory = directory
        self._live = live
        self._heads: dict[Path, tuple[int, str] | None] = {}

    def __call__(self) -> int:
        backups = list_backups(self.directory)
        self._heads = {
            path: self._heads[path] if path in self._heads else backup_head(path)
            for path in backups
        }
        for seq, digest in sorted((h for h in self._heads.values() if h), reverse=True):
            record = self._live(seq)
            if record is not None and record.hash == digest:
                return seq
        return 0


def rotate(directory: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` backups; returns what was deleted."""
    backups = list_backups(directory)
    doomed = backups[:-keep] if len(backups) > keep else []
    for path in doomed:
        path.unlink()
    return doomed


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def acknowledged_position(database: Path, sync_state: Path) -> int:
    """What head office has acknowledged, as far as this box can still tell."""
    seen = [0]
    if database.exists():
        try:
            with closing(_readonly(database)) as conn:
                seen.append(
                    conn.execute(
                        "SELECT acknowledged_seq FROM journal_state WHERE id = 1"
                    ).fetchone()[0]
                )
        except (sqlite3.DatabaseError, TypeError):
            pass  # the live file is the damaged one being replaced: rely on sync's state
    seen.append(_sync_acknowledged(sync_state))
    return max(seen)


def _sync_acknowledged(sync_state: Path) -> int:
    if not sync_state.exists():
        return 0
    try:
        with closing(sqlite3.connect(f"file:{sync_state}?mode=ro", uri=True)) as conn:
            rows = conn.execute("SELECT body FROM status").fetchall()
    except sqlite3.DatabaseError:
        return 0
    best = 0
    for (body,) in rows:
        try:
            data = json.loads(body)
        except (TypeError, ValueError):
            continue
        best = max(best, _find_ack(data))
    return best


def _find_ack(data: object) -> int:
    """The largest acknowledged seq mentioned in sync's status snapshot."""
    if isinstance(data, dict):
        found = [v for k, v in data.items() if "ack" in k and "seq" in k and isinstance(v, int)]
        found += [_find_ack(v) for v in data.values() if isinstance(v, dict | list)]
        return max(found, default=0)
    if isinstance(data, list):
        return max((_find_ack(v) for v in data), default=0)
    return 0


def restore(
    backup: Path, database: Path, *, acknowledged: int, force: bool, now: datetime | None = None
) -> tuple[BackupInfo, Path | None]:
    """Verify `backup`, then put it in place of `database`; the old file is kept aside."""
    info = check_backup(backup)
    if info.head_seq < acknowledged and not force:
        raise BackupError(
            f"the backup ends at record {info.head_seq} but head office has already "
            f"acknowledged up to {acknowledged}; restoring it would reuse seqs "
            f"{info.head_seq + 1}..{acknowledged} for different records",
            where=str(backup),
            fix="restore a newer backup; or, if head office has been told, pass --force",
        )
    aside = None
    if database.exists():
        aside = database.with_name(f"{database.name}.replaced-{_stamp(now or datetime.now(UTC))}")
        database.replace(aside)
        for suffix in ("-wal", "-shm"):
            extra = database.with_name(database.name + suffix)
            if extra.exists():
                extra.replace(aside.with_name(aside.name + suffix))
    take_backup(backup, database.parent, keep=1, target=database)
    return info, aside
