"""Fixtures for head-office tests: a fresh PostgreSQL database per session (a schema per
test), SQLite files, a real Mosquitto per test, ingest workers, and `cloud web` serving two
stores' days (`office`) with Chromium to play it (`browser`).

PostgreSQL must answer on 127.0.0.1:5432 (trust auth, user postgres; `bash .ci/dev test`
starts it): when it does not, these tests fail loudly, they never skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
import pytest
from cloud_testkit import (
    TODAY,
    WEEK_BEFORE,
    RunningIngest,
    add_web_user,
    cloud_cli,
    fresh_pg_url,
    serving_office,
    start_ingest,
    store_days,
)
from notify_testkit import Receivers, serving_receivers

from cloud.alerts import raise_alert
from cloud.db import Database
from cloud.schema import upgrade
from gateway.harness.brokers import Mosquitto
from gateway.harness.fleetsim import StoreDay

if TYPE_CHECKING:
    from playwright.sync_api import Browser

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
PG_ADMIN = os.environ.get("STOREGATE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="session")
def pg_server_database() -> Iterator[str]:
    """A database of our own for the whole session, dropped afterwards."""
    name = f"storegate_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {PG_ADMIN}: {exc}\n"
            "start it (bash .ci/dev test does) — head-office tests need it",
            pytrace=False,
        )
    admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An upgraded head-office database of each kind."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'office.db'}"
    else:
        url = fresh_pg_url(request.getfixturevalue("pg_server_database"))
    db = Database.open(url)
    upgrade(db)
    db.close()
    return url


@pytest.fixture
def office_db(db_url: str) -> Iterator[Database]:
    db = Database.open(db_url)
    yield db
    db.close()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    with Mosquitto(tmp_path / "broker") as running:
        yield running


@pytest.fixture
def ingest(db_url: str, broker: Mosquitto) -> Iterator[Callable[..., RunningIngest]]:
    """Start ingest workers in this process (threads) against the test broker."""
    started: list[RunningIngest] = []

    def start(**overrides: Any) -> RunningIngest:
        running = start_ingest(db_url, broker.port, name=f"w{len(started) + 1}", **overrides)
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


@pytest.fixture
def office(tmp_path: Path, db_url: str) -> Iterator[str]:
    """Two stores' today and the same weekday a week before, their boxes, an open alert
    each, three accounts (admin ada, store-1's manager sam, auditor otto); `cloud web`
    serving it, its clock fixed at OFFICE_NOW. Yields its address."""
    for store, sales in (("store-1", 40), ("store-2", 25)):
        days = [StoreDay(store, "box-1", TODAY, sales), StoreDay(store, "box-1", WEEK_BEFORE, 30)]
        store_days(db_url, tmp_path, store, "box-1", days)
    db = Database.open(db_url)
    try:
        with db.transaction():
            for store in ("store-1", "store-2"):
                db.execute(
                    "INSERT INTO box_state (store, box, online, last_seen, version) VALUES "
                    "(?, 'box-1', ?, ?, '0.9.0') ON CONFLICT (store, box) DO UPDATE SET "
                    "online = excluded.online, last_seen = excluded.last_seen, "
                    "version = excluded.version",
                    (store, store == "store-1", "2026-11-20T14:59:00.000Z"),
                )
                raise_alert(
                    db,
                    key=f"test:{store}",
                    kind="box.offline",
                    severity="error",
                    message=f"{store}/box-1 offline since 2026-11-20T14:00:00.000Z",
                    now="2026-11-20T14:20:00.000Z",
                    store=store,
                    box="box-1",
                )
    finally:
        db.close()
    assert cloud_cli("stores", "add", "store-1", "store-2", "--db", db_url)[0] == 0
    add_web_user(db_url, "ada", "admin")
    add_web_user(db_url, "sam", "store", "store-1")
    add_web_user(db_url, "otto", "auditor")
    with serving_office(db_url) as base:
        yield base


@pytest.fixture
def receivers() -> Iterator[Receivers]:
    """Webhook, WeCom and DingTalk receivers on a free port (`notify_testkit`)."""
    with serving_receivers() as server:
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium (the system's) through Playwright, one per test module."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()
