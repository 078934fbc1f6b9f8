"""Members in the page (issue 18): `/members` on a real HTTP server over head office's
database (SQLite and PostgreSQL), read back through the real `cloud members` CLI, the
database and the audit log.

Played as store-1's manager in Chromium at 1024x768: a file with a payment card number is
refused (nothing imported, the number nowhere), a file of sixty members imported with the
store's settings, searched and paged, one member topped up (an overdraft refused, the form
kept), blocked (the card blacklisted) and made active again. Publishing, with head office's
key and a real Mosquitto: the retained members document is signed and holds the hashed
card. Played as an attacker: a store manager and a regional manager open another store's
members by URL and forge every POST (404), an auditor reads and is refused every POST
(403), a POST without the CSRF token and one without a session change nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
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
from cloud.publish import load_key
from cloud.web.publish_page import Publisher
from gateway.harness.brokers import Mosquitto
from gateway.members.cards import card_key
from gateway.sync.settings import TrustedKey
from gateway.sync.signing import TrustedKeys
from gateway.sync.topics import Topics

SETTINGS = {
    "currency": "CNY",
    "decimals": 2,
    "redemption": {"points": 100, "value": "1.00"},
    "groups": [{"id": "staff", "name": "员工", "points": {"per": "1.00", "points": 1}}],
    "offline": {"stored_value": True, "per_transaction": "50.00"},
}
ALICE = "04A2B3C4D5E601"
PAN = "4111111111111111"  # a Visa test number: a payment card, never a member card


def write_files(tmp_path: Path) -> tuple[Path, Path, Path]:
    """The settings, a file of sixty members (Alice first) and one with a bank card."""
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps(SETTINGS, ensure_ascii=False), encoding="utf-8")
    lines = ["id,name,group,cards,points,cash", f"M0001,Alice 王,staff,{ALICE},500,100.00"]
    lines += [f"M{n:04d},Member {n},staff,04CC{n:08d},0,10.00" for n in range(2, 61)]
    good = tmp_path / "members.csv"
    good.write_text("\n".join(lines) + "\n", encoding="utf-8")
    bad = tmp_path / "bank.csv"
    bad.write_text(f"id,name,group,cards\nM0001,Alice,staff,{PAN}\n", encoding="utf-8")
    return settings, good, bad


def query(db_url: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    db = Database.open(db_url)
    try:
        return [tuple(r) for r in db.query(sql, params)]
    finally:
        db.close()


def audit(db_url: str) -> list[tuple[str, str, dict[str, Any]]]:
    rows = query(db_url, "SELECT account, action, detail FROM web_audit ORDER BY id")
    return [(str(a), str(b), json.loads(c)) for a, b, c in rows]


def everything(db_url: str) -> list[list[tuple[Any, ...]]]:
    """Every member table's rows: what a refused change must leave as it was."""
    return [
        query(db_url, f"SELECT * FROM {t} ORDER BY 1, 2")
        for t in ("member_store", "member_account", "member_card", "member_ledger")
    ] + [query(db_url, "SELECT * FROM member_blacklist ORDER BY 1, 2")]


