"""Accounts managed in the page (issue 18, item 2): `/accounts` on a real HTTP server over
head office's database (SQLite and PostgreSQL), the accounts made with the real `cloud web
user add`, the changes read back through sign-in, the database and the audit log.

Played as an admin in Chromium: add a regional manager (a mistyped group refused, naming
it), sign in with the password shown once, change a role and scope (an unknown store
refused), disable and enable, unlock after a lockout, give a new password, and fail to
disable or demote the last admin. Played as an attacker: a store manager, an auditor and a
regional manager open the page and forge every POST, with and without the CSRF token."""

from __future__ import annotations

import json
from typing import Any

import httpx
from cloud_testkit import ARTIFACTS, PASSWORDS, cloud_cli, login_csrf, signed_in
from playwright.sync_api import Browser, Page, expect

from cloud.db import Database

ACTIONS = ("add", "role", "disable", "enable", "unlock", "password")


def audit(db_url: str) -> list[tuple[str, str, dict[str, Any]]]:
    db = Database.open(db_url)
    try:
        rows = db.query("SELECT account, action, detail FROM web_audit ORDER BY id")
    finally:
        db.close()
    return [(str(a), str(b), json.loads(c)) for a, b, c in rows]


def accounts(db_url: str) -> list[tuple[Any, ...]]:
    db = Database.open(db_url)
    try:
        rows = db.query(
            "SELECT name, role, scope, password_hash, failed, locked_until, disabled_at "
            "FROM web_account ORDER BY name"
        )
    finally:
        db.close()
    return [tuple(r) for r in rows]


def sign_in(base: str, name: str, password: str) -> int:
    client = httpx.Client(base_url=base, follow_redirects=False, timeout=30)
    form = {"csrf": login_csrf(client), "name": name, "password": password}
    return client.post("/login", data=form).status_code


def row(page: Page, name: str) -> Any:
    return page.locator(f'#accounts tr[data-account="{name}"]')


