"""`gateway stock receive|count|scan|set|section|finish|cancel|status|orders`.

Receiving (进货) and stock counts (盘点) at the box (docs/stock.md, "At the box"). Every
step goes through the running daemon's control socket: its journal writer records it, and
while a session is open its scanner's scans go to the session, not to a sale. A stopped
box answers `status` and `orders` from its database file (read-only) and refuses the rest
(the scanner and scale are the daemon's). PINs are asked (or read from stdin with
`--pin-stdin`), never given on the command line.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from gateway.commands.prompts import read_pin
from gateway.daemon.control import ControlError
from gateway.daemon.lock import ask_owner, owner_refused, writer_of
from gateway.database import open_database
from gateway.settings import load_settings


def _common(parser: argparse.ArgumentParser, *, staff: bool = False) -> None:
    parser.add_argument("--config", metavar="PATH", help="settings file")
    parser.add_argument("--json", action="store_true", help="print the daemon's answer as JSON")
    if staff:
        parser.add_argument(
            "--staff", required=True, metavar="ID", help="the supervisor doing it (PIN asked)"
        )
        parser.add_argument(
            "--pin-stdin", action="store_true", help="read the PIN from stdin (one line)"
        )


def register(sub: Any) -> None:
    stock = sub.add_parser(
        "stock",
        help="receive a delivery or count stock at this box (scanner and scale)",
        description="Receiving (a delivery, free or against a purchase order head office "
        "published) and stock counts (section by section, optionally blind) at the box. "
        "While one is open the scanner's scans go to it; no sale can start. Finished, it "
        "is journalled and synced; head office posts it to the stock ledger.",
    )
    actions = stock.add_subparsers(dest="stock_action", metavar="ACTION")
    receive = actions.add_parser("receive", help="start receiving a delivery")
    receive.add_argument("--po", metavar="PO", help="the purchase order it delivers")
    receive.add_argument("--supplier", help="who delivered (default: the order's supplier)")
    receive.add_argument("--delivery-note", metavar="DN", help="the delivery note's number")
    receive.add_argument("--blind", action="store_true", help="do not show ordered quantities")
    _common(receive, staff=True)
    receive.set_defaults(func=_run, stock_action="receive")
    count = actions.add_parser("count", help="start a stock count")
    count.add_argument("--section", help="the first section counted (e.g. aisle-1)")
    count.add_argument("--blind", action="store_true", help="do not show running totals")
    count.add_argument(
        "--full",
        action="store_true",
        help="a count of everything: head office sets what is not counted to 0",
    )
    _common(count, staff=True)
    count.set_defaults(func=_run, stock_action="count")
    scan = actions.add_parser("scan", help="an item, as if scanned (one more of it)")
    scan.add_argument("code", help="barcode, PLU or SKU")
    scan.add_argument(
        "--quantity", help="how many (each) or kg (weighed; default: the scale's reading)"
    )
    scan.add_argument("--cost", help="receiving: the unit cost (per kg for weighed goods)")
    _common(scan)
    scan.set_defaults(func=_run, stock_action="scan")
    set_ = actions.add_parser("set", help="set an item's quantity in this section (0: none)")
    set_.add_argument("code", help="barcode, PLU or SKU")
    set_.add_argument("quantity", help="the quantity (each) or kg")
    set_.add_argument("--cost", help="receiving: the unit cost")
    _common(set_)
    set_.set_defaults(func=_run, stock_action="set")
    section = actions.add_parser("section", help="count: go on with another section")
    section.add_argument("name", help="the section's name")
    _common(section)
    section.set_defaults(func=_run, stock_action="section")
    finish = actions.add_parser("finish", help="finish: journal the receipt or the count")
    _common(finish, staff=True)
    finish.set_defaults(func=_run, stock_action="finish")
    cancel = actions.add_parser("cancel", help="cancel the open session (nothing recorded)")
    cancel.add_argument("--reason", help="why")
    _common(cancel, staff=True)
    cancel.set_defaults(func=_run, stock_action="cancel")
    status = actions.add_parser("status", help="the open session: items so far, the order")
    _common(status)
    status.set_defaults(func=_run, stock_action="status")
    orders = actions.add_parser("orders", help="the purchase orders head office published")
    _common(orders)
    orders.set_defaults(func=_run, stock_action="orders")


def _request(args: argparse.Namespace) -> dict[str, Any]:
    request: dict[str, Any] = {"command": "stock", "action": args.stock_action}
    for key in ("po", "supplier", "delivery_note", "section", "code", "quantity", "cost"):
        value = getattr(args, key, None)
        if value is not None:
            request[key] = value
    if args.stock_action == "section":
        request["name"] = args.name
    if args.stock_action == "cancel" and args.reason:
        request["reason"] = args.reason
    if getattr(args, "blind", False):
        request["blind"] = True
    if getattr(args, "full", False):
        request["full"] = True
    if getattr(args, "staff", None):
        request["staff"] = args.staff
        request["pin"] = read_pin(args.pin_stdin, f"PIN of {args.staff}: ")
    return request


def _run(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    path, socket_path = writer_of(settings, None)
    if socket_path is None:
        if args.stock_action in ("status", "orders"):
            return _from_file(args, path)
        raise ControlError(
            "the daemon is not running: receiving and counting need it (its scanner, scale "
            "and journal)",
            where="gateway stock",
            fix="start it: systemctl start storegate (or gateway run)",
        )
    answer = ask_owner(socket_path, _request(args))
    if not answer.get("ok"):
        if args.json:
            print(json.dumps(answer, default=str))
        return owner_refused(answer, "stock")
    if args.json:
        print(json.dumps(answer, indent=2, default=str))
        return 0
    if "orders" in answer:
        _print_orders(answer["orders"])
        return 0
    if answer.get("said"):
        print(answer["said"])
    for notice in answer.get("notices", []):
        print(f"note: {notice}")
    if args.stock_action == "status" or "document" not in answer:
        _print_session(answer.get("stock"), brief=args.stock_action != "status")
    return 0


def _from_file(args: argparse.Namespace, path: Any) -> int:
    from gateway.daemon.stock_desk import session_in
    from gateway.stock.orders import OrderStore
    from gateway.stock.session import view

    db = open_database(path, readonly=True)
    try:
        if args.stock_action == "orders":
            orders = [o.model_dump(mode="json") for o in OrderStore(db.conn).all()]
            answer: dict[str, Any] = {"ok": True, "orders": orders}
        else:
            answer = {"ok": True, "stock": view(session_in(db.conn))}
    finally:
        db.conn.close()
    if args.json:
        print(json.dumps(answer, indent=2, default=str))
    elif "orders" in answer:
        _print_orders(answer["orders"])
    else:
        _print_session(answer["stock"], brief=False)
    return 0


def _print_session(shown: dict[str, Any] | None, *, brief: bool) -> None:
    if shown is None:
        if not brief:
            print("no stock session is open")
        return
    if brief:
        return
    what = "receiving" if shown["mode"] == "receive" else "stock count"
    print(f"{what} {shown['id']} by {shown['staff']['name']} since {shown['started_at']}")
    if shown.get("section"):
        print(f"section {shown['section']} (sections: {', '.join(shown['sections'])})")
    for line in shown["lines"]:
        quantity = line.get("quantity", "(blind)")
        print(f"  {line['sku']:<16} {line['name']:<28} {quantity} {line['unit']}")
    for row in shown.get("order", []):
        ordered = row.get("ordered", "?")
        print(f"  order {row['sku']:<16} ordered {ordered} received {row['received']}")


def _print_orders(orders: list[dict[str, Any]]) -> None:
    if not orders:
        print("no purchase orders on this box (head office: cloud stock po publish)")
    for order in orders:
        print(f"{order['id']} ({order['status']}, {order.get('supplier') or 'no supplier'})")
        for line in order["lines"]:
            print(f"  {line['sku']:<16} {line['quantity']} {line['unit']}")
