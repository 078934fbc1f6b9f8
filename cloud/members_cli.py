"""`cloud members import|list|history|adjust|block|lost|unblock|publish`: argument handling
(the canteen actions `department|grant|plan|budgets` are in cloud.accounts_cli)."""

from __future__ import annotations

import argparse
import getpass
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cloud import members
from cloud.accounts_cli import now_of, register_members
from cloud.clock import utc_now_iso
from cloud.schema import open_current
from gateway.errors import UsageError

ArgAdder = Callable[[argparse.ArgumentParser], None]


def register(sub: Any, db_arg: ArgAdder, broker_args: ArgAdder) -> None:
    from cloud.publish_cli import key_args

    top = sub.add_parser(
        "members",
        help="the member ledger: import, balances, block, publish the members document",
        description="Each store's members at head office: import them from CSV or xlsx "
        "(card UIDs hashed as the box expects), change balances with a reason, block or "
        "report lost cards, and build, sign and publish the store's members document.",
    )
    acts = top.add_subparsers(dest="members_command", metavar="ACTION", required=True)

    def action(name: str, text: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = acts.add_parser(name, help=text)
        db_arg(parser)
        parser.add_argument("--store", required=True, help="the store whose members these are")
        return parser

    imp = action("import", "create or update members from FILE.csv or FILE.xlsx")
    imp.add_argument("file", type=Path, help=f"columns: {', '.join(members.COLUMNS)}")
    imp.add_argument(
        "--settings",
        type=Path,
        help="JSON: currency, decimals, groups, redemption, offline (needed the first time)",
    )
    imp.add_argument("--by", default=getpass.getuser(), help="who (default: this user)")
    imp.add_argument(
        "--at", help="when, ISO-8601 with an offset (default: now): opening balances' day"
    )
    imp.set_defaults(func=_import)
    listing = action("list", "every member with their balances")
    listing.add_argument("--json", action="store_true", help="as JSON")
    listing.set_defaults(func=_list)
    hist = action("history", "every balance change of one member")
    hist.add_argument("member", help="the member id")
    hist.set_defaults(func=_history)
    adj = action("adjust", "change a balance (a top-up, a correction) with a reason")
    adj.add_argument("member", help="the member id")
    adj.add_argument("--wallet", required=True, choices=members.WALLETS, help="which wallet")
    adj.add_argument("--delta", required=True, help="the change, e.g. 50.00 or -3.20")
    adj.add_argument("--reason", required=True, help="why (kept in the ledger)")
    adj.add_argument("--by", default=getpass.getuser(), help="who (default: this user)")
    adj.add_argument("--at", help="when, ISO-8601 with an offset (default: now)")
    adj.set_defaults(func=_adjust)
    for status, name, text in (
        ("blocked", "block", "block a member: their cards are refused at every box"),
        ("lost", "lost", "report a member's card lost: it is refused at every box"),
        ("active", "unblock", "make a blocked or lost member active again"),
    ):
        change = action(name, text)
        change.add_argument("member", help="the member id")
        change.set_defaults(func=_status, status=status)
    pub = action("publish", "build, sign and publish the store's members document")
    pub.add_argument("--out", type=Path, help="only write the (unsigned) document to FILE")
    pub.add_argument(
        "--at", help="when, ISO-8601 with an offset (default: now): the day of its spending figures"
    )
    key_args(pub)
    broker_args(pub)
    pub.set_defaults(func=_publish)
    register_members(acts, db_arg)


def _import(args: argparse.Namespace) -> int:
    settings = None
    if args.settings:
        try:
            settings = json.loads(args.settings.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UsageError(
                f"cannot read {args.settings}: {exc}",
                where="--settings",
                fix="give a JSON file",
            ) from exc
    db = open_current(args.db)
    try:
        created, updated = members.import_members(
            db, args.store, args.file, by=args.by, now=now_of(args), settings=settings
        )
    finally:
        db.close()
    print(f"{args.store}: {created} member(s) created, {updated} updated")
    return 0


def _list(args: argparse.Namespace) -> int:
    db = open_current(args.db)
    try:
        rows = members.members(db, args.store)
    finally:
        db.close()
    if args.json:
        out = [
            {"id": i, "name": n, "group": g, "status": s, **{k: str(v) for k, v in w.items()}}
            for i, n, g, s, w in rows
        ]
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return 0
    for i, n, g, s, w in rows:
        print(f"{i}  {n}  {g}  {s}  points {w['points']}  subsidy {w['subsidy']}  cash {w['cash']}")
    print(f"{len(rows)} member(s)")
    return 0


def _history(args: argparse.Namespace) -> int:
    db = open_current(args.db)
    try:
        lines = members.history(db, args.store, args.member)
    finally:
        db.close()
    for at, wallet, delta, source, ref, by in lines:
        print(f"{at}  {wallet:8} {delta:>10}  {source:6} {by}  {ref}")
    return 0


def _adjust(args: argparse.Namespace) -> int:
    delta = members.parse_delta(args.delta, "cloud members adjust --delta")
    db = open_current(args.db)
    try:
        members.adjust(
            db,
            args.store,
            args.member,
            args.wallet,
            delta,
            args.reason,
            by=args.by,
            now=now_of(args),
        )
    finally:
        db.close()
    print(f"{args.member}: {args.wallet} {delta:+} ({args.reason})")
    return 0


def _status(args: argparse.Namespace) -> int:
    db = open_current(args.db)
    try:
        members.set_status(db, args.store, args.member, args.status, "", now=utc_now_iso())
    finally:
        db.close()
    print(f"{args.member} is {args.status}; publish the members document to tell the boxes")
    return 0


def send_document(db: Any, args: argparse.Namespace, document: dict[str, Any]) -> dict[str, Any]:
    """Sign and publish a store's members document (`args`: --store, the key and broker
    options) through `members.send_document`; the message as published, with its version."""
    from cloud.commands import broker_options
    from cloud.publish_cli import signing_key

    return members.send_document(
        db, args.store, document, broker=broker_options(args), root=args.root, key=signing_key(args)
    )


def _publish(args: argparse.Namespace) -> int:
    db = open_current(args.db)
    try:
        document = members.build_document(db, args.store, now_of(args))
        if args.out:
            args.out.write_text(
                json.dumps(document, indent=2, ensure_ascii=False), encoding="utf-8"
            )
            print(f"wrote {args.out}: {len(document['members'])} member(s), not published")
            return 0
        message = send_document(db, args, document)
    finally:
        db.close()
    print(
        f"published members version {message['version']} for {args.store}: "
        f"{len(document['members'])} member(s), included through {document['included_through']}"
    )
    return 0
