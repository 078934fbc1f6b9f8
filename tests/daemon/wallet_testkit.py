"""Wallet payments through `gateway run`: the codes, the settings pointing at a
`WalletSimulator`, and reads of what the box journalled (shared by the daemon's and head
office's payment tests)."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import subprocess
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from daemon_testkit import GATEWAY, Daemon, box_config

from gateway.database import open_database
from gateway.harness.wallets import WalletSimulator
from gateway.journal.verify import verify_journal

WECHAT = "134567890123456789"
ALIPAY = "28765432109876543210"
ITEM = "7612345001012"


def wallet_config(directory: Path, sim: WalletSimulator, revoke_s: float = 3.0) -> Path:
    private, public = sim.write_keys(directory)
    return box_config(
        directory,
        f"""
[payments]
poll_s = 0.2
revoke_s = {revoke_s}
timeout_s = 2

[payments.wechat]
enabled = true
url = "{sim.url}"
appid = "wx2421b1c4370ec43b"
mch_id = "10000100"
key = "{sim.wechat_key}"
sign_type = "{sim.wechat_sign_type}"

[payments.alipay]
enabled = true
url = "{sim.url}/gateway.do"
app_id = "2021000000000001"
private_key_file = "{private}"
alipay_public_key_file = "{public}"
""",
    )


def payments(directory: Path) -> list[dict[str, Any]]:
    with contextlib.closing(
        sqlite3.connect(f"file:{directory / 'storegate.db'}?mode=ro", uri=True)
    ) as conn:
        return [
            json.loads(body)
            for (body,) in conn.execute(
                "SELECT body FROM journal_record WHERE kind = 'payment' ORDER BY seq"
            )
        ]


def sales(directory: Path) -> list[dict[str, Any]]:
    with contextlib.closing(
        sqlite3.connect(f"file:{directory / 'storegate.db'}?mode=ro", uri=True)
    ) as conn:
        return [
            json.loads(body)
            for (body,) in conn.execute(
                "SELECT body FROM journal_record WHERE kind = 'sale' ORDER BY seq"
            )
        ]


def wait_lane(daemon: Daemon, check: Any, timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        lane: dict[str, Any] = daemon.status()["lane"]  # type: ignore[assignment]
        if check(lane):
            return lane
        if time.monotonic() > deadline:
            raise AssertionError(f"lane never got there: {lane}\n{daemon.output()[-3000:]}")
        time.sleep(0.05)


def ring_up(daemon: Daemon) -> None:
    if daemon.status()["lane"]["state"] == "closed":  # type: ignore[index]
        assert daemon.key("sign_on", staff="101", pin="472951")["ok"]
    assert daemon.key("scan", code=ITEM)["ok"]


def states(directory: Path) -> list[str]:
    return [p["state"] for p in payments(directory)]


def assert_code_kept_nowhere(directory: Path) -> None:
    for path in directory.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for code in (WECHAT, ALIPAY):
                assert code.encode() not in data, path


def report_x(config: Path, *, as_json: bool = True) -> Any:
    args = [str(GATEWAY), "report", "x", "--config", str(config)]
    result = subprocess.run(
        [*args, "--json"] if as_json else args, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result
    return json.loads(result.stdout) if as_json else result.stdout


def sale_total(sale: dict[str, Any]) -> Any:
    return Decimal(sale["totals"]["total"])


def refunds(directory: Path) -> list[dict[str, Any]]:
    with contextlib.closing(
        sqlite3.connect(f"file:{directory / 'storegate.db'}?mode=ro", uri=True)
    ) as conn:
        return [
            json.loads(body)
            for (body,) in conn.execute(
                "SELECT body FROM journal_record WHERE kind = 'refund' ORDER BY seq"
            )
        ]


def settle(daemon: Daemon) -> None:
    """Wait for the payment left by the last kill to be resolved, then finish its sale."""
    lane = wait_lane(daemon, lambda lane: lane["payment"] is None, timeout=30)
    if lane["state"] == "closed":
        assert daemon.key("sign_on", staff="101", pin="472951")["ok"]
    elif lane["state"] == "tendering":  # revoked or declined: the customer pays cash
        paid = daemon.key("tender", type="cash", amount="50")
        assert paid["ok"] and paid["state"] == "idle", paid


def check_whole(database: Path) -> None:
    report = verify_journal(open_database(database, readonly=True))
    assert report.ok, report.describe()
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn:
        orphans = conn.execute(
            "SELECT count(*) FROM journal_record r LEFT JOIN lane_doc d ON d.seq = r.seq "
            "WHERE r.kind IN ('sale', 'payment') AND d.seq IS NULL"
        ).fetchone()[0]
    assert orphans == 0
