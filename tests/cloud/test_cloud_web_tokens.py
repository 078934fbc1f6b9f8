"""API tokens managed on `/accounts` (issue 18, item 8): the page's tokens on a real HTTP
server over head office's database (SQLite and PostgreSQL), used against the real
`/api/v1/...` with `Authorization: Bearer TOKEN`, read back through `cloud web token list`,
the database and the audit log.

Played as an admin in Chromium: add a store token (a mistyped store refused, naming it),
see the token once, call the API with it and see only its store, revoke it and see the API
refuse it. Played as an attacker over httpx: a store manager and an auditor forge both
POSTs, with and without their CSRF token; an admin without the CSRF token; nobody signed in."""

from __future__ import annotations

import json
from typing import Any

import httpx
from cloud_testkit import PASSWORDS, cloud_cli, signed_in
from playwright.sync_api import Browser, expect

from cloud.db import Database


def audit(db_url: str) -> list[tuple[str, str, str]]:
    db = Database.open(db_url)
    try:
        rows = db.query("SELECT account, action, detail FROM web_audit ORDER BY id")
    finally:
        db.close()
    return [(str(a), str(b), str(c)) for a, b, c in rows]


def token_rows(db_url: str) -> list[tuple[Any, ...]]:
    db = Database.open(db_url)
    try:
        rows = db.query("SELECT name, role, scope, token_hash, revoked_at FROM web_token")
    finally:
        db.close()
    return [tuple(r) for r in rows]


def api_get(office: str, path: str, token: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.get(office + "/api/v1" + path, headers=headers, timeout=30)


def test_an_admin_adds_uses_and_revokes_a_token_in_the_browser(
    office: str, db_url: str, browser: Browser
) -> None:
    page = browser.new_page(viewport={"width": 1024, "height": 768})
    try:
        page.goto(office + "/login")
        page.get_by_label("Name").fill("ada")
        page.get_by_label("Password").fill(PASSWORDS["ada"])
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("link", name="Accounts").click()
        expect(page.locator("#tokens tbody")).to_contain_text("No token yet.")

        # A mistyped store is refused, naming it, and the form keeps what was typed.
        form = page.locator("#add-token")
        form.get_by_label("Token name").fill("erp-1")
        form.get_by_label("Token role").select_option("store")
        form.get_by_label("Token scope").fill("store-9")
        form.get_by_role("button", name="Add the token").click()
        expect(page.locator("#error")).to_contain_text("unknown store 'store-9'")
        expect(form.get_by_label("Token name")).to_have_value("erp-1")
        assert token_rows(db_url) == []
        form.get_by_label("Token scope").fill("store-1")
        form.get_by_role("button", name="Add the token").click()
        expect(page.get_by_role("heading", name="New API token erp-1")).to_be_visible()
        token = page.locator("#new-token").inner_text()
        assert token.startswith("sgt_") and len(token) > 40

        # Kept only hashed, never audited; scoped to its store in the API.
        [(name, role, scope, digest, revoked)] = token_rows(db_url)
        assert (name, role, scope, revoked) == ("erp-1", "store", "store-1", None)
        assert token not in digest and token not in json.dumps(audit(db_url))
        assert api_get(office, "/stores", token).json() == {"stores": ["store-1"]}
        assert api_get(office, "/stores/store-2/sales", token).status_code == 404
        assert api_get(office, "/stores/store-1/sales", token).status_code == 200

        page.get_by_role("link", name="Back to the accounts").click()
        mine = page.locator('#tokens tr[data-token="erp-1"]')
        expect(mine.locator("td").nth(1)).to_have_text("store")
        expect(mine.locator("td").nth(2)).to_have_text("store-1")
        assert token not in page.content()

        # The same name again is refused, naming it.
        form = page.locator("#add-token")
        form.get_by_label("Token name").fill("erp-1")
        form.get_by_label("Token role").select_option("auditor")
        form.get_by_role("button", name="Add the token").click()
        expect(page.locator("#error")).to_contain_text("there is already a token 'erp-1'")

        # Revoked: the API refuses it at once; the row stays, with no Revoke button.
        mine = page.locator('#tokens tr[data-token="erp-1"]')
        mine.get_by_role("button", name="Revoke").click()
        mine = page.locator('#tokens tr[data-token="erp-1"]')
        expect(mine.locator(".revoked")).not_to_be_empty()
        expect(mine.get_by_role("button", name="Revoke")).to_have_count(0)
        assert api_get(office, "/stores", token).status_code == 401
    finally:
        page.close()
    status, out, err = cloud_cli("web", "token", "list", "--db", db_url)
    assert status == 0, err
    assert "erp-1  store store-1" in out and "revoked" in out and token not in out
    done = [(who, action) for who, action, _ in audit(db_url) if action.startswith("token.")]
    assert done == [("ada", "token.add"), ("ada", "token.revoke")]
    # A revoked token is not revoked twice, on the command line either.
    status, _, err = cloud_cli("web", "token", "revoke", "erp-1", "--db", db_url)
    assert status == 2 and "no live token 'erp-1'" in err and "Traceback" not in err


def test_no_other_role_adds_or_revokes_a_token(office: str, db_url: str) -> None:
    """Store manager sam and auditor otto: the page and both POSTs, without and with their
    own CSRF token; then the admin without one; then nobody signed in."""
    status, out, err = cloud_cli(
        "web", "token", "add", "erp", "--role", "admin", "--by", "root", "--db", db_url
    )
    assert status == 0, err
    live = out.strip()
    before, logged = token_rows(db_url), len(audit(db_url))
    forms = {
        "add": {"name": "evil", "role": "admin"},
        "revoke": {"name": "erp"},
    }
    for name in ("sam", "otto"):
        client, csrf = signed_in(office, name)
        answer = client.get("/accounts")
        assert answer.status_code == 403 and "erp" not in answer.text
        for action, data in forms.items():
            for sent in (data, {**data, "csrf": csrf}):
                answer = client.post(f"/accounts/tokens/{action}", data=sent)
                assert answer.status_code == 403, (name, action, sent)
                assert "new-token" not in answer.text
    admin, _ = signed_in(office, "ada")
    for action, data in forms.items():
        assert admin.post(f"/accounts/tokens/{action}", data=data).status_code == 403
    anonymous = httpx.Client(base_url=office, follow_redirects=False, timeout=30)
    for action, data in forms.items():
        assert anonymous.post(f"/accounts/tokens/{action}", data=data).status_code == 303
    assert token_rows(db_url) == before
    assert [a for _, a, _ in audit(db_url)[logged:] if a.startswith("token.")] == []
    assert api_get(office, "/stores", live).json() == {"stores": ["store-1", "store-2"]}
