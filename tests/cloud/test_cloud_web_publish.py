"""Publishing to store groups in the browser (issue 18, item 7): `cloud web` with head
office's signing key and a real Mosquitto, real boxes with `cloud ingest` storing what
they say, accounts made with the real `cloud web user add`.

Played as an operator in Chromium: preview a catalog for a group (the very text `cloud
publish --preview` prints), publish it to a pilot store, watch its box apply it, continue
to the rest; a mistyped group is refused, never "published"; a pilot box that refused
holds the rollout until it is forced. The retained documents are the CLI's: the file read
the CLI's way, signed by head office's key. Played as an attacker: a store manager and an
auditor publish and continue by page and by forged POST (with and without the CSRF
token), and read only the rollouts of their stores."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from cloud_testkit import (
    ARTIFACTS,
    PASSWORDS,
    ROOT,
    Box,
    RunningIngest,
    add_web_user,
    cloud_cli,
    eventually,
    login_csrf,
    retained,
    serving,
    signed_in,
)
from cloud_testkit import (
    test_clock as office_clock,
)
from playwright.sync_api import Page, expect

from cloud.db import Database
from cloud.ingest import BrokerOptions
from cloud.publish import load_key, read_document
from cloud.web.app import create_app
from cloud.web.publish_page import Publisher
from gateway.harness.brokers import Mosquitto
from gateway.sync.errors import DocumentRefused
from gateway.sync.settings import TrustedKey
from gateway.sync.signing import TrustedKeys
from gateway.sync.topics import Topics

CATALOG = Path(__file__).parents[2] / "config" / "catalog.example.json"
STORES = ("store-1", "store-2", "store-3")
MIA = "regional south manager"  # mia: the regional manager of group south


class Sink:
    """A box's document sink; `refuse` makes it refuse every document."""

    def __init__(self, refuse: bool = False) -> None:
        self.refuse = refuse
        self.applied: list[int] = []

    def apply(self, kind: str, version: int, document: dict[str, Any]) -> None:
        if self.refuse:
            raise DocumentRefused("tax class VAT-X is unknown to this box", where="catalog")
        self.applied.append(version)


class Office:
    def __init__(self, url: str, db_url: str, pem: Path, trusted: TrustedKeys) -> None:
        self.url, self.db_url, self.pem, self.trusted = url, db_url, pem, trusted

    def versions(self) -> list[tuple[str, int]]:
        db = Database.open(self.db_url)
        try:
            rows = db.query("SELECT store, version FROM document_version ORDER BY store")
        finally:
            db.close()
        return [(str(s), int(v)) for s, v in rows]

    def audit(self) -> list[tuple[str, str, dict[str, Any]]]:
        db = Database.open(self.db_url)
        try:
            rows = db.query("SELECT account, action, detail FROM web_audit ORDER BY id")
        finally:
            db.close()
        return [(str(a), str(b), json.loads(c)) for a, b, c in rows]


@pytest.fixture
def office(tmp_path: Path, db_url: str, broker: Mosquitto) -> Iterator[Office]:
    """Three registered stores in groups `north` (all three) and `south` (2 and 3), an
    admin, a store manager of store-1 and an auditor; `cloud web` serving with head
    office's key and the test broker."""
    status, _, err = cloud_cli(
        "keys", "generate", "--dir", str(tmp_path / "keys"), "--key-id", "ho-test"
    )
    assert status == 0, err
    pem = tmp_path / "keys" / "ho-test.pem"
    public = (tmp_path / "keys" / "ho-test.pub").read_text().strip()
    trusted = TrustedKeys([TrustedKey(key_id="ho-test", public_key=public)])
    db = ("--db", db_url)
    assert cloud_cli("stores", "add", *STORES, *db)[0] == 0
    assert cloud_cli("groups", "add", "north", *STORES, *db)[0] == 0
    assert cloud_cli("groups", "add", "south", "store-2", "store-3", *db)[0] == 0
    add_web_user(db_url, "ada", "admin")
    add_web_user(db_url, "sam", "store", "store-1")
    add_web_user(db_url, "otto", "auditor")
    args = ["web", "user", "add", "mia", "--role", "regional", "--scope", "south"]
    status, _, err = cloud_cli(*args, "--password-stdin", *db, stdin=MIA + "\n")
    assert status == 0, err
    publisher = Publisher(BrokerOptions(port=broker.port), ROOT, load_key(pem))
    with serving(create_app(db_url, clock=office_clock, publisher=publisher)) as base:
        yield Office(base, db_url, pem, trusted)