def test_an_admin_manages_accounts_in_the_browser(
    office: str, db_url: str, browser: Browser
) -> None:
    assert cloud_cli("groups", "add", "north", "store-1", "store-2", "--db", db_url)[0] == 0
    sam, _ = signed_in(office, "sam")  # an open session, ended by disabling sam
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.goto(office + "/login")
        page.get_by_label("Name").fill("ada")
        page.get_by_label("Password").fill(PASSWORDS["ada"])
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("link", name="Accounts").click()
        expect(page.locator("#accounts tbody tr")).to_have_count(3)
        expect(row(page, "sam").locator("td").nth(2)).to_have_text("store-1")
        expect(row(page, "ada").locator("td").nth(3)).to_have_text("off")
        expect(row(page, "ada").locator(".state")).to_have_text("active")

        # A mistyped group is refused, naming it, and the form keeps what was typed.
        form = page.locator("#add-account")
        form.get_by_label("Sign-in name").fill("rita")
        form.get_by_label("Role").select_option("regional")
        form.get_by_label("Scope").fill("nort")
        form.get_by_role("button", name="Add the account").click()
        expect(page.locator("#error")).to_contain_text("unknown store group 'nort'")
        expect(form.get_by_label("Sign-in name")).to_have_value("rita")
        assert [a[0] for a in accounts(db_url)] == ["ada", "otto", "sam"]
        form.get_by_label("Scope").fill("north")
        form.get_by_role("button", name="Add the account").click()
        expect(page.get_by_role("heading", name="New password for rita")).to_be_visible()
        rita = page.locator("#new-password").inner_text()
        assert len(rita) >= 12 and rita not in json.dumps(audit(db_url))
        assert sign_in(office, "rita", rita) == 303
        page.get_by_role("link", name="Back to the accounts").click()
        expect(row(page, "rita").locator("td").nth(1)).to_have_text("regional")

        # The same name again is refused; so is a store that does not exist.
        form.get_by_label("Sign-in name").fill("rita")
        form.get_by_role("button", name="Add the account").click()
        expect(page.locator("#error")).to_contain_text("there is already an account 'rita'")
        otto = row(page, "otto")
        otto.get_by_label("Role of otto").select_option("store")
        otto.get_by_label("Scope of otto").fill("store-9")
        otto.get_by_role("button", name="Change").click()
        expect(page.locator("#error")).to_contain_text("unknown store 'store-9'")
        otto = row(page, "otto")
        otto.get_by_label("Role of otto").select_option("store")
        otto.get_by_label("Scope of otto").fill("store-2")
        otto.get_by_role("button", name="Change").click()
        expect(row(page, "otto").locator("td").nth(2)).to_have_text("store-2")
        otto_client, _ = signed_in(office, "otto")
        assert otto_client.get("/stores/store-1").status_code == 404  # at once

        # Disabled: no sign-in, and the open session ends; enabled again: both work.
        row(page, "sam").get_by_role("button", name="Disable").click()
        expect(row(page, "sam").locator(".state")).to_have_text("disabled")
        assert sam.get("/").status_code == 303
        assert sign_in(office, "sam", PASSWORDS["sam"]) == 401
        row(page, "sam").get_by_role("button", name="Enable").click()
        expect(row(page, "sam").locator(".state")).to_have_text("active")
        assert sign_in(office, "sam", PASSWORDS["sam"]) == 303

        # Locked after five wrong passwords; unlocked, the right one works at once.
        for n in range(5):
            assert sign_in(office, "sam", f"wrong guess {n:04d}") == 401
        page.reload()
        expect(row(page, "sam").locator(".state")).to_contain_text("locked until")
        assert sign_in(office, "sam", PASSWORDS["sam"]) == 401
        row(page, "sam").get_by_role("button", name="Unlock").click()
        expect(row(page, "sam").locator(".state")).to_have_text("active")
        assert sign_in(office, "sam", PASSWORDS["sam"]) == 303

        # A new password, shown once: the old one stops working.
        row(page, "sam").get_by_role("button", name="New password").click()
        fresh = page.locator("#new-password").inner_text()
        assert fresh != PASSWORDS["sam"] and len(fresh) >= 12
        assert sign_in(office, "sam", PASSWORDS["sam"]) == 401
        assert sign_in(office, "sam", fresh) == 303
        page.goto(office + "/accounts")
        assert fresh not in page.content()

        # The last admin is neither disabled nor demoted.
        row(page, "ada").get_by_role("button", name="Disable").click()
        expect(page.locator("#error")).to_contain_text("'ada' is the last admin")
        ada = row(page, "ada")
        ada.get_by_label("Role of ada").select_option("auditor")
        ada.get_by_role("button", name="Change").click()
        expect(page.locator("#error")).to_contain_text("'ada' is the last admin")
        expect(row(page, "ada").locator("td").nth(1)).to_have_text("admin")
        expect(row(page, "ada").locator(".state")).to_have_text("active")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "accounts.png"), full_page=True)
        rita_row = row(page, "rita")
        rita_row.get_by_label("Role of rita").select_option("admin")
        rita_row.get_by_role("button", name="Change").click()
        expect(row(page, "rita").locator("td").nth(2)).to_have_text("")
        row(page, "ada").get_by_role("button", name="Disable").click()  # now there is rita
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()  # ada's own session
    finally:
        page.close()
    done = [(who, action, d.get("account")) for who, action, d in audit(db_url)]
    for action, name in (
        ("account.set", "rita"),
        ("account.role", "otto"),
        ("account.disable", "sam"),
        ("account.enable", "sam"),
        ("account.unlock", "sam"),
        ("account.password", "sam"),
        ("account.role", "rita"),
        ("account.disable", "ada"),
    ):
        assert ("ada", action, name) in done, action
    assert done[-1] == ("ada", "account.disable", "ada")
    assert sign_in(office, "ada", PASSWORDS["ada"]) == 401


