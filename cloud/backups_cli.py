"""`cloud backups list|fetch STORE/BOX`: the backups boxes uploaded (`cloud cmd STORE BOX
upload_backup`), as ingest stored their `backup.chunk` events in `box_event`.

`fetch` reassembles one, checks its SHA-256, and refuses a backup whose journal ends
before what head office acknowledged for that box (restoring it would hand those seqs
out again for different records) unless `--force`; it writes the file 0600 for `gateway
restore FILE` on the (replacement) box. Argument handling and printing; the chunk format
is gateway.sync.backup_upload.
"""

from __future__ import annotations

import argparse
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from cloud.box_uploads import backup_uploads, choose_backup
from cloud.schema import open_current
from gateway.errors import UsageError
from gateway.private_files import write_private
from gateway.sync.backup_upload import (
    RESTORE_EXPIRY_S,
    UploadedBackup,
    describe,
    reassemble,
)
from gateway.sync.topics import Topics

ArgAdder = Callable[[argparse.ArgumentParser], None]


def register(sub: Any, db_arg: ArgAdder, broker_args: ArgAdder) -> None:
    parser = sub.add_parser(
        "backups",
        help="backups boxes uploaded (`cloud cmd STORE BOX upload_backup`)",
        description="Backups a box sent to head office in chunks with a checksum; fetch one "
        "to restore a replaced box with `gateway restore FILE`.",
    )
    actions = parser.add_subparsers(dest="backups_command", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="a box's uploaded backups, newest first")
    listing.add_argument("identity", metavar="STORE/BOX", help="the box, e.g. store-1/box-1")
    listing.add_argument("--json", action="store_true", help="as JSON")
    db_arg(listing)
    listing.set_defaults(func=_list)
    fetch = actions.add_parser("fetch", help="write a box's uploaded backup to a file")
    fetch.add_argument("identity", metavar="STORE/BOX", help="the box, e.g. store-1/box-1")
    fetch.add_argument("--out", type=Path, required=True, help="the file to write (not there yet)")
    fetch.add_argument("--upload", help="the upload id (default: the newest complete one)")
    fetch.add_argument(
        "--force",
        action="store_true",
        help="even a backup older than what head office acknowledged for the box",
    )
    db_arg(fetch)
    fetch.set_defaults(func=_fetch)
    send = actions.add_parser(
        "send",
        help="send a box's uploaded backup back to it (`gateway restore --from-head-office`)",
    )
    send.add_argument("identity", metavar="STORE/BOX", help="the box, e.g. store-1/box-1")
    send.add_argument("--upload", help="the upload id (default: the newest complete one)")
    send.add_argument(
        "--force",
        action="store_true",
        help="even a backup older than what head office acknowledged for the box",
    )
    db_arg(send)
    broker_args(send)
    send.set_defaults(func=_send)


def _identity(text: str, where: str) -> tuple[str, str]:
    store, _, box = text.partition("/")
    if not store or not box or "/" in box:
        raise UsageError(
            f"{text!r} is not STORE/BOX",
            where=where,
            fix="name the box as store-id/box-id, e.g. store-1/box-1",
        )
    return store, box


def _list(args: argparse.Namespace) -> int:
    store, box = _identity(args.identity, "cloud backups list")
    db = open_current(args.db)
    try:
        found = [describe(parts) for parts in backup_uploads(db, store, box).values()]
    finally:
        db.close()
    if args.json:
        print(json.dumps([{**u.__dict__, "complete": u.complete} for u in found], indent=2))
        return 0
    if not found:
        print(f"no backup from {store}/{box}: `cloud cmd {store} {box} upload_backup --key ...`")
    for u in found:
        state = "complete" if u.complete else f"{u.parts - len(u.missing)}/{u.parts} chunks"
        print(f"{u.upload}  {u.name}  seq {u.head_seq}  {u.size} bytes  {state}")
    return 0


def _choose(
    args: argparse.Namespace, store: str, box: str, where: str
) -> tuple[UploadedBackup, list[dict[str, Any]]]:
    db = open_current(args.db)
    try:
        return choose_backup(db, store, box, args.upload, args.force, where)
    finally:
        db.close()


def _fetch(args: argparse.Namespace) -> int:
    store, box = _identity(args.identity, "cloud backups fetch")
    if args.out.exists():
        raise UsageError(
            f"{args.out} exists already",
            where="cloud backups fetch --out",
            fix="name a new file; nothing was written",
        )
    info, parts = _choose(args, store, box, "cloud backups fetch")
    data = reassemble(parts)
    write_private(args.out, "")  # created 0600 before the backup's bytes go in
    args.out.write_bytes(data)
    print(
        f"wrote {args.out} ({info.size} bytes, sha256 {info.sha256[:16]}..., journal to seq "
        f"{info.head_seq}); on the box, with the daemon stopped: gateway restore {args.out}"
    )
    return 0


def _send(args: argparse.Namespace) -> int:
    """Each chunk retained on the box's own `restore/{part}` topic (kept a day)."""
    from cloud.commands import broker_options
    from cloud.publish import OneShot

    store, box = _identity(args.identity, "cloud backups send")
    info, parts = _choose(args, store, box, "cloud backups send")
    reassemble(parts)  # the checksum holds before anything is sent
    topics = Topics(args.root, store, box)
    properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    properties.MessageExpiryInterval = RESTORE_EXPIRY_S
    with OneShot(broker_options(args), f"cloud-backups-{uuid.uuid4().hex[:8]}") as link:
        for body in sorted(parts, key=lambda b: int(b["part"])):
            sent = link.client.publish(
                topics.restore_part(int(body["part"])),
                json.dumps(body).encode(),
                qos=1,
                retain=True,
                properties=properties,
            )
            sent.wait_for_publish(30)
            if not sent.is_published():
                raise UsageError(
                    "the broker did not take a chunk",
                    where="cloud backups send",
                    fix="check the broker and head office's access rules; send again",
                )
    print(
        f"sent {info.name} ({info.parts} chunk(s), journal to seq {info.head_seq}) to "
        f"{store}/{box}; there, with the daemon stopped: gateway restore --from-head-office"
    )
    return 0
