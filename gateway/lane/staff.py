"""Staff: who may work the till, how they prove it, and what each may do.

Owns the `lane_staff` table (migration 3): people, roles, staff cards, PINs stored only as
salted scrypt hashes, a wrong-PIN counter with lockout, per-person override ceilings and
TOTP secrets for the second factor technicians and admins need on box actions. It does not
touch the journal (the lane records overrides) nor any other table. Time is passed in.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import pyotp
import sqlite_utils

from gateway.errors import StoregateError
from gateway.lane.events import Credential, Refusal
from gateway.lane.records import StaffRef
from gateway.lane.settings import BOX_ACTIONS, ROLES, LaneSettings
from gateway.money import parse_amount

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1  # ~16 MiB, tens of ms on a Pi: slow to guess
SALT_BYTES = 16
PIN_DIGITS = (4, 12)
TILL = "till"  # PIN attempts at the till: its keyboard, the kiosk, the control socket
MIXED = "*"  # the counted failures came from more than one source


class StaffError(StoregateError):
    """A staff change that cannot be made as asked (CLI: `gateway staff ...`)."""

    exit_code = 2


@dataclass(frozen=True)
class StaffMember:
    id: str
    name: str
    role: str
    ceiling: Decimal | None
    has_totp: bool

    def ref(self) -> StaffRef:
        return StaffRef(id=self.id, name=self.name, role=self.role)


def hash_pin(pin: str, salt: bytes) -> bytes:
    """scrypt(pin, salt): only this is stored; the PIN itself never is."""
    return hashlib.scrypt(pin.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)


def _check_pin_shape(pin: str) -> None:
    if not pin.isdigit() or not PIN_DIGITS[0] <= len(pin) <= PIN_DIGITS[1]:
        raise StaffError(
            "a PIN is 4 to 12 digits", where="staff PIN", fix="choose a PIN of 4-12 digits"
        )


@dataclass(frozen=True)
class StaffChange:
    """`gateway staff add|totp` as data, so the CLI can apply it to the file itself or hand
    it to the running daemon (the database's one writer) over the control socket."""

    action: str  # "add" or "totp"
    staff_id: str
    name: str = ""
    role: str = ""
    pin: str | None = None
    card: str | None = None
    ceiling: str | None = None
    by: str | None = None
    by_pin: str | None = None
    totp: str | None = None

    def to_request(self) -> dict[str, object]:
        return {"command": "staff", **{k: v for k, v in self.__dict__.items() if v is not None}}

    @classmethod
    def from_request(cls, body: dict[str, object]) -> StaffChange:
        fields = {
            k: (None if v is None else str(v))
            for k, v in body.items()
            if k in cls.__dataclass_fields__
        }
        if fields.get("action") not in ("add", "totp") or not fields.get("staff_id"):
            raise StaffError(
                "a staff change needs action add or totp and a staff id",
                where="staff request",
                fix="use `gateway staff add|totp`",
            )
        return cls(**fields)  # type: ignore[arg-type]


class StaffDirectory:
    """The staff table, for the lane (identify, authorise) and the CLI (add, enrol)."""

    def __init__(self, db: sqlite_utils.Database, settings: LaneSettings) -> None:
        self._conn: sqlite3.Connection = db.conn
        self._settings = settings

    # -- administration ------------------------------------------------------------------

    def add(
        self,
        staff_id: str,
        name: str,
        role: str,
        *,
        pin: str | None = None,
        card: str | None = None,
        ceiling: Decimal | None = None,
    ) -> StaffMember:
        """Create or update a person; a PIN or TOTP already enrolled is kept unless a new
        PIN is given, and any lockout is cleared."""
        if role not in ROLES:
            raise StaffError(
                f"unknown role {role!r}",
                where=f"staff {staff_id}",
                fix=f"use one of {', '.join(ROLES)}",
            )
        salt = pin_hash = None
        if pin is not None:
            _check_pin_shape(pin)
            salt = os.urandom(SALT_BYTES)
            pin_hash = hash_pin(pin, salt)
        try:
            with self._conn:
                self._conn.execute(
                    "INSERT INTO lane_staff (id, name, role, card, pin_salt, pin_hash, ceiling) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
                    "name = excluded.name, role = excluded.role, card = excluded.card, "
                    "pin_salt = coalesce(excluded.pin_salt, pin_salt), "
                    "pin_hash = coalesce(excluded.pin_hash, pin_hash), "
                    "ceiling = excluded.ceiling, failed_pins = 0, locked_until = NULL, "
                    "failed_source = NULL, "
                    "active = 1",
                    (
                        staff_id,
                        name,
                        role,
                        card,
                        salt,
                        pin_hash,
                        None if ceiling is None else str(ceiling),
                    ),
                )
        except sqlite3.IntegrityError as exc:
            raise StaffError(
                f"staff card {card} already belongs to someone else",
                where=f"staff {staff_id}",
                fix="use another card",
            ) from exc
        member = self.get(staff_id)
        assert member is not None
        return member

    def enroll_totp(self, staff_id: str) -> str:
        """Give a person a fresh TOTP secret; returns the provisioning URI for their app."""
        member = self.get(staff_id)
        if member is None:
            raise StaffError(
                "no such staff member",
                where=f"staff {staff_id}",
                fix="add them first with `gateway staff add`",
            )
        secret = pyotp.random_base32()
        with self._conn:
            self._conn.execute(
                "UPDATE lane_staff SET totp_secret = ? WHERE id = ?", (secret, staff_id)
            )
        return pyotp.TOTP(secret).provisioning_uri(
            name=f"{member.name} ({staff_id})", issuer_name=self._settings.totp_issuer
        )

    def change(self, change: StaffChange, now: datetime, utc: datetime) -> str | Refusal:
        """Apply a staff change after its approval; the answer is the line to show.

        Once someone who may change the box has an authenticator, every change needs an
        admin's (or technician's) PIN and TOTP code; the very first admin is the bootstrap.
        `now` is store-local wall time (PIN lockout), `utc` an aware time (TOTP)."""
        if self.second_factor_enrolled():
            if not (change.by and change.by_pin is not None and change.totp):
                return Refusal(
                    "approval_needed",
                    "Changing staff needs an admin's approval: "
                    "pass --by STAFF_ID --totp CODE (the PIN is asked first).",
                )
            who = self.authorize_box_action(
                "change_settings",
                Credential(staff_id=change.by, pin=change.by_pin),
                change.totp,
                now,
                utc,
            )
            if isinstance(who, Refusal):
                return who
        if change.action == "totp":
            return self.enroll_totp(change.staff_id)
        ceiling = None
        if change.ceiling:
            try:
                ceiling = parse_amount(change.ceiling, 4, what="override ceiling")
            except ValueError as exc:
                raise StaffError(
                    str(exc), where=f"staff {change.staff_id}", fix="write the ceiling like 100.00"
                ) from None
        member = self.add(
            change.staff_id,
            change.name,
            change.role,
            pin=change.pin or None,
            card=change.card,
            ceiling=ceiling,
        )
        return f"staff {member.id} {member.name} ({member.role}) saved"

    def second_factor_enrolled(self) -> bool:
        """Has anyone who may change the box an authenticator enrolled (bootstrap is over)?"""
        return (
            self._conn.execute(
                "SELECT 1 FROM lane_staff WHERE active = 1 AND totp_secret IS NOT NULL AND role "
                "IN ('technician', 'admin') LIMIT 1"
            ).fetchone()
            is not None
        )

    def totp_secret(self, staff_id: str) -> str | None:
        row = self._conn.execute(
            "SELECT totp_secret FROM lane_staff WHERE id = ?", (staff_id,)
        ).fetchone()
        return row[0] if row else None

    # -- reading -------------------------------------------------------------------------

    def get(self, staff_id: str) -> StaffMember | None:
        row = self._conn.execute(
            "SELECT id, name, role, ceiling, totp_secret IS NOT NULL FROM lane_staff "
            "WHERE id = ? AND active = 1",
            (staff_id,),
        ).fetchone()
        return _member(row) if row else None

    def by_card(self, card: str) -> StaffMember | None:
        row = self._conn.execute(
            "SELECT id, name, role, ceiling, totp_secret IS NOT NULL FROM lane_staff "
            "WHERE card = ? AND active = 1",
            (card,),
        ).fetchone()
        return _member(row) if row else None

    # -- identification ------------------------------------------------------------------

    def identify(
        self, credential: Credential, now: datetime, source: str = TILL
    ) -> StaffMember | Refusal:
        """A staff card or staff number + PIN; wrong PINs count toward a lockout (the count is
        written at once: for callers outside the lane, which has `identify_intent`).
        `source` says where the attempt came from (see `_check_pin`)."""
        who, writes = self.identify_intent(credential, now, source)
        if writes:
            with self._conn:
                for write in writes:
                    write(self._conn)
        return who

    def identify_intent(
        self, credential: Credential, now: datetime, source: str = TILL
    ) -> tuple[StaffMember | Refusal, tuple[PinWrite, ...]]:
        """Who this is, and the PIN-attempt count it changes (to write with the step that
        used it, or even when it is refused: that count is what makes a lockout)."""
        if credential.card is not None:
            member = self.by_card(credential.card)
            if member is None:
                return Refusal("unknown_staff_card", "This staff card is not known here."), ()
            return member, ()
        if credential.staff_id is None or credential.pin is None:
            return Refusal("no_credential", "Scan your staff card or enter number and PIN."), ()
        return self._check_pin(credential.staff_id, credential.pin, now, source)

    def _check_pin(
        self, staff_id: str, pin: str, now: datetime, source: str
    ) -> tuple[StaffMember | Refusal, tuple[PinWrite, ...]]:
        """One counter per person, and the one source its failures came from (`MIXED` once
        they came from several): a right PIN clears the count only when every failure in it
        came from the same source, so a cashier signing on at the till does not give a LAN
        guesser a fresh set of tries; the lockout's end clears it too."""
        row = self._conn.execute(
            "SELECT pin_salt, pin_hash, failed_pins, locked_until, failed_source "
            "FROM lane_staff WHERE id = ? AND active = 1",
            (staff_id,),
        ).fetchone()
        wrong = Refusal("wrong_pin", "Wrong staff number or PIN.")
        if row is None or row[0] is None:
            hash_pin(pin, b"\0" * SALT_BYTES)  # same work either way: no timing hint
            return wrong, ()
        salt, stored, failed, locked_until, failed_source = row
        matches = hmac.compare_digest(hash_pin(pin, salt), stored)  # always: no timing hint
        if locked_until is not None and now.isoformat() < locked_until:
            return Refusal(
                "locked_out",
                f"Too many wrong PINs: locked until {locked_until[11:16]}. Ask a supervisor.",
            ), ()
        if locked_until is not None:  # the lockout is over: a fresh count
            failed, failed_source = 0, None
        if matches:
            member = self.get(staff_id)
            assert member is not None
            if not failed:
                return member, () if locked_until is None else (_pin_count(staff_id, 0, None),)
            if failed_source == source:
                return member, (_pin_count(staff_id, 0, None),)
            return member, ()  # another source's failures still count
        if failed and failed_source != source:
            source = MIXED
        return self._count_failure(staff_id, failed + 1, now, wrong, source)

    def _count_failure(
        self, staff_id: str, failed: int, now: datetime, wrong: Refusal, source: str
    ) -> tuple[Refusal, tuple[PinWrite, ...]]:
        limit = self._settings.pin_attempts
        if failed < limit:
            return wrong, (_pin_count(staff_id, failed, None, source),)
        until = (now + timedelta(minutes=self._settings.lockout_minutes)).isoformat()
        return (
            Refusal(
                "locked_out",
                f"Wrong PIN {limit} times: locked for {self._settings.lockout_minutes} minutes.",
            ),
            (_pin_count(staff_id, 0, until),),
        )

    # -- authorisation -------------------------------------------------------------------

    def ceiling_of(self, member: StaffMember) -> Decimal:
        return member.ceiling if member.ceiling is not None else self._settings.supervisor_ceiling

    def check_second_factor(self, staff_id: str, code: str, now: datetime) -> bool:
        """A TOTP code from the person's own enrolled app (one step of clock drift allowed),
        accepted once: the time step it matched is remembered, and a code of that step or
        an earlier one is refused (someone who watched it typed cannot use it again)."""
        secret = self.totp_secret(staff_id)
        if secret is None:
            return False
        totp = pyotp.TOTP(secret)
        current = totp.timecode(now)
        step = next(
            (
                current + drift
                for drift in (-1, 0, 1)
                if hmac.compare_digest(totp.at(now, counter_offset=drift), str(code).strip())
            ),
            None,
        )
        if step is None:
            return False
        with self._conn:
            used = self._conn.execute(
                "UPDATE lane_staff SET totp_last_step = ? WHERE id = ? "
                "AND (totp_last_step IS NULL OR totp_last_step < ?)",
                (step, staff_id, step),
            ).rowcount
        return used == 1

    def authorize_box_action(
        self,
        action: str,
        credential: Credential,
        totp_code: str,
        now: datetime,
        utc: datetime | None = None,
    ) -> StaffMember | Refusal:
        """Technician/admin actions on the box: identity, role, and a TOTP second factor.

        `now` is store-local wall time (as on lane events, for the PIN lockout); `utc` an
        aware UTC time for the TOTP code (default: `now`, read as the system's local time).
        """
        if action not in BOX_ACTIONS:
            return Refusal("unknown_action", f"{action} is not a box action.")
        who = self.identify(credential, now)
        if isinstance(who, Refusal):
            return who
        if not self._settings.allows(who.role, action):
            return Refusal("not_permitted", f"{who.name} ({who.role}) may not {action}.")
        if not who.has_totp:
            return Refusal("no_second_factor", f"{who.name} has no authenticator enrolled.")
        if not self.check_second_factor(who.id, totp_code, utc or now):
            return Refusal("wrong_second_factor", "The authenticator code is not valid.")
        return who


PinWrite = Callable[[sqlite3.Connection], None]


def _pin_count(
    staff_id: str, failed: int, locked_until: str | None, source: str | None = None
) -> PinWrite:
    """The PIN-attempt count of one person (0 and a lock time when the limit was reached)
    and where the counted failures came from."""

    def write(conn: sqlite3.Connection) -> None:
        conn.execute(
            "UPDATE lane_staff SET failed_pins = ?, locked_until = ?, failed_source = ? "
            "WHERE id = ?",
            (failed, locked_until, source if failed else None, staff_id),
        )

    return write


def _member(row: tuple[object, ...]) -> StaffMember:
    staff_id, name, role, ceiling, has_totp = row
    return StaffMember(
        id=str(staff_id),
        name=str(name),
        role=str(role),
        ceiling=None if ceiling is None else Decimal(str(ceiling)),
        has_totp=bool(has_totp),
    )
