"""Helpers for head-office tests: ingest workers, real boxes (journal + the sync engineer's
`SyncService`), and read-backs from the head-office database.

No test may depend on the calendar day it runs on: in-process ingest workers run on
`test_clock` (a fixed instant that advances with the monotonic clock, so reorder windows
still elapse), and journals built for reports and rules are stamped at their own store
day (`journal_of_days`, `Box(journal_clock=...)`).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_time
from pathlib import Path
from typing import Any

from cloud.clock import Clock
from cloud.db import Database
from cloud.ingest import BrokerOptions, IngestConfig, IngestWorker
from cloud.rules import Thresholds
from gateway.database import open_database
from gateway.harness.fleetsim import StoreDay
from gateway.journal.clock import Clock as JournalClock
from gateway.journal.store import Journal
from gateway.sync.link import LinkOptions
from gateway.sync.payloads import DeviceHealth
from gateway.sync.service import SyncConfig, SyncService

ROOT = "storegate/v1"
# Head office's "now" in tests: 2026-11-24 09:00 UTC plus the time this process has run.
TEST_EPOCH = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
_STARTED = time.monotonic()


def test_clock() -> datetime:
    """A running clock that never reads the calendar: every in-process worker shares it."""
    return TEST_EPOCH + timedelta(seconds=time.monotonic() - _STARTED)


def fixed_clock(instant: datetime) -> Clock:
    """Head office's clock stopped at `instant`."""
    return lambda: instant


def day_clock(day: date, hour: int = 12) -> JournalClock:
    """A box journal's clock (time, NTP-synced) standing at `hour` UTC on `day`."""
    return lambda: (datetime.combine(day, day_time(hour), tzinfo=UTC), True)


def journal_of_days(path: Path, days: Iterable[StoreDay]) -> Journal:
    """A box journal holding these simulated store days, each day's records stamped at
    its own noon UTC, as a box trading that day would (head office pre-filters records by
    their time around the business days it reads)."""
    db = open_database(path)
    for day in days:
        Journal(db, clock=day_clock(day.day)).append_many(list(day.records()))
    return Journal(db)


@dataclass
class RunningIngest:
    worker: IngestWorker
    thread: threading.Thread
    stop_event: threading.Event

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(15)


def start_ingest(
    db_url: str,
    port: int,
    *,
    name: str = "w1",
    wait: bool = True,
    clock: Clock = test_clock,
    **overrides: Any,
) -> RunningIngest:
    config = IngestConfig(
        db_url=db_url,
        broker=BrokerOptions(port=port),
        root=ROOT,
        client_id=f"cloud-ingest-test-{name}",
        rule_interval=0.5,
        retry_min=0.1,
        retry_max=1.0,
        thresholds=Thresholds(gap_seconds=1.0),
    )
    config = replace(config, **overrides)
    worker = IngestWorker(config, clock=clock)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), name=f"ingest-{name}", daemon=True)
    thread.start()
    if wait:
        assert worker.connected.wait(10), "ingest worker did not connect"
    return RunningIngest(worker, thread, stop)


class Box:
    """A store box: its own journal file and the real sync service, on its own thread."""

    def __init__(
        self,
        workdir: Path,
        port: int,
        store: str = "store-1",
        box: str = "box-1",
        journal_clock: JournalClock | None = None,
        **overrides: Any,
    ) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.store, self.box = store, box
        db = open_database(workdir / "box.db")  # the box's own clock unless a day is given
        self.journal = Journal(db) if journal_clock is None else Journal(db, clock=journal_clock)
        link = LinkOptions(
            host="127.0.0.1",
            port=port,
            client_id=f"storegate-{store}-{box}",
            keepalive=5,
            session_expiry=300,
            receive_maximum=64,
            max_inflight=40,
            connect_timeout=2.0,
        )
        link_overrides = {k: overrides.pop(k) for k in list(overrides) if hasattr(link, k)}
        config = SyncConfig(
            store=store,
            box=box,
            root_topic=ROOT,
            link=replace(link, **link_overrides),
            protocol="5",
            journal_path=workdir / "box.db",
            state_path=workdir / "sync.db",
            data_dir=workdir,
            batch_max_records=200,
            batch_max_bytes=256 * 1024,
            window_batches=8,
            resend_after=2.0,
            poll_interval=0.05,
            ack_report_interval=0.2,
            telemetry_interval=3600,
            reconnect_min=0.2,
            reconnect_max=1.0,
            refused_min=0.5,
        )
        self.config = replace(config, **overrides)
        self.service: SyncService | None = None
        self.devices: dict[str, DeviceHealth] = {}

    def start(self, **kwargs: Any) -> Box:
        self.service = SyncService(
            self.config,
            rng=random.Random(7),
            devices=lambda: dict(self.devices),
            **kwargs,
            acknowledge=lambda seq, digest: self.journal.acknowledge(seq, expected_hash=digest),
        )
        self.service.start()
        return self

    def stop(self) -> None:
        if self.service is not None:
            self.service.stop()
            self.service = None

    def append(
        self, count: int, body: Callable[[int], dict[str, Any]] | None = None, kind: str = "sale"
    ) -> None:
        make = body or sample_body
        head = self.journal.state().head_seq
        for first in range(0, count, 1000):
            self.journal.append_many(
                [(kind, make(head + i + 1)) for i in range(first, min(count, first + 1000))]
            )

    def acknowledged(self) -> int:
        return self.journal.acknowledged_seq()

    def head(self) -> int:
        return self.journal.state().head_seq


