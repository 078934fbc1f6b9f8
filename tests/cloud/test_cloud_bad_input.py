"""Bad input reaching `cloud ingest` through a real broker: every case is refused or kept
apart as the issue says, raises its alert, and never stops the worker."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from cloud_testkit import (
    ROOT,
    RunningIngest,
    alert_kinds,
    chain_position,
    eventually,
    fixed_clock,
    office_presence,
    sample_body,
    stored,
)
from paho.mqtt.enums import CallbackAPIVersion

from cloud.db import Database
from gateway.database import open_database
from gateway.harness.brokers import Mosquitto
from gateway.journal.chain import record_hash
from gateway.journal.records import JournalRecord
from gateway.journal.store import Journal
from gateway.sync.payloads import Ack, JournalBatch
from gateway.sync.topics import Topics

STORE, BOX = "store-1", "box-1"
CLOUD = Path(sys.executable).parent / "cloud"


def journal_records(path: Path, count: int, salt: str = "") -> list[JournalRecord]:
    journal = Journal(open_database(path))
    journal.append_many([("sale", {**sample_body(n), "salt": salt}) for n in range(1, count + 1)])
    return journal.read(0, count)


def batch(chosen: list[JournalRecord], store: str = STORE, box: str = BOX, **changes: Any) -> bytes:
    payload = JournalBatch(
        store=store,
        box=box,
        first_seq=chosen[0].seq,
        last_seq=chosen[-1].seq,
        historical=False,
        sent_at="2026-11-24T00:00:00.000Z",
        records=[r.to_wire() for r in chosen],
    ).model_dump(mode="json")
    payload.update(changes)
    return json.dumps(payload).encode()


class Publisher:
    """A plain MQTT 5 client standing in for a (possibly misbehaving) box."""

    def __init__(self, port: int) -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.acks: dict[str, bytes] = {}
        self.client.on_message = lambda c, u, m: self.acks.__setitem__(m.topic, m.payload)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.client.subscribe(f"{ROOT}/+/+/ack", qos=1)

    def send(self, payload: bytes, store: str = STORE, box: str = BOX) -> None:
        info = self.client.publish(Topics(ROOT, store, box).journal, payload, qos=1)
        info.wait_for_publish(5)

    def acked(self, store: str = STORE, box: str = BOX) -> int:
        raw = self.acks.get(Topics(ROOT, store, box).ack)
        return Ack.model_validate_json(raw).seq if raw else 0

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _setup(broker: Mosquitto, ingest: Callable[..., RunningIngest]) -> Publisher:
    ingest()
    return Publisher(broker.port)


def test_schema_violations_are_alerted_acknowledged_and_skipped(
    tmp_path: Path, db_url: str, broker: Mosquitto, ingest: Callable[..., RunningIngest]
) -> None:
    box = _setup(broker, ingest)
    records = journal_records(tmp_path / "box.db", 3)
    try:
        box.send(b"{not json")
        box.send(batch(records, v=2))
        box.send(batch(records, records=[{**records[0].to_wire(), "seq": "one"}]))
        box.send(batch(records, first_seq=2))
        box.send(batch(records))  # the worker carries on
        assert eventually(lambda: box.acked() == 3)
        assert eventually(lambda: alert_kinds(db_url).count("payload.invalid") == 4)
        assert [s for s, _ in stored(db_url, STORE, BOX)] == [1, 2, 3]
    finally:
        box.close()


def test_a_box_publishing_under_another_stores_topic_is_refused(
    tmp_path: Path, db_url: str, broker: Mosquitto, ingest: Callable[..., RunningIngest]
) -> None:
    box = _setup(broker, ingest)
    try:
        records = journal_records(tmp_path / "box.db", 2)
        box.send(batch(records, store="store-2"), store=STORE)
        assert eventually(lambda: "topic.mismatch" in alert_kinds(db_url))
        assert stored(db_url, "store-2", BOX) == [] and stored(db_url, STORE, BOX) == []
    finally:
        box.close()


def test_forged_record_is_refused_and_the_gap_it_leaves_is_alerted(
    tmp_path: Path, db_url: str, broker: Mosquitto, ingest: Callable[..., RunningIngest]
) -> None:
    box = _setup(broker, ingest)
    try:
        records = journal_records(tmp_path / "box.db", 5)
        wire = [r.to_wire() for r in records]
        wire[2]["body"]["total"] = "0.01"  # hash left as it was: forged
        box.send(batch(records, records=wire))
        assert eventually(lambda: {"record.forged", "chain.gap"} <= set(alert_kinds(db_url)))
        assert [s for s, _ in stored(db_url, STORE, BOX)] == [1, 2, 4, 5]
        assert chain_position(db_url, STORE, BOX) == 2
        assert eventually(lambda: box.acked() == 2)
        box.send(batch(records[2:3]))  # the genuine record closes the gap
        assert eventually(lambda: box.acked() == 5)
    finally:
        box.close()


def test_same_seq_with_another_hash_keeps_the_stored_record_and_alerts(
    tmp_path: Path, db_url: str, broker: Mosquitto, ingest: Callable[..., RunningIngest]
) -> None:
    box = _setup(broker, ingest)
    try:
        genuine = journal_records(tmp_path / "a.db", 3)
        other = journal_records(tmp_path / "b.db", 3, salt="other")
        box.send(batch(genuine))
        assert eventually(lambda: box.acked() == 3)
        box.send(batch(other[1:2]))
        assert eventually(lambda: "record.conflict" in alert_kinds(db_url))
        assert stored(db_url, STORE, BOX) == [(r.seq, r.hash) for r in genuine]
    finally:
        box.close()


def test_record_that_does_not_chain_stops_the_position_with_a_break_alert(
    tmp_path: Path, db_url: str, broker: Mosquitto, ingest: Callable[..., RunningIngest]
) -> None:
    box = _setup(broker, ingest)
    try:
        genuine = journal_records(tmp_path / "a.db", 3)
        other = journal_records(tmp_path / "b.db", 5, salt="other")
        box.send(batch(genuine))
        box.send(batch(other[3:5]))  # self-consistent, but seq 4 links to another seq 3
        assert eventually(lambda: "chain.break" in alert_kinds(db_url))
        assert chain_position(db_url, STORE, BOX) == 3
        time.sleep(0.5)
        assert box.acked() == 3
    finally:
        box.close()


def test_duplicate_and_out_of_order_batches_store_once_and_ack_contiguously(
    tmp_path: Path, db_url: str, broker: Mosquitto, ingest: Callable[..., RunningIngest]
) -> None:
    box = _setup(broker, ingest)
    try:
        records = journal_records(tmp_path / "box.db", 300)
        third, first, second = records[200:], records[:100], records[100:200]
        box.send(batch(third))
        assert eventually(lambda: len(stored(db_url, STORE, BOX)) == 100)
        assert chain_position(db_url, STORE, BOX) == 0
        box.send(batch(first))
        assert eventually(lambda: box.acked() == 100)
        box.send(batch(first))
        box.send(batch(second))
        box.send(batch(third))
        assert eventually(lambda: box.acked() == 300)
        assert stored(db_url, STORE, BOX) == [(r.seq, r.hash) for r in records]
        assert not {"record.conflict", "chain.break"} & set(alert_kinds(db_url))
    finally:
        box.close()


def test_events_and_telemetry_raise_their_alerts_and_offline_boxes_are_noticed(
    tmp_path: Path, db_url: str, broker: Mosquitto, ingest: Callable[..., RunningIngest]
) -> None:
    from datetime import UTC, datetime, timedelta

    from cloud import rules
    from cloud.clock import iso
    from cloud.db import Database
    from gateway.sync.payloads import BoxState, Event, Telemetry

    now = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    ingest(clock=fixed_clock(now))  # head office's receive times are `now`
    box = Publisher(broker.port)
    topics = Topics(ROOT, STORE, BOX)

    def telemetry(at: datetime, backlog: int) -> bytes:
        return (
            Telemetry.model_validate(
                {
                    "time": iso(at),
                    "boot_id": "b1",
                    "version": "0.1.0",
                    "uptime_s": 10.0,
                    "clock_synced": True,
                    "reconnects": 1,
                    "host": {
                        "load": None,
                        "temperature_c": None,
                        "memory_total": None,
                        "memory_available": None,
                        "disk_total": None,
                        "disk_free": None,
                    },
                    "journal": {
                        "backlog": backlog,
                        "oldest_unacknowledged_age_s": 5 * 3600.0,
                        "acknowledged_seq": 10,
                        "last_ack_at": None,
                    },
                    "queue": {
                        "depth": 0,
                        "capacity": 100,
                        "dropped_telemetry": 0,
                        "dropped_events": 0,
                    },
                }
            )
            .model_dump_json()
            .encode()
        )

    try:
        for payload, topic in (
            (
                BoxState(online=True, session=3, boot_id="b1", time=iso(now))
                .model_dump_json()
                .encode(),
                topics.state,
            ),
            (telemetry(now, 4000), topics.telemetry),
            (telemetry(now + timedelta(seconds=60), 5000), topics.telemetry),
            (
                Event(
                    id="e1",
                    time=iso(now),
                    kind="document.refused",
                    severity="warning",
                    body={"reason": "bad_signature"},
                )
                .model_dump_json()
                .encode(),
                topics.events,
            ),
            (
                BoxState(online=True, session=2, boot_id="b0", time=iso(now))
                .model_dump_json()
                .encode(),
                topics.state,
            ),  # stale session: ignored
            (
                BoxState(online=False, session=3, boot_id="b1", time=iso(now))
                .model_dump_json()
                .encode(),
                topics.state,
            ),
        ):
            box.client.publish(topic, payload, qos=1).wait_for_publish(5)
        assert eventually(
            lambda: (
                {"backlog.old", "backlog.growing", "event.document.refused"}
                <= set(alert_kinds(db_url))
            )
        )
        db = Database.open(db_url)
        try:
            assert eventually(
                lambda: (
                    db.one("SELECT online, session FROM box_state WHERE box = ?", (BOX,))
                    in ((False, 3), (0, 3))
                )
            )
            rules.periodic(db, iso(now + timedelta(minutes=10)))
            assert "box.offline" not in alert_kinds(db_url)  # offline since `now`: 10 min
            rules.periodic(db, iso(now + timedelta(minutes=20)))
        finally:
            db.close()
        assert "box.offline" in alert_kinds(db_url)
    finally:
        box.close()


def forged_record(
    seq: int, *, record_id: str = "r-forged", body: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A record whose hash IS the hash of its fields (so it passes the forgery check) but
    whose values no database column can hold: what a crafted message would carry."""
    fields: dict[str, Any] = {
        "seq": seq,
        "id": record_id,
        "time": "2026-11-24T10:00:00.000Z",
        "clock_synced": True,
        "kind": "sale",
        "body": body or {"n": 1},
        "prev_hash": "0" * 64,
    }
    fields["hash"] = record_hash(**fields)
    return fields