def sign_in(page: Page, url: str, name: str) -> None:
    page.goto(url + "/login")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(PASSWORDS[name])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("link", name="Rollouts")).to_be_visible()


def fill_publish(page: Page, url: str, file: Path, group: str, pilot: str) -> None:
    page.goto(url + "/publish")
    page.get_by_label("Document").select_option("catalog")
    page.get_by_label("File (JSON; TOML for config)").set_input_files(str(file))
    page.get_by_label("or group").fill(group)
    page.get_by_label("Pilot stores").fill(pilot)
    page.get_by_role("button", name="Preview").click()


def box_state(page: Page, store: str) -> str:
    return page.locator(f'#rollout tr[data-store="{store}"] td').nth(3).inner_text()


def test_an_admin_previews_publishes_to_a_pilot_and_continues_in_the_browser(
    tmp_path: Path,
    office: Office,
    broker: Mosquitto,
    ingest: Callable[..., RunningIngest],
    browser: Any,
) -> None:
    ingest()
    sinks = {"store-1": Sink(), "store-2": Sink(), "store-3": Sink(refuse=True)}
    boxes = [
        Box(tmp_path / s, broker.port, store=s, trusted_keys=office.trusted).start(sink=sink)
        for s, sink in sinks.items()
    ]
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    try:
        sign_in(page, office.url, "ada")

        # A mistyped group is refused, naming it; nothing is versioned or sent.
        fill_publish(page, office.url, CATALOG, "nort", "")
        expect(page.locator("#error")).to_contain_text("unknown store group 'nort'")
        expect(page.get_by_label("or group")).to_have_value("nort")  # to correct it
        page.get_by_label("File (JSON; TOML for config)").set_input_files(str(CATALOG))
        page.get_by_label("or group").fill("north")
        page.get_by_label("Pilot stores").fill("store-9")
        page.get_by_role("button", name="Preview").click()
        expect(page.locator("#error")).to_contain_text("pilot stores not in group north: store-9")

        # The preview is the CLI's, store by store.
        fill_publish(page, office.url, CATALOG, "north", "store-1")
        expect(page.locator("#stages")).to_contain_text("Pilot stores first: store-1")
        status, cli, err = cloud_cli(
            "publish",
            "catalog",
            str(CATALOG),
            "--group",
            "north",
            "--preview",
            "--db",
            office.db_url,
        )
        assert status == 0, err
        assert page.locator("#preview-text").text_content() == cli
        expect(page.locator("#preview-store-2")).to_contain_text("everything is new")
        assert office.versions() == []
        page.get_by_role("button", name="Publish to the pilot stores").click()
        expect(page.locator("#published")).to_have_text(
            "published catalog version 1 for store-1 (signed by ho-test, retained)"
        )
        assert eventually(lambda: sinks["store-1"].applied == [1])
        assert office.versions() == [("store-1", 1)]
        assert sinks["store-2"].applied == [] and sinks["store-3"].applied == []

        # What is retained for store-1 is the CLI's document, signed by head office's key.
        message = retained(broker.port, Topics(ROOT, "store-1", "_").catalog)
        assert message is not None
        office.trusted.verify(message, "test")
        expected = read_document("catalog", CATALOG)
        if "version" in expected:
            expected["version"] = 1
        assert message["document"] == expected
        assert (message["kind"], message["store"], message["version"]) == ("catalog", "store-1", 1)

        page.get_by_role("link", name="1", exact=True).click()
        expect(page.get_by_role("heading", name="Rollout 1")).to_be_visible()

        def applied() -> bool:
            page.reload()
            return box_state(page, "store-1") == "box-1: applied"

        assert eventually(applied)
        assert box_state(page, "store-2") == "-"
        page.get_by_role("button", name="Continue to the rest").click()
        expect(page.locator('#rollout tr[data-store="store-2"] td').nth(2)).to_have_text("1")
        assert eventually(lambda: sinks["store-2"].applied == [1])

        def refused() -> bool:
            page.reload()
            return box_state(page, "store-3").startswith("box-1: refused")

        assert eventually(refused)
        assert "VAT-X" in box_state(page, "store-3")
        expect(page.locator("#done")).to_be_visible()

        # The next catalog changes prices and products: the preview says so per store, as
        # the CLI does; a pilot box that refuses it holds the rollout until it is forced.
        changed = json.loads(CATALOG.read_text())
        first, second = changed["products"][0], changed["products"][1]
        removed = changed["products"].pop()
        first["price"] = str(Decimal(first["price"]) + 1)
        second["price"] = "0.05"
        fresh = {k: v for k, v in second.items() if k not in ("barcodes", "plu", "codes")}
        changed["products"].append({**fresh, "sku": "NEW-1", "name": "Bio Hafer"})
        new = tmp_path / "catalog-2.json"
        new.write_text(json.dumps(changed))
        fill_publish(page, office.url, new, "south", "store-3")
        shown = page.locator("#preview-store-2")
        expect(shown.locator("li.price-up")).to_contain_text(f"price up {first['sku']}")
        expect(shown.locator("li.price-down")).to_contain_text(f"price down {second['sku']}")
        expect(shown).to_contain_text("added NEW-1 Bio Hafer at 0.05")
        expect(shown).to_contain_text(f"removed {removed['sku']}")
        status, cli, err = cloud_cli(
            "publish", "catalog", str(new), "--group", "south", "--preview", "--db", office.db_url
        )
        assert status == 0, err
        assert page.locator("#preview-text").text_content() == cli
        assert "store-2 (published: version 1):" in cli
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "publish-preview.png"), full_page=True)
        page.get_by_role("button", name="Publish to the pilot stores").click()
        expect(page.locator("#published")).to_contain_text("version 2 for store-3")
        page.goto(office.url + "/rollouts/2")
        assert eventually(refused)
        page.screenshot(path=str(ARTIFACTS / "rollout.png"), full_page=True)
        page.get_by_role("button", name="Continue to the rest").click()
        expect(page.locator(".message")).to_contain_text(
            "the pilot is not done: store-3/box-1 refused"
        )
        assert sinks["store-2"].applied == [1]
        page.goto(office.url + "/rollouts/2")
        page.get_by_label("Continue although a pilot box refused").check()
        page.get_by_role("button", name="Continue to the rest").click()
        assert eventually(lambda: sinks["store-2"].applied == [1, 2])
        status, out, err = cloud_cli("rollout", "status", "2", "--json", "--db", office.db_url)
        assert status == 0, err
        assert {r["store"]: r["version"] for r in json.loads(out)["stores"]} == {
            "store-2": 2,
            "store-3": 2,
        }
    finally:
        page.close()
        for box in boxes:
            box.stop()
    actions = [(who, action, detail.get("rollout")) for who, action, detail in office.audit()]
    assert ("ada", "publish", 1) in actions and ("ada", "rollout.continue", 1) in actions
    assert ("ada", "rollout.continue", 2) in actions
    forced = [d for _, a, d in office.audit() if a == "rollout.continue" and d["rollout"] == 2]
    assert forced == [{**forced[0], "force": True, "versions": {"store-2": 2}}]


