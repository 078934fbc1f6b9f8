"""A minimal acknowledging head office, for the reliability tests and the benchmarks.

Stand-in until the head-office ingest service (`cloud/`, its own issue) exists; that
service must pass the same tests. It does what the contract asks of head office and no
more: keeps a retained presence message (online, Last Will offline), stores journal
records per (store, box) in SQLite, in seq order, checking each record's hash and its link
to the previous one, discards re-deliveries, and publishes the retained ack (highest
contiguous seq and its hash) only after the commit. A batch that starts beyond a gap is
dropped: the box re-sends from the acknowledged position.

Runs paho's own network thread (`loop_start`); it is test infrastructure, not the box.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import ValidationError

from gateway.journal.chain import GENESIS_HASH, envelope_bytes, hash_bytes
from gateway.sync.payloads import Ack, HeadOfficeState, JournalBatch, JournalRecordWire
from gateway.sync.timefmt import iso
from gateway.sync.topics import HEAD_OFFICE_LEVEL

SCHEMA = """
CREATE TABLE IF NOT EXISTS record (
    store TEXT NOT NULL, box TEXT NOT NULL, seq INTEGER NOT NULL, id TEXT NOT NULL,
    hash TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (store, box, seq)
);
"""


@dataclass
class ReceiverStats:
    batches: int = 0
    stored: int = 0
    duplicates: int = 0
    beyond_gap: int = 0
    broken: int = 0  # batches that failed the schema, a hash or a link
    historical_batches: int = 0
    acks_published: int = 0
    errors: list[str] = field(default_factory=list)


def canonical_body(record: JournalRecordWire) -> bytes | None:
    """The canonical bytes of a body parsed from the wire (None if it has none).

    A body parsed from JSON holds only str/int/bool/None/list/dict (no Decimal), so the C
    JSON encoder with sorted keys spells exactly `canonical_json` (gateway.journal.chain),
    several times faster than the general walk; a float, which no box can journal, gives
    bytes no box hashed, so it fails the hash comparison as it should.
    """
    try:
        return _canonical.encode(record.body).encode("utf-8")
    except UnicodeEncodeError:
        return None


def wire_record_hash(record: JournalRecordWire, body: bytes) -> str:
    """The chain hash of a wire record whose canonical body bytes are `body`."""
    return hash_bytes(
        envelope_bytes(
            prev_hash=record.prev_hash,
            seq=record.seq,
            id=record.id,
            time=record.time,
            clock_synced=record.clock_synced,
            kind=record.kind,
            body_bytes=body,
        )
    )


_canonical = json.JSONEncoder(
    ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
)


class ReferenceReceiver:
    """Head office in miniature: `start()`, let boxes upload, inspect, `stop()`."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        db_path: str | Path,
        root: str = "storegate/v1",
        verify: bool = True,
        synchronous: str = "FULL",
        username: str | None = None,
        password: str | None = None,
        node: str = "reference-receiver",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.host, self.port, self.root = host, port, root
        self.verify = verify
        self.stats = ReceiverStats()
        self.messages: list[tuple[str, bytes]] = []  # everything but journal batches
        self.lose_batches = 0  # test hook: ignore this many batches, like a lossy broker
        self._clock = clock
        self._node = node
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(db_path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute(f"PRAGMA synchronous = {synchronous}")
        self._db.executescript(SCHEMA)
        self._heads: dict[tuple[str, str], tuple[int, str]] = {
            (s, b): (seq, h)
            for s, b, seq, h in self._db.execute(
                "SELECT store, box, seq, hash FROM record r WHERE seq = "
                "(SELECT max(seq) FROM record WHERE store = r.store AND box = r.box)"
            )
        }
        self.presence_topic = f"{root}/{HEAD_OFFICE_LEVEL}/state"
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"{node}-{int(time.time() * 1000)}",
            protocol=mqtt.MQTTv5,
        )
        if username is not None:
            self._client.username_pw_set(username, password)
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._client.reconnect_delay_set(1, 2)
        self._client.max_inflight_messages_set(100)
        self._client.will_set(self.presence_topic, self._presence(False), qos=1, retain=True)

    # ------------------------------------------------------------ life

    def start(self) -> None:
        self._client.connect_async(self.host, self.port, keepalive=10)
        self._client.loop_start()

    def stop(self, *, say_offline: bool = True) -> None:
        if say_offline and self._client.is_connected():
            info = self._client.publish(
                self.presence_topic, self._presence(False), qos=1, retain=True
            )
            info.wait_for_publish(2)
        self._client.disconnect()
        self._client.loop_stop()
        self._db.close()

    def set_presence(self, online: bool) -> None:
        self._client.publish(self.presence_topic, self._presence(online), qos=1, retain=True)

    def publish(self, topic: str, payload: bytes | str, *, retain: bool = False) -> None:
        """Publish as head office (signed documents, commands, forged acks in tests)."""
        self._client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def wait_connected(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not self._client.is_connected():
            if time.monotonic() > deadline:
                raise TimeoutError(f"receiver did not connect to {self.host}:{self.port}")
            time.sleep(0.02)

    # ------------------------------------------------------------ inspection

    def acknowledged(self, store: str, box: str) -> int:
        with self._lock:
            return self._heads.get((store, box), (0, GENESIS_HASH))[0]

    def wait_for(self, store: str, box: str, seq: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.acknowledged(store, box) < seq:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"receiver holds {store}/{box} up to seq "
                    f"{self.acknowledged(store, box)}, waited for {seq}"
                )
            time.sleep(0.02)

    def stored_seqs(self, store: str, box: str) -> list[int]:
        with self._lock:
            return [
                r[0]
                for r in self._db.execute(
                    "SELECT seq FROM record WHERE store = ? AND box = ? ORDER BY seq", (store, box)
                )
            ]

    def stored(self, store: str, box: str) -> list[tuple[int, str, str]]:
        """(seq, id, hash) of every stored record of one box, in seq order."""
        with self._lock:
            return list(
                self._db.execute(
                    "SELECT seq, id, hash FROM record WHERE store = ? AND box = ? ORDER BY seq",
                    (store, box),
                )
            )

    def received(self, suffix: str) -> list[dict[str, Any]]:
        """Parsed payloads received on topics ending with `suffix` (e.g. '/events')."""
        with self._lock:
            found = [p for t, p in self.messages if t.endswith(suffix)]
        return [json.loads(p) for p in found if p]

    # ------------------------------------------------------------ paho callbacks

    def _presence(self, online: bool) -> bytes:
        return (
            HeadOfficeState(online=online, time=iso(self._clock()), node=self._node)
            .model_dump_json()
            .encode()
        )

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if reason.is_failure:
            return
        client.subscribe(
            [
                (f"{self.root}/+/+/journal", 1),
                (f"{self.root}/+/+/events", 1),
                (f"{self.root}/+/+/telemetry", 1),
                (f"{self.root}/+/+/cmd/result", 1),
                (f"{self.root}/+/+/state", 1),
            ]
        )
        client.publish(self.presence_topic, self._presence(True), qos=1, retain=True)
        with self._lock:
            heads = dict(self._heads)
        for (store, box), (seq, digest) in heads.items():  # the broker may have lost them
            self._publish_ack(store, box, seq, digest)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if message.topic.endswith("/journal"):
            self._on_batch(bytes(message.payload))
        else:
            with self._lock:
                self.messages.append((message.topic, bytes(message.payload)))

    def _on_batch(self, payload: bytes) -> None:
        if self.lose_batches > 0:
            self.lose_batches -= 1
            return
        try:
            batch = JournalBatch.model_validate_json(payload)
        except ValidationError as exc:
            self._broken(f"batch does not match the schema: {exc.errors()[:2]}")
            return
        with self._lock:
            self.stats.batches += 1
            self.stats.historical_batches += batch.historical
            key = (batch.store, batch.box)
            seq, digest = self._heads.get(key, (0, GENESIS_HASH))
            rows = []
            for record in batch.records:
                if record.seq <= seq:
                    self.stats.duplicates += 1
                    continue
                if record.seq != seq + 1:
                    self.stats.beyond_gap += batch.last_seq - record.seq + 1
                    break
                body = self._linked_body(record, digest)
                if body is None:
                    break
                rows.append(
                    (
                        batch.store,
                        batch.box,
                        record.seq,
                        record.id,
                        record.hash,
                        body.decode("utf-8"),
                    )
                )
                seq, digest = record.seq, record.hash
            if rows:
                self._db.execute("BEGIN")
                self._db.executemany("INSERT INTO record VALUES (?, ?, ?, ?, ?, ?)", rows)
                self._db.execute("COMMIT")
                self.stats.stored += len(rows)
                self._heads[key] = (seq, digest)
        if seq > 0:
            self._publish_ack(batch.store, batch.box, seq, digest)

    def _linked_body(self, record: JournalRecordWire, prev_hash: str) -> bytes | None:
        """The record's canonical body if it links to `prev_hash` and its hash is right."""
        if record.prev_hash != prev_hash:
            self._broken_locked(f"seq {record.seq} does not link to the previous record")
            return None
        body = canonical_body(record)
        if body is None or (self.verify and record.hash != wire_record_hash(record, body)):
            self._broken_locked(f"seq {record.seq} hash does not match its fields")
            return None
        return body

    def _broken(self, error: str) -> None:
        with self._lock:
            self._broken_locked(error)

    def _broken_locked(self, error: str) -> None:
        self.stats.broken += 1
        self.stats.errors.append(error)

    def _publish_ack(self, store: str, box: str, seq: int, digest: str) -> None:
        ack = Ack(seq=seq, hash=digest, time=iso(self._clock()))
        self._client.publish(
            f"{self.root}/{store}/{box}/ack", ack.model_dump_json(), qos=1, retain=True
        )
        self.stats.acks_published += 1
