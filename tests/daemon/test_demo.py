"""`gateway demo` end to end as the README runs it: real subprocesses (Mosquitto, cloud
ingest, gateway run), simulated devices, a broker outage; totals must agree."""

from __future__ import annotations

import re
import subprocess
from decimal import Decimal
from pathlib import Path

from daemon_testkit import GATEWAY


def test_full_demo_rides_through_the_outage_and_head_office_agrees(tmp_path: Path) -> None:
    done = subprocess.run([str(GATEWAY), "demo", "--workdir", str(tmp_path)],
                          capture_output=True, text=True, timeout=170, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert "the broker goes down" in out and "the broker is back" in out
    sale_totals = [Decimal(t) for t in re.findall(r"sale +\d+: .* total ([0-9.]+),", out)]
    assert len(sale_totals) == 12
    z_sales = re.search(r"^Sales +(\d+) +([0-9.]+)$", out, re.M)
    assert z_sales is not None, out
    assert int(z_sales.group(1)) == 12 and Decimal(z_sales.group(2)) == sum(sale_totals)
    office = re.search(r"tickets=(\d+) .* sales=([0-9.]+)", out)
    assert office is not None
    assert (int(office.group(1)), Decimal(office.group(2))) == (12, sum(sale_totals))
    assert "IDENTICAL" in out
    receipts = sorted((tmp_path / "box" / "receipts").glob("*-sale.txt"))
    assert len(receipts) == 12
    done_in = re.search(r"done in ([0-9.]+) s", out)
    assert done_in is not None and float(done_in.group(1)) < 120


def test_quick_demo_prints_receipts_and_a_day_total_that_adds_up() -> None:
    done = subprocess.run([str(GATEWAY), "demo", "--quick"], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    totals = [Decimal(t) for t in re.findall(r"^TOTAL CHF +([0-9.]+)$", done.stdout, re.M)]
    assert totals, done.stdout
    day = re.search(r"total ([0-9.]+)$", done.stdout.strip().splitlines()[-1])
    assert day is not None
    assert Decimal(day.group(1)) == sum(totals)
