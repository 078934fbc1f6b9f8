"""`gateway demo` end to end as the README runs it: real subprocesses (a broker, cloud
ingest, gateway run), simulated devices, a broker outage; totals must agree. Once on
Mosquitto and once on the embedded amqtt broker (MQTT 3.1.1, memory only), which is what
a machine without the Mosquitto binary gets."""

from __future__ import annotations

import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from daemon_testkit import GATEWAY

from gateway.database import open_database
from gateway.errors import UsageError
from gateway.harness import demo
from gateway.journal import verify_journal


def _run_demo(tmp_path: Path, *options: str) -> str:
    done = subprocess.run(
        [str(GATEWAY), "demo", "--workdir", str(tmp_path), *options],
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def _assert_the_day_agrees(out: str, tmp_path: Path) -> None:
    assert "the broker goes down" in out and "the broker is back" in out
    assert "paid by card swiped at the reader (the box saw only 550000******0004)" in out
    assert re.search(r"paid by WeChat Pay: .* kept only 1345…6789\), .* charged 1x", out), out
    for path in tmp_path.rglob("*"):  # the payment code, scanned at the serial scanner
        if path.is_file() and not path.is_fifo():
            assert b"134567890123456789" not in path.read_bytes(), path
    sale_totals = [Decimal(t) for t in re.findall(r"sale +\d+: .* total ([0-9.]+),", out)]
    assert len(sale_totals) == 12
    z_sales = re.search(r"^Sales +(\d+) +([0-9.]+)$", out, re.M)
    assert z_sales is not None, out
    assert int(z_sales.group(1)) == 12 and Decimal(z_sales.group(2)) == sum(sale_totals)
    office = re.search(r"tickets=(\d+) .* sales=([0-9.]+)", out)
    assert office is not None
    assert (int(office.group(1)), Decimal(office.group(2))) == (12, sum(sale_totals))
    assert "IDENTICAL" in out
    assert re.search(r"^Paid out +1  20\.00$", out, re.M), out  # the day's paid-out, on the Z
    assert re.search(r"^Over/short +-0\.50$", out, re.M), out  # counted 0.50 short of X
    receipts = sorted((tmp_path / "box" / "receipts").glob("*-sale.txt"))
    assert len(receipts) == 12
    _assert_the_journal_kept_the_day(tmp_path / "box" / "storegate.db")
    done_in = re.search(r"done in ([0-9.]+) s", out)
    assert done_in is not None and float(done_in.group(1)) < 120


def _assert_the_journal_kept_the_day(path: Path) -> None:
    """After the daemon stopped, its file holds every record the day made (a lost WAL once
    left the first two records only, and `gateway report x` found one sale)."""
    db = open_database(path, readonly=True)
    try:
        report = verify_journal(db)
        kinds = dict(db.conn.execute("SELECT kind, count(*) FROM journal_record GROUP BY kind"))
        (head,) = db.conn.execute("SELECT head_seq FROM journal_state").fetchone()
    finally:
        db.conn.close()
    assert report.ok, report.describe()
    assert kinds["sale"] == 12 and kinds["z_report"] == 1, kinds
    assert head == sum(kinds.values())


def test_full_demo_rides_through_the_outage_and_head_office_agrees(tmp_path: Path) -> None:
    out = _run_demo(tmp_path)
    assert "private Mosquitto on 127.0.0.1:" in out
    assert re.search(r"head office in the browser: http://127\.0\.0\.1:\d+/ \(sign in as demo", out)
    _assert_the_day_agrees(out, tmp_path)


def test_full_demo_on_the_embedded_broker_rides_through_the_outage_too(tmp_path: Path) -> None:
    """amqtt loses sessions and retained acks when killed: the box re-sends what head
    office has not acknowledged and ingest stores each record once, so the day still
    agrees. Both sides find out on their own that the broker speaks only 3.1.1."""
    out = _run_demo(tmp_path, "--broker", "embedded")
    assert "embedded MQTT 3.1.1 broker (amqtt, its own process)" in out
    assert "the box is connected to the broker (MQTT 3.1.1)" in out
    _assert_the_day_agrees(out, tmp_path)
    ingest_log = (tmp_path / "cloud-ingest.log").read_text()
    assert "trying MQTT 3.1.1" in ingest_log and "ONLY ingest worker" in ingest_log
    stored = re.search(r"(\d+) records stored, (\d+) duplicates", ingest_log)
    assert stored is not None and int(stored.group(1)) > 12, ingest_log[-2000:]


def test_broker_choice(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(demo, "MOSQUITTO", str(tmp_path / "no-mosquitto"))
    assert demo.choose_broker("auto") == "embedded"  # amqtt is in the test extra
    assert demo.choose_broker("embedded") == "embedded"
    with pytest.raises(UsageError, match="no Mosquitto binary") as refused:
        demo.choose_broker("mosquitto")
    assert "apt install mosquitto" in refused.value.describe()


def test_the_daemon_never_imports_amqtt() -> None:
    code = (
        "import sys, gateway.cli, gateway.daemon.status, gateway.daemon.box, "
        "gateway.sync.service; print(sorted(m for m in sys.modules if 'amqtt' in m))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"


def test_quick_demo_prints_receipts_and_a_day_total_that_adds_up() -> None:
    done = subprocess.run(
        [str(GATEWAY), "demo", "--quick"], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    totals = [Decimal(t) for t in re.findall(r"^TOTAL CHF +([0-9.]+)$", done.stdout, re.M)]
    assert totals, done.stdout
    day = re.search(r"total ([0-9.]+)$", done.stdout.strip().splitlines()[-1])
    assert day is not None
    assert Decimal(day.group(1)) == sum(totals)
