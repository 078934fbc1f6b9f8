"""`cloud stock ...`: the stock ledger's commands (docs/stock.md); argument handling only."""

from __future__ import annotations

import argparse
import getpass
from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from cloud import render, stock, stock_plan, stock_rules
from cloud.clock import Clock, iso, parse_instant, system_clock
from cloud.reports import Table
from cloud.sales import Period
from cloud.schema import open_current
from gateway.errors import UsageError

ArgAdder = Callable[[argparse.ArgumentParser], None]
REPORTS = stock_plan.STOCK_REPORTS
ITEM_OPTIONS = {
    f: "--min" if f == "min_level" else "--" + f.replace("_", "-") for f in stock.ITEM_FIELDS
}


def register(sub: Any, db_arg: ArgAdder, broker_args: ArgAdder) -> None:
    parser = sub.add_parser(
        "stock", help="stock ledger: receipts, transfers, losses, counts, reorder"
    )
    actions = parser.add_subparsers(dest="stock_command", metavar="ACTION")

    post = _action(actions, "post", "post the ingested journal's sales and refunds", db_arg)
    post.add_argument("--store", help="only this store")
    post.set_defaults(func=_post)

    item = _action(actions, "item", "set an item's stock settings in a store", db_arg)
    item.add_argument("store", help="the store")
    item.add_argument("sku", help="the item's sku")
    item.add_argument("--name", help="the item's name")
    item.add_argument("--unit", choices=stock.UNITS, help="how it is counted")
    item.add_argument("--min", dest="min_level", help="low-stock alert below this quantity")
    item.add_argument(
        "--min-cover-days", type=int, help="low-stock alert under these days of cover"
    )
    item.add_argument("--lead-days", type=int, help="days from ordering to delivery (default 1)")
    item.add_argument("--order-days", type=int, help="days an order must last (default 7)")
    item.add_argument("--pack", help="order in whole packs of this quantity (default 1)")
    item.add_argument("--supplier", help="who supplies it")
    item.add_argument("--by", default=getpass.getuser(), help="who (default: this user)")
    item.set_defaults(func=_item)

    receive = _document(
        actions, "receive", "a goods receipt (进货)", db_arg, ("SKU", "QTY", "COST")
    )
    receive.add_argument("--store", required=True, help="the store")
    receive.add_argument("--po", help="the purchase order received against")
    receive.add_argument("--supplier", help="who supplies it")
    receive.set_defaults(func=_receive)

    move = _document(
        actions, "transfer", "goods sent from one store to another", db_arg, ("SKU", "QTY")
    )
    move.add_argument("--from-store", required=True, help="the store it leaves")
    move.add_argument("--to-store", required=True, help="the store it goes to")
    move.set_defaults(func=_transfer)

    loss = _document(
        actions, "loss", "loss or damage (报损) with its reason", db_arg, ("SKU", "QTY")
    )
    loss.add_argument("--store", required=True, help="the store")
    loss.add_argument("--reason", required=True, choices=stock.LOSS_REASONS, help="why it was lost")
    loss.add_argument("--note", help="what happened, in words")
    loss.set_defaults(func=_loss)

    count = _document(
        actions, "count", "a stock count (盘点): items as counted", db_arg, ("SKU", "COUNTED")
    )
    count.add_argument("--store", required=True, help="the store")
    count.set_defaults(func=_count)

    counts = _action(actions, "counts", "the stock counts boxes sent, and their variance", db_arg)
    counts.add_argument("--store", help="only this store")
    counts.add_argument("--pending", action="store_true", help="only those awaiting approval")
    counts.set_defaults(func=_counts)
    for verb, what in (
        ("approve", "apply a box's stock count: its variance moves the stock"),
        ("reject", "reject a box's stock count: nothing moves"),
    ):
        decide = _action(actions, verb, what, db_arg)
        decide.add_argument(
            "count", metavar="COUNT", help="the count's number, e.g. box-1-C-000112"
        )
        decide.add_argument("--by", default=getpass.getuser(), help="who (default: this user)")
        decide.set_defaults(func=_decide, approve=verb == "approve")

    moves = _action(actions, "movements", "every movement with its document and source", db_arg)
    moves.add_argument("--store", help="only this store")
    moves.add_argument("--sku", help="only this item")
    moves.add_argument("--from", dest="first", help="first business day YYYY-MM-DD")
    moves.add_argument("--to", dest="last", help="last business day YYYY-MM-DD")
    _output(moves)
    moves.set_defaults(func=_movements)

    reorder = _action(actions, "reorder", "reorder suggestions from sales velocity", db_arg)
    reorder.add_argument("--store", required=True, help="the store")
    reorder.add_argument("--day", help="the ordering day YYYY-MM-DD (default: today, UTC)")
    reorder.add_argument("--all", action="store_true", help="also the items needing nothing")
    _output(reorder)
    reorder.set_defaults(func=_reorder)

    po = actions.add_parser("po", help="purchase orders")
    po_actions = po.add_subparsers(dest="po_command", metavar="ACTION")
    create = _action(po_actions, "create", "a purchase order from the reorder suggestions", db_arg)
    create.add_argument("--store", required=True, help="the store")
    create.add_argument("--doc", required=True, help="the order's number, e.g. PO-0001")
    create.add_argument("--day", help="the ordering day (default: today, UTC)")
    create.add_argument("--supplier", help="only items of this supplier (and name it on the order)")
    create.add_argument("--by", default=getpass.getuser(), help="who (default: this user)")
    create.add_argument("--at", metavar="TIME", help="as of this instant (ISO-8601; default now)")
    create.set_defaults(func=_po_create)
    show = _action(po_actions, "show", "a purchase order's lines and what was received", db_arg)
    show.add_argument("order", help="the purchase order's number")
    _output(show)
    show.set_defaults(func=_po_show)
    listing = _action(po_actions, "list", "purchase orders and their status", db_arg)
    listing.add_argument("--store", help="only this store")
    listing.set_defaults(func=_po_list)
    publish = _action(
        po_actions,
        "publish",
        "send the store's open purchase orders to its boxes (signed, retained)",
        db_arg,
    )
    publish.add_argument(
        "order", help="a purchase order: its store's open and partial orders are sent"
    )
    from cloud.publish_cli import key_args

    key_args(publish)
    broker_args(publish)
    publish.set_defaults(func=_po_publish)

    check = _action(actions, "check", "post the journal, then raise / clear stock alerts", db_arg)
    check.add_argument("--at", metavar="TIME", help="judge as of this instant (default now)")
    check.add_argument("--day", help="last day of the shrink window (default: the day before --at)")
    check.add_argument(
        "--shrink-rate", default="0.02", help="share of cost of sales (default 0.02)"
    )
    check.add_argument(
        "--shrink-days", type=int, default=28, help="days the shrink is judged over (default 28)"
    )
    check.set_defaults(func=_check)

    verify = _action(actions, "verify", "recompute every level from the movements", db_arg)
    verify.set_defaults(func=_verify)

    report = _action(actions, "report", "stock reports", db_arg)
    report.add_argument("report", choices=REPORTS, help="which report")
    report.add_argument("--from", dest="first", help="first business day YYYY-MM-DD")
    report.add_argument("--to", dest="last", help="last business day YYYY-MM-DD")
    report.add_argument("--store", help="only this store")
    report.add_argument("--as-of", help="onhand: at the end of this day (default now)")
    report.add_argument("--max-sold", default="0", help="slow: sold at most this (default 0)")
    report.add_argument(
        "--by", choices=stock_plan.SHRINK_BY, default=stock_plan.SHRINK_BY[0], help="shrink"
    )
    _output(report)
    report.add_argument("--chart", type=Path, help="also draw it to FILE.png / FILE.svg")
    report.add_argument("--chart-column", help="the numeric column to draw (default: the last)")
    report.set_defaults(func=_report)


