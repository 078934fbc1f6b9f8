"""The journal's integrity at start-up, and what the box does when it does not hold.

Policy (docs/daemon.md, *Journal integrity*): a box whose chain does not verify **sells
nothing until a technician acts**. The journal is the store's fiscal record and the
sync outbox: sales appended behind an altered record would look as trustworthy as the
rest, and head office stops acknowledging at the break anyway. The technician either
restores a verified backup (`gateway restore`) or, having kept a copy of the file as
evidence, accepts the break (`gateway accept-break`): that appends a
`journal_break_accepted` record (who, why, where the chain breaks) and sales resume. Only
an admin or technician (`restore_backup`) may, with their PIN (and authenticator code once
second factors exist); the record names them (`by`, `actor`).

Fast start: walking a year of records takes seconds, so the walk starts at a checkpoint
(`<data_dir>/journal-checkpoint.json`, the last seq and hash verified, written atomically
after each good check). The checkpoint's own record must still carry its hash, the head
must match the recorded head and head office's acknowledged record its hash; records
before the checkpoint were verified when it was written (`gateway journal verify` and
`gateway doctor` still walk everything).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from gateway.errors import StoregateError, UsageError
from gateway.journal import verify_journal
from gateway.journal.verify import ChainCheck, Finding, StoredRow
from gateway.private_files import open_private

log = logging.getLogger("storegate.daemon")
CHECKPOINT = "journal-checkpoint.json"
ACCEPTED_KIND = "journal_break_accepted"
_ROWS_AFTER = (
    "SELECT seq, "
    + ", ".join(
        f"CAST(coalesce({column}, '') AS BLOB)" if column != "clock_synced" else column
        for column in ("id", "time", "clock_synced", "kind", "body", "prev_hash", "hash")
    )
    + " FROM journal_record WHERE seq > ? ORDER BY seq"
)
_STATE = (
    "SELECT head_seq, head_hash, acknowledged_seq, acknowledged_hash, anchor_seq, "
    "anchor_hash FROM journal_state WHERE id = 1"
)


@dataclass(frozen=True)
class ChainBroken:
    """Where the chain breaks and what is wrong there (the refusal and the alert say it)."""

    seq: int
    problem: str

    def alert_text(self) -> str:
        return (
            f"journal BROKEN at record {self.seq}: {self.problem}. No sale is taken "
            "until a technician acts: keep a copy of the database file, then restore a "
            "verified backup (`gateway restore PATH`) or accept the break "
            f"(`gateway accept-break --seq {self.seq} --by NAME --reason TEXT`)"
        )


@dataclass(frozen=True)
class Checked:
    broken: ChainBroken | None
    checked: int  # records walked this time
    from_checkpoint: bool


def check_at_start(db: sqlite_utils.Database, data_dir: Path) -> Checked:
    """Verify from the checkpoint (or from the start) to the head; move the checkpoint on."""
    conn = db.conn
    state = conn.execute(_STATE).fetchone()
    if state is None:
        return Checked(ChainBroken(0, "the journal_state row is missing"), 0, False)
    head_seq, head_hash, ack_seq, ack_hash, anchor_seq, _ = state
    start = _usable_checkpoint(conn, data_dir, anchor_seq, head_seq)
    if start is None:
        report = verify_journal(db)
        broken = (
            None
            if report.ok
            else ChainBroken(report.first_bad_seq or 0, report.problem or "does not verify")
        )
        result = Checked(broken, report.checked, False)
    else:
        result = _walk_from(conn, start, head_seq, head_hash, ack_seq, ack_hash)
    if result.broken is None:
        write_checkpoint(data_dir, head_seq, head_hash)
    return result


def write_checkpoint(data_dir: Path, seq: int, digest: str) -> None:
    """Atomically (write, fsync, rename): a torn file would only cost one full walk. The
    checkpoint only saves time: one that cannot be written (a full disk) is logged and the
    next start walks further, but the box starts and sells (docs/daemon.md, full disk)."""
    path = data_dir / CHECKPOINT
    partial = path.with_suffix(".partial")
    try:
        with open_private(partial) as fh:
            json.dump({"seq": seq, "hash": digest}, fh)
            fh.flush()
            os.fsync(fh.fileno())
        partial.replace(path)
    except OSError as exc:
        log.warning("journal checkpoint not written (%s): the next start checks more", exc)
        partial.unlink(missing_ok=True)


def _usable_checkpoint(
    conn: sqlite3.Connection, data_dir: Path, anchor_seq: int, head_seq: int
) -> tuple[int, str] | None:
    try:
        data = json.loads((data_dir / CHECKPOINT).read_text())
        seq, digest = int(data["seq"]), str(data["hash"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if seq <= anchor_seq or seq > head_seq:
        return None  # pruned past it, or a restored (older) file: walk everything
    row = conn.execute("SELECT hash FROM journal_record WHERE seq = ?", (seq,)).fetchone()
    if row is None or row[0] != digest:
        return None  # the checkpoint's record changed: the full walk names where
    return seq, digest


def _walk_from(
    conn: sqlite3.Connection,
    start: tuple[int, str],
    head_seq: int,
    head_hash: str,
    ack_seq: int,
    ack_hash: str,
) -> Checked:
    seq, digest = start
    check = ChainCheck(
        anchor_seq=seq,
        anchor_hash=digest,
        acknowledged_seq=ack_seq if ack_seq > seq else 0,
        acknowledged_hash=ack_hash,
    )
    finding: Finding | None = None
    cursor = conn.execute(_ROWS_AFTER, (seq,))
    while finding is None and (batch := cursor.fetchmany(2048)):
        finding = next((f for f in map(check.feed, map(StoredRow.from_sql, batch)) if f), None)
    finding = (
        finding or check.finish(head_seq, head_hash) or _acknowledged(conn, ack_seq, ack_hash, seq)
    )
    broken = ChainBroken(finding.seq, finding.problem) if finding else None
    return Checked(broken, check.checked, True)


def _acknowledged(
    conn: sqlite3.Connection, ack_seq: int, ack_hash: str, checkpoint: int
) -> Finding | None:
    """Head office's acknowledged record, when before the checkpoint, still has its hash."""
    if ack_seq == 0 or ack_seq > checkpoint:
        return None
    row = conn.execute("SELECT hash FROM journal_record WHERE seq = ?", (ack_seq,)).fetchone()
    if row is not None and row[0] != ack_hash:
        return Finding(
            ack_seq,
            f"record {ack_seq} differs from the one head office "
            "acknowledged: the chain up to it was rewritten",
        )
    return None


