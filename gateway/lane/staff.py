"""Staff: who may work the till, how they prove it, and what each may do.

Owns the `lane_staff` table (migration 3): people, roles, staff cards, PINs stored only as
salted scrypt hashes, a wrong-PIN counter with lockout, per-person override ceilings and
TOTP secrets for the second factor technicians and admins need on box actions, sealed with
the box's secrets key (`gateway.keyfile`) so the database file alone holds no seed. It does
not touch the journal (the lane records overrides) nor any other table. Time is passed in.

PIN hashes (docs/lane.md, "PINs at rest"; figures in bench/README.md) are
`gateway.lane.pins`': the till waits for one scrypt lane (~35 ms here), an attacker pays
for all of them on every guess. A hash of an older cost (the single-lane hash before
issue 13) still signs its person on and is replaced at that sign-on.

People come from two places (`origin`, migration 8): added on the box (`local`), or
from head office's signed staff document (`head_office`, `apply_central_intent`). A
newer document replaces head office's people and never touches the box's own.
"""

from __future__ import annotations

import hmac
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Literal

import pyotp
import sqlite_utils

from gateway.cardsafe import has_card_data, mask_card_data
from gateway.errors import StoregateError
from gateway.keyfile import SecretsKey, is_sealed
from gateway.lane.events import Credential, Refusal
from gateway.lane.pins import LEGACY_COST as LEGACY_COST
from gateway.lane.pins import PIN_COST as PIN_COST
from gateway.lane.pins import PIN_MAX_DIGITS as PIN_MAX_DIGITS
from gateway.lane.pins import SALT_BYTES as SALT_BYTES
from gateway.lane.pins import PinCost as PinCost
from gateway.lane.pins import hash_pin as hash_pin
from gateway.lane.pins import pin_problem
from gateway.lane.pins import stored_cost as stored_cost
from gateway.lane.pins import trivial_pin as trivial_pin
from gateway.lane.records import StaffRef
from gateway.lane.settings import BOX_ACTIONS, ROLES, LaneSettings
from gateway.lane.staff_document import StaffDocument, StaffDocumentRefused
from gateway.money import parse_amount

# A write intended by a step, run by the caller inside the transaction it commits with.
PinWrite = Callable[[sqlite3.Connection], None]

APPROVER_ROLES = ("technician", "admin")  # who may approve box actions (ends the bootstrap)
Bootstrap = Literal["first_admin", "pin_only"]  # a new box's stages, see StaffDirectory
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


def _check_pin_shape(pin: str, min_digits: int) -> None:
    if problem := pin_problem(pin, min_digits):
        raise StaffError(problem.what, where="staff PIN", fix=problem.fix)


# `gateway staff ACTION`: what each change does (journalled as `staff_ACTION`).
STAFF_ACTIONS: dict[str, str] = {
    "add": "add or replace a person",
    "totp": "enrol an authenticator",
    "disable": "keep the person but refuse their card and PIN",
    "enable": "let a disabled person sign on again",
    "unlock": "clear a lockout and the wrong-PIN count",
    "remove": "delete the person (their journal records keep their name)",
}
STATE_ACTIONS = ("disable", "enable", "unlock", "remove")  # change a person's standing only


@dataclass(frozen=True)
class StaffChange:
    """`gateway staff add|totp|disable|enable|unlock|remove` as data, so the CLI can apply
    it to the file itself or hand it to the running daemon (the database's one writer)
    over the control socket."""

    action: str  # one of STAFF_ACTIONS
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
        if fields.get("action") not in STAFF_ACTIONS or not fields.get("staff_id"):
            raise StaffError(
                f"a staff change needs an action ({', '.join(STAFF_ACTIONS)}) and a staff id",
                where="staff request",
                fix="use `gateway staff add|totp`",
            )
        return cls(**fields)  # type: ignore[arg-type]


