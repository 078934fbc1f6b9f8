"""Head office's web accounts: who may sign in, with which role over which stores.

Owns the `web_account` and `web_audit` tables (migration 7). Roles: `admin` (every store,
every change), `regional` (the stores of one store group, `scope` = the group), `store`
(one store, `scope` = the store id), `auditor` (every store, read only). Passwords are
hashed with scrypt (N=2^15, r=8, p=1, a 16-byte salt: the standard KDF hashlib has), a
second factor is a TOTP code (pyotp), five wrong passwords lock the account for 15 minutes,
and every sign-in and change is written to the audit log. Time is passed in.

Accounts are changed here only, by `cloud web user add` and by an admin's `/accounts` page
alike (`cloud.web.accounts_page`): role and scope (a scope must name a known store or an
existing group), disabling (the row and its audit trail stay; sign-in and every open
session stop at once), unlocking, a new password. The last enabled admin cannot be
disabled or demoted, so head office is never left without one.

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
import secrets
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


def check_scope(db: Database, role: str, scope: str | None, where: str) -> str | None:
    """The scope an account (or token) of `role` is given: a regional manager's existing
    store group, a store manager's known store, None for the roles that see every store."""
    from cloud.stores import groups, known_stores

    if role not in ROLES:
        raise UsageError(f"unknown role {role!r}", where=where, fix=f"one of {', '.join(ROLES)}")
    scope = (scope or "").strip() or None
    if role == "regional":
        if scope is None:
            raise UsageError(
                "a regional manager sees a store group", where=where, fix="give its group"
            )
        if scope not in groups(db):
            raise UsageError(
                f"unknown store group {scope!r}",
                where=where,
                fix="check the spelling (`cloud groups list`), or make it first with "
                "`cloud groups add GROUP STORE...`; nothing was changed",
            )
        return scope
    if role == "store":
        if scope is None:
            raise UsageError("a store manager sees one store", where=where, fix="give its store")
        if scope not in known_stores(db):
            raise UsageError(
                f"unknown store {scope!r}",
                where=where,
                fix="check the spelling (`cloud stores list`), or register it first with "
                "`cloud stores add STORE`; nothing was changed",
            )
        return scope
    return None


def check_name(name: str, where: str) -> str:
    """An account's sign-in name: printable, no spaces at its ends, not `token:...` (the
    name the audit log gives API tokens)."""
    if not name or name != name.strip() or len(name) > 64 or not name.isprintable():
        raise UsageError(
            f"{name!r} is not an account name",
            where=where,
            fix="1 to 64 printable characters, no spaces at either end",
        )
    if name.startswith("token:"):
        raise UsageError(
            f"{name!r} looks like an API token's name in the audit log",
            where=where,
            fix="choose a name that does not start with `token:`",
        )
    return name


