"""A command to a box from its page (issue 18): `cloud cmd`'s send step in the browser, on a
real HTTP server over head office's database (SQLite and PostgreSQL) and the test
Mosquitto, the box's answer through a running ingest.

Played as an admin in Chromium at 1024x768: the test plays the box, subscribed on its
command topic; the page sends `upload_logs`, the signed command arrives (checked with head
office's public key), the box's result goes through ingest into the `command` row, and the
page shows it. Played as an attacker over httpx: a store manager and an auditor send
nothing (403), nor an admin without the CSRF token; an unknown command or an argument that
is not KEY=VALUE is refused with nothing sent or recorded; without a signing key the page
says commands are off."""

from __future__ import annotations

import html
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from cloud_testkit import (
    ARTIFACTS,
    ROOT,
    RunningIngest,
    add_web_user,
    cloud_cli,
    eventually,
    serving_office,
    sign_in_page,
    signed_in,
)
from paho.mqtt.enums import CallbackAPIVersion
from playwright.sync_api import Browser, expect

from cloud.db import Database
from cloud.ingest import BrokerOptions
from cloud.publish import load_key
from cloud.web.publish_page import Publisher
from gateway.harness.brokers import Mosquitto
from gateway.sync.payloads import CommandResult
from gateway.sync.settings import TrustedKey
from gateway.sync.signing import TrustedKeys
from gateway.sync.topics import Topics

STORE, BOX = "store-1", "box-1"
PAGE = f"/stores/{STORE}/boxes/{BOX}"
TOPICS = Topics(ROOT, STORE, BOX)


class PlayedBox:
    """The box, as far as commands go: subscribed on its command topic."""

    def __init__(self, port: int) -> None:
        self.received: list[dict[str, Any]] = []
        self.subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.on_message = lambda c, u, m: self.received.append(json.loads(m.payload))
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.client.subscribe(TOPICS.command, qos=1)
        assert self.subscribed.wait(10)

    def answer(self, result: CommandResult) -> None:
        sent = self.client.publish(TOPICS.command_result, result.model_dump_json(), qos=1)
        sent.wait_for_publish(10)
        assert sent.is_published()

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def office(tmp_path: Path, db_url: str, broker: Mosquitto) -> Iterator[str]:
    """Stores store-1 and store-2, store-1's box-1 known, an admin, store-1's manager sam
    and an auditor; `cloud web` serving with head office's key and the test broker."""
    status, _, err = cloud_cli(
        "keys", "generate", "--dir", str(tmp_path / "keys"), "--key-id", "ho-test"
    )
    assert status == 0, err
    assert cloud_cli("stores", "add", "store-1", "store-2", "--db", db_url)[0] == 0
    db = Database.open(db_url)
    try:
        with db.transaction():
            db.execute("INSERT INTO box_state (store, box) VALUES (?, ?)", (STORE, BOX))
    finally:
        db.close()
    add_web_user(db_url, "ada", "admin")
    add_web_user(db_url, "sam", "store", "store-1")
    add_web_user(db_url, "otto", "auditor")
    key = load_key(tmp_path / "keys" / "ho-test.pem")
    publisher = Publisher(BrokerOptions(port=broker.port), ROOT, key)
    with serving_office(db_url, publisher=publisher) as base:
        yield base


def commands(db_url: str) -> list[tuple[Any, ...]]:
    db = Database.open(db_url)
    try:
        return db.query("SELECT id, name, args, status, error FROM command ORDER BY issued_at")
    finally:
        db.close()


def audit(db_url: str) -> list[tuple[str, str, dict[str, Any]]]:
    db = Database.open(db_url)
    try:
        rows = db.query("SELECT account, action, detail FROM web_audit ORDER BY id")
    finally:
        db.close()
    return [(str(a), str(b), json.loads(c) if isinstance(c, str) else c) for a, b, c in rows]


