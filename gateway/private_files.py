"""Files and folders only the service account may read, whatever the umask.

Owns how the box creates what holds its data (database, sync state, backups, journal
exports, receipt copies, the journal checkpoint, the secrets key): files 0600, folders
0700, set with `fchmod`/`chmod` after creation so a umask of 000 (a shell, a
misconfigured unit) cannot loosen them. A file or folder that already exists, is ours and
is open to group or others is tightened on the next open, so a box upgraded from a
version that relied on the umask is mended at its first start. Never changes the process
umask: other threads create files at the same time.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

FILE_MODE = 0o600
DIR_MODE = 0o700


def private_dir(path: Path) -> Path:
    """Create `path` (and missing parents) 0700; an existing folder is left as it is
    (the install's tmpfiles.d gives the data folders 0750 on purpose)."""
    missing: list[Path] = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue  # another process made it first
        os.chmod(folder, DIR_MODE)
    return path


def tighten(path: Path) -> None:
    """Take group and other bits off a file of ours (no-op when absent or not ours)."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return
    if info.st_uid == os.geteuid() and info.st_mode & 0o077:
        os.chmod(path, info.st_mode & 0o700)


def ensure_private_file(path: Path) -> None:
    """Make sure `path` exists as an owner-only file, creating it empty if needed.

    SQLite gives a database's -wal and -shm files the database file's own mode, so
    creating the database file 0600 before SQLite opens it makes all three private."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE)
    except FileExistsError:
        tighten(path)
        return
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)


def open_private(path: Path, mode: str = "w") -> IO[str]:
    """Open `path` for writing text ("w" truncates, "a" appends), created 0600."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if mode == "a" else os.O_TRUNC)
    fd = os.open(path, flags, FILE_MODE)
    try:
        if os.fstat(fd).st_uid == os.geteuid():
            os.fchmod(fd, FILE_MODE)
        return os.fdopen(fd, mode, encoding="utf-8")
    except BaseException:
        os.close(fd)
        raise


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path`, created (or tightened to) 0600."""
    with open_private(path) as fh:
        fh.write(text)


SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def private_sqlite(path: Path) -> None:
    """Before SQLite opens `path` for writing: its folder exists, it and its side files
    (-wal, -shm, -journal, which SQLite creates with the main file's mode) are 0600."""
    if not path.parent.exists():
        private_dir(path.parent)
    ensure_private_file(path)
    for suffix in SQLITE_SIDE_FILES:
        tighten(path.with_name(path.name + suffix))
