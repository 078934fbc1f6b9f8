"""Document checks and routing without a broker (the live tests cover the same via MQTT)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sync_support import trusted

from gateway.sync.downlink import DocumentDownlink, SinksByKind
from gateway.sync.signing import sign
from gateway.sync.store import SyncStore
from gateway.sync.topics import Topics

TOPICS = Topics("storegate/v1", "s1", "b1")


class Keep:
    def __init__(self) -> None:
        self.got: list[tuple[str, int]] = []

    def apply(self, kind: str, version: int, document: dict[str, Any]) -> None:
        self.got.append((kind, version))


def signed(key: Ed25519PrivateKey, kind: str, version: int) -> bytes:
    return json.dumps(
        sign(
            {
                "v": 1,
                "kind": kind,
                "store": "s1",
                "box": "b1" if kind == "config" else None,
                "version": version,
                "issued_at": "2026-11-24T00:00:00.000Z",
                "document": {"n": "1"},
            },
            key,
            "ho-1",
        )
    ).encode()


@pytest.fixture
def setup(tmp_path: Path) -> tuple[DocumentDownlink, Keep, Ed25519PrivateKey]:
    key = Ed25519PrivateKey.generate()
    members = Keep()
    downlink = DocumentDownlink(
        topics=TOPICS,
        keys=trusted(key),
        store=SyncStore(tmp_path / "sync.db", capacity=10),
        sink=SinksByKind({"members": members}),
        max_bytes=10_000,
        clock=lambda: datetime(2026, 11, 24, tzinfo=UTC),
    )
    return downlink, members, key


def test_documents_go_to_the_sink_of_their_kind(
    setup: tuple[DocumentDownlink, Keep, Ed25519PrivateKey],
) -> None:
    downlink, members, key = setup
    assert (
        downlink.receive(TOPICS.members, signed(key, "members", 4)).event_kind == "document.applied"
    )
    refused = downlink.receive(TOPICS.catalog, signed(key, "catalog", 1))
    assert refused.body["reason"] == "refused_by_box"
    assert "no applier for catalog" in refused.body["error"]
    assert members.got == [("members", 4)]


def test_versions_only_go_up_and_repeats_are_quiet(
    setup: tuple[DocumentDownlink, Keep, Ed25519PrivateKey],
) -> None:
    downlink, members, key = setup
    downlink.receive(TOPICS.members, signed(key, "members", 4))
    assert downlink.receive(TOPICS.members, signed(key, "members", 4)).event_kind is None
    assert (
        downlink.receive(TOPICS.members, signed(key, "members", 3)).body["reason"] == "old_version"
    )
    downlink.receive(TOPICS.members, signed(key, "members", 5))
    assert members.got == [("members", 4), ("members", 5)]
    assert downlink.receive(TOPICS.members, b"").event_kind is None  # retained cleared


def test_a_store_wide_document_for_one_box_is_the_wrong_target(
    setup: tuple[DocumentDownlink, Keep, Ed25519PrivateKey],
) -> None:
    downlink, _, key = setup
    payload = json.loads(signed(key, "members", 9))
    payload["box"] = "b1"
    outcome = downlink.receive(TOPICS.members, json.dumps(sign(payload, key, "ho-1")).encode())
    assert outcome.body["reason"] == "wrong_target"
