"""Alerts that notify (issue 18, item 5), through the real `cloud` commands to receivers
this test starts: an HTTP server answering as a generic webhook, a WeCom robot and a
DingTalk robot (which checks the signature) would, and an SMTP server (aiosmtpd).

A box goes offline: `cloud alerts check` raises `box.offline`, `cloud notify run --once`
tells every channel; the box comes back: the next check clears the alert and the channels
are told that too. A flood of alerts is cut to the channel's rate with a digest of the
rest; a receiver that fails gets the message at a later pass, never twice."""

from __future__ import annotations

import json
from collections.abc import Iterator
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from cloud_testkit import cloud_cli
from notify_testkit import SECRET, Receivers

from cloud.alerts import raise_alert
from cloud.db import Database
from gateway.harness.brokers import free_port

T0 = "2026-11-20T10:00:00Z"


class Mailbox:
    def __init__(self) -> None:
        self.mails: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.mails.append(message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


def settings(tmp_path: Path, receivers: Receivers, smtp_port: int, rate: int = 20) -> Path:
    path = tmp_path / "cloud.toml"
    path.write_text(
        f"""
[notify.smtp]
host = "127.0.0.1"
port = {smtp_port}
starttls = false
sender = "alerts@storegate.example"

[[notify.channels]]
name = "ops-json"
type = "webhook"
url = "{receivers.url}/hook"
min_severity = "warning"
max_per_minute = {rate}

[[notify.channels]]
name = "wecom-ops"
type = "wecom"
url = "{receivers.url}/wecom?key=robot-key"
min_severity = "error"

[[notify.channels]]
name = "dingtalk-ops"
type = "dingtalk"
url = "{receivers.url}/dingtalk?access_token=robot-token"
secret_env = "STOREGATE_TEST_DINGTALK_SECRET"

[[notify.channels]]
name = "mail-ops"
type = "email"
to = ["ops@storegate.example"]
kinds = ["box."]
"""
    )
    return path


def set_online(db_url: str, online: bool, since: str) -> None:
    db = Database.open(db_url)
    try:
        with db.transaction():
            db.execute(
                "INSERT INTO box_state (store, box, online, offline_since) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (store, box) DO UPDATE SET online = excluded.online, "
                "offline_since = excluded.offline_since",
                ("store-1", "box-2", online, None if online else since),
            )
    finally:
        db.close()


def notify_once(db_url: str, config: Path, at: str) -> str:
    status, out, err = cloud_cli(
        "notify", "run", "--once", "--at", at, "--db", db_url, "--config", str(config)
    )
    assert status == 0, err
    return out


def test_an_offline_box_is_told_to_every_channel_and_so_is_its_return(
    tmp_path: Path,
    db_url: str,
    receivers: Receivers,
    mailbox: tuple[Mailbox, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STOREGATE_TEST_DINGTALK_SECRET", SECRET)
    config = settings(tmp_path, receivers, mailbox[1])
    notify_once(db_url, config, T0)  # the channels start here: no history is replayed
    set_online(db_url, False, "2026-11-20T10:00:00.000Z")
    status, _, err = cloud_cli("alerts", "check", "--at", "2026-11-20T10:20Z", "--db", db_url)
    assert status == 0, err
    out = notify_once(db_url, config, "2026-11-20T10:21:00Z")
    assert "ops-json: 1 sent" in out and "mail-ops: 1 sent" in out, out
    [generic] = receivers.posts["/hook"]
    assert generic["title"] == "[ERROR] box.offline at store-1/box-2"
    assert "store-1/box-2 offline since 2026-11-20T10:00:00.000Z" in generic["text"]
    assert len(generic["alerts"]) == 1
    [wecom] = receivers.posts["/wecom"]
    assert wecom["msgtype"] == "markdown"
    assert wecom["markdown"]["content"].startswith("**[ERROR] box.offline at store-1/box-2**")
    [ding] = receivers.posts["/dingtalk"]  # the receiver checked the signature
    assert ding["markdown"]["title"] == "[ERROR] box.offline at store-1/box-2"
    [mail] = mailbox[0].mails
    assert mail["Subject"] == "[ERROR] box.offline at store-1/box-2"
    assert mail["To"] == "ops@storegate.example"
    alert_id = generic["alerts"][0]
    assert f"cloud alerts show {alert_id}" in mail.get_payload()

    # Nothing twice: a second pass sends nothing new.
    notify_once(db_url, config, "2026-11-20T10:22:00Z")
    assert len(receivers.posts["/hook"]) == 1 and len(mailbox[0].mails) == 1

    # The box is back: the alert clears by itself, and the channels are told.
    set_online(db_url, True, "")
    status, _, err = cloud_cli("alerts", "check", "--at", "2026-11-20T10:30Z", "--db", db_url)
    assert status == 0, err
    status, out, _ = cloud_cli("alerts", "--db", db_url)
    assert "0 alert(s)" in out  # cleared: no longer open
    notify_once(db_url, config, "2026-11-20T10:31:00Z")
    assert receivers.posts["/hook"][1]["title"] == "[CLEARED] box.offline at store-1/box-2"
    assert mailbox[0].mails[1]["Subject"] == "[CLEARED] box.offline at store-1/box-2"

    # Its lifecycle: acknowledged apart from cleared, assigned, commented, its deliveries.
    assert (
        cloud_cli("alerts", "assign", str(alert_id), "--to", "mia", "--by", "leo", "--db", db_url)[
            0
        ]
        == 0
    )
    assert (
        cloud_cli(
            "alerts", "comment", str(alert_id), "router replaced", "--by", "mia", "--db", db_url
        )[0]
        == 0
    )
    assert cloud_cli("alerts", "ack", str(alert_id), "--by", "mia", "--db", db_url)[0] == 0
    status, out, err = cloud_cli("alerts", "show", str(alert_id), "--db", db_url)
    assert status == 0, err
    assert "cleared, acknowledged" in out and "assigned to mia" in out
    assert "leo: assigned to mia" in out and "mia: router replaced" in out
    assert "notification mail-ops cleared: sent after 1 attempt(s)" in out


def test_a_flood_is_cut_to_the_rate_and_a_failing_receiver_is_tried_again(
    tmp_path: Path,
    db_url: str,
    receivers: Receivers,
    mailbox: tuple[Mailbox, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STOREGATE_TEST_DINGTALK_SECRET", SECRET)
    config = settings(tmp_path, receivers, mailbox[1], rate=5)
    notify_once(db_url, config, T0)
    db = Database.open(db_url)
    try:
        with db.transaction():
            for n in range(30):
                raise_alert(
                    db,
                    key=f"test.flood:{n}",
                    kind="device.fault",
                    severity="error",
                    message=f"store-1/box-1 device scanner-{n} is in error",
                    now=T0,
                    store="store-1",
                    box="box-1",
                )
    finally:
        db.close()
    receivers.failing.add("/wecom")
    out = notify_once(db_url, config, "2026-11-20T10:01:00Z")
    assert "ops-json: 4 sent, 26 in a digest" in out, out
    # the first message failed: the rest are not tried against a receiver that is down
    assert "wecom-ops: 0 sent, 0 in a digest, 30 failed" in out, out
    hook = receivers.posts["/hook"]
    assert len(hook) == 5
    assert hook[-1]["title"] == "26 more alerts (rate limit)" and len(hook[-1]["alerts"]) == 26
    # Within the same minute the rate is spent: nothing more goes out.
    notify_once(db_url, config, "2026-11-20T10:01:30Z")
    assert len(receivers.posts["/hook"]) == 5
    # WeCom works again: what failed is delivered, each alert once.
    receivers.failing.clear()
    notify_once(db_url, config, "2026-11-20T10:03:00Z")
    wecom = receivers.posts["/wecom"]
    assert len(wecom) == 20  # 19 alerts and a digest of 11: the robot's 20 a minute
    assert wecom[-1]["markdown"]["content"].startswith("**11 more alerts (rate limit)**")
    notify_once(db_url, config, "2026-11-20T10:05:00Z")
    assert len(receivers.posts["/wecom"]) == 20
    assert "mail-ops" not in json.dumps(receivers.posts)  # its filter takes box.* only
    assert mailbox[0].mails == []


def test_notify_without_channels_or_with_a_bad_one_says_what_to_fix(
    tmp_path: Path, db_url: str
) -> None:
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    status, _, err = cloud_cli("notify", "run", "--once", "--db", db_url, "--config", str(empty))
    assert status == 2 and "no notification channel" in err and "Traceback" not in err, err
    bad = tmp_path / "bad.toml"
    bad.write_text('[[notify.channels]]\nname = "x"\ntype = "pager"\n')
    status, _, err = cloud_cli("notify", "run", "--once", "--db", db_url, "--config", str(bad))
    assert status == 2 and "notify.channels" in err and "Traceback" not in err, err
