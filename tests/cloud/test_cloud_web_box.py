"""A box's page (issue 18): its chain break accepted in the browser, its log uploads read
and its backups downloaded, and `/boxes`, the enrolled boxes — on a real HTTP server over
head office's database (SQLite and PostgreSQL), the break made by ingest's own storage
from two journals, the results read back through the real `cloud chain show` and the
audit log.

Played as an admin in Chromium at 1024x768. Played as an attacker over httpx: a store
manager and an auditor read but accept nothing and download no backup; a regional manager
of another group gets 404 for everything of the box; an admin's POST without the CSRF
token; nobody signed in."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from cloud_testkit import ARTIFACTS, ROOT, add_web_user, cloud_cli, sign_in_page, signed_in
from playwright.sync_api import Browser, expect

from cloud.db import Database
from cloud.inbound import parse
from cloud.ingest_store import IngestStore
from gateway.database import open_database
from gateway.journal.store import Journal
from gateway.sync.backup_upload import CHUNK_BYTES, chunk_bodies
from gateway.sync.log_upload import parts
from gateway.sync.payloads import JournalBatch
from gateway.sync.topics import Topics

STORE, BOX = "store-1", "box-7"
PAGE = f"/stores/{STORE}/boxes/{BOX}"
NOW = "2026-11-20T14:00:00.000Z"
DATA = bytes(range(256)) * (CHUNK_BYTES // 128)  # two chunks
LINES = [f"14:00:{n:02d} INFO gateway: line {n}" for n in range(30)]


def broken_box(tmp_path: Path, db_url: str) -> None:
    """Head office holds seqs 1..5 of one journal and 6..10 of another (a box restored from
    an old backup with --force): the chain breaks at 6, position 5, a chain.break alert.
    The box sent two log uploads and two backups (one ending before the position)."""
    a, b = (Journal(open_database(tmp_path / f"{w}.db")) for w in "ab")
    for journal, who in ((a, "a"), (b, "b")):
        journal.append_many([("sale", {"receipt": n, "journal": who}) for n in range(1, 11)])
    records = a.read(0, 5) + b.read(5, 5)
    batch = JournalBatch(
        store=STORE,
        box=BOX,
        first_seq=1,
        last_seq=10,
        historical=False,
        sent_at=NOW,
        records=[r.to_wire() for r in records],
    )
    db = Database.open(db_url)
    try:
        topic = Topics(ROOT, STORE, BOX).journal
        IngestStore(db).apply([parse(ROOT, topic, batch.model_dump_json().encode())], NOW)
        events = [
            ("log.upload", "2026-11-20T14:01:00.000Z", parts("u-old", ["an older upload"])),
            ("log.upload", "2026-11-20T14:02:00.000Z", parts("u-new", LINES)),
            ("backup.chunk", "2026-11-20T14:03:00.000Z", chunk_bodies("b-old", "old.db", 3, DATA)),
            ("backup.chunk", "2026-11-20T14:04:00.000Z", chunk_bodies("b-new", "new.db", 10, DATA)),
        ]
        with db.transaction():
            db.execute(
                "INSERT INTO box_state (store, box, online, last_seen, version) VALUES "
                "(?, ?, ?, ?, '0.9.0') ON CONFLICT (store, box) DO NOTHING",
                (STORE, BOX, True, NOW),
            )
            for kind, at, bodies in events:
                for n, body in enumerate(bodies):
                    db.execute(
                        "INSERT INTO box_event (store, box, id, time, kind, severity, body, "
                        "received_at) VALUES (?, ?, ?, ?, ?, 'info', ?, ?)",
                        (STORE, BOX, f"{kind}-{at}-{n}", at, kind, json.dumps(body), at),
                    )
            db.execute(
                "INSERT INTO enrolled_box (store, box, username, request_id, code, host, "
                "approved_at, revoked_at) VALUES (?, ?, ?, 'r1', '7KQ2-M9XD', 'lane-7', ?, NULL)",
                (STORE, BOX, f"{STORE}/{BOX}", NOW),
            )
    finally:
        db.close()


def audit(db_url: str) -> list[tuple[str, str, dict[str, Any]]]:
    db = Database.open(db_url)
    try:
        rows = db.query("SELECT account, action, detail FROM web_audit ORDER BY id")
    finally:
        db.close()
    return [(str(a), str(b), json.loads(c)) for a, b, c in rows]


def chain_show(db_url: str) -> str:
    status, out, err = cloud_cli("chain", "show", f"{STORE}/{BOX}", "--db", db_url)
    assert status == 0, err
    return out


def test_an_admin_accepts_a_break_reads_logs_and_downloads_a_backup(
    tmp_path: Path, office: str, db_url: str, browser: Browser
) -> None:
    broken_box(tmp_path, db_url)
    page = browser.new_page(viewport={"width": 1024, "height": 768}, accept_downloads=True)
    try:
        sign_in_page(page, office, "ada")
        page.goto(office + f"/stores/{STORE}")
        page.locator("#boxes").get_by_role("link", name=BOX).click()
        expect(page.locator("#break")).to_contain_text("at seq 6")
        expect(page.locator("#position")).to_contain_text("acknowledged up to seq 5")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "box.png"), full_page=True)

        form = page.locator("#accept-break")
        form.get_by_role("button", name="Accept the break").click()  # no reason: refused
        expect(page.locator("#error")).to_contain_text("a reason is required")
        assert "break      at seq 6" in chain_show(db_url)
        form = page.locator("#accept-break")
        form.get_by_label("Why the break").fill("restored from the 11-19 backup, ticket 4711")
        form.get_by_role("button", name="Accept the break").click()
        expect(page.locator("#break")).to_have_text("none")
        expect(page.locator("#position")).to_contain_text("acknowledged up to seq 10")
        expect(page.locator("#acceptances tbody tr td").nth(2)).to_have_text("ada")
        assert "seq 6 by ada at 2026-11-20T15:00:00.000Z: restored from" in chain_show(db_url)

        expect(page.locator("#logs tbody tr")).to_have_count(2)
        expect(page.locator('#logs tr[data-upload="u-new"] td').nth(1)).to_have_text("30")
        with page.expect_download() as new:
            page.locator('#backups tr[data-upload="b-new"]').get_by_role(
                "link", name="Download"
            ).click()
        assert Path(new.value.path()).read_bytes() == DATA
        assert new.value.suggested_filename == "new.db"
        old = page.locator('#backups tr[data-upload="b-old"]')
        expect(old.locator("td").nth(4)).to_contain_text("older than the position (seq 10)")
        with page.expect_download() as anyway:
            old.get_by_role("link", name="Download anyway").click()
        assert Path(anyway.value.path()).read_bytes() == DATA
        page.locator('#logs tr[data-upload="u-new"]').get_by_role("link", name="Read").click()
        assert page.locator("body").inner_text().splitlines() == LINES

        page.goto(office + "/")
        page.get_by_role("link", name="Boxes").click()
        row = page.locator(f'#enrolled tr[data-box="{STORE}/{BOX}"] td')
        expect(row.nth(1)).to_have_text("enrolled")
        expect(row.nth(3)).to_have_text("7KQ2-M9XD")
    finally:
        page.close()
    done = [(action, detail) for who, action, detail in audit(db_url) if who == "ada"]
    assert done[1][0] == "chain.accept" and done[1][1]["seq"] == 6
    assert done[1][1]["position"] == [5, 10]
    fetched = [(d["upload"], d["force"]) for a, d in done if a == "backup.fetch"]
    assert fetched == [("b-new", False), ("b-old", True)]


def test_only_an_admin_accepts_or_downloads_and_no_one_sees_another_store(
    tmp_path: Path, office: str, db_url: str
) -> None:
    broken_box(tmp_path, db_url)
    assert cloud_cli("groups", "add", "south", "store-2", "--db", db_url)[0] == 0
    add_web_user(db_url, "rita", "regional", "south")
    logged = len(audit(db_url))
    accept = {"seq": "6", "reason": "forged"}
    backup, logs = PAGE + "/backups/b-new", PAGE + "/logs/u-new"
    for name in ("sam", "otto"):  # they see store-1: they read, and change nothing
        client, csrf = signed_in(office, name)
        page = client.get(PAGE)
        assert page.status_code == 200 and 'id="accept-break"' not in page.text
        assert "Download" not in page.text
        assert client.get(logs).text.splitlines() == LINES
        assert client.get(backup).status_code == 403
        assert client.get(backup + "?force=1").status_code == 403
        for data in (accept, {**accept, "csrf": csrf}):
            assert client.post(PAGE + "/chain/accept", data=data).status_code == 403
        assert f"{STORE}/{BOX}" in client.get("/boxes").text
    sam, _ = signed_in(office, "sam")
    assert sam.get("/stores/store-2/boxes/box-1").status_code == 404
    rita, csrf = signed_in(office, "rita")
    for path in (PAGE, logs, backup, PAGE + "/logs/nothing", "/stores/store-2/boxes/box-9"):
        assert rita.get(path).status_code == 404, path
    assert f"{STORE}/{BOX}" not in rita.get("/boxes").text
    assert rita.post(PAGE + "/chain/accept", data={**accept, "csrf": csrf}).status_code == 403
    ada, csrf = signed_in(office, "ada")
    assert ada.post(PAGE + "/chain/accept", data=accept).status_code == 403
    answer = ada.post(PAGE + "/chain/accept", data={**accept, "seq": "7", "csrf": csrf})
    assert answer.status_code == 400 and "there is no chain break at seq 7" in answer.text
    answer = ada.post(PAGE + "/chain/accept", data={**accept, "seq": "x", "csrf": csrf})
    assert answer.status_code == 400 and "is not a number" in answer.text
    answer = ada.post("/stores/store-1/boxes/box-9/chain/accept", data={**accept, "csrf": csrf})
    assert answer.status_code == 404
    answer = ada.get(PAGE + "/backups/b-old")
    assert answer.status_code == 409 and "ends at seq 3" in answer.text
    anonymous = httpx.Client(base_url=office, follow_redirects=False, timeout=30)
    for path in (PAGE, logs, backup, "/boxes"):
        assert anonymous.get(path).headers["location"] == "/login"
    assert anonymous.post(PAGE + "/chain/accept", data=accept).headers["location"] == "/login"
    assert "break      at seq 6" in chain_show(db_url)
    assert [a for a in audit(db_url)[logged:] if a[1] != "sign_in"] == []