def test_only_an_admin_publishes_and_others_see_the_rollouts_of_their_stores(
    office: Office, broker: Mosquitto
) -> None:
    """Store manager sam (store-1), auditor otto and regional manager mia (south) by
    forged requests; then an admin's own POST without its token, and to a mistyped target."""
    common = ("--db", office.db_url, "--port", str(broker.port), "--key", str(office.pem))
    for group, pilot in (("north", "store-1"), ("south", "store-2")):
        status, _, err = cloud_cli(
            "publish", "catalog", str(CATALOG), "--group", group, "--pilot", pilot, *common
        )
        assert status == 0, err
    before = office.versions()
    document = json.dumps(read_document("catalog", CATALOG))
    forged = {"kind": "catalog", "group": "north", "document": document}
    upload = {"file": ("catalog.json", CATALOG.read_bytes(), "application/json")}
    for name in ("sam", "otto"):
        client, csrf = signed_in(office.url, name)
        assert client.get("/publish").status_code == 403
        for data in (forged, {**forged, "csrf": csrf}):
            assert client.post("/publish", data=data).status_code == 403
            assert client.post("/publish/preview", data=data, files=upload).status_code == 403
            assert client.post("/rollouts/1/continue", data=data).status_code == 403
        listing = client.get("/rollouts").text
        assert 'href="/rollouts/1"' in listing
        assert ('href="/rollouts/2"' in listing) == (name == "otto")
        mine = client.get("/rollouts/1")
        assert mine.status_code == 200 and "Continue to the rest" not in mine.text
        assert ("store-2" in mine.text) == (name == "otto")
        assert client.get("/rollouts/2").status_code == (404 if name == "sam" else 200)
        assert client.get("/rollouts/99").status_code == 404
    regional = httpx.Client(base_url=office.url, follow_redirects=False, timeout=30)
    form = {"csrf": login_csrf(regional), "name": "mia", "password": MIA}
    assert regional.post("/login", data=form).status_code == 303
    csrf = regional.get("/rollouts").text.split('name="csrf" value="')[1].split('"')[0]
    north = regional.get("/rollouts/1").text
    assert "store-2" in north and "store-3" in north and "store-1" not in north
    assert regional.get("/rollouts/2").status_code == 200
    assert regional.post("/rollouts/2/continue", data={"csrf": csrf}).status_code == 403
    assert regional.get("/publish").status_code == 403
    assert office.versions() == before  # nothing was published by any of it
    anonymous = httpx.Client(base_url=office.url, follow_redirects=False, timeout=30)
    assert anonymous.post("/publish", data=forged).status_code == 303  # to /login
    admin, csrf = signed_in(office.url, "ada")
    assert admin.post("/publish", data=forged).status_code == 403  # an admin needs the token too
    answer = admin.post("/publish", data={**forged, "group": "nort", "csrf": csrf})
    assert answer.status_code == 400 and "unknown store group" in answer.text
    answer = admin.post("/publish", data={**forged, "group": "", "store": "stor-1", "csrf": csrf})
    assert answer.status_code == 400 and "unknown store: stor-1" in answer.text
    assert office.versions() == before
    done = admin.post("/publish", data={**forged, "csrf": csrf})
    assert done.status_code == 200 and done.text.count("published catalog version") == 3
    assert office.versions() == [("store-1", 2), ("store-2", 2), ("store-3", 1)]
    assert [a for w, a, _ in office.audit() if a == "publish"] == ["publish"]


