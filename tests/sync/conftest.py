"""Fixtures for sync tests: a real Mosquitto per test, a real journal file, the reference
receiver, and a service factory with test-sized timers."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.database import open_database
from gateway.harness.brokers import Mosquitto
from gateway.harness.receiver import ReferenceReceiver
from gateway.journal.store import Journal
from gateway.sync.service import SyncConfig, SyncService


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    with Mosquitto(tmp_path / "broker") as running:
        yield running


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    return Journal(open_database(tmp_path / "box.db"))


@pytest.fixture
def signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def receiver(tmp_path: Path, broker: Mosquitto) -> Iterator[ReferenceReceiver]:
    office = ReferenceReceiver(
        host="127.0.0.1", port=broker.port, db_path=tmp_path / "office.db", synchronous="NORMAL"
    )
    office.start()
    office.wait_connected()
    yield office
    office.stop()


@pytest.fixture
def start_service(journal: Journal) -> Iterator[Callable[..., SyncService]]:
    started: list[SyncService] = []

    def start(config: SyncConfig, **kwargs: Any) -> SyncService:
        kwargs.setdefault("rng", random.Random(7))
        service = SyncService(
            config,
            acknowledge=lambda seq, digest: journal.acknowledge(seq, expected_hash=digest),
            **kwargs,
        )
        service.start()
        started.append(service)
        return service

    yield start
    for service in started:
        service.stop()
