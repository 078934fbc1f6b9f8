"""A signed-in person's own account in the page (issue 18): `/account` on a real HTTP
server over head office's database (SQLite and PostgreSQL), with a TOTP key made by the
real `cloud web key generate`, the results read back through sign-in and the database.

Played in Chromium by store-1's manager: a wrong current password refused, the password
changed; an authenticator enrolled (a wrong code refused, nothing stored), signed out,
signed in again with the new password and a code computed here from the secret shown
once. Played as an attacker over httpx: no session, no CSRF token, a confirmation with no
enrolment under way, and guessing the current password through an open session locks
the account as guessing at sign-in does."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pyotp
from cloud_testkit import (
    OFFICE_NOW,
    PASSWORDS,
    cloud_cli,
    login_csrf,
    serving_office,
    sign_in_page,
    signed_in,
)
from playwright.sync_api import Browser, expect

from cloud.db import Database
from cloud.web.totp_key import KeyFile

NEW = "a new pass phrase for sam"


def key_file(tmp_path: Path) -> KeyFile:
    path = tmp_path / "keys" / "totp.key"
    env = {"STOREGATE_CLOUD_WEB__TOTP_KEY": str(path)}
    status, _, err = cloud_cli("web", "key", "generate", env=env)
    assert status == 0, err
    return KeyFile(path)


def row(db_url: str, name: str) -> tuple[str | None, int]:
    db = Database.open(db_url)
    try:
        found = db.one("SELECT totp_secret, failed FROM web_account WHERE name = ?", (name,))
        log = db.query("SELECT action, detail FROM web_audit WHERE account = ?", (name,))
    finally:
        db.close()
    assert found is not None
    assert all("totp_secret" not in str(d) for _, d in log)
    return found[0], int(found[1])


def test_a_manager_changes_its_password_and_enrols_an_authenticator_in_the_browser(
    office: str, db_url: str, browser: Browser, tmp_path: Path
) -> None:
    with serving_office(db_url, totp_key=key_file(tmp_path)) as base:
        page = browser.new_page(viewport={"width": 1024, "height": 768})
        try:
            sign_in_page(page, base, "sam")
            page.get_by_role("link", name="sam (store: store-1)").click()
            expect(page.locator("#totp-state")).to_have_text("off")
            form = page.locator("#password")
            form.get_by_label("Current password").fill("not my password")
            form.get_by_label("New password", exact=True).fill(NEW)
            form.get_by_label("New password again").fill(NEW)
            form.get_by_role("button", name="Change the password").click()
            expect(page.locator("#error")).to_contain_text("the current password is not right")
            form.get_by_label("Current password").fill(PASSWORDS["sam"])
            form.get_by_label("New password", exact=True).fill(NEW)
            form.get_by_label("New password again").fill(NEW)
            form.get_by_role("button", name="Change the password").click()
            expect(page.locator("#notice")).to_have_text("Your password is changed.")

            enrol = page.locator("#totp")
            enrol.get_by_label("Current password").fill(NEW)
            enrol.get_by_role("button", name="Enrol an authenticator").click()
            secret = page.locator("#totp-secret").inner_text()
            expect(page.locator("#totp-uri")).to_contain_text(f"secret={secret}")
            confirm = page.locator("#totp-confirm")
            wrong = pyotp.TOTP(secret).at(OFFICE_NOW - timedelta(minutes=10))
            confirm.get_by_label("Code the app shows").fill(wrong)
            confirm.get_by_role("button", name="Confirm the authenticator").click()
            expect(page.locator("#error")).to_contain_text("not the authenticator's current")
            expect(page.locator("#totp-secret")).to_have_count(0)  # shown once only
            assert row(db_url, "sam")[0] is None  # nothing takes effect before the code
            code = pyotp.TOTP(secret).at(OFFICE_NOW)
            page.locator("#totp-confirm").get_by_label("Code the app shows").fill(code)
            page.get_by_role("button", name="Confirm the authenticator").click()
            expect(page.locator("#notice")).to_contain_text("Your authenticator is enrolled")
            expect(page.locator("#totp-state")).to_have_text("on")
            page.get_by_role("button", name="Sign out").click()

            page.get_by_label("Name").fill("sam")
            page.get_by_label("Password").fill(NEW)
            page.get_by_role("button", name="Sign in").click()
            expect(page.locator(".error")).to_contain_text("Wrong name, password or code")
            page.get_by_label("Name").fill("sam")
            page.get_by_label("Password").fill(NEW)
            page.get_by_label("Authenticator code").fill(code)
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_role("link", name="sam (store: store-1)")).to_be_visible()
        finally:
            page.close()
    sealed, _ = row(db_url, "sam")
    assert sealed is not None and secret not in sealed  # sealed with the key, not clear
    db = Database.open(db_url)
    try:
        actions = db.query("SELECT account, action, detail FROM web_audit ORDER BY id")
    finally:
        db.close()
    mine = [(str(a), str(b)) for a, b, _ in actions if a == "sam" and str(b).startswith("account.")]
    assert mine == [
        ("sam", "account.refused"),
        ("sam", "account.password"),
        ("sam", "account.totp"),
    ]
    assert all(secret not in str(d) for _, _, d in actions)


def test_nobody_changes_an_account_but_its_owner_with_its_password(
    office: str, db_url: str
) -> None:
    anonymous = httpx.Client(base_url=office, follow_redirects=False, timeout=30)
    assert anonymous.get("/account").headers["location"] == "/login"
    data = {"current": PASSWORDS["sam"], "new": NEW, "again": NEW}
    assert anonymous.post("/account/password", data=data).headers["location"] == "/login"
    sam, csrf = signed_in(office, "sam")
    assert sam.post("/account/password", data=data).status_code == 403  # no CSRF token
    assert sam.post("/account/totp", data={"current": PASSWORDS["sam"]}).status_code == 403
    nothing = sam.post("/account/totp/confirm", data={"csrf": csrf, "code": "123456"})
    assert nothing.status_code == 400 and "no authenticator is being enrolled" in nothing.text
    short = sam.post("/account/password", data={**data, "csrf": csrf, "new": "x", "again": "x"})
    assert short.status_code == 400 and "at least 12 characters" in short.text
    for n in range(5):  # an open session is no way to guess the password
        guess = {"csrf": csrf, "current": f"guess {n:07d}"}
        assert sam.post("/account/totp", data=guess).status_code == 400
    client = httpx.Client(base_url=office, follow_redirects=False, timeout=30)
    form = {"csrf": login_csrf(client), "name": "sam", "password": PASSWORDS["sam"]}
    assert client.post("/login", data=form).status_code == 401  # locked out
    right = sam.post("/account/password", data={**data, "csrf": csrf})
    assert right.status_code == 400  # still locked, even with the right password
    assert row(db_url, "sam")[0] is None
