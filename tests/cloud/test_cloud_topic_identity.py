"""Head office trusts only the topic (issue 13, #10), played as a rogue box would.

A box is who its topic says (the broker's ACL binds a box's certificate to its own topics);
anything inside the payload naming another box or store is only a claim. A command result
naming another box's command id changes nothing of that command, and a dividend credits a
member only in the store whose boxes' topics their spend came on, and only when head
office's published members list holds them."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from cloud_testkit import (
    RunningIngest,
    cloud_cli,
    eventually,
    journal_of_days,
    store_journal_directly,
)

from cloud.db import Database
from gateway.harness.brokers import Mosquitto
from gateway.harness.fleetsim import MEMBERS, StoreDay

ROOT = "storegate/v1"
DAY = date(2026, 11, 23)  # a fixed store day, never the calendar's


def publish_as(port: int, topic: str, payload: dict[str, Any]) -> None:
    """What a rogue box sends on a topic the broker lets it use (its own)."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="rogue-box")
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        client.publish(topic, json.dumps(payload), qos=1).wait_for_publish(10)
    finally:
        client.loop_stop()
        client.disconnect()


def test_a_rogue_box_cannot_answer_another_boxs_command(
    tmp_path: Path, db_url: str, broker: Mosquitto, ingest: Callable[..., RunningIngest]
) -> None:
    ingest()
    status, _, err = cloud_cli(
        "keys", "generate", "--dir", str(tmp_path / "keys"), "--key-id", "ho-test"
    )
    assert status == 0, err
    common = (
        "--db",
        db_url,
        "--port",
        str(broker.port),
        "--key",
        str(tmp_path / "keys/ho-test.pem"),
    )
    # Head office sends store-1/box-1 a command; that box is offline, so it stays `sent`.
    status, _, err = cloud_cli("cmd", "store-1", "box-1", "close_day", "--timeout", "1", *common)
    assert status == 1 and "no answer" in err, err
    db = Database.open(db_url)
    try:
        [(command_id, before)] = db.query("SELECT id, status FROM command")
        assert before == "sent"
        # A box of another store answers it, on its own topic.
        forged = {
            "id": command_id,
            "name": "close_day",
            "status": "ok",
            "time": "2026-11-24T09:00:00.000Z",
            "result": {"closed": True},
        }
        publish_as(broker.port, f"{ROOT}/store-2/box-7/cmd/result", forged)

        def stored() -> bool:  # ingest saw the rogue's message (it touches its box)
            return bool(
                db.query(
                    "SELECT 1 FROM box_state WHERE store = 'store-2' AND box = 'box-7' "
                    "AND last_seen IS NOT NULL"
                )
            )

        assert eventually(stored)
        assert db.query("SELECT id, store, box, status, result FROM command") == [
            (command_id, "store-1", "box-1", "sent", None)
        ]
        [(store, box, message)] = db.query(
            "SELECT store, box, message FROM alert WHERE kind = 'command.foreign_result'"
        )
        assert (store, box) == ("store-2", "box-7") and "store-1/box-1" in message
    finally:
        db.close()


def members_document(ids: list[str]) -> dict[str, Any]:
    return {
        "schema": "storegate.members/1",
        "version": 1,
        "issued_at": "2026-11-24T06:00:00+00:00",
        "currency": "CHF",
        "decimals": 2,
        "card_hashing": {"algorithm": "sha256", "salt": "5f3a9c0e1b2d4f6a8c0e1b2d4f6a8c0e"},
        "redemption": {"points": 100, "value": "1.00"},
        "groups": [{"id": "standard", "member_prices": True}],
        "members": [{"id": m, "group": "standard"} for m in ids],
        "blacklist": {"version": 1, "cards": []},
    }


def spend_by_member(entries: list[tuple[str, dict[str, Any]]]) -> dict[str, Decimal]:
    spend: dict[str, Decimal] = {}
    for kind, body in entries:
        if body.get("member") is None:
            continue
        member = body["member"]["id"]
        if kind == "sale":
            amount = sum((Decimal(line["total"]) for line in body["lines"]), Decimal(0))
        elif kind == "refund":
            amount = -sum((Decimal(line["amount"]) for line in body["lines"]), Decimal(0))
        else:
            continue
        spend[member] = spend.get(member, Decimal(0)) + amount
    return spend


