"""Helpers for lane tests: a real SQLite file, the example catalog and settings, and a
small staff (cashier, supervisor, admin) with real scrypt PIN hashes."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from gateway.catalog.catalog import Catalog
from gateway.database import open_database
from gateway.journal import Journal
from gateway.lane.book import LaneBook
from gateway.lane.events import Credential
from gateway.lane.machine import Lane
from gateway.lane.members import RoomMembers
from gateway.lane.staff import StaffDirectory
from gateway.members import MemberAccounts, MemberStore, card_key, parse_document
from gateway.settings import GatewaySettings

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "config" / "catalog.example.json"
SETTINGS = ROOT / "config" / "gateway.example.toml"
START = datetime(2026, 11, 24, 9, 0, 0)  # a Tuesday, store-local

CASHIER = Credential(card="CARD-ANNA")
CASHIER_PIN = Credential(staff_id="101", pin="472951")
SUPERVISOR = Credential(card="CARD-BEAT")
SUPERVISOR_PIN = Credential(staff_id="201", pin="836104")


def add_staff(staff: StaffDirectory) -> None:
    staff.add("101", "Anna", "cashier", pin="472951", card="CARD-ANNA")
    staff.add(
        "201", "Beat", "supervisor", pin="836104", card="CARD-BEAT", ceiling=Decimal("100.00")
    )
    staff.add("301", "Chen 陈", "admin", pin="508273", card="CARD-CHEN")


class Clock:
    """Store-local time that moves forward a little with every event."""

    def __init__(self, start: datetime = START, step: timedelta = timedelta(seconds=20)):
        self.now = start
        self.step = step

    def __call__(self) -> datetime:
        self.now += self.step
        return self.now


SALT = "0123456789abcdef0123456789abcdef"
ALICE = "04A2B3C4D5E601"  # canteen member, subsidy + cash wallets, points
CAROL = "04A2B3C4D5E603"  # blocked
LOST = "04A2B3C4D5E604"  # on the blacklist


def members_document() -> dict[str, Any]:
    """A members document as head office pushes it (CHF, like the example catalog)."""
    return {
        "schema": "storegate.members/1",
        "version": 1,
        "currency": "CHF",
        "decimals": 2,
        "card_hashing": {"algorithm": "sha256", "salt": SALT},
        "redemption": {"points": 100, "value": "1.00"},
        "groups": [
            {
                "id": "canteen",
                "name": "Staff",
                "member_prices": True,
                "points": {"per": "1.00", "points": 1},
                "limits": {
                    "per_day": "80.00",
                    "meals": [{"name": "lunch", "from": "11:00", "to": "14:00", "max": "30.00"}],
                },
            }
        ],
        "members": [
            {
                "id": "M0001",
                "group": "canteen",
                "name": "Alice",
                "cards": [card_key(ALICE, SALT)],
                "wallets": {"points": 1200, "subsidy": "20.00", "cash": "50.00"},
            },
            {
                "id": "M0003",
                "group": "canteen",
                "name": "Carol",
                "status": "blocked",
                "status_since": "2026-11-01",
                "cards": [card_key(CAROL, SALT)],
            },
            {
                "id": "M0004",
                "group": "canteen",
                "name": "Dan",
                "cards": [card_key(LOST, SALT)],
                "wallets": {"cash": "100.00"},
            },
        ],
        "blacklist": {
            "version": 1,
            "cards": [{"card": card_key(LOST, SALT), "since": "2026-11-22", "reason": "lost"}],
        },
        "offline": {"stored_value": True, "points_redemption": True},
        "top_up": {
            "min": "10.00",
            "max": "1000.00",
            "bonus": [{"from": "100.00", "bonus": "10.00"}, {"from": "200.00", "bonus": "30.00"}],
        },
    }


class JournalClock:
    """The journal's UTC clock, stepping one second per append (deterministic hashes)."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)

    def __call__(self) -> tuple[datetime, bool]:
        self.now += timedelta(seconds=1)
        return self.now, True


def make_lane(db_path: Path, catalog: Catalog, settings: GatewaySettings) -> Lane:
    """A lane on a real SQLite file, with staff and the members room set up on first use."""
    db = open_database(db_path)
    staff = StaffDirectory(db, settings.lane)
    head = Journal(db).state().head_seq  # ids stay unique when the box is reopened
    counter = itertools.count(head * 1000 + 1)
    new_id: Callable[[], str] = lambda: f"id{next(counter):06d}"  # noqa: E731
    journal = Journal(db, clock=JournalClock(), new_id=new_id)
    book = LaneBook(db, journal)
    store = MemberStore(db, settings.store.box)
    if staff.get("101") is None:
        add_staff(staff)
        store.apply_document(parse_document(members_document()), datetime(2026, 11, 24, 6))
    return Lane(
        book=book,
        staff=staff,
        catalog=catalog,
        settings=settings,
        members=RoomMembers(MemberAccounts(store)),
        new_id=new_id,
    )
