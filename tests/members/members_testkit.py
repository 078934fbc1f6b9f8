"""Helpers shared by the members tests: a members document as head office would push it,
a box (real SQLite file, journal with an injected clock, member store), priced baskets.
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlite_utils

from gateway.database import open_database
from gateway.journal import Journal
from gateway.members import MemberAccounts, MemberStore, card_key, parse_document
from gateway.pricing.result import PricedBasket, PricedLine

SALT = "5f3a9c0e1b2d4f6a8c0e1b2d4f6a8c0e"
BOX = "box-1"
ALICE_UID = "04:A2:B3:C4:D5:E6:80"
BOB_UID = "04A2B3C4D5E681"
CAROL_UID = "04A2B3C4D5E682"
DAVE_UID = "04A2B3C4D5E683"
LOST_UID = "04A2B3C4D5E684"
VISA_PAN = "4111111111111111"
LUNCH = datetime(2026, 11, 24, 12, 5)  # local wall time, inside lunch 11:00-14:00
AFTERNOON = datetime(2026, 11, 24, 16, 0)


def uid_key(uid: str) -> str:
    return card_key(uid, SALT)


def document(version: int = 1, **changes: Any) -> dict[str, Any]:
    """A valid members document (plain JSON data, as it arrives)."""
    doc: dict[str, Any] = {
        "schema": "storegate.members/1",
        "version": version,
        "issued_at": "2026-11-24T06:00:00+00:00",
        "currency": "CNY",
        "decimals": 2,
        "card_hashing": {"algorithm": "sha256", "salt": SALT},
        "redemption": {"points": 100, "value": "1.00"},
        "groups": [
            {
                "id": "canteen",
                "name": "Staff canteen",
                "member_prices": True,
                "points": {"per": "1.00", "points": 1},
                "limits": {
                    "per_day": "80.00",
                    "meals": [
                        {"name": "breakfast", "from": "07:00", "to": "09:30", "max": "15.00"},
                        {"name": "lunch", "from": "11:00", "to": "14:00", "max": "30.00"},
                        {"name": "dinner", "from": "17:00", "to": "20:00", "max": "30.00"},
                    ],
                },
            },
            {"id": "retail", "member_prices": False, "points": None},
            {
                "id": "mealsonly",
                "limits": {
                    "meal_only": True,
                    "per_transaction": "20.00",
                    "meals": [{"name": "lunch", "from": "11:00", "to": "14:00"}],
                },
            },
        ],
        "members": [
            {
                "id": "M0001",
                "group": "canteen",
                "name": "Alice",
                "cards": [uid_key(ALICE_UID)],
                "wallets": {"points": 1200, "subsidy": "20.00", "cash": "50.00"},
                "subsidy_expires": "2026-11-30",
            },
            {
                "id": "M0002",
                "group": "retail",
                "name": "Bob",
                "cards": [uid_key(BOB_UID)],
                "wallets": {"points": 50, "cash": "10.00"},
            },
            {
                "id": "M0003",
                "group": "canteen",
                "name": "Carol",
                "status": "blocked",
                "status_since": "2026-11-01",
                "cards": [uid_key(CAROL_UID)],
            },
            {
                "id": "M0004",
                "group": "canteen",
                "name": "Dave",
                "status": "lost",
                "status_since": "2026-11-20",
                "cards": [uid_key(DAVE_UID)],
            },
            {
                "id": "M0005",
                "group": "mealsonly",
                "cards": [uid_key(LOST_UID)],
                "wallets": {"cash": "100.00"},
            },
        ],
        "blacklist": {
            "version": 3,
            "cards": [{"card": uid_key(LOST_UID), "since": "2026-11-22", "reason": "lost"}],
        },
        "offline": {
            "stored_value": True,
            "points_redemption": True,
            "per_transaction": "25.00",
            "per_day": "40.00",
            "points_per_transaction": 1000,
            "points_per_day": 1500,
            "max_offline_minutes": 240,
            "max_unsynced_sales": 200,
        },
    }
    doc.update(changes)
    return copy.deepcopy(doc)


def member(doc: dict[str, Any], member_id: str) -> dict[str, Any]:
    return next(m for m in doc["members"] if m["id"] == member_id)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)

    def __call__(self) -> tuple[datetime, bool]:
        self.now += timedelta(seconds=1)
        return self.now, True


@dataclass
class Box:
    """One box: its database file, journal, member store and the lane's API."""

    path: Path
    db: sqlite_utils.Database
    journal: Journal
    store: MemberStore
    members: MemberAccounts

    def apply(self, data: dict[str, Any]) -> Any:
        return self.store.apply_document(parse_document(data), datetime(2026, 11, 24, 6, 0))

    def reopen(self) -> Box:
        self.db.conn.close()
        return open_box(self.path)


def open_box(path: Path) -> Box:
    db = open_database(path)
    counter = itertools.count(1)
    journal = Journal(db, clock=Clock(), new_id=lambda: f"rec{next(counter):06d}")
    store = MemberStore(db, BOX)
    return Box(path, db, journal, store, MemberAccounts(store))


def line(index: int, total: str, flags: tuple[str, ...] = ()) -> PricedLine:
    amount = Decimal(total)
    return PricedLine(
        index=index,
        sku=f"SKU{index}",
        name=f"item {index}",
        category="food",
        unit="each",
        quantity=Decimal(1),
        unit_price=amount,
        list_amount=amount,
        adjustments=(),
        amount=amount,
        tax_class="std",
        tax_rate=Decimal("0.13"),
        tax_inclusive=True,
        tax=Decimal(0),
        total=amount,
        flags=flags,
    )


def priced(*lines: PricedLine) -> PricedBasket:
    total = sum((x.total for x in lines), Decimal(0))
    return PricedBasket(
        currency="CNY",
        places=2,
        catalog_version=1,
        lines=tuple(lines),
        list_total=total,
        item_discounts=Decimal(0),
        basket_discounts=Decimal(0),
        moling=Decimal(0),
        tax=Decimal(0),
        taxes=(),
        total=total,
        cash_rounding=Decimal(0),
    )
