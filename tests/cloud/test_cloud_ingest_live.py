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
    office_presence,
)

from gateway.harness.brokers import Mosquitto


def test_box_journal_is_stored_once_and_acknowledged(
    tmp_path: Path, db_url: str, broker: Mosquitto, ingest: Callable[..., RunningIngest]
) -> None:
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


def test_presence_stays_online_while_any_worker_runs(
    db_url: str, broker: Mosquitto, ingest: Callable[..., RunningIngest]
) -> None:
    first, second = ingest(), ingest()
    assert eventually(lambda: office_presence(broker.port) is True)
    first.stop()  # its goodbye says offline; the other worker re-asserts online
    assert eventually(lambda: office_presence(broker.port) is True, 5)
    second.stop()
    assert eventually(lambda: office_presence(broker.port) is False, 5)
