"""Head office's web accounts: who may sign in, with which role over which stores.

Owns the `web_account` and `web_audit` tables (migration 7). Roles: `admin` (every store,
every change), `regional` (the stores of one store group, `scope` = the group), `store`
(one store, `scope` = the store id), `auditor` (every store, read only). Passwords are
hashed with scrypt (N=2^15, r=8, p=1, a 16-byte salt: the standard KDF hashlib has), a
second factor is a TOTP code (pyotp), five wrong passwords lock the account for 15 minutes,
and every sign-in and change is written to the audit log. Time is passed in.

TOTP seeds are stored sealed with head office's TOTP key (`cloud.web.totp_key`), the
account's name bound in: a seed that does not open for its own row refuses the sign-in.
Seeds from before sealing are sealed by `check_and_seal` (at `cloud web serve`'s start, by
`cloud web key check`, and before every enrolment); sign-in never accepts a clear one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import pyotp

from cloud.clock import iso, parse_instant
from cloud.db import Database
from cloud.web.totp_key import (
    SETTING,
    KeyFile,
    SeedRefused,
    TotpKey,
    TotpKeyError,
    is_sealed,
    key_id_of,
    wrong_key,
)
from gateway.errors import UsageError

log = logging.getLogger(__name__)

Role = Literal["admin", "regional", "store", "auditor"]
ROLES: tuple[Role, ...] = ("admin", "regional", "store", "auditor")
MIN_PASSWORD = 12
ATTEMPTS = 5
LOCKOUT = timedelta(minutes=15)
# One answer for every failed sign-in: an unknown name, a wrong password or code and a
# locked account look the same, so the form does not say which names exist.
SIGN_IN_REFUSED = "Wrong name, password or code, or locked after too many attempts."


@dataclass(frozen=True)
class Account:
    name: str
    role: Role
    scope: str | None  # the group (regional) or store (store) the account sees

    @property
    def may_change(self) -> bool:
        return self.role != "auditor"


def hash_password(password: str, salt: bytes) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=2**15, r=8, p=1, maxmem=64 * 2**20)


def add_account(
    db: Database, name: str, role: str, scope: str | None, password: str, *, by: str, now: str
) -> None:
    """Create or replace an account (a new password clears a lockout)."""
    from cloud.stores import group_stores, require_known

    if role not in ROLES:
        raise UsageError(f"unknown role {role!r}", where="--role", fix=f"one of {', '.join(ROLES)}")
    if role == "regional":
        if not scope:
            raise UsageError(
                "a regional manager sees a store group", where="--scope", fix="--scope GROUP"
            )
        group_stores(db, scope)
    elif role == "store":
        if not scope:
            raise UsageError("a store manager sees one store", where="--scope", fix="--scope STORE")
        require_known(db, [scope], "cloud web user add")
    else:
        scope = None
    if len(password) < MIN_PASSWORD:
        raise UsageError(
            f"a password of at least {MIN_PASSWORD} characters is needed",
            where="cloud web user add",
            fix="choose a longer pass phrase",
        )
    salt = os.urandom(16)
    with db.transaction():
        db.execute(
            "INSERT INTO web_account (name, role, scope, salt, password_hash, failed, "
            "created_at) VALUES (?, ?, ?, ?, ?, 0, ?) ON CONFLICT (name) DO UPDATE SET "
            "role = excluded.role, scope = excluded.scope, salt = excluded.salt, "
            "password_hash = excluded.password_hash, failed = 0, locked_until = NULL",
            (name, role, scope, salt.hex(), hash_password(password, salt).hex(), now),
        )
        audit(db, by, "account.set", {"account": name, "role": role, "scope": scope}, now)


def enroll_totp(db: Database, name: str, key_file: KeyFile, *, by: str, now: str) -> str:
    """A fresh TOTP secret for an account, stored sealed; returns the provisioning URI for
    the app. The key must be the one every other seed is sealed with (`check_and_seal`,
    which also seals clear seeds left from before), so one database never mixes keys."""
    if db.one("SELECT 1 FROM web_account WHERE name = ?", (name,)) is None:
        raise UsageError(f"no account {name!r}", where="cloud web user totp", fix="add it first")
    check_and_seal(db, key_file, now=now)
    key = key_file.get()  # the first seed: read here (check_and_seal needed none)
    secret = pyotp.random_base32()
    with db.transaction():
        db.execute(
            "UPDATE web_account SET totp_secret = ? WHERE name = ?", (key.seal(secret, name), name)
        )
        audit(db, by, "account.totp", {"account": name, "key": key.key_id}, now)
    return pyotp.TOTP(secret).provisioning_uri(name=name, issuer_name="storegate head office")


def sign_in(
    db: Database,
    name: str,
    password: str,
    code: str,
    now: datetime,
    source: str,
    key_file: KeyFile,
) -> Account | None:
    """The account when name, password and (once enrolled) the TOTP code are right; None
    otherwise, with the failure counted and audited. The seed is opened only after the
    password was right; one that does not open for this account (altered, copied from
    another row, clear) refuses, and a key that cannot be read refuses and is logged."""
    row = db.one(
        "SELECT role, scope, salt, password_hash, totp_secret, failed, locked_until "
        "FROM web_account WHERE name = ?",
        (name,),
    )
    stamp = iso(now)
    if row is None:
        hash_password(password, b"\0" * 16)  # the same work: the time says nothing either
        with db.transaction():
            audit(db, name, "sign_in.refused", {"source": source, "why": "unknown"}, stamp)
        return None
    role, scope, salt, digest, secret, failed, locked = row
    right = hmac.compare_digest(hash_password(password, bytes.fromhex(salt)).hex(), digest)
    why: dict[str, object] = {}
    if right and secret:
        seed = _open_seed(key_file, str(secret), name, why)
        right = seed is not None and pyotp.TOTP(seed).verify(code, for_time=now, valid_window=1)
    if locked and parse_instant(locked) > now:
        right = False
    with db.transaction():
        if not right:
            failed = int(failed) + 1
            until = iso(now + LOCKOUT) if failed >= ATTEMPTS else locked
            db.execute(
                "UPDATE web_account SET failed = ?, locked_until = ? WHERE name = ?",
                (0 if failed >= ATTEMPTS else failed, until, name),
            )
            audit(db, name, "sign_in.refused", {"source": source, **why}, stamp)
            return None
        db.execute("UPDATE web_account SET failed = 0, locked_until = NULL WHERE name = ?", (name,))
        audit(db, name, "sign_in", {"source": source}, stamp)
    return Account(name, role, scope)


def _open_seed(key_file: KeyFile, stored: str, name: str, why: dict[str, object]) -> str | None:
    """The account's seed, or None with the reason put in `why` (for the audit log)."""
    try:
        return key_file.get().open(stored, name)
    except SeedRefused as exc:
        why["why"] = exc.why
    except TotpKeyError as exc:
        log.error("cloud web: TOTP sign-in of %s refused: %s", name, exc.describe())
        why["why"] = "totp key: " + str(exc)
    return None