def test_a_dividend_credits_only_the_members_of_the_store_the_spend_came_from(
    tmp_path: Path, db_url: str, broker: Mosquitto
) -> None:
    status, _, err = cloud_cli(
        "keys", "generate", "--dir", str(tmp_path / "keys"), "--key-id", "ho-test"
    )
    assert status == 0, err
    common = (
        "--db",
        db_url,
        "--port",
        str(broker.port),
        "--key",
        str(tmp_path / "keys/ho-test.pem"),
    )
    store_2_members = MEMBERS[:10]
    assert cloud_cli("stores", "add", "store-1", "store-2", "--db", db_url)[0] == 0
    for store, ids in (("store-1", MEMBERS), ("store-2", store_2_members)):
        document = tmp_path / f"{store}-members.json"
        document.write_text(json.dumps(members_document(ids)))
        status, _, err = cloud_cli("publish", "members", str(document), "--store", store, *common)
        assert status == 0, err
    sold: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for store in ("store-1", "store-2"):
        day = StoreDay(store, "box-1", DAY, 120)
        journal = journal_of_days(tmp_path / f"{store}.db", [day])
        store_journal_directly(db_url, store, "box-1", journal)
        sold[store] = list(day.records())
    # store-2's box names members of store-1 (ids its own list does not hold)
    foreign = set(spend_by_member(sold["store-2"])) - set(store_2_members)
    assert foreign

    status, _, err = cloud_cli(
        "dividend", "run", "--db", db_url, "--from", str(DAY), "--to", str(DAY),
        "--pool", "1000.00", "--out", str(tmp_path / "all.csv"),
    )  # fmt: skip
    assert status == 0, err
    with (tmp_path / "all.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    credited = {(r["store"], r["member"]): Decimal(r["weighted_spend"]) for r in rows}
    store_1 = spend_by_member(sold["store-1"])
    store_2 = spend_by_member(sold["store-2"])
    assert {m: s for (st, m), s in credited.items() if st == "store-1"} == {
        m: s for m, s in store_1.items() if s > 0
    }
    assert {m: s for (st, m), s in credited.items() if st == "store-2"} == {
        m: s for m, s in store_2.items() if s > 0 and m in store_2_members
    }
    assert sum(Decimal(r["dividend"]) for r in rows) == Decimal("1000.00")

    status, _, err = cloud_cli(
        "dividend", "run", "--db", db_url, "--from", str(DAY), "--to", str(DAY),
        "--store", "store-2", "--pool", "100.00", "--out", str(tmp_path / "store-2.csv"),
    )  # fmt: skip
    assert status == 0, err
    with (tmp_path / "store-2.csv").open() as handle:
        assert {r["member"] for r in csv.DictReader(handle)} <= set(store_2_members)


CATALOG = Path(__file__).parents[2] / "config" / "catalog.example.json"


def test_a_signing_key_others_can_read_is_refused(
    tmp_path: Path, db_url: str, broker: Mosquitto
) -> None:
    status, _, err = cloud_cli("keys", "generate", "--dir", str(tmp_path), "--key-id", "ho-1")
    assert status == 0, err
    pem = tmp_path / "ho-1.pem"
    common = ("--db", db_url, "--port", str(broker.port), "--key", str(pem))
    assert cloud_cli("stores", "add", "s1", "--db", db_url)[0] == 0
    for mode in (0o644, 0o640, 0o604):
        pem.chmod(mode)
        status, _, err = cloud_cli("publish", "catalog", str(CATALOG), "--store", "s1", *common)
        assert status == 2, err
        assert f"chmod 600 {pem}" in err and f"{mode:o}" in err and "Traceback" not in err
    db = Database.open(db_url)
    try:
        assert db.query("SELECT * FROM document_version") == []  # nothing was published
    finally:
        db.close()
    pem.chmod(0o600)
    status, _, err = cloud_cli("publish", "catalog", str(CATALOG), "--store", "s1", *common)
    assert status == 0, err


def test_an_encrypted_signing_key_works_with_its_passphrase_and_fails_clearly_without(
    tmp_path: Path, db_url: str, broker: Mosquitto, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STOREGATE_SIGNING_KEY_PASSPHRASE", "correct horse battery staple")
    status, out, err = cloud_cli(
        "keys", "generate", "--dir", str(tmp_path), "--key-id", "ho-2", "--encrypt"
    )
    assert status == 0, err
    pem = tmp_path / "ho-2.pem"
    assert pem.read_text().startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert oct(pem.stat().st_mode & 0o777) == "0o600"
    common = ("--db", db_url, "--port", str(broker.port), "--key", str(pem))
    assert cloud_cli("stores", "add", "s1", "--db", db_url)[0] == 0
    publish = ("publish", "catalog", str(CATALOG), "--store", "s1", *common)
    status, out, err = cloud_cli(*publish)
    assert status == 0 and "version 1" in out, err

    monkeypatch.setenv("STOREGATE_SIGNING_KEY_PASSPHRASE", "wrong")
    status, _, err = cloud_cli(*publish)
    assert status == 2 and "passphrase" in err and "Traceback" not in err, err
    monkeypatch.delenv("STOREGATE_SIGNING_KEY_PASSPHRASE")
    status, _, err = cloud_cli(*publish)  # no terminal to ask on
    assert status == 2 and "STOREGATE_SIGNING_KEY_PASSPHRASE" in err, err
    assert "Traceback" not in err
    db = Database.open(db_url)
    try:
        assert db.query("SELECT version FROM document_version") == [(1,)]
    finally:
        db.close()