@dataclass(frozen=True)
class StaffChanged:
    """A staff change approved, not yet written: the line to show, who approved it (None:
    the bootstrap's first admin, added unapproved), the person changed as journalled, and
    the write to commit with that record."""

    text: str
    actor: StaffMember | None
    staff: dict[str, str]
    write: PinWrite


def _staff_view(staff_id: str, name: str, role: str) -> dict[str, str]:
    return {"id": staff_id, "name": name, "role": role}


@dataclass(frozen=True)
class StaffListing:
    """One person as `gateway staff list` shows them: how they may sign on and their
    standing. Never the card's value, the PIN's hash or the TOTP seed."""

    id: str
    name: str
    role: str
    card: bool
    pin: bool
    totp: bool
    active: bool
    failed_pins: int
    locked_until: str | None  # store-local ISO time, only while the lockout lasts
    origin: str = "local"  # or "head_office": from the staff document (docs/lane.md)

    def state(self) -> str:
        if not self.active:
            return "disabled"
        if self.locked_until:
            return f"locked until {self.locked_until[11:16]}"
        return f"{self.failed_pins} wrong PIN(s)" if self.failed_pins else "active"


HEAD_OFFICE = "head_office"  # `lane_staff.origin` of a person from the staff document


@dataclass(frozen=True)
class CentralApplied:
    """A staff document checked, not yet written: who it adds, changes, removes and takes
    over from the box's own people (as journalled; never a PIN hash), and the write."""

    version: int
    added: tuple[str, ...]
    changed: tuple[str, ...]
    removed: tuple[str, ...]
    taken_over: tuple[str, ...]
    write: PinWrite

    def details(self) -> dict[str, object]:
        return {
            "version": self.version,
            "added": list(self.added),
            "changed": list(self.changed),
            "removed": list(self.removed),
            "taken_over": list(self.taken_over),
        }


_BOOTSTRAP_STRENGTH: dict[Bootstrap | None, int] = {"first_admin": 0, "pin_only": 1, None: 2}