def api_token(db_url: str, name: str, role: str, scope: str | None = None) -> str:
    """A token made with the real `cloud web token add`."""
    args = ["web", "token", "add", name, "--role", role, "--db", db_url]
    status, out, err = cloud_cli(*args, *(["--scope", scope] if scope else []))
    assert status == 0, err
    return out.strip()


def test_an_erp_previews_and_publishes_through_the_api(
    tmp_path: Path, office: Office, broker: Mosquitto
) -> None:
    """Over real HTTP with an admin token: the preview is the CLI's text; a mistyped group
    or store, a body that is no JSON and a config for a group are refused with the fix,
    never published; publishing to a pilot reaches its box, signed by head office's key."""
    sink = Sink()
    box = Box(tmp_path / "store-1", broker.port, trusted_keys=office.trusted).start(sink=sink)
    api = httpx.Client(
        base_url=office.url + "/api/v1",
        headers={"Authorization": f"Bearer {api_token(office.db_url, 'erp', 'admin')}"},
        timeout=30,
    )
    body = CATALOG.read_bytes()
    try:
        preview = api.post("/publish/catalog/preview?group=north", content=body)
        assert preview.status_code == 200, preview.text
        status, cli, err = cloud_cli(
            "publish", "catalog", str(CATALOG), "--group", "north", "--preview", *office_db(office)
        )
        assert status == 0, err
        shown = preview.json()
        assert shown["text"] == cli and shown["target"] == "group north"
        assert [s["store"] for s in shown["stores"]] == list(STORES)
        assert all(s["published"] is None for s in shown["stores"])
        for query, says in (
            ("group=nort", "unknown store group 'nort'"),
            ("store=stor-1", "unknown store: stor-1"),
            ("group=north&pilot=store-9", "pilot stores not in group north: store-9"),
            ("store=store-1&group=north", "publish to one store or to one group"),
        ):
            for path in ("/publish/catalog", "/publish/catalog/preview"):
                answer = api.post(f"{path}?{query}", content=body)
                assert answer.status_code == 400, (path, query, answer.text)
                assert says in answer.json()["what"] and answer.json()["fix"], answer.text
        refused = api.post("/publish/catalog?store=store-1", content=b"{not json")
        assert refused.status_code == 400 and "cannot read the catalog document" in refused.text
        config = api.post("/publish/config?group=north", content=b"{}")
        assert config.status_code == 400 and "not a group" in config.json()["what"]
        assert api.post("/publish/orders?store=store-1", content=body).status_code == 400
        assert office.versions() == []

        done = api.post("/publish/catalog?group=north&pilot=store-1", content=body)
        assert done.status_code == 200, done.text
        assert done.json() == {
            "kind": "catalog",
            "target": "group north",
            "rollout": 1,
            "versions": [{"store": "store-1", "version": 1}],
            "key": "ho-test",
        }
        assert eventually(lambda: sink.applied == [1])
        assert office.versions() == [("store-1", 1)]
        message = retained(broker.port, Topics(ROOT, "store-1", "_").catalog)
        assert message is not None
        office.trusted.verify(message, "test")
        expected = read_document("catalog", CATALOG)
        if "version" in expected:
            expected["version"] = 1
        assert message["document"] == expected
        status, out, err = cloud_cli("rollout", "status", "1", "--json", *office_db(office))
        assert status == 0, err
        assert {r["store"]: r["version"] for r in json.loads(out)["stores"]} == {
            "store-1": 1,
            "store-2": None,
            "store-3": None,
        }
        again = api.post("/publish/catalog/preview?store=store-1", content=body).json()
        assert again["stores"][0]["published"] == 1
    finally:
        box.stop()
    published = [(w, d) for w, a, d in office.audit() if a == "publish"]
    assert published == [
        (
            "token:erp",
            {
                "kind": "catalog",
                "target": "group north",
                "box": None,
                "pilot": ["store-1"],
                "rollout": 1,
                "versions": {"store-1": 1},
                "key": "ho-test",
                "via": "api",
            },
        )
    ]
    spec = httpx.get(office.url + "/api/v1/openapi.json", timeout=30).json()
    for path in ("/api/v1/publish/{kind}", "/api/v1/publish/{kind}/preview"):
        post = spec["paths"][path]["post"]
        assert "requestBody" in post and {"400", "403"} <= set(post["responses"])


