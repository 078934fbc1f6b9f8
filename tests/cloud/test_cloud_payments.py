"""Head office reconciles wallet payments (issue 16, item 6): a real `gateway run` pays
sales through the provider simulators (one refunded, one left in doubt by a kill -9); its
journal is stored through ingest's own checks; the simulators' settlement statements, in
the providers' documented layouts, are imported with `cloud payments import`; and
`cloud report payments` lists what does not match, what is in doubt and what was refunded
(SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from cloud_testkit import cloud_cli, store_journal_directly

from gateway.database import open_database
from gateway.harness.wallets import WalletSimulator
from gateway.journal import Journal

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "daemon"))
from daemon_testkit import NO_SYNC, Daemon
from wallet_testkit import (
    ALIPAY,
    ITEM,
    WECHAT,
    payments,
    sales,
    wait_lane,
    wallet_config,
)

FOREIGN = "4200000000000000000000009999"  # a payment the provider has and no box recorded


def play(tmp_path: Path, sim: WalletSimulator) -> Path:
    config = wallet_config(tmp_path, sim)
    daemon = Daemon(tmp_path, config, NO_SYNC)
    assert daemon.key("sign_on", staff="101", pin="472951")["ok"]
    for code in (WECHAT, ALIPAY, WECHAT):
        assert daemon.key("scan", code=ITEM)["ok"]
        assert daemon.key("scan", code=code)["ok"]
        wait_lane(daemon, lambda lane: lane["state"] == "idle")
    third = sales(tmp_path)[-1]["receipt_id"]
    asked = daemon.key(
        "refund", receipt=third, reason="broken", tender="mobile", supervisor="201",
        supervisor_pin="836104",
    )  # fmt: skip
    assert asked["ok"], asked
    deadline = time.monotonic() + 20
    while payments(tmp_path)[-1]["state"] != "paid" and time.monotonic() < deadline:
        time.sleep(0.05)
    sim.script("hold")  # charged; the box is killed before it hears so: in doubt
    assert daemon.key("scan", code=ITEM)["ok"]
    assert daemon.key("scan", code=WECHAT)["ok"]
    sim.wait_for("wechat micropay", times=3)  # sales 1 and 3, and this one
    daemon.process.kill()
    assert daemon.process.wait(10) == -9
    sim.release()
    return tmp_path / "storegate.db"


def report(db_url: str, *extra: str) -> list[dict[str, Any]]:
    status, out, err = cloud_cli("report", "payments", "--db", db_url, "--json", *extra)
    assert status == 0, err
    rows: list[dict[str, Any]] = json.loads(out)["rows"]
    return rows


def test_statements_reconcile_against_what_ingest_stored(tmp_path: Path, db_url: str) -> None:
    sim = WalletSimulator()
    sim.start()
    try:
        database = play(tmp_path, sim)
    finally:
        sim.stop()
    db = open_database(database)
    try:
        store_journal_directly(db_url, "store-1", "box-1", Journal(db))
    finally:
        db.conn.close()
    day = payments(tmp_path)[0]["business_day"]
    wechat = tmp_path / "wechat-bill.csv"
    text = sim.statement("wechat", day)
    extra = (
        text.splitlines()[1]
        .replace(text.splitlines()[1].split(",")[5], f"`{FOREIGN}")
        .replace(text.splitlines()[1].split(",")[6], "`not-ours-1")
    )
    lines = text.splitlines()
    wechat.write_text("\n".join([lines[0], *lines[1:-2], extra, *lines[-2:]]) + "\n")
    alipay = tmp_path / "alipay-bill.csv"
    alipay.write_bytes(sim.statement("alipay", day).encode("gb18030"))  # as Alipay exports
    for provider, path in (("wechat", wechat), ("alipay", alipay)):
        status, out, err = cloud_cli(
            "payments", "import", str(path), "--provider", provider, "--store", "store-1",
            "--db", db_url,
        )  # fmt: skip
        assert status == 0, err
        assert "already imported" in out
    status, out, _ = cloud_cli(
        "payments", "import", str(wechat), "--provider", "wechat", "--store", "store-1",
        "--db", db_url,
    )  # fmt: skip
    assert status == 0 and "(0 new, 5 already imported)" in out, out

    rows = report(db_url)
    statuses = sorted((r["provider"], r["kind"], r["status"]) for r in rows)
    assert statuses == [
        ("wechat", "payment", "in doubt"),
        ("wechat", "payment", "not in journal"),
        ("wechat", "refund", "refunded"),
    ], rows
    foreign = next(r for r in rows if r["status"] == "not in journal")
    assert foreign["transaction"] == FOREIGN and foreign["our number"] == "not-ours-1"
    everything = report(db_url, "--all")
    matched = [r for r in everything if r["status"] == "matched"]
    assert sorted(r["provider"] for r in matched) == ["alipay", "wechat", "wechat"]
    assert report(db_url, "--store", "store-2") == []
    assert report(db_url, "--from", "2000-01-01", "--to", "2000-01-02") == []


def test_a_file_that_is_not_a_statement_is_refused(tmp_path: Path, db_url: str) -> None:
    bad = tmp_path / "bill.csv"
    bad.write_text("date,amount\n2026-12-02,1.75\n")
    status, _, err = cloud_cli(
        "payments", "import", str(bad), "--provider", "wechat", "--store", "store-1",
        "--db", db_url,
    )  # fmt: skip
    assert status == 2 and "no header line beginning 交易时间" in err, err
    assert "Traceback" not in err
    broken = tmp_path / "broken.csv"
    broken.write_text("交易时间,微信订单号,商户订单号,交易状态,应结订单金额,商户退款单号,退款金额\n"
                      "`2026-12-02 12:00:00,`42,`o1,`SUCCESS,`abc,`0,`0.00\n")  # fmt: skip
    status, _, err = cloud_cli(
        "payments", "import", str(broken), "--provider", "wechat", "--store", "store-1",
        "--db", db_url,
    )  # fmt: skip
    assert status == 2 and "line 2: 'abc' is not an amount" in err, err
    status, _, err = cloud_cli(
        "payments", "import", str(tmp_path / "nope.csv"), "--provider", "alipay",
        "--store", "store-1", "--db", db_url,
    )  # fmt: skip
    assert status != 0 and "cannot read" in err and "Traceback" not in err
