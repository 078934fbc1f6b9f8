"""Alert rules over the stored journals, and listing / acknowledging with `cloud alerts`.

Nothing here reads the calendar: the data are fixed days, and the rules run at a fixed
"now" (`cloud alerts check --at`, the ingest worker's injected clock), over a spread of
days that have broken date code elsewhere (month and year ends, a Sunday, a leap day, the
European daylight-saving changes).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from cloud_testkit import (
    RunningIngest,
    cloud_cli,
    eventually,
    fixed_clock,
    journal_of_days,
    store_journal_directly,
)

from cloud.alerts import list_alerts
from cloud.clock import iso, parse_instant
from cloud.db import Database
from gateway.harness.fleetsim import StoreDay

AT = "2026-12-02T06:00:00Z"  # the day CI once failed on
DAY = date(2026, 12, 1)  # the closed business day at AT
CASHIER_KINDS = {"cashier.no_sale", "cashier.refund_void_rate"}


def seed(db_url: str, tmp_path: Path, day: date) -> None:
    """store-1: five ordinary days of 40 sales before `day`, then only 4 on `day` (far below
    its usual day); store-2: 200 sales on `day` alone, half refunded and a no-sale after
    each (every cashier over both limits; no history, so never unusual)."""
    for store, days in (
        (
            "store-1",
            [StoreDay("store-1", "box-1", day - timedelta(days=n), 40) for n in range(5, 0, -1)]
            + [StoreDay("store-1", "box-1", day, 4)],
        ),
        ("store-2", [StoreDay("store-2", "box-1", day, 200, refund_share=0.5, no_sale_share=1.0)]),
    ):
        journal = journal_of_days(tmp_path / f"{store}-{day}.db", days)
        store_journal_directly(db_url, store, "box-1", journal)


def seed_offline_boxes(db_url: str, now: datetime) -> None:
    """box-9 went offline 20 minutes before `now` (alert), box-8 5 minutes before (not yet)."""
    db = Database.open(db_url)
    try:
        with db.transaction():
            for box, minutes in (("box-9", 20), ("box-8", 5)):
                db.execute(
                    "INSERT INTO box_state (store, box, online, offline_since) "
                    "VALUES ('store-1', ?, ?, ?)",
                    (box, False, iso(now - timedelta(minutes=minutes))),
                )
    finally:
        db.close()


def _alerts(db_url: str, *extra: str) -> list[dict]:
    status, out, err = cloud_cli("alerts", "--db", db_url, "--json", *extra)
    assert status == 0, err
    return list(json.loads(out))


def assert_day_judged(found: list[dict], day: date) -> None:
    """The sales rules judged `day` and nothing else: store-1 is unusual, every cashier
    finding is store-2's."""
    sales = [a for a in found if a["kind"] not in ("box.offline",)]
    assert {a["kind"] for a in sales} == CASHIER_KINDS | {"store.sales_unusual"}, sales
    assert [a["store"] for a in sales if a["kind"] == "store.sales_unusual"] == ["store-1"]
    assert {a["store"] for a in sales if a["kind"] in CASHIER_KINDS} == {"store-2"}
    assert {a["body"]["day"] for a in sales} == {str(day)}


def test_sales_rules_raise_once_and_alerts_can_be_acknowledged(tmp_path: Path, db_url: str) -> None:
    seed(db_url, tmp_path, DAY)
    for _ in range(2):  # a second pass raises nothing new
        status, out, err = cloud_cli("alerts", "check", "--db", db_url, "--at", AT)
        assert status == 0, err
        assert f"rules checked for {DAY}" in out
    found = _alerts(db_url)
    assert_day_judged(found, DAY)
    assert {a["raised_at"] for a in found} == {"2026-12-02T06:00:00.000Z"}
    assert len(found) == len({(a["kind"], a["store"], json.dumps(a["body"])) for a in found})
    first = found[0]["id"]
    status, _, err = cloud_cli("alerts", "ack", str(first), "--by", "ops", "--db", db_url)
    assert status == 0, err
    assert first not in [a["id"] for a in _alerts(db_url)]
    acked = [a for a in _alerts(db_url, "--all") if a["id"] == first]
    assert acked[0]["acknowledged_by"] == "ops"
    status, out, _ = cloud_cli("alerts", "--db", db_url, "--severity", "critical")
    assert status == 0 and out.strip().endswith("0 alert(s)")
    status, _, err = cloud_cli("alerts", "ack", "999999", "--db", db_url)
    assert status != 0 and "no alert with id 999999" in err and "Traceback" not in err


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_alerts_check_refuses_a_bad_instant_or_day(db_url: str) -> None:
    for option in (("--at", "2026-12-02T06:00"), ("--at", "yesterday"), ("--day", "2026-12-2")):
        status, _, err = cloud_cli("alerts", "check", "--db", db_url, *option)
        assert status == 2 and option[0] in err and "fix:" in err and "Traceback" not in err


# (the worker's "now", the business day it must judge) — worked out by hand
SPREAD = [
    ("2026-12-01T09:00:00Z", "2026-11-30"),  # month end
    ("2026-12-02T06:00:00Z", "2026-12-01"),  # the day CI failed
    ("2026-12-07T00:30:00Z", "2026-12-06"),  # a Sunday
    ("2027-01-01T00:00:00Z", "2026-12-31"),  # year end, judged at midnight
    ("2027-01-02T10:00:00Z", "2027-01-01"),  # Jan 1, its history in the year before
    ("2027-03-28T10:00:00+02:00", "2027-03-27"),  # Europe's spring change, local time
    ("2027-03-29T10:00:00Z", "2027-03-28"),  # ... and the 23-hour day itself
    ("2027-11-01T10:00:00Z", "2027-10-31"),  # the 25-hour autumn day
    ("2028-02-29T12:00:00Z", "2028-02-28"),  # a leap day
    ("2028-03-01T08:00:00Z", "2028-02-29"),  # ... judged the day after
]


@pytest.mark.parametrize(("now", "day"), SPREAD, ids=[day for _, day in SPREAD])
def test_the_worker_judges_the_closed_day_of_its_own_clock(
    tmp_path: Path, db_url: str, ingest: Callable[..., RunningIngest], now: str, day: str
) -> None:
    """The real `cloud ingest` worker, its clock stopped at `now`, over stored journals:
    the sales rules judge the day before and the offline rule counts from `now`."""
    instant = parse_instant(now)
    seed(db_url, tmp_path, date.fromisoformat(day))
    seed_offline_boxes(db_url, instant)
    ingest(clock=fixed_clock(instant), sales_rule_interval=0.2)
    db = Database.open(db_url)
    try:
        assert eventually(
            lambda: {"store.sales_unusual", *CASHIER_KINDS} <= {a.kind for a in list_alerts(db)}, 30
        )
        found = [a.as_json() for a in list_alerts(db)]
    finally:
        db.close()
    assert_day_judged(found, date.fromisoformat(day))
    assert [a["box"] for a in found if a["kind"] == "box.offline"] == ["box-9"]
    assert {a["raised_at"] for a in found} == {iso(instant)}
