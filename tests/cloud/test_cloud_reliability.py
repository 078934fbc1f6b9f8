"""The sync issue's reliability tests, now box -> Mosquitto -> `cloud ingest` -> database.

Each runs for SQLite and PostgreSQL and ends by checking that head office holds exactly
journal seqs 1..head of the box, each once, with the journal's own hashes, and that the
box saw all of it acknowledged.
"""

from __future__ import annotations

import os
import random
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from cloud_testkit import (
    ROOT,
    Box,
    RunningIngest,
    assert_exactly_once,
    chain_position,
    cloud_cli,
    eventually,
    start_ingest,
    stored,
    while_progressing,
)

from cloud.db import DatabaseUrl
from cloud.ingest import BrokerOptions
from gateway.database import open_database
from gateway.harness.brokers import LinkProxy, Mosquitto
from gateway.journal.store import Journal

SYNC_BOX_PROCESS = Path(__file__).parents[1] / "sync" / "box_process.py"
CLOUD = Path(sys.executable).parent / "cloud"


@pytest.mark.slow
def test_50000_records_buffered_while_broker_is_down_arrive_once(
    tmp_path: Path, db_url: str
) -> None:
    broker = Mosquitto(tmp_path / "broker")
    box = Box(tmp_path / "box", broker.port, batch_max_records=500, window_batches=16)
    box.append(50_000)
    box.start()
    try:
        assert eventually(
            lambda: box.service is not None and box.service.status()["last_error"] is not None, 5
        )
        with broker:
            worker = start_ingest(db_url, broker.port)
            try:
                assert while_progressing(lambda: box.acknowledged() == 50_000, box.acknowledged)
                assert_exactly_once(db_url, box)
            finally:
                box.stop()  # while the broker still runs: its goodbye is published
                worker.stop()
    finally:
        box.stop()


@pytest.mark.slow
def test_broker_killed_and_restarted_mid_upload(
    tmp_path: Path, db_url: str, broker: Mosquitto, ingest: Callable[..., RunningIngest]
) -> None:
    ingest()
    box = Box(tmp_path / "box", broker.port, batch_max_records=100, window_batches=4)
    box.append(20_000)
    box.start()
    try:
        assert while_progressing(
            lambda: chain_position(db_url, box.store, box.box) >= 3000,
            lambda: chain_position(db_url, box.store, box.box),
        )
        broker.kill()
        time.sleep(0.5)
        broker.start()  # empty: no sessions, no retained ack, no presence
        assert while_progressing(lambda: box.acknowledged() == 20_000, box.acknowledged)
        assert_exactly_once(db_url, box)
    finally:
        box.stop()


