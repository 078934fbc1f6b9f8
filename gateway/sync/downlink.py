"""Signed documents from head office (catalog, members, config): check, then apply or refuse.

A document is applied only when it is small enough, valid JSON, of the schema, addressed
to this store (and box), signed by a trusted key, and newer than the one in force. The
applying itself belongs to other rooms, behind the `DocumentSink` protocol: the sink swaps
the document in atomically between sales, or raises `DocumentRefused`, and the document in
force stays in force. The same version arriving again (a retained message re-delivered on
every reconnect) is ignored quietly; an older one is a replay and is refused.

Owns: the checks, the version bookkeeping (in the sync store) and the outcome events.
Must not touch the catalog or member tables itself.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from gateway.sync.errors import DocumentRefused, DownlinkRefused
from gateway.sync.payloads import Severity, SignedDocument
from gateway.sync.signing import TrustedKeys
from gateway.sync.store import SyncStore
from gateway.sync.timefmt import iso
from gateway.sync.topics import Topics
from gateway.validation import first_problems

M = TypeVar("M", bound=BaseModel)


class DocumentSink(Protocol):
    """Applies a verified document atomically, or raises `DocumentRefused` to keep the old.

    Called on the sync thread: hand the document to the box's single writer and wait for
    its verdict, swapping it in between sales (a basket in progress keeps its prices).
    Keep it to seconds; the uplink waits meanwhile.
    """

    def apply(self, kind: str, version: int, document: dict[str, Any]) -> None: ...


class SinksByKind:
    """Routes each document kind to the room that applies it (catalog, members, config).

    A kind with no sink registered is refused, so the document in force stays in force
    until the box has software that can apply the new one.
    """

    def __init__(self, sinks: dict[str, DocumentSink] | None = None) -> None:
        self._sinks = dict(sinks or {})

    def register(self, kind: str, sink: DocumentSink) -> None:
        if kind in self._sinks:
            raise ValueError(f"a sink for {kind!r} documents is already registered")
        self._sinks[kind] = sink

    def apply(self, kind: str, version: int, document: dict[str, Any]) -> None:
        sink = self._sinks.get(kind)
        if sink is None:
            raise DocumentRefused(
                f"no applier for {kind} documents is installed on this box",
                fix="update storegate; the document in force stays in force",
            )
        sink.apply(kind, version, document)


@dataclass(frozen=True)
class Outcome:
    """What to report on `.../events` (None `event_kind`: nothing worth reporting)."""

    event_kind: str | None
    severity: Severity = "info"
    body: dict[str, Any] = field(default_factory=dict)


def parse_json(payload: bytes, max_bytes: int, where: str) -> Any:
    """The payload as JSON within the size limit, or `DownlinkRefused`."""
    if len(payload) > max_bytes:
        raise DownlinkRefused(
            "oversized",
            f"payload of {len(payload)} bytes exceeds the limit of {max_bytes}",
            where=where,
            fix="raise [sync] downlink_max_bytes or send a smaller document",
        )
    try:
        return json.loads(payload)
    except (UnicodeDecodeError, ValueError) as exc:
        raise DownlinkRefused(
            "broken_json",
            f"payload is not valid JSON: {exc}",
            where=where,
            fix="head office must publish UTF-8 JSON",
        ) from exc


def validate(model: type[M], data: Any, where: str) -> M:
    """`data` as `model`, or `DownlinkRefused("schema")` naming the first problems."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = first_problems(exc)
        raise DownlinkRefused(
            "schema",
            f"does not match {model.__name__}: {problems}",
            where=where,
            fix="see docs/protocol.md for the payload schema",
        ) from exc


class DocumentDownlink:
    """Checks and applies the signed documents arriving on the document topics."""

    def __init__(
        self,
        *,
        topics: Topics,
        keys: TrustedKeys,
        store: SyncStore,
        sink: DocumentSink,
        max_bytes: int,
        clock: Callable[[], datetime],
    ) -> None:
        self._topics = topics
        self._keys = keys
        self._store = store
        self._sink = sink
        self._max_bytes = max_bytes
        self._clock = clock

    def receive(self, topic: str, payload: bytes) -> Outcome:
        kind = self._topics.document_kind(topic)
        if kind is None or not payload:  # not ours, or head office cleared a retained one
            return Outcome(None)
        try:
            return self._accept(kind, topic, payload)
        except DownlinkRefused as refusal:
            body: dict[str, Any] = {
                "topic": topic,
                "kind": kind,
                "reason": refusal.reason,
                "error": refusal.describe(),
            }
            if refusal.version is not None:
                body["version"] = refusal.version
            return Outcome("document.refused", "warning", body)

    def _accept(self, kind: str, topic: str, payload: bytes) -> Outcome:
        data = parse_json(payload, self._max_bytes, topic)
        doc = validate(SignedDocument, data, topic)
        self._check_target(doc, kind, topic)
        self._keys.verify(data, topic)
        try:
            return self._apply(kind, topic, payload, doc)
        except DownlinkRefused as refusal:
            refusal.version = doc.version  # signed by head office: worth reporting
            raise

    def _apply(self, kind: str, topic: str, payload: bytes, doc: SignedDocument) -> Outcome:
        digest = hashlib.sha256(payload).hexdigest()
        in_force = self._store.document_version(kind)
        if in_force is not None and doc.version <= in_force[0]:
            if doc.version == in_force[0]:
                return Outcome(None)  # the retained copy of what is in force
            raise DownlinkRefused(
                "old_version",
                f"{kind} version {doc.version} is older than version "
                f"{in_force[0]} in force (a replay)",
                where=topic,
                fix="publish a document with a higher version",
            )
        try:
            self._sink.apply(kind, doc.version, doc.document)
        except DocumentRefused as exc:
            raise DownlinkRefused("refused_by_box", exc.describe(), where=topic) from exc
        self._store.set_document_version(kind, doc.version, digest, iso(self._clock()))
        return Outcome(
            "document.applied", "info", {"kind": kind, "version": doc.version, "sha256": digest}
        )

    def _check_target(self, doc: SignedDocument, kind: str, topic: str) -> None:
        box = self._topics.box if kind == "config" else None
        if doc.kind != kind or doc.store != self._topics.store or doc.box != box:
            raise DownlinkRefused(
                "wrong_target",
                f"document is a {doc.kind} for store {doc.store!r} box "
                f"{doc.box!r}, not a {kind} for store {self._topics.store!r} box {box!r}",
                where=topic,
                fix="head office must address documents to the topic's store/box",
            )
