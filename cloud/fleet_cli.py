"""`cloud fleet [--store S] [--json]` and `cloud fleet watch`: argument handling only."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from typing import Any

from cloud.db import Database
from cloud.fleet import fleet, render
from cloud.schema import require_current

ArgAdder = Callable[[argparse.ArgumentParser], None]


def register(sub: Any, db_arg: ArgAdder, broker_args: ArgAdder) -> None:
    parser = sub.add_parser("fleet", help="every box: online, last seen, backlog, devices")
    db_arg(parser)
    parser.add_argument("--store", help="only this store")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=_fleet, watch=False)
    actions = parser.add_subparsers(dest="fleet_command", metavar="ACTION")
    watch = actions.add_parser("watch", help="refresh the fleet view every few seconds")
    db_arg(watch)
    watch.add_argument("--store", help="only this store")
    watch.add_argument(
        "--interval", type=float, default=5.0, help="seconds between refreshes (default 5)"
    )
    watch.add_argument("--count", type=int, default=0, help="stop after N refreshes (0: never)")
    watch.set_defaults(func=_watch, json=False)


def _fleet(args: argparse.Namespace) -> int:
    db = Database.open(args.db)
    try:
        require_current(db)
        boxes = fleet(db, args.store)
    finally:
        db.close()
    if args.json:
        print(json.dumps([b.as_json() for b in boxes], indent=2, sort_keys=True))
    else:
        print(render(boxes))
    return 0


def _watch(args: argparse.Namespace) -> int:
    db = Database.open(args.db)
    shown = 0
    try:
        require_current(db)
        while True:
            screen = render(fleet(db, args.store))
            sys.stdout.write("\x1b[2J\x1b[H" if sys.stdout.isatty() else "")
            print(f"storegate fleet  {time.strftime('%Y-%m-%d %H:%M:%S')}\n{screen}", flush=True)
            shown += 1
            if args.count and shown >= args.count:
                return 0
            time.sleep(args.interval)
    finally:
        db.close()
