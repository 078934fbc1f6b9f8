"""`cloud update build DIR --version V --key ID.pem` and `cloud update publish BUNDLE
(--store S | --group G [--pilot S,...]) --url URL --key ID.pem`: argument handling only."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cloud.db import Database
from cloud.publish_cli import key_args, signing_key
from cloud.schema import require_current
from cloud.updates import build_bundle, publish_update, update_document

ArgAdder = Callable[[argparse.ArgumentParser], None]


def register(sub: Any, db_arg: ArgAdder, broker_args: ArgAdder) -> None:
    update = sub.add_parser(
        "update",
        help="signed software updates: build a bundle, announce it to boxes",
        description='Software updates of the boxes (docs/cloud.md, "Software updates"): '
        "`build` signs a bundle of wheels; `publish` tells a store's or a group's boxes to "
        "install it, pilot stores first with --pilot (then `cloud rollout continue ID`).",
    )
    actions = update.add_subparsers(dest="update_command", metavar="ACTION", required=True)
    build = actions.add_parser("build", help="a signed bundle from a folder of wheels")
    build.add_argument(
        "wheels", type=Path, metavar="DIR", help="storegate's wheel and its dependencies"
    )
    build.add_argument("--version", required=True, help="the version of storegate's wheel")
    build.add_argument(
        "--min-version",
        default="0",
        help="the oldest version a box may update from (default: any)",
    )
    build.add_argument(
        "--out", type=Path, help="the bundle folder to make (default storegate-update-VERSION)"
    )
    key_args(build)
    build.set_defaults(func=_build)

    publish = actions.add_parser(
        "publish", help="announce a bundle to a store's or a group's boxes (signed, retained)"
    )
    publish.add_argument("bundle", type=Path, metavar="BUNDLE", help="a folder `build` made")
    publish.add_argument(
        "--url",
        required=True,
        help="where the boxes fetch the bundle's files: the folder served over http(s), "
        "or file:///PATH where it was copied onto the boxes",
    )
    target = publish.add_mutually_exclusive_group(required=True)
    target.add_argument("--store", help="one known store (cloud stores list)")
    target.add_argument("--group", help="every store of a group (cloud groups list)")
    publish.add_argument(
        "--pilot",
        help="with --group: these stores of it first (comma-separated); the rest follow "
        "with `cloud rollout continue ID`",
    )
    key_args(publish)
    db_arg(publish)
    broker_args(publish)
    publish.set_defaults(func=_publish)


def _build(args: argparse.Namespace) -> int:
    key = signing_key(args)
    out = args.out or Path(f"storegate-update-{args.version}")
    manifest = build_bundle(args.wheels, out, args.version, args.min_version, key)
    print(
        f"wrote {out}: storegate {manifest['version']} (from {manifest['min_version']} on), "
        f"{len(manifest['files'])} wheel(s), signed by {key.key_id}"
    )
    return 0


def _publish(args: argparse.Namespace) -> int:
    from cloud.commands import broker_options

    document = update_document(args.bundle, args.url)
    key = signing_key(args)
    db = Database.open(args.db)
    try:
        require_current(db)
        first, messages, rollout = publish_update(
            db,
            broker=broker_options(args),
            root=args.root,
            document=document,
            store=args.store,
            group=args.group,
            pilot=args.pilot,
            key=key,
        )
    finally:
        db.close()
    for store, message in zip(first, messages, strict=True):
        print(
            f"published update to storegate {document['software']} for {store} "
            f"(document version {message['version']}, signed by {key.key_id}, retained)"
        )
    if rollout is not None:
        print(
            f"rollout {rollout}: pilot stores {', '.join(first)} first; see "
            f"`cloud rollout status {rollout}` and `cloud fleet`, then "
            f"`cloud rollout continue {rollout}` publishes to the rest of the group"
        )
    return 0
