"""`cloud ingest`: one worker on an MQTT 5 shared subscription, storing what boxes send.

Theory of operation. paho's network thread (`loop_start`) receives; with `manual_ack` it
sends no PUBACK by itself, and the CONNECT's Receive Maximum caps how many un-acknowledged
messages the broker hands this worker — that is the back-pressure: a slow database slows
the broker's delivery to this worker, never the other way round. The worker thread drains
what has arrived, checks it (`cloud.inbound`), writes it in one transaction
(`cloud.ingest_store`) and, only after COMMIT, acknowledges each message to the broker and
publishes each touched box's contiguous position on its retained `.../ack`. If the
database fails, the transaction is rolled back, nothing is acknowledged, and the same
messages are written again once the database is back (and the box re-sends anyway until
it sees its ack). Messages received on a connection that has since dropped are never
acknowledged on the new one (their packet ids mean nothing there).

Presence: a retained `HeadOfficeState` on `{root}/_office/state`, online after connect,
with a Last Will saying offline. Any number of workers run at once; each watches the
presence topic and re-asserts "online" if another worker's Will or goodbye said offline,
so boxes only pause briefly when one of several workers goes away.

MQTT 3.1.1 (a broker that refuses or ignores an MQTT 5 CONNECT, such as the embedded one
`gateway demo` starts, or `protocol="3.1.1"`): there are no shared subscriptions, so the
worker subscribes plainly and is correct only as the ONLY worker on the broker (every
worker would get every message). A 3.1.1 worker that finds another worker's retained
"online" presence when it connects refuses to run (`SecondWorker`); one that sees another
worker arrive later says so in the log. There is no Receive Maximum either: the broker's
own in-flight limit is the back-pressure. Manual acknowledgement after COMMIT works the
same.

Owns: the MQTT side of head office's ingest. Must not define payloads or topics
(gateway.sync.payloads / topics) nor SQL (cloud.ingest_store).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from cloud import rules, stock
from cloud.clock import Clock, iso, system_clock
from cloud.db import Database
from cloud.departments import check_all_budgets
from cloud.inbound import Inbound, Problem, Rejected, parse, subscriptions
from cloud.ingest_store import AckPosition, ApplyResult, IngestStore
from cloud.schema import require_current
from gateway.errors import StoregateError
from gateway.sync.link import MQTT5_SILENCE, UNSUPPORTED_PROTOCOL, ProtocolChoice
from gateway.sync.payloads import Ack, HeadOfficeState
from gateway.sync.topics import HEAD_OFFICE_LEVEL, Topics

log = logging.getLogger(__name__)

DEFAULT_ROOT = "storegate/v1"
PROTOCOLS = ("auto", "5", "3.1.1")  # as the box's mqtt.protocol


@dataclass(frozen=True)
class BrokerOptions:
    """Where and how head office connects (shared by ingest, publish and cmd)."""

    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    keepalive: int = 30

    def apply(self, client: mqtt.Client) -> None:
        if self.username is not None:
            client.username_pw_set(self.username, self.password)
        if self.ca_file or self.cert_file:
            client.tls_set(ca_certs=self.ca_file, certfile=self.cert_file, keyfile=self.key_file)


STOCK_POST_BUDGET = 1  # stock-posting transactions per pass (2000 seqs each)


@dataclass(frozen=True)
class IngestConfig:
    db_url: str
    broker: BrokerOptions = field(default_factory=BrokerOptions)
    root: str = DEFAULT_ROOT
    group: str = "ingest"
    client_id: str = ""
    receive_maximum: int = 64
    session_expiry: int = 0
    rule_interval: float = 5.0
    ack_refresh: float = 1.0
    sales_rule_interval: float = 3600.0  # reads 4 weeks of sales: hourly is plenty
    stock_post_interval: float = 60.0  # post new sales/refunds to the stock ledger (0: never)
    retry_min: float = 0.2
    retry_max: float = 10.0
    thresholds: rules.Thresholds = field(default_factory=rules.Thresholds)
    protocol: str = "auto"  # "auto" tries MQTT 5 and falls back to 3.1.1 (one worker only)

    @property
    def presence_topic(self) -> str:
        return f"{self.root}/{HEAD_OFFICE_LEVEL}/state"

    @property
    def node(self) -> str:
        return self.client_id or f"cloud-ingest-{socket.gethostname()}"


@dataclass(frozen=True)
class Received:
    """One message as it arrived, already checked (`item`; None for the presence topic)."""

    generation: int
    mid: int
    qos: int
    topic: str
    payload: bytes
    item: Inbound | None
    retained: bool = False


@dataclass
class IngestCounters:
    received: int = 0  # QoS 1 messages handed to us (the ones Receive Maximum bounds)
    messages: int = 0
    records_stored: int = 0
    duplicates: int = 0
    transactions: int = 0
    database_retries: int = 0
    acks_published: int = 0


class SecondWorker(StoregateError):
    """Over MQTT 3.1.1 another ingest worker is already online on the broker."""


class IngestWorker:
    """One ingest worker; `run(stop)` blocks until `stop` is set."""

    def __init__(self, config: IngestConfig, *, clock: Clock = system_clock) -> None:
        if config.protocol not in PROTOCOLS:
            raise StoregateError(
                f"unknown MQTT protocol {config.protocol!r}",
                where="cloud ingest --protocol",
                fix="auto, 5 or 3.1.1",
            )
        self.config = config
        self.counters = IngestCounters()
        self.connected = threading.Event()
        self._protocol = ProtocolChoice(config.protocol)  # the box's rule, for ingest too
        self._clock = clock
        self._inbox: queue.Queue[Received] = queue.Queue()
        self._generation = 0
        self._touched: set[tuple[str, str]] = set()
        self._stock_backlog = False  # the last stock posting pass left records to post
        self._socket_opened: float | None = None  # waiting for a CONNACK since then
        self._unanswered: str | None = None  # why MQTT 5 looks unspoken by this broker
        self._client = self._new_client()

    @property
    def protocol(self) -> str:
        """The MQTT version this worker speaks now: "5" or "3.1.1"."""
        return self._protocol.current

    # ------------------------------------------------------------ MQTT callbacks (network thread)

    def _new_client(self) -> mqtt.Client:
        if self.protocol == "5":
            client = mqtt.Client(
                CallbackAPIVersion.VERSION2,
                client_id=self.config.node,
                protocol=mqtt.MQTTv5,
                manual_ack=True,
            )
        else:
            client = mqtt.Client(
                CallbackAPIVersion.VERSION2,
                client_id=self.config.node,
                protocol=mqtt.MQTTv311,
                manual_ack=True,
                clean_session=self.config.session_expiry == 0,
            )
        client.on_socket_open = self._on_socket_open
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.max_inflight_messages_set(200)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        self.config.broker.apply(client)
        client.will_set(self.config.presence_topic, self._presence(False), qos=1, retain=True)
        return client

    def _on_socket_open(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        self._socket_opened = time.monotonic()

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        self._socket_opened = None
        if reason.is_failure:
            if int(reason.value) == UNSUPPORTED_PROTOCOL and self._protocol.may_fall_back():
                self._unanswered = f"the broker refused MQTT 5 ({reason})"
                return
            log.error("broker refused the ingest worker: %s", reason)
            return
        self._protocol.accepted()
        self._generation += 1
        share = f"$share/{self.config.group}/" if self.config.group and self.protocol == "5" else ""
        client.subscribe(
            [(share + f, 1) for f in subscriptions(self.config.root).values()]
            + [(self.config.presence_topic, 0)]
        )
        client.publish(self.config.presence_topic, self._presence(True), qos=1, retain=True)
        self.connected.set()
        log.info("ingest worker %s connected (generation %d)", self.config.node, self._generation)

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if self._socket_opened is not None and self._protocol.may_fall_back():
            self._unanswered = (
                "the broker closed the connection without answering the MQTT 5 CONNECT"
            )
        self._socket_opened = None
        if self.connected.is_set():
            log.warning("ingest worker %s disconnected: %s", self.config.node, reason)
        self.connected.clear()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        """Check the payload here, on the network thread: schema and hash checking (CPU)
        then overlaps with the worker thread waiting on the database."""
        self.counters.received += message.qos > 0
        payload = bytes(message.payload)
        item = (
            None
            if message.topic == self.config.presence_topic
            else self._check(message.topic, payload)
        )
        self._inbox.put(
            Received(
                self._generation,
                message.mid,
                message.qos,
                message.topic,
                payload,
                item,
                bool(message.retain),
            )
        )

    def _check(self, topic: str, payload: bytes) -> Inbound:
        try:
            return parse(self.config.root, topic, payload)
        except Exception as exc:  # a bug in checking must not stop the network loop
            log.exception("checking a message on %s failed", topic)
            return Rejected(
                None,
                None,
                None,
                Problem(
                    "payload.unchecked",
                    "error",
                    f"message on {topic} could not be checked: {type(exc).__name__}: {exc}",
                ),
                payload[:200].decode("utf-8", "replace"),
            )

    # ------------------------------------------------------------ the worker thread

    def run(self, stop: threading.Event) -> None:
        db = Database.open(self.config.db_url)
        try:
            require_current(db)
            store = IngestStore(db, self.config.thresholds)
            if self.protocol == "3.1.1":
                self._warn_one_worker("protocol 3.1.1 was asked for")
            self._connect()
            self._serve(store, db, stop)
        finally:
            self._goodbye()
            db.close()

    def _connect(self) -> None:
        """Start connecting (paho's network thread retries until the broker answers)."""
        broker = self.config.broker
        if self.protocol == "5":
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.ReceiveMaximum = self.config.receive_maximum
            props.SessionExpiryInterval = self.config.session_expiry
            self._client.connect_async(
                broker.host,
                broker.port,
                broker.keepalive,
                clean_start=self.config.session_expiry == 0,
                properties=props,
            )
        else:
            self._client.connect_async(broker.host, broker.port, broker.keepalive)
        self._client.loop_start()

    def _fall_back_if_unspoken(self) -> None:
        """With protocol "auto", until the first accepted CONNACK: a broker that refuses
        MQTT 5, closes the connection on the CONNECT or leaves it unanswered for
        MQTT5_SILENCE seconds gets a new client speaking 3.1.1 (gateway.sync.link's
        ProtocolChoice). The choice then holds for the life of the process."""
        opened = self._socket_opened
        why = self._unanswered
        if why is None and opened is not None and time.monotonic() - opened > MQTT5_SILENCE:
            why = f"no answer to the MQTT 5 CONNECT in {MQTT5_SILENCE:g} s"
        if why is None or not self._protocol.may_fall_back():
            return  # settled: a silent 3.1.1 broker is paho's to retry, not a reason for 5
        self._protocol.unanswered()
        log.info(
            "broker %s:%d: %s; trying MQTT 3.1.1",
            self.config.broker.host,
            self.config.broker.port,
            why,
        )
        self._client.disconnect()
        self._client.loop_stop()
        self._unanswered, self._socket_opened = None, None
        self._client = self._new_client()
        self._warn_one_worker("the broker does not speak MQTT 5")
        self._connect()

    def _warn_one_worker(self, why: str) -> None:
        log.warning(
            "MQTT 3.1.1 (%s): no shared subscriptions, so this worker subscribes "
            "plainly and must be the ONLY ingest worker on this broker (a second one "
            "is refused); use an MQTT 5 broker to run several",
            why,
        )

    def _serve(self, store: IngestStore, db: Database, stop: threading.Event) -> None:
        next_rules = next_refresh = 0.0
        next_sales_rules = time.monotonic() + min(60.0, self.config.sales_rule_interval)
        next_stock_post = time.monotonic() + self.config.stock_post_interval
        while not stop.is_set():
            self._fall_back_if_unspoken()
            batch = self._drain(0.2)
            if batch:
                self._process(batch, store, db, stop)
            if self._touched and time.monotonic() >= next_refresh:
                next_refresh = time.monotonic() + self.config.ack_refresh
                self._with_retry(lambda: self._refresh_acks(store), db, stop)
            if time.monotonic() >= next_rules:
                next_rules = time.monotonic() + self.config.rule_interval
                self._with_retry(
                    self._rule_pass(
                        "periodic rules",
                        lambda: rules.periodic(db, self._now(), self.config.thresholds),
                        db,
                    ),
                    db,
                    stop,
                )
                # positions moved by `cloud chain accept`: published at the next refresh
                self._with_retry(lambda: self._touched.update(store.newly_accepted()), db, stop)
            if time.monotonic() >= next_sales_rules:
                next_sales_rules = time.monotonic() + self.config.sales_rule_interval
                self._with_retry(self._closed_day_rules(db), db, stop)
            if self.config.stock_post_interval > 0 and time.monotonic() >= next_stock_post:
                self._stock_backlog = False
                self._with_retry(self._stock_posting(db), db, stop)
                # a backlog is posted a chunk a second, between storing what arrives
                next_stock_post = time.monotonic() + (
                    1.0 if self._stock_backlog else self.config.stock_post_interval
                )

    def _stock_posting(self, db: Database) -> Callable[[], None]:
        """Post new sales and refunds to the stock ledger, one chunk per pass."""

        def post() -> None:
            done = stock.post_journal(db, self._now(), budget=STOCK_POST_BUDGET)
            self._stock_backlog = done.more

        return self._rule_pass("stock posting", post, db)

    def _closed_day_rules(self, db: Database) -> Any:
        """The sales rules for the business day that closed before the clock's now."""
        day = rules.closed_day(self._clock())

        def both() -> None:
            rules.sales_rules(db, day, self._now(), self.config.thresholds)
            check_all_budgets(db, self._now())  # departments' subsidy budgets, this month

        return self._rule_pass(f"sales rules for {day}", both, db)

    @staticmethod
    def _rule_pass(what: str, action: Callable[[], object], db: Database) -> Callable[[], None]:
        """A rule pass that fails for a reason a retry would not mend (bad stored data, a
        bug) is logged and skipped: rules must never stop the worker from storing."""

        def run() -> None:
            try:
                action()
            except db.transient_errors:
                raise
            except Exception:
                log.exception("%s failed; skipped until the next pass", what)

        return run

    def _drain(self, timeout: float) -> list[Received]:
        try:
            first = self._inbox.get(timeout=timeout)
        except queue.Empty:
            return []
        batch = [first]
        while len(batch) < self.config.receive_maximum:
            try:
                batch.append(self._inbox.get_nowait())
            except queue.Empty:
                break
        return batch

    def _process(
        self, batch: list[Received], store: IngestStore, db: Database, stop: threading.Event
    ) -> None:
        presence = [r for r in batch if r.topic == self.config.presence_topic]
        work = [r for r in batch if r.topic != self.config.presence_topic]
        if self.protocol == "3.1.1":
            for received in presence:
                self._alone_or_refuse(received)
        if presence:
            self._watch_presence(presence[-1])
        if not work:
            return
        result = self._with_retry(lambda: self._store(work, store, db), db, stop)
        if result is None:
            return  # stopping: nothing acknowledged, the boxes will re-send
        self._acknowledge(work, result)

    def _store(self, work: list[Received], store: IngestStore, db: Database) -> ApplyResult:
        """Store the drained messages in one transaction. When that fails for a reason a
        retry would not mend (not one of the database's transient errors), the cause is
        one message: store them one by one, and each one that still fails becomes a
        `payload.invalid` alert instead of stopping the worker (whose Last Will would pause
        every box). Transient errors go up to the caller's retry, which repeats the whole
        set: storing is idempotent."""
        items: list[Inbound] = [r.item for r in work if r.item is not None]
        try:
            return store.apply(items, self._now())
        except db.transient_errors:
            raise
        except Exception as exc:
            log.warning(
                "storing %d messages failed (%s: %s); storing them one by one",
                len(items),
                type(exc).__name__,
                exc,
            )
        acks: dict[tuple[str, str], AckPosition] = {}
        stored = duplicates = 0
        for received in work:
            if received.item is None:
                continue
            try:
                one = store.apply([received.item], self._now())
            except db.transient_errors:
                raise
            except Exception as exc:
                log.error(
                    "message on %s could not be stored (alerted as payload.invalid): %s: %s",
                    received.topic,
                    type(exc).__name__,
                    exc,
                )
                log.debug("what storing it raised", exc_info=exc)
                self._refuse(store, db, received.item, received.topic, exc)
                continue
            acks.update({(a.store, a.box): a for a in one.acks})
            stored, duplicates = stored + one.stored, duplicates + one.duplicates
        return ApplyResult(list(acks.values()), stored, duplicates)

    def _refuse(
        self, store: IngestStore, db: Database, item: Inbound, topic: str, error: Exception
    ) -> None:
        try:
            store.refuse(item, topic, error, self._now())
        except db.transient_errors:
            raise
        except Exception:  # even its alert cannot be stored: the log is all that is left
            log.exception("the alert about the message on %s could not be stored either", topic)

    def _with_retry(self, action: Any, db: Database, stop: threading.Event) -> Any:
        """Run a database action until it commits; reconnect between tries."""
        delay = self.config.retry_min
        while True:
            try:
                return action()
            except db.transient_errors as exc:
                self.counters.database_retries += 1
                log.warning(
                    "database failed (%s); nothing acknowledged, retrying in %.1f s",
                    str(exc).strip().splitlines()[0] if str(exc).strip() else exc,
                    delay,
                )
            if stop.wait(delay):
                return None
            delay = min(delay * 2, self.config.retry_max)
            try:
                db.reconnect()
            except StoregateError as exc:
                log.warning("database still unreachable: %s", exc.what)

    def _acknowledge(self, work: list[Received], result: ApplyResult) -> None:
        generation = self._generation
        for r in work:
            if r.qos > 0 and r.generation == generation:
                self._client.ack(r.mid, r.qos)
        for position in result.acks:
            self._publish_ack(position)
            self._touched.add((position.store, position.box))
        self.counters.messages += len(work)
        self.counters.records_stored += result.stored
        self.counters.duplicates += result.duplicates
        self.counters.transactions += 1

    def _publish_ack(self, position: AckPosition) -> None:
        topic = Topics(self.config.root, position.store, position.box).ack
        payload = Ack(seq=position.seq, hash=position.hash, time=self._now()).model_dump_json()
        self._client.publish(topic, payload, qos=1, retain=True)
        self.counters.acks_published += 1

    def _refresh_acks(self, store: IngestStore) -> None:
        """Publish again the positions of the boxes this worker acknowledged lately, read
        afresh from the database. Two workers may publish one box's acks out of order (the
        retained one would then be lower than the truth); every worker that published a
        position re-publishes the committed one a moment later, so the retained ack always
        settles on the latest position."""
        touched, self._touched = self._touched, set()
        for position in store.positions(sorted(touched)):
            self._publish_ack(position)

    def _alone_or_refuse(self, received: Received) -> None:
        """Over 3.1.1 every worker gets every message: there must be one. Found online
        when we connected (retained): we are the second, refuse. Arrived later: say so."""
        state = _presence_state(received.payload)
        if state is None or not state.online or state.node == self.config.node:
            return
        if received.retained:
            raise SecondWorker(
                f"another ingest worker ({state.node}) is online on this broker, and over "
                "MQTT 3.1.1 there are no shared subscriptions: two workers would each get "
                "and store every message",
                where=f"cloud ingest {self.config.node}",
                fix="run a single `cloud ingest` against this broker, or use an MQTT 5 "
                "broker (Mosquitto 1.6 or later) to run several workers on a shared "
                "subscription",
            )
        log.error(
            "another ingest worker (%s) came online on this broker; over MQTT 3.1.1 "
            "each would get every message: a 3.1.1 worker refuses itself, any other "
            "must be stopped",
            state.node,
        )

    def _watch_presence(self, received: Received) -> None:
        """Re-assert "online" when another worker's Will or goodbye said offline."""
        state = _presence_state(received.payload)
        if (state is None or not state.online) and self.connected.is_set():
            self._client.publish(
                self.config.presence_topic, self._presence(True), qos=1, retain=True
            )

    def _goodbye(self) -> None:
        """Say offline (retained) ourselves: a clean DISCONNECT suppresses the Will."""
        if self.connected.is_set():
            info = self._client.publish(
                self.config.presence_topic, self._presence(False), qos=1, retain=True
            )
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(timeout=2.0)
        self._client.disconnect()
        self._client.loop_stop()

    # ------------------------------------------------------------ helpers

    def _presence(self, online: bool) -> bytes:
        return (
            HeadOfficeState(online=online, time=self._now(), node=self.config.node)
            .model_dump_json()
            .encode()
        )

    def _now(self) -> str:
        return iso(self._clock())


def _presence_state(payload: bytes) -> HeadOfficeState | None:
    try:
        return HeadOfficeState.model_validate_json(payload)
    except ValueError:
        return None
