"""Helpers for head-office tests: ingest workers, real boxes (journal + the sync engineer's
`SyncService`), and read-backs from the head-office database.

No test may depend on the calendar day it runs on: in-process ingest workers run on
`test_clock` (a fixed instant that advances with the monotonic clock, so reorder windows
still elapse), and journals built for reports and rules are stamped at their own store
day (`journal_of_days`, `Box(journal_clock=...)`).
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

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

if TYPE_CHECKING:
    from playwright.sync_api import Page

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


def journal_of_days(
    path: Path, days: Iterable[StoreDay], names: Mapping[str, str] | None = None
) -> Journal:
    """A box journal holding these simulated store days, each day's records stamped at
    its own noon UTC, as a box trading that day would (head office pre-filters records by
    their time around the business days it reads). `names` renames items by SKU (e.g. to
    Chinese names) in every line that sells, refunds or voids them."""
    db = open_database(path)
    for day in days:
        records = list(day.records())
        if names:
            records = [(kind, _renamed(body, names)) for kind, body in records]
        Journal(db, clock=day_clock(day.day)).append_many(records)
    return Journal(db)


def _renamed(body: dict[str, Any], names: Mapping[str, str]) -> dict[str, Any]:
    lines = [
        {**line, "name": names.get(line.get("sku", ""), line.get("name"))}
        for line in body.get("lines", [])
    ]
    return {**body, "lines": lines} if "lines" in body else body


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


def while_progressing(
    done: Callable[[], bool], progress: Callable[[], int], stall: float = 90.0
) -> bool:
    """Poll `done` for as long as `progress` keeps growing: False once it has not moved for
    `stall` seconds. A fleet test on a loaded two-core CI machine may take minutes; what it
    must never do is stand still longer than a resend and a reconnect take, so the bound is
    on standing still, not on the machine's speed."""
    seen, moved = progress(), time.monotonic()
    while not done():
        now_seen = progress()
        if now_seen != seen:
            seen, moved = now_seen, time.monotonic()
        elif time.monotonic() - moved > stall:
            return done()
        time.sleep(0.2)
    return True


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


def fresh_pg_url(server_database: str) -> str:
    """A new schema in the session database: a clean head office per test, cheaply. Here,
    not in conftest.py: a test module that imports `conftest` gets whichever conftest
    module of the run was imported first (tests/sync has one too)."""
    import uuid

    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_database, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return f"{server_database}?options=-csearch_path%3D{schema}"


def cloud_cli(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None
) -> tuple[int, str, str]:
    """Run the real `cloud` command; (exit status, stdout, stderr); `env` adds variables,
    `stdin` is typed into it (a password for `--password-stdin`)."""
    import os
    import subprocess
    import sys

    done = subprocess.run(
        [str(Path(sys.executable).parent / "cloud"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env=None if env is None else {**os.environ, **env},
    )
    return done.returncode, done.stdout, done.stderr


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """`app` (a `cloud web` application) on a real uvicorn server on a free port, in a
    thread; yields its base URL and stops it afterwards."""
    import uvicorn

    from gateway.harness.brokers import free_port

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "cloud web did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def report_json(db_url: str, *args: str) -> dict[str, Any]:
    """`cloud report ARGS --json`: the table the CLI prints, as the figures to compare with."""
    status, out, err = cloud_cli("report", *args, "--db", db_url, "--json")
    assert status == 0, err
    found: dict[str, Any] = json.loads(out)
    return found


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


def store_days(
    db_url: str,
    folder: Path,
    store: str,
    box: str,
    days: Iterable[StoreDay],
    names: Mapping[str, str] | None = None,
) -> None:
    """Simulated days of one box, journalled (`journal_of_days`, items renamed by `names`)
    and stored at head office (`store_journal_directly`): the set-up of report tests."""
    journal = journal_of_days(folder / f"{store}-{box}.db", days, names)
    store_journal_directly(db_url, store, box, journal)


# Head office's web pages (`cloud web`): the day its tests stand on, their accounts, and
# where their screenshots go (docs/cloud.md shows them).
ARTIFACTS = Path(__file__).parents[1] / "artifacts" / "cloud"
OFFICE_NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
TODAY, WEEK_BEFORE = date(2026, 11, 20), date(2026, 11, 13)
PASSWORDS = {
    "ada": "admin pass phrase 1",
    "sam": "store one manager",
    "otto": "auditor pass 42",
    "rita": "regional north 7",
}


def add_web_user(db_url: str, name: str, role: str, scope: str | None = None) -> None:
    """An account made with the real `cloud web user add`, its password from PASSWORDS."""
    args = ["web", "user", "add", name, "--role", role, "--password-stdin", "--by", "setup"]
    args += ["--scope", scope] if scope else []
    status, _, err = cloud_cli(*args, "--db", db_url, stdin=PASSWORDS[name] + "\n")
    assert status == 0, err


def alert_id(db_url: str, store: str) -> int:
    """The id of the store's (one) alert."""
    db = Database.open(db_url)
    try:
        row = db.one("SELECT id FROM alert WHERE store = ?", (store,))
    finally:
        db.close()
    assert row is not None
    return int(row[0])


@contextmanager
def serving_office(db_url: str, clock: Clock | None = None, **options: Any) -> Iterator[str]:
    """`cloud web` on a real HTTP server (`serving`) for `db_url`, its clock `clock`
    (default: stopped at OFFICE_NOW) and `create_app`'s other `options` (a publisher, an
    enroller, a TOTP key, the notify settings); yields its address and stops it afterwards."""
    from cloud.web.app import create_app

    app = create_app(db_url, clock=clock or fixed_clock(OFFICE_NOW), **options)
    with serving(app) as base:
        yield base


def login_csrf(client: httpx.Client) -> str:
    """The CSRF token of a fresh sign-in form."""
    form = client.get("/login").text
    return form.split('name="csrf" value="')[1].split('"')[0]


def signed_in(base: str, name: str) -> tuple[httpx.Client, str]:
    """A client signed in as `name` (password from PASSWORDS) and its CSRF token."""
    client = httpx.Client(base_url=base, follow_redirects=False, timeout=30)
    token = login_csrf(client)
    answer = client.post("/login", data={"csrf": token, "name": name, "password": PASSWORDS[name]})
    assert answer.status_code == 303, answer.text
    page = client.get("/").text
    return client, page.split('name="csrf" value="')[1].split('"')[0]


def sign_in_page(page: Page, base: str, name: str, path: str = "/login") -> None:
    """Sign in through the form in Chromium, as a person does."""
    page.goto(base + path)
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(PASSWORDS[name])
    page.get_by_role("button", name="Sign in").click()


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