def crafted_batch(*records: dict[str, Any]) -> bytes:
    return json.dumps(
        {
            "v": 1,
            "store": STORE,
            "box": BOX,
            "first_seq": records[0]["seq"],
            "last_seq": records[-1]["seq"],
            "historical": False,
            "sent_at": "2026-11-24T10:00:00.000Z",
            "records": list(records),
        }
    ).encode()


def crafted_telemetry(time: str, age: float) -> bytes:
    """Telemetry with the time and backlog age a crafted message chooses."""
    return json.dumps(
        {
            "v": 1,
            "time": time,
            "boot_id": "b1",
            "version": "0.1.0",
            "uptime_s": 1.0,
            "clock_synced": True,
            "reconnects": 0,
            "host": {
                "load": None,
                "temperature_c": None,
                "memory_total": None,
                "memory_available": None,
                "disk_total": None,
                "disk_free": None,
            },
            "journal": {
                "backlog": 9,
                "oldest_unacknowledged_age_s": age,
                "acknowledged_seq": 0,
                "last_ack_at": None,
            },
            "queue": {"depth": 0, "capacity": 9, "dropped_telemetry": 0, "dropped_events": 0},
        }
    ).encode()


def test_crafted_messages_become_alerts_and_cloud_ingest_keeps_storing(
    tmp_path: Path, db_url: str, broker: Mosquitto
) -> None:
    """Integers beyond 64 bits (a record's seq, a state's session) and NUL characters in
    text, published on a box's topics at a running `cloud ingest`: each one becomes a
    `payload.invalid` alert naming the box, the topic and what was wrong; the process keeps
    running, head office stays online for the boxes, and the next good batch is stored."""
    topics = Topics(ROOT, STORE, BOX)
    log = tmp_path / "ingest.log"
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [
                str(CLOUD),
                "ingest",
                "--db",
                db_url,
                "--port",
                str(broker.port),
                "--client-id",
                "crafted",
            ],
            stdout=out,
            stderr=out,
        )
    box = Publisher(broker.port)
    try:
        assert eventually(lambda: office_presence(broker.port) is True)
        crafted = [
            (topics.journal, crafted_batch(forged_record(2**63))),
            (topics.journal, crafted_batch(forged_record(2**70))),
            (topics.journal, crafted_batch(forged_record(1, record_id="r\x00nul"))),
            (
                topics.state,
                json.dumps({"v": 1, "online": True, "session": 2**64, "boot_id": "b1"}).encode(),
            ),
            (
                topics.state,
                json.dumps({"v": 1, "online": True, "session": 1, "boot_id": "b\x001"}).encode(),
            ),
            (
                topics.events,
                json.dumps(
                    {"v": 1, "id": "e\x001", "time": "2026-11-24T10:00Z", "kind": "note"}
                ).encode(),
            ),
            (topics.telemetry, crafted_telemetry("2026-11-24T10:00:00.000Z", 1e300)),
            # passes every check, then fails in the store step (the backlog rule reads the
            # time): the worker must survive what storing raises, too
            (topics.telemetry, crafted_telemetry("not a time", 99999.0)),
        ]
        for topic, payload in crafted:
            box.client.publish(topic, payload, qos=1).wait_for_publish(5)
        box.send(batch(journal_records(tmp_path / "box.db", 3)))  # the worker carries on
        assert eventually(lambda: box.acked() == 3)
        assert [s for s, _ in stored(db_url, STORE, BOX)] == [1, 2, 3]
        assert eventually(lambda: alert_kinds(db_url).count("payload.invalid") == len(crafted))
        assert worker.poll() is None, log.read_text()
        assert office_presence(broker.port) is True  # no Last Will paused the boxes
        db = Database.open(db_url)
        try:
            alerts = db.query(
                "SELECT store, box, message FROM alert WHERE kind = 'payload.invalid' ORDER BY id"
            )
        finally:
            db.close()
        assert all(
            (store, box_name) == (STORE, BOX) and f"{STORE}/{BOX}" in message
            for store, box_name, message in alerts
        ), alerts
        channels = (topics.journal, topics.state, topics.events, topics.telemetry)
        named = sorted(next(t for t in channels if f" {t}" in message) for _, _, message in alerts)
        assert named == sorted(topic for topic, _ in crafted), alerts
        messages = " | ".join(m for _, _, m in alerts)
        assert "9223372036854775807" in messages  # the bound it broke
        assert "NUL" in messages
        assert "on storegate/v1/store-1/box-1/telemetry could not be stored" in messages
    finally:
        box.close()
        worker.terminate()
        assert worker.wait(15) == 0, log.read_text()
    assert "Traceback" not in log.read_text()
