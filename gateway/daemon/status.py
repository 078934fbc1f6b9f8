"""`gateway status` and `gateway till`: talking to the running daemon over its socket.

Owns only the client side and the human rendering of the status; the daemon answers.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from gateway.commands.prompts import read_pin
from gateway.daemon.control import ControlError, call, control_socket
from gateway.errors import UsageError
from gateway.settings import load_settings


def socket_path(config: str | None) -> Path:
    return control_socket(load_settings(config))


def status_command(args: argparse.Namespace) -> int:
    answer = call(socket_path(args.config), {"command": "status"})
    if not answer.get("ok"):
        raise ControlError(str(answer.get("error")), where="gateway status")
    status = answer["status"]
    if args.json:
        print(json.dumps(status, indent=2, default=str))
    else:
        print(render_status(status), end="")
    return 0


def render_status(s: dict[str, Any]) -> str:
    lane, journal, clock = s["lane"], s["journal"], s["clock"]
    sync = s.get("sync", {})
    lines = [
        f"daemon   pid {s['pid']}, up {s['uptime_s']} s, version {s.get('version', '?')}",
        f"lane     {lane['state']}"
        + (f", cashier {lane['cashier']}" if lane["cashier"] else "")
        + (f", sale of {lane['lines']} line(s), total {lane['total']}" if lane["total"] else ""),
        f"journal  head {journal['head_seq']}, acknowledged {journal['acknowledged_seq']}, "
        f"backlog {journal['backlog']}"
        + (f" (oldest {journal['oldest_unacknowledged']})" if journal["backlog"] else ""),
        _sync_line(sync),
        f"clock    {clock['now']}, {_synced(clock['synchronised'])}, "
        f"{clock['jumps_back']} jump(s) back",
        f"printer  {s['printer']}",
        _access_line(s.get("access") or {}),
    ]
    if update := s.get("update"):
        lines.append(
            f"update   {update['from_version']} -> {update['version']}: {update['state']}"
            + (f" ({update['error']})" if update.get("error") else "")
        )
    for name, device in sorted(s["devices"].items()):
        lines.append(
            f"device   {name} ({device.get('role')}): {device.get('state')} "
            f"{device.get('detail') or ''}".rstrip()
        )
    lines += [f"ANOMALY  {a['rule']}: {a['message']}" for a in s["anomalies"][-5:]]
    lines += [f"ALERT    {a['source']}: {a['message']}" for a in s["alerts"][-5:]]
    return "\n".join(lines) + "\n"


def _sync_line(sync: dict[str, Any]) -> str:
    if "connection" not in sync:
        return f"sync     {sync.get('state', '?')}"
    office = "online" if sync.get("head_office_online") else "offline"
    line = (
        f"sync     {sync['connection']} to {sync.get('broker')}, head office {office}, "
        f"last ack {sync.get('acknowledged_seq')} at {sync.get('last_ack_at') or '-'}"
    )
    if sync.get("last_error") and sync["connection"] != "connected":
        line += f" (last error: {sync['last_error']})"
    return line


def _access_line(access: dict[str, Any]) -> str:
    """The bootstrap said loudly: until it ends, the socket's group can do more."""
    if access.get("bootstrap"):
        return f"access   BOOTSTRAP ({access['bootstrap']}): {access['allows']}; {access['fix']}"
    return f"access   {access.get('allows', '?')}"


def _synced(flag: bool) -> str:
    return "synchronised" if flag else "NOT synchronised (NTP)"


# A staff number keyed with a lane action, and the PIN asked for it (never a FIELD=VALUE).
PIN_OF = {"staff": "pin", "supervisor": "supervisor_pin"}


def till_command(args: argparse.Namespace) -> int:
    """`gateway till ACTION [FIELD=VALUE ...]`: a keyed lane action on the running daemon."""
    request: dict[str, Any] = {"command": "lane", "action": args.action}
    if args.action == "z":
        request = {"command": "z_report"}
    for field in args.fields:
        key, sep, value = field.partition("=")
        if not sep:
            raise UsageError(
                f"{field!r} is not FIELD=VALUE",
                where="gateway till",
                fix="e.g. gateway till scan code=7612345001012",
            )
        if key in PIN_OF.values():
            raise UsageError(
                f"a PIN is never given on the command line ({key}=), where `ps` and the "
                "shell's history show it",
                where="gateway till",
                fix=f"leave {key}= out: it is asked (or read from stdin with --pin-stdin)",
            )
        request[key] = value
    for who, pin in PIN_OF.items():
        if request.get(who):
            request[pin] = read_pin(args.pin_stdin, f"PIN of {request[who]}: ")
    answer = call(socket_path(args.config), request, timeout=30)
    if "text" in answer:
        print(answer["text"], end="")
    print(json.dumps({k: v for k, v in answer.items() if k != "text"}, default=str))
    return 0 if answer.get("ok") else 1


def run_command(args: argparse.Namespace) -> int:
    from gateway.daemon.box import run_daemon

    return run_daemon(args.config)
