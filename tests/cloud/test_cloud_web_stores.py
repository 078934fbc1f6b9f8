"""Stores and store groups in the page (issue 18): `/stores` on a real HTTP server over
head office's database (SQLite and PostgreSQL), the results read back through the real
`cloud stores list` / `cloud groups list` and the audit log.

Played as an admin in Chromium at 1024x768: register two stores (a store id that cannot be
one refused), make a group (a mistyped store refused, naming it, nothing changed), take a
store out again. Played as an attacker: a store manager, a regional manager and an auditor
read only what they may and forge every POST, with and without the CSRF token; an admin's
POST without the token; an anonymous POST."""

from __future__ import annotations

import json
from typing import Any

import httpx
from cloud_testkit import ARTIFACTS, add_web_user, cloud_cli, sign_in_page, signed_in
from playwright.sync_api import Browser, expect

from cloud.db import Database

POSTS = {
    "/stores/add": {"stores": "store-9", "name": "Evil"},
    "/groups/add": {"group": "north", "stores": "store-2"},
    "/groups/remove": {"group": "north", "stores": "store-1"},
}


def audit(db_url: str) -> list[tuple[str, str, dict[str, Any]]]:
    db = Database.open(db_url)
    try:
        rows = db.query("SELECT account, action, detail FROM web_audit ORDER BY id")
    finally:
        db.close()
    return [(str(a), str(b), json.loads(c)) for a, b, c in rows]


def cli(db_url: str, *args: str) -> str:
    status, out, err = cloud_cli(*args, "--db", db_url)
    assert status == 0, err
    return out


def test_an_admin_registers_stores_and_changes_groups_in_the_browser(
    office: str, db_url: str, browser: Browser
) -> None:
    page = browser.new_page(viewport={"width": 1024, "height": 768})
    try:
        sign_in_page(page, office, "ada")
        page.get_by_role("link", name="Stores").click()
        expect(page.locator("#stores tbody tr")).to_have_count(2)
        expect(page.locator('#stores tr[data-store="store-1"] td').nth(2)).to_have_text("1")

        form = page.locator("#add-stores")
        form.get_by_label("Store ids").fill("store-3 bad/id")
        form.get_by_role("button", name="Register").click()
        expect(page.locator("#error")).to_contain_text("'bad/id' cannot be a store id")
        expect(page.locator("#error")).to_contain_text("/stores: Register stores")
        expect(form.get_by_label("Store ids")).to_have_value("store-3 bad/id")
        assert "store-3" not in cli(db_url, "stores", "list")
        form.get_by_label("Store ids").fill("store-3, store-4")
        form.get_by_label("Name").fill("Harbour")
        form.get_by_role("button", name="Register").click()
        expect(page.locator("#stores tbody tr")).to_have_count(4)
        expect(page.locator('#stores tr[data-store="store-4"] td').nth(1)).to_have_text("Harbour")

        group = page.locator("#group-change")
        group.get_by_label("Group").fill("north")
        group.get_by_label("Stores").fill("store-1 stor-2")
        group.get_by_role("button", name="Put into the group").click()
        expect(page.locator("#error")).to_contain_text("unknown store: stor-2")
        expect(group.get_by_label("Group")).to_have_value("north")
        assert "north" not in cli(db_url, "groups", "list")
        group.get_by_label("Stores").fill("store-1 store-2 store-3")
        group.get_by_role("button", name="Put into the group").click()
        expect(page.locator('#groups tr[data-group="north"] td').nth(1)).to_have_text(
            "store-1, store-2, store-3"
        )
        group.get_by_label("Group").fill("north")
        group.get_by_label("Stores").fill("store-3")
        group.get_by_role("button", name="Take out of the group").click()
        expect(page.locator('#groups tr[data-group="north"] td').nth(1)).to_have_text(
            "store-1, store-2"
        )
        expect(page.locator('#stores tr[data-store="store-1"] td').nth(3)).to_have_text("north")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "stores.png"), full_page=True)
    finally:
        page.close()
    assert "north: store-1, store-2" in cli(db_url, "groups", "list")
    assert "store-4  0 box(es)  Harbour" in cli(db_url, "stores", "list")
    done = [(who, action, detail) for who, action, detail in audit(db_url) if who == "ada"]
    assert done[1:] == [  # after ada's sign-in
        ("ada", "stores.add", {"stores": ["store-3", "store-4"], "name": "Harbour"}),
        ("ada", "group.add", {"group": "north", "stores": ["store-1", "store-2", "store-3"]}),
        ("ada", "group.remove", {"group": "north", "stores": ["store-3"]}),
    ]


def test_only_an_admin_changes_stores_and_each_reads_its_own(office: str, db_url: str) -> None:
    """sam (store-1), rita (group south: store-2) and otto (auditor) read what their role
    shows and are refused every POST; ada without the CSRF token; nobody signed in."""
    cli(db_url, "groups", "add", "north", "store-1")
    cli(db_url, "groups", "add", "south", "store-2")
    add_web_user(db_url, "rita", "regional", "south")
    before, logged = cli(db_url, "stores", "list") + cli(db_url, "groups", "list"), audit(db_url)
    sam, csrf = signed_in(office, "sam")
    text = sam.get("/stores").text
    assert 'data-store="store-1"' in text and "store-2" not in text and "south" not in text
    rita, _ = signed_in(office, "rita")
    text = rita.get("/stores").text
    assert 'data-store="store-2"' in text and "store-1" not in text and "north" not in text
    otto, _ = signed_in(office, "otto")
    text = otto.get("/stores").text
    assert 'data-store="store-1"' in text and 'data-group="south"' in text
    assert 'id="add-stores"' not in text and 'id="group-change"' not in text
    for name in ("sam", "rita", "otto"):
        client, csrf = signed_in(office, name)
        for path, form in POSTS.items():
            for data in (form, {**form, "csrf": csrf}):
                answer = client.post(path, data=data)
                assert answer.status_code == 403, (name, path, data)
    ada, _ = signed_in(office, "ada")
    anonymous = httpx.Client(base_url=office, follow_redirects=False, timeout=30)
    for path, form in POSTS.items():
        assert ada.post(path, data=form).status_code == 403
        answer = anonymous.post(path, data=form)
        assert answer.status_code == 303 and answer.headers["location"] == "/login"
    assert anonymous.get("/stores").headers["location"] == "/login"
    assert cli(db_url, "stores", "list") + cli(db_url, "groups", "list") == before
    changes = [a for a in audit(db_url)[len(logged) :] if a[1] != "sign_in"]
    assert changes == []
    # A regional manager whose group an admin empties sees no store, and no error.
    ada, csrf = signed_in(office, "ada")
    answer = ada.post("/groups/remove", data={"group": "south", "stores": "store-2", "csrf": csrf})
    assert answer.status_code == 303
    answer = rita.get("/stores")
    assert answer.status_code == 200 and "No store yet." in answer.text
    assert rita.get("/").status_code == 200