def test_an_admin_sends_upload_logs_and_sees_the_boxs_answer(
    office: str,
    db_url: str,
    broker: Mosquitto,
    ingest: Callable[..., RunningIngest],
    browser: Browser,
    tmp_path: Path,
) -> None:
    ingest()
    box = PlayedBox(broker.port)
    page = browser.new_page(viewport={"width": 1024, "height": 768})
    try:
        sign_in_page(page, office, "ada")
        page.goto(office + PAGE)
        expect(page.locator("#command-list")).to_contain_text("No command sent to this box.")
        page.get_by_label("Command").select_option("upload_logs")
        page.get_by_label("Arguments").fill("lines")
        page.get_by_role("button", name="Send the command").click()
        expect(page.locator("#cmd-error")).to_contain_text("argument 'lines' is not KEY=VALUE")
        assert commands(db_url) == [] and box.received == []

        page.get_by_label("Arguments").fill("lines=50")
        page.get_by_role("button", name="Send the command").click()
        row = page.locator("#command-list tbody tr").first
        expect(row.locator(".status")).to_have_text("sent")
        assert eventually(lambda: len(box.received) == 1)
        command = box.received[0]
        public = (tmp_path / "keys" / "ho-test.pub").read_text().strip()
        TrustedKeys([TrustedKey(key_id="ho-test", public_key=public)]).verify(command, "test")
        assert (command["name"], command["args"]) == ("upload_logs", {"lines": 50})
        assert (command["store"], command["box"]) == (STORE, BOX)

        box.answer(
            CommandResult(
                id=command["id"],
                name="upload_logs",
                status="ok",
                time="2026-11-20T15:00:05.000Z",
                result={"upload": "u-1", "lines": 50, "parts": 1},
            )
        )
        assert eventually(lambda: commands(db_url)[0][3] == "ok")
        page.reload()
        expect(row.locator(".status")).to_have_text("ok")
        expect(row.locator(".result")).to_contain_text('"upload": "u-1"')
        expect(row).to_contain_text("2026-11-20T15:00:05.000Z")
        page.screenshot(path=str(ARTIFACTS / "box-command.png"), full_page=True)
    finally:
        page.close()
        box.stop()
    [(id_, name, _, status, _)] = commands(db_url)
    assert (id_, name, status) == (command["id"], "upload_logs", "ok")
    assert [(w, a, d) for w, a, d in audit(db_url) if a == "box.command"] == [
        (
            "ada",
            "box.command",
            {
                "store": STORE,
                "box": BOX,
                "name": "upload_logs",
                "args": {"lines": 50},
                "command": command["id"],
                "key": "ho-test",
            },
        )
    ]


def test_only_an_admin_sends_and_bad_commands_send_nothing(
    office: str, db_url: str, broker: Mosquitto
) -> None:
    box = PlayedBox(broker.port)
    url = PAGE + "/commands"
    try:
        for name in ("sam", "otto"):
            client, csrf = signed_in(office, name)
            assert "Send the command" not in client.get(PAGE).text
            answer = client.post(url, data={"csrf": csrf, "name": "ping", "args": ""})
            assert answer.status_code == 403, name
        admin, csrf = signed_in(office, "ada")
        assert admin.post(url, data={"name": "ping", "args": ""}).status_code == 403
        answer = admin.post(url, data={"csrf": csrf, "name": "rm_rf", "args": ""})
        assert answer.status_code == 400
        assert "command 'rm_rf' is not one a box serves" in html.unescape(answer.text)
        answer = admin.post(url, data={"csrf": csrf, "name": "ping", "args": "=1"})
        assert answer.status_code == 400
        assert "argument '=1' is not KEY=VALUE" in html.unescape(answer.text)
        other = "/stores/store-2/boxes/box-9/commands"
        assert admin.post(other, data={"csrf": csrf, "name": "ping"}).status_code == 404
        anonymous = admin.__class__(base_url=office, follow_redirects=False)
        assert anonymous.post(url, data={"name": "ping"}).status_code == 303
        assert commands(db_url) == [] and box.received == []
        assert [a for _, a, _ in audit(db_url) if a == "box.command"] == []

        answer = admin.post(url, data={"csrf": csrf, "name": "ping", "args": ""})
        assert answer.status_code == 303
        assert eventually(lambda: len(box.received) == 1)
        assert [name for _, name, *_ in commands(db_url)] == ["ping"]
    finally:
        box.stop()


def test_without_a_signing_key_commands_are_off(office: str, db_url: str) -> None:
    with serving_office(db_url) as base:
        admin, csrf = signed_in(base, "ada")
        assert "Commands are off" in admin.get(PAGE).text
        answer = admin.post(PAGE + "/commands", data={"csrf": csrf, "name": "ping"})
        assert answer.status_code == 409 and "commands are off" in answer.text
    assert commands(db_url) == []


def test_the_page_offers_the_commands_a_box_serves() -> None:
    """`BOX_COMMANDS` is what the box's own registry holds, no more, no fewer."""
    from datetime import datetime
    from typing import cast

    from cloud.publish import BOX_COMMANDS
    from gateway.daemon.remote import BoxSide, register_remote_commands
    from gateway.sync.commands import CommandRegistry, builtin_commands

    registry = builtin_commands(
        CommandRegistry(), sync_now=lambda: None, clock=lambda: datetime(2026, 11, 20)
    )
    register_remote_commands(registry, cast(BoxSide, object()))
    assert sorted(BOX_COMMANDS) == registry.names
