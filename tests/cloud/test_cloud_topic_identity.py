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
from decimal import Decimal
from pathlib import Path

from typing import Any

import paho.mqtt.client as mqtt
from cloud_testkit import RunningIngest, cloud_cli, eventually

from cloud.db import Database
from gateway.harness.brokers import Mosquitto

ROOT = "storegate/v1"


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