def test_a_store_manager_imports_adjusts_and_blocks_members_in_the_browser(
    tmp_path: Path, office: str, db_url: str, browser: Browser
) -> None:
    settings, good, bad = write_files(tmp_path)
    page = browser.new_page(viewport={"width": 1024, "height": 768})
    try:
        sign_in_page(page, office, "sam")
        page.get_by_role("link", name="Members").click()
        expect(page.locator("#member-stores li")).to_have_text(["store-1"])
        page.locator("#member-stores").get_by_role("link", name="store-1").click()
        expect(page.locator("#members tbody tr")).to_have_count(0)

        # A bank card in the file: refused whole, nothing kept, the number shown nowhere.
        form = page.locator("#import")
        form.get_by_label("Member file").set_input_files(str(bad))
        form.get_by_label("Store settings").set_input_files(str(settings))
        form.get_by_role("button", name="Import").click()
        expect(page.locator("#error")).to_contain_text("a card is a payment card number")
        assert PAN not in page.content()
        assert query(db_url, "SELECT * FROM member_account") == []
        assert query(db_url, "SELECT * FROM member_store") == []  # nor its settings

        form.get_by_label("Member file").set_input_files(str(good))
        form.get_by_label("Store settings").set_input_files(str(settings))
        form.get_by_role("button", name="Import").click()
        expect(page.locator("#done")).to_have_text("members.csv: 60 member(s) created, 0 updated")
        expect(page.locator("#members tbody tr")).to_have_count(50)
        expect(page.locator("#pager")).to_contain_text("Page 1 of 2")
        page.get_by_role("link", name="Next").click()
        expect(page.locator("#members tbody tr")).to_have_count(10)
        page.get_by_label("Member id or name").fill("0_")  # no wildcard: a literal _
        page.get_by_role("button", name="Search").click()
        expect(page.locator("#members tbody tr")).to_have_count(0)
        page.get_by_label("Member id or name").fill("alice")
        page.get_by_role("button", name="Search").click()
        expect(page.locator("#members tbody tr")).to_have_count(1)
        alice = page.locator('#members tr[data-member="M0001"] td')
        expect(alice).to_have_text(["M0001", "Alice 王", "staff", "active", "500", "0", "100.00"])
        page.get_by_role("link", name="M0001").click()

        # An overdraft is refused, naming why, the form kept; a top-up is booked as sam.
        adjust = page.locator("#adjust")
        adjust.get_by_label("Wallet").select_option("cash")
        adjust.get_by_label("Change").fill("-150.00")
        adjust.get_by_label("Reason").fill("refund at the desk")
        adjust.get_by_role("button", name="Adjust").click()
        expect(page.locator("#error")).to_contain_text("M0001's cash is 100.00")
        expect(adjust.get_by_label("Change")).to_have_value("-150.00")
        adjust.get_by_label("Change").fill("abc")
        adjust.get_by_role("button", name="Adjust").click()
        expect(page.locator("#error")).to_contain_text("'abc' is not an amount")
        adjust.get_by_label("Change").fill("50.00")
        adjust.get_by_label("Reason").fill("top-up at the desk")
        adjust.get_by_role("button", name="Adjust").click()
        expect(page.locator("#balances tbody td")).to_have_text(["500", "0", "150.00"])
        expect(page.locator("#history tbody tr")).to_have_count(3)
        expect(page.locator("#history")).to_contain_text("top-up at the desk")

        page.get_by_role("button", name="Block").click()
        expect(page.locator("#status")).to_have_text("blocked")
        key = card_key(ALICE, str(query(db_url, "SELECT salt FROM member_store")[0][0]))
        assert query(db_url, "SELECT card, reason FROM member_blacklist") == [(key, "blocked")]
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "member.png"), full_page=True)
        page.get_by_role("button", name="Make active again").click()
        expect(page.locator("#status")).to_have_text("active")
        page.get_by_role("button", name="Report the card lost").click()
        expect(page.locator("#status")).to_have_text("lost")

        page.get_by_role("link", name="All members of store-1").click()
        expect(page.get_by_role("button", name="Publish the members document")).to_be_disabled()
    finally:
        page.close()

    # The CLI reads what the page did; no card UID is kept, only the box's hash.
    status, out, err = cloud_cli("members", "list", "--store", "store-1", "--json", "--db", db_url)
    assert status == 0, err
    listed = {m["id"]: m for m in json.loads(out)}
    assert len(listed) == 60 and listed["M0001"]["cash"] == "150.00"
    assert listed["M0001"]["status"] == "lost"
    cards = [str(c) for (c,) in query(db_url, "SELECT card FROM member_card")]
    assert all(c.startswith("sha256:") for c in cards) and key in cards
    everything_kept = json.dumps(everything(db_url), default=str) + json.dumps(audit(db_url))
    assert ALICE not in everything_kept and PAN not in everything_kept
    status, out, err = cloud_cli(
        "members", "history", "M0001", "--store", "store-1", "--db", db_url
    )
    assert status == 0 and "adjust sam" in out, out + err
    done = [(w, a, d.get("member")) for w, a, d in audit(db_url) if a.startswith("member.")]
    assert done == [
        ("sam", "member.import", None),
        ("sam", "member.adjust", "M0001"),
        ("sam", "member.status", "M0001"),
        ("sam", "member.status", "M0001"),
        ("sam", "member.status", "M0001"),
    ]


