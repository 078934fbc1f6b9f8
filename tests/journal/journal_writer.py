"""A lane-like writer run as a subprocess by the crash tests (killed with SIGKILL).

Usage: python journal_writer.py DB RECEIPTS [--sales N] [--crash-after-commit K]

For sale n = (receipts already printed) ...: append the sale with id sale-n and, in the same
transaction, debit the member's balance; then "print" the receipt by appending one line
"n seq hash" to RECEIPTS with a single O_APPEND write. On restart it starts again from the
first unprinted sale, so a sale committed but not printed is appended a second time: the
journal must return the stored record and must not debit the balance again.
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import sys
from decimal import Decimal
from pathlib import Path

from gateway.database import open_database
from gateway.journal import Journal

PRICE = Decimal("1.25")


def debit(conn: sqlite3.Connection) -> None:
    (balance,) = conn.execute("SELECT balance FROM member_balance WHERE member = 'M1'").fetchone()
    conn.execute(
        "UPDATE member_balance SET balance = ? WHERE member = 'M1'",
        (str(Decimal(balance) - PRICE),),
    )


def printed_count(receipts: Path) -> int:
    return len(receipts.read_text().splitlines()) if receipts.exists() else 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("db")
    parser.add_argument("receipts", type=Path)
    parser.add_argument("--sales", type=int, default=1_000_000)
    parser.add_argument("--crash-after-commit", type=int, default=-1)
    args = parser.parse_args()
    db = open_database(args.db)
    db.conn.execute(
        "CREATE TABLE IF NOT EXISTS member_balance (member TEXT PRIMARY KEY, balance TEXT NOT NULL)"
    )
    db.conn.execute("INSERT OR IGNORE INTO member_balance VALUES ('M1', '100000.00')")
    journal = Journal(db)
    fd = os.open(args.receipts, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    print("ready", flush=True)
    for n in range(printed_count(args.receipts), args.sales):
        lines = [{"sku": f"SKU{k}", "qty": "1", "amount": str(PRICE / 20)} for k in range(20)]
        record = journal.append(
            "sale",
            {"sale": n, "lines": lines, "total": PRICE, "member": "M1"},
            record_id=f"sale-{n}",
            also=debit,
        )
        if n == args.crash_after_commit:
            os.kill(os.getpid(), signal.SIGKILL)
        os.write(fd, f"{n} {record.seq} {record.hash}\n".encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
