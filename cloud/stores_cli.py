"""`cloud stores`, `cloud groups` and `cloud rollout`: argument handling only."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from cloud import stores
from cloud.clock import utc_now_iso
from cloud.schema import open_current

ArgAdder = Callable[[argparse.ArgumentParser], None]


def register(sub: Any, db_arg: ArgAdder, broker_args: ArgAdder) -> None:
    from cloud.publish_cli import key_args

    store = sub.add_parser(
        "stores",
        help="the stores head office knows",
        description="Stores head office knows: registered here, or seen (one of their boxes "
        "spoke to ingest). Publishing names known stores only.",
    )
    store_sub = store.add_subparsers(dest="stores_command", metavar="ACTION", required=True)
    listing = store_sub.add_parser("list", help="every known store, its boxes and groups")
    db_arg(listing)
    listing.set_defaults(func=_stores_list)
    add = store_sub.add_parser("add", help="register stores (before their boxes come online)")
    add.add_argument("store", nargs="+", help="store ids, as in the box's [store] id")
    add.add_argument("--name", help="the store's name, shown in lists")
    db_arg(add)
    add.set_defaults(func=_stores_add)

    group = sub.add_parser(
        "groups",
        help="store groups (region, format) to publish to",
        description="Store groups: a region, a format, a pilot set. A store may be in several.",
    )
    group_sub = group.add_subparsers(dest="groups_command", metavar="ACTION", required=True)
    glist = group_sub.add_parser("list", help="every group and its stores")
    db_arg(glist)
    glist.set_defaults(func=_groups_list)
    for action, text in (("add", "put known stores into a group"), ("remove", "take them out")):
        change = group_sub.add_parser(action, help=text)
        change.add_argument("group", help="the group's name")
        change.add_argument("store", nargs="+", help="store ids")
        db_arg(change)
        change.set_defaults(func=_groups_change, remove=action == "remove")

    rollout = sub.add_parser(
        "rollout",
        help="staged rollouts: pilot stores first, then the rest",
        description="A staged rollout starts with `cloud publish KIND FILE --group G --pilot "
        "S,...`; `status` shows what each box applied or refused, `continue` publishes the "
        "same document to the rest of the group.",
    )
    roll_sub = rollout.add_subparsers(dest="rollout_command", metavar="ACTION", required=True)
    rlist = roll_sub.add_parser("list", help="every rollout")
    db_arg(rlist)
    rlist.set_defaults(func=_rollout_list)
    status = roll_sub.add_parser("status", help="each store's and box's state in a rollout")
    status.add_argument("id", type=int, help="the rollout's number")
    status.add_argument("--json", action="store_true", help="as JSON")
    db_arg(status)
    status.set_defaults(func=_rollout_status)
    cont = roll_sub.add_parser("continue", help="publish to the rest of the group")
    cont.add_argument("id", type=int, help="the rollout's number")
    cont.add_argument(
        "--force",
        action="store_true",
        help="continue although a pilot box refused the document or has not applied it",
    )
    key_args(cont)
    db_arg(cont)
    broker_args(cont)
    cont.set_defaults(func=_rollout_continue)


def _stores_list(args: argparse.Namespace) -> int:
    db = open_current(args.db)
    try:
        rows = stores.store_rows(db)
    finally:
        db.close()
    if not rows:
        print("no store known yet: register one with `cloud stores add STORE`")
        return 0
    width = max(len(r[0]) for r in rows)
    for store, name, boxes, member_of in rows:
        groups = f"groups: {member_of}" if member_of else ""
        print(f"{store:<{width}}  {boxes} box(es)  {name}  {groups}".rstrip())
    return 0


def _stores_add(args: argparse.Namespace) -> int:
    db = open_current(args.db)
    try:
        stores.add_stores(db, args.store, args.name, utc_now_iso())
    finally:
        db.close()
    print(f"registered {', '.join(args.store)}")
    return 0


def _groups_list(args: argparse.Namespace) -> int:
    db = open_current(args.db)
    try:
        found = stores.groups(db)
    finally:
        db.close()
    if not found:
        print("no group yet: make one with `cloud groups add GROUP STORE...`")
    for name, members in found.items():
        print(f"{name}: {', '.join(members)}")
    return 0


def _groups_change(args: argparse.Namespace) -> int:
    db = open_current(args.db)
    try:
        stores.set_group(db, args.group, args.store, remove=args.remove)
        members = stores.groups(db).get(args.group, [])
    finally:
        db.close()
    print(f"{args.group}: {', '.join(members) or '(empty)'}")
    return 0


def _rollout_list(args: argparse.Namespace) -> int:
    db = open_current(args.db)
    try:
        found = stores.rollouts(db)
    finally:
        db.close()
    for rollout, kind, group, created in found:
        print(f"{rollout}  {kind} to {group}  started {created}")
    if not found:
        print("no rollout yet")
    return 0


def _rollout_status(args: argparse.Namespace) -> int:
    db = open_current(args.db)
    try:
        rollout = stores.load_rollout(db, args.id)
        rows = stores.status_rows(db, rollout)
    finally:
        db.close()
    if args.json:
        print(
            json.dumps(
                {"id": rollout.id, "kind": rollout.kind, "group": rollout.group, "stores": rows},
                indent=2,
                ensure_ascii=False,
            )
        )
        return 0
    print(f"rollout {rollout.id}: {rollout.kind} to {rollout.group}")
    for row in rows:
        published = f"version {row['version']}" if row["version"] else "not published yet"
        print(f"  {row['store']} ({row['stage']}): {published}")
        for box in row["boxes"]:
            why = f" - {box['why']}" if box["why"] else ""
            print(f"    {box['box']}: {box['state']}{why}")
        if row["version"] and not row["boxes"]:
            print("    no box of this store has spoken to head office yet")
    return 0


def _rollout_continue(args: argparse.Namespace) -> int:
    from cloud.commands import broker_options
    from cloud.publish_cli import signing_key
    from cloud.rollout import continue_rollout

    db = open_current(args.db)
    try:
        rollout, sent = continue_rollout(
            db,
            broker=broker_options(args),
            root=args.root,
            rollout_id=args.id,
            force=args.force,
            key=lambda: signing_key(args),
        )
    finally:
        db.close()
    if not sent:
        print(f"rollout {rollout.id}: every store of {rollout.group} has it already")
    for store, version in sent:
        print(f"published {rollout.kind} version {version} for {store}")
    return 0