def sample_body(n: int, size: int = 300) -> dict[str, Any]:
    """A record body of about `size` bytes (amounts as decimal strings)."""
    return {
        "receipt": n,
        "total": f"{n % 1000}.{n % 100:02d}",
        "lines": [
            {"sku": f"SKU{n:08d}", "qty": "1", "price": "2.50", "name": "x" * max(0, size - 120)}
        ],
    }


def stored(db_url: str, store: str, box: str) -> list[tuple[int, str]]:
    db = Database.open(db_url)
    try:
        rows = db.query(
            "SELECT seq, hash FROM journal_record WHERE store = ? AND box = ? ORDER BY seq",
            (store, box),
        )
    finally:
        db.close()
    return [(int(s), h) for s, h in rows]


def chain_position(db_url: str, store: str, box: str) -> int:
    db = Database.open(db_url)
    try:
        row = db.one("SELECT acked_seq FROM box_chain WHERE store = ? AND box = ?", (store, box))
    finally:
        db.close()
    return int(row[0]) if row else 0


def alert_kinds(db_url: str) -> list[str]:
    db = Database.open(db_url)
    try:
        return [k for (k,) in db.query("SELECT kind FROM alert ORDER BY id")]
    finally:
        db.close()


def assert_exactly_once(db_url: str, box: Box) -> None:
    """Head office holds seqs 1..head of this box, each once, with the journal's hashes."""
    head = box.head()
    rows = stored(db_url, box.store, box.box)
    assert [s for s, _ in rows] == list(range(1, head + 1))
    assert [h for _, h in rows] == [r.hash for r in box.journal.read(0, head)]


def eventually(check: Callable[[], bool], timeout: float = 20.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(0.05)
    return check()


def office_presence(port: int) -> bool | None:
    """The retained head-office presence a box would see on connecting."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from gateway.sync.payloads import HeadOfficeState

    seen: list[bool] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.on_message = lambda c, u, m: seen.append(
        HeadOfficeState.model_validate_json(m.payload).online
    )
    client.connect("127.0.0.1", port)
    client.loop_start()
    client.subscribe(f"{ROOT}/_office/state", qos=1)
    eventually(lambda: bool(seen), 2)
    client.loop_stop()
    client.disconnect()
    return seen[-1] if seen else None


def cloud_cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Run the real `cloud` command; (exit status, stdout, stderr); `env` adds variables."""
    import os
    import subprocess
    import sys

    done = subprocess.run(
        [str(Path(sys.executable).parent / "cloud"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=None if env is None else {**os.environ, **env},
    )
    return done.returncode, done.stdout, done.stderr


def store_journal_directly(
    db_url: str, store: str, box: str, journal: Journal, chunk: int = 500
) -> None:
    """Feed a box's journal to head office's storage without a broker, batch by batch,
    through the same checks ingest applies (for report tests that need volume, fast)."""
    from cloud.inbound import parse
    from cloud.ingest_store import IngestStore
    from gateway.sync.payloads import JournalBatch
    from gateway.sync.topics import Topics

    db = Database.open(db_url)
    try:
        ingest_store = IngestStore(db)
        head = journal.state().head_seq
        for after in range(0, head, chunk):
            records = journal.read(after, chunk)
            payload = JournalBatch(
                store=store,
                box=box,
                first_seq=records[0].seq,
                last_seq=records[-1].seq,
                historical=False,
                sent_at="2026-11-24T00:00:00.000Z",
                records=[r.to_wire() for r in records],
            )
            item = parse(ROOT, Topics(ROOT, store, box).journal, payload.model_dump_json().encode())
            ingest_store.apply([item], "2026-11-24T00:00:00.000Z")
    finally:
        db.close()


def retained(port: int, topic: str, timeout: float = 5.0) -> dict[str, Any] | None:
    """The retained message on `topic` (parsed JSON), as a box connecting now would get it."""
    import json

    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    seen: list[dict[str, Any]] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.on_message = lambda c, u, m: seen.append(json.loads(m.payload))
    client.connect("127.0.0.1", port)
    client.loop_start()
    client.subscribe(topic, qos=1)
    eventually(lambda: bool(seen), timeout)
    client.loop_stop()
    client.disconnect()
    return seen[-1] if seen else None