def test_publishing_signs_the_members_and_staff_documents_with_head_offices_key(
    tmp_path: Path, db_url: str, broker: Mosquitto
) -> None:
    """An admin publishes store-1's members on `/members` and group north's staff on
    `/staff`: the retained documents are signed by head office's key (the members with
    hashed cards, the cashier with the PIN's hash only), and each is audited."""
    status, _, err = cloud_cli("keys", "generate", "--dir", str(tmp_path), "--key-id", "ho-test")
    assert status == 0, err
    public = (tmp_path / "ho-test.pub").read_text().strip()
    settings, good, _ = write_files(tmp_path)
    db = ("--db", db_url)
    assert cloud_cli("stores", "add", "store-1", *db)[0] == 0
    args = ("members", "import", str(good), "--store", "store-1", "--settings", str(settings))
    assert cloud_cli(*args, *db)[0] == 0
    assert cloud_cli("groups", "add", "north", "store-1", *db)[0] == 0
    args = ("staff", "add", "C100", "--name", "Li", "--role", "cashier", "--group", "north")
    assert cloud_cli(*args, "--pin-stdin", *db, stdin="482916\n")[0] == 0
    add_web_user(db_url, "ada", "admin")
    publisher = Publisher(BrokerOptions(port=broker.port), ROOT, load_key(tmp_path / "ho-test.pem"))
    with serving_office(db_url, publisher=publisher) as base:
        client, csrf = signed_in(base, "ada")
        answer = client.post("/stores/store-1/members/publish", data={"csrf": csrf})
        assert answer.status_code == 200, answer.text
        assert "Published members version 1 for store-1: 60 member(s)." in answer.text
        answer = client.post("/staff/publish", data={"csrf": csrf, "group": "north"})
        assert answer.status_code == 200, answer.text
        assert "published staff version 1 for store-1: 1 person(s)" in answer.text
    staff = retained(broker.port, Topics(ROOT, "store-1", "_").staff)
    assert staff is not None
    TrustedKeys([TrustedKey(key_id="ho-test", public_key=public)]).verify(staff, "test")
    [cashier] = staff["document"]["staff"]
    assert cashier["id"] == "C100" and "pin_hash" in cashier and "482916" not in json.dumps(staff)
    message = retained(broker.port, Topics(ROOT, "store-1", "_").members)
    assert message is not None
    TrustedKeys([TrustedKey(key_id="ho-test", public_key=public)]).verify(message, "test")
    document = message["document"]
    salt = document["card_hashing"]["salt"]
    alice = next(m for m in document["members"] if m["id"] == "M0001")
    assert alice["cards"] == [card_key(ALICE, salt)] and alice["wallets"]["cash"] == "100.00"
    [(who, detail)] = [(w, d) for w, a, d in audit(db_url) if a == "member.publish"]
    assert ("ada", "staff.publish") in [(w, a) for w, a, _ in audit(db_url)]
    assert who == "ada" and detail == {
        "store": "store-1",
        "version": 1,
        "members": 60,
        "key": "ho-test",
    }


def test_no_one_reads_or_changes_another_stores_members(
    tmp_path: Path, office: str, db_url: str
) -> None:
    """store-2's members: sam (store-1) and rita (group north: store-1) get 404 by page and
    by every POST; auditor otto reads them and gets 403 on every POST; no CSRF token, no
    session: refused too. Nothing changes, nothing is audited."""
    settings, good, _ = write_files(tmp_path)
    db = ("--db", db_url)
    args = ("members", "import", str(good), "--store", "store-2", "--settings", str(settings))
    assert cloud_cli(*args, *db)[0] == 0
    assert cloud_cli("groups", "add", "north", "store-1", *db)[0] == 0
    add_web_user(db_url, "rita", "regional", "north")
    before, logged = everything(db_url), len(audit(db_url))
    base = "/stores/store-2/members"
    posts: dict[str, dict[str, Any]] = {
        f"{base}/M0001/adjust": {"wallet": "cash", "delta": "500", "reason": "mine now"},
        f"{base}/M0001/status": {"action": "block"},
        f"{base}/publish": {},
    }
    upload = {"file": ("members.csv", good.read_bytes(), "text/csv")}
    for name in ("sam", "rita"):
        client, csrf = signed_in(office, name)
        for path in (base, f"{base}/M0001", f"{base}/M9999"):
            answer = client.get(path)
            assert answer.status_code == 404 and "Alice" not in answer.text, (name, path)
        for path, data in posts.items():
            assert client.post(path, data={**data, "csrf": csrf}).status_code == 404, path
        answer = client.post(f"{base}/import", data={"csrf": csrf}, files=upload)
        assert answer.status_code == 404
        assert "store-2" not in client.get("/members").text
    otto, csrf = signed_in(office, "otto")
    assert "Alice 王" in otto.get(f"{base}?q=M0001").text
    assert "100.00" in otto.get(f"{base}/M0001").text
    assert 'id="adjust"' not in otto.get(f"{base}/M0001").text
    for path, data in posts.items():
        assert otto.post(path, data={**data, "csrf": csrf}).status_code == 403, path
    assert otto.post(f"{base}/import", data={"csrf": csrf}, files=upload).status_code == 403
    admin, _ = signed_in(office, "ada")
    for path, data in posts.items():
        assert admin.post(path, data=data).status_code == 403, path  # no CSRF token
    anonymous = httpx.Client(base_url=office, follow_redirects=False, timeout=30)
    for path, data in posts.items():
        assert anonymous.post(path, data=data).status_code == 303
    assert anonymous.get(base).status_code == 303
    assert everything(db_url) == before
    assert [a for _, a, _ in audit(db_url)[logged:] if a.startswith("member.")] == []
