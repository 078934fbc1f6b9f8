"""Campaigns at head office (issue 21, item 4) on SQLite and PostgreSQL: a member list
drawn into treated and hold-out with a recorded seed, the coupons published in the members
document (none to the hold-out, none once redeemed), and the effect report's figures from
the ingested sales checked against figures worked out by hand. The real box redeeming the
coupon is tests/acceptance/test_acceptance_campaigns.py."""

from __future__ import annotations

import json
import random
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cloud_testkit import cloud_cli, day_clock, store_journal_directly

from cloud.intervals import student_t_quantile
from gateway.database import open_database
from gateway.harness.brokers import Mosquitto
from gateway.harness.fleetsim import StoreDay
from gateway.journal import Journal

MEMBERS = [f"M{n:02d}" for n in range(1, 11)]
SETTINGS = {"currency": "CHF", "decimals": 2, "groups": [{"id": "staff", "name": "Staff"}]}


def cli(*args: str) -> str:
    status, out, err = cloud_cli(*args)
    assert status == 0, err
    return out


def refused(*args: str) -> str:
    status, out, err = cloud_cli(*args)
    assert status == 2 and "Traceback" not in err, (status, out, err)
    return err


def sales(folder: Path, db_url: str, plan: dict[date, list[tuple[str, str, bool]]]) -> None:
    """Sale records of the fleet simulator's shape, each given to a member with a total
    (and the campaign's redemption when True), journalled at noon UTC of its day and
    stored at head office through ingest's own checks."""
    template = next(
        body
        for kind, body in StoreDay("store-1", "box-1", date(2026, 11, 1), 1).records()
        if kind == "sale"
    )
    db = open_database(folder / "box.db")
    number = 0
    for day, tickets in sorted(plan.items()):
        records: list[tuple[str, dict[str, Any]]] = []
        for member, total, redeemed in tickets:
            number += 1
            body = json.loads(json.dumps(template))
            body["receipt_id"] = f"box-1-{number:06d}"
            body["business_day"] = str(day)
            body["member"] = {"id": member, "group": "staff"}
            body["totals"]["total"] = total
            if redeemed:
                body["redeemed_coupons"] = ["winback"]
                body["coupons"] = ["THANKS5"]
            records.append(("sale", body))
        Journal(db, clock=day_clock(day)).append_many(records)
    store_journal_directly(db_url, "store-1", "box-1", Journal(db))