def _action(actions: Any, name: str, help_text: str, db_arg: ArgAdder) -> Any:
    parser = actions.add_parser(name, help=help_text)
    db_arg(parser)
    return parser


def _document(
    actions: Any, name: str, help_text: str, db_arg: ArgAdder, item: tuple[str, ...]
) -> Any:
    parser = _action(actions, name, help_text, db_arg)
    parser.add_argument("--doc", required=True, help="the document's number (recorded once)")
    parser.add_argument(
        "--item",
        action="append",
        nargs=len(item),
        metavar=item,
        default=[],
        required=True,
        help="one line of the document (repeat for each)",
    )
    parser.add_argument("--by", default=getpass.getuser(), help="who records it")
    parser.add_argument("--at", metavar="TIME", help="when it happened (ISO-8601; default now)")
    parser.add_argument("--day", help="business day it counts toward (default: --at's UTC day)")
    return parser


def _output(parser: argparse.ArgumentParser) -> None:
    shown = parser.add_mutually_exclusive_group()
    shown.add_argument("--json", action="store_true", help="as JSON")
    shown.add_argument("--csv", action="store_true", help="as CSV")
    parser.add_argument(
        "--out", type=Path, help="also write FILE.csv (UTF-8 with BOM) or FILE.xlsx"
    )


