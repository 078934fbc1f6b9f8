"""Campaigns in the browser (issue 18): `/campaigns` on a real HTTP server over head
office's database (SQLite and PostgreSQL) with head office's signing key and a real
Mosquitto; members imported with the real `cloud members import`, results read back with
the real `cloud campaign show|report` and the retained members document.

Played as store-1's manager in Chromium: a list naming a member of no store is refused,
naming it, the form kept; the campaign is created with a typed seed (the hold-out the
CLI's rule draws), published (the coupons in the signed members document, none to the
hold-out) and its effect report is the CLI's. Played as an attacker: an auditor, another
store's manager and a forged or anonymous POST change nothing."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from cloud_testkit import (
    ARTIFACTS,
    ROOT,
    add_web_user,
    cloud_cli,
    day_clock,
    retained,
    serving_office,
    sign_in_page,
    signed_in,
    store_journal_directly,
)
from playwright.sync_api import Browser, expect

from cloud.db import Database
from cloud.ingest import BrokerOptions
from cloud.publish import document_topic, load_key
from cloud.web.publish_page import Publisher
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


def audit(db_url: str) -> list[tuple[str, str, dict[str, Any]]]:
    db = Database.open(db_url)
    try:
        rows = db.query("SELECT account, action, detail FROM web_audit ORDER BY id")
    finally:
        db.close()
    return [(str(a), str(b), json.loads(c)) for a, b, c in rows]


def campaign_ids(db_url: str) -> list[str]:
    db = Database.open(db_url)
    try:
        return [str(r[0]) for r in db.query("SELECT id FROM campaign ORDER BY id")]
    finally:
        db.close()


def sales(folder: Path, db_url: str, day: date, tickets: list[tuple[str, str, bool]]) -> None:
    """Sale records of the fleet simulator's shape, each given to a member with a total
    (and the campaign's redemption when True), journalled at noon UTC of `day` and stored
    at head office through ingest's own checks (as test_cloud_campaigns does)."""
    template = next(
        body for kind, body in StoreDay("store-1", "box-1", day, 1).records() if kind == "sale"
    )
    db = open_database(folder / "box.db")
    records: list[tuple[str, dict[str, Any]]] = []
    for number, (member, total, redeemed) in enumerate(tickets, start=1):
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


@pytest.fixture
def office(tmp_path: Path, db_url: str, broker: Mosquitto) -> Iterator[str]:
    """Stores 1 and 2 with ten members each, a store-2 campaign made by the CLI, admin
    ada, store-1's manager sam, auditor otto; `cloud web` with a key and the broker."""
    db = ("--db", db_url)
    cli("keys", "generate", "--dir", str(tmp_path / "keys"), "--key-id", "ho-camp")
    cli("stores", "add", "store-1", "store-2", *db)
    (tmp_path / "settings.json").write_text(json.dumps(SETTINGS))
    (tmp_path / "members.csv").write_text("id,group\n" + "".join(f"{m},staff\n" for m in MEMBERS))
    for store in ("store-1", "store-2"):
        cli("members", "import", str(tmp_path / "members.csv"), "--store", store,
            "--settings", str(tmp_path / "settings.json"), *db)  # fmt: skip
    (tmp_path / "two.txt").write_text("\n".join(MEMBERS))
    cli("campaign", "create", "theirs", "--store", "store-2", "--coupon", "OTHER",
        "--members", str(tmp_path / "two.txt"), "--from", "2026-11-20", "--seed", "1",
        "--at", "2026-11-20T09:00:00Z", *db)  # fmt: skip
    add_web_user(db_url, "ada", "admin")
    add_web_user(db_url, "sam", "store", "store-1")
    add_web_user(db_url, "otto", "auditor")
    publisher = Publisher(
        BrokerOptions(port=broker.port), ROOT, load_key(tmp_path / "keys" / "ho-camp.pem")
    )
    with serving_office(db_url, publisher=publisher) as base:
        yield base


def test_a_store_manager_runs_a_campaign_in_the_browser(
    tmp_path: Path, office: str, db_url: str, browser: Browser, broker: Mosquitto
) -> None:
    page = browser.new_page(viewport={"width": 1024, "height": 768})
    try:
        sign_in_page(page, office, "sam")
        page.get_by_role("link", name="Campaigns").click()
        expect(page.locator("#campaigns tbody tr")).to_have_text("No campaign yet.")  # not 2's
        form = page.locator("#new-campaign")
        expect(form.get_by_label("Store")).to_have_value("store-1")
        assert form.get_by_label("Store").locator("option").all_inner_texts() == ["store-1"]

        # A member of no store and a line that is no id: refused, named, the form kept.
        form.get_by_label("Campaign id").fill("winback")
        form.get_by_label("Name (default: its id)").fill("Win them back")
        form.get_by_label("Coupon code").fill("thanks5")
        form.get_by_label("Member ids, one a line").fill("\n".join([*MEMBERS, "M99", "no id!"]))
        form.get_by_label("Hold-out share").fill("0.3")
        form.get_by_label("Seed of the draw").fill("7")
        form.get_by_label("Last day").fill("2026-11-30")
        form.get_by_role("button", name="Create and draw the hold-out").click()
        expect(page.locator("#error")).to_contain_text("M99 is not a member of store-1")
        expect(page.locator("#error")).to_contain_text("'no id!' is not a member id")
        expect(form.get_by_label("Campaign id")).to_have_value("winback")
        assert campaign_ids(db_url) == ["theirs"]
        form.get_by_label("Hold-out share").fill("1.5")
        form.get_by_label("Member ids, one a line").fill("\n".join(MEMBERS))
        form.get_by_role("button", name="Create and draw the hold-out").click()
        expect(page.locator("#error")).to_contain_text("1.5 is not a share below 1")
        form.get_by_label("Hold-out share").fill("0.3")
        form.get_by_role("button", name="Create and draw the hold-out").click()

        # The draw is the CLI's rule with the typed seed; the CLI shows the same campaign.
        expect(page.locator("h1")).to_contain_text("Campaign winback Win them back, store-1")
        held = sorted(random.Random(7).sample(sorted(MEMBERS), 3))
        treated = [m for m in MEMBERS if m not in held]
        expect(page.locator("#held-out")).to_have_text(" ".join(held))
        expect(page.locator("#treated")).to_have_text(" ".join(treated))
        shown = json.loads(cli("campaign", "show", "winback", "--json", "--db", db_url))
        assert (shown["held_out"], shown["treated"], shown["seed"]) == (held, treated, 7)
        made = (shown["coupon"], shown["created_by"], shown["to"])
        assert made == ("THANKS5", "sam", "2026-11-30")
        expect(page.locator("#published")).to_have_text("not yet")

        # Published: the signed members document gives the treated the coupon, no one else.
        page.get_by_role("button", name="Publish the coupons").click()
        expect(page.locator("#done")).to_have_text(
            "Coupon THANKS5 for 7 member(s) in members version 1 of store-1."
        )
        expect(page.locator("#published")).to_have_text("2026-11-20T15:00:00.000Z")
        message = retained(broker.port, document_topic(ROOT, "members", "store-1", None))
        assert message is not None and message["version"] == 1
        coupons = {m["id"]: m.get("coupons") for m in message["document"]["members"]}
        assert sorted(m for m, c in coupons.items() if c) == treated

        # The effect report is the CLI's, row for row, over the sales after publication.
        (t1, t2, *_), (h1, *_) = treated, held
        sales(tmp_path, db_url, date(2026, 11, 21),
              [(t1, "20.00", True), (t2, "10.00", False), (h1, "10.00", False)])  # fmt: skip
        page.goto(office + "/campaigns/winback")  # not a reload: that would post again
        report = json.loads(cli("campaign", "report", "winback", "--json", "--db", db_url))
        rows = page.locator("#effect tbody tr")
        expect(rows).to_have_count(len(report["rows"]))
        for n, expected in enumerate(report["rows"]):
            cells = rows.nth(n).locator("td").all_inner_texts()
            assert cells == [str(expected[c]) for c in report["columns"]], (cells, expected)
        expect(rows.nth(1).locator("td").nth(1)).to_have_text("14.3")  # 1 of 7 redeemed
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "campaign.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= 1024
        page.get_by_role("link", name="Back to the campaigns").click()
        expect(page.locator('#campaigns tr[data-campaign="winback"] .state')).to_have_text(
            "published 2026-11-20T15:00:00.000Z"
        )
    finally:
        page.close()
    done = [(who, action, d.get("campaign")) for who, action, d in audit(db_url)]
    assert ("sam", "campaign.create", "winback") in done
    assert done.count(("sam", "campaign.publish", "winback")) == 1


def test_no_one_changes_a_campaign_they_may_not(office: str, db_url: str) -> None:
    """The auditor reads and changes nothing; sam neither sees nor publishes store-2's,
    nor creates one there; forged (no CSRF) and anonymous POSTs are refused."""
    new = {"id": "evil", "store": "store-1", "coupon": "X1", "aim": "members", "members": "M01"}
    logged = len(audit(db_url))
    otto, otto_csrf = signed_in(office, "otto")
    assert "theirs" in otto.get("/campaigns").text
    assert otto.get("/campaigns/theirs").status_code == 200
    assert 'id="new-campaign"' not in otto.get("/campaigns").text
    for data in (new, {**new, "csrf": otto_csrf}):
        assert otto.post("/campaigns", data=data).status_code == 403
        assert otto.post("/campaigns/theirs/publish", data=data).status_code == 403
    sam, sam_csrf = signed_in(office, "sam")
    assert "theirs" not in sam.get("/campaigns").text
    assert sam.get("/campaigns/theirs").status_code == 404
    assert sam.get("/campaigns/nothing").status_code == 404
    answer = sam.post("/campaigns/theirs/publish", data={"csrf": sam_csrf})
    assert answer.status_code == 404
    answer = sam.post("/campaigns", data={**new, "store": "store-2", "csrf": sam_csrf})
    assert answer.status_code == 400 and "store-2&#39; is not one of yours" in answer.text
    assert sam.post("/campaigns", data=new).status_code == 403  # no CSRF token
    anonymous = httpx.Client(base_url=office, follow_redirects=False, timeout=30)
    assert anonymous.post("/campaigns", data=new).status_code == 303
    assert anonymous.post("/campaigns/theirs/publish", data={}).status_code == 303
    assert anonymous.get("/campaigns").status_code == 303
    assert campaign_ids(db_url) == ["theirs"]
    shown = json.loads(cli("campaign", "show", "theirs", "--json", "--db", db_url))
    assert shown["published_at"] is None
    assert len(audit(db_url)) == logged + 2  # the two sign-ins, nothing else
