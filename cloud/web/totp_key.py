"""Head office's TOTP key: web accounts' TOTP seeds sealed, so the database alone gives no
second factor.

Owns the key file (`[web] totp_key` in head office's settings, default
/etc/storegate/cloud-totp.key; `cloud web key generate` writes it), the sealed form of a
seed in `web_account.totp_secret`. Must not know the table, sign-in or sessions:
`cloud.web.accounts` reads and writes the rows (and seals the clear seeds of databases
from before) and decides.

Sealed form: `sealed:v1:KEYID:` and base64url(nonce (12 bytes) || AES-256-GCM ciphertext
and tag), with the account's name (the table's key) as associated data: a sealed seed
copied into another account's row does not open there. KEYID, the first 16 hex digits of
SHA-256 over the key, tells a wrong key file (another KEYID: one clear error at start,
before anyone signs in) from an altered or moved row (the right KEYID that does not
verify: that account's sign-in is refused and audited).

Not the box's `gateway.keyfile`: that one is Fernet (no associated data) and makes a key on
first use, which suits one box with one database. Head office may run several `cloud web
serve` against one PostgreSQL, each of which must hold the *same* key, so a key is only
ever made by `cloud web key generate`, and a missing key is an error, never a fresh key
that would open none of the sealed seeds. The key lives outside the database and its
backups; whoever holds the database without the key holds no seed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import BaseModel, ConfigDict, Field

from gateway.errors import StoregateError
from gateway.private_files import FILE_MODE, private_dir

SEALED_PREFIX = "sealed:v1:"
KEY_BYTES = 32
NONCE_BYTES = 12
DEFAULT_TOTP_KEY = Path("/etc/storegate/cloud-totp.key")
SETTING = "[web] totp_key (or $STOREGATE_CLOUD_WEB__TOTP_KEY)"
# Associated data: what a sealed seed belongs to, so it opens in that account's row only.
AAD_PREFIX = b"storegate head office web_account.totp_secret:"


class WebSettings(BaseModel):
    """The `[web]` section of head office's settings (`cloud.settings`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    totp_key: Path = Field(
        DEFAULT_TOTP_KEY,
        description="the key file that seals web accounts' TOTP seeds "
        "(`cloud web key generate` writes it; never inside the database)",
    )


class TotpKeyError(StoregateError):
    """The TOTP key file is missing, unreadable, open to others, or not the key that sealed
    the seeds (exit status 2: the operator fixes a file or a setting)."""

    exit_code = 2