# ---------------------------------------------------------------- helpers


def _instant(text: str | None, clock: Clock = system_clock) -> datetime:
    if text is None:
        return clock()
    try:
        return parse_instant(text)
    except ValueError as exc:
        raise UsageError(
            f"--at {text!r} is not an instant: {exc}",
            where="--at",
            fix="write it as ISO-8601 with an offset, e.g. 2026-12-02T06:00Z",
        ) from exc


def _day(text: str | None, instant: datetime, where: str = "--day") -> date:
    if text is None:
        return instant.date()
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise UsageError(
            f"{where} {text!r} is not a day", where=where, fix="write YYYY-MM-DD"
        ) from exc


def _stamp(args: argparse.Namespace) -> tuple[str, stock.Stamp]:
    if not args.by.strip():
        raise UsageError("who records it is blank", where="--by", fix="give --by NAME")
    instant = _instant(args.at)
    now = iso(instant)
    return now, stock.Stamp(args.by, now, str(_day(args.day, instant)))


def _lines(
    items: Sequence[Sequence[str]], *, cost: bool = False, zero: bool = False
) -> list[stock.DocumentLine]:
    return stock.parse_lines(items, cost=cost, zero=zero)


def _show(table: Table, args: argparse.Namespace) -> None:
    if args.json:
        print(render.json_text(table))
    elif args.csv:
        print(render.csv_text(table), end="")
    else:
        print(render.text(table))
    if args.out:
        render.write_file(table, args.out)


# ---------------------------------------------------------------- commands


def _post(args: argparse.Namespace) -> int:
    db = open_current(args.db)
    try:
        done = stock.post_journal(db, iso(system_clock()), args.store)
    finally:
        db.close()
    print(_posted(done))
    return 0


def _posted(done: stock.Posted) -> str:
    text = (
        f"posted {done.records} journal record(s) of {done.boxes} box(es): "
        f"{done.movements} movement(s)"
    )
    if done.unmeasured:
        text += (
            f"; {done.unmeasured} weighed line(s) sold or refunded by price label "
            "without weight (not measured)"
        )
    if done.unreadable:
        text += f"; {done.unreadable} record(s) whose body this version cannot read (skipped)"
    return text


def _item(args: argparse.Namespace) -> int:
    given = {name: getattr(args, name) for name in stock.ITEM_FIELDS}
    texts = {k: None if v is None else str(v) for k, v in given.items()}
    changes = stock.item_changes(texts, ITEM_OPTIONS)
    db = open_current(args.db)
    try:
        item = stock.set_item(db, iso(system_clock()), args.store, args.sku, args.by, changes)
    finally:
        db.close()
    print(
        f"{args.store} {args.sku}: unit {item.unit or 'each'}, min {item.min_level or '-'}, "
        f"min cover {item.min_cover_days or '-'} days, lead {item.lead_days} days, "
        f"order for {item.order_days} days, pack {item.pack}, supplier {item.supplier or '-'}"
    )
    return 0


