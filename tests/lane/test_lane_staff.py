"""Staff: cards and PINs (only scrypt hashes stored), lockout, override ceilings, TOTP."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pyotp
from lane_testkit import CASHIER, START, SUPERVISOR, SUPERVISOR_PIN, Clock, make_lane

from gateway.lane import events as ev
from gateway.lane.events import Credential, Outcome, Refusal
from gateway.lane.machine import Lane, State

D = Decimal


def test_unknown_staff_card_is_refused(lane: Lane, clock: Clock) -> None:
    answer = lane.handle(ev.OpenShift(clock(), Credential(card="CARD-NOBODY")))
    assert isinstance(answer, Refusal) and answer.code == "unknown_staff_card"
    assert lane.state is State.CLOSED and lane.book.journal.state().head_seq == 0


def test_pins_are_stored_only_as_salted_scrypt_hashes(lane: Lane, db_path: Path) -> None:
    rows = lane.book.conn.execute("SELECT id, pin_salt, pin_hash FROM lane_staff").fetchall()
    assert len(rows) == 3
    salts = {bytes(salt) for _, salt, _ in rows}
    assert len(salts) == 3  # a salt per person
    raw = db_path.read_bytes() + Path(f"{db_path}-wal").read_bytes()
    for pin in (b"472951", b"836104", b"508273"):
        assert pin not in raw


def test_wrong_pin_locks_out_after_the_configured_tries(lane: Lane, clock: Clock) -> None:
    tries = lane.settings.lane.pin_attempts
    wrong = Credential(staff_id="101", pin="0000")
    codes = []
    for _ in range(tries):
        answer = lane.handle(ev.OpenShift(clock(), wrong))
        assert isinstance(answer, Refusal)
        codes.append(answer.code)
    assert codes == ["wrong_pin"] * (tries - 1) + ["locked_out"]
    right = Credential(staff_id="101", pin="472951")
    locked = lane.handle(ev.OpenShift(clock(), right))
    assert isinstance(locked, Refusal) and locked.code == "locked_out"
    later = clock() + timedelta(minutes=lane.settings.lane.lockout_minutes + 1)
    assert isinstance(lane.handle(ev.OpenShift(later, right)), Outcome)


def test_lockout_survives_a_restart(db_path: Path, catalog, settings, clock: Clock) -> None:
    lane = make_lane(db_path, catalog, settings)
    for _ in range(settings.lane.pin_attempts):
        lane.handle(ev.OpenShift(clock(), Credential(staff_id="101", pin="0000")))
    lane.book.db.conn.close()
    again = make_lane(db_path, catalog, settings)
    answer = again.handle(ev.OpenShift(clock(), Credential(staff_id="101", pin="472951")))
    assert isinstance(answer, Refusal) and answer.code == "locked_out"


def test_override_covers_one_operation_up_to_the_supervisors_ceiling(
    lane: Lane, clock: Clock
) -> None:
    assert isinstance(lane.handle(ev.OpenShift(clock(), CASHIER)), Outcome)
    lane.handle(ev.Scan(clock(), "7612345001326"))  # wine 12.50
    over = lane.handle(
        ev.PriceOverride(clock(), 0, D("150.00"), ev.Authorization(SUPERVISOR, "typo"))
    )
    assert isinstance(over, Refusal) and over.code == "over_ceiling"  # Beat's ceiling is 100
    no_reason = lane.handle(
        ev.PriceOverride(clock(), 0, D("10.00"), ev.Authorization(SUPERVISOR_PIN, " "))
    )
    assert isinstance(no_reason, Refusal) and no_reason.code == "needs_reason"
    done = lane.handle(
        ev.PriceOverride(clock(), 0, D("10.00"), ev.Authorization(SUPERVISOR_PIN, "shelf price"))
    )
    assert isinstance(done, Outcome)
    # one shot: the next override-needing action asks again
    again = lane.handle(ev.PriceOverride(clock(), 0, D("9.00")))
    assert isinstance(again, Refusal) and again.code == "needs_override"
    record = lane.book.journal.read(1, 5)[0]
    assert record.kind == "override"
    assert record.body["supervisor"] == {"id": "201", "name": "Beat", "role": "supervisor"}
    assert record.body["cashier"]["id"] == "101" and record.body["method"] == "pin"
    assert (record.body["amount"], record.body["ceiling"]) == ("10.00", "100.00")


def test_box_actions_need_the_persons_totp_second_factor(lane: Lane) -> None:
    now = START
    admin = Credential(staff_id="301", pin="508273")
    staff = lane.staff
    refused = staff.authorize_box_action("restore_backup", admin, "123456", now)
    assert isinstance(refused, Refusal) and refused.code == "no_second_factor"
    uri = staff.enroll_totp("301")
    assert uri.startswith("otpauth://totp/") and "issuer=storegate" in uri
    secret = staff.totp_secret("301")
    assert secret is not None
    code = pyotp.TOTP(secret).at(now)
    wrong = f"{(int(code) + 1) % 1000000:06d}"
    bad = staff.authorize_box_action("restore_backup", admin, wrong, now)
    assert isinstance(bad, Refusal) and bad.code == "wrong_second_factor"
    who = staff.authorize_box_action("restore_backup", admin, code, now)
    assert not isinstance(who, Refusal) and who.id == "301"
    cashier = staff.authorize_box_action("change_settings", Credential(card="CARD-ANNA"), code, now)
    assert isinstance(cashier, Refusal) and cashier.code == "not_permitted"
    stale = staff.authorize_box_action("restore_backup", admin, code, now + timedelta(minutes=5))
    assert isinstance(stale, Refusal)


def test_lane_settings_refuse_unknown_actions_and_roles(tmp_path: Path) -> None:
    import pytest

    from gateway.errors import SettingsError
    from gateway.settings import load_settings

    path = tmp_path / "gateway.toml"
    path.write_text('[lane.permissions]\nrefunds = ["supervisor"]\n')
    with pytest.raises(SettingsError) as caught:
        load_settings(path)
    assert "lane.permissions" in caught.value.describe() and "refund" in caught.value.what
    path.write_text('[lane.permissions]\nrefund = ["manager"]\n')
    with pytest.raises(SettingsError):
        load_settings(path)
    path.write_text('[lane]\npin_attempts = 3\n[lane.permissions]\nno_sale = ["cashier"]\n')
    loaded = load_settings(path).lane
    assert loaded.pin_attempts == 3 and loaded.allows("cashier", "no_sale")
    assert not loaded.allows("cashier", "refund")  # unlisted actions keep their defaults


def test_updating_a_person_keeps_their_second_factor_and_clears_a_lockout(lane: Lane) -> None:
    staff = lane.staff
    staff.enroll_totp("201")
    for _ in range(lane.settings.lane.pin_attempts):
        staff.identify(Credential(staff_id="201", pin="000000"), START)
    locked = staff.identify(SUPERVISOR_PIN, START)
    assert isinstance(locked, Refusal) and locked.code == "locked_out"
    staff.add("201", "Beat B.", "supervisor", card="CARD-BEAT", ceiling=D("150.00"))
    again = staff.identify(SUPERVISOR_PIN, START)  # same PIN, lockout cleared
    assert not isinstance(again, Refusal)
    assert (again.name, again.ceiling, again.has_totp) == ("Beat B.", D("150.00"), True)
