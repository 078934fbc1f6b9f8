"""`cloud keys generate`, `cloud publish KIND FILE`, `cloud cmd STORE BOX COMMAND [ARGS]`."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cloud.db import Database
from cloud.publish import (
    BOX_COMMANDS,
    PASSPHRASE_ENV,
    check_document,
    command_args,
    generate_key,
    load_key,
    passphrase_from_env_or_terminal,
    read_document,
    run_command,
    trusted_key_toml,
)
from cloud.schema import require_current
from gateway.errors import UsageError

ArgAdder = Callable[[argparse.ArgumentParser], None]


def register(sub: Any, db_arg: ArgAdder, broker_args: ArgAdder) -> None:
    keys = sub.add_parser("keys", help="head-office signing keys")
    keys_sub = keys.add_subparsers(dest="keys_command", metavar="ACTION")
    generate = keys_sub.add_parser("generate", help="new Ed25519 key pair with a key id")
    generate.add_argument(
        "--dir", type=Path, default=Path("keys"), help="folder for the key pair (default keys)"
    )
    generate.add_argument("--key-id", help="name boxes know the key by (default: generated)")
    generate.add_argument(
        "--encrypt",
        action="store_true",
        help="encrypt the private key with a passphrase ($STOREGATE_SIGNING_KEY_PASSPHRASE, "
        "or asked on the terminal)",
    )
    generate.set_defaults(func=_generate)

    publish = sub.add_parser(
        "publish",
        help="check, version, sign and publish a document",
        description="Check, version, sign and publish a catalog, members, staff or config document "
        "to a known store or to every store of a group (a staged rollout with --pilot). "
        "--preview shows what would change and publishes nothing.",
    )
    publish.add_argument(
        "kind", choices=("catalog", "members", "staff", "config"), help="which document this is"
    )
    publish.add_argument("file", type=Path, help="the document (JSON; TOML for config)")
    target = publish.add_mutually_exclusive_group(required=True)
    target.add_argument("--store", help="one known store (cloud stores list)")
    target.add_argument("--group", help="every store of a group (cloud groups list)")
    publish.add_argument("--box", help="config only: the box it is for")
    publish.add_argument(
        "--pilot",
        help="with --group: publish to these stores of it first (comma-separated); "
        "the rest follow with `cloud rollout continue ID`",
    )
    publish.add_argument(
        "--preview", action="store_true", help="show what would change per store; send nothing"
    )
    key_args(publish)
    db_arg(publish)
    broker_args(publish)
    publish.set_defaults(func=_publish)

    cmd = sub.add_parser("cmd", help="run a command on a box and print its result")
    cmd.add_argument("store", help="store id")
    cmd.add_argument("box", help="box id in that store")
    cmd.add_argument("name", metavar="COMMAND", help="one of " + ", ".join(BOX_COMMANDS))
    cmd.add_argument(
        "args",
        nargs="*",
        metavar="KEY=VALUE",
        help="arguments (VALUE is JSON when it parses as JSON)",
    )
    cmd.add_argument(
        "--timeout", type=float, default=30.0, help="seconds to wait for the answer (default 30)"
    )
    cmd.add_argument(
        "--expires",
        type=float,
        default=600.0,
        help="seconds the box may still run it after it was issued",
    )
    key_args(cmd)
    db_arg(cmd)
    broker_args(cmd)
    cmd.set_defaults(func=_cmd)


def key_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--key",
        type=Path,
        default=os.environ.get("STOREGATE_SIGNING_KEY"),
        help="KEY_ID.pem from `cloud keys generate` (or $STOREGATE_SIGNING_KEY)",
    )
    parser.add_argument("--key-id", help="default: the key file name without .pem")


def _generate(args: argparse.Namespace) -> int:
    passphrase = None
    if args.encrypt:
        passphrase = passphrase_from_env_or_terminal(confirm=True)
        if passphrase is None:
            raise UsageError(
                "--encrypt needs a passphrase",
                where="cloud keys generate",
                fix=f"set ${PASSPHRASE_ENV}, or run the command on a terminal to be asked",
            )
    key, path = generate_key(args.dir, args.key_id, passphrase=passphrase)
    print(
        f"wrote {path} (private, keep it at head office) and "
        f"{path.with_suffix('.pub')}\n\nadd to each box's settings:\n\n"
        f"{trusted_key_toml(key)}",
        end="",
    )
    return 0


def signing_key(args: argparse.Namespace) -> Any:
    if args.key is None:
        raise UsageError(
            "no signing key given",
            where=f"cloud {args.command}",
            fix="pass --key KEY_ID.pem or set $STOREGATE_SIGNING_KEY",
        )
    return load_key(Path(args.key), args.key_id)


def _publish(args: argparse.Namespace) -> int:
    from cloud.commands import broker_options
    from cloud.rollout import (
        check_target,
        choose_pilot,
        pilot_list,
        preview_text,
        previews,
        publish,
        target_stores,
    )

    check_target(args.kind, args.root, args.store, args.group, args.box)
    document = read_document(args.kind, args.file)
    check_document(args.kind, document, str(args.file))
    key = None if args.preview else signing_key(args)  # an exposed key is refused first
    db = Database.open(args.db)
    try:
        require_current(db)
        stores = target_stores(db, args.kind, args.store, args.group)
        if args.preview:
            print(preview_text(previews(db, args.kind, stores, args.box, document)), end="")
            return 0
        if args.pilot is not None and not pilot_list(args.pilot) and args.group:
            raise UsageError(
                f"pilot stores not in group {args.group}: (none given)",
                where="--pilot",
                fix=f"choose stores of {args.group}: {', '.join(stores)}",
            )
        pilot = choose_pilot(args.group, stores, pilot_list(args.pilot))
        assert key is not None
        done = publish(
            db,
            broker=broker_options(args),
            root=args.root,
            kind=args.kind,
            document=document,
            stores=stores,
            group=args.group,
            pilot=pilot,
            box=args.box,
            key=key,
        )
    finally:
        db.close()
    for store, version in done.versions:
        target = f"{store}/{args.box}" if args.box else store
        print(
            f"published {args.kind} version {version} for {target} "
            f"(signed by {key.key_id}, retained)"
        )
    if done.rollout is not None:
        first = [store for store, _ in done.versions]
        print(
            f"rollout {done.rollout}: pilot stores {', '.join(first)} first; see "
            f"`cloud rollout status {done.rollout}`, then `cloud rollout continue "
            f"{done.rollout}` publishes to the rest of the group"
        )
    return 0


def _cmd(args: argparse.Namespace) -> int:
    from cloud.commands import broker_options

    key = signing_key(args)
    db = Database.open(args.db)
    try:
        require_current(db)
        result = run_command(
            db=db,
            broker=broker_options(args),
            root=args.root,
            store=args.store,
            box=args.box,
            name=args.name,
            args=command_args(args.args, "cloud cmd"),
            key=key,
            timeout=args.timeout,
            expires_in=args.expires,
        )
    finally:
        db.close()
    print(json.dumps(result.model_dump(), indent=2, sort_keys=True))
    return 0 if result.status == "ok" else 1
