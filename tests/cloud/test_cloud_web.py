"""Head office in the browser (issue 18, items 1-4): `cloud web` on a real HTTP server over
head office's database (SQLite and PostgreSQL) with two stores' ingested days, accounts
made with the real `cloud web user add`.

Played as an attacker: a store manager asks for the other store by every URL and API call
and acknowledges its alert, an auditor tries to change something, a form posted without
its CSRF token, guessing a password until the lockout. Played as an operator in Chromium:
sign in, read today's sales against last week's (the same figures as `cloud report`), drill
into a store, acknowledge an alert, sign out."""

from __future__ import annotations

import json
import re

import httpx
from cloud_testkit import (
    ARTIFACTS,
    PASSWORDS,
    TODAY,
    WEEK_BEFORE,
    alert_id,
    cloud_cli,
    login_csrf,
    report_json,
    sign_in_page,
    signed_in,
)
from playwright.sync_api import Browser, expect


def test_a_store_manager_sees_only_their_store_by_any_url(office: str, db_url: str) -> None:
    client, csrf = signed_in(office, "sam")
    page = client.get("/").text
    assert "store-1" in page and "store-2" not in page
    assert client.get("/stores/store-1").status_code == 200
    for url in (
        "/stores/store-2",
        "/stores/store-3",
        "/api/stores/store-2/sales",
        "/stores/%2e%2e",
    ):
        answer = client.get(url)
        assert answer.status_code == 404, url
        assert "store-2" not in answer.text.replace("/stores/store-2", "")
    assert client.get("/live").text.count("store-2") == 0
    assert client.get("/audit").status_code == 403
    other = alert_id(db_url, "store-2")
    assert client.post(f"/alerts/{other}/ack", data={"csrf": csrf}).status_code == 404
    status, out, err = cloud_cli("alerts", "--db", db_url, "--json")
    assert status == 0, err
    assert other in [a["id"] for a in json.loads(out)]  # still open
    api = client.get("/api/stores/store-1/sales").json()
    assert api["store"] == "store-1" and api["day"] == "2026-11-20"


def test_forms_need_their_token_and_the_auditor_changes_nothing(office: str, db_url: str) -> None:
    anonymous = httpx.Client(base_url=office, follow_redirects=False, timeout=30)
    assert anonymous.get("/").status_code == 303  # to /login
    assert anonymous.get("/api/stores/store-1/sales").status_code == 401
    forged = anonymous.post("/login", data={"name": "ada", "password": PASSWORDS["ada"]})
    assert forged.status_code == 403 and "storegate_office" not in forged.headers.get(
        "set-cookie", ""
    )
    auditor, csrf = signed_in(office, "otto")
    assert auditor.get("/stores/store-2").status_code == 200  # reads every store
    mine = alert_id(db_url, "store-1")
    assert auditor.post(f"/alerts/{mine}/ack", data={"csrf": csrf}).status_code == 403
    admin, admin_csrf = signed_in(office, "ada")
    assert admin.post(f"/alerts/{mine}/ack", data={}).status_code == 403  # no CSRF token
    answer = admin.get("/")
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    assert (
        admin.post(
            f"/alerts/{mine}/ack", data={"csrf": admin_csrf, "back": "//evil.example"}
        ).headers["location"]
        == "/"
    )
    status, out, err = cloud_cli("alerts", "--db", db_url, "--json")
    assert status == 0, err
    assert mine not in [a["id"] for a in json.loads(out)]
    log = admin.get("/audit").text
    assert "alert.ack" in log and "sign_in" in log


def test_guessing_a_password_locks_the_account_and_says_nothing_of_who_exists(office: str) -> None:
    client = httpx.Client(base_url=office, follow_redirects=False, timeout=30)
    answers = []
    for name, password in [("nobody", "x" * 12)] + [("sam", f"guess {n:07d}") for n in range(5)]:
        answer = client.post(
            "/login", data={"csrf": login_csrf(client), "name": name, "password": password}
        )
        text = re.sub(r'name="csrf" value="[^"]*"', "", answer.text)  # a fresh token each
        answers.append((answer.status_code, text))
    assert len(set(answers)) == 1 and answers[0][0] == 401
    locked = client.post(
        "/login", data={"csrf": login_csrf(client), "name": "sam", "password": PASSWORDS["sam"]}
    )
    assert locked.status_code == 401  # the right password, inside the lockout
    assert (
        client.post(
            "/login", data={"csrf": login_csrf(client), "name": "ada", "password": PASSWORDS["ada"]}
        ).status_code
        == 303
    )


