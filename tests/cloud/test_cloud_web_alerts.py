"""Alerts and their lifecycle in the page (issue 18): `/alerts` on a real HTTP server over
head office's database (SQLite and PostgreSQL), its notification channels receivers this
test starts, the results read back through `cloud alerts show` and the audit log.

Played in Chromium: store-1's manager lists the alerts (only store-1's), filters them,
opens one (the notification `cloud notify run` sent about it shown with its delivery
state), assigns it, is refused an empty comment, comments and acknowledges it; an admin
sends a test notification to a channel (the receiver gets it) and to a failing one (the
page says why). Played as an attacker over httpx: another store's alert by every URL,
an auditor's POSTs, a store manager's test notification, no CSRF token, no session."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from cloud_testkit import (
    ARTIFACTS,
    alert_id,
    cloud_cli,
    serving_office,
    sign_in_page,
    signed_in,
)
from notify_testkit import Receivers
from playwright.sync_api import Browser, expect

from cloud.alerts import raise_alert
from cloud.db import Database
from cloud.notify import Channel, NotifySettings


def audit(db_url: str) -> list[tuple[str, str, dict[str, Any]]]:
    db = Database.open(db_url)
    try:
        rows = db.query("SELECT account, action, detail FROM web_audit ORDER BY id")
    finally:
        db.close()
    return [(str(a), str(b), json.loads(c)) for a, b, c in rows]


def shown(db_url: str, alert: int) -> str:
    status, out, err = cloud_cli("alerts", "show", str(alert), "--db", db_url)
    assert status == 0, err
    return out


def notify_once(db_url: str, config: Path, at: str) -> None:
    status, _, err = cloud_cli(
        "notify", "run", "--once", "--at", at, "--db", db_url, "--config", str(config)
    )
    assert status == 0, err


def raise_sales_alert(db_url: str) -> int:
    """A second alert of store-1's (a sales rule's), after the channel started; its id."""
    db = Database.open(db_url)
    try:
        with db.transaction():
            raise_alert(
                db,
                key="test:store-1:sales",
                kind="sales.drop",
                severity="error",
                message="store-1 sold 40 % less than a week before",
                now="2026-11-20T14:40:00.000Z",
                store="store-1",
            )
        row = db.one("SELECT id FROM alert WHERE key = 'test:store-1:sales'")
    finally:
        db.close()
    assert row is not None
    return int(row[0])


def channels(receivers: Receivers) -> NotifySettings:
    return NotifySettings(
        channels=[
            Channel(name="ops-json", type="webhook", url=f"{receivers.url}/hook"),
            Channel(name="ops-down", type="webhook", url=f"{receivers.url}/down"),
        ]
    )


def test_a_store_manager_works_an_alert_and_an_admin_tests_a_channel_in_the_browser(
    office: str, db_url: str, browser: Browser, receivers: Receivers, tmp_path: Path
) -> None:
    other = alert_id(db_url, "store-2")
    config = tmp_path / "cloud.toml"
    config.write_text(
        f'[[notify.channels]]\nname = "ops-json"\ntype = "webhook"\nurl = "{receivers.url}/hook"\n'
    )
    notify_once(db_url, config, "2026-11-20T14:30Z")  # the channel starts here
    mine = raise_sales_alert(db_url)
    notify_once(db_url, config, "2026-11-20T14:45Z")  # and tells of the new alert
    receivers.posts.clear()
    receivers.failing.add("/down")
    app_settings = channels(receivers)

    with serving_office(db_url, notify_settings=app_settings) as base:
        page = browser.new_page(viewport={"width": 1024, "height": 768})
        try:
            sign_in_page(page, base, "sam")
            page.get_by_role("link", name="Alerts").click()
            rows = page.locator("#alerts tbody tr[data-alert]")
            expect(rows).to_have_count(2)  # store-2's alert is not sam's
            expect(page.locator("#notify-test")).to_have_count(0)  # channels: admins only
            page.locator("#alert-filter").get_by_label("State").select_option("cleared")
            page.get_by_role("button", name="Show").click()
            expect(page.locator("#alerts tbody tr[data-alert]")).to_have_count(0)
            page.locator("#alert-filter").get_by_label("State").select_option("active")
            page.locator("#alert-filter").get_by_label("Rule").select_option("sales.drop")
            page.get_by_role("button", name="Show").click()
            expect(rows).to_have_count(1)
            expect(rows.first).to_have_attribute("data-alert", str(mine))
            page.get_by_role("link", name=str(mine), exact=True).click()

            expect(page.locator("#state")).to_have_text("active, unacknowledged")
            expect(page.locator("#notifications tbody tr").first).to_contain_text("ops-json")
            expect(page.locator("#notifications tbody tr").first).to_contain_text("sent")
            page.get_by_label("Assign to").fill("sam")
            page.get_by_role("button", name="Assign").click()
            expect(page.locator("#assignee")).to_have_text("sam")
            page.get_by_role("button", name="Add the comment").click()  # empty
            expect(page.locator("#error")).to_contain_text("an empty comment")
            page.get_by_label("Comment").fill("the router at the till was unplugged")
            page.get_by_role("button", name="Add the comment").click()
            expect(page.locator("#history")).to_contain_text("the router at the till")
            page.locator("#ack").get_by_role("button", name="Acknowledge").click()
            expect(page.locator("#state")).to_have_text("active, acknowledged")
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "web-alert.png"), full_page=True)
            page.get_by_role("button", name="Sign out").click()

            sign_in_page(page, base, "ada")
            page.goto(base + "/alerts?state=any&ack=any")
            expect(page.locator("#alerts tbody tr[data-alert]")).to_have_count(3)
            form = page.locator("#notify-test")
            form.get_by_label("Channel").select_option("ops-json")
            form.get_by_role("button", name="Send a test notification").click()
            expect(page.locator("#notice")).to_have_text("Test notification sent to ops-json.")
            page.locator("#notify-test").get_by_label("Channel").select_option("ops-down")
            page.get_by_role("button", name="Send a test notification").click()
            expect(page.locator("#error")).to_contain_text("ops-down did not take it")
        finally:
            page.close()

    out = shown(db_url, mine)
    assert "acknowledged 2026-11-20T15:00:00.000Z by sam" in out
    assert "assigned to sam" in out and "sam: the router at the till was unplugged" in out
    assert "active, unacknowledged" in shown(db_url, other)
    [test] = receivers.posts["/hook"]
    assert test["title"] == "storegate test notification" and "by ada" in test["text"]
    actions = [
        (who, what) for who, what, _ in audit(db_url) if what.startswith(("alert.", "notify."))
    ]
    assert actions == [
        ("sam", "alert.assign"),
        ("sam", "alert.comment"),
        ("sam", "alert.ack"),
        ("ada", "notify.test"),
        ("ada", "notify.test"),
    ]
    assert [d for _, what, d in audit(db_url) if what == "notify.test"] == [
        {"channel": "ops-json", "sent": True},
        {"channel": "ops-down", "sent": False},
    ]


def test_nobody_reaches_an_alert_they_may_not_see_or_change(office: str, db_url: str) -> None:
    mine, other = alert_id(db_url, "store-1"), alert_id(db_url, "store-2")
    sam, csrf = signed_in(office, "sam")
    theirs = sam.get("/alerts?state=any&ack=any&store=store-2").text
    assert f'data-alert="{other}"' not in theirs and "No alert is like that." in theirs
    assert sam.get(f"/alerts/{other}").status_code == 404
    assert sam.get("/alerts/99999").status_code == 404
    for action, data in (("ack", {}), ("assign", {"to": "sam"}), ("comment", {"text": "x"})):
        answer = sam.post(f"/alerts/{other}/{action}", data={"csrf": csrf, **data})
        assert answer.status_code == 404, action
        assert sam.post(f"/alerts/{mine}/{action}", data=data).status_code == 403  # no CSRF
    assert sam.post("/alerts/notify-test", data={"csrf": csrf, "channel": "x"}).status_code == 403
    refused = sam.post(f"/alerts/{mine}/assign", data={"csrf": csrf, "to": " "})
    assert refused.status_code == 400 and "assigned to nobody" in refused.text

    otto, otto_csrf = signed_in(office, "otto")
    assert otto.get(f"/alerts/{other}").status_code == 200  # an auditor reads every store
    assert 'action="/alerts/' not in otto.get(f"/alerts/{other}").text  # and no form
    for action in ("ack", "assign", "comment"):
        answer = otto.post(f"/alerts/{other}/{action}", data={"csrf": otto_csrf, "to": "o"})
        assert answer.status_code == 403, action
    ada, ada_csrf = signed_in(office, "ada")
    unset = ada.post("/alerts/notify-test", data={"csrf": ada_csrf, "channel": "ops"})
    assert unset.status_code == 400 and "no channel &#39;ops&#39;" in unset.text  # none configured

    anonymous = httpx.Client(base_url=office, follow_redirects=False, timeout=30)
    assert anonymous.get("/alerts").headers["location"] == "/login"
    assert anonymous.get(f"/alerts/{mine}").headers["location"] == "/login"
    assert anonymous.post(f"/alerts/{mine}/comment", data={"text": "x"}).status_code == 303
    out = shown(db_url, mine) + shown(db_url, other)
    assert "assigned to nobody" in out and "acknowledged 2" not in out and ": x" not in out
    assert [what for _, what, _ in audit(db_url) if what.startswith("alert")] == []
