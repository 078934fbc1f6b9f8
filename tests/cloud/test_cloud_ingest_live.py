"""Box -> real Mosquitto -> `cloud ingest` -> database, for SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from cloud_testkit import (
    Box,
    RunningIngest,
    assert_exactly_once,
    chain_position,
    eventually,
)

from gateway.sync.testing import Mosquitto


def test_box_journal_is_stored_once_and_acknowledged(
        tmp_path: Path, db_url: str, broker: Mosquitto,
        ingest: Callable[..., RunningIngest]) -> None:
    worker = ingest()
    box = Box(tmp_path / "box", broker.port)
    box.append(3000)
    box.start()
    try:
        assert eventually(lambda: box.acknowledged() == 3000, 30)
        assert_exactly_once(db_url, box)
        assert chain_position(db_url, box.store, box.box) == 3000
        assert worker.worker.counters.records_stored == 3000
    finally:
        box.stop()


def _presence(port: int) -> bool | None:
    """The retained head-office presence a box would see on connecting."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from gateway.sync.payloads import HeadOfficeState

    seen: list[bool] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.on_message = lambda c, u, m: seen.append(
        HeadOfficeState.model_validate_json(m.payload).online)
    client.connect("127.0.0.1", port)
    client.loop_start()
    client.subscribe("storegate/v1/_office/state", qos=1)
    eventually(lambda: bool(seen), 2)
    client.loop_stop()
    client.disconnect()
    return seen[-1] if seen else None


def test_presence_stays_online_while_any_worker_runs(
        db_url: str, broker: Mosquitto, ingest: Callable[..., RunningIngest]) -> None:
    first, second = ingest(), ingest()
    assert eventually(lambda: _presence(broker.port) is True)
    first.stop()  # its goodbye says offline; the other worker re-asserts online
    assert eventually(lambda: _presence(broker.port) is True, 5)
    second.stop()
    assert eventually(lambda: _presence(broker.port) is False, 5)
