"""Who owns the box database: the daemon's lock file, and asking the owner to write.

"One writer owns the SQLite file." `gateway run` holds an exclusive `flock` on
`<data_dir>/daemon.lock` for its whole life (the kernel drops it when the process dies,
even by SIGKILL, so a crash never leaves a stale lock). `gateway restore` takes the same
lock, so it cannot replace the file under a running daemon. Commands that change the
database (`gateway staff`, `gateway report z`, `gateway catalog load`) ask `writer_of()`
first: when the daemon holds the file they send their change through its control socket,
so the daemon's main loop writes it and its in-memory state (catalog in force, day
closed) follows; otherwise they write the file themselves.
"""

from __future__ import annotations

import fcntl
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gateway.daemon.control import call, control_socket
from gateway.errors import StoregateError
from gateway.private_files import private_dir
from gateway.settings import GatewaySettings

LOCK_NAME = "daemon.lock"


class DaemonLockError(StoregateError):
    """The database is in use by a running daemon."""


@contextmanager
def daemon_lock(data_dir: Path, *, holder: str) -> Iterator[None]:
    """Held by `gateway run` for its whole life and by restore while it replaces the file."""
    private_dir(data_dir)
    fd = os.open(data_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o660)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DaemonLockError(
                f"the database in {data_dir} is in use by a running daemon",
                where=holder,
                fix="stop it first: systemctl stop storegate",
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {holder}\n".encode())
        yield
    finally:
        os.close(fd)


def daemon_holds(data_dir: Path) -> bool:
    """True while a `gateway run` holds the lock on `data_dir` (a probe: takes nothing)."""
    try:
        fd = os.open(data_dir / LOCK_NAME, os.O_RDONLY)
    except FileNotFoundError:
        return False  # no daemon has ever run on this folder
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops the probe's shared lock at once
    return False


def _socket_answers(path: Path) -> bool:
    """For a user who may not open the lock file: does anything listen on the socket?"""
    import socket

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        try:
            sock.connect(str(path))
        except OSError:
            return False
    return True


def writer_of(settings: GatewaySettings, db: str | None) -> tuple[Path, Path | None]:
    """The database a command names (`--db`, else the settings') and, when the running
    daemon owns that file, its control socket (else None: the command writes it)."""
    database = Path(db) if db else Path(settings.paths.database)
    if database.resolve() != Path(settings.paths.database).resolve():
        return database, None  # another file: no daemon of these settings writes it
    socket_path = control_socket(settings)
    try:
        running = daemon_holds(Path(settings.paths.data_dir))
    except PermissionError:  # the lock file is the service user's: ask the socket instead
        running = _socket_answers(socket_path)
    return database, (socket_path if running else None)


def ask_owner(socket_path: Path, request: dict[str, Any], timeout: float = 60) -> dict[str, Any]:
    """Send a change to the daemon that owns the database; its answer as a dict."""
    return call(socket_path, request, timeout=timeout)


def owner_refused(answer: dict[str, Any], command: str) -> int:
    """Print the daemon's "no" as the command would have printed it without the daemon,
    and return the same exit status: an error (`exit_code` set) as `gateway: ...`, a
    lane refusal as `gateway COMMAND: ...` with status 1."""
    if "exit_code" in answer:
        print(f"gateway: {answer.get('error')}", file=sys.stderr)
        return int(answer["exit_code"])
    print(f"gateway {command}: {answer.get('error')}", file=sys.stderr)
    return 1
