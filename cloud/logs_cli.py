"""`cloud logs STORE/BOX [--upload ID] [--json]`: a box's uploaded log lines.

Reads the `log.upload` events ingest stored in `box_event` (sent by the box for `cloud cmd
STORE BOX upload_logs`, gateway.sync.log_upload) and puts an upload's parts back together:
the newest upload unless `--upload` names one. Argument handling and printing only.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from cloud.box_uploads import log_uploads
from cloud.schema import open_current
from gateway.errors import UsageError
from gateway.sync.log_upload import Upload, assemble

ArgAdder = Callable[[argparse.ArgumentParser], None]
INCOMPLETE = 1


def register(sub: Any, db_arg: ArgAdder, broker_args: ArgAdder) -> None:
    parser = sub.add_parser(
        "logs",
        help="a box's log lines, uploaded by `cloud cmd STORE BOX upload_logs`",
        description="Print the newest log upload of a box (or --upload ID) as ingest stored "
        "it. Ask for one first: `cloud cmd STORE BOX upload_logs [lines=N] [max_bytes=N]`.",
    )
    parser.add_argument("identity", metavar="STORE/BOX", help="the box, e.g. store-1/box-1")
    parser.add_argument("--upload", help="the upload id `cloud cmd` printed (default: newest)")
    parser.add_argument("--json", action="store_true", help="as JSON")
    db_arg(parser)
    parser.set_defaults(func=_logs)


def _logs(args: argparse.Namespace) -> int:
    store, _, box = args.identity.partition("/")
    if not store or not box or "/" in box:
        raise UsageError(
            f"{args.identity!r} is not STORE/BOX",
            where="cloud logs",
            fix="name the box as store-id/box-id, e.g. store-1/box-1",
        )
    db = open_current(args.db)
    try:
        found = log_uploads(db, store, box)
    finally:
        db.close()
    if not found:
        raise UsageError(
            f"no log upload from {store}/{box} has arrived",
            where="cloud logs",
            fix=f"ask for one: `cloud cmd {store} {box} upload_logs --key KEY.pem`",
        )
    chosen = args.upload or next(iter(found))
    if chosen not in found:
        raise UsageError(
            f"{store}/{box} sent no upload {chosen!r}",
            where="cloud logs --upload",
            fix=f"uploads stored: {', '.join(found)}",
        )
    upload = assemble(found[chosen])
    _print(upload, args.json)
    if upload.missing:
        print(
            f"cloud logs: upload {upload.upload}: part(s) {', '.join(map(str, upload.missing))} "
            f"of {upload.parts} not stored yet (the box sends them as its link allows)",
            file=sys.stderr,
        )
        return INCOMPLETE
    return 0


def _print(upload: Upload, as_json: bool) -> None:
    if as_json:
        body = {"upload": upload.upload, "parts": upload.parts, "missing": upload.missing}
        print(json.dumps({**body, "lines": upload.lines}, indent=2, ensure_ascii=False))
        return
    for line in upload.lines:
        print(line)