def _receive(args: argparse.Namespace) -> int:
    now, stamp = _stamp(args)
    lines = _lines(args.item, cost=True)
    db = open_current(args.db)
    try:
        n = stock.receive(
            db, now, args.doc, args.store, lines, stamp, order=args.po, supplier=args.supplier
        )
    finally:
        db.close()
    print(
        f"goods receipt {args.doc}: {n} line(s) into {args.store}"
        + (f" against {args.po}" if args.po else "")
    )
    return 0


def _transfer(args: argparse.Namespace) -> int:
    now, stamp = _stamp(args)
    lines = _lines(args.item)
    db = open_current(args.db)
    try:
        n = stock.transfer(db, now, args.doc, args.from_store, args.to_store, lines, stamp)
    finally:
        db.close()
    print(f"transfer {args.doc}: {n} line(s) from {args.from_store} to {args.to_store}")
    return 0


def _loss(args: argparse.Namespace) -> int:
    now, stamp = _stamp(args)
    lines = _lines(args.item)
    db = open_current(args.db)
    try:
        n = stock.record_loss(db, now, args.doc, args.store, lines, stamp, args.reason, args.note)
    finally:
        db.close()
    print(f"loss {args.doc}: {n} line(s) out of {args.store} ({args.reason})")
    return 0


def _count(args: argparse.Namespace) -> int:
    now, stamp = _stamp(args)
    lines = _lines(args.item, zero=True)
    db = open_current(args.db)
    try:
        stock.post_journal(db, now, args.store)
        results = stock.record_count(db, now, args.doc, args.store, lines, stamp)
    finally:
        db.close()
    print(f"stock count {args.doc} in {args.store}:")
    for r in results:
        print(f"  {r.sku}: expected {r.expected}, counted {r.counted}, variance {r.variance:+}")
    return 0


def _counts(args: argparse.Namespace) -> int:
    db = open_current(args.db)
    try:
        counts = stock.box_counts(db, args.store)
    finally:
        db.close()
    shown = [c for c in counts if c.status == "pending" or not args.pending]
    for count in shown:
        print(
            f"{count.id}  {count.store}  {count.business_day}  {count.status:8}  "
            f"taken by {count.taken_by} (box {count.box}, record {count.seq})"
        )
        for line in count.lines:
            print(
                f"  {line['sku']}: expected {line['expected']}, counted {line['counted']}, "
                f"variance {Decimal(str(line['variance'])):+}"
            )
    print(f"{len(shown)} count(s)")
    return 0


def _decide(args: argparse.Namespace) -> int:
    db = open_current(args.db)
    try:
        count = stock.decide_count(
            db, iso(system_clock()), args.count, args.by, approve=args.approve
        )
    finally:
        db.close()
    moved = "its variance moved the stock" if args.approve else "nothing moved"
    print(f"stock count {count.id} in {count.store} {count.status} by {args.by}: {moved}")
    return 0


def _movements(args: argparse.Namespace) -> int:
    db = open_current(args.db)
    try:
        found = stock.movements(
            db, store=args.store, sku=args.sku, first=args.first, last=args.last
        )
    finally:
        db.close()
    _show(stock_plan.movements_table(found), args)
    return 0


def _reorder(args: argparse.Namespace) -> int:
    instant = system_clock()
    day = _day(args.day, instant)
    db = open_current(args.db)
    try:
        stock.post_journal(db, iso(instant), args.store)
        table = stock_plan.reorder_table(stock_plan.reorder(db, args.store, day), day, args.all)
    finally:
        db.close()
    _show(table, args)
    return 0


def _po_create(args: argparse.Namespace) -> int:
    instant = _instant(args.at)
    now = iso(instant)
    day = _day(args.day, instant)
    db = open_current(args.db)
    try:
        stock.post_journal(db, now, args.store)
        lines = stock_plan.order_suggested(
            db, now, args.doc, args.store, day, args.by, args.supplier
        )
    finally:
        db.close()
    print(f"purchase order {args.doc} for {args.store}: {len(lines)} line(s)")
    for line in lines:
        print(f"  {line.sku}: {line.quantity}")
    return 0


