"""`gateway report x|z` refuses a day or shift that is not one of this till's (exit 2),
before a PIN is checked or anything is written: the real command, as a process, on a
database without a running daemon (tests/daemon/test_report_retention_run.py does the
same through `gateway run`)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from lane_testkit import CASHIER, SETTINGS, Clock, make_lane

from gateway.catalog.catalog import Catalog
from gateway.lane import events as ev
from gateway.reports.days import ReportInputError, business_day
from gateway.settings import GatewaySettings

GATEWAY = Path(sys.executable).parent / "gateway"
TODAY = date(2026, 12, 2)


def gateway(db: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(GATEWAY), "report", *args, "--db", str(db), "--config", str(SETTINGS)],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )


def written(db: Path) -> tuple[int, int]:
    """(journal head, failed PIN attempts of everyone): what a refusal must not move."""
    with sqlite3.connect(db) as conn:
        head = conn.execute("SELECT head_seq FROM journal_state").fetchone()[0]
        pins = conn.execute("SELECT sum(failed_pins) FROM lane_staff").fetchone()[0]
    return int(head), int(pins)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("2026-12-2", "is not a date written YYYY-MM-DD"),
        ("26-12-02", "is not a date written YYYY-MM-DD"),
        ("2026-02-30", "is not a calendar date"),
        ("2026-13-01", "is not a calendar date"),
        ("2026-12-03", "is after today (2026-12-02)"),
        ("2025-12-01", "older than the journal's retention period"),
    ],
)
def test_the_day_rule(text: str, problem: str) -> None:
    with pytest.raises(ReportInputError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        business_day(text, TODAY, kept_from="2026-09-03")
    assert business_day("2026-12-02", TODAY, kept_from="2026-09-03") == "2026-12-02"
    assert business_day("2026-09-04", TODAY, kept_from="2026-09-03") == "2026-09-04"
    assert business_day("2020-01-06", TODAY) == "2020-01-06"  # nothing pruned: any past day


@pytest.fixture
def till(tmp_path: Path, catalog: Catalog, settings: GatewaySettings) -> Path:
    """One sale on business day 2026-11-24, the shift closed."""
    db = tmp_path / "storegate.db"
    lane = make_lane(db, catalog, settings)
    clock = Clock()
    lane.handle(ev.OpenShift(clock(), CASHIER))
    lane.handle(ev.Scan(clock(), "7612345001234"))
    lane.handle(ev.Tender(clock(), "cash", Decimal(5)))
    lane.handle(ev.CloseShift(clock(), Decimal("1.60")))
    lane.book.db.conn.close()
    return db


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (("z", "--date", "2026-12-2"), "'2026-12-2' is not a date written YYYY-MM-DD"),
        (("z", "--date", "2026-02-30"), "2026-02-30 is not a calendar date"),
        (("z", "--date", "2999-01-01"), "2999-01-01 is after today"),
        (("z", "--date", "2026-11-23"), "recorded no sale, refund, void or no-sale on 2026-11-23"),
        (("z", "--shift", "box-1-S00001", "--date", "2026-11-24"), "--shift cannot be used"),
        (("x", "--date", "2026-12-2"), "'2026-12-2' is not a date written YYYY-MM-DD"),
        (("x", "--date", "2999-01-01"), "2999-01-01 is after today"),
        (("x", "--shift", "nosuch"), "this till never opened a shift 'nosuch'"),
        (("x", "--shift", "box-1-S00001", "--date", "2026-11-24"), "--shift with --date"),
        (("x", "--empty-day"), "--empty-day cannot be used"),
    ],
)
def test_bad_report_input_is_refused_before_anything_is_written(
    till: Path, args: tuple[str, ...], problem: str
) -> None:
    before = written(till)
    done = (
        gateway(till, *args, "--staff", "201", "--pin-stdin", stdin="000000\n")
        if args[0] == "z"
        else gateway(till, *args)
    )
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert problem in done.stderr and "fix:" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert written(till) == before  # no Z record, not even a failed PIN attempt


def test_a_real_day_closes_and_an_empty_one_only_when_confirmed(till: Path) -> None:
    x = gateway(till, "x", "--shift", "box-1-S00001", "--json")
    assert x.returncode == 0 and json.loads(x.stdout)["sales"] == 1, x.stderr
    quiet = gateway(till, "x", "--date", "2026-11-23", "--json")
    assert quiet.returncode == 0 and json.loads(quiet.stdout)["sales"] == 0
    assert "no sale, refund, void or no-sale recorded on 2026-11-23" in quiet.stderr
    z = gateway(till, "z", "--date", "2026-11-24", "--card", "CARD-BEAT", "--json")
    assert z.returncode == 0 and json.loads(z.stdout)["z_number"] == 1, z.stderr
    head = written(till)[0]
    empty = gateway(
        till, "z", "--date", "2026-11-23", "--card", "CARD-BEAT", "--empty-day", "--json"
    )
    assert empty.returncode == 0, empty.stderr
    body = json.loads(empty.stdout)
    assert (body["z_number"], body["sales"], body["net"]) == (2, 0, "0.00")
    assert written(till)[0] == head + 1
