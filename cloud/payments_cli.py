"""`cloud payments import` and `cloud report payments`: the providers' settlement statements
against the journals the boxes sent (issue 16, item 6). Argument handling, the file and
the database; the reading and matching are `cloud.settlement`'s."""

from __future__ import annotations

import argparse
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from cloud import render
from cloud.clock import utc_now_iso
from cloud.db import Database
from cloud.reports import Table
from cloud.reports_cli import ArgAdder, _report
from cloud.sales import Period
from cloud.schema import require_current
from cloud.settlement import (
    StatementLine,
    last_states,
    read_statement,
    reconcile,
    store_lines,
)
from gateway.errors import UsageError


def register(sub: Any, db_arg: ArgAdder, broker_args: ArgAdder) -> None:
    payments = sub.add_parser("payments", help="wallet providers' settlement statements")
    actions = payments.add_subparsers(dest="payments_command", metavar="ACTION")
    imported = actions.add_parser(
        "import",
        help="store a WeChat Pay or Alipay statement (对账单) for one store",
        description="Reads the provider's statement file (WeChat Pay downloadbill ALL, "
        "Alipay 业务明细 CSV) and keeps its payment and refund lines; importing a file "
        "again keeps each line once. `cloud report payments` matches them.",
    )
    db_arg(imported)
    imported.add_argument("file", type=Path, help="the statement file")
    imported.add_argument(
        "--provider", required=True, choices=("wechat", "alipay"), help="whose statement it is"
    )
    imported.add_argument("--store", required=True, help="the store this merchant account is")
    imported.set_defaults(func=_import)


def add_report(kinds: Any, db_arg: ArgAdder) -> None:
    """`cloud report payments`, with the other reports (`cloud.reports_cli` calls this)."""
    parser = _report(kinds, "payments", "wallet payments against the statements", db_arg)
    parser.add_argument(
        "--all", action="store_true", help="also the matched payments (default: the rest)"
    )
    parser.set_defaults(func=_report_payments)


def _import(args: argparse.Namespace) -> int:
    path: Path = args.file
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(
            f"cannot read {path}: {exc.strerror}",
            where="cloud payments import",
            fix="check the path",
        ) from None
    lines = read_statement(args.provider, data, str(path))
    db = Database.open(args.db)
    try:
        require_current(db)
        added = store_lines(db, args.store, lines, str(path.name), utc_now_iso())
    finally:
        db.close()
    print(
        f"{path.name}: {len(lines)} {args.provider} lines for store {args.store} "
        f"({added} new, {len(lines) - added} already imported)"
    )
    return 0


def payments_table(db: Database, period: Period, store: str | None, *, everything: bool) -> Table:
    """`cloud report payments`: the wallet payments of the period (one store's or all)
    reconciled against the imported statements; the page reads it here too."""
    records = [
        (s, box, json.loads(body))
        for s, box, body in db.query(
            "SELECT store, box, body FROM journal_record WHERE kind = 'payment' "
            "ORDER BY store, box, seq"
        )
    ]
    statement = [
        (
            s,
            StatementLine(provider, day, kind, transaction, number, refund_no, Decimal(amount)),
        )
        for provider, s, day, kind, transaction, number, refund_no, amount in db.query(
            "SELECT provider, store, business_day, kind, transaction_id, out_trade_no, "
            "refund_no, amount FROM settlement_line"
        )
    ]
    journal = [
        p
        for p in last_states(records)
        if p.business_day in period and (store is None or p.store == store)
    ]
    lines = [
        (s, line)
        for s, line in statement
        if line.business_day in period and (store is None or s == store)
    ]
    return reconcile(journal, lines, everything=everything)


def _report_payments(args: argparse.Namespace) -> int:
    period = Period.parse(args.first, args.last)
    db = Database.open(args.db)
    try:
        require_current(db)
        table = payments_table(db, period, args.store, everything=args.all)
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
