"""The sync service: one thread that owns the MQTT link and drives the pure parts.

Theory of operation. A single thread ("storegate-sync") connects (with jittered backoff),
runs paho's network loop itself (`client.loop()`), and between loop calls: handles what
paho reported (CONNACK, lost link, messages, PUBACKs), feeds the `Uplink` state machine,
reads the journal batches it asks for and publishes them, drains the bounded outbox
(events, telemetry, command results), samples telemetry and writes a status snapshot.
Nothing here blocks for long except a connection attempt (socket + TLS, bounded by the
connect timeout), and every paho call happens on this thread (paho is not thread-safe).

The journal is only read (own read-only connection). Head office's acknowledgement is
handed to the injected `acknowledge(seq, hash)`, which in the daemon passes it to the
single journal writer. Other threads talk to the service through `post_event`,
`sync_now`, `status` and `stop`, which are thread-safe.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from pydantic import ValidationError

from gateway import __version__
from gateway.database import open_database
from gateway.errors import StoregateError
from gateway.journal.clock import system_clock
from gateway.journal.store import Journal
from gateway.sync.backoff import ReconnectBackoff
from gateway.sync.commands import CommandDownlink, CommandRegistry, builtin_commands
from gateway.sync.downlink import DocumentDownlink, DocumentSink, Outcome, SinksByKind
from gateway.sync.errors import SyncError
from gateway.sync.link import (
    MQTT5_SILENCE,
    UNSUPPORTED_PROTOCOL,
    Connected,
    LinkEvents,
    LinkOptions,
    Lost,
    Message,
    Protocol,
    ProtocolChoice,
    PubAck,
    Refused,
    connect,
    new_client,
    refusal_error,
)
from gateway.sync.payloads import (
    Ack,
    BoxState,
    DeviceHealth,
    Event,
    HeadOfficeState,
    JournalHealth,
    QueueHealth,
    Severity,
    Telemetry,
    UpdateHealth,
)
from gateway.sync.signing import TrustedKeys
from gateway.sync.store import Channel, SyncStore
from gateway.sync.telemetry import TelemetryPolicy, boot_id, change_key, read_host
from gateway.sync.timefmt import iso, parse_instant
from gateway.sync.topics import Topics
from gateway.sync.uplink import AckVerdict, Uplink
from gateway.sync.wire import WireReader, batch_payload, take_batch

log = logging.getLogger(__name__)

AckSink = Callable[[int, str], None]
WallClock = Callable[[], tuple[datetime, bool]]  # the journal's clock shape
CONNACK_TIMEOUT = 10.0
PACKET_OVERHEAD = 1024  # topic, headers and properties around a batch, generously
STATUS_EVERY = 1.0  # look this often; write only when something a person reads changed
STATUS_HEARTBEAT = 60.0  # ... or this long passed, so `sync status` can tell it is current
STATUS_VOLATILE = ("records_sent", "batches_sent", "in_flight_batches")
CHANGE_CHECK_EVERY = 1.0


@dataclass(frozen=True)
class SyncConfig:
    """Everything the service needs from the settings, flattened (see `from_settings`)."""

    store: str
    box: str
    root_topic: str
    link: LinkOptions
    protocol: str  # "auto", "5" or "3.1.1"
    journal_path: Path
    state_path: Path
    data_dir: Path
    batch_max_records: int = 500
    batch_max_bytes: int = 256 * 1024
    window_batches: int = 16
    resend_after: float = 30.0
    poll_interval: float = 0.2
    ack_report_interval: float = 0.5
    require_head_office_online: bool = True
    telemetry_interval: float = 60.0
    queue_max_messages: int = 10_000
    queue_window: int = 10
    reconnect_min: float = 1.0
    reconnect_max: float = 120.0
    refused_min: float = 30.0
    downlink_max_bytes: int = 16 * 1024 * 1024
    trusted_keys: TrustedKeys = field(default_factory=lambda: TrustedKeys([]))

    @classmethod
    def from_settings(cls, settings: Any) -> SyncConfig:
        """Build from `gateway.settings.GatewaySettings` (duck-typed to avoid a cycle)."""
        mqtt_s, sync_s, store = settings.mqtt, settings.sync, settings.store
        data_dir = Path(settings.paths.data_dir)
        password = mqtt_s.password.get_secret_value() if mqtt_s.password else None
        link = LinkOptions(
            host=mqtt_s.host,
            port=mqtt_s.port,
            client_id=mqtt_s.client_id or f"storegate-{store.id}-{store.box}",
            keepalive=mqtt_s.keepalive,
            session_expiry=mqtt_s.session_expiry,
            receive_maximum=64,
            max_inflight=sync_s.window_batches + sync_s.queue_window + 4,
            username=mqtt_s.username,
            password=password,
            ca_file=str(mqtt_s.ca_file) if mqtt_s.ca_file else None,
            cert_file=str(mqtt_s.cert_file) if mqtt_s.cert_file else None,
            key_file=str(mqtt_s.key_file) if mqtt_s.key_file else None,
        )
        tuning = {
            name: getattr(sync_s, name)
            for name in (
                "batch_max_records",
                "batch_max_bytes",
                "window_batches",
                "resend_after",
                "poll_interval",
                "ack_report_interval",
                "require_head_office_online",
                "telemetry_interval",
                "queue_max_messages",
                "queue_window",
                "reconnect_min",
                "reconnect_max",
                "refused_min",
                "downlink_max_bytes",
            )
        }
        return cls(
            store=store.id,
            box=store.box,
            root_topic=mqtt_s.root_topic,
            link=link,
            protocol=mqtt_s.protocol,
            journal_path=settings.paths.database,
            state_path=sync_s.state_file or data_dir / "sync.db",
            data_dir=data_dir,
            trusted_keys=TrustedKeys(sync_s.trusted_keys),
            **tuning,
        )


@dataclass(frozen=True)
class LinkStatus:
    """How the box stands with head office, for rooms that act differently offline (the
    members room's offline policy). Online means connected to the broker with head office
    present (or presence not required); `offline_since` is monotonic time, None online."""

    online: bool
    offline_since: float | None


@dataclass
class _Connection:
    client: mqtt.Client
    events: LinkEvents
    protocol: Protocol
    session: int
    started: float
    connected: bool = False
    max_batch_bytes: int = 0
    max_packet: int | None = None


class SyncService:
    """Box side of cloud sync; `start()` it once, `stop()` it on shutdown."""

    def __init__(
        self,
        config: SyncConfig,
        *,
        acknowledge: AckSink,
        sink: DocumentSink | None = None,
        registry: CommandRegistry | None = None,
        devices: Callable[[], dict[str, DeviceHealth]] = dict,
        update: Callable[[], UpdateHealth | None] = lambda: None,
        clock: WallClock | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        new_id: Callable[[], str] | None = None,
        version: str = __version__,
    ) -> None:
        self.config = config
        self.topics = Topics(config.root_topic, config.store, config.box)
        self._acknowledge = acknowledge
        self._devices = devices
        self._update = update
        self._clock: WallClock = clock or system_clock
        self._mono = monotonic
        self._new_id = new_id or (lambda: uuid.uuid4().hex)
        self._version = version
        self._boot_id = boot_id()
        self._started_mono = monotonic()
        self._backoff = ReconnectBackoff(
            minimum=config.reconnect_min,
            maximum=config.reconnect_max,
            refused_min=config.refused_min,
            rng=rng or random.Random(),
        )
        self._store = SyncStore(config.state_path, capacity=config.queue_max_messages)
        self._journal = Journal(open_database(config.journal_path, readonly=True))
        self._wire = WireReader(config.journal_path)
        self.uplink = Uplink(
            acknowledged_seq=self._journal.acknowledged_seq(),
            window=config.window_batches,
            resend_after=config.resend_after,
            require_head_office_online=config.require_head_office_online,
        )
        self._registry = builtin_commands(
            registry or CommandRegistry(), sync_now=self.sync_now, clock=self._now
        )
        self._documents = DocumentDownlink(
            topics=self.topics,
            keys=config.trusted_keys,
            store=self._store,
            sink=sink or SinksByKind(),
            max_bytes=config.downlink_max_bytes,
            clock=self._now,
        )
        self._commands = CommandDownlink(
            topics=self.topics,
            keys=config.trusted_keys,
            store=self._store,
            registry=self._registry,
            max_bytes=config.downlink_max_bytes,
            clock=self._now,
        )
        self._telemetry = TelemetryPolicy(config.telemetry_interval)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: _Connection | None = None
        self._protocol = ProtocolChoice(config.protocol)
        self._next_attempt = 0.0
        self._pending: deque[tuple[int, bytes]] = deque()  # encoded, not yet sent records
        self._outbox_mids: dict[int, int] = {}
        self._outbox_cursor = 0
        self._journal_mids: set[int] = set()
        self._next_poll = 0.0
        self._next_status = 0.0
        self._next_change_check = 0.0
        self._last_ack: tuple[int, str] | None = None
        self._last_ack_at: str | None = None
        self._state = "starting"
        self._last_error: str | None = None
        self._last_error_at: str | None = None
        self._connected_since: str | None = None
        self._reconnects = 0
        self._attempts = 0
        self._status_written: dict[str, Any] | None = None
        self._status_written_at = 0.0
        self._link_status = LinkStatus(online=False, offline_since=self._started_mono)

    # ------------------------------------------------------------ public, thread-safe

    def start(self) -> None:
        if self._thread is not None:
            raise SyncError("sync service already started", fix="start it once")
        self._thread = threading.Thread(target=self._run, name="storegate-sync", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Say goodbye (retained offline state), flush the ack and stop the thread."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def sync_now(self) -> None:
        """Poll the journal now and, if disconnected, try the broker without waiting."""
        with self._lock:
            self._next_poll = 0.0
            self._next_attempt = min(self._next_attempt, self._mono())
        self._wake.set()

    def post_event(self, kind: str, body: dict[str, Any], severity: Severity = "info") -> None:
        """Queue an event for `.../events` (kept on disk while offline)."""
        self._queue_event(kind, body, severity)
        self._wake.set()

    def status(self) -> dict[str, Any]:
        with self._lock:
            return self._status_body()

    def link_status(self) -> LinkStatus:
        """The link as of the sync thread's last step (any thread; a copy)."""
        with self._lock:
            return self._link_status

    # ------------------------------------------------------------ the thread

    def _run(self) -> None:
        try:
            while not self._stopping.is_set():
                try:
                    self._step()
                except Exception as exc:  # a bug must not end sync for good (TB #2086)
                    log.exception("sync step failed; dropping the connection and retrying")
                    self._link_lost(f"internal error {type(exc).__name__}: {exc}")
        finally:
            self._goodbye()
            self._write_status(force=True)

    def _step(self) -> None:
        now = self._mono()
        if self._conn is None:
            self._maybe_connect(now)
            self._housekeeping(now)
            if self._conn is None:
                self._wake.wait(min(0.1, max(0.0, self._next_attempt - now)))
                self._wake.clear()
            return
        busy = self._pump(now)
        conn = self._conn
        if conn is None:
            return
        rc = conn.client.loop(timeout=0.0 if busy else 0.05)
        self._handle_events()
        if self._conn is conn and rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_AGAIN):
            self._link_lost(f"network loop: {mqtt.error_string(rc)}")
        if (
            self._conn is not None
            and not self._conn.connected
            and now - self._conn.started > self._connack_wait()
        ):
            self._link_lost("no CONNACK from the broker in time")
        self._housekeeping(now)

    # ------------------------------------------------------------ connection life

    def _maybe_connect(self, now: float) -> None:
        if now < self._next_attempt:
            return
        session = self._store.bump("session")
        self._attempts += 1
        events = LinkEvents()
        will = self._box_state(online=False, session=session)
        self._state = "connecting"
        try:
            client = new_client(
                self.config.link, self._protocol.current, events, self.topics.state, will
            )
            connect(client, self.config.link, self._protocol.current)
        except StoregateError as exc:
            self._attempt_failed(exc.describe(), refused=False)
            return
        self._conn = _Connection(client, events, self._protocol.current, session, now)

    def _attempt_failed(self, error: str, *, refused: bool) -> None:
        delay = self._backoff.next_delay(refused=refused)
        self._next_attempt = self._mono() + delay
        self._state = "refused" if refused else "disconnected"
        self._record_error(error)
        log.warning("%s (next attempt in %.1f s)", error, delay)

    def _handle_events(self) -> None:
        """Handle what paho reported during the last `loop()`, in order."""
        handlers: dict[type, Callable[[_Connection, Any], None]] = {
            Connected: self._on_connected,
            Refused: self._on_refused,
            Lost: lambda conn, event: self._link_lost(f"connection lost: {event.reason}"),
            Message: lambda conn, event: self._on_message(event),
            PubAck: lambda conn, event: self._on_puback(event.mid),
        }
        conn = self._conn
        while conn is not None and conn.events.queue:
            event = conn.events.queue.popleft()
            handlers[type(event)](conn, event)
            conn = self._conn  # a handler may have dropped the connection

    def _on_connected(self, conn: _Connection, event: Connected) -> None:
        conn.connected = True
        self._protocol.accepted()
        conn.max_batch_bytes = self.config.batch_max_bytes
        conn.max_packet = event.max_packet
        if event.max_packet is not None:  # a bigger batch would get us disconnected forever
            conn.max_batch_bytes = max(
                1, min(conn.max_batch_bytes, event.max_packet - PACKET_OVERHEAD)
            )
        self._backoff.reset()
        self._reconnects += 1
        self._state = "connected"
        self._connected_since = iso(self._now())
        state = self._journal.state()
        self.uplink.on_connected(state.head_seq)
        self._pending.clear()
        self._outbox_mids.clear()
        self._journal_mids.clear()
        self._outbox_cursor = 0
        conn.client.subscribe([(topic, 1) for topic in self.topics.subscriptions()])
        birth = self._box_state(
            online=True,
            session=conn.session,
            protocol=conn.protocol,
            head_seq=state.head_seq,
            acked_seq=state.acknowledged_seq,
        )
        conn.client.publish(self.topics.state, birth, qos=1, retain=True)
        log.info(
            "connected to %s (MQTT %s, session present: %s)",
            self.config.link.broker,
            conn.protocol,
            event.session_present,
        )

    def _on_refused(self, conn: _Connection, event: Refused) -> None:
        self._drop_connection()
        if event.code == UNSUPPORTED_PROTOCOL and self._protocol.refused_5():
            log.info("broker %s refuses MQTT 5; falling back to 3.1.1", self.config.link.broker)
            self._next_attempt = 0.0
            return
        self._attempt_failed(refusal_error(event, self.config.link).describe(), refused=True)

    def _connack_wait(self) -> float:
        return MQTT5_SILENCE if self._protocol.may_fall_back() else CONNACK_TIMEOUT

    def _link_lost(self, reason: str) -> None:
        conn = self._conn
        was_connected = conn is not None and conn.connected
        self._drop_connection()
        self.uplink.on_disconnected()
        if was_connected:
            self._backoff.reset()
        elif conn is not None and self._unanswered(reason):
            self._next_attempt = 0.0
            return
        self._attempt_failed(f"mqtt broker {self.config.link.broker}: {reason}", refused=False)

    def _unanswered(self, reason: str) -> bool:
        """A CONNECT the broker closed or left without a CONNACK (ProtocolChoice): True
        when 3.1.1 is tried at once; else the caller backs off as for any lost link."""
        tried = self._protocol.current
        if self._protocol.unanswered():
            log.info(
                "broker %s did not answer the MQTT 5 CONNECT (%s); trying 3.1.1",
                self.config.link.broker,
                reason,
            )
            return True
        if tried != self._protocol.current:
            log.info(
                "broker %s did not answer MQTT 3.1.1 either; back to MQTT 5",
                self.config.link.broker,
            )
        return False

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        with contextlib.suppress(OSError, ValueError):
            conn.client.disconnect()
        conn.client._reset_sockets()  # close our socketpair too; the client is discarded

    def _goodbye(self) -> None:
        """Graceful stop: retained offline state (no Last Will then), final ack report."""
        self._report_ack(force=True)
        conn = self._conn
        self._state = "stopped"
        if conn is None or not conn.connected:
            self._drop_connection()
            return
        info = conn.client.publish(
            self.topics.state,
            self._box_state(online=False, session=conn.session),
            qos=1,
            retain=True,
        )
        deadline = self._mono() + 2.0
        while not _published(info) and self._mono() < deadline:
            if conn.client.loop(timeout=0.05) != mqtt.MQTT_ERR_SUCCESS:
                break
        self._drop_connection()

    # ------------------------------------------------------------ incoming

    def _on_message(self, message: Message) -> None:
        topic = message.topic
        if topic == self.topics.ack:
            self._on_ack(message.payload)
        elif topic == self.topics.head_office_state:
            self._on_presence(message.payload)
        elif topic == self.topics.command:
            answer = self._commands.receive(message.payload)
            if answer is not None:
                self._queue("cmd_result", answer.result.model_dump_json().encode())
                if answer.refusal is not None:
                    self._queue_event(
                        "command.refused",
                        {
                            "reason": answer.refusal.reason,
                            "error": answer.refusal.describe(),
                            "id": answer.result.id,
                        },
                        "warning",
                    )
        else:
            self._report_outcome(self._documents.receive(topic, message.payload))

    def _report_outcome(self, outcome: Outcome) -> None:
        if outcome.event_kind is not None:
            self._queue_event(outcome.event_kind, outcome.body, outcome.severity)
            if outcome.severity != "info":
                self._record_error(str(outcome.body.get("error", outcome.event_kind)))

    def _on_presence(self, payload: bytes) -> None:
        try:
            online = HeadOfficeState.model_validate_json(payload).online if payload else False
        except ValidationError:
            log.warning("head office presence message is not a HeadOfficeState; offline")
            online = False
        self.uplink.on_head_office_presence(online)

    def _on_ack(self, payload: bytes) -> None:
        if not payload:
            return
        try:
            ack = Ack.model_validate_json(payload)
        except ValidationError as exc:
            self._refuse_ack({"reason": "schema", "error": str(exc.errors()[:3])})
            return
        journal_hash = None
        if ack.seq > self.uplink.acknowledged_seq:
            record = self._journal.get(ack.seq)
            journal_hash = record.hash if record else None
        verdict = self.uplink.on_ack(ack.seq, ack.hash, journal_hash, self._mono())
        if verdict is AckVerdict.ADVANCED:
            self._last_ack = (ack.seq, ack.hash)
            self._last_ack_at = iso(self._now())
        elif verdict is not AckVerdict.STALE:
            head = self._journal.state().head_seq
            self._refuse_ack(
                {
                    "reason": verdict.value,
                    "seq": ack.seq,
                    "hash": ack.hash,
                    "journal_head_seq": head,
                    "error": f"ack for seq {ack.seq} refused ({verdict.value}); "
                    f"journal head is {head}",
                }
            )

    def _refuse_ack(self, body: dict[str, Any]) -> None:
        self._queue_event("ack.refused", body, "error")
        self._record_error(f"head office ack refused: {body.get('error', body['reason'])}")

    def _on_puback(self, mid: int) -> None:
        message_id = self._outbox_mids.pop(mid, None)
        if message_id is not None:
            self._store.remove(message_id)
        self._journal_mids.discard(mid)

    # ------------------------------------------------------------ outgoing

    def _pump(self, now: float) -> bool:
        """Publish what the windows allow; True when there may be more to do at once."""
        conn = self._conn
        if conn is None or not conn.connected:
            return False
        if self.uplink.on_tick(now):
            self._pending.clear()
            log.info(
                "no ack progress for %.0f s; re-sending from seq %d",
                self.config.resend_after,
                self.uplink.next_seq,
            )
        busy = self._pump_journal(conn, now)
        if self._conn is not conn:
            return False
        return self._pump_outbox(conn) or busy

    def _pump_journal(self, conn: _Connection, now: float) -> bool:
        if not self.uplink.may_send or (now < self._next_poll and not self._pending):
            return False
        head_seq = self._journal.state().head_seq
        after = self.uplink.next_batch(head_seq)
        if after is None:
            if self.uplink.next_seq > head_seq:
                self._next_poll = now + self.config.poll_interval
            return False
        records = self._batch_records(after, conn.max_batch_bytes)
        if not records:
            self._next_poll = now + self.config.poll_interval
            return False
        if self._too_big_for_broker(conn, records[0], now):
            return False
        first, last = records[0][0], records[-1][0]
        historical = self.uplink.claim(first, last, now)
        payload = batch_payload(
            store=self.config.store,
            box=self.config.box,
            historical=historical,
            sent_at=iso(self._now()),
            records=records,
        )
        info = conn.client.publish(self.topics.journal, payload, qos=1)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            self._link_lost(f"publish failed: {mqtt.error_string(info.rc)}")
            return False
        self._journal_mids.add(info.mid)
        return True

    def _too_big_for_broker(self, conn: _Connection, record: tuple[int, bytes], now: float) -> bool:
        """A record the broker would refuse stops the drain (never skipped), with an error."""
        seq, encoded = record
        if conn.max_packet is None or len(encoded) + PACKET_OVERHEAD <= conn.max_packet:
            return False
        self._pending.clear()
        self._next_poll = now + self.config.resend_after
        self._record_error(
            f"journal record seq {seq} is {len(encoded)} bytes, more than the broker's "
            f"maximum packet size ({conn.max_packet}); the uplink waits at it\n"
            "  fix: raise max_packet_size on the broker (it must fit the largest record)"
        )
        return True

    def _batch_records(self, after: int, max_bytes: int) -> list[tuple[int, bytes]]:
        """Encoded records after `after`, bounded by count and bytes (at least one)."""
        if self._pending and self._pending[0][0] != after + 1:
            self._pending.clear()
        wanted = self.config.batch_max_records - len(self._pending)
        if wanted > 0:  # top up, so leftovers do not go out as a small batch
            last = self._pending[-1][0] if self._pending else after
            self._pending.extend(
                (seq, encoded) for seq, _, encoded in self._wire.read(last, wanted)
            )
        return take_batch(self._pending, self.config.batch_max_records, max_bytes)

    def _pump_outbox(self, conn: _Connection) -> bool:
        room = self.config.queue_window - len(self._outbox_mids)
        if room <= 0:
            return False
        sent = False
        for message in self._store.peek(self._outbox_cursor, room):
            topic = {
                "events": self.topics.events,
                "telemetry": self.topics.telemetry,
                "cmd_result": self.topics.command_result,
            }[message.channel]
            info = conn.client.publish(topic, message.payload, qos=1)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                self._link_lost(f"publish failed: {mqtt.error_string(info.rc)}")
                return False
            self._outbox_mids[info.mid] = message.id
            self._outbox_cursor = message.id
            sent = True
        return sent

    # ------------------------------------------------------------ periodic work

    def _housekeeping(self, now: float) -> None:
        self._note_link(now)
        self._report_ack(force=False)
        self._maybe_telemetry(now)
        if now >= self._next_status:
            self._next_status = now + STATUS_EVERY
            self._write_status()

    def _note_link(self, now: float) -> None:
        """Publish the link's state for other threads; offline_since survives flapping
        presence only while the link stays down (a reconnect resets it)."""
        conn = self._conn
        present = self.uplink.head_office_online or not self.config.require_head_office_online
        online = conn is not None and conn.connected and present
        with self._lock:
            before = self._link_status
            if online != before.online:
                self._link_status = LinkStatus(online, None if online else now)

    def _report_ack(self, *, force: bool) -> None:
        now = self._mono()
        seq = self.uplink.ack_to_report(now, 0.0 if force else self.config.ack_report_interval)
        if seq is None or self._last_ack is None:
            return
        try:
            self._acknowledge(seq, self._last_ack[1])
        except StoregateError as exc:
            self._record_error(f"journal refused the acknowledgement: {exc.describe()}")
            return
        self.uplink.ack_reported(seq, now)

    def _maybe_telemetry(self, now: float) -> None:
        if now < self._next_change_check:
            return
        self._next_change_check = now + min(CHANGE_CHECK_EVERY, self.config.telemetry_interval)
        devices = self._devices()
        update = self._update()
        _, synced = self._clock()
        key = change_key(devices, synced, update)
        if not self._telemetry.due(now, key):
            return
        self._telemetry.sent(now, key)
        self._queue(
            "telemetry",
            self._telemetry_payload(devices, synced, update).model_dump_json().encode(),
        )

    def _telemetry_payload(
        self, devices: dict[str, DeviceHealth], synced: bool, update: UpdateHealth | None = None
    ) -> Telemetry:
        count, oldest = self._journal.backlog()
        age = None
        if oldest is not None:
            age = max(0.0, (self._now() - parse_instant(oldest)).total_seconds())
        return Telemetry(
            time=iso(self._now()),
            boot_id=self._boot_id,
            version=self._version,
            uptime_s=round(self._mono() - self._started_mono, 3),
            clock_synced=synced,
            host=read_host(self.config.data_dir),
            journal=JournalHealth(
                backlog=count,
                oldest_unacknowledged_age_s=age,
                acknowledged_seq=self.uplink.acknowledged_seq,
                last_ack_at=self._last_ack_at,
            ),
            queue=QueueHealth(
                depth=self._store.depth(),
                capacity=self._store.capacity,
                dropped_telemetry=self._store.counter("dropped_telemetry"),
                dropped_events=self._store.counter("dropped_events")
                + self._store.counter("dropped_cmd_result"),
            ),
            reconnects=self._reconnects,
            devices=devices,
            update=update,
        )

    # ------------------------------------------------------------ helpers

    def _now(self) -> datetime:
        return self._clock()[0]

    def _queue(self, channel: Channel, payload: bytes) -> None:
        dropped = self._store.enqueue(channel, payload, iso(self._now()))
        if dropped:
            log.warning("sync queue full: dropped %d oldest message(s)", dropped)

    def _queue_event(self, kind: str, body: dict[str, Any], severity: Severity) -> None:
        event = Event(
            id=self._new_id(), time=iso(self._now()), kind=kind, severity=severity, body=body
        )
        self._queue("events", event.model_dump_json().encode())

    def _box_state(
        self,
        *,
        online: bool,
        session: int,
        protocol: Protocol | None = None,
        head_seq: int | None = None,
        acked_seq: int | None = None,
    ) -> bytes:
        return (
            BoxState(
                online=online,
                session=session,
                boot_id=self._boot_id,
                version=self._version,
                time=iso(self._now()),
                protocol=protocol,
                journal_head_seq=head_seq,
                journal_acknowledged_seq=acked_seq,
            )
            .model_dump_json()
            .encode()
        )

    def _record_error(self, error: str) -> None:
        with self._lock:
            self._last_error = error
            self._last_error_at = iso(self._now())

    def _status_body(self) -> dict[str, Any]:
        counters = self.uplink.counters
        conn = self._conn  # read once: the sync thread may drop it meanwhile
        return {
            "connection": self._state,
            "broker": self.config.link.broker,
            "protocol": conn.protocol if conn is not None else None,
            "connected_since": self._connected_since if self._state == "connected" else None,
            "head_office_online": self.uplink.head_office_online,
            "acknowledged_seq": self.uplink.acknowledged_seq,
            "last_ack_at": self._last_ack_at,
            "in_flight_batches": len(self.uplink.in_flight),
            "records_sent": counters.records_sent,
            "batches_sent": counters.batches_sent,
            "go_backs": counters.go_backs,
            "acks_refused": counters.acks_refused,
            "reconnects": self._reconnects,
            "connect_attempts": self._attempts,
            "last_error": self._last_error,
            "last_error_at": self._last_error_at,
            "pid": os.getpid(),
        }

    def _write_status(self, *, force: bool = False) -> None:
        """Snapshot for `gateway sync status`; skipped when unchanged (SD cards wear out)."""
        with self._lock:
            body = self._status_body()
        steady = {k: v for k, v in body.items() if k not in STATUS_VOLATILE}
        now = self._mono()
        if (
            not force
            and steady == self._status_written
            and now - self._status_written_at < STATUS_HEARTBEAT
        ):
            return
        self._store.write_status(body, iso(self._now()))
        self._status_written, self._status_written_at = steady, now


def _published(info: mqtt.MQTTMessageInfo) -> bool:
    """paho raises instead of answering when the connection is already gone (the link
    dropped just before a stop): then there is nothing left to wait for."""
    try:
        return bool(info.is_published())
    except (RuntimeError, ValueError):
        return True
