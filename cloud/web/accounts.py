"""Head office's web accounts: who may sign in, with which role over which stores.

Owns the `web_account` and `web_audit` tables (migration 7). Roles: `admin` (every store,
every change), `regional` (the stores of one store group, `scope` = the group), `store`
(one store, `scope` = the store id), `auditor` (every store, read only). Passwords are
hashed with scrypt (N=2^15, r=8, p=1, a 16-byte salt: the standard KDF hashlib has), a
second factor is a TOTP code (pyotp), five wrong passwords lock the account for 15 minutes,
and every sign-in and change is written to the audit log. Time is passed in.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import pyotp

from cloud.clock import iso, parse_instant
from cloud.db import Database
from gateway.errors import UsageError

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


def enroll_totp(db: Database, name: str, *, by: str, now: str) -> str:
    """A fresh TOTP secret for an account; returns the provisioning URI for the app."""
    secret = pyotp.random_base32()
    with db.transaction():
        done = db.execute(
            "UPDATE web_account SET totp_secret = ? WHERE name = ?", (secret, name)
        ).rowcount
        if not done:
            raise UsageError(
                f"no account {name!r}", where="cloud web user totp", fix="add it first"
            )
        audit(db, by, "account.totp", {"account": name}, now)
    return pyotp.TOTP(secret).provisioning_uri(name=name, issuer_name="storegate head office")


def sign_in(
    db: Database, name: str, password: str, code: str, now: datetime, source: str
) -> Account | None:
    """The account when name, password and (once enrolled) the TOTP code are right; None
    otherwise, with the failure counted and audited."""
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
    if right and secret:
        right = pyotp.TOTP(secret).verify(code, for_time=now, valid_window=1)
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
            audit(db, name, "sign_in.refused", {"source": source}, stamp)
            return None
        db.execute("UPDATE web_account SET failed = 0, locked_until = NULL WHERE name = ?", (name,))
        audit(db, name, "sign_in", {"source": source}, stamp)
    return Account(name, role, scope)


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
