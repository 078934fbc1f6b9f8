"""`cloud alerts [--since T]`, `cloud alerts ack|show|assign|comment|check`, and
`cloud notify run|test`."""

from __future__ import annotations

import argparse
import getpass
import json
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from cloud import notify, rules
from cloud.alerts import SEVERITIES, acknowledge, assign, comment, comments, get_alert, list_alerts
from cloud.clock import Clock, iso, parse_instant, system_clock, utc_now_iso
from cloud.db import Database
from cloud.departments import check_all_budgets
from cloud.schema import require_current
from cloud.settings import config_arg, load_cloud_settings
from gateway.errors import UsageError

ArgAdder = Callable[[argparse.ArgumentParser], None]


def register(sub: Any, db_arg: ArgAdder, broker_args: ArgAdder) -> None:
    alerts = sub.add_parser("alerts", help="list, acknowledge and check alerts")
    db_arg(alerts)
    alerts.add_argument("--since", help="ISO time or YYYY-MM-DD (default: everything)")
    alerts.add_argument(
        "--all", action="store_true", help="include acknowledged and cleared alerts"
    )
    alerts.add_argument("--store", help="only this store's alerts")
    alerts.add_argument(
        "--severity", choices=SEVERITIES, default="info", help="at least this severity"
    )
    alerts.add_argument("--json", action="store_true", help="as JSON")
    alerts.set_defaults(func=_list)
    actions = alerts.add_subparsers(dest="alerts_command", metavar="ACTION")
    ack = actions.add_parser("ack", help="acknowledge alerts by id")
    db_arg(ack)
    ack.add_argument("ids", type=int, nargs="+", help="alert ids")
    ack.add_argument("--by", default=getpass.getuser(), help="who (default: this user)")
    ack.set_defaults(func=_ack)
    show = actions.add_parser("show", help="one alert: state, assignee, comments, notifications")
    db_arg(show)
    show.add_argument("id", type=int, help="the alert's id")
    show.set_defaults(func=_show)
    give = actions.add_parser("assign", help="give an alert to someone to look after")
    db_arg(give)
    give.add_argument("id", type=int, help="the alert's id")
    give.add_argument("--to", required=True, help="who looks after it")
    give.add_argument("--by", default=getpass.getuser(), help="who (default: this user)")
    give.set_defaults(func=_assign)
    note = actions.add_parser("comment", help="add a comment to an alert")
    db_arg(note)
    note.add_argument("id", type=int, help="the alert's id")
    note.add_argument("text", help="what was found or done")
    note.add_argument("--by", default=getpass.getuser(), help="who (default: this user)")
    note.set_defaults(func=_comment)
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

    sender = sub.add_parser(
        "notify",
        help="send alert notifications (webhooks, WeCom, DingTalk, e-mail)",
        description="Send notifications about alerts to the channels of [notify] in head "
        "office's settings. Run exactly one `cloud notify run` per head office.",
    )
    notify_sub = sender.add_subparsers(dest="notify_command", metavar="ACTION", required=True)
    run = notify_sub.add_parser("run", help="deliver pending notifications, every interval")
    db_arg(run)
    config_arg(run)
    run.add_argument("--once", action="store_true", help="one pass, then exit")
    run.add_argument(
        "--at", metavar="TIME", help="with --once: as of this instant (ISO-8601 with an offset)"
    )
    run.set_defaults(func=_notify_run)
    test = notify_sub.add_parser("test", help="send a test message to one channel")
    config_arg(test)
    test.add_argument("channel", help="the channel's name in [[notify.channels]]")
    test.set_defaults(func=_notify_test)


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
        cleared = f"  [cleared {a.cleared_at}]" if a.cleared_at else ""
        owner = f"  [assigned to {a.assignee}]" if a.assignee else ""
        print(
            f"#{a.id} {a.raised_at} {a.severity.upper():8} {a.kind} {where}{seq}: "
            f"{a.message}{cleared}{acked}{owner}"
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


def _show(args: argparse.Namespace) -> int:
    db = Database.open(args.db)
    try:
        require_current(db)
        alert = get_alert(db, args.id, "cloud alerts show")
        notes = comments(db, args.id)
        sent = notify.deliveries(db, args.id)
    finally:
        db.close()
    where = "/".join(p for p in (alert.store, alert.box) if p) or "head office"
    print(f"alert {alert.id}: {alert.severity} {alert.kind} at {where}")
    print(alert.message)
    print(f"raised {alert.raised_at}; {alert.state}")
    if alert.cleared_at:
        print(f"cleared {alert.cleared_at}")
    if alert.acknowledged_at:
        print(f"acknowledged {alert.acknowledged_at} by {alert.acknowledged_by}")
    print(f"assigned to {alert.assignee}" if alert.assignee else "assigned to nobody")
    for at, author, text in notes:
        print(f"  {at} {author}: {text}")
    for channel, event, state, attempts, error in sent:
        why = f" ({error})" if error else ""
        print(f"  notification {channel} {event}: {state} after {attempts} attempt(s){why}")
    return 0


def _assign(args: argparse.Namespace) -> int:
    db = Database.open(args.db)
    try:
        require_current(db)
        assign(db, args.id, to=args.to, by=args.by, now=utc_now_iso())
    finally:
        db.close()
    print(f"alert {args.id} assigned to {args.to}")
    return 0


def _comment(args: argparse.Namespace) -> int:
    db = Database.open(args.db)
    try:
        require_current(db)
        comment(db, args.id, text=args.text, by=args.by, now=utc_now_iso())
    finally:
        db.close()
    print(f"comment added to alert {args.id}")
    return 0


def _notify_settings(args: argparse.Namespace) -> notify.NotifySettings:
    settings = load_cloud_settings(args.config).notify
    if not settings.channels:
        raise UsageError(
            "no notification channel is configured",
            where="[notify] in head office's settings",
            fix="add [[notify.channels]] (config/cloud.example.toml shows each kind)",
        )
    return settings


def _notify_run(args: argparse.Namespace, clock: Clock = system_clock) -> int:
    import time

    settings = _notify_settings(args)
    send = notify.real_sender(settings.smtp)
    db = Database.open(args.db)
    try:
        require_current(db)
        while True:
            now = _instant(args.at) if args.at and args.once else clock()
            for name, report in notify.deliver(db, settings, now, send).items():
                if report.sent or report.digested or report.failed or args.once:
                    print(
                        f"{name}: {report.sent} sent, {report.digested} in a digest, "
                        f"{report.failed} failed (tried again next pass), "
                        f"{report.waiting} waiting for the rate",
                        flush=True,
                    )
            if args.once:
                return 0
            time.sleep(settings.interval)
    finally:
        db.close()


def _notify_test(args: argparse.Namespace, clock: Clock = system_clock) -> int:
    channel = notify.send_test(_notify_settings(args), args.channel, clock(), "`cloud notify test`")
    print(f"{channel.name}: sent")
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
        considered += check_all_budgets(db, now)
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
