"""Software updates in the browser (issue 18): `/updates` on a real HTTP server over head
office's database (SQLite and PostgreSQL) with head office's signing key, a real
Mosquitto and a folder of bundles made by the real `cloud update build`.

Played as an admin in Chromium: the bundle is listed with its version and key, the boxes
with their version; a bad address and a mistyped group are refused, naming them, nothing
sent; the update is published to a group's pilot store (a rollout, the signed retained
document the CLI would send). Played as an attacker: a store manager neither reads nor
publishes, an auditor reads and cannot publish, a forged and an anonymous POST fail."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cloud_testkit import (
    ARTIFACTS,
    ROOT,
    add_web_user,
    cloud_cli,
    retained,
    serving_office,
    sign_in_page,
    signed_in,
)
from playwright.sync_api import Browser, expect

from cloud.db import Database
from cloud.ingest import BrokerOptions
from cloud.publish import document_topic, load_key
from cloud.web.publish_page import Publisher
from gateway.harness.brokers import Mosquitto

STORES = ("store-1", "store-2", "store-3")


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


def sent(db_url: str) -> list[tuple[str, str, int]]:
    db = Database.open(db_url)
    try:
        rows = db.query("SELECT kind, store, version FROM document_version ORDER BY store")
    finally:
        db.close()
    return [(str(k), str(s), int(v)) for k, s, v in rows]


@pytest.fixture
def office(tmp_path: Path, db_url: str, broker: Mosquitto) -> Iterator[str]:
    """Three stores in group north, a box each at 0.1.0, a bundle of 0.2.0 built with
    `cloud update build` in the bundles folder; ada, sam (store-1) and otto."""
    db = ("--db", db_url)
    cli("keys", "generate", "--dir", str(tmp_path / "keys"), "--key-id", "ho-upd")
    pem = tmp_path / "keys" / "ho-upd.pem"
    (tmp_path / "wheels").mkdir()
    (tmp_path / "wheels" / "storegate-0.2.0-py3-none-any.whl").write_bytes(b"a wheel")
    out = tmp_path / "bundles" / "storegate-update-0.2.0"
    cli("update", "build", str(tmp_path / "wheels"), "--version", "0.2.0", "--min-version",
        "0.1.0", "--key", str(pem), "--out", str(out))  # fmt: skip
    (tmp_path / "bundles" / "not-a-bundle").mkdir()
    cli("stores", "add", *STORES, *db)
    cli("groups", "add", "north", *STORES, *db)
    data = Database.open(db_url)
    try:
        with data.transaction():
            for store in STORES:
                data.execute(
                    "INSERT INTO box_state (store, box, online, last_seen, version) VALUES "
                    "(?, 'box-1', ?, '2026-11-20T14:59:00.000Z', '0.1.0')",
                    (store, True),
                )
    finally:
        data.close()
    add_web_user(db_url, "ada", "admin")
    add_web_user(db_url, "sam", "store", "store-1")
    add_web_user(db_url, "otto", "auditor")
    publisher = Publisher(
        BrokerOptions(port=broker.port), ROOT, load_key(pem), tmp_path / "bundles"
    )
    with serving_office(db_url, publisher=publisher) as base:
        yield base


def test_an_admin_publishes_an_update_to_a_pilot_store_in_the_browser(
    tmp_path: Path, office: str, db_url: str, browser: Browser, broker: Mosquitto
) -> None:
    page = browser.new_page(viewport={"width": 1024, "height": 768})
    try:
        sign_in_page(page, office, "ada")
        page.get_by_role("link", name="Updates").click()
        bundle = page.locator('#bundles tr[data-bundle="storegate-update-0.2.0"] td')
        expect(bundle).to_have_text(["storegate-update-0.2.0", "0.2.0", "0.1.0", "1", "ho-upd"])
        expect(page.locator("#bundles tbody tr")).to_have_count(1)  # not-a-bundle is none
        expect(page.locator('#boxes tr[data-box="store-2/box-1"] td').nth(3)).to_have_text("0.1.0")

        form = page.locator("#publish-update")
        form.get_by_label("Where the boxes fetch it").fill("ftp://files.example/u/")
        form.get_by_label("or group").fill("north")
        form.get_by_role("button", name="Publish the update").click()
        expect(page.locator("#error")).to_contain_text("is not an http://, https:// or file://")
        expect(form.get_by_label("or group")).to_have_value("north")
        form.get_by_label("Where the boxes fetch it").fill("https://files.example/u/")
        form.get_by_label("or group").fill("nort")
        form.get_by_role("button", name="Publish the update").click()
        expect(page.locator("#error")).to_contain_text("nort")
        assert sent(db_url) == []

        form.get_by_label("or group").fill("north")
        form.get_by_label("Pilot stores").fill("store-1")
        form.get_by_role("button", name="Publish the update").click()
        expect(page.locator("#done")).to_contain_text(
            "Published the update to storegate 0.2.0 for store-1 (signed by ho-upd, retained)."
        )
        expect(page.locator("#done")).to_contain_text("Rollout 1")
        assert sent(db_url) == [("update", "store-1", 1)]
        message = retained(broker.port, document_topic(ROOT, "update", "store-1", None))
        assert message is not None and message["key_id"] == "ho-upd"
        document = message["document"]
        assert (document["software"], document["url"]) == ("0.2.0", "https://files.example/u/")
        built = json.loads(
            (tmp_path / "bundles" / "storegate-update-0.2.0" / "manifest.json").read_text()
        )
        assert document["manifest"] == built
        assert "store-2" in cli("rollout", "status", "1", "--db", db_url)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "updates.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= 1024
    finally:
        page.close()
    done = [(who, action, d.get("rollout")) for who, action, d in audit(db_url)]
    assert ("ada", "update.publish", 1) in done


def test_only_an_admin_publishes_an_update(office: str, db_url: str) -> None:
    form = {"bundle": "storegate-update-0.2.0", "url": "https://x.example/", "store": "store-1"}
    logged = len(audit(db_url))
    sam, sam_csrf = signed_in(office, "sam")
    assert sam.get("/updates").status_code == 403
    assert 'href="/updates"' not in sam.get("/").text
    otto, otto_csrf = signed_in(office, "otto")
    assert "storegate-update-0.2.0" in otto.get("/updates").text
    assert 'id="publish-update"' not in otto.get("/updates").text
    for client, csrf in ((sam, sam_csrf), (otto, otto_csrf)):
        for data in (form, {**form, "csrf": csrf}):
            assert client.post("/updates", data=data).status_code == 403
    ada, _ = signed_in(office, "ada")
    assert ada.post("/updates", data=form).status_code == 403  # no CSRF token
    anonymous = httpx.Client(base_url=office, follow_redirects=False, timeout=30)
    assert anonymous.post("/updates", data=form).status_code == 303
    assert anonymous.get("/updates").status_code == 303
    assert sent(db_url) == []
    assert len(audit(db_url)) == logged + 3  # the three sign-ins