def get_account(db: Database, name: str) -> Account | None:
    row = db.one("SELECT role, scope FROM web_account WHERE name = ?", (name,))
    return None if row is None else Account(name, row[0], row[1])


def visible_stores(db: Database, account: Account) -> list[str]:
    """The stores an account may see, by its role."""
    from cloud.stores import group_stores, known_stores

    if account.role == "store":
        return [account.scope] if account.scope else []
    if account.role == "regional":
        return group_stores(db, account.scope) if account.scope else []
    return sorted(known_stores(db))


def audit(db: Database, who: str, action: str, detail: dict[str, object], now: str) -> None:
    """One line of the audit log (call inside a transaction)."""
    db.execute(
        "INSERT INTO web_audit (at, account, action, detail) VALUES (?, ?, ?, ?)",
        (now, who, action, json.dumps(detail, sort_keys=True, default=str)),
    )


def audit_log(db: Database, limit: int = 200) -> list[tuple[str, str, str, str]]:
    rows = db.query(
        "SELECT at, account, action, detail FROM web_audit ORDER BY id DESC LIMIT ?", (limit,)
    )
    return [(str(a), str(b), str(c), str(d)) for a, b, c, d in rows]


@dataclass(frozen=True)
class SeedCheck:
    """What `check_and_seal` found: the key's id (None: no seed, no key needed), the clear
    seeds it sealed, and (when asked to open them) the accounts whose seed did not open."""

    key_id: str | None
    sealed_now: list[str]
    enrolled: int
    refused: list[tuple[str, str]]


