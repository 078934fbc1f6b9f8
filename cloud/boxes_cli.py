"""`cloud boxes approve|pending|list|revoke`: argument handling only (cloud.boxes works)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from cloud import boxes
from cloud.clock import utc_now_iso
from cloud.schema import open_current

ArgAdder = Callable[[argparse.ArgumentParser], None]


def register(sub: Any, db_arg: ArgAdder, broker_args: ArgAdder) -> None:
    from cloud.publish_cli import key_args

    parser = sub.add_parser(
        "boxes",
        help="zero-touch enrolment: approve a box's pairing code, list, revoke",
        description="Boxes with their own broker credentials (docs/cloud.md, 'Zero-touch "
        "enrolment'). Talks to the broker as head office's enrolment service "
        "(storegate-admin certificate, office listener).",
    )
    actions = parser.add_subparsers(dest="boxes_command", metavar="ACTION", required=True)
    approve = actions.add_parser("approve", help="give the box showing CODE its own identity")
    approve.add_argument("code", help="the pairing code the box printed, e.g. 7KQ2-M9XD")
    approve.add_argument("--store", required=True, help="a known store (`cloud stores add`)")
    approve.add_argument("--box", required=True, help="the box's id within the store")
    key_args(approve)
    db_arg(approve)
    broker_args(approve)
    approve.set_defaults(func=_approve)
    pending = actions.add_parser("pending", help="boxes waiting with a pairing code")
    pending.add_argument("--json", action="store_true", help="as JSON")
    broker_args(pending)
    pending.set_defaults(func=_pending)
    listing = actions.add_parser("list", help="every enrolled (and revoked) box")
    listing.add_argument("--json", action="store_true", help="as JSON")
    db_arg(listing)
    listing.set_defaults(func=_list)
    revoke = actions.add_parser("revoke", help="cut a box off the broker (STORE/BOX)")
    revoke.add_argument("identity", metavar="STORE/BOX", help="the box, e.g. store-1/box-1")
    db_arg(revoke)
    broker_args(revoke)
    revoke.set_defaults(func=_revoke)


def _admin(args: argparse.Namespace) -> boxes.BrokerAdmin:
    from cloud.commands import broker_options

    return boxes.BrokerAdmin(broker_options(args), args.root)


def _approve(args: argparse.Namespace) -> int:
    from cloud.commands import broker_options
    from cloud.publish_cli import signing_key

    where = "cloud boxes approve"
    boxes.check_identity(args.store, args.box, where)
    key = signing_key(args)
    db = open_current(args.db)
    try:
        code, request = boxes.enrol_code(
            db,
            broker_options(args),
            args.root,
            code=args.code,
            store=args.store,
            box=args.box,
            key=key,
            now=utc_now_iso(),
            where=where,
        )
    finally:
        db.close()
    host = request.hint.get("host")
    print(
        f"approved {code}{f' ({host})' if host else ''} as {args.store}/{args.box}: its "
        "credentials are on the way; the box connects as itself once it has them"
    )
    return 0


def _pending(args: argparse.Namespace) -> int:
    with _admin(args) as admin:
        found = admin.pending()
    if args.json:
        print(json.dumps([{"code": r.code, "hint": r.hint} for r in found], indent=2))
        return 0
    if not found:
        print("no box is waiting for enrolment")
    for request in sorted(found, key=lambda r: r.code):
        print(f"{request.code}  {request.hint.get('host', '')}".rstrip())
    return 0


def _list(args: argparse.Namespace) -> int:
    db = open_current(args.db)
    try:
        found = boxes.enrolled(db)
    finally:
        db.close()
    if args.json:
        print(json.dumps([b.__dict__ for b in found], indent=2))
        return 0
    if not found:
        print("no box enrolled yet: `cloud boxes approve CODE --store S --box B`")
    for b in found:
        state = f"revoked {b.revoked_at}" if b.revoked_at else "enrolled"
        host = f"  host {b.host}" if b.host else ""
        print(f"{b.store}/{b.box}  {state}  approved {b.approved_at} (code {b.code}){host}")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    from cloud.commands import broker_options

    store, box = boxes.parse_identity(args.identity, "cloud boxes revoke")
    db = open_current(args.db)
    try:
        boxes.revoke_box(db, broker_options(args), args.root, store, box, utc_now_iso())
    finally:
        db.close()
    print(f"revoked {store}/{box}: the broker disconnected it and refuses its credentials")
    return 0
