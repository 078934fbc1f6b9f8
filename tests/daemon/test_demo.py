"""`gateway demo` runs end to end as a real subprocess and prints consistent totals."""

from __future__ import annotations

import re
import subprocess
from decimal import Decimal

from daemon_testkit import GATEWAY


def test_demo_prints_receipts_and_a_day_total_that_adds_up() -> None:
    done = subprocess.run(
        [str(GATEWAY), "demo"], capture_output=True, text=True, timeout=170, check=False
    )
    assert done.returncode == 0, done.stderr
    totals = [Decimal(t) for t in re.findall(r"^TOTAL CHF +([0-9.]+)$", done.stdout, re.M)]
    assert totals, done.stdout
    day = re.search(r"total ([0-9.]+)$", done.stdout.strip().splitlines()[-1])
    assert day is not None
    assert Decimal(day.group(1)) == sum(totals)
