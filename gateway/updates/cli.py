"""`gateway update apply` (the updater, as root under storegate-update.service) and
`gateway update status` (what the last update did): argument handling and wiring only."""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from gateway import __version__
from gateway.settings import DEFAULT_CONFIG_PATH, GatewaySettings, load_settings
from gateway.sync.signing import TrustedKeys
from gateway.updates.agent import STATE, Adapters, UpdateAgent, read_json, updates_dir
from gateway.updates.machine import State


def register(sub: Any) -> None:
    update = sub.add_parser(
        "update",
        help="signed software updates from head office",
        description="`apply` carries out the update head office ordered (the daemon leaves "
        "the order; storegate-update.service runs this as root); `status` shows the last "
        'update\'s steps. docs/install.md, "Software updates".',
    )
    actions = update.add_subparsers(dest="update_command", metavar="ACTION", required=True)
    for name, helptext, func in (
        ("apply", "fetch, verify, install, switch between sales, check, roll back", _apply),
        ("status", "the last update's state and steps", _status),
    ):
        action = actions.add_parser(name, help=helptext)
        action.add_argument(
            "--config", metavar="PATH", help=f"settings file (default {DEFAULT_CONFIG_PATH})"
        )
        if name == "status":
            action.add_argument("--json", action="store_true", help="print JSON")
        action.set_defaults(func=func)


def agent_for(settings: GatewaySettings, config: str | None) -> UpdateAgent:
    """The updater with the real adapters, as `gateway update apply` runs it."""
    from gateway.daemon.control import control_socket
    from gateway.updates import daemon_link, install

    data_dir = Path(settings.paths.data_dir)
    socket = control_socket(settings)
    update = settings.update
    adapters = Adapters(
        fetch=install.fetch_bundle,
        build=install.build_environment,
        take_lock=partial(daemon_link.take_lock, socket, data_dir),
        switch=install.switch_link,
        read_link=install.read_link,
        restart=partial(install.restart, update.restart_command),
        ready=lambda version: install.wait_ready(
            update.link, version, update.health_timeout_s, config=config
        ),
        journal=partial(daemon_link.journal_steps, socket),
        sleep=time.sleep,
        now=lambda: datetime.now(UTC).isoformat(timespec="milliseconds"),
    )
    return UpdateAgent(
        data_dir=data_dir,
        environments=update.environments,
        link=update.link,
        keys=TrustedKeys(settings.sync.trusted_keys),
        running=__version__,
        adapters=adapters,
        lock_retry_s=update.lock_retry_s,
    )


def _apply(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    end = agent_for(settings, args.config).apply()
    record = read_json(updates_dir(Path(settings.paths.data_dir)) / STATE) or {}
    print(f"update {record.get('id')}: {end.value}" + _error(record))
    return 0 if end is State.DONE else 1


def _error(record: dict[str, Any]) -> str:
    return f"\n  {record['error']}" if record.get("error") else ""


def _status(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    record = read_json(updates_dir(Path(settings.paths.data_dir)) / STATE)
    if args.json:
        print(json.dumps(record, indent=2, sort_keys=True))
        return 0
    if record is None:
        print(f"no update yet (this box runs {__version__})")
        return 0
    print(
        f"update {record['id']}: {record['from_version']} -> {record['version']}, "
        f"{record['state']}" + _error(record)
    )
    for s in record.get("steps", []):
        print(
            f"  {s['n']:>3} {s['at']}  {s['state']:<12} {s.get('input') or '-':<14} {s['detail']}"
        )
    return 0
