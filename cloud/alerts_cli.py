"""`cloud alerts [--since T]`, `cloud alerts ack ID`, `cloud alerts check`."""

from __future__ import annotations

import argparse
import getpass
import json
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from cloud import rules
from cloud.alerts import SEVERITIES, acknowledge, list_alerts
from cloud.clock import Clock, iso, parse_instant, system_clock, utc_now_iso
from cloud.db import Database
from cloud.schema import require_current
from cloud.settings import config_arg, load_cloud_settings
from gateway.errors import UsageError

ArgAdder = Callable[[argparse.ArgumentParser], None]


def register(sub: Any, db_arg: ArgAdder, broker_args: ArgAdder) -> None:
    alerts = sub.add_parser("alerts", help="list, acknowledge and check alerts")
    db_arg(alerts)
    alerts.add_argument("--since", help="ISO time or YYYY-MM-DD (default: everything)")
    alerts.add_argument("--all", action="store_true", help="include acknowledged alerts")
    alerts.add_argument("--store", help="only this store")
    alerts.add_argument(
        "--severity", choices=SEVERITIES, default="info", help="at least this severity"
    )
    alerts.add_argument("--json", action="store_true", help="machine-readable output")
    alerts.set_defaults(func=_list)
    actions = alerts.add_subparsers(dest="alerts_command", metavar="ACTION")
    ack = actions.add_parser("ack", help="acknowledge alerts by id")
    db_arg(ack)
    ack.add_argument("ids", type=int, nargs="+", metavar="ID", help="alert numbers to acknowledge")
    ack.add_argument(
        "--by", default=getpass.getuser(), help="who acknowledges (default: your login)"
    )
    ack.set_defaults(func=_ack)
    check = actions.add_parser("check", help="run the periodic and sales rules now")
    db_arg(check)
    check.add_argument(
        "--day", help="business day for the sales rules (default: the day before --at)"
    )
    check.add_argument(
        "--at",
        metavar="TIME",
        help="judge as of this instant (ISO-8601 with "
        "an offset, e.g. 2026-12-02T06:00Z; default now)",
    )
    config_arg(check)
    check.set_defaults(func=_check)


def _list(args: argparse.Namespace) -> int:
    db = Database.open(args.db)
    try:
        require_current(db)
        found = list_alerts(
            db,
            since=args.since,
            include_acknowledged=args.all,
            store=args.store,
            min_severity=args.severity,
        )
    finally:
        db.close()
    if args.json:
        print(json.dumps([a.as_json() for a in found], indent=2, sort_keys=True))
        return 0
    for a in found:
        where = "/".join(p for p in (a.store, a.box) if p) or "-"
        seq = f" seq {a.seq}" if a.seq is not None else ""
        acked = f"  [acknowledged by {a.acknowledged_by}]" if a.acknowledged_at else ""
        print(
            f"#{a.id} {a.raised_at} {a.severity.upper():8} {a.kind} {where}{seq}: "
            f"{a.message}{acked}"
        )
    print(f"{len(found)} alert(s)")
    return 0


def _ack(args: argparse.Namespace) -> int:
    db = Database.open(args.db)
    try:
        require_current(db)
        for alert_id in args.ids:
            acknowledge(db, alert_id, who=args.by, now=utc_now_iso())
    finally:
        db.close()
    print(f"acknowledged {len(args.ids)} alert(s)")
    return 0


def _check(args: argparse.Namespace, clock: Clock = system_clock) -> int:
    instant = _instant(args.at) if args.at else clock()
    day = _day(args.day) if args.day else rules.closed_day(instant)
    limits = load_cloud_settings(args.config).alerts
    db = Database.open(args.db)
    try:
        require_current(db)
        now = iso(instant)
        rules.periodic(db, now, limits)
        considered = rules.sales_rules(db, day, now, limits)
    finally:
        db.close()
    print(f"rules checked for {day}: {considered} finding(s) (see `cloud alerts`)")
    return 0


def _instant(text: str) -> datetime:
    try:
        return parse_instant(text)
    except ValueError as exc:
        raise UsageError(
            f"--at {text!r} is not an instant: {exc}",
            where="cloud alerts check",
            fix="write it as ISO-8601 with an offset, e.g. 2026-12-02T06:00Z",
        ) from exc


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise UsageError(
            f"--day {text!r} is not a day: {exc}",
            where="cloud alerts check",
            fix="write it as YYYY-MM-DD",
        ) from exc
