"""Central staff: the cashiers and supervisors head office gives every store of a group.

Owns the `staff_person` table (migration 14). A person belongs to one store group and may
sign on at every box of every store in it; head office hashes their PIN once, here, with
the box's own rule (`gateway.lane.pins`), so only the salt and the salted hash are kept
and sent (the staff document, `gateway.lane.staff_document`). Every change is a line of
the audit log (`web_audit`, cloud.web.accounts) naming who made it, written in the same
transaction as the change. Building a store's document is here; signing and sending it
is `cloud.publish`. Time is passed in.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from cloud.clock import Clock, iso, system_clock
from cloud.db import Database
from cloud.web.accounts import audit
from gateway.errors import UsageError
from gateway.lane.pins import SALT_BYTES, hash_pin, pin_problem
from gateway.lane.staff_document import (
    CENTRAL_ROLES,
    SCHEMA,
    CentralPerson,
    encode_bytes,
    parse_staff_document,
)

if TYPE_CHECKING:
    from cloud.ingest import BrokerOptions
    from cloud.publish import SigningKey

DEFAULT_PIN_MIN_DIGITS = 6  # the box's own default (lane.pin_min_digits)


@dataclass(frozen=True)
class Person:
    """One person as `cloud staff list` shows them (never the PIN hash)."""

    id: str
    name: str
    role: str
    group: str
    card: bool
    pin: bool
    ceiling: str | None
    active: bool
    updated_by: str
    updated_at: str


def add_person(
    db: Database,
    staff_id: str,
    name: str,
    role: str,
    group: str,
    *,
    pin: str | None,
    card: str | None,
    ceiling: str | None,
    by: str,
    now: str,
    pin_min_digits: int = DEFAULT_PIN_MIN_DIGITS,
) -> bool:
    """Create or replace a person (active again); returns True when they are new. A PIN
    left out keeps the one they have; a new person needs a PIN or a card. Checked by the
    box's own document model before anything is written."""
    from cloud.stores import group_stores

    where = f"cloud staff add {staff_id}"
    if role not in CENTRAL_ROLES:
        raise UsageError(
            f"role {role!r} cannot come from head office",
            where="--role",
            fix=f"one of {', '.join(CENTRAL_ROLES)}; a box's admins and technicians are its "
            "own (gateway staff add on the box)",
        )
    group_stores(db, group)  # an unknown group is refused
    if ceiling is not None:
        try:
            Decimal(ceiling)
        except InvalidOperation:
            raise UsageError(
                f"--ceiling {ceiling!r} is not an amount", where=where, fix="e.g. 100.00"
            ) from None
    salt = digest = None
    if pin is not None:
        if problem := pin_problem(pin, pin_min_digits):
            raise UsageError(problem.what, where=where, fix=problem.fix)
        raw_salt = os.urandom(SALT_BYTES)
        salt, digest = encode_bytes(raw_salt), encode_bytes(hash_pin(pin, raw_salt))
    with db.transaction():
        row = db.one("SELECT pin_salt, pin_hash FROM staff_person WHERE id = ?", (staff_id,))
        if salt is None and row is not None:
            salt, digest = row[0], row[1]
        try:
            CentralPerson(
                id=staff_id,
                name=name,
                role=role,
                pin_salt=salt,
                pin_hash=digest,
                card=card,
                ceiling=ceiling,
            )
        except ValueError as exc:
            raise UsageError(
                _first_problem(exc), where=where, fix="see `cloud staff add --help`"
            ) from None
        holder = db.one("SELECT id FROM staff_person WHERE card = ? AND id <> ?", (card, staff_id))
        if card is not None and holder is not None:
            raise UsageError(
                f"staff card already belongs to {holder[0]}", where=where, fix="use another card"
            )
        db.execute("DELETE FROM staff_person WHERE id = ?", (staff_id,))
        db.execute(
            "INSERT INTO staff_person (id, name, role, grp, card, pin_salt, pin_hash, ceiling, "
            "active, updated_by, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (staff_id, name, role, group, card, salt, digest, ceiling, True, by, now),
        )
        detail: dict[str, object] = {
            "id": staff_id,
            "name": name,
            "role": role,
            "group": group,
            "card": card is not None,
            "pin": "new" if pin is not None else ("kept" if row else "none"),
            "ceiling": ceiling,
        }
        audit(db, by, "staff.add", detail, now)
    return row is None


