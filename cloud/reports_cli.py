"""`cloud report ...` and `cloud dividend run`: argument handling only."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from cloud import render, reports
from cloud.clock import utc_now_iso
from cloud.db import Database
from cloud.dividend import DividendRules
from cloud.dividend import run as dividend_run
from cloud.sales import Period, load
from cloud.schema import require_current
from gateway.errors import UsageError

ArgAdder = Callable[[argparse.ArgumentParser], None]


def register(sub: Any, db_arg: ArgAdder, broker_args: ArgAdder) -> None:
    report = sub.add_parser("report", help="sales, items, basket, refunds, promotion, rfm")
    kinds = report.add_subparsers(dest="report", metavar="REPORT")
    sales = _report(kinds, "sales", "sales by store/box/day/hour/category/cashier", db_arg)
    sales.add_argument(
        "--by",
        default="day",
        choices=("store", "box", "day", "hour", "category", "cashier"),
        help="group by (default day)",
    )
    items = _report(kinds, "items", "top (or --slow) items", db_arg)
    items.add_argument("--limit", type=int, default=20, help="how many items (default 20)")
    items.add_argument("--slow", action="store_true", help="the slowest sellers instead")
    basket = _report(kinds, "basket", "basket size and average ticket", db_arg)
    basket.add_argument(
        "--by",
        default="store",
        choices=("store", "box", "day", "cashier"),
        help="group by (default store)",
    )
    refunds = _report(kinds, "refunds", "refunds, voids and no-sales", db_arg)
    refunds.add_argument(
        "--by",
        default="cashier",
        choices=("store", "box", "day", "cashier"),
        help="group by (default cashier)",
    )
    promo = _report(kinds, "promotion", "promoted items during vs before", db_arg)
    promo.add_argument("--promotion", required=True, help="the promotion's id")
    rfm = _report(kinds, "rfm", "member recency / frequency / monetary segments", db_arg)
    rfm.add_argument("--as-of", help="YYYY-MM-DD (default: --to)")
    rfm.add_argument("--segments", action="store_true", help="summary per segment")

    dividend = sub.add_parser("dividend", help="member dividend (消费分红)")
    dividend_sub = dividend.add_subparsers(dest="dividend_command", metavar="ACTION")
    run = dividend_sub.add_parser("run", help="share a pool by weighted spend, once per period")
    db_arg(run)
    run.add_argument("--from", dest="first", required=True, help="first business day YYYY-MM-DD")
    run.add_argument("--to", dest="last", required=True, help="last business day YYYY-MM-DD")
    run.add_argument("--period", help="label recorded (default FROM..TO)")
    run.add_argument("--store", help="only this store's members' spend (default: all)")
    run.add_argument("--pool", required=True, help="amount to share, e.g. 1000.00")
    run.add_argument(
        "--weight",
        action="append",
        default=[],
        metavar="CATEGORY=W",
        help="weight of a category's spend (repeat; default 1)",
    )
    run.add_argument("--min-spend", default="0", help="least weighted spend to share (default 0)")
    run.add_argument("--out", type=Path, required=True, help="CSV file to write")
    run.set_defaults(func=_dividend)


def _report(kinds: Any, name: str, help_text: str, db_arg: ArgAdder) -> Any:
    parser = kinds.add_parser(name, help=help_text)
    db_arg(parser)
    parser.add_argument("--from", dest="first", help="first business day YYYY-MM-DD")
    parser.add_argument("--to", dest="last", help="last business day YYYY-MM-DD")
    parser.add_argument("--store", help="only this store")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="machine-readable output")
    output.add_argument("--csv", action="store_true", help="CSV output")
    parser.add_argument("--chart", type=Path, help="also draw it to FILE.png / FILE.svg")
    parser.add_argument(
        "--chart-column", help="the column --chart draws (default: the first figure)"
    )
    parser.set_defaults(func=_run_report)
    return parser


def _run_report(args: argparse.Namespace) -> int:
    period = Period.parse(args.first, args.last)
    db = Database.open(args.db)
    try:
        require_current(db)
        table = _build(db, args, period)
    finally:
        db.close()
    if args.json:
        print(render.json_text(table))
    elif args.csv:
        print(render.csv_text(table), end="")
    else:
        print(render.text(table))
    if args.chart:
        render.chart(table, args.chart, args.chart_column)
    return 0


def _build(db: Database, args: argparse.Namespace, period: Period) -> reports.Table:
    loaded = load(db, period, args.store)
    if args.report == "sales":
        return reports.sales_by(loaded, args.by)
    if args.report == "items":
        return reports.items(loaded, limit=args.limit, slow=args.slow)
    if args.report == "basket":
        return reports.basket(loaded, args.by)
    if args.report == "refunds":
        return reports.refunds_voids(loaded, args.by)
    if args.report == "promotion":
        if args.first is None or args.last is None:
            raise UsageError(
                "a promotion report needs the promotion's days",
                where="cloud report promotion",
                fix="give --from and --to",
            )
        before = load(db, period.before(), args.store)
        return reports.promotion_effect(loaded, before, args.promotion)
    as_of = date.fromisoformat(args.as_of) if args.as_of else period.last
    table = reports.rfm(loaded, as_of)
    return reports.segment_summary(table) if args.segments else table


def _dividend(args: argparse.Namespace) -> int:
    period = Period.parse(args.first, args.last)
    try:
        pool = Decimal(args.pool)
    except InvalidOperation as exc:
        raise UsageError(
            f"pool {args.pool!r} is not an amount", where="--pool", fix="e.g. --pool 1000.00"
        ) from exc
    rules = DividendRules.parse(args.weight, args.min_spend)
    db = Database.open(args.db)
    try:
        require_current(db)
        payouts = dividend_run(
            db,
            period=period,
            label=args.period or reports.span(period),
            scope=args.store or "*",
            pool=pool,
            rules=rules,
            loaded=load(db, period, args.store),
            csv_path=args.out,
            now=utc_now_iso(),
        )
    finally:
        db.close()
    paid = sum((p.amount for p in payouts), Decimal(0))
    print(
        f"dividend {args.period or reports.span(period)}: {paid} shared among "
        f"{len(payouts)} members, written to {args.out}"
    )
    return 0
