"""Helpers for the box-and-head-office tests of the daemon: a box wired to a real
Mosquitto, head office's presence, a members document on the box, waiting for a state."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from daemon_testkit import Daemon, box_config

from gateway.harness.brokers import Mosquitto

ROOT = "storegate/v1"
SALT = "5f3a9c0e1b2d4f6a8c0e1b2d4f6a8c0e"
ALICE_UID = "04A2B3C4D5E680"
FAST_SYNC = {
    "STOREGATE_SYNC__RECONNECT_MIN": "0.2",
    "STOREGATE_SYNC__RECONNECT_MAX": "1",
    "STOREGATE_SYNC__TELEMETRY_INTERVAL": "3600",
}


def wait_until(check: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def synced_box_config(directory: Path, broker: Mosquitto, extra: str = "") -> Path:
    """The example box (no devices) talking to `broker`."""
    config = box_config(directory, extra)
    config.write_text(config.read_text().replace("port = 1883", f"port = {broker.port}"))
    return config


def publish(port: int, topic: str, payload: dict[str, Any], *, retain: bool) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        client.publish(topic, json.dumps(payload), qos=1, retain=retain).wait_for_publish(10)
    finally:
        client.loop_stop()
        client.disconnect()


def head_office_online(port: int) -> None:
    """What `cloud ingest` says on start: boxes may drain (retained presence)."""
    publish(
        port,
        f"{ROOT}/_office/state",
        {"online": True, "time": "2026-11-24T06:00:00.000Z", "node": "test"},
        retain=True,
    )


def members_document() -> dict[str, Any]:
    """One member, no meal periods and no expiry: the answers do not depend on the date."""
    from gateway.members import card_key

    return {
        "schema": "storegate.members/1",
        "version": 1,
        "issued_at": "2026-11-24T06:00:00+00:00",
        "currency": "CHF",
        "decimals": 2,
        "card_hashing": {"algorithm": "sha256", "salt": SALT},
        "redemption": {"points": 100, "value": "1.00"},
        "groups": [
            {
                "id": "canteen",
                "name": "Staff canteen",
                "member_prices": False,
                "points": {"per": "1.00", "points": 1},
                "limits": {},
            }
        ],
        "members": [
            {
                "id": "M0001",
                "group": "canteen",
                "name": "Alice",
                "cards": [card_key(ALICE_UID, SALT)],
                "wallets": {"points": 5000, "subsidy": "0.00", "cash": "200.00"},
            }
        ],
        "blacklist": {"version": 1, "cards": []},
        "offline": {
            "stored_value": True,
            "points_redemption": False,
            "per_transaction": "25.00",
            "per_day": "40.00",
            "points_per_transaction": 1000,
            "points_per_day": 1500,
            "max_offline_minutes": 240,
            "max_unsynced_sales": 200,
        },
        "top_up": {"min": "10.00", "bonus": [{"from": "100.00", "bonus": "10.00"}]},
    }


def load_members(database: Path) -> None:
    """Apply the members document as head office's push would (before the daemon runs)."""
    from datetime import datetime

    from gateway.database import open_database
    from gateway.members import MemberStore
    from gateway.members.document import parse_document

    db = open_database(database)
    MemberStore(db, "box-1").apply_document(
        parse_document(members_document()), datetime(2026, 11, 24, 6, 0)
    )
    db.conn.close()


def journal_bodies(database: Path, kind: str) -> list[dict[str, Any]]:
    import contextlib
    import sqlite3

    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn:
        rows = conn.execute(
            "SELECT body FROM journal_record WHERE kind = ? ORDER BY seq", (kind,)
        ).fetchall()
    return [json.loads(body) for (body,) in rows]


def connected(daemon: Daemon) -> bool:
    sync = daemon.status()["sync"]
    return bool(sync["connection"] == "connected" and sync["head_office_online"])  # type: ignore[index]


@contextmanager
def member_till(directory: Path) -> Iterator[tuple[Mosquitto, Daemon]]:
    """`gateway run` synced to a broker of its own with head office present, the members
    document loaded and the cashier (101) signed on; stopped (exit 0 asserted) and the
    broker killed afterwards, whatever the test did to it."""
    broker = Mosquitto(directory / "broker").start()
    daemon: Daemon | None = None
    try:
        head_office_online(broker.port)
        config = synced_box_config(directory, broker)
        load_members(directory / "storegate.db")
        daemon = Daemon(directory, config, FAST_SYNC)
        wait_until(lambda: connected(daemon), 15, "the box online with head office")
        assert daemon.key("sign_on", staff="101", pin="472951")["ok"]
        yield broker, daemon
    finally:
        if daemon is not None:
            assert daemon.stop() == 0, daemon.output()[-3000:]
        broker.kill()
