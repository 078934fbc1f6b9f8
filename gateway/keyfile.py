"""The box's secrets key: seals the TOTP seeds so the database alone does not hold them.

Owns the key file (`paths.secrets_key`, default `secrets.key` beside the database; see
docs/install.md) and the sealed form of a secret in the database: `sealed:v1:` and a
Fernet token (AES-128-CBC + HMAC-SHA256, `cryptography`). A headless Pi has no keyring
daemon or TPM to ask, so the key is a file of the service account, 0600, created on first
use, never inside the database and never in a backup: a stolen database file or backup
gives no second factor. Whoever holds the key file and the database holds the seeds, so
the key is kept apart from the backups (docs/install.md says where to keep a copy).

A missing key file is created only when nothing sealed exists yet; once secrets are
sealed, a missing or different key is an error that names the file, never a fresh key
that would quietly make every enrolled authenticator useless.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from gateway.errors import StoregateError
from gateway.private_files import FILE_MODE, private_dir, tighten

SEALED_PREFIX = "sealed:v1:"


class SecretsKeyError(StoregateError):
    """The secrets key file is missing, unreadable or not the one that sealed the data."""


def is_sealed(value: str) -> bool:
    return value.startswith(SEALED_PREFIX)


class SecretsKey:
    """The key file at `path`, read (or created) when first needed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fernet: Fernet | None = None

    def seal(self, secret: str, *, may_create: bool) -> str:
        """`secret` as stored: the prefix and a Fernet token. `may_create`: the key file
        may be made now (the caller knows nothing is sealed with another key yet)."""
        token = self._key(create=may_create).encrypt(secret.encode()).decode()
        return SEALED_PREFIX + token

    def open(self, stored: str) -> str:
        """The secret a sealed value holds; a clear (pre-sealing) value is returned as is."""
        if not is_sealed(stored):
            return stored
        try:
            return self._key(create=False).decrypt(stored[len(SEALED_PREFIX) :]).decode()
        except InvalidToken:
            raise SecretsKeyError(
                "the secrets key cannot open the sealed TOTP seeds (it is not the key "
                "that sealed them)",
                where=str(self.path),
                fix="put back the secrets key this database was used with "
                "(docs/install.md, keeping the key), or re-enrol with `gateway staff totp`",
            ) from None

    def _key(self, *, create: bool) -> Fernet:
        if self._fernet is None:
            self._fernet = Fernet(self._read(create))
        return self._fernet

    def _read(self, create: bool) -> bytes:
        try:
            tighten(self.path)
            return self.path.read_bytes().strip()
        except FileNotFoundError:
            if not create:
                raise SecretsKeyError(
                    "the secrets key file is missing, so the TOTP seeds cannot be opened",
                    where=str(self.path),
                    fix="put back the copy of the key (docs/install.md, keeping the key), "
                    "or set paths.secrets_key to where it is",
                ) from None
        except OSError as exc:
            raise SecretsKeyError(
                f"the secrets key file cannot be read: {exc.strerror}",
                where=str(self.path),
                fix="the key belongs to the service account (storegate), mode 0600",
            ) from None
        return self._create()

    def _create(self) -> bytes:
        key = Fernet.generate_key()
        try:
            private_dir(self.path.parent)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        except FileExistsError:
            return self.path.read_bytes().strip()  # another process made it first
        except OSError as exc:
            raise SecretsKeyError(
                f"the secrets key file cannot be created: {exc.strerror}",
                where=str(self.path),
                fix="create its folder writable by the service account, or set "
                "paths.secrets_key to a path it may write (docs/install.md)",
            ) from None
        try:
            os.fchmod(fd, FILE_MODE)
            os.write(fd, key + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        return key