def test_no_other_role_reads_or_changes_accounts(office: str, db_url: str) -> None:
    """Store manager sam, auditor otto and regional manager rita: the page and every POST,
    forged without and with their own CSRF token; then an anonymous POST."""
    assert cloud_cli("groups", "add", "north", "store-1", "store-2", "--db", db_url)[0] == 0
    args = ["web", "user", "add", "rita", "--role", "regional", "--scope", "north"]
    stdin = PASSWORDS["rita"] + "\n"
    status, _, err = cloud_cli(*args, "--password-stdin", "--db", db_url, stdin=stdin)
    assert status == 0, err
    before, logged = accounts(db_url), len(audit(db_url))
    forms = {
        "add": {"name": "eve", "role": "admin"},
        "role": {"name": "sam", "role": "admin"},
        "disable": {"name": "ada"},
        "enable": {"name": "ada"},
        "unlock": {"name": "ada"},
        "password": {"name": "ada"},
    }
    for name in ("sam", "otto", "rita"):
        client, csrf = signed_in(office, name)
        answer = client.get("/accounts")
        assert answer.status_code == 403 and "sam" not in answer.text.replace(name, "")
        assert 'href="/accounts"' not in client.get("/").text
        for action in ACTIONS:
            for data in (forms[action], {**forms[action], "csrf": csrf}):
                answer = client.post(f"/accounts/{action}", data=data)
                assert answer.status_code == 403, (name, action, data)
                assert "new-password" not in answer.text
    anonymous = httpx.Client(base_url=office, follow_redirects=False, timeout=30)
    for action in ACTIONS:
        assert anonymous.post(f"/accounts/{action}", data=forms[action]).status_code == 303
    admin, _ = signed_in(office, "ada")
    assert admin.post("/accounts/disable", data=forms["disable"]).status_code == 403  # no token
    assert accounts(db_url) == before
    changes = [a for _, a, _ in audit(db_url)[logged:] if a.startswith("account.")]
    assert changes == []


def test_the_command_line_lists_disables_enables_and_unlocks(office: str, db_url: str) -> None:
    """The page's functions from the command line: the same checks, the same audit."""
    db = ("--db", db_url)
    status, out, err = cloud_cli("web", "user", "list", *db)
    assert status == 0, err
    assert out.splitlines() == [
        "ada  admin  totp off  active",
        "otto  auditor  totp off  active",
        "sam  store store-1  totp off  active",
    ]
    status, _, err = cloud_cli("web", "user", "disable", "ada", *db)
    assert status == 2 and "'ada' is the last admin" in err and "Traceback" not in err
    status, _, err = cloud_cli("web", "user", "disable", "nobody", *db)
    assert status == 2 and "no account 'nobody'" in err
    assert cloud_cli("web", "user", "disable", "sam", "--by", "root", *db)[0] == 0
    assert sign_in(office, "sam", PASSWORDS["sam"]) == 401
    assert "sam  store store-1  totp off  disabled" in cloud_cli("web", "user", "list", *db)[1]
    assert cloud_cli("web", "user", "enable", "sam", "--by", "root", *db)[0] == 0
    for n in range(5):
        assert sign_in(office, "sam", f"wrong guess {n:04d}") == 401
    assert sign_in(office, "sam", PASSWORDS["sam"]) == 401  # locked by the office's clock
    assert cloud_cli("web", "user", "unlock", "sam", "--by", "root", *db)[0] == 0
    assert sign_in(office, "sam", PASSWORDS["sam"]) == 303
    done = [(w, a) for w, a, d in audit(db_url) if d.get("account") == "sam"]
    assert [x for x in done if x[0] == "root"] == [
        ("root", "account.disable"),
        ("root", "account.enable"),
        ("root", "account.unlock"),
    ]


def test_the_command_line_never_demotes_the_last_admin(office: str, db_url: str) -> None:
    args = ["web", "user", "add", "ada", "--role", "auditor", "--password-stdin", "--db", db_url]
    status, _, err = cloud_cli(*args, stdin=PASSWORDS["ada"] + "\n")
    assert status == 2 and "'ada' is the last admin" in err and "Traceback" not in err
    args = ["web", "user", "add", "sam", "--role", "store", "--scope", "store-9"]
    status, _, err = cloud_cli(*args, "--password-stdin", "--db", db_url, stdin="x" * 12 + "\n")
    assert status == 2 and "unknown store 'store-9'" in err
    assert sign_in(office, "ada", PASSWORDS["ada"]) == 303
