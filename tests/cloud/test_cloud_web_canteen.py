"""Enterprise canteen accounts in the browser (issue 18): `/canteen/STORE` on a real HTTP
server over head office's database (SQLite and PostgreSQL), members imported with the
real `cloud members import`, the results read back with the real `cloud members
department list`, `cloud members plan list` and `cloud close list`, and the audit log.

Played as an admin in Chromium: a department with its budget (a mistyped amount refused,
naming the field), a subsidy granted to a group for the month, a monthly plan saved and
granted when due, the budgets checked, a month not over refused and the month before
closed. Played as an attacker: a store manager, an auditor, another store, a forged and
an anonymous POST change nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from cloud_testkit import ARTIFACTS, cloud_cli, sign_in_page, signed_in
from playwright.sync_api import Browser, expect

from cloud.db import Database

SETTINGS = {"currency": "CNY", "decimals": 2, "groups": [{"id": "canteen", "name": "食堂"}]}
ACTIONS = ("department", "grant", "plan", "plans/run", "budgets", "close")


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


def test_an_admin_runs_a_canteen_month_in_the_browser(
    tmp_path: Path, office: str, db_url: str, browser: Browser
) -> None:
    db = ("--db", db_url, "--store", "store-1")
    page = browser.new_page(viewport={"width": 1024, "height": 768})
    try:
        sign_in_page(page, office, "ada")
        page.get_by_role("link", name="Canteen").click()
        expect(page.locator("h1")).to_contain_text("store-1")
        expect(page.locator("#departments tbody")).to_have_text("No department yet.")

        form = page.locator("#department")
        form.get_by_label("Department id").fill("ENG")
        form.get_by_label("Department name").fill("研发部")
        form.get_by_label("Monthly budget").fill("12o.00")
        form.get_by_role("button", name="Save the department").click()
        expect(page.locator("#error")).to_contain_text("budget")
        expect(form.get_by_label("Department id")).to_have_value("ENG")
        form.get_by_label("Monthly budget").fill("100")
        form.get_by_role("button", name="Save the department").click()
        expect(page.locator("#done")).to_have_text("Department ENG: budget 100.00.")
        eng = page.locator('#departments tr[data-department="ENG"] td')
        expect(eng).to_have_text(["ENG", "研发部", "100.00", "0.00", "0.0 %"])
        listed = json.loads(cli("members", "department", "list", "--json", "--month",
                                "2026-11", *db))  # fmt: skip
        assert listed[0]["department"] == "ENG" and listed[0]["budget"] == "100.00"

        (tmp_path / "settings.json").write_text(json.dumps(SETTINGS, ensure_ascii=False))
        (tmp_path / "members.csv").write_text(
            "id,name,group,department\nM1,Alice 王,canteen,ENG\nM2,Bob,canteen,ENG\n"
        )
        cli("members", "import", str(tmp_path / "members.csv"), "--settings",
            str(tmp_path / "settings.json"), *db, "--at", "2026-11-01T00:30:00Z")  # fmt: skip

        grant = page.locator("#grant")
        grant.get_by_label("Grant id").fill("extra")
        grant.get_by_label("Members' group").fill("canteen")
        grant.get_by_label("Amount per member").fill("60.00")
        grant.get_by_label("Mode").select_option("reset")
        grant.get_by_role("button", name="Grant the subsidy").click()
        expect(page.locator("#done")).to_contain_text(
            "extra 2026-11: 60.00 to 2 member(s) of canteen (reset), 120.00 granted"
        )
        expect(page.locator("#grants tbody tr")).to_have_count(1)
        grant.get_by_label("Grant id").fill("extra")
        grant.get_by_label("Members' group").fill("canteen")
        grant.get_by_label("Amount per member").fill("60.00")
        grant.get_by_role("button", name="Grant the subsidy").click()
        expect(page.locator("#error")).to_be_visible()  # once per month
        expect(page.locator("#grants tbody tr")).to_have_count(1)

        plan = page.locator("#plan")
        plan.get_by_label("Plan id").fill("lunch")
        plan.get_by_label("Plan's group").fill("canteen")
        plan.get_by_label("Amount per member and month").fill("30")
        plan.get_by_label("Plan's mode").select_option("add")
        plan.get_by_label("Day of the month").fill("29")
        plan.get_by_role("button", name="Save the plan").click()
        expect(page.locator("#error")).to_contain_text("day 29 is not 1-28")
        plan.get_by_label("Day of the month").fill("2")
        plan.get_by_role("button", name="Save the plan").click()
        expect(page.locator("#done")).to_have_text("Plan lunch: 30.00 to canteen on day 2 (add).")
        page.get_by_role("button", name="Grant the plans due").click()
        expect(page.locator("#done")).to_contain_text("lunch 2026-11: 30.00 to 2 member(s)")
        assert "plan lunch: 30.00 to canteen on day 2 (add)" in cli("members", "plan", "list", *db)
        page.get_by_role("button", name="Check the budgets of 2026-11").click()
        expect(page.locator("#done")).to_have_text("0 budget alert(s) holding for 2026-11.")

        close = page.locator("#close")
        close.get_by_label("Month to close").fill("2026-11")
        close.get_by_role("button", name="Close the month").click()
        expect(page.locator("#error")).to_contain_text("2026-11 is not over yet")
        close.get_by_label("Month to close").fill("2026-10")
        close.get_by_role("button", name="Close the month").click()
        expect(page.locator("#done")).to_contain_text("store-1 2026-10 closed at")
        expect(page.locator('#closed tr[data-month="2026-10"] td').nth(2)).to_have_text("ada")
        assert "2026-10  closed 2026-11-20T15:00:00.000Z by ada" in cli("close", "list", *db)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "canteen.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= 1024
    finally:
        page.close()
    done = [(who, action) for who, action, _ in audit(db_url)]
    for action in ("canteen.department", "canteen.grant", "canteen.plan", "canteen.plans_run",
                   "canteen.budgets", "month.close"):  # fmt: skip
        assert ("ada", action) in done, action


def test_only_an_admin_changes_a_canteen(office: str, db_url: str) -> None:
    """Store manager sam and auditor otto read (sam only store-1) and every POST of
    theirs is 403, with and without their CSRF token; an admin without the token is 403
    too; an anonymous POST is sent to sign in. Nothing is recorded."""
    forms: dict[str, dict[str, str]] = {
        "department": {"department": "EVIL", "budget": "1"},
        "grant": {
            "id": "evil",
            "group": "canteen",
            "amount": "1",
            "mode": "add",
            "month": "2026-11",
        },
        "plan": {"plan": "evil", "group": "canteen", "amount": "1", "mode": "add"},
        "plans/run": {},
        "budgets": {},
        "close": {"close": "2026-10"},
    }
    logged = len(audit(db_url))
    sam, sam_csrf = signed_in(office, "sam")
    assert sam.get("/canteen/store-1").status_code == 200
    assert sam.get("/canteen/store-2").status_code == 404
    assert 'id="department"' not in sam.get("/canteen/store-1").text
    otto, otto_csrf = signed_in(office, "otto")
    assert otto.get("/canteen/store-2").status_code == 200
    ada, _ = signed_in(office, "ada")
    for client, csrf in ((sam, sam_csrf), (otto, otto_csrf)):
        for action in ACTIONS:
            for data in (forms[action], {**forms[action], "csrf": csrf}):
                for store in ("store-1", "store-2"):
                    answer = client.post(f"/canteen/{store}/{action}", data=data)
                    assert answer.status_code == 403, (action, data, store)
    anonymous = httpx.Client(base_url=office, follow_redirects=False, timeout=30)
    for action in ACTIONS:
        assert ada.post(f"/canteen/store-1/{action}", data=forms[action]).status_code == 403
        answer = anonymous.post(f"/canteen/store-1/{action}", data=forms[action])
        assert answer.status_code == 303
    assert "No department" in otto.get("/canteen/store-1").text
    assert "1 closed month" not in cli("close", "list", "--store", "store-1", "--db", db_url)
    assert "0 closed month(s)" in cli("close", "list", "--store", "store-1", "--db", db_url)
    assert len(audit(db_url)) == logged + 3  # the three sign-ins