def test_an_operator_reads_the_day_and_drills_into_a_store(
    office: str, db_url: str, browser: Browser
) -> None:
    rows = report_json(db_url, "sales", "--by", "store", "--from", str(TODAY), "--to", str(TODAY))
    expected = {r["store"]: r["net"] for r in rows["rows"]}
    page = browser.new_page(viewport={"width": 1024, "height": 768})
    try:
        sign_in_page(page, office, "ada", "/")
        sales = page.locator("#sales tbody tr")
        expect(sales).to_have_count(2)
        for n, store in enumerate(("store-2", "store-1")):  # worst first: store-2 is offline
            row = sales.nth(n)
            expect(row.locator("td").nth(0)).to_have_text(store)
            expect(row.locator("td").nth(2)).to_have_text(expected[store])
        expect(page.get_by_text("1 online, 1 offline")).to_be_visible()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
        page.get_by_role("link", name="store-2").first.click()
        expect(page.get_by_role("heading", name="store-2")).to_be_visible()
        expect(page.locator("#by-hour tbody tr").first).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "store.png"), full_page=True)
        page.get_by_role("button", name="Acknowledge").click()
        expect(page.get_by_text("No open alert.")).to_be_visible()
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        page.goto(office + "/stores/store-2")
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    finally:
        page.close()


def test_the_api_answers_a_token_within_its_scope(office: str, db_url: str) -> None:
    tokens = {}
    for name, role, scope in (
        ("erp-1", "store", "store-1"),
        ("audit", "auditor", None),
        ("erp", "admin", None),
    ):
        args = ["web", "token", "add", name, "--role", role, "--db", db_url]
        status, out, err = cloud_cli(*args, *(["--scope", scope] if scope else []))
        assert status == 0, err
        tokens[name] = out.strip()
    api = httpx.Client(base_url=office + "/api/v1", timeout=30)

    def get(path: str, token: str | None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return api.get(path, headers=headers)

    assert get("/stores", None).status_code == 401
    assert get("/stores", "sgt_forged").status_code == 401
    assert get("/stores", tokens["erp-1"]).json() == {"stores": ["store-1"]}
    assert get("/stores/store-2/sales", tokens["erp-1"]).status_code == 404
    assert all(b["store"] == "store-1" for b in get("/fleet", tokens["erp-1"]).json()["boxes"])
    assert {a["store"] for a in get("/alerts", tokens["erp-1"]).json()["alerts"]} == {"store-1"}
    answer = get(f"/stores/store-1/sales?from={WEEK_BEFORE}&to={TODAY}&by=day", tokens["erp-1"])
    assert answer.status_code == 200, answer.text
    period = ["--from", str(WEEK_BEFORE), "--to", str(TODAY)]
    cli = report_json(db_url, "sales", "--by", "day", "--store", "store-1", *period)
    assert answer.json()["rows"] == [{k: str(v) for k, v in r.items()} for r in cli["rows"]]
    assert get("/stores/store-1/sales?by=weekday", tokens["erp-1"]).status_code == 400
    assert get("/stores/store-1/items?limit=lots", tokens["erp-1"]).status_code == 400
    other = alert_id(db_url, "store-2")
    headers = {"Authorization": f"Bearer {tokens['audit']}"}
    assert api.post(f"/alerts/{other}/ack", headers=headers).status_code == 403
    headers = {"Authorization": f"Bearer {tokens['erp-1']}"}
    assert api.post(f"/alerts/{other}/ack", headers=headers).status_code == 404
    headers = {"Authorization": f"Bearer {tokens['erp']}"}
    assert api.post(f"/alerts/{other}/ack", headers=headers).json() == {"ok": True, "alert": other}
    assert cloud_cli("web", "token", "revoke", "erp-1", "--db", db_url)[0] == 0
    assert get("/stores", tokens["erp-1"]).status_code == 401
    spec = api.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.") and "/api/v1/stores/{store}/sales" in spec["paths"]
    status, out, _ = cloud_cli("web", "token", "list", "--db", db_url)
    assert "erp-1  store store-1" in out and "revoked" in out and tokens["erp"] not in out
