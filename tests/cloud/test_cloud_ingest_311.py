"""Box -> the embedded amqtt broker (MQTT 3.1.1 only, everything in memory) -> `cloud
ingest`: both sides fall back to 3.1.1 on their own, head office stores each record once
through a broker kill, and a second ingest worker is refused (no shared subscriptions)."""

from __future__ import annotations

import time
from pathlib import Path

from cloud_testkit import (
    Box,
    assert_exactly_once,
    chain_position,
    cloud_cli,
    eventually,
    start_ingest,
)

from cloud.db import Database
from cloud.schema import upgrade
from gateway.harness.embedded_broker import EmbeddedBroker


def _office(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'office.db'}"
    db = Database.open(url)
    upgrade(db)
    db.close()
    return url


def test_records_are_stored_once_and_acknowledged_through_a_broker_kill(tmp_path: Path) -> None:
    """amqtt keeps no session, queued message or retained ack across the kill: the box
    re-sends from what head office acknowledged, and ingest drops what it already has."""
    url = _office(tmp_path)
    with EmbeddedBroker(tmp_path / "amqtt") as amqtt:
        worker = start_ingest(url, amqtt.port, wait=False)  # protocol "auto"
        box = Box(
            tmp_path / "box", amqtt.port, protocol="auto", batch_max_records=100, window_batches=4
        )
        box.append(2000)
        box.start()
        try:
            assert worker.worker.connected.wait(10)
            assert worker.worker.protocol == "3.1.1"
            assert eventually(lambda: chain_position(url, box.store, box.box) >= 500, 30)
            amqtt.kill()
            box.append(500)
            time.sleep(0.5)
            amqtt.start()
            assert eventually(lambda: box.acknowledged() == 2500, 30)
            assert_exactly_once(url, box)
            assert chain_position(url, box.store, box.box) == 2500
            assert worker.worker.counters.records_stored == 2500
            assert box.service is not None and box.service.status()["protocol"] == "3.1.1"
        finally:
            box.stop()
            worker.stop()


def test_a_second_ingest_worker_over_311_is_refused_with_what_to_do(tmp_path: Path) -> None:
    url = _office(tmp_path)
    with EmbeddedBroker(tmp_path / "amqtt") as amqtt:
        first = start_ingest(url, amqtt.port, protocol="3.1.1")
        try:
            status, _, err = cloud_cli(
                "ingest",
                "--db",
                url,
                "--port",
                str(amqtt.port),
                "--protocol",
                "3.1.1",
                "--client-id",
                "second",
            )
            assert status == 1, err[-2000:]
            assert "another ingest worker (cloud-ingest-test-w1) is online" in err
            assert "no shared subscriptions" in err
            assert "fix: run a single `cloud ingest`" in err
            assert first.thread.is_alive() and first.worker.connected.is_set()
        finally:
            first.stop()