def check_password(password: str, where: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UsageError(
            f"a password of at least {MIN_PASSWORD} characters is needed",
            where=where,
            fix="choose a longer pass phrase",
        )


def new_password() -> str:
    """A password head office chooses (an admin's reset, an account made in the page):
    20 random characters, about 120 bits, shown once and never stored in the clear."""
    return secrets.token_urlsafe(15)


def add_account(
    db: Database,
    name: str,
    role: str,
    scope: str | None,
    password: str,
    *,
    by: str,
    now: str,
    replace: bool = True,
    where: str = "cloud web user add",
) -> None:
    """Create an account, or (`replace`) change an existing one's role, scope and password
    (a new password clears a lockout). The last admin is never demoted."""
    check_name(name, where)
    scope = check_scope(db, role, scope, where)
    check_password(password, where)
    salt = os.urandom(16)
    with db.transaction():
        exists = db.one("SELECT 1 FROM web_account WHERE name = ?", (name,)) is not None
        if exists and not replace:
            raise UsageError(
                f"there is already an account {name!r}",
                where=where,
                fix="choose another name, or change that account's role or password in its row",
            )
        if exists and role != "admin":
            _keep_an_admin(db, name, where)
        db.execute(
            "INSERT INTO web_account (name, role, scope, salt, password_hash, failed, "
            "created_at) VALUES (?, ?, ?, ?, ?, 0, ?) ON CONFLICT (name) DO UPDATE SET "
            "role = excluded.role, scope = excluded.scope, salt = excluded.salt, "
            "password_hash = excluded.password_hash, failed = 0, locked_until = NULL",
            (name, role, scope, salt.hex(), hash_password(password, salt).hex(), now),
        )
        audit(db, by, "account.set", {"account": name, "role": role, "scope": scope}, now)


def _require_account(db: Database, name: str, where: str) -> tuple[str, str | None]:
    row = db.one("SELECT role, disabled_at FROM web_account WHERE name = ?", (name,))
    if row is None:
        raise UsageError(f"no account {name!r}", where=where, fix="see the list of accounts")
    return str(row[0]), row[1]


def _keep_an_admin(db: Database, name: str, where: str) -> None:
    """Refuse to take `name` out of the enabled admins when it is the last one (the rows
    locked, so two admins demoting each other at once cannot both succeed)."""
    rows = db.query(
        "SELECT name FROM web_account WHERE role = 'admin' AND disabled_at IS NULL"
        + db.lock_rows_for_update()
    )
    admins = {str(r[0]) for r in rows}
    if admins == {name}:
        raise UsageError(
            f"{name!r} is the last admin",
            where=where,
            fix="make another account admin first: head office always keeps one",
        )


def set_role(
    db: Database, name: str, role: str, scope: str | None, *, by: str, now: str, where: str
) -> None:
    """Change an account's role and scope (its password and second factor stay)."""
    scope = check_scope(db, role, scope, where)
    with db.transaction():
        before, _ = _require_account(db, name, where)
        if before == "admin" and role != "admin":
            _keep_an_admin(db, name, where)
        db.execute("UPDATE web_account SET role = ?, scope = ? WHERE name = ?", (role, scope, name))
        detail: dict[str, object] = {"account": name, "role": role, "scope": scope, "was": before}
        audit(db, by, "account.role", detail, now)


def set_disabled(db: Database, name: str, disabled: bool, *, by: str, now: str, where: str) -> None:
    """Disable an account (no sign-in, its open sessions end at their next request) or
    enable it again."""
    with db.transaction():
        role, _ = _require_account(db, name, where)
        if disabled and role == "admin":
            _keep_an_admin(db, name, where)
        db.execute(
            "UPDATE web_account SET disabled_at = ? WHERE name = ?",
            (now if disabled else None, name),
        )
        audit(db, by, "account.disable" if disabled else "account.enable", {"account": name}, now)


def unlock(db: Database, name: str, *, by: str, now: str, where: str) -> None:
    """End a lockout after too many wrong sign-ins (the count starts again)."""
    with db.transaction():
        _require_account(db, name, where)
        db.execute("UPDATE web_account SET failed = 0, locked_until = NULL WHERE name = ?", (name,))
        audit(db, by, "account.unlock", {"account": name}, now)


def reset_password(
    db: Database, name: str, password: str, *, by: str, now: str, where: str
) -> None:
    """Give an account a new password (a lockout ends; its authenticator stays)."""
    check_password(password, where)
    salt = os.urandom(16)
    with db.transaction():
        _require_account(db, name, where)
        db.execute(
            "UPDATE web_account SET salt = ?, password_hash = ?, failed = 0, locked_until = NULL "
            "WHERE name = ?",
            (salt.hex(), hash_password(password, salt).hex(), name),
        )
        audit(db, by, "account.password", {"account": name}, now)


@dataclass(frozen=True)
class AccountRow:
    """An account as `/accounts` lists it (never its hash or seed)."""

    name: str
    role: str
    scope: str | None
    totp: bool
    locked_until: str | None  # set while a lockout lasts
    disabled: bool
    created_at: str

    @property
    def state(self) -> str:
        if self.disabled:
            return "disabled"
        return f"locked until {self.locked_until}" if self.locked_until else "active"


def account_rows(db: Database, now: datetime) -> list[AccountRow]:
    rows = db.query(
        "SELECT name, role, scope, totp_secret IS NOT NULL, locked_until, disabled_at, "
        "created_at FROM web_account ORDER BY name"
    )
    return [
        AccountRow(
            str(name),
            str(role),
            scope,
            bool(totp),
            locked if locked and parse_instant(locked) > now else None,
            disabled is not None,
            str(created),
        )
        for name, role, scope, totp, locked, disabled, created in rows
    ]


def enroll_totp(db: Database, name: str, key_file: KeyFile, *, by: str, now: str) -> str:
    """A fresh TOTP secret for an account, stored sealed; returns the provisioning URI for
    the app. The key must be the one every other seed is sealed with (`check_and_seal`,
    which also seals clear seeds left from before), so one database never mixes keys."""
    if db.one("SELECT 1 FROM web_account WHERE name = ?", (name,)) is None:
        raise UsageError(f"no account {name!r}", where="cloud web user totp", fix="add it first")
    secret = pyotp.random_base32()
    _store_seed(db, name, secret, key_file, by=by, now=now)
    return totp_uri(name, secret)


def totp_uri(name: str, secret: str) -> str:
    """The provisioning URI an authenticator app reads (as a QR code or typed in)."""
    return pyotp.TOTP(secret).provisioning_uri(name=name, issuer_name="storegate head office")


def new_totp_secret() -> str:
    """A fresh TOTP seed for `confirm_totp` (the page holds it, unsaved, until confirmed)."""
    return pyotp.random_base32()


def confirm_totp(
    db: Database, name: str, secret: str, code: str, key_file: KeyFile, *, now: datetime
) -> None:
    """The account's own enrolment in the page: `secret` (shown to it once) takes effect,
    sealed as `enroll_totp` seals it, only when `code` is the authenticator's code for it
    now, so nobody is locked out by an app that did not take the seed. Audited as
    `account.totp` by the account itself; the seed is never logged or audited."""
    if not pyotp.TOTP(secret).verify(code.strip(), for_time=now, valid_window=1):
        raise UsageError(
            "the code is not the authenticator's current code",
            where="authenticator code",
            fix="add the secret to the app again and type the code it shows now",
        )
    _store_seed(db, name, secret, key_file, by=name, now=iso(now))


def _store_seed(
    db: Database, name: str, secret: str, key_file: KeyFile, *, by: str, now: str
) -> None:
    check_and_seal(db, key_file, now=now)
    key = key_file.get()  # the first seed: read here (check_and_seal needed none)
    with db.transaction():
        db.execute(
            "UPDATE web_account SET totp_secret = ? WHERE name = ?", (key.seal(secret, name), name)
        )
        audit(db, by, "account.totp", {"account": name, "key": key.key_id}, now)


def check_own_password(db: Database, name: str, password: str, now: datetime, where: str) -> None:
    """A signed-in person proves it is them (before changing its password or authenticator):
    a wrong password counts towards the lockout as a wrong sign-in does, so a session left
    open is no way to guess it, and is audited (`account.refused`)."""
    row = db.one(
        "SELECT salt, password_hash, failed, locked_until FROM web_account WHERE name = ?",
        (name,),
    )
    if row is None:
        raise UsageError(f"no account {name!r}", where=where, fix="sign in again")
    salt, digest, failed, locked = row
    right = hmac.compare_digest(hash_password(password, bytes.fromhex(salt)).hex(), digest)
    if locked and parse_instant(locked) > now:
        right = False
    if right:
        return
    with db.transaction():
        failed = int(failed) + 1
        until = iso(now + LOCKOUT) if failed >= ATTEMPTS else locked
        db.execute(
            "UPDATE web_account SET failed = ?, locked_until = ? WHERE name = ?",
            (0 if failed >= ATTEMPTS else failed, until, name),
        )
        audit(db, name, "account.refused", {"why": "current password"}, iso(now))
    raise UsageError(
        "the current password is not right (or the account is locked after too many attempts)",
        where=where,
        fix="type the password you signed in with",
    )


def change_own_password(
    db: Database, name: str, current: str, new: str, again: str, *, now: datetime
) -> None:
    """A signed-in person's new password, the current one required (`check_own_password`),
    typed twice, checked as every password is; audited as `account.password` by itself."""
    where = "new password"
    check_own_password(db, name, current, now, "current password")
    if new != again:
        raise UsageError(
            "the new password and its repetition differ", where=where, fix="type it twice alike"
        )
    if new == current:
        raise UsageError(
            "the new password is the current one", where=where, fix="choose another one"
        )
    reset_password(db, name, new, by=name, now=iso(now), where=where)


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
        "SELECT role, scope, salt, password_hash, totp_secret, failed, locked_until, "
        "disabled_at FROM web_account WHERE name = ?",
        (name,),
    )
    stamp = iso(now)
    if row is None:
        hash_password(password, b"\0" * 16)  # the same work: the time says nothing either
        with db.transaction():
            audit(db, name, "sign_in.refused", {"source": source, "why": "unknown"}, stamp)
        return None
    role, scope, salt, digest, secret, failed, locked, disabled = row
    right = hmac.compare_digest(hash_password(password, bytes.fromhex(salt)).hex(), digest)
    why: dict[str, object] = {}
    if right and disabled:
        right = False
        why["why"] = "disabled"
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
    """The account as it is now (None when there is none or it is disabled): read at
    every request, so a change an admin makes holds at the account's next click."""
    row = db.one(
        "SELECT role, scope FROM web_account WHERE name = ? AND disabled_at IS NULL", (name,)
    )
    return None if row is None else Account(name, row[0], row[1])


def visible_stores(db: Database, account: Account) -> list[str]:
    """The stores an account may see, by its role."""
    from cloud.stores import groups, known_stores

    if account.role == "store":
        return [account.scope] if account.scope else []
    if account.role == "regional":  # a group emptied on /stores: no store, not an error
        return groups(db).get(account.scope, []) if account.scope else []
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