def test_a_campaign_is_drawn_published_and_measured_against_its_hold_out(
    tmp_path: Path, db_url: str, broker: Mosquitto
) -> None:
    db = ("--db", db_url)
    cli("keys", "generate", "--dir", str(tmp_path / "keys"), "--key-id", "ho-camp")
    sending = ("--port", str(broker.port), "--key", str(tmp_path / "keys" / "ho-camp.pem"))
    cli("stores", "add", "store-1", *db)
    (tmp_path / "settings.json").write_text(json.dumps(SETTINGS))
    (tmp_path / "members.csv").write_text("id,group\n" + "".join(f"{m},staff\n" for m in MEMBERS))
    cli("members", "import", str(tmp_path / "members.csv"), "--store", "store-1",
        "--settings", str(tmp_path / "settings.json"), *db)  # fmt: skip
    listed = tmp_path / "audience.txt"
    listed.write_text("# the win-back list\n" + "\n".join(MEMBERS) + "\n")
    create = (
        "campaign", "create", "winback", "--store", "store-1", "--coupon", "thanks5",
        "--members", str(listed), "--from", "2026-11-15", "--to", "2026-11-30", *db,
    )  # fmt: skip

    # bad input: what, where, the fix; nothing recorded
    (tmp_path / "typo.txt").write_text("M01\nM99\nnot an id\n")
    err = refused(*create[:7], "--members", str(tmp_path / "typo.txt"), *db)
    assert "M99 is not a member of store-1" in err and "'not an id' is not a member id" in err
    assert "1.5 is not a share below 1" in refused(*create, "--holdout", "1.5")
    assert "'ten' is not a number" in refused(*create, "--holdout", "ten")
    assert "no RFM segment 'vip'" in refused(*create[:7], "--segment", "vip", *db)
    assert "no campaign yet" in cli("campaign", "list", *db)

    out = cli(*create, "--holdout", "0.3", "--seed", "7", "--name", "Win them back")
    assert "7 member(s) get coupon THANKS5, 3 held out (seed 7)" in out
    assert "already" not in out
    assert "exists already" in refused(*create, "--seed", "7")
    shown = json.loads(cli("campaign", "show", "winback", "--json", *db))
    # the rule, written out: round(0.3 x 10) = 3 drawn by random.Random(seed).sample of the
    # ids in order; the same seed draws the same members
    held = sorted(random.Random(7).sample(sorted(MEMBERS), 3))
    treated = [m for m in MEMBERS if m not in held]
    assert (shown["held_out"], shown["treated"], shown["seed"]) == (held, treated, 7)
    assert shown["holdout"] == "0.3" and shown["audience"] == "members audience.txt"

    early = ("campaign", "publish", "winback", "--at", "2026-11-14T23:00:00Z", *sending, *db)
    assert "starts on 2026-11-15" in refused(*early)
    out = cli("campaign", "publish", "winback", "--at", "2026-11-15T00:00:00Z", *sending, *db)
    assert "coupon THANKS5 for 7 member(s) in members version 1 of store-1" in out
    document = tmp_path / "members.json"
    cli("members", "publish", "--store", "store-1", "--out", str(document), "--at",
        "2026-11-16T00:00:00Z", *db)  # fmt: skip
    coupons = {m["id"]: m.get("coupons") for m in json.loads(document.read_text())["members"]}
    assert all(coupons[m] is None for m in held)
    assert all(
        coupons[m] == [{"code": "THANKS5", "campaign": "winback", "until": "2026-11-30"}]
        for m in treated
    )

    t1, t2, t3, t4, t5, t6, t7 = treated
    h1, h2, h3 = held
    sales(tmp_path, db_url, {
        date(2026, 11, 10): [(t4, "50.00", False)],  # before the campaign: not counted
        date(2026, 11, 20): [(t1, "20.00", True), (t1, "10.00", False), (t2, "20.00", True),
                             (t3, "10.00", False), (t5, "30.00", True), (t7, "10.00", False),
                             (h1, "10.00", False), (h3, "20.00", False), ("M77", "9.00", False)],
        date(2026, 12, 2): [(h2, "40.00", False)],  # after its last day: not counted
    })  # fmt: skip
    cli("members", "publish", "--store", "store-1", "--out", str(document), "--at",
        "2026-11-21T00:00:00Z", *db)  # fmt: skip
    coupons = {m["id"]: m.get("coupons") for m in json.loads(document.read_text())["members"]}
    assert [m for m in treated if coupons[m]] == [t3, t4, t6, t7]  # the redeemers' are spent

    report = json.loads(cli("campaign", "report", "winback", "--json", *db))
    rows = {r["measure"]: r for r in report["rows"]}
    assert (rows["members"]["treated"], rows["members"]["hold-out"]) == (7, 3)
    # redemption: 3 of 7 = 42.9 %, 0 of 3; se = sqrt(3/7 x 4/7 / 7) = 0.187044,
    # 1.959964 x se = 0.366600: 42.9 % [6.2, 79.5]
    rate = rows["redemption rate %"]
    assert (rate["treated"], rate["hold-out"], rate["difference"]) == ("42.9", "0.0", "42.9")
    assert (rate["95% low"], rate["95% high"]) == ("6.2", "79.5")
    # baskets: treated 2 1 1 0 1 0 1 (6/7 = 0.86; s² = 2.836735 / 6 = 0.472789),
    # hold-out 1 0 1 (2/3 = 0.67; s² = 1/3): se² = 0.067541 + 0.111111 = 0.178652,
    # df = 0.178652² / (0.067541²/6 + 0.111111²/2) = 4.6036
    check_mean(rows["baskets per member"], "0.86", "0.67", 6 / 7 - 2 / 3, 0.178652, 4.6036)
    # spend: treated 30 20 10 0 30 0 10 (100/7 = 14.29; s² = 971.428571 / 6 = 161.904762),
    # hold-out 10 0 20 (10.00; s² = 100): se² = 23.129252 + 33.333333 = 56.462585,
    # df = 56.462585² / (23.129252²/6 + 33.333333²/2) = 4.9449
    check_mean(rows["spend per member"], "14.29", "10.00", 100 / 7 - 10, 56.462585, 4.9449)
    assert any("seed 7" in n for n in report["notes"])
    assert "published 2026-11-15T00:00:00" in cli("campaign", "list", *db)
    late = ("campaign", "publish", "winback", "--at", "2026-12-01T00:00:00Z", *sending, *db)
    assert "ended on 2026-11-30" in refused(*late)
    assert "no campaign 'nosuch'" in refused("campaign", "report", "nosuch", *db)


def check_mean(
    row: dict[str, Any], treated: str, held: str, d: float, se2: float, df: float
) -> None:
    half = student_t_quantile(0.975, df) * se2**0.5
    assert (row["treated"], row["hold-out"]) == (treated, held)
    assert Decimal(row["difference"]) == Decimal(treated) - Decimal(held)
    assert float(row["95% low"]) == pytest.approx(d - half, abs=0.006)
    assert float(row["95% high"]) == pytest.approx(d + half, abs=0.006)
