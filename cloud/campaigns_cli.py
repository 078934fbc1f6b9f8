"""`cloud campaign create|list|show|publish|report`: argument handling (cloud.campaigns)."""

from __future__ import annotations

import argparse
import getpass
import json
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from cloud import campaigns, render
from cloud.accounts_cli import now_of
from cloud.schema import open_current

ArgAdder = Callable[[argparse.ArgumentParser], None]


def register(sub: Any, db_arg: ArgAdder, broker_args: ArgAdder) -> None:
    from cloud.publish_cli import key_args

    top = sub.add_parser(
        "campaign",
        help="personal coupons for a segment of members, with a hold-out to measure them",
        description="Offer a personal coupon (a catalog promotion's coupon code) to an RFM "
        "segment or a list of a store's members, with a random hold-out who gets none; "
        "publish the coupons in the members document; measure treated against hold-out.",
    )
    acts = top.add_subparsers(dest="campaign_command", metavar="ACTION", required=True)

    create = acts.add_parser("create", help="record a campaign and draw its hold-out")
    db_arg(create)
    create.add_argument("id", help="the campaign's id, e.g. winback-2026-12")
    create.add_argument("--store", required=True, help="the store whose members it is for")
    create.add_argument("--coupon", required=True, help="the catalog promotion's coupon code")
    aim = create.add_mutually_exclusive_group(required=True)
    aim.add_argument("--segment", help="an RFM segment, e.g. 'at risk' (cloud report rfm)")
    aim.add_argument("--members", type=Path, help="a file of member ids, one a line")
    create.add_argument("--name", help="what it is called (default: its id)")
    create.add_argument(
        "--holdout",
        default=str(campaigns.DEFAULT_HOLDOUT),
        help=f"share of the members held out, no coupon (default {campaigns.DEFAULT_HOLDOUT})",
    )
    create.add_argument("--seed", type=int, help="seed of the draw (default: a random one, kept)")
    create.add_argument("--from", dest="first", help="first day, YYYY-MM-DD (default: today)")
    create.add_argument(
        "--to",
        dest="last",
        help=f"last day the coupon is valid (default: {campaigns.DEFAULT_DAYS} days in all)",
    )
    create.add_argument("--as-of", help="the day of the RFM segment (default: --from)")
    create.add_argument("--by", default=getpass.getuser(), help="who (default: this user)")
    create.add_argument("--at", help="when, ISO-8601 with an offset (default: now)")
    create.set_defaults(func=_create)

    listing = acts.add_parser("list", help="the campaigns, newest last")
    db_arg(listing)
    listing.add_argument("--store", help="only this store's")
    listing.set_defaults(func=_list)

    show = acts.add_parser("show", help="a campaign, its treated members and its hold-out")
    db_arg(show)
    show.add_argument("id", help="the campaign's id")
    show.add_argument("--json", action="store_true", help="as JSON")
    show.set_defaults(func=_show)

    pub = acts.add_parser(
        "publish", help="send the coupons: sign and publish the store's members document"
    )
    db_arg(pub)
    pub.add_argument("id", help="the campaign's id")
    pub.add_argument("--at", help="when, ISO-8601 with an offset (default: now)")
    key_args(pub)
    broker_args(pub)
    pub.set_defaults(func=_publish)

    report = acts.add_parser("report", help="the effect: treated against hold-out, 95 % intervals")
    db_arg(report)
    report.add_argument("id", help="the campaign's id")
    shape = report.add_mutually_exclusive_group()
    shape.add_argument("--json", action="store_true", help="as JSON")
    shape.add_argument("--csv", action="store_true", help="as CSV")
    report.set_defaults(func=_report)


def _create(args: argparse.Namespace) -> int:
    now = now_of(args)
    holdout = campaigns.parse_holdout(args.holdout)
    starts = campaigns.parse_day(args.first, "--from", date.fromisoformat(now[:10]))
    ends = campaigns.parse_day(
        args.last, "--to", starts + timedelta(days=campaigns.DEFAULT_DAYS - 1)
    )
    seed = args.seed if args.seed is not None else campaigns.new_seed()
    db = open_current(args.db)
    try:
        if args.segment is not None:
            as_of = campaigns.parse_day(args.as_of, "--as-of", starts)
            audience = campaigns.segment_audience(db, args.store, args.segment, as_of)
        else:
            audience = campaigns.list_audience(db, args.store, args.members)
        campaign = campaigns.create(
            db,
            campaign_id=args.id,
            store=args.store,
            name=args.name,
            coupon=args.coupon,
            audience=audience,
            holdout=holdout,
            seed=seed,
            starts=starts,
            ends=ends,
            by=args.by,
            now=now,
        )
    finally:
        db.close()
    print(
        f"campaign {campaign.id}: {len(campaign.treated)} member(s) get coupon "
        f"{campaign.coupon}, {len(campaign.held_out)} held out (seed {campaign.seed}); "
        f"{campaign.starts} .. {campaign.ends}; send it with `cloud campaign publish {campaign.id}`"
    )
    return 0


def _list(args: argparse.Namespace) -> int:
    db = open_current(args.db)
    try:
        found = campaigns.all_campaigns(db, args.store)
    finally:
        db.close()
    for c in found:
        state = f"published {c.published_at}" if c.published_at else "not published"
        print(
            f"{c.id}  {c.store}  {c.coupon}  {c.starts} .. {c.ends}  "
            f"{len(c.treated)} treated, {len(c.held_out)} held out  {state}"
        )
    if not found:
        print("no campaign yet")
    return 0


def _show(args: argparse.Namespace) -> int:
    db = open_current(args.db)
    try:
        c = campaigns.get(db, args.id)
    finally:
        db.close()
    data: dict[str, Any] = {
        "id": c.id,
        "store": c.store,
        "name": c.name,
        "coupon": c.coupon,
        "audience": c.audience,
        "holdout": str(c.holdout),
        "seed": c.seed,
        "from": str(c.starts),
        "to": str(c.ends),
        "created_by": c.created_by,
        "created_at": c.created_at,
        "published_at": c.published_at,
        "treated": list(c.treated),
        "held_out": list(c.held_out),
    }
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    for key in ("id", "store", "name", "coupon", "audience", "holdout", "seed", "from", "to"):
        print(f"{key}: {data[key]}")
    print(f"published: {c.published_at or 'not yet'}")
    print(f"treated ({len(c.treated)}): {' '.join(c.treated)}")
    print(f"held out ({len(c.held_out)}): {' '.join(c.held_out) or '-'}")
    return 0


def _publish(args: argparse.Namespace) -> int:
    from cloud.members import build_document
    from cloud.members_cli import send_document

    now = now_of(args)
    db = open_current(args.db)
    try:
        campaign = campaigns.mark_published(db, args.id, now)
        args.store = campaign.store
        document = build_document(db, campaign.store, now)
        message = send_document(db, args, document)
    finally:
        db.close()
    given = campaigns.coupons_given(document, campaign.id)
    print(
        f"campaign {campaign.id}: coupon {campaign.coupon} for {given} member(s) in members "
        f"version {message['version']} of {campaign.store} (period from {campaign.published_at})"
    )
    return 0


def _report(args: argparse.Namespace) -> int:
    db = open_current(args.db)
    try:
        table = campaigns.effect(db, campaigns.get(db, args.id))
    finally:
        db.close()
    if args.json:
        print(render.json_text(table))
    elif args.csv:
        print(render.csv_text(table), end="")
    else:
        print(render.text(table))
    return 0