@pytest.mark.slow
def test_box_process_sigkilled_at_random_moments_loses_nothing(
    tmp_path: Path, db_url: str, broker: Mosquitto, ingest: Callable[..., RunningIngest]
) -> None:
    """The sync engineer's box process (journal writer + SyncService), killed 20 times."""
    ingest()
    rng = random.Random(20261124)
    workdir = tmp_path / "box"
    workdir.mkdir()
    for _ in range(20):
        proc = subprocess.Popen(
            [sys.executable, str(SYNC_BOX_PROCESS), str(workdir), str(broker.port), "300"],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        assert proc.stdout.readline() == "started\n"  # imports take seconds on a busy CI
        time.sleep(rng.uniform(0.3, 1.2))
        proc.kill()
        proc.wait(10)
        seqs = [s for s, _ in stored(db_url, "store-1", "box-1")]
        assert seqs == sorted(set(seqs))  # never twice
    assert seqs, "nothing reached head office while the box was being killed"
    final = subprocess.run(
        [
            sys.executable,
            str(SYNC_BOX_PROCESS),
            str(workdir),
            str(broker.port),
            "0",
            "--exit-when-acked",
        ],
        timeout=120,
    )
    assert final.returncode == 0
    journal = Journal(open_database(workdir / "box.db", readonly=True))
    head = journal.state().head_seq
    assert journal.acknowledged_seq() == head
    rows = stored(db_url, "store-1", "box-1")
    assert [s for s, _ in rows] == list(range(1, head + 1))
    assert [h for _, h in rows] == [r.hash for r in journal.read(0, head)]


@pytest.mark.slow
def test_flaky_box_link_during_a_long_upload(
    tmp_path: Path, db_url: str, broker: Mosquitto, ingest: Callable[..., RunningIngest]
) -> None:
    ingest()
    proxy = LinkProxy(broker.port, delay=0.005).start()
    box = Box(tmp_path / "box", proxy.port, batch_max_records=100, window_batches=4)
    box.append(20_000)
    box.start()
    try:
        for _ in range(6):
            time.sleep(0.4)
            proxy.down()
            time.sleep(0.3)
            proxy.up()
        assert while_progressing(lambda: box.acknowledged() == 20_000, box.acknowledged)
        assert_exactly_once(db_url, box)
        assert proxy.connections >= 4
    finally:
        box.stop()
        proxy.stop()


def _ingest_process(db_url: str, port: int, name: str, tmp_path: Path) -> subprocess.Popen[bytes]:
    log = (tmp_path / f"{name}.log").open("wb")
    return subprocess.Popen(
        [
            str(CLOUD),
            "ingest",
            "--db",
            db_url,
            "--port",
            str(port),
            "--group",
            "ingest",
            "--client-id",
            name,
            "--receive-maximum",
            "8",
        ],
        stdout=log,
        stderr=log,
    )


@pytest.mark.slow
def test_two_ingest_processes_split_one_stream_and_store_each_record_once(
    tmp_path: Path, db_url: str, broker: Mosquitto
) -> None:
    workers = [_ingest_process(db_url, broker.port, f"worker-{i}", tmp_path) for i in (1, 2)]
    boxes = [
        Box(
            tmp_path / f"box{i}",
            broker.port,
            store="store-1",
            box=f"box-{i}",
            batch_max_records=50,
            window_batches=8,
        )
        for i in (1, 2, 3)
    ]
    try:
        for box in boxes:
            box.append(8000)
            box.start()
        assert while_progressing(
            lambda: all(b.acknowledged() == 8000 for b in boxes),
            lambda: sum(b.acknowledged() for b in boxes),
        )
        for box in boxes:
            assert_exactly_once(db_url, box)
        # whichever worker published last, the retained ack settles on the true position
        assert eventually(lambda: retained_acks(broker.port, boxes) == [8000] * 3, 10)
        logs = [(tmp_path / f"worker-{i}.log").read_text() for i in (1, 2)]
        assert all("connected" in text for text in logs)
    finally:
        for box in boxes:
            box.stop()
        for proc in workers:
            proc.terminate()
        for proc in workers:
            assert proc.wait(15) == 0
    stats = _stored_by_worker(tmp_path)
    assert all(count > 0 for count in stats), f"one worker did all the work: {stats}"


def retained_acks(port: int, boxes: list[Box]) -> list[int]:
    """The seq of the retained ack on each box's topic, as a reconnecting box would see."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from gateway.sync.payloads import Ack
    from gateway.sync.topics import Topics

    seen: dict[str, int] = {}
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.on_message = lambda c, u, m: seen.__setitem__(
        m.topic, Ack.model_validate_json(m.payload).seq
    )
    client.connect("127.0.0.1", port)
    client.loop_start()
    topics = [Topics(ROOT, b.store, b.box).ack for b in boxes]
    client.subscribe([(t, 1) for t in topics])
    eventually(lambda: len(seen) == len(topics), 3)
    client.loop_stop()
    client.disconnect()
    return [seen.get(t, 0) for t in topics]


def _stored_by_worker(tmp_path: Path) -> list[int]:
    counts = []
    for i in (1, 2):
        text = (tmp_path / f"worker-{i}.log").read_text()
        line = [ln for ln in text.splitlines() if "records stored" in ln][-1]
        counts.append(int(line.split(" messages, ")[1].split(" records stored")[0]))
    return counts


@pytest.mark.slow
def test_two_workers_with_one_killed_midway_still_deliver_everything(
    tmp_path: Path, db_url: str, broker: Mosquitto
) -> None:
    first = _ingest_process(db_url, broker.port, "worker-1", tmp_path)
    second = start_ingest(db_url, broker.port, name="survivor")
    box = Box(tmp_path / "box", broker.port, batch_max_records=100, window_batches=8)
    box.append(15_000)
    box.start()
    try:
        assert while_progressing(
            lambda: chain_position(db_url, box.store, box.box) >= 2000,
            lambda: chain_position(db_url, box.store, box.box),
        )
        first.kill()  # SIGKILL: its un-acknowledged messages are the box's to re-send
        first.wait(10)
        assert while_progressing(lambda: box.acknowledged() == 15_000, box.acknowledged)
        assert_exactly_once(db_url, box)
    finally:
        box.stop()
        second.stop()


def _outage(db_url: str, seconds: float) -> Iterator[None]:
    """Take the database away: SQLite locked by another writer, PostgreSQL refusing and
    dropping every connection to the database, for `seconds`."""
    url = DatabaseUrl.parse(db_url)
    if url.dialect == "sqlite":
        conn = sqlite3.connect(url.target, isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        try:
            yield
            time.sleep(seconds)
        finally:
            conn.execute("ROLLBACK")
            conn.close()
        return
    name = psycopg.conninfo.conninfo_to_dict(url.target)["dbname"]
    admin_url = os.environ.get("STOREGATE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        try:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
            )
            yield
            time.sleep(seconds)
        finally:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')


@pytest.mark.slow
def test_database_going_away_mid_upload_acknowledges_nothing_then_stores_once(
    tmp_path: Path, db_url: str, broker: Mosquitto, ingest: Callable[..., RunningIngest]
) -> None:
    worker = ingest()
    box = Box(tmp_path / "box", broker.port, batch_max_records=100, window_batches=4)
    box.append(12_000)
    box.start()
    try:
        assert while_progressing(lambda: box.acknowledged() >= 2000, box.acknowledged)
        outage = _outage(db_url, 3.0)
        next(outage)
        time.sleep(1.0)  # in-flight commits settle; from here nothing can be stored
        frozen = box.acknowledged()
        time.sleep(1.5)
        assert box.acknowledged() == frozen, "acknowledged while the database was away"
        for _ in outage:
            pass
        assert while_progressing(lambda: box.acknowledged() == 12_000, box.acknowledged)
        assert_exactly_once(db_url, box)
        if DatabaseUrl.parse(db_url).dialect == "postgresql":
            assert worker.worker.counters.database_retries > 0
    finally:
        box.stop()


def test_receive_maximum_holds_back_the_broker_while_the_database_is_slow(
    tmp_path: Path, db_url: str, broker: Mosquitto, ingest: Callable[..., RunningIngest]
) -> None:
    worker = ingest(receive_maximum=2)
    box = Box(tmp_path / "box", broker.port, batch_max_records=50, window_batches=20)
    box.append(2000)
    outage = _outage(db_url, 0.0)
    next(outage)
    try:
        box.start()
        time.sleep(2.0)
        # the worker took what the broker may hand it un-acknowledged, and no more
        assert 1 <= worker.worker.counters.received <= 2
        assert box.acknowledged() == 0
    finally:
        for _ in outage:
            pass
    try:
        assert while_progressing(lambda: box.acknowledged() == 2000, box.acknowledged)
        assert_exactly_once(db_url, box)
    finally:
        box.stop()


def test_ingest_refuses_a_database_that_was_not_upgraded(tmp_path: Path) -> None:
    status, _, err = cloud_cli("ingest", "--db", f"sqlite:///{tmp_path / 'new.db'}", "--port", "1")
    assert status == 3 and "cloud db upgrade" in err and "Traceback" not in err
    status, out, _ = cloud_cli("db", "status", "--db", f"sqlite:///{tmp_path / 'new.db'}")
    assert status == 1 and "schema version 0" in out


@pytest.mark.slow
def test_worker_link_drop_with_unacknowledged_messages_and_a_resumed_session(
    tmp_path: Path, db_url: str, broker: Mosquitto
) -> None:
    """Messages received on a connection that dropped are never acknowledged on the next;
    with a persistent session the broker re-sends them, and they are stored once."""
    proxy = LinkProxy(broker.port).start()
    worker = start_ingest(
        db_url,
        proxy.port,
        session_expiry=60,
        receive_maximum=4,
        broker=BrokerOptions(port=proxy.port, keepalive=5),
    )
    box = Box(
        tmp_path / "box", broker.port, batch_max_records=100, window_batches=8, resend_after=30.0
    )
    box.append(3000)
    try:
        outage = _outage(db_url, 0.0)
        next(outage)
        box.start()
        assert eventually(lambda: worker.worker.counters.received >= 2, 10)
        proxy.down()
        time.sleep(0.5)
        proxy.up()
        assert eventually(lambda: worker.worker.connected.is_set(), 20)
        for _ in outage:
            pass
        assert eventually(lambda: box.acknowledged() == 3000, 60)  # no 30 s resend needed
        assert_exactly_once(db_url, box)
    finally:
        box.stop()
        worker.stop()
        proxy.stop()