def office_db(office: Office) -> tuple[str, str]:
    return ("--db", office.db_url)


def test_only_an_admin_token_publishes_through_the_api(office: Office) -> None:
    """Store, regional and auditor tokens, a forged token, none, and an admin's browser
    session (cookies never carry a POST to the API): 401 or 403, nothing published."""
    body = CATALOG.read_bytes()
    api = httpx.Client(base_url=office.url + "/api/v1", timeout=30)
    for name, role, scope in (
        ("erp-1", "store", "store-1"),
        ("erp-south", "regional", "south"),
        ("audit", "auditor", None),
    ):
        headers = {"Authorization": f"Bearer {api_token(office.db_url, name, role, scope)}"}
        for path in ("/publish/catalog?store=store-1", "/publish/catalog/preview?store=store-1"):
            answer = api.post(path, content=body, headers=headers)
            assert answer.status_code == 403, (name, path, answer.text)
            assert "lines" not in answer.text
    for headers in ({}, {"Authorization": "Bearer sgt_forged"}):
        answer = api.post("/publish/catalog?store=store-1", content=body, headers=headers)
        assert answer.status_code == 401
    admin, csrf = signed_in(office.url, "ada")
    answer = admin.post(
        "/api/v1/publish/catalog?store=store-1",
        content=body,
        headers={"X-CSRF-Token": csrf, "Content-Type": "application/json"},
    )
    assert answer.status_code == 401
    assert office.versions() == []
    assert [a for _, a, _ in office.audit() if a == "publish"] == []


def test_without_a_signing_key_the_api_previews_and_refuses_to_publish(db_url: str) -> None:
    assert cloud_cli("stores", "add", "store-1", "--db", db_url)[0] == 0
    token = api_token(db_url, "erp", "admin")
    with serving(create_app(db_url, clock=office_clock)) as base:
        api = httpx.Client(
            base_url=base + "/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        body = CATALOG.read_bytes()
        assert api.post("/publish/catalog/preview?store=store-1", content=body).status_code == 200
        off = api.post("/publish/catalog?store=store-1", content=body)
        assert off.status_code == 409 and "Publishing is off" in off.json()["error"]
