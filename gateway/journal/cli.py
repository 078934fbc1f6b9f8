"""`gateway journal verify|export|status`: read-only commands over the box's journal.

Every command opens its own read-only connection (the daemon stays the only writer) and
never changes the file. Exit status: 0 intact / done, 1 chain broken, 2 usage, 3 database
unusable (gateway.errors.DatabaseError).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import sqlite_utils

from gateway.database import open_database
from gateway.errors import UsageError
from gateway.journal.chain import canonical_json
from gateway.journal.store import Journal
from gateway.journal.verify import verify_journal
from gateway.private_files import open_private
from gateway.settings import DEFAULT_CONFIG_PATH, load_settings

EXPORT_BATCH = 2000
CHAIN_BROKEN = 1


def register(sub: Any) -> None:
    journal = sub.add_parser("journal", help="verify, export and inspect the sales journal")
    actions = journal.add_subparsers(dest="journal_command", metavar="ACTION", required=True)
    verify = actions.add_parser(
        "verify",
        help="walk the hash chain; name the first record altered, removed or inserted",
        description="Exits 0 when the chain is intact, 1 naming the first bad record, "
        "3 when the database file cannot be read.",
    )
    _database_options(verify)
    verify.set_defaults(func=_verify)
    export = actions.add_parser(
        "export", help="write records as JSON lines (wire form, one record per line)"
    )
    _database_options(export)
    export.add_argument(
        "--from",
        dest="first",
        type=int,
        metavar="SEQ",
        default=None,
        help="first seq to export (default: the oldest kept)",
    )
    export.add_argument(
        "--to",
        dest="last",
        type=int,
        metavar="SEQ",
        default=None,
        help="last seq to export (default: the head)",
    )
    export.add_argument("--out", metavar="FILE", help="write here instead of standard output")
    export.set_defaults(func=_export)
    status = actions.add_parser("status", help="head seq, acknowledged seq and sync backlog")
    _database_options(status)
    status.set_defaults(func=_status)


def _database_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", metavar="PATH", help="database file (default: from settings)")
    parser.add_argument(
        "--config", metavar="PATH", help=f"settings file (default {DEFAULT_CONFIG_PATH})"
    )


def _open(args: argparse.Namespace) -> sqlite_utils.Database:
    path = Path(args.db) if args.db else load_settings(args.config).paths.database
    return open_database(path, readonly=True)


def _verify(args: argparse.Namespace) -> int:
    report = verify_journal(_open(args))
    print(report.describe(), file=sys.stdout if report.ok else sys.stderr)
    return 0 if report.ok else CHAIN_BROKEN


def _export(args: argparse.Namespace) -> int:
    journal = Journal(_open(args))
    state = journal.state()
    first = state.anchor_seq + 1 if args.first is None else args.first
    last = state.head_seq if args.last is None else args.last
    if first > last or first < 1:
        raise UsageError(
            f"empty or invalid range --from {first} --to {last}",
            where="gateway journal export",
            fix=f"records kept are {state.anchor_seq + 1}..{state.head_seq}",
        )
    if first <= state.anchor_seq:
        raise UsageError(
            f"records 1..{state.anchor_seq} are older than the retention period "
            "and were pruned from this till",
            where="gateway journal export",
            fix=f"head office keeps every record; this till keeps "
            f"{state.anchor_seq + 1}..{state.head_seq}",
        )
    with _output(args.out) as out:
        written = sum(
            1
            for record in _records(journal, first, last)
            if out.write(canonical_json(record.to_wire()).decode() + "\n")
        )
    print(f"exported {written} records ({first}..{last})", file=sys.stderr)
    return 0


def _records(journal: Journal, first: int, last: int) -> Iterator[Any]:
    after = first - 1
    while after < last:
        batch = journal.read(after, min(EXPORT_BATCH, last - after))
        if not batch:
            return
        yield from batch
        after = batch[-1].seq


@contextlib.contextmanager
def _output(path: str | None) -> Iterator[IO[str]]:
    if path is None:
        yield sys.stdout
        return
    try:
        handle = open_private(Path(path))  # the journal is the shop's books: owner only
    except OSError as exc:
        raise UsageError(
            f"cannot write the export: {exc.strerror}",
            where=path,
            fix="choose a writable --out FILE",
        ) from exc
    with handle:
        yield handle


def _status(args: argparse.Namespace) -> int:
    journal = Journal(_open(args))
    state = journal.state()
    backlog, oldest = journal.backlog()
    print(f"head seq:          {state.head_seq}")
    print(f"acknowledged seq:  {state.acknowledged_seq}")
    print(f"backlog:           {backlog} record(s)" + (f", oldest {oldest}" if oldest else ""))
    print(f"pruned up to seq:  {state.anchor_seq}")
    return 0
