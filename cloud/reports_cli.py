"""`cloud report ...` and `cloud dividend run`: argument handling only."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from cloud import render, reports
from cloud.clock import system_clock, utc_now_iso
from cloud.db import Database
from cloud.dividend import DividendRules, parse_pool
from cloud.dividend import run as dividend_run
from cloud.sales import Loaded, Period, load
from cloud.schema import require_current
from gateway.errors import UsageError

ArgAdder = Callable[[argparse.ArgumentParser], None]

# Every `cloud report`, in the order `cloud report --help` lists them.
REPORTS = (
    "sales",
    "items",
    "basket",
    "refunds",
    "cash",
    "promotion",
    "rfm",
    "affinity",
    "busy",
    "payments",
)
# The `--by` choices of the reports that group, the default first. Read here by argparse
# and by head office's `/reports` page (cloud.web.report_page), so the two cannot drift.
GROUPINGS: dict[str, tuple[str, ...]] = {
    "sales": ("day", "store", "box", "hour", "category", "cashier"),
    "basket": ("store", "box", "day", "cashier"),
    "refunds": ("cashier", "store", "box", "day"),
    "cash": ("box", "store", "day", "cashier"),
    "busy": ("hour", "month"),
}
# The defaults of the other options the page offers too: `--limit` of the reports that
# have one, and affinity's least support and confidence (shares, as typed).
LIMITS = {"items": 20, "affinity": 50}
MIN_SUPPORT, MIN_CONFIDENCE = "0.01", "0.2"


def register(sub: Any, db_arg: ArgAdder, broker_args: ArgAdder) -> None:
    report = sub.add_parser(
        "report",
        help=", ".join(REPORTS),
    )
    kinds = report.add_subparsers(dest="report", metavar="REPORT")
    sales = _report(kinds, "sales", "sales by store/box/day/hour/category/cashier", db_arg)
    _add_by(sales, "sales")
    items = _report(kinds, "items", "top (or --slow) items", db_arg)
    items.add_argument(
        "--limit",
        type=int,
        default=LIMITS["items"],
        help=f"how many items (default {LIMITS['items']})",
    )
    items.add_argument("--slow", action="store_true", help="the slowest sellers instead")
    basket = _report(kinds, "basket", "basket size and average ticket", db_arg)
    _add_by(basket, "basket")
    refunds = _report(kinds, "refunds", "refunds, voids and no-sales", db_arg)
    _add_by(refunds, "refunds")
    cash = _report(kinds, "cash", "paid in / out and the drawers' over/short", db_arg)
    _add_by(cash, "cash")
    promo = _report(kinds, "promotion", "promoted items during vs before", db_arg)
    promo.add_argument("--promotion", required=True, help="the promotion's id")
    rfm = _report(kinds, "rfm", "member recency / frequency / monetary segments", db_arg)
    rfm.add_argument("--as-of", help="YYYY-MM-DD (default: today, or --to when earlier)")
    rfm.add_argument("--segments", action="store_true", help="summary per segment")
    _add_mining(kinds, db_arg)
    from cloud import payments_cli  # its report reads settlement lines, not `load`

    payments_cli.add_report(kinds, db_arg)

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
    run.add_argument("--out", type=Path, help="CSV file to write (needed unless --dry-run)")
    run.add_argument(
        "--credit",
        choices=("cash", "subsidy"),
        help="also credit each payout to this wallet in head office's member ledger "
        "(published with the store's next members document)",
    )
    run.add_argument(
        "--dry-run", action="store_true", help="show the payouts; record and credit nothing"
    )
    run.set_defaults(func=_dividend)
    past = dividend_sub.add_parser("list", help="every dividend run so far")
    db_arg(past)
    past.set_defaults(func=_dividend_list)


def _report(kinds: Any, name: str, help_text: str, db_arg: ArgAdder) -> Any:
    parser = kinds.add_parser(name, help=help_text)
    db_arg(parser)
    parser.add_argument("--from", dest="first", help="first business day YYYY-MM-DD")
    parser.add_argument("--to", dest="last", help="last business day YYYY-MM-DD")
    parser.add_argument("--store", help="only this store")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="machine-readable output")
    output.add_argument("--csv", action="store_true", help="CSV output")
    parser.add_argument(
        "--out", type=Path, help="also write it to FILE.csv (UTF-8 with BOM) or FILE.xlsx"
    )
    parser.add_argument("--chart", type=Path, help="also draw it to FILE.png / FILE.svg")
    parser.add_argument("--chart-column", help="the numeric column to draw (default: the last)")
    parser.set_defaults(func=_run_report)
    return parser


def _add_by(parser: argparse.ArgumentParser, report: str) -> None:
    choices = GROUPINGS[report]
    parser.add_argument(
        "--by", default=choices[0], choices=choices, help=f"group by (default {choices[0]})"
    )


def _run_report(args: argparse.Namespace) -> int:
    period = Period.parse(args.first, args.last)
    db = Database.open(args.db)
    try:
        require_current(db)
        table = build_table(db, args, period)
    finally:
        db.close()
    if args.json:
        print(render.json_text(table))
    elif args.csv:
        print(render.csv_text(table), end="")
    else:
        print(render.text(table))
    if args.out:
        render.write_file(table, args.out)
    if args.chart:
        render.chart(table, args.chart, args.chart_column)
    return 0


def build_table(db: Database, args: argparse.Namespace, period: Period) -> reports.Table:
    """The table of `cloud report REPORT` for these arguments (the page builds its tables
    here too, so a figure on the page is the figure the CLI prints)."""
    if args.report == "cash":
        return reports.cash_drawer(load(db, period, args.store, reports.CASH_KINDS), args.by)
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
    if args.report in ("affinity", "busy"):
        return _mining(loaded, args)
    as_of = _as_of(args.as_of, period)
    table = reports.rfm(loaded, as_of)
    return reports.segment_summary(table) if args.segments else table


def _add_mining(kinds: Any, db_arg: ArgAdder) -> None:
    """`cloud report affinity` and `cloud report busy` (cloud.affinity)."""
    affinity = _report(kinds, "affinity", "items bought together: association rules", db_arg)
    affinity.add_argument(
        "--min-support", default=MIN_SUPPORT, help=f"least share of tickets (default {MIN_SUPPORT})"
    )
    affinity.add_argument(
        "--min-confidence",
        default=MIN_CONFIDENCE,
        help=f"least confidence of a rule (default {MIN_CONFIDENCE})",
    )
    affinity.add_argument(
        "--limit",
        type=int,
        default=LIMITS["affinity"],
        help=f"how many rules (default {LIMITS['affinity']})",
    )
    busy = _report(kinds, "busy", "busy hours (weekday x hour) and seasonality (month)", db_arg)
    _add_by(busy, "busy")


def _mining(loaded: Loaded, args: argparse.Namespace) -> reports.Table:
    from cloud import affinity

    if args.report == "busy":
        return affinity.busy(loaded, args.by)
    return affinity.affinity(
        loaded,
        min_support=share_arg(args.min_support, "--min-support"),
        min_confidence=share_arg(args.min_confidence, "--min-confidence"),
        limit=args.limit,
    )


def share_arg(text: str, where: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = Decimal(-1)
    if not value.is_finite() or not 0 < value <= 1:
        raise UsageError(
            f"{text!r} is not a share between 0 and 1", where=where, fix="e.g. 0.05 for 5 %"
        )
    return value


def _dividend(args: argparse.Namespace) -> int:
    period = Period.parse(args.first, args.last)
    pool = parse_pool(args.pool)
    if args.out is None and not args.dry_run:
        raise UsageError(
            "a dividend run writes its payouts to a CSV file",
            where="cloud dividend run",
            fix="pass --out FILE.csv (or --dry-run to see the payouts first)",
        )
    rules = DividendRules.parse(args.weight, args.min_spend)
    label = args.period or reports.span(period)
    db = Database.open(args.db)
    try:
        require_current(db)
        payouts, credited = dividend_run(
            db,
            period=period,
            label=label,
            scope=args.store or "*",
            pool=pool,
            rules=rules,
            loaded=load(db, period, args.store),
            csv_path=args.out,
            now=utc_now_iso(),
            credit=args.credit,
            dry_run=args.dry_run,
        )
    finally:
        db.close()
    paid = sum((p.amount for p in payouts), Decimal(0))
    if args.dry_run:
        for p in payouts:
            print(f"{p.store}  {p.member}  weighted spend {p.weighted_spend}  dividend {p.amount}")
        print(f"dividend {label} (dry run): {paid} among {len(payouts)} members; nothing recorded")
        return 0
    wallet = f"; {credited} credited to {args.credit}" if args.credit else ""
    print(
        f"dividend {label}: {paid} shared among {len(payouts)} members, "
        f"written to {args.out}{wallet}"
    )
    return 0


def _dividend_list(args: argparse.Namespace) -> int:
    from cloud.dividend import past_runs

    db = Database.open(args.db)
    try:
        require_current(db)
        runs = past_runs(db)
    finally:
        db.close()
    for period, scope, pool, count, created in runs:
        where = "all stores" if scope == "*" else scope
        print(f"{period}  {where}  pool {pool}  {count} members  {created}")
    if not runs:
        print("no dividend run yet")
    return 0


def _as_of(given: str | None, period: Period, today: date | None = None) -> date:
    """The day recency is counted to: as given, else today (UTC) — or the period's last day
    when the period ends before today, so last month's RFM is last month's."""
    if given:
        try:
            return date.fromisoformat(given)
        except ValueError:
            raise UsageError(
                f"not a date: {given!r}", where="--as-of", fix="write the day as YYYY-MM-DD"
            ) from None
    return min(period.last, today or system_clock().date())