def check_and_seal(
    db: Database, key_file: KeyFile, *, now: str, open_all: bool = False
) -> SeedCheck:
    """Check that the key file is the one every sealed seed names, then seal the seeds
    still stored in the clear (databases from before sealing), each under its account;
    each sealing is audited (`account.totp_sealed`, by `cloud`).

    No seed at all: nothing is read and no key is needed. A key file missing while seeds
    exist, or another key than the one they name, is a `TotpKeyError` and nothing is
    written. `open_all` also opens every seed (`cloud web key check`) and lists those that
    do not verify for their account."""
    rows = db.query(
        "SELECT name, totp_secret FROM web_account WHERE totp_secret IS NOT NULL ORDER BY name"
    )
    if not rows:
        return SeedCheck(None, [], 0, [])
    sealed = [(str(n), str(s)) for n, s in rows if is_sealed(str(s))]
    clear = [(str(n), str(s)) for n, s in rows if not is_sealed(str(s))]
    key = key_file.get(
        missing_fix=(
            f"put back the copy of head office's TOTP key or point {SETTING} at it: "
            f"{len(sealed)} account(s) have a sealed seed that only that key opens (never "
            "generate a new key for them; if it is lost, enrol them again)"
        )
        if sealed
        else f"{len(clear)} account(s) have a TOTP seed stored in the clear from before "
        "sealing: create the key with `cloud web key generate` (keep a copy apart from the "
        "database's backups), then start again; the seeds are sealed then"
    )
    by_other: dict[str, list[str]] = {}
    for name, stored in sealed:
        key_id = key_id_of(stored) or "(malformed)"
        if key_id != key.key_id:
            by_other.setdefault(key_id, []).append(name)
    if by_other:
        other, names = max(by_other.items(), key=lambda item: len(item[1]))
        raise wrong_key(key, names, other)
    if clear:
        _seal_clear(db, key, clear, now)
    refused: list[tuple[str, str]] = []
    if open_all:
        for name, stored in db.query(
            "SELECT name, totp_secret FROM web_account WHERE totp_secret IS NOT NULL ORDER BY name"
        ):
            try:
                key.open(str(stored), str(name))
            except SeedRefused as exc:
                refused.append((str(name), exc.why))
    return SeedCheck(key.key_id, [n for n, _ in clear], len(rows), refused)


def _seal_clear(db: Database, key: TotpKey, clear: list[tuple[str, str]], now: str) -> None:
    """Overwrite each clear seed with its sealed form (only if the row still holds that
    clear seed: two servers starting at once seal each row once), then leave no old copy
    behind: SQLite with `secure_delete` on, a VACUUM (pages freed before) and the WAL
    checkpointed and truncated; PostgreSQL with `VACUUM FULL web_account` (the old row
    versions otherwise stay in the table's file until vacuumed)."""
    if db.dialect == "sqlite":
        db.conn.execute("PRAGMA secure_delete = ON")
    try:
        with db.transaction():
            for name, seed in clear:
                db.execute(
                    "UPDATE web_account SET totp_secret = ? WHERE name = ? AND totp_secret = ?",
                    (key.seal(seed, name), name, seed),
                )
                audit(db, "cloud", "account.totp_sealed", {"account": name}, now)
        _scrub(db)
    finally:
        if db.dialect == "sqlite":
            db.conn.execute("PRAGMA secure_delete = OFF")


def _scrub(db: Database) -> None:
    """Leave no copy of the clear seeds in the database's files (see `_seal_clear`)."""
    if db.dialect == "sqlite":
        db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.conn.execute("VACUUM")
        db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return
    db.conn.commit()
    db.conn.autocommit = True
    try:
        db.conn.execute("VACUUM FULL web_account")
    except db.driver_errors as exc:  # sealed all the same: say what is left to do
        log.warning(
            "web_account: the TOTP seeds are sealed, but the old clear row versions could "
            "not be vacuumed away (%s)\n  fix: run `VACUUM FULL web_account` as the "
            "table's owner (until then they stay in the table's dead rows)",
            str(exc).strip(),
        )
    finally:
        db.conn.autocommit = False
