"""The daemon room's sub-commands: run, status, backup, restore, doctor, install.

Only argument parsing lives here; each command calls into its module, imported when the
command runs so that `gateway --help` stays fast on a Pi.
"""

from __future__ import annotations

import argparse
import importlib
from typing import Any


def _lazy(module: str, function: str) -> Any:
    def call(args: argparse.Namespace) -> int:
        result: int = getattr(importlib.import_module(module), function)(args)
        return result

    return call


def register(sub: Any) -> None:
    _register_run(sub)
    _register_install(sub)
    _register_backup(sub)


def _config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", metavar="PATH", help="settings file (default /etc/storegate/gateway.toml)"
    )


def _register_run(sub: Any) -> None:
    run = sub.add_parser(
        "run",
        help="run the box: devices, lane, journal, printer, sync",
        description="The daemon systemd starts (Type=notify). SIGTERM stops "
        "it cleanly, SIGHUP reloads live settings.",
    )
    _config(run)
    run.set_defaults(func=_lazy("gateway.daemon.status", "run_command"))
    status = sub.add_parser("status", help="the running daemon: lane, devices, backlog, clock")
    status.add_argument("--json", action="store_true", help="print JSON instead of text")
    _config(status)
    status.set_defaults(func=_lazy("gateway.daemon.status", "status_command"))
    till = sub.add_parser(
        "till",
        help="a lane action on the running daemon (as if keyed)",
        description="ACTION: sign_on staff=ID [language=zh] | scan code=EAN | "
        "plu code=PLU | weigh code=PLU | member card=ID | tender type=cash "
        "amount=20 | suspend | resume id=ID | void_sale reason=.. "
        "supervisor=ID | no_sale reason=.. supervisor=ID | close_shift counted=.. | "
        "z staff=ID. The PIN of staff= and supervisor= is asked (or read from stdin "
        "with --pin-stdin), never given as a FIELD.",
    )
    till.add_argument("action", help="the lane action, e.g. sign_on, scan, tender")
    till.add_argument(
        "fields", nargs="*", metavar="FIELD=VALUE", help="the action's fields, e.g. code=EAN"
    )
    till.add_argument(
        "--pin-stdin",
        action="store_true",
        help="read the PIN(s) from stdin, one a line (staff's first, then supervisor's)",
    )
    _config(till)
    till.set_defaults(func=_lazy("gateway.daemon.status", "till_command"))
    doctor = sub.add_parser("doctor", help="check the box and explain what to fix")
    doctor.add_argument("--json", action="store_true", help="print the findings as JSON")
    _config(doctor)
    doctor.set_defaults(func=_lazy("gateway.daemon.doctor", "doctor_command"))
    accept = sub.add_parser(
        "accept-break",
        help="let a box whose journal does not verify sell again (journals who and why)",
        description="After `gateway journal verify` names the break and "
        "a copy of the database was kept: record the acceptance in the "
        "journal; the running daemon takes sales again.",
    )
    accept.add_argument("--seq", type=int, required=True, help="the record the chain breaks at")
    accept.add_argument(
        "--by",
        required=True,
        metavar="STAFF_ID",
        help="the admin or technician accepting it (the PIN is asked)",
    )
    accept.add_argument("--totp", metavar="CODE", help="their authenticator code")
    accept.add_argument("--pin-stdin", action="store_true", help="read the PIN from stdin")
    accept.add_argument(
        "--reason", required=True, metavar="TEXT", help="why (journalled with the acceptance)"
    )
    _config(accept)
    accept.set_defaults(func=_lazy("gateway.daemon.chain_guard", "accept_break_command"))


def _register_backup(sub: Any) -> None:
    backup = sub.add_parser(
        "backup",
        help="online backup of the database (SQLite backup API)",
        description="Back up while the daemon runs; rotates the backup folder to [backup] keep.",
    )
    backup.add_argument(
        "path", nargs="?", metavar="PATH", help="file or folder (default [backup] directory)"
    )
    _config(backup)
    backup.set_defaults(func=_lazy("gateway.daemon.commands", "backup_command"))
    restore = sub.add_parser("restore", help="verify a backup and put it in place (daemon stopped)")
    restore.add_argument("path", nargs="?", metavar="PATH", help="the backup file")
    restore.add_argument(
        "--from-head-office",
        action="store_true",
        help="the backup head office sent back (`cloud backups send STORE/BOX`)",
    )
    restore.add_argument(
        "--wait",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="how long --from-head-office waits for it (default 60)",
    )
    restore.add_argument(
        "--force",
        action="store_true",
        help="restore even a backup older than what head office acknowledged",
    )
    restore.add_argument(
        "--acknowledged",
        type=int,
        metavar="SEQ",
        help="head office's acknowledged seq, when this box lost track of it",
    )
    _config(restore)
    restore.set_defaults(func=_lazy("gateway.daemon.commands", "restore_command"))


def _register_install(sub: Any) -> None:
    install = sub.add_parser(
        "install",
        help="install the service, udev rules, user and config (idempotent)",
        description="Install storegate under ROOT (default /). Running it twice changes nothing.",
    )
    install.add_argument("--root", default="/", metavar="DIR", help="install into this folder")
    install.add_argument(
        "--venv-from",
        metavar="DIR",
        help="link /opt/storegate/venv to this existing environment instead "
        "of creating one (development, tests)",
    )
    install.set_defaults(func=_lazy("gateway.daemon.install", "install_command"))
    uninstall = sub.add_parser(
        "uninstall",
        help="remove the service and rules; keeps data and config unless --purge",
        description="Disables and removes the units, timer, udev rules and the venv. "
        "--purge also deletes the data, the config and the user, and is refused while the "
        "journal holds records head office has not acknowledged (--force overrides).",
    )
    uninstall.add_argument(
        "--root", default="/", metavar="DIR", help="remove from this folder (default /)"
    )
    uninstall.add_argument(
        "--purge",
        action="store_true",
        help="also delete /var/lib/storegate, /etc/storegate and the user",
    )
    uninstall.add_argument(
        "--force",
        action="store_true",
        help="purge even while head office has not acknowledged every journal record",
    )
    uninstall.set_defaults(func=_lazy("gateway.daemon.install", "uninstall_command"))
