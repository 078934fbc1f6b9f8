"""Fixtures for lane tests: a real SQLite file, the example catalog and settings, and a
small staff (cashier, supervisor, admin) with real scrypt PIN hashes."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from gateway.catalog.catalog import Catalog, load_catalog_file
from gateway.database import open_database
from gateway.lane.book import LaneBook
from gateway.lane.events import Credential
from gateway.lane.machine import Lane
from gateway.lane.staff import StaffDirectory
from gateway.settings import GatewaySettings, load_settings

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "config" / "catalog.example.json"
SETTINGS = ROOT / "config" / "gateway.example.toml"
START = datetime(2026, 11, 24, 9, 0, 0)  # a Tuesday, store-local

CASHIER = Credential(card="CARD-ANNA")
CASHIER_PIN = Credential(staff_id="101", pin="1234")
SUPERVISOR = Credential(card="CARD-BEAT")
SUPERVISOR_PIN = Credential(staff_id="201", pin="9876")


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog_file(CATALOG)


@pytest.fixture(scope="session")
def settings() -> GatewaySettings:
    return load_settings(SETTINGS)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "storegate.db"


def add_staff(staff: StaffDirectory) -> None:
    staff.add("101", "Anna", "cashier", pin="1234", card="CARD-ANNA")
    staff.add("201", "Beat", "supervisor", pin="9876", card="CARD-BEAT",
              ceiling=Decimal("100.00"))
    staff.add("301", "Chen 陈", "admin", pin="5555", card="CARD-CHEN")


class Clock:
    """Store-local time that moves forward a little with every event."""

    def __init__(self, start: datetime = START, step: timedelta = timedelta(seconds=20)):
        self.now = start
        self.step = step

    def __call__(self) -> datetime:
        self.now += self.step
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_lane(db_path: Path, catalog: Catalog, settings: GatewaySettings,
              members: object | None = None) -> Lane:
    db = open_database(db_path)
    staff = StaffDirectory(db, settings.lane)
    counter = itertools.count(1)
    new_id: Callable[[], str] = lambda: f"id{next(counter):06d}"  # noqa: E731
    book = LaneBook(db)
    if book.next_number("receipt") == 1 and staff.get("101") is None:
        add_staff(staff)
    return Lane(book=book, staff=staff, catalog=catalog, settings=settings,
                members=members, new_id=new_id)  # type: ignore[arg-type]


@pytest.fixture
def lane(db_path: Path, catalog: Catalog, settings: GatewaySettings) -> Lane:
    return make_lane(db_path, catalog, settings)
