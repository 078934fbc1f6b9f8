"""`gateway backup` and `gateway restore`: the technician's side of gateway.daemon.backup.

Owns only turning arguments and settings into calls and printing the outcome.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gateway.daemon.backup import (
    acknowledged_position,
    backup_dir,
    restore,
    take_backup,
)
from gateway.daemon.lock import daemon_lock
from gateway.errors import UsageError
from gateway.settings import load_settings


def backup_command(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    database = settings.paths.database
    if args.path is None:
        info = take_backup(database, backup_dir(settings), keep=settings.backup.keep)
    else:
        path = Path(args.path)
        if path.is_dir():
            info = take_backup(database, path, keep=settings.backup.keep)
        else:
            info = take_backup(database, path.parent, keep=settings.backup.keep, target=path)
    print(
        f"backup written: {info.path} (journal 1..{info.head_seq}, {info.records_checked} "
        f"records verified, acknowledged up to {info.acknowledged_seq})"
    )
    return 0


def restore_command(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    database = settings.paths.database
    sync_state = settings.sync.state_file or Path(settings.paths.data_dir) / "sync.db"
    acknowledged = max(acknowledged_position(database, sync_state), args.acknowledged or 0)
    if (args.path is None) == (not args.from_head_office):
        raise UsageError(
            "give a backup PATH or --from-head-office (one of them)",
            where="gateway restore",
            fix="gateway restore PATH, or gateway restore --from-head-office",
        )
    with daemon_lock(Path(settings.paths.data_dir), holder="gateway restore"):
        path = Path(args.path) if args.path else None
        if path is None:
            from gateway.private_files import private_dir, write_private
            from gateway.sync.backup_fetch import fetch_backup

            fetched = fetch_backup(settings, args.wait)
            acknowledged = max(acknowledged, fetched.acknowledged_seq)
            folder = private_dir(backup_dir(settings))
            path = folder / f"from-head-office-{fetched.name}"
            write_private(path, "")  # 0600 before the backup's bytes go in
            path.write_bytes(fetched.data)
            print(
                f"received {fetched.name} from head office (journal to seq "
                f"{fetched.head_seq}; head office acknowledged {fetched.acknowledged_seq})"
            )
        info, aside = restore(path, database, acknowledged=acknowledged, force=args.force)
    print(f"restored {path} -> {database} (journal 1..{info.head_seq} verified)")
    if aside is not None:
        print(f"the previous database was kept as {aside}")
    return 0
