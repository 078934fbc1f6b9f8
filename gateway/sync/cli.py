"""`gateway sync status`: what sync last recorded, read from the box's files.

Until the daemon serves live state over its control socket (its own issue), this reads
what is durable: the journal's acknowledged position and backlog (read-only), and the sync
state file's last status snapshot, queue depth and drop counters, and says how old that
snapshot is. It never writes either file.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from gateway.database import open_database
from gateway.journal.store import Journal
from gateway.settings import DEFAULT_CONFIG_PATH, load_settings
from gateway.sync.store import SyncStore
from gateway.sync.timefmt import parse_instant


def register(sub: Any) -> None:
    sync = sub.add_parser("sync", help="cloud sync over MQTT")
    sync_sub = sync.add_subparsers(dest="sync_command", metavar="ACTION", required=True)
    status = sync_sub.add_parser(
        "status",
        help="connection state, backlog, last acknowledgement and last error",
        description="Reads the journal and the sync state file (no daemon needed); the "
        "connection state is the last one the sync service recorded.",
    )
    status.add_argument(
        "--config", metavar="PATH", help=f"settings file (default {DEFAULT_CONFIG_PATH})"
    )
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(func=_status)


def gather(settings: Any, now: datetime) -> dict[str, Any]:
    """Everything `sync status` shows, as plain data."""
    journal = Journal(open_database(settings.paths.database, readonly=True))
    state = journal.state()
    backlog, oldest = journal.backlog()
    report: dict[str, Any] = {
        "journal": {
            "head_seq": state.head_seq,
            "acknowledged_seq": state.acknowledged_seq,
            "acknowledged_hash": state.acknowledged_hash,
            "backlog": backlog,
            "oldest_unacknowledged": oldest,
        },
        "sync": None,
        "queue": None,
    }
    path = settings.sync.state_file or settings.paths.data_dir / "sync.db"
    if not path.exists():
        return report
    store = SyncStore(path, capacity=settings.sync.queue_max_messages, readonly=True)
    try:
        snapshot = store.read_status()
        report["queue"] = {
            "depth": store.depth(),
            "capacity": store.capacity,
            "dropped_telemetry": store.counter("dropped_telemetry"),
            "dropped_events": store.counter("dropped_events") + store.counter("dropped_cmd_result"),
        }
    finally:
        store.close()
    if snapshot is not None:
        body, written = snapshot
        age = (now - parse_instant(written)).total_seconds()
        report["sync"] = {**body, "recorded_at": written, "recorded_age_s": round(age, 1)}
    return report


def _status(args: argparse.Namespace) -> int:
    report = gather(load_settings(args.config), datetime.now(UTC))
    print(json.dumps(report, indent=2) if args.json else render(report))
    return 0


def render(report: dict[str, Any]) -> str:
    journal, sync, queue = report["journal"], report["sync"], report["queue"]
    lines = [
        "sync status (read from the box's files; live state will come from the "
        "daemon's control socket)"
    ]
    if sync is None:
        lines.append("  connection:     unknown - sync has not recorded a status on this box")
    else:
        lines.append(
            f"  connection:     {sync['connection']} (broker {sync['broker']}"
            + (f", MQTT {sync['protocol']})" if sync.get("protocol") else ")")
            + f", recorded {sync['recorded_age_s']:.0f} s ago by pid {sync['pid']}"
        )
        lines.append(f"  head office:    {'online' if sync['head_office_online'] else 'offline'}")
    lines.append(f"  journal head:   seq {journal['head_seq']}")
    last_ack = f", last ack at {sync['last_ack_at']}" if sync and sync.get("last_ack_at") else ""
    lines.append(f"  acknowledged:   seq {journal['acknowledged_seq']}{last_ack}")
    oldest = journal["oldest_unacknowledged"]
    lines.append(
        f"  backlog:        {journal['backlog']} records"
        + (f", oldest from {oldest}" if oldest else "")
    )
    if queue is not None:
        lines.append(
            f"  queue:          {queue['depth']} of {queue['capacity']} messages; "
            f"dropped {queue['dropped_telemetry']} telemetry, "
            f"{queue['dropped_events']} events"
        )
    error = sync.get("last_error") if sync else None
    if error:
        lines.append(f"  last error:     at {sync['last_error_at']}")
        lines.extend(f"    {line.strip()}" for line in str(error).splitlines())
    else:
        lines.append("  last error:     none")
    return "\n".join(lines)
