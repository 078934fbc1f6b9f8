"""Signed documents and commands through a real Mosquitto: applied once, or refused with
the reason reported on `.../events`, while the box keeps journaling and uploading."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sync_support import BOX, STORE, append_sales, eventually, make_config, trusted

from gateway.harness.brokers import Mosquitto
from gateway.harness.receiver import ReferenceReceiver
from gateway.journal.store import Journal
from gateway.sync.commands import CommandRegistry
from gateway.sync.errors import CommandFailed, DocumentRefused
from gateway.sync.service import SyncService
from gateway.sync.signing import sign
from gateway.sync.timefmt import iso

CATALOG = f"storegate/v1/{STORE}/catalog"
CONFIG = f"storegate/v1/{STORE}/{BOX}/config"
COMMAND = f"storegate/v1/{STORE}/{BOX}/cmd"


class RecordingSink:
    """A document applier that keeps what it applied and refuses documents marked so."""

    def __init__(self) -> None:
        self.applied: list[tuple[str, int, dict[str, Any]]] = []

    def apply(self, kind: str, version: int, document: dict[str, Any]) -> None:
        if document.get("refuse"):
            raise DocumentRefused(
                "price list has a product without a price",
                where=f"{kind} v{version}",
                fix="fix the document",
            )
        self.applied.append((kind, version, document))


def document(
    key: Ed25519PrivateKey,
    version: int,
    *,
    kind: str = "catalog",
    key_id: str = "ho-1",
    store: str = STORE,
    box: str | None = None,
    body: Mapping[str, Any] | None = None,
) -> bytes:
    unsigned = {
        "v": 1,
        "kind": kind,
        "store": store,
        "box": box,
        "version": version,
        "issued_at": "2026-11-24T02:00:00.000Z",
        "document": dict(body or {"products": [{"sku": "A", "price": "1.20"}]}),
    }
    return json.dumps(sign(unsigned, key, key_id)).encode()


def command(
    key: Ed25519PrivateKey,
    ident: str,
    name: str,
    *,
    expires_in: float = 300,
    args: Mapping[str, Any] | None = None,
) -> bytes:
    now = datetime.now(UTC)
    unsigned = {
        "v": 1,
        "id": ident,
        "name": name,
        "args": dict(args or {}),
        "store": STORE,
        "box": BOX,
        "issued_at": iso(now),
        "expires_at": iso(now + timedelta(seconds=expires_in)),
    }
    return json.dumps(sign(unsigned, key, "ho-1")).encode()


def events_of(receiver: ReferenceReceiver, kind: str) -> list[dict[str, Any]]:
    return [e for e in receiver.received(f"{BOX}/events") if e["kind"] == kind]


def results(receiver: ReferenceReceiver, ident: str) -> list[dict[str, Any]]:
    return [r for r in receiver.received(f"{BOX}/cmd/result") if r["id"] == ident]


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
def box(
    tmp_path: Path,
    broker: Mosquitto,
    receiver: ReferenceReceiver,
    signing_key: Ed25519PrivateKey,
    sink: RecordingSink,
    start_service: Callable[..., SyncService],
) -> SyncService:
    runs: list[str] = []
    registry = CommandRegistry()
    registry.register("count", lambda args: {"runs": len(runs.append("x") or runs)})

    def fail(args: Mapping[str, Any]) -> dict[str, Any]:
        raise CommandFailed("printer has no paper", fix="load paper")

    registry.register("print_test_page", fail)
    service = start_service(
        make_config(
            tmp_path, broker.port, downlink_max_bytes=4096, trusted_keys=trusted(signing_key)
        ),
        sink=sink,
        registry=registry,
    )
    assert eventually(lambda: service.status()["connection"] == "connected")
    return service


def test_a_valid_document_is_applied_once_and_reported(
    box: SyncService,
    receiver: ReferenceReceiver,
    signing_key: Ed25519PrivateKey,
    sink: RecordingSink,
) -> None:
    receiver.publish(CATALOG, document(signing_key, 2), retain=True)
    assert eventually(lambda: len(events_of(receiver, "document.applied")) == 1)
    assert sink.applied == [("catalog", 2, {"products": [{"sku": "A", "price": "1.20"}]})]
    receiver.publish(CATALOG, document(signing_key, 2), retain=True)  # re-delivery
    receiver.publish(
        CONFIG,
        document(signing_key, 1, kind="config", box=BOX, body={"telemetry_interval": "30"}),
        retain=True,
    )
    assert eventually(lambda: len(sink.applied) == 2)
    assert [a[0] for a in sink.applied] == ["catalog", "config"]
    assert not events_of(receiver, "document.refused")


@pytest.mark.parametrize(
    ("payload_of", "reason"),
    [
        (lambda k: document(Ed25519PrivateKey.generate(), 5), "bad_signature"),
        (lambda k: document(k, 5, key_id="ho-retired"), "unknown_key"),
        (lambda k: b'{"v": 1, "kind": "catalog", "version": ', "broken_json"),
        (lambda k: json.dumps({"v": 1, "kind": "catalog", "version": "five"}).encode(), "schema"),
        (lambda k: document(k, 5, body={"blob": "x" * 5000}), "oversized"),
        (lambda k: document(k, 5, store="store-2"), "wrong_target"),
        (lambda k: document(k, 5, body={"refuse": True}), "refused_by_box"),
        (lambda k: document(k, 1), "old_version"),
    ],
)
def test_bad_documents_are_refused_with_the_reason_and_the_old_one_stays(
    box: SyncService,
    receiver: ReferenceReceiver,
    signing_key: Ed25519PrivateKey,
    sink: RecordingSink,
    journal: Journal,
    payload_of: Callable[[Ed25519PrivateKey], bytes],
    reason: str,
) -> None:
    receiver.publish(CATALOG, document(signing_key, 3), retain=True)
    assert eventually(lambda: len(sink.applied) == 1)
    receiver.publish(CATALOG, payload_of(signing_key), retain=True)
    assert eventually(lambda: len(events_of(receiver, "document.refused")) == 1)
    (refused,) = events_of(receiver, "document.refused")
    assert refused["body"]["reason"] == reason
    assert refused["severity"] == "warning" and refused["body"]["error"]
    assert sink.applied == [("catalog", 3, {"products": [{"sku": "A", "price": "1.20"}]})]
    append_sales(journal, 50)  # still selling, still uploading
    receiver.wait_for(STORE, BOX, 50, timeout=10)
    assert "refused" in (box.status()["last_error"] or "") or box.status()["last_error"]


def test_commands_run_once_per_id_and_answer(
    box: SyncService, receiver: ReferenceReceiver, signing_key: Ed25519PrivateKey
) -> None:
    receiver.publish(COMMAND, command(signing_key, "c-1", "ping"))
    assert eventually(lambda: len(results(receiver, "c-1")) == 1)
    (pong,) = results(receiver, "c-1")
    assert pong["status"] == "ok" and pong["result"]["pong"] is True

    receiver.publish(COMMAND, command(signing_key, "c-2", "count"))
    receiver.publish(COMMAND, command(signing_key, "c-2", "count"))  # re-delivered
    assert eventually(lambda: len(results(receiver, "c-2")) == 2)
    assert [r["result"] for r in results(receiver, "c-2")] == [{"runs": 1}, {"runs": 1}]

    receiver.publish(COMMAND, command(signing_key, "c-3", "print_test_page"))
    receiver.publish(COMMAND, command(signing_key, "c-4", "format_disk"))
    receiver.publish(COMMAND, command(signing_key, "c-5", "set_log_level", args={"level": "debug"}))
    assert eventually(lambda: all(results(receiver, c) for c in ("c-3", "c-4", "c-5")))
    assert results(receiver, "c-3")[0]["status"] == "failed"
    assert "no paper" in results(receiver, "c-3")[0]["error"]
    assert results(receiver, "c-4")[0]["status"] == "unknown_command"
    assert results(receiver, "c-5")[0]["result"] == {"logger": "gateway", "level": "DEBUG"}


def test_an_expired_or_unsigned_command_never_runs(
    box: SyncService, receiver: ReferenceReceiver, signing_key: Ed25519PrivateKey
) -> None:
    receiver.publish(COMMAND, command(signing_key, "old-1", "count", expires_in=-60))
    forged = json.loads(command(signing_key, "forged-1", "count"))
    forged["name"] = "sync_now"
    receiver.publish(COMMAND, json.dumps(forged))
    receiver.publish(COMMAND, command(signing_key, "new-1", "count"))
    assert eventually(lambda: all(results(receiver, c) for c in ("old-1", "forged-1", "new-1")))
    assert results(receiver, "old-1")[0]["status"] == "expired"
    assert results(receiver, "forged-1")[0]["status"] == "refused"
    assert "signature" in results(receiver, "forged-1")[0]["error"]
    assert results(receiver, "new-1")[0]["result"] == {"runs": 1}  # the first real run
    assert events_of(receiver, "command.refused")[0]["body"]["reason"] == "bad_signature"
