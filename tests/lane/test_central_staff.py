"""Head office's staff document on the box (docs/lane.md, "Central staff"): its people
sign on with the PIN whose salted hash it carries, a newer document replaces head
office's people and never the box's own, a person left unchanged keeps the box's standing
of them, a conflict with the box's own people is decided as documented, and the document
carries hashes only. Real SQLite file, real scrypt hashes, the daemon's own journal step."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from lane_testkit import START, Clock

from gateway.daemon.box_actions import journal_staff_document
from gateway.lane import events as ev
from gateway.lane.events import Credential, Outcome
from gateway.lane.machine import Lane
from gateway.lane.pins import LEGACY_COST, hash_pin
from gateway.lane.staff import StaffDirectory, StaffError
from gateway.lane.staff_document import (
    StaffDocumentRefused,
    encode_bytes,
    parse_staff_document,
)

SALT = bytes(range(16))
DORA_PIN = "640912"
DORA_HASH = hash_pin(DORA_PIN, SALT)  # what `cloud staff add` stores and sends


def dora(**changes: Any) -> dict[str, Any]:
    person = {
        "id": "c-900",
        "name": "Dora",
        "role": "cashier",
        "pin_salt": encode_bytes(SALT),
        "pin_hash": encode_bytes(DORA_HASH),
        "active": True,
    }
    return {**person, **changes}


def document(version: int, *people: dict[str, Any]) -> dict[str, Any]:
    return {
        "schema": "storegate.staff/1",
        "version": version,
        "issued_at": "2026-11-24T06:00:00Z",
        "staff": list(people),
    }


def apply(lane: Lane, data: dict[str, Any]) -> dict[str, Any]:
    staff = StaffDirectory(lane.book.db, lane.settings.lane)
    parsed = parse_staff_document(data, "test")
    return journal_staff_document(lane.book.journal, staff, parsed)


def signs_on(lane: Lane, clock: Clock, staff_id: str, pin: str) -> bool:
    answer = lane.handle(ev.OpenShift(clock(), Credential(staff_id=staff_id, pin=pin)))
    if isinstance(answer, Outcome):
        closed = lane.handle(ev.CloseShift(clock(), counted=lane.settings.lane.opening_float))
        assert isinstance(closed, Outcome), closed
        return True
    return False


def origins(lane: Lane) -> dict[str, tuple[str, int]]:
    rows = lane.book.conn.execute("SELECT id, origin, active FROM lane_staff").fetchall()
    return {str(i): (str(o), int(a)) for i, o, a in rows}


def box_actions(lane: Lane) -> list[dict[str, Any]]:
    rows = lane.book.conn.execute(
        "SELECT body FROM journal_record WHERE kind = 'box_action' ORDER BY seq"
    ).fetchall()
    return [json.loads(body) for (body,) in rows]


def test_a_central_cashier_signs_on_and_the_box_s_own_people_stay(
    lane: Lane, clock: Clock, db_path: Path
) -> None:
    body = apply(lane, document(1, dora()))
    assert body["added"] == ["c-900"] and body["via"] == "head_office" and body["actor"] is None
    assert signs_on(lane, clock, "c-900", DORA_PIN)
    assert not signs_on(lane, clock, "c-900", "640913")
    assert origins(lane) == {
        "101": ("local", 1),
        "201": ("local", 1),
        "301": ("local", 1),
        "c-900": ("head_office", 1),
    }
    # A local addition after it, then a newer document without Dora: she goes, Eve comes,
    # the box's own people (and the one added locally) stay.
    staff = StaffDirectory(lane.book.db, lane.settings.lane)
    staff.add("102", "Local Lou", "cashier", pin="739152")
    eve = dora(id="c-901", name="Eve", card="CARD-EVE")
    body = apply(lane, document(2, eve))
    assert (body["added"], body["removed"]) == (["c-901"], ["c-900"])
    assert set(origins(lane)) == {"101", "102", "201", "301", "c-901"}
    assert not signs_on(lane, clock, "c-900", DORA_PIN)
    assert signs_on(lane, clock, "c-901", DORA_PIN) and signs_on(lane, clock, "102", "739152")
    assert [b["action"] for b in box_actions(lane)] == ["staff_document", "staff_document"]
    # Only hashes travel and are kept: the PIN is nowhere in the document or the file.
    assert DORA_PIN not in json.dumps(document(2, eve))
    assert DORA_PIN.encode() not in db_path.read_bytes() + Path(f"{db_path}-wal").read_bytes()


def test_the_box_s_standing_of_an_unchanged_person_stands_a_changed_one_is_head_office_s(
    lane: Lane, clock: Clock
) -> None:
    apply(lane, document(1, dora()))
    staff = StaffDirectory(lane.book.db, lane.settings.lane)
    staff.standing_intent("disable", "c-900")[2](lane.book.conn)  # the store disables her
    lane.book.conn.commit()
    body = apply(lane, document(2, dora(), dora(id="c-901", name="Eve")))
    assert body["changed"] == [] and origins(lane)["c-900"] == ("head_office", 0)
    assert not signs_on(lane, clock, "c-900", DORA_PIN)
    body = apply(lane, document(3, dora(name="Dora K."), dora(id="c-901", name="Eve")))
    assert body["changed"] == ["c-900"] and origins(lane)["c-900"] == ("head_office", 1)
    assert signs_on(lane, clock, "c-900", DORA_PIN)
    apply(lane, document(4, dora(name="Dora K.", active=False), dora(id="c-901", name="Eve")))
    assert not signs_on(lane, clock, "c-900", DORA_PIN)


def test_head_office_s_people_are_changed_at_head_office_only(lane: Lane) -> None:
    apply(lane, document(1, dora()))
    staff = StaffDirectory(lane.book.db, lane.settings.lane)
    with pytest.raises(StaffError, match="comes from head office"):
        staff.upsert_intent("c-900", "Dora", "admin", pin="739152")
    with pytest.raises(StaffError, match="comes from head office"):
        staff.standing_intent("remove", "c-900")
    with pytest.raises(StaffError, match="comes from head office"):
        staff.totp_intent("c-900")
    assert staff.standing_intent("disable", "c-900")[0].endswith("disabled")
    listing = {p.id: p.origin for p in staff.roster(START)}
    assert listing["c-900"] == "head_office" and listing["101"] == "local"


def test_a_local_cashier_s_id_is_taken_over_a_local_admin_s_is_refused(
    lane: Lane, clock: Clock
) -> None:
    before = lane.book.journal.state().head_seq
    with pytest.raises(StaffDocumentRefused, match="this box's own admin"):
        apply(lane, document(1, dora(id="301")))
    with pytest.raises(StaffDocumentRefused, match="its own person 201"):
        apply(lane, document(1, dora(card="CARD-BEAT")))
    assert lane.book.journal.state().head_seq == before  # refused whole: nothing written
    assert signs_on(lane, clock, "301", "508273")
    body = apply(lane, document(1, dora(id="101", name="Anna (HO)")))
    assert body["taken_over"] == ["101"] and origins(lane)["101"] == ("head_office", 1)
    assert signs_on(lane, clock, "101", DORA_PIN) and not signs_on(lane, clock, "101", "472951")
    assert lane.book.conn.execute("SELECT card FROM lane_staff WHERE id = '101'").fetchone() == (
        None,
    )


@pytest.mark.parametrize(
    ("person", "problem"),
    [
        (dora(pin="640912"), "Extra inputs are not permitted"),
        (dora(role="admin"), "role"),
        (dora(pin_hash=encode_bytes(hash_pin(DORA_PIN, SALT, LEGACY_COST))), "not a PIN hash"),
        (dora(pin_salt=None), "come together"),
        (dora(pin_salt=None, pin_hash=None), "PIN (hash) or a staff card"),
        (dora(card="4111111111111111"), "payment card"),
        (dora(pin_hash="not base64!"), "not base64"),
    ],
)
def test_a_document_the_box_cannot_take_is_refused_with_why(
    person: dict[str, Any], problem: str
) -> None:
    with pytest.raises(StaffDocumentRefused, match="staff document refused") as refused:
        parse_staff_document(document(1, person), "test")
    assert problem in refused.value.what


def test_a_staff_id_twice_is_refused() -> None:
    with pytest.raises(StaffDocumentRefused, match="staff id appears twice"):
        parse_staff_document(document(1, dora(), dora(name="Other")), "test")


def test_a_person_removed_while_signed_on_keeps_the_shift_until_it_closes(
    lane: Lane, clock: Clock
) -> None:
    apply(lane, document(1, dora()))
    opened = lane.handle(ev.OpenShift(clock(), Credential(staff_id="c-900", pin=DORA_PIN)))
    assert isinstance(opened, Outcome), opened
    apply(lane, document(2))  # head office removes her meanwhile
    closed = lane.handle(ev.CloseShift(clock(), counted=lane.settings.lane.opening_float))
    assert isinstance(closed, Outcome), closed
    assert not signs_on(lane, clock, "c-900", DORA_PIN)
