"""`gateway staff`, `gateway report x|z` and `gateway receipt` as a technician runs them
(the command tree run in-process; the crash test runs `gateway receipt` as a process)."""

from __future__ import annotations

import io
import json
import sqlite3
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from decimal import Decimal
from pathlib import Path

import pyotp
from lane_testkit import CASHIER, SETTINGS, Clock, make_lane

from gateway.cli import main
from gateway.lane import events as ev


def gateway(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """Run the real `gateway` command tree in this process (the crash test spawns one)."""
    out, err, before = io.StringIO(), io.StringIO(), sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        with redirect_stdout(out), redirect_stderr(err):
            try:
                code = main([*args, "--config", str(SETTINGS)])
            except SystemExit as exc:  # argparse refusing a usage
                code = int(exc.code or 0)
    finally:
        sys.stdin = before
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())


def test_staff_report_and_receipt_commands(tmp_path: Path, catalog, settings) -> None:
    db = tmp_path / "storegate.db"
    lane = make_lane(db, catalog, settings)
    clock = Clock()
    lane.handle(ev.OpenShift(clock(), CASHIER))
    lane.handle(ev.Scan(clock(), "7612345001234"))
    lane.handle(ev.Tender(clock(), "cash", Decimal(5)))
    lane.book.db.conn.close()

    added = gateway(
        "staff",
        "add",
        "401",
        "Dora",
        "supervisor",
        "--card",
        "CARD-DORA",
        "--ceiling",
        "50.00",
        "--pin-stdin",
        "--by",
        "301",
        "--db",
        str(db),
        stdin="508273\n246810\n",
    )
    assert added.returncode == 0, added.stderr
    unapproved = gateway("staff", "totp", "401", "--db", str(db))
    assert unapproved.returncode == 1 and "--by STAFF_ID" in unapproved.stderr
    totp = gateway(
        "staff", "totp", "401", "--by", "301", "--pin-stdin", "--db", str(db), stdin="508273\n"
    )
    assert totp.stdout.startswith("otpauth://totp/"), totp.stderr
    bad_role = gateway("staff", "add", "402", "Eve", "boss", "--db", str(db))
    assert bad_role.returncode == 2

    x = gateway("report", "x", "--json", "--db", str(db))
    assert x.returncode == 0, x.stderr
    figures = json.loads(x.stdout)
    assert figures["sales"] == 1 and figures["gross"] == "1.61"

    checked = gateway("report", "x", "--check", "--json", "--db", str(db))
    assert checked.returncode == 0, checked.stderr
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE lane_doc SET digest = replace(digest, '161', '999')")
    tampered = gateway("report", "x", "--check", "--db", str(db))
    assert tampered.returncode == 1 and "disagree" in tampered.stderr
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE lane_doc SET digest = replace(digest, '999', '161')")
    text = gateway("report", "x", "--db", str(db))
    assert text.returncode == 0 and "X REPORT shift box-1-S00001" in text.stdout
    assert "Sales" in text.stdout and "1.61" in text.stdout

    open_shift = gateway(
        "report", "z", "--date", "2026-11-24", "--card", "CARD-DORA", "--db", str(db)
    )
    assert open_shift.returncode == 1 and "shift is still open" in open_shift.stderr

    lane = make_lane(db, catalog, settings)
    lane.handle(ev.CloseShift(clock(), Decimal("1.60")))
    lane.book.db.conn.close()
    cashier = gateway(
        "report",
        "z",
        "--date",
        "2026-11-24",
        "--staff",
        "101",
        "--pin-stdin",
        "--db",
        str(db),
        stdin="472951\n",
    )
    assert cashier.returncode == 1 and "may not close the day" in cashier.stderr
    z = gateway(
        "report", "z", "--date", "2026-11-24", "--card", "CARD-DORA", "--json", "--db", str(db)
    )
    assert z.returncode == 0, z.stderr
    assert json.loads(z.stdout)["z_number"] == 1
    twice = gateway("report", "z", "--date", "2026-11-24", "--card", "CARD-DORA", "--db", str(db))
    assert twice.returncode == 1 and "already closed" in twice.stderr

    reprint = gateway("receipt", "2", "--width", "32", "--db", str(db))
    assert reprint.returncode == 0 and "*** COPY / 重印 ***" in reprint.stdout
    assert max(len(line) for line in reprint.stdout.splitlines()) <= 32
    missing = gateway("receipt", "999", "--db", str(db))
    assert missing.returncode == 2 and "no journal record 999" in missing.stderr


def test_a_truncated_database_is_refused_with_a_fix(tmp_path: Path, catalog, settings) -> None:
    db = tmp_path / "storegate.db"
    lane = make_lane(db, catalog, settings)
    lane.book.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    lane.book.db.conn.close()
    db.write_bytes(db.read_bytes()[:60])
    answer = gateway("receipt", "1", "--db", str(db))
    assert answer.returncode == 3
    assert "truncated" in answer.stderr and "fix:" in answer.stderr


def test_staff_changes_need_an_admins_pin_and_totp_once_enrolled(
    tmp_path: Path, catalog, settings
) -> None:
    db = tmp_path / "storegate.db"
    lane = make_lane(db, catalog, settings)  # admin 301 (PIN 508273) exists, no TOTP yet
    lane.book.db.conn.close()
    first = gateway(  # bootstrap: nobody enrolled, the admin's PIN approves
        "staff", "totp", "301", "--by", "301", "--pin-stdin", "--db", str(db), stdin="508273\n"
    )
    assert first.returncode == 0 and first.stdout.startswith("otpauth://")
    secret = pyotp.parse_uri(first.stdout.strip()).secret
    refused = gateway(
        "staff", "add", "402", "Eve", "cashier", "--pin-stdin", "--db", str(db), stdin="135790\n"
    )
    assert refused.returncode == 2 and "--by STAFF_ID --totp CODE" in refused.stderr
    wrong = gateway(
        "staff",
        "add",
        "402",
        "Eve",
        "cashier",
        "--pin-stdin",
        "--by",
        "301",
        "--totp",
        "000000",
        "--db",
        str(db),
        stdin="508273\n135790\n",
    )
    assert wrong.returncode == 1 and "authenticator code is not valid" in wrong.stderr
    code = pyotp.TOTP(secret).now()
    done = gateway(
        "staff",
        "add",
        "402",
        "Eve",
        "cashier",
        "--pin-stdin",
        "--by",
        "301",
        "--totp",
        code,
        "--db",
        str(db),
        stdin="508273\n135790\n",
    )
    assert done.returncode == 0, done.stderr
    cashier = gateway(
        "staff",
        "add",
        "403",
        "Fay",
        "cashier",
        "--pin-stdin",
        "--by",
        "402",
        "--totp",
        code,
        "--db",
        str(db),
        stdin="135790\n246802\n",
    )
    assert cashier.returncode == 1 and "may not change_settings" in cashier.stderr
