"""`cloud staff add|list|disable|enable|remove|publish`: argument handling (cloud.staff).

PINs are asked on the terminal (twice) or read as one line of standard input with
`--pin-stdin`, never taken from the command line (where `ps` and the shell's history would
keep them)."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cloud import staff
from cloud.clock import utc_now_iso
from cloud.schema import open_current
from gateway.errors import UsageError
from gateway.lane.staff_document import CENTRAL_ROLES

ArgAdder = Callable[[argparse.ArgumentParser], None]


def register(sub: Any, db_arg: ArgAdder, broker_args: ArgAdder) -> None:
    from cloud.publish_cli import key_args

    top = sub.add_parser(
        "staff",
        help="central staff: cashiers and supervisors for every store of a group",
        description="Head office's cashiers and supervisors: each belongs to a store group "
        "and may sign on at every box of its stores. PINs are hashed here as the box hashes "
        "them; only the salted hash is kept and sent, in the signed staff document `publish` "
        "sends. Every change is written to the audit log with who made it (--by).",
    )
    acts = top.add_subparsers(dest="staff_command", metavar="ACTION", required=True)

    def action(name: str, text: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = acts.add_parser(name, help=text, description=text)
        db_arg(parser)
        return parser

    def by(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--by", default=getpass.getuser(), help="who (audited; default: this user)"
        )

    add = action("add", "create or replace a person (active); the PIN is asked")
    add.add_argument("staff_id", metavar="ID", help="their staff number, the same in every store")
    add.add_argument("--name", required=True, help="as receipts and screens show it")
    add.add_argument(
        "--role", required=True, help=f"{' or '.join(CENTRAL_ROLES)} (admins are each box's own)"
    )
    add.add_argument("--group", required=True, help="the store group they work in (cloud groups)")
    add.add_argument("--card", help="their staff card's value (never a payment card)")
    add.add_argument("--ceiling", help="a supervisor's override ceiling, e.g. 100.00")
    pin = add.add_mutually_exclusive_group()
    pin.add_argument(
        "--pin-stdin", action="store_true", help="read the PIN as one line of standard input"
    )
    pin.add_argument(
        "--no-pin", action="store_true", help="ask no PIN: keep theirs, or a card only"
    )
    add.add_argument(
        "--pin-min-digits",
        type=int,
        default=staff.DEFAULT_PIN_MIN_DIGITS,
        help="the shortest PIN allowed (default 6, the box's lane.pin_min_digits default)",
    )
    by(add)
    add.set_defaults(func=_add)

    listing = action("list", "head office's people (never a PIN or its hash)")
    listing.add_argument("--group", help="one group's people only")
    listing.add_argument("--json", action="store_true", help="as JSON")
    listing.set_defaults(func=_list)

    for name, text in (
        ("disable", "refuse their card and PIN at every box (after the next publish)"),
        ("enable", "let a disabled person sign on again (after the next publish)"),
        ("remove", "delete the person (every box removes them after the next publish)"),
    ):
        change = action(name, text)
        change.add_argument("staff_id", metavar="ID", help="their staff number")
        by(change)
        change.set_defaults(func=_change, change=name)

    pub = action("publish", "build, sign and send each store's staff document")
    target = pub.add_mutually_exclusive_group()
    target.add_argument("--group", help="every store of a group")
    target.add_argument("--store", help="one known store")
    pub.add_argument("--out", type=Path, help="only write the (unsigned) document(s) to FOLDER")
    by(pub)
    key_args(pub)
    broker_args(pub)
    pub.set_defaults(func=_publish)


def _pin(args: argparse.Namespace) -> str | None:
    """The new PIN, or None to keep theirs (an empty answer too)."""
    if args.no_pin:
        return None
    if args.pin_stdin:
        return sys.stdin.readline().rstrip("\n") or None
    if not sys.stdin.isatty():
        raise UsageError(
            "no terminal to ask the PIN on",
            where="cloud staff add",
            fix="pass --pin-stdin and give it on standard input (or --no-pin)",
        )
    first = getpass.getpass("PIN (empty: keep theirs): ")
    if first and first != getpass.getpass("Again: "):
        raise UsageError("the PINs differ", where="cloud staff add", fix="type it again")
    return first or None


def _add(args: argparse.Namespace) -> int:
    pin = _pin(args)
    db = open_current(args.db)
    try:
        new = staff.add_person(
            db,
            args.staff_id,
            args.name,
            args.role,
            args.group,
            pin=pin,
            card=args.card,
            ceiling=args.ceiling,
            by=args.by,
            now=utc_now_iso(),
            pin_min_digits=args.pin_min_digits,
        )
    finally:
        db.close()
    print(
        f"staff {args.staff_id} {args.name} ({args.role}, group {args.group}) "
        f"{'added' if new else 'replaced'}; `cloud staff publish --group {args.group}` "
        "tells the boxes"
    )
    return 0


def _list(args: argparse.Namespace) -> int:
    db = open_current(args.db)
    try:
        found = staff.people(db, args.group)
    finally:
        db.close()
    if args.json:
        print(json.dumps([p.__dict__ for p in found], indent=2, ensure_ascii=False))
        return 0
    for p in found:
        how = "+".join(w for w, has in (("card", p.card), ("PIN", p.pin)) if has)
        state = "active" if p.active else "disabled"
        print(
            f"{p.id}  {p.name}  {p.role}  group {p.group}  {how}  {state}  "
            f"(by {p.updated_by} at {p.updated_at})"
        )
    print(f"{len(found)} person(s)")
    return 0


def _change(args: argparse.Namespace) -> int:
    db = open_current(args.db)
    try:
        if args.change == "remove":
            staff.remove_person(db, args.staff_id, by=args.by, now=utc_now_iso())
        else:
            staff.set_active(
                db, args.staff_id, args.change == "enable", by=args.by, now=utc_now_iso()
            )
    finally:
        db.close()
    done = {"remove": "removed", "enable": "enabled", "disable": "disabled"}[args.change]
    print(f"staff {args.staff_id} {done}; publish the staff document to tell the boxes")
    return 0


def _publish(args: argparse.Namespace) -> int:
    from cloud.commands import broker_options
    from cloud.publish_cli import signing_key
    from cloud.stores import group_stores, require_known

    if not (args.group or args.store):
        raise UsageError(
            "publish to whom?",
            where="cloud staff publish",
            fix="add --group GROUP (every store of it) or --store STORE",
        )
    db = open_current(args.db)
    try:
        stores = [args.store] if args.store else group_stores(db, args.group)
        require_known(db, stores, "cloud staff publish")
        now = utc_now_iso()
        documents = {store: staff.store_document(db, store, now) for store in stores}
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            for store, document in documents.items():
                path = args.out / f"staff-{store}.json"
                path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
                print(f"wrote {path}: {len(document['staff'])} person(s), not published")
            return 0
        key = signing_key(args)
        sent = staff.publish_staff(
            db, stores, broker=broker_options(args), root=args.root, key=key, by=args.by
        )
        for store, version, count in sent:
            print(
                f"published staff version {version} for {store}: "
                f"{count} person(s) (signed by {key.key_id}, retained)"
            )
    finally:
        db.close()
    return 0
