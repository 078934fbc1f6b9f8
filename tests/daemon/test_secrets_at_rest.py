"""Secrets at rest, played as the attacker (issue 13 item 8).

A box whose daemon and CLIs ran with umask 000 in a data folder open to everyone: another
local user (created here with useradd, reading with runuser) cannot read the database,
its sync state, a backup, a journal export, a receipt copy, the journal checkpoint or the
secrets key. The database file (and its backup) copied off the box holds no TOTP seed,
neither one enrolled now nor one a former version kept in the clear — and the seeds still
work through `gateway run`. A PIN hash of the former, cheaper kind still signs its person
on and is replaced by the current one at that sign-on.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pyotp
import pytest
from daemon_testkit import GATEWAY, Daemon, box_config, local_user

from gateway.lane.staff import LEGACY_COST, PIN_COST, hash_pin, stored_cost

MILK = "7612345001012"
ADMIN_PIN = "508273"
TECH_PIN = "615249"
OLD_SEED = pyotp.random_base32()  # what a box before issue 13 kept in lane_staff as is


@pytest.fixture
def outsider() -> Iterator[str]:
    """A local user in none of the box's groups."""
    with local_user(f"sgout{os.getpid() % 100000}") as name:
        yield name


@pytest.fixture
def open_folder() -> Iterator[Path]:
    """A folder anyone may enter (as a carelessly made data folder would be), umask 000."""
    folder = Path(tempfile.mkdtemp(prefix="storegate-secrets-", dir="/tmp"))
    os.chmod(folder, 0o755)
    old = os.umask(0)
    try:
        yield folder
    finally:
        os.umask(old)
        shutil.rmtree(folder, ignore_errors=True)


def gateway(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """The real CLI, inheriting the test's umask 000."""
    return subprocess.run(
        [str(GATEWAY), *args], input=stdin, capture_output=True, text=True, timeout=60
    )


def readable_by(user: str, path: Path) -> bool:
    done = subprocess.run(["runuser", "-u", user, "--", "cat", str(path)], capture_output=True)
    return done.returncode == 0


def plant_old_technician(database: Path) -> None:
    """Technician 401 as a box before issue 13 stored them: clear seed, one-lane hash."""
    salt = os.urandom(16)
    with contextlib.closing(sqlite3.connect(database)) as conn, conn:
        conn.execute(
            "INSERT INTO lane_staff (id, name, role, pin_salt, pin_hash, totp_secret) "
            "VALUES ('401', 'Ines', 'technician', ?, ?, ?)",
            (salt, hash_pin(TECH_PIN, salt, LEGACY_COST), OLD_SEED),
        )


def stored_pin_cost(database: Path, staff_id: str) -> object:
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn:
        row = conn.execute("SELECT pin_hash FROM lane_staff WHERE id = ?", (staff_id,)).fetchone()
    return stored_cost(row[0])


def raw_bytes(*paths: Path) -> bytes:
    return b"".join(p.read_bytes() for p in paths if p.exists())


def test_the_boxs_files_are_the_service_accounts_alone_and_hold_no_seed(
    open_folder: Path, outsider: str
) -> None:
    data = open_folder / "data"
    data.mkdir(mode=0o755)
    config = box_config(data)  # cashier 101, supervisor 201 (umask 000)
    database = data / "storegate.db"
    added = gateway(
        "staff", "add", "301", "Chen", "admin", "--config", str(config), "--pin-stdin",
        stdin=f"{ADMIN_PIN}\n",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    # the first admin enrols her own authenticator, with her PIN (this ends the bootstrap)
    enrolled = gateway(
        "staff", "totp", "301", "--by", "301", "--config", str(config), "--pin-stdin",
        stdin=f"{ADMIN_PIN}\n",
    )  # fmt: skip
    assert enrolled.returncode == 0, enrolled.stderr
    seed = pyotp.parse_uri(enrolled.stdout.strip()).secret
    plant_old_technician(database)
    assert stored_pin_cost(database, "401") == LEGACY_COST

    daemon = Daemon(data, config)
    try:
        assert daemon.key("sign_on", staff="101", pin="472951")["ok"]
        assert daemon.key("scan", code=MILK)["ok"]
        assert daemon.key("tender", type="cash", amount="5")["ok"]
        # both second factors work through the daemon: the old clear seed (sealed at start)
        # approves a change, and so does the seed enrolled today
        for by, pin, secret, new in (
            ("401", TECH_PIN, OLD_SEED, "102"),
            ("301", ADMIN_PIN, seed, "103"),
        ):
            code = pyotp.TOTP(secret).at(datetime.now(UTC))
            change = gateway(
                "staff", "add", new, "Dora", "cashier", "--config", str(config),
                "--by", by, "--totp", code, "--pin-stdin", stdin=f"{pin}\n731904\n",
            )  # fmt: skip
            assert change.returncode == 0, change.stderr
        deadline = time.monotonic() + 10
        while not list((data / "receipts").glob("*.txt")):
            assert time.monotonic() < deadline, "no receipt copy written"
            time.sleep(0.05)
        backup = gateway("backup", "--config", str(config))
        assert backup.returncode == 0, backup.stderr
        export = open_folder / "journal.jsonl"
        exported = gateway("journal", "export", "--config", str(config), "--out", str(export))
        assert exported.returncode == 0, exported.stderr
    finally:
        assert daemon.stop() == 0, daemon.output()

    # the old, cheaper PIN hash signed 401 on and was replaced by the current one
    assert stored_pin_cost(database, "401") == PIN_COST
    backups = sorted((data / "backups").glob("storegate-*.db"))
    assert backups
    secrets = [
        database,
        data / "sync.db",
        data / "secrets.key",
        data / "journal-checkpoint.json",
        export,
        *backups,
        *(data / "receipts").glob("*.txt"),
    ]
    for path in secrets:
        assert path.exists(), path
        assert path.stat().st_mode & 0o077 == 0, f"{path} is {oct(path.stat().st_mode)}"
        assert not readable_by(outsider, path), f"{outsider} read {path}"
    # the stolen database (and its backup): no seed, in any form SQLite may keep it
    stolen = raw_bytes(database, database.with_name("storegate.db-wal"), *backups)
    for secret in (seed, OLD_SEED):
        assert secret.encode() not in stolen
