"""Box enrolment in the page (issue 18): `/boxes` on a real HTTP server over head office's
database (SQLite and PostgreSQL), talking to the shipped Mosquitto with the
dynamic-security plugin as head office's enrolment service (storegate-admin), a box's
enrolment request published on the enrolment identity as `gateway enrol` does; the
results read back through the real `cloud boxes list`, the broker and the audit log.

Played as an admin in Chromium at 1024x768: the waiting code listed with its host, a
mistyped code refused, the code approved as store-1/box-5 (its sealed answer on the
broker), then revoked after a confirmation. Played as an attacker over httpx: a store
manager and an auditor, an admin without the CSRF token, nobody signed in, and a server
with no enrolment certificate."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from broker_testkit import ADMIN, ROOT, ShippedBroker
from cloud_testkit import (
    ARTIFACTS,
    cloud_cli,
    eventually,
    serving_office,
    sign_in_page,
    signed_in,
)
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from playwright.sync_api import Browser, expect

from cloud.db import Database
from cloud.publish import load_key
from cloud.web.enrol_page import Enroller
from gateway.sync.enrolment import answer_topic, new_request, request_topic

ENROL_PASSWORD = "shop-image-enrol-2026"


@pytest.fixture
def shipped(tmp_path: Path) -> Iterator[ShippedBroker]:
    with ShippedBroker(tmp_path / "broker", [], enrol_password=ENROL_PASSWORD) as broker:
        yield broker


@pytest.fixture
def enrolling(tmp_path: Path, office: str, db_url: str, shipped: ShippedBroker) -> Iterator[str]:
    """The office's database served by a second `cloud web` that holds the enrolment
    certificate and head office's key, as `cloud web serve --enrol-cert-file ...` does."""
    status, _, err = cloud_cli(
        "keys", "generate", "--dir", str(tmp_path / "keys"), "--key-id", "ho-test"
    )
    assert status == 0, err
    key = load_key(tmp_path / "keys" / "ho-test.pem", "ho-test")
    enroller = Enroller(shipped.office_options(ADMIN), ROOT, key)
    with serving_office(db_url, enroller=enroller) as base:
        yield base


def waiting_box(shipped: ShippedBroker) -> tuple[str, str, Any]:
    """A box asking to be enrolled, as `gateway enrol` asks: its request retained on its
    own request topic; returns its request id, pairing code and the box's probe."""
    request = new_request(uuid.uuid4().hex, X25519PrivateKey.generate(), {"host": "lane-7"})
    box = shipped.password_probe("storegate-enrol", ENROL_PASSWORD, "enrolling-box")
    sent = box.client.publish(
        request_topic(ROOT, request.request_id), request.payload(), qos=1, retain=True
    )
    sent.wait_for_publish(10)
    assert sent.is_published()
    return request.request_id, request.code, box


def audit(db_url: str) -> list[tuple[str, str, dict[str, Any]]]:
    db = Database.open(db_url)
    try:
        rows = db.query("SELECT account, action, detail FROM web_audit ORDER BY id")
    finally:
        db.close()
    return [(str(a), str(b), json.loads(c)) for a, b, c in rows]


def listed(db_url: str) -> list[dict[str, Any]]:
    status, out, err = cloud_cli("boxes", "list", "--json", "--db", db_url)
    assert status == 0, err
    found: list[dict[str, Any]] = json.loads(out)
    return found