def _first_problem(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        loc = ".".join(str(p) for p in first.get("loc", ()))
        return f"{loc}: {first['msg']}" if loc else str(first["msg"])
    return str(exc)


def set_active(db: Database, staff_id: str, active: bool, *, by: str, now: str) -> None:
    """Disable a person (every box refuses their card and PIN once it has the next
    document) or make them active again; audited."""
    action = "enable" if active else "disable"
    with db.transaction():
        row = db.one("SELECT active FROM staff_person WHERE id = ?", (staff_id,))
        _require(row, staff_id, action)
        assert row is not None
        if bool(row[0]) == active:
            raise UsageError(
                f"{staff_id} is already {'active' if active else 'disabled'}",
                where=f"cloud staff {action} {staff_id}",
                fix="nothing to do",
            )
        db.execute(
            "UPDATE staff_person SET active = ?, updated_by = ?, updated_at = ? WHERE id = ?",
            (active, by, now, staff_id),
        )
        audit(db, by, f"staff.{action}", {"id": staff_id}, now)


def remove_person(db: Database, staff_id: str, *, by: str, now: str) -> None:
    """Delete a person at head office (each box removes them with the next document)."""
    with db.transaction():
        row = db.one("SELECT name FROM staff_person WHERE id = ?", (staff_id,))
        _require(row, staff_id, "remove")
        db.execute("DELETE FROM staff_person WHERE id = ?", (staff_id,))
        audit(db, by, "staff.remove", {"id": staff_id, "name": row[0] if row else ""}, now)


def _require(row: tuple[Any, ...] | None, staff_id: str, action: str) -> None:
    if row is None:
        raise UsageError(
            f"no person {staff_id} at head office",
            where=f"cloud staff {action} {staff_id}",
            fix="`cloud staff list` shows who exists",
        )


def people(db: Database, group: str | None = None) -> list[Person]:
    """Everyone (or one group's people), by staff id."""
    sql = (
        "SELECT id, name, role, grp, card IS NOT NULL, pin_hash IS NOT NULL, ceiling, active, "
        "updated_by, updated_at FROM staff_person"
    )
    rows = db.query(
        sql + (" WHERE grp = ? ORDER BY id" if group else " ORDER BY id"),
        (group,) if group else (),
    )
    return [
        Person(
            id=str(r[0]),
            name=str(r[1]),
            role=str(r[2]),
            group=str(r[3]),
            card=bool(r[4]),
            pin=bool(r[5]),
            ceiling=None if r[6] is None else str(r[6]),
            active=bool(r[7]),
            updated_by=str(r[8]),
            updated_at=str(r[9]),
        )
        for r in rows
    ]


def store_document(db: Database, store: str, now: str) -> dict[str, Any]:
    """The staff document of `store`: every person of every group the store belongs to
    (so one store in two groups gets both groups' people), disabled people included as
    `active: false`. Checked with the box's model."""
    rows = db.query(
        "SELECT p.id, p.name, p.role, p.card, p.pin_salt, p.pin_hash, p.ceiling, p.active "
        "FROM staff_person p JOIN store_group g ON g.name = p.grp WHERE g.store = ? "
        "ORDER BY p.id",
        (store,),
    )
    staff = []
    for staff_id, name, role, card, salt, digest, ceiling, active in rows:
        person: dict[str, Any] = {"id": staff_id, "name": name, "role": role}
        if digest is not None:
            person["pin_salt"], person["pin_hash"] = salt, digest
        if card is not None:
            person["card"] = card
        if ceiling is not None:
            person["ceiling"] = str(ceiling)
        person["active"] = bool(active)
        staff.append(person)
    document = {"schema": SCHEMA, "version": 1, "issued_at": now, "staff": staff}
    parse_staff_document(document, f"staff document for {store}")
    return document


def record_publication(
    db: Database, by: str, store: str, version: int, people: int, now: str
) -> None:
    """The audit line of one store's publication: which version, how many people, sent by
    whom (written once the broker took it)."""
    with db.transaction():
        audit(db, by, "staff.publish", {"store": store, "version": version, "people": people}, now)


def publish_staff(
    db: Database,
    stores: list[str],
    *,
    broker: BrokerOptions,
    root: str,
    key: SigningKey,
    by: str,
    clock: Clock = system_clock,
) -> list[tuple[str, int, int]]:
    """Build, sign (head office's `key`) and send each store's staff document, auditing
    each publication under `by`; (store, version, people) per store. `cloud staff publish`
    and the staff page publish through here."""
    from cloud.publish import publish_document
    from cloud.stores import require_known

    require_known(db, stores, "cloud staff publish")
    now = iso(clock())
    documents = {store: store_document(db, store, now) for store in stores}
    sent = []
    for store, document in documents.items():
        [message] = publish_document(
            db=db,
            broker=broker,
            root=root,
            kind="staff",
            document=document,
            stores=[store],
            box=None,
            key=key,
            clock=clock,
        )
        version, count = int(message["version"]), len(document["staff"])
        record_publication(db, by, store, version, count, iso(clock()))
        sent.append((store, version, count))
    return sent