class SeedRefused(Exception):
    """A stored seed that does not open for this account (altered, moved from another
    account's row, or never sealed); `why` goes to the audit log."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


def is_sealed(stored: str) -> bool:
    return stored.startswith(SEALED_PREFIX)


def key_id_of(stored: str) -> str | None:
    """The KEYID a sealed seed names (None for a clear or malformed one)."""
    if not is_sealed(stored):
        return None
    key_id, sep, _ = stored[len(SEALED_PREFIX) :].partition(":")
    return key_id if sep else None


def _aad(account: str) -> bytes:
    return AAD_PREFIX + account.encode()


@dataclass(frozen=True)
class TotpKey:
    """The 32-byte AES-256-GCM key read from `path`."""

    path: Path
    secret: bytes

    @property
    def key_id(self) -> str:
        return hashlib.sha256(self.secret).hexdigest()[:16]

    def seal(self, seed: str, account: str, nonce: bytes | None = None) -> str:
        """`seed` as `account`'s row stores it. `nonce`: 12 bytes, fresh random unless a
        test passes one."""
        nonce = os.urandom(NONCE_BYTES) if nonce is None else nonce
        box = AESGCM(self.secret).encrypt(nonce, seed.encode(), _aad(account))
        token = base64.urlsafe_b64encode(nonce + box).decode()
        return f"{SEALED_PREFIX}{self.key_id}:{token}"

    def open(self, stored: str, account: str) -> str:
        """The seed `account`'s row holds. A seed sealed with another key is this key's
        `TotpKeyError` (the operator's to fix); one that is clear, malformed, altered or
        sealed for another account is `SeedRefused`."""
        if not is_sealed(stored):
            raise SeedRefused("totp seed stored in the clear (run `cloud web key check`)")
        key_id = key_id_of(stored)
        if key_id is None:
            raise SeedRefused("totp seed malformed")
        if key_id != self.key_id:
            raise wrong_key(self, [account], key_id)
        try:
            raw = base64.urlsafe_b64decode(stored.split(":", 3)[3])
            return (
                AESGCM(self.secret)
                .decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], _aad(account))
                .decode()
            )
        except (InvalidTag, ValueError, binascii.Error):
            raise SeedRefused("totp seed does not verify for this account") from None


def wrong_key(key: TotpKey, accounts: list[str], sealed_with: str) -> TotpKeyError:
    shown = ", ".join(accounts[:5]) + (
        f" and {len(accounts) - 5} more" if len(accounts) > 5 else ""
    )
    return TotpKeyError(
        f"the TOTP seeds of {len(accounts)} account(s) ({shown}) were sealed with key "
        f"{sealed_with}, but the key file is key {key.key_id}",
        where=str(key.path),
        fix=f"put back the key file with id {sealed_with} (docs/cloud.md, 'The TOTP key') "
        f"or point {SETTING} at it; if that key is lost, enrol those accounts again with "
        "`cloud web user totp NAME`",
    )


def read_key(path: Path, *, missing_fix: str | None = None) -> TotpKey:
    """The key in `path`. A file group or others may read or write is refused before it is
    read (with the database it gives every seed away)."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        raise TotpKeyError(
            "the TOTP key file is missing, so the web accounts' TOTP seeds cannot be "
            "sealed or opened",
            where=str(path),
            fix=missing_fix
            or f"put back the copy of head office's TOTP key or point {SETTING} at it; "
            "for a first key: `cloud web key generate`",
        ) from None
    except OSError as exc:
        raise _unreadable(path, exc) from None
    if mode & 0o077:
        raise TotpKeyError(
            f"the TOTP key file is open to group or others (mode {mode:o}): refused",
            where=str(path),
            fix=f"chmod 600 {path} (if others could read it, treat the seeds as exposed: "
            "generate a new key and enrol every authenticator again)",
        )
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise _unreadable(path, exc) from None
    try:
        secret = base64.urlsafe_b64decode(text.encode())
    except (binascii.Error, ValueError):
        secret = b""
    if len(secret) != KEY_BYTES:
        raise TotpKeyError(
            "the file is not a TOTP key (one line of base64url holding 32 bytes)",
            where=str(path),
            fix="point the setting at the file `cloud web key generate` wrote",
        )
    return TotpKey(path, secret)


def _unreadable(path: Path, exc: Exception) -> TotpKeyError:
    why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return TotpKeyError(
        f"the TOTP key file cannot be read: {why}",
        where=str(path),
        fix="the key belongs to the account head office's services run as, mode 0600",
    )


def generate_key_file(path: Path) -> TotpKey:
    """A new random key written to `path` (0600; folders made 0700). An existing file is
    never overwritten: it may be the only key that opens the sealed seeds."""
    secret = os.urandom(KEY_BYTES)
    try:
        private_dir(path.parent)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE)
    except FileExistsError:
        raise TotpKeyError(
            "a TOTP key file is there already: refused to overwrite it (it may be the only "
            "key that opens the sealed seeds)",
            where=str(path),
            fix="keep it; `cloud web key check` says whether it opens the seeds; to start "
            "afresh move it away first (then every authenticator is enrolled again)",
        ) from None
    except OSError as exc:
        raise TotpKeyError(
            f"the TOTP key file cannot be created: {exc.strerror}",
            where=str(path),
            fix=f"create its folder writable by head office's service account, or point "
            f"{SETTING} at a path it may write",
        ) from None
    try:
        os.fchmod(fd, FILE_MODE)
        os.write(fd, base64.urlsafe_b64encode(secret) + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    return TotpKey(path, secret)


class KeyFile:
    """The key at `path`, read when first needed and then kept (a server reads it once)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._key: TotpKey | None = None

    def get(self, *, missing_fix: str | None = None) -> TotpKey:
        if self._key is None:
            self._key = read_key(self.path, missing_fix=missing_fix)
        return self._key