def _po_show(args: argparse.Namespace) -> int:
    db = open_current(args.db)
    try:
        table = stock_plan.order_table(db, args.order)
    finally:
        db.close()
    _show(table, args)
    return 0


def _po_publish(args: argparse.Namespace) -> int:
    """The order's store gets every order of it still to be received, as one signed
    `orders` document on `{root}/{store}/orders` (docs/stock.md)."""
    from cloud.commands import broker_options
    from cloud.publish_cli import signing_key

    key = signing_key(args)
    db = open_current(args.db)
    try:
        document, message = stock.publish_orders(
            db,
            args.order,
            broker=broker_options(args),
            root=args.root,
            key=key,
            now=iso(system_clock()),
        )
    finally:
        db.close()
    ids = ", ".join(o["id"] for o in document["orders"])
    print(
        f"published orders version {message['version']} for {document['store']}: {ids} "
        f"(signed by {key.key_id}, retained)"
    )
    return 0


def _po_list(args: argparse.Namespace) -> int:
    db = open_current(args.db)
    try:
        rows = stock.list_orders(db, args.store)
    finally:
        db.close()
    for order, store, day, status, by in rows:
        print(f"{order}  {store}  {day}  {status:8}  by {by}")
    print(f"{len(rows)} purchase order(s)")
    return 0


def _check(args: argparse.Namespace, clock: Clock = system_clock) -> int:
    instant = _instant(args.at, clock)
    from cloud.rules import closed_day

    day = _day(args.day, instant) if args.day else closed_day(instant)
    rate = stock.parse_cost(args.shrink_rate, "--shrink-rate")
    if rate > 1 or args.shrink_days < 1:
        raise UsageError(
            "--shrink-rate is a share (at most 1) and --shrink-days at least 1",
            where="cloud stock check",
            fix="e.g. --shrink-rate 0.02 --shrink-days 28",
        )
    now = iso(instant)
    db = open_current(args.db)
    try:
        done = stock.post_journal(db, now)
        found = stock_rules.check(db, day, now, stock_rules.StockLimits(rate, args.shrink_days))
    finally:
        db.close()
    print(_posted(done))
    print(
        f"stock rules as of {now} (shrink to {day}): {found.holding} condition(s) holding, "
        f"{found.raised} alert(s) raised, {found.cleared} cleared (see `cloud alerts`)"
    )
    return 0


def _verify(args: argparse.Namespace) -> int:
    db = open_current(args.db)
    try:
        drifts = stock.verify(db)
    finally:
        db.close()
    for d in drifts:
        print(
            f"{d.store} {d.sku}: stored {d.stored.on_hand} @ {d.stored.avg_cost}, "
            f"movements give {d.derived.on_hand} @ {d.derived.avg_cost}"
        )
    if drifts:
        print(f"{len(drifts)} position(s) differ from their movements")
        return 1
    print("every position is what its movements give")
    return 0


def _report(args: argparse.Namespace) -> int:
    period = Period.parse(args.first, args.last)
    if args.report in ("turnover", "slow"):
        _bounded(args)
    max_sold = stock.parse_quantity(args.max_sold, "--max-sold", allow_zero=True)
    db = open_current(args.db)
    try:
        table = stock_plan.report_table(
            db, args.report, period, args.store, as_of=args.as_of, max_sold=max_sold, by=args.by
        )
    finally:
        db.close()
    _show(table, args)
    if args.chart:
        render.chart(table, args.chart, args.chart_column)
    return 0


def _bounded(args: argparse.Namespace) -> None:
    if args.first is None or args.last is None:
        raise UsageError(
            f"a {args.report} report needs its period",
            where=f"cloud stock report {args.report}",
            fix="give --from YYYY-MM-DD and --to YYYY-MM-DD",
        )
