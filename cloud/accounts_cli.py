"""`cloud members department|grant|plan|budgets` and `cloud close month|list`: argument
handling for enterprise canteen accounts (cloud.departments, cloud.subsidies,
cloud.month_close)."""

from __future__ import annotations

import argparse
import getpass
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cloud import departments, month_close, subsidies
from cloud.clock import utc_now_iso
from cloud.schema import open_current
from gateway.errors import UsageError
from gateway.sync.timefmt import parse_instant

ArgAdder = Callable[[argparse.ArgumentParser], None]


def _at(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--at", help="when this happens, ISO-8601 with an offset (default: now); for a replay"
    )
    parser.add_argument("--by", default=getpass.getuser(), help="who (default: this user)")


def now_of(args: argparse.Namespace) -> str:
    """`--at` as head office's UTC spelling, or now."""
    if not args.at:
        return utc_now_iso()
    try:
        instant = parse_instant(args.at)
    except ValueError:
        raise UsageError(
            f"--at {args.at!r} is not a time", where="--at", fix="e.g. 2026-12-01T06:00:00Z"
        ) from None
    return instant.isoformat().replace("+00:00", "Z")


def register_members(acts: Any, db_arg: ArgAdder) -> None:
    """The canteen actions of `cloud members` (`acts`: its sub-parsers)."""

    def group(name: str, text: str, description: str) -> Any:
        parser = acts.add_parser(name, help=text, description=description)
        return parser.add_subparsers(dest=f"{name}_command", metavar="ACTION", required=True)

    def leaf(parent: Any, name: str, text: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = parent.add_parser(name, help=text, description=text)
        db_arg(parser)
        parser.add_argument("--store", required=True, help="the store whose members these are")
        return parser

    dept = group(
        "department",
        "departments (cost centres) and their monthly subsidy budgets",
        "Departments of an enterprise canteen: members belong to one (the import's "
        "`department` column); a department may have a monthly budget for its members' "
        "subsidised spending, checked with `cloud members budgets`.",
    )
    put = leaf(dept, "set", "create or change a department")
    put.add_argument("department", help="the department id, e.g. ENG")
    put.add_argument("--name", default="", help="its name, e.g. 研发部 (default: the id)")
    put.add_argument("--budget", help="its monthly subsidy budget, e.g. 3000.00 (none: no budget)")
    put.add_argument(
        "--offline-allowance",
        help="the most one offline box may pay of its members' subsidies past what head "
        "office confirmed, e.g. 200.00 (none: no more than online)",
    )
    _at(put)
    put.set_defaults(func=_department_set)
    listing = leaf(dept, "list", "every department, its budget and what it used in a month")
    listing.add_argument("--month", help="YYYY-MM (default: this month)")
    listing.add_argument("--json", action="store_true", help="as JSON")
    listing.set_defaults(func=_department_list)

    one = acts.add_parser(
        "grant",
        help="give a group's members a subsidy for a month, once",
        description="Put the same subsidy on every active member of a group for a month: "
        "--mode reset forfeits what is left first (the wallet then holds the amount), add "
        "adds to it. Publish the members document afterwards to tell the boxes.",
    )
    db_arg(one)
    one.add_argument("--store", required=True, help="the store whose members these are")
    one.add_argument("--id", required=True, help="the grant's id, e.g. lunch (once per month)")
    one.add_argument("--group", required=True, help="the members' group")
    one.add_argument("--amount", required=True, help="per member, e.g. 300.00")
    one.add_argument("--mode", required=True, choices=subsidies.MODES, help="reset or add")
    one.add_argument("--month", required=True, help="YYYY-MM the subsidy is for")
    one.add_argument(
        "--expires",
        default="month-end",
        help="the last day it may be spent: month-end (default), YYYY-MM-DD, or never",
    )
    _at(one)
    one.set_defaults(func=_grant)

    plan = group(
        "plan",
        "monthly subsidy plans, granted by themselves once a month",
        "A plan grants a group's subsidy every month from its day on, once per month, "
        "when `cloud members plan run` runs (e.g. from a daily timer).",
    )
    add = leaf(plan, "add", "add or change a plan")
    add.add_argument("plan", help="the plan id, e.g. lunch")
    add.add_argument("--group", required=True, help="the members' group")
    add.add_argument("--amount", required=True, help="per member and month, e.g. 300.00")
    add.add_argument("--mode", required=True, choices=subsidies.MODES, help="reset or add")
    add.add_argument("--day", type=int, default=1, help="day of the month it is granted (1-28)")
    _at(add)
    add.set_defaults(func=_plan_add)
    show = leaf(plan, "list", "every plan and the grants made")
    show.set_defaults(func=_plan_list)
    run = leaf(plan, "run", "grant every plan due this month and not granted yet")
    _at(run)
    run.set_defaults(func=_plan_run)

    budgets = acts.add_parser(
        "budgets",
        help="raise the alerts of departments at 80 %% and 100 %% of their budget",
        description="Post the boxes' acknowledged spending, then raise a warning at 80 % "
        "and a critical alert at 100 % of each department's monthly subsidy budget (once "
        "per month and level; see `cloud alerts list`).",
    )
    db_arg(budgets)
    budgets.add_argument("--store", required=True, help="the store whose departments these are")
    budgets.add_argument("--month", help="YYYY-MM (default: --at's month)")
    _at(budgets)
    budgets.set_defaults(func=_budgets)


def register(sub: Any, db_arg: ArgAdder, broker_args: ArgAdder) -> None:
    top = sub.add_parser(
        "close",
        help="close a month of member accounts and bill the departments",
        description="Month close (月结): freeze a month's member statements and department "
        "bills, written as xlsx and PDF. Closing a closed month gives the same figures.",
    )
    acts = top.add_subparsers(dest="close_command", metavar="ACTION", required=True)
    month = acts.add_parser(
        "month", help="close a month (idempotent)", description="Close YYYY-MM of a store."
    )
    db_arg(month)
    month.add_argument("month", help="YYYY-MM, a month that is over")
    month.add_argument("--store", required=True, help="the store whose accounts these are")
    month.add_argument("--out", type=Path, help="write statements and bills into this folder")
    month.add_argument("--json", action="store_true", help="print the figures as JSON")
    _at(month)
    month.set_defaults(func=_close)
    listing = acts.add_parser(
        "list", help="every closed month", description="Every closed month of a store."
    )
    db_arg(listing)
    listing.add_argument("--store", required=True, help="the store whose accounts these are")
    listing.set_defaults(func=_close_list)


def _department_set(args: argparse.Namespace) -> int:
    budget = None if args.budget is None else departments.amount(args.budget, "--budget")
    allowance = (
        None
        if args.offline_allowance is None
        else departments.amount(args.offline_allowance, "--offline-allowance")
    )
    db = open_current(args.db)
    try:
        departments.set_department(
            db,
            args.store,
            args.department,
            args.name,
            budget,
            allowance=allowance,
            by=args.by,
            now=now_of(args),
        )
    finally:
        db.close()
    print(f"{args.store}: department {args.department} budget {budget or 'none'}")
    return 0


def _department_list(args: argparse.Namespace) -> int:
    period = subsidies.period_of(args.month or utc_now_iso()[:7], "--month")
    db = open_current(args.db)
    try:
        rows = departments.budget_rows(db, args.store, period)
    finally:
        db.close()
    if args.json:
        out = [
            {
                "department": d,
                "name": n,
                "budget": None if b is None else str(b),
                "spent": str(s),
                "used_percent": None if p is None else str(p),
            }
            for d, n, b, s, p in rows
        ]
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return 0
    for d, n, b, s, p in rows:
        used = "" if p is None else f"  {p} %"
        print(f"{d}  {n}  budget {b if b is not None else '-'}  spent {s}{used}")
    print(f"{len(rows)} department(s), {period}")
    return 0


def _grant(args: argparse.Namespace) -> int:
    period = subsidies.period_of(args.month, "--month")
    amount = departments.amount(args.amount, "--amount")
    expires = subsidies.expires_of(args.expires, period)
    db = open_current(args.db)
    try:
        made = subsidies.grant(
            db,
            args.store,
            args.id,
            args.group,
            amount,
            args.mode,
            period,
            expires=expires,
            by=args.by,
            now=now_of(args),
        )
    finally:
        db.close()
    _say(made)
    return 0


def _say(made: subsidies.Grant) -> None:
    print(subsidies.described(made))


def _plan_add(args: argparse.Namespace) -> int:
    amount = departments.amount(args.amount, "--amount")
    db = open_current(args.db)
    try:
        subsidies.add_plan(
            db,
            args.store,
            args.plan,
            args.group,
            amount,
            args.mode,
            args.day,
            by=args.by,
            now=now_of(args),
        )
    finally:
        db.close()
    print(
        f"{args.store}: plan {args.plan}: {amount} to {args.group} on day {args.day} ({args.mode})"
    )
    return 0


def _plan_list(args: argparse.Namespace) -> int:
    db = open_current(args.db)
    try:
        found, made = subsidies.plans(db, args.store), subsidies.grants(db, args.store)
    finally:
        db.close()
    for plan_id, group, amount, mode, day in found:
        print(f"plan {plan_id}: {amount} to {group} on day {day} ({mode})")
    for g in made:
        print(
            f"granted {g.id} {g.period}: {g.members} member(s), {g.granted} granted, "
            f"{g.forfeited} forfeited"
        )
    return 0


def _plan_run(args: argparse.Namespace) -> int:
    db = open_current(args.db)
    try:
        made = subsidies.run_plans(db, args.store, by=args.by, now=now_of(args))
    finally:
        db.close()
    for grant in made:
        _say(grant)
    if not made:
        print(f"{args.store}: no plan is due")
    return 0


def _budgets(args: argparse.Namespace) -> int:
    now = now_of(args)
    period = subsidies.period_of(args.month or now[:7], "--month")
    db = open_current(args.db)
    try:
        holding = departments.check_budgets(db, args.store, period, now=now)
        rows = departments.budget_rows(db, args.store, period)
    finally:
        db.close()
    for d, _, b, s, p in rows:
        if b is not None:
            print(f"{d}: {s} of {b} ({p} %)")
    print(f"{len(holding)} budget alert(s) holding for {period}")
    return 0


def _close(args: argparse.Namespace) -> int:
    period = subsidies.period_of(args.month, "cloud close month")
    db = open_current(args.db)
    try:
        closed = month_close.close_month(db, args.store, period, by=args.by, now=now_of(args))
    finally:
        db.close()
    if args.json:
        print(json.dumps(closed.figures, indent=2, ensure_ascii=False))
    said = "was closed" if closed.already else "closed"
    print(
        f"{args.store} {period} {said} at {closed.closed_at} by {closed.closed_by}: "
        f"{len(closed.figures['statements'])} statement(s), {len(closed.figures['bills'])} "
        f"bill(s), sha256 {closed.digest}"
    )
    for bill in closed.figures["bills"]:
        print(f"  bill {bill['department']} {bill['name']}: {bill['total']}")
    if args.out:
        for path in month_close.write_files(closed, args.out):
            print(f"  wrote {path}")
    return 0


def _close_list(args: argparse.Namespace) -> int:
    db = open_current(args.db)
    try:
        rows = month_close.closed_months(db, args.store)
    finally:
        db.close()
    for period, at, by, digest in rows:
        print(f"{period}  closed {at} by {by}  sha256 {digest}")
    print(f"{len(rows)} closed month(s)")
    return 0