class StaffDirectory:
    """The staff table, for the lane (identify, authorise) and the CLI (add, enrol)."""

    def __init__(
        self,
        db: sqlite_utils.Database,
        settings: LaneSettings,
        *,
        secrets_key: SecretsKey | None = None,
    ) -> None:
        """`secrets_key`: the key that seals TOTP seeds (default: `secrets.key` beside the
        database file, as `paths.secrets_key` defaults to)."""
        self._conn: sqlite3.Connection = db.conn
        self._settings = settings
        self._key = secrets_key or SecretsKey(default_key_path(self._conn))

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
        """Create or update a person at once (tests, the demo, the bootstrap's files); a
        change asked by someone goes through `intend_change` and is journalled with it."""
        write = self.upsert_intent(staff_id, name, role, pin=pin, card=card, ceiling=ceiling)
        with self._conn:
            write(self._conn)
        member = self.get(staff_id)
        assert member is not None
        return member

    def upsert_intent(
        self,
        staff_id: str,
        name: str,
        role: str,
        *,
        pin: str | None = None,
        card: str | None = None,
        ceiling: Decimal | None = None,
    ) -> PinWrite:
        """The write that creates or updates a person, checked first (nothing is written
        here). A PIN or TOTP already enrolled is kept unless a new PIN is given, and any
        lockout is cleared. A payment card is never a staff card (its number would be stored
        in full); a card number in the name is masked. Head office's people are changed at
        head office only (`_refuse_central`)."""
        self._refuse_central(staff_id, "add")
        if card is not None and has_card_data(card):
            raise StaffError(
                "that is a payment card's number: it cannot be a staff card",
                where=f"staff {staff_id}",
                fix="enrol the person's staff badge (or a PIN)",
            )
        name = mask_card_data(name)
        if role not in ROLES:
            raise StaffError(
                f"unknown role {role!r}",
                where=f"staff {staff_id}",
                fix=f"use one of {', '.join(ROLES)}",
            )
        if pin is None and card is None and not self._has_pin(staff_id):
            raise StaffError(
                "a person needs a PIN or a staff card to sign on",
                where=f"staff {staff_id}",
                fix="give a PIN when asked, or --card CARD",
            )
        salt = pin_hash = None
        if pin is not None:
            _check_pin_shape(pin, self._settings.pin_min_digits)
            salt = os.urandom(SALT_BYTES)
            pin_hash = hash_pin(pin, salt)
        row = (
            staff_id,
            name,
            role,
            card,
            salt,
            pin_hash,
            None if ceiling is None else str(ceiling),
        )

        def write(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(
                    "INSERT INTO lane_staff (id, name, role, card, pin_salt, pin_hash, ceiling) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
                    "name = excluded.name, role = excluded.role, card = excluded.card, "
                    "pin_salt = coalesce(excluded.pin_salt, pin_salt), "
                    "pin_hash = coalesce(excluded.pin_hash, pin_hash), "
                    "ceiling = excluded.ceiling, failed_pins = 0, locked_until = NULL, "
                    "failed_source = NULL, "
                    "active = 1",
                    row,
                )
            except sqlite3.IntegrityError as exc:
                raise StaffError(
                    f"staff card {card} already belongs to someone else",
                    where=f"staff {staff_id}",
                    fix="use another card",
                ) from exc

        return write

    def enroll_totp(self, staff_id: str) -> str:
        """Give a person a fresh TOTP secret at once; returns the provisioning URI."""
        uri, write = self.totp_intent(staff_id)
        with self._conn:
            write(self._conn)
        return uri

    def totp_intent(self, staff_id: str) -> tuple[str, PinWrite]:
        """A fresh TOTP secret for a person: its provisioning URI for the authenticator app,
        and the write that stores it sealed (nothing is written here)."""
        self._refuse_central(staff_id, "totp")
        member = self.get(staff_id)
        if member is None:
            raise StaffError(
                "no such staff member",
                where=f"staff {staff_id}",
                fix="add them first with `gateway staff add`",
            )
        secret = pyotp.random_base32()
        sealed = self._key.seal(secret, may_create=not self._any_sealed())

        def write(conn: sqlite3.Connection) -> None:
            conn.execute("UPDATE lane_staff SET totp_secret = ? WHERE id = ?", (sealed, staff_id))

        uri = pyotp.TOTP(secret).provisioning_uri(
            name=f"{member.name} ({staff_id})", issuer_name=self._settings.totp_issuer
        )
        return uri, write

    def intend_change(
        self, change: StaffChange, now: datetime, utc: datetime
    ) -> StaffChanged | Refusal:
        """A staff change checked and approved, with the write that makes it (nothing of the
        change is written here: the caller commits `write` with the change's journal record,
        `gateway.daemon.box_actions.journal_staff_change`). A wrong approver PIN is counted
        at once, as everywhere.

        The approval follows the bootstrap (`bootstrap`): with no admin or technician yet,
        only the first of them may be added, unapproved; until one of them has an
        authenticator, a change needs their PIN; after that their PIN and TOTP code.
        `now` is store-local wall time (PIN lockout), `utc` an aware time (TOTP)."""
        first = change.action == "add" and change.role in APPROVER_ROLES
        actor: StaffMember | None = None
        if not (first and self.bootstrap() == "first_admin"):
            approved = self.authorize_change(
                "change_settings",
                Credential(staff_id=change.by, pin=change.by_pin) if change.by else None,
                change.totp,
                now,
                utc,
            )
            if isinstance(approved, Refusal):
                return approved
            actor = approved
        if change.action in STATE_ACTIONS:
            text, view, write = self.standing_intent(change.action, change.staff_id)
            return StaffChanged(text, actor, view, write)
        if change.action == "totp":
            uri, write = self.totp_intent(change.staff_id)
            member = self.get(change.staff_id)
            assert member is not None  # totp_intent refused an unknown person
            return StaffChanged(uri, actor, _staff_view(member.id, member.name, member.role), write)
        ceiling = None
        if change.ceiling:
            try:
                ceiling = parse_amount(change.ceiling, 4, what="override ceiling")
            except ValueError as exc:
                raise StaffError(
                    str(exc), where=f"staff {change.staff_id}", fix="write the ceiling like 100.00"
                ) from None
        write = self.upsert_intent(
            change.staff_id,
            change.name,
            change.role,
            pin=change.pin or None,
            card=change.card,
            ceiling=ceiling,
        )
        name = mask_card_data(change.name)
        return StaffChanged(
            f"staff {change.staff_id} {name} ({change.role}) saved",
            actor,
            _staff_view(change.staff_id, name, change.role),
            write,
        )

    def standing_intent(self, action: str, staff_id: str) -> tuple[str, dict[str, str], PinWrite]:
        """`disable`, `enable`, `unlock` or `remove` one person: the line to show, the person
        as journalled and the write (nothing is written here). Refused: an unknown person, a
        change that changes nothing, and disabling or removing the admin or technician the
        box's approvals rest on (that would reopen the bootstrap to anyone on the socket)."""
        row = self._conn.execute(
            "SELECT name, role, active, failed_pins, locked_until FROM lane_staff WHERE id = ?",
            (staff_id,),
        ).fetchone()
        where = f"staff {staff_id}"
        if row is None:
            raise StaffError(
                "no such staff member", where=where, fix="`gateway staff list` shows who exists"
            )
        name, role, active, failed, locked_until = row
        if action == "remove":
            self._refuse_central(staff_id, action)
        view = _staff_view(staff_id, str(name), str(role))
        now_stage = self.bootstrap()
        weakens = (
            _BOOTSTRAP_STRENGTH[self.bootstrap(without=staff_id)] < _BOOTSTRAP_STRENGTH[now_stage]
        )
        if action in ("disable", "remove") and active and weakens:
            raise StaffError(
                f"{name} is the last {role} who can approve box changes"
                + (" with an authenticator" if now_stage is None else ""),
                where=where,
                fix="add (and enrol) another admin or technician first",
            )
        nothing = {
            "disable": (not active, "is already disabled", "`gateway staff enable` undoes it"),
            "enable": (bool(active), "is not disabled", "nothing to do"),
            "unlock": (
                not failed and locked_until is None,
                "is not locked out and has no wrong PIN counted",
                "nothing to do",
            ),
        }
        if action in nothing and nothing[action][0]:
            _, what, fix = nothing[action]
            raise StaffError(f"{name} {what}", where=where, fix=fix)
        sql = {
            "disable": "UPDATE lane_staff SET active = 0 WHERE id = ?",
            "enable": "UPDATE lane_staff SET active = 1 WHERE id = ?",
            "unlock": "UPDATE lane_staff SET failed_pins = 0, locked_until = NULL, "
            "failed_source = NULL WHERE id = ?",
            "remove": "DELETE FROM lane_staff WHERE id = ?",
        }[action]

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(sql, (staff_id,))

        done = {"disable": "disabled", "enable": "enabled", "unlock": "unlocked"}
        return f"staff {staff_id} {name} ({role}) {done.get(action, 'removed')}", view, write

    def _refuse_central(self, staff_id: str, action: str) -> None:
        """Head office's people are head office's: replacing, removing or enrolling one on
        the box would be undone (or contradicted) by the next staff document. The box may
        still disable, enable and unlock them (a store acts at once; that standing holds
        until head office changes the person)."""
        row = self._conn.execute(
            "SELECT origin FROM lane_staff WHERE id = ?", (staff_id,)
        ).fetchone()
        if row is not None and row[0] == HEAD_OFFICE:
            raise StaffError(
                f"staff {staff_id} comes from head office's staff document: `{action}` is "
                "head office's to do",
                where=f"staff {staff_id}",
                fix="change them at head office (cloud staff add|disable|remove, then cloud "
                "staff publish); on the box, disable, enable and unlock still work",
            )

    def apply_central_intent(self, document: StaffDocument) -> CentralApplied:
        """Head office's staff document as one write (nothing is written here): its people
        are added or brought up to date, head office's people it no longer holds are
        removed, and the box's own people are left alone.

        A person head office left as they were (same entry as last applied) is not
        touched, so a local disable or a lockout stands. A staff id the box already gives
        one of its own cashiers or supervisors is taken over by head office's person (head
        office wins; the ids taken over are listed in the result, which the daemon
        journals). Refused whole (`StaffDocumentRefused`, the staff in force stay): a staff
        id that is the box's own admin or technician (taking it over would change who
        approves box changes), and a staff card that one of the box's own people holds."""
        rows = {
            str(r[0]): (str(r[1]), str(r[2]), r[3], r[4])
            for r in self._conn.execute(
                "SELECT id, origin, role, central_digest, card FROM lane_staff"
            ).fetchall()
        }
        wanted = {person.id: person for person in document.staff}
        source = f"staff document version {document.version}"
        for staff_id in sorted(wanted):
            found = rows.get(staff_id)
            if found and found[0] != HEAD_OFFICE and found[1] in APPROVER_ROLES:
                raise StaffDocumentRefused(
                    f"staff id {staff_id} is this box's own {found[1]}: head office's "
                    "person of that id is refused",
                    where=source,
                    fix="give head office's person another staff id (or remove the box's "
                    f"own with `gateway staff remove {staff_id}`)",
                )
        local_cards = {
            str(r[3]): staff_id
            for staff_id, r in rows.items()
            if r[0] != HEAD_OFFICE and r[3] is not None and staff_id not in wanted
        }
        for person in document.staff:
            if person.card is not None and person.card in local_cards:
                raise StaffDocumentRefused(
                    f"head office's person {person.id} has a staff card this box gives its "
                    f"own person {local_cards[person.card]}",
                    where=source,
                    fix="give one of them another card",
                )
        added = [i for i in sorted(wanted) if i not in rows]
        taken_over = [i for i in sorted(wanted) if i in rows and rows[i][0] != HEAD_OFFICE]
        changed = [
            i
            for i in sorted(wanted)
            if i in rows and rows[i][0] == HEAD_OFFICE and rows[i][2] != wanted[i].digest()
        ]
        removed = sorted(i for i, r in rows.items() if r[0] == HEAD_OFFICE and i not in wanted)
        writes = [wanted[i] for i in (*added, *taken_over, *changed)]

        def write(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "DELETE FROM lane_staff WHERE id = ?", [(i,) for i in (*removed, *taken_over)]
            )
            # Cards may move between head office's people in one document: free them first.
            conn.executemany(
                "UPDATE lane_staff SET card = NULL WHERE id = ?", [(p.id,) for p in writes]
            )
            for person in writes:
                salt, digest = person.salt_bytes(), person.hash_bytes()
                conn.execute(
                    "INSERT INTO lane_staff (id, name, role, card, pin_salt, pin_hash, "
                    "ceiling, active, origin, central_digest) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
                    "name = excluded.name, role = excluded.role, card = excluded.card, "
                    "ceiling = excluded.ceiling, active = excluded.active, "
                    "central_digest = excluded.central_digest, "
                    "failed_pins = CASE WHEN pin_hash IS excluded.pin_hash THEN failed_pins "
                    "ELSE 0 END, "
                    "locked_until = CASE WHEN pin_hash IS excluded.pin_hash THEN locked_until "
                    "END, "
                    "failed_source = CASE WHEN pin_hash IS excluded.pin_hash THEN "
                    "failed_source END, "
                    "pin_salt = excluded.pin_salt, pin_hash = excluded.pin_hash",
                    (
                        person.id,
                        person.name,
                        person.role,
                        person.card,
                        salt,
                        digest,
                        person.ceiling,
                        int(person.active),
                        HEAD_OFFICE,
                        person.digest(),
                    ),
                )

        return CentralApplied(
            version=document.version,
            added=tuple(added),
            changed=tuple(changed),
            removed=tuple(removed),
            taken_over=tuple(taken_over),
            write=write,
        )

    def roster(self, now: datetime) -> list[StaffListing]:
        """Everyone, active or not, by staff number; a lockout over at `now` (store-local
        time) is not shown."""
        rows = self._conn.execute(
            "SELECT id, name, role, card IS NOT NULL, pin_hash IS NOT NULL, "
            "totp_secret IS NOT NULL, active, failed_pins, locked_until, origin FROM lane_staff "
            "ORDER BY id"
        ).fetchall()
        return [
            StaffListing(
                id=str(r[0]),
                name=str(r[1]),
                role=str(r[2]),
                card=bool(r[3]),
                pin=bool(r[4]),
                totp=bool(r[5]),
                active=bool(r[6]),
                failed_pins=int(r[7]) if r[8] is None or now.isoformat() < r[8] else 0,
                locked_until=r[8] if r[8] is not None and now.isoformat() < r[8] else None,
                origin=str(r[9]),
            )
            for r in rows
        ]

    def _has_pin(self, staff_id: str) -> bool:
        row = self._conn.execute(
            "SELECT pin_hash IS NOT NULL FROM lane_staff WHERE id = ?", (staff_id,)
        ).fetchone()
        return bool(row and row[0])

    def second_factor_enrolled(self, without: str | None = None) -> bool:
        """Has anyone who may change the box an authenticator enrolled (bootstrap is over)?
        `without`: as if that person were gone."""
        return (
            self._conn.execute(
                "SELECT 1 FROM lane_staff WHERE active = 1 AND totp_secret IS NOT NULL AND role "
                "IN ('technician', 'admin') AND id IS NOT ? LIMIT 1",
                (without,),
            ).fetchone()
            is not None
        )

    def bootstrap(self, without: str | None = None) -> Bootstrap | None:
        """Where a new box stands (None once it is over): `first_admin` while no admin or
        technician with a PIN exists (only the first may be added, unapproved), `pin_only`
        while none of them has an authenticator (their PIN approves, no code exists).
        `without`: the stage the box would be in without that person."""
        if self.second_factor_enrolled(without):
            return None
        approver = self._conn.execute(
            "SELECT 1 FROM lane_staff WHERE active = 1 AND pin_hash IS NOT NULL AND role "
            "IN ('technician', 'admin') AND id IS NOT ? LIMIT 1",
            (without,),
        ).fetchone()
        return "pin_only" if approver else "first_admin"

    def totp_secret(self, staff_id: str) -> str | None:
        """The person's TOTP seed, opened with the secrets key (never kept in the clear)."""
        row = self._conn.execute(
            "SELECT totp_secret FROM lane_staff WHERE id = ?", (staff_id,)
        ).fetchone()
        return self._key.open(row[0]) if row and row[0] is not None else None

    def _any_sealed(self) -> bool:
        """Is a seed sealed already (then a missing key file is lost, never made anew)?"""
        rows = self._conn.execute(
            "SELECT totp_secret FROM lane_staff WHERE totp_secret IS NOT NULL"
        ).fetchall()
        return any(is_sealed(seed) for (seed,) in rows)

    def seal_clear_seeds(self) -> int:
        """Seal every TOTP seed still stored in the clear (databases from before issue 13);
        returns how many. Run at the daemon's start. The old cells are overwritten
        (`secure_delete`) and the WAL checkpointed and truncated, so the clear seed is left
        neither in a free page nor in the -wal file."""
        rows = self._conn.execute(
            "SELECT id, totp_secret FROM lane_staff WHERE totp_secret IS NOT NULL"
        ).fetchall()
        clear = [(staff_id, seed) for staff_id, seed in rows if not is_sealed(seed)]
        if not clear:
            return 0
        self._conn.execute("PRAGMA secure_delete = ON")
        try:
            with self._conn:
                for staff_id, seed in clear:
                    self._conn.execute(
                        "UPDATE lane_staff SET totp_secret = ? WHERE id = ?",
                        (self._key.seal(seed, may_create=not self._any_sealed()), staff_id),
                    )
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._conn.execute("VACUUM")  # pages freed before secure_delete was on
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            self._conn.execute("PRAGMA secure_delete = OFF")
        return len(clear)

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
        if row is None or row[0] is None or stored_cost(row[1]) is None:
            hash_pin(pin, b"\0" * SALT_BYTES)  # same work either way: no timing hint
            return wrong, ()
        salt, stored, failed, locked_until, failed_source = row
        cost = stored_cost(stored)
        assert cost is not None
        matches = hmac.compare_digest(hash_pin(pin, salt, cost), stored)  # always: no hint
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
            writes: tuple[PinWrite, ...] = ()
            if not failed:
                writes = () if locked_until is None else (_pin_count(staff_id, 0, None),)
            elif failed_source == source:
                writes = (_pin_count(staff_id, 0, None),)
            # else: another source's failures still count
            if cost != PIN_COST:  # an older, cheaper hash: replaced now that the PIN is known
                writes += (_pin_rehash(staff_id, pin),)
            return member, writes
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

    def authorize_change(
        self,
        action: str,
        credential: Credential | None,
        totp_code: str | None,
        now: datetime,
        utc: datetime,
    ) -> StaffMember | Refusal:
        """A change to the box asked by `credential` (a staff number and PIN: a card string
        typed at a socket or a prompt is not a card read), checked for `action`'s role and,
        once the bootstrap is over, with the person's TOTP code."""
        stage = self.bootstrap()
        if stage == "first_admin":
            return Refusal(
                "approval_needed",
                "This box has no admin yet: add the first one "
                "(gateway staff add ID NAME admin), then enrol their authenticator.",
            )
        if credential is None or credential.staff_id is None or credential.pin is None:
            return Refusal(
                "approval_needed",
                "This change needs an admin's or technician's approval: pass --by STAFF_ID"
                + (" (the PIN is asked)." if stage else " --totp CODE (the PIN is asked first)."),
            )
        if stage is None:
            if not totp_code:
                return Refusal(
                    "approval_needed",
                    "This change needs the approver's authenticator code too: --totp CODE.",
                )
            return self.authorize_box_action(action, credential, totp_code, now, utc)
        who = self.identify(Credential(staff_id=credential.staff_id, pin=credential.pin), now)
        if isinstance(who, Refusal):
            return who
        if not self._settings.allows(who.role, action):
            return Refusal("not_permitted", f"{who.name} ({who.role}) may not {action}.")
        return who


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


def _pin_rehash(staff_id: str, pin: str) -> PinWrite:
    """The person's PIN hashed anew at `PIN_COST`, with a fresh salt (written with the step
    that signed them on; one more hash, once per person)."""
    salt = os.urandom(SALT_BYTES)
    digest = hash_pin(pin, salt)

    def write(conn: sqlite3.Connection) -> None:
        conn.execute(
            "UPDATE lane_staff SET pin_salt = ?, pin_hash = ? WHERE id = ?",
            (salt, digest, staff_id),
        )

    return write


def default_key_path(conn: sqlite3.Connection) -> Path:
    """`secrets.key` beside the main database file (the working folder for one in memory)."""
    row = conn.execute("PRAGMA database_list").fetchone()
    database = Path(row[2]) if row and row[2] else Path("storegate.db")
    return database.with_name("secrets.key")


def _member(row: tuple[object, ...]) -> StaffMember:
    staff_id, name, role, ceiling, has_totp = row
    return StaffMember(
        id=str(staff_id),
        name=str(name),
        role=str(role),
        ceiling=None if ceiling is None else Decimal(str(ceiling)),
        has_totp=bool(has_totp),
    )
