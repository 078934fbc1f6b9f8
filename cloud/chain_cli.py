"""`cloud chain show STORE/BOX` and `cloud chain accept STORE/BOX --seq N --reason --by`."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from cloud.chain import AcceptResult, ChainView, accept_break, chain_view, parse_box
from cloud.clock import utc_now_iso
from cloud.db import Database
from cloud.schema import require_current

ArgAdder = Callable[[argparse.ArgumentParser], None]


def register(sub: Any, db_arg: ArgAdder, broker_args: ArgAdder) -> None:
    chain = sub.add_parser("chain", help="a box's chain position; accept a chain break")
    actions = chain.add_subparsers(dest="chain_command", metavar="ACTION")
    show = actions.add_parser(
        "show",
        help="position, the break (hashes on both sides), "
        "records stored beyond, earlier acceptances",
    )
    show.add_argument("box", metavar="STORE/BOX", help="the box, e.g. store-1/box-1")
    show.add_argument("--json", action="store_true", help="machine-readable output")
    db_arg(show)
    show.set_defaults(func=_show)
    accept = actions.add_parser(
        "accept",
        help="accept the break at SEQ (audited) so the position and the box's ack move past it",
    )
    accept.add_argument("box", metavar="STORE/BOX", help="the box, e.g. store-1/box-1")
    accept.add_argument("--seq", type=int, required=True, help="the seq the chain breaks at")
    accept.add_argument("--reason", required=True, help="why the break is expected")
    accept.add_argument("--by", required=True, help="who accepts it")
    db_arg(accept)
    accept.set_defaults(func=_accept)


def _show(args: argparse.Namespace) -> int:
    store, box = parse_box(args.box)
    db = Database.open(args.db)
    try:
        require_current(db)
        view = chain_view(db, store, box)
    finally:
        db.close()
    print(json.dumps(view.as_json(), indent=2, sort_keys=True) if args.json else render(view))
    return 0


def _accept(args: argparse.Namespace) -> int:
    store, box = parse_box(args.box)
    db = Database.open(args.db)
    try:
        require_current(db)
        result = accept_break(
            db, store, box, seq=args.seq, reason=args.reason, by=args.by, now=utc_now_iso()
        )
    finally:
        db.close()
    print(render_accepted(result))
    return 0


def render(view: ChainView) -> str:
    lines = [
        f"{view.store}/{view.box}",
        f"  position   acknowledged up to seq {view.acked_seq} (hash {view.acked_hash})"
        + (f", walked {view.updated_at}" if view.updated_at else ""),
        f"  stored     {view.stored} record(s), up to seq {view.max_seq}; "
        f"{view.beyond} beyond the position",
    ]
    brk = view.broken
    if brk is not None:
        alert = (
            "no alert"
            if brk.alert_id is None
            else f"alert #{brk.alert_id}"
            + (
                f" (acknowledged by {brk.alert_acknowledged_by})"
                if brk.alert_acknowledged_by
                else " (unacknowledged)"
            )
        )
        lines += [
            f"  break      at seq {brk.seq} ({brk.record_kind} {brk.record_id}, "
            f"{brk.record_time}); {alert}",
            f"    expected prev_hash {brk.expected_prev_hash} (head office's seq {brk.seq - 1})",
            f"    found    prev_hash {brk.found_prev_hash} (in seq {brk.seq})",
            f"    accept:  cloud chain accept {view.store}/{view.box} --seq {brk.seq} "
            "--reason TEXT --by NAME",
        ]
    elif view.gap_since is not None:
        lines.append(
            f"  gap        records after seq {view.acked_seq} missing since {view.gap_since}"
        )
    else:
        lines.append("  break      none")
    for a in view.acceptances:
        lines.append(
            f"  accepted   #{a.id} seq {a.seq} by {a.accepted_by} at {a.accepted_at}: {a.reason}"
        )
    return "\n".join(lines)


def render_accepted(result: AcceptResult) -> str:
    a = result.acceptance
    alert = (
        f"alert #{result.alert_id} acknowledged"
        if result.alert_id is not None
        else "no alert to acknowledge"
    )
    lines = [
        f"accepted the chain break of {a.store}/{a.box} at seq {a.seq} (#{a.id}, by "
        f"{a.accepted_by}); {alert}",
        f"position: seq {result.before.seq} -> {result.after.seq}",
        "the running `cloud ingest` workers publish the new ack within a few seconds "
        "(and on the box's next re-send); the box drains from there",
    ]
    if result.next_break is not None:
        lines.append(
            f"the chain breaks again at seq {result.next_break} (a new chain.break "
            f"alert): `cloud chain show {a.store}/{a.box}`"
        )
    return "\n".join(lines)