def test_an_admin_approves_a_pairing_code_and_revokes_the_box_in_the_browser(
    enrolling: str, db_url: str, shipped: ShippedBroker, browser: Browser
) -> None:
    request_id, code, box = waiting_box(shipped)
    page = browser.new_page(viewport={"width": 1024, "height": 768})
    try:
        sign_in_page(page, enrolling, "ada")
        page.get_by_role("link", name="Boxes").click()
        row = page.locator(f'#pending tr[data-code="{code}"]')
        expect(row.locator("td").nth(1)).to_have_text("lane-7")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "boxes.png"), full_page=True)

        form = page.locator("#approve-code")
        form.get_by_label("Pairing code").fill("0000-0000")
        form.get_by_label("Box id").fill("box-5")
        form.get_by_role("button", name="Approve the code").click()
        expect(page.locator("#error")).to_contain_text("no box is waiting with pairing code")
        expect(form.get_by_label("Box id")).to_have_value("box-5")
        assert listed(db_url) == []

        row = page.locator(f'#pending tr[data-code="{code}"]')
        row.get_by_label(f"Store for {code}").select_option("store-1")
        row.get_by_label(f"Box for {code}").fill("box-5")
        row.get_by_role("button", name="Approve").click()
        enrolled = page.locator('#enrolled tr[data-box="store-1/box-5"]')
        expect(enrolled.locator(".state")).to_have_text("enrolled")
        expect(page.locator("#pending tbody")).to_contain_text("No box is waiting")
        assert [(b["store"], b["box"], b["code"], b["host"]) for b in listed(db_url)] == [
            ("store-1", "box-5", code, "lane-7")
        ]
        assert box.subscribe(answer_topic(ROOT, request_id)) == [1]
        assert eventually(lambda: any(request_id in seen for seen in box.seen), 10)

        enrolled.get_by_role("link", name="Revoke").click()
        expect(page.get_by_role("heading", name="Revoke store-1/box-5?")).to_be_visible()
        page.get_by_role("button", name="Revoke store-1/box-5").click()
        expect(enrolled.locator(".state")).to_contain_text("revoked 2026-11-20T15:00:00")
        assert listed(db_url)[0]["revoked_at"] == "2026-11-20T15:00:00.000Z"
    finally:
        page.close()
        box.close()
    done = [(a, d) for who, a, d in audit(db_url) if who == "ada" and a.startswith("box.")]
    assert done == [
        (
            "box.approve",
            {"code": code, "store": "store-1", "box": "box-5", "host": "lane-7", "key": "ho-test"},
        ),
        ("box.revoke", {"store": "store-1", "box": "box-5"}),
    ]


def test_only_an_admin_approves_or_revokes(
    enrolling: str, office: str, db_url: str, shipped: ShippedBroker
) -> None:
    _, code, box = waiting_box(shipped)
    box.close()
    forms = {
        "/boxes/approve": {"code": code, "store": "store-1", "box": "box-5"},
        "/boxes/revoke": {"box": "store-1/box-1"},
    }
    for name in ("sam", "otto"):
        client, csrf = signed_in(enrolling, name)
        page = client.get("/boxes")
        assert (
            page.status_code == 200
            and code not in page.text
            and 'action="/boxes/approve"' not in page.text
        )
        assert client.get("/boxes/revoke?box=store-1/box-1").status_code == 403
        for path, form in forms.items():
            for data in (form, {**form, "csrf": csrf}):
                assert client.post(path, data=data).status_code == 403, (name, path)
    ada, csrf = signed_in(enrolling, "ada")
    anonymous = httpx.Client(base_url=enrolling, follow_redirects=False, timeout=30)
    for path, form in forms.items():
        assert ada.post(path, data=form).status_code == 403
        assert anonymous.post(path, data=form).headers["location"] == "/login"
    answer = ada.post(
        "/boxes/approve", data={**forms["/boxes/approve"], "store": "stor-1", "csrf": csrf}
    )
    assert answer.status_code == 400 and "unknown store: stor-1" in answer.text
    answer = ada.post("/boxes/revoke", data={"box": "store-1", "csrf": csrf})
    assert answer.status_code == 400 and "is not STORE/BOX" in answer.text
    plain, plain_csrf = signed_in(office, "ada")  # no enrolment certificate: lists only
    assert "Approving and revoking are off" in plain.get("/boxes").text
    answer = plain.post("/boxes/approve", data={**forms["/boxes/approve"], "csrf": plain_csrf})
    assert answer.status_code == 409
    assert listed(db_url) == []
    assert [a for a in audit(db_url) if a[1].startswith("box.")] == []


def test_serve_refuses_an_enrolment_certificate_without_its_key_or_head_offices_key(
    db_url: str, tmp_path: Path
) -> None:
    for extra in (
        ("--enrol-cert-file", str(tmp_path / "admin.pem")),
        ("--enrol-cert-file", "a.pem", "--enrol-key-file", "a.key"),  # no --key
    ):
        status, _, err = cloud_cli("web", "serve", "--db", db_url, "--port", "1", *extra)
        assert status == 2 and "approving boxes needs the enrolment certificate" in err, err
        assert "Traceback" not in err