def acceptance(body: dict[str, object], broken: ChainBroken | None) -> dict[str, object]:
    """The `journal_break_accepted` record's body for an accept-break request; refuses a
    request that does not name the break as it is now, or lacks who and why."""
    if broken is None:
        raise UsageError(
            "the journal verifies: there is no break to accept",
            where="accept-break",
            fix="nothing to do; the box sells",
        )
    by, reason = str(body.get("by") or "").strip(), str(body.get("reason") or "").strip()
    if not by or not reason:
        raise UsageError(
            "accepting a journal break needs who (--by) and why (--reason)",
            where="accept-break",
            fix="give both; they are journalled",
        )
    if body.get("seq") != broken.seq:
        raise StoregateError(
            f"the journal breaks at record {broken.seq}, not {body.get('seq')!r}",
            where="accept-break",
            fix=f"check with `gateway journal verify`, then pass --seq {broken.seq}",
        )
    return {"seq": broken.seq, "problem": broken.problem, "by": by, "reason": reason}


def accept_break_command(args: argparse.Namespace) -> int:
    """`gateway accept-break --seq N --by STAFF_ID [--totp CODE] --reason TEXT` on the
    running daemon: the admin's or technician's PIN is asked (or read with --pin-stdin)."""
    from gateway.commands.prompts import read_pin
    from gateway.daemon.control import call
    from gateway.daemon.status import socket_path

    request: dict[str, object] = {
        "command": "accept_break",
        "seq": args.seq,
        "by": args.by,
        "reason": args.reason,
    }
    if args.by.strip() and args.reason.strip():
        request["by_pin"] = read_pin(args.pin_stdin, f"PIN of {args.by}: ")
    if args.totp:
        request["totp"] = args.totp
    answer = call(socket_path(args.config), request, timeout=30)
    if not answer.get("ok"):
        print(f"gateway: {answer.get('error')}", file=sys.stderr)
        return int(answer.get("exit_code") or 1)
    print(f"journal break accepted, recorded as record {answer['seq']}; the box sells again")
    return 0
