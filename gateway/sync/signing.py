"""Ed25519 signatures of downlink messages, with key ids so head office can rotate keys.

The signed bytes are the journal's canonical JSON (`gateway.journal.chain.canonical_json`:
sorted keys, no spaces, UTF-8, no floats) of the message's fields *as sent*, minus
`signature`. Head office signs with `sign()`; the box checks with `TrustedKeys.verify()`.
Shared with `cloud/`. Pure: no I/O, no clock.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from gateway.journal.chain import canonical_json
from gateway.journal.errors import UnserialisableBody
from gateway.sync.errors import DownlinkRefused
from gateway.sync.settings import TrustedKey


def signed_bytes(message: Mapping[str, Any]) -> bytes:
    """The bytes a signature covers: every field except `signature`, canonically."""
    return canonical_json({k: v for k, v in message.items() if k != "signature"})


def sign(message: Mapping[str, Any], key: Ed25519PrivateKey, key_id: str) -> dict[str, Any]:
    """`message` with `key_id` and `signature` set (head office side, and tests)."""
    unsigned = {**message, "key_id": key_id}
    unsigned.pop("signature", None)
    signature = key.sign(signed_bytes(unsigned))
    return {**unsigned, "signature": base64.b64encode(signature).decode("ascii")}


def public_key_b64(key: Ed25519PrivateKey) -> str:
    """The raw public key in base64, as `[[sync.trusted_keys]] public_key` wants it."""
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


class TrustedKeys:
    """The head-office public keys this box accepts, by key id."""

    def __init__(self, keys: Iterable[TrustedKey]) -> None:
        self._keys = {
            k.key_id: Ed25519PublicKey.from_public_bytes(base64.b64decode(k.public_key))
            for k in keys
        }

    @property
    def key_ids(self) -> list[str]:
        return sorted(self._keys)

    def verify(self, message: Mapping[str, Any], where: str) -> None:
        """Raise `DownlinkRefused` unless a trusted key signed exactly these fields."""
        key_id = message.get("key_id")
        key = self._keys.get(key_id) if isinstance(key_id, str) else None
        if key is None:
            raise DownlinkRefused(
                "unknown_key",
                f"signed with unknown key id {key_id!r}",
                where=where,
                fix=f"add the key to [[sync.trusted_keys]] (trusted now: {self.key_ids})",
            )
        try:
            signature = base64.b64decode(str(message.get("signature", "")), validate=True)
            key.verify(signature, signed_bytes(message))
        except (binascii.Error, ValueError, InvalidSignature) as exc:
            raise DownlinkRefused(
                "bad_signature",
                f"signature does not verify with key {key_id!r}",
                where=where,
                fix="head office must sign the exact fields it sends (gateway.sync.signing)",
            ) from exc
        except UnserialisableBody as exc:
            raise DownlinkRefused(
                "not_canonical",
                f"message has no canonical form: {exc.what}",
                where=where,
                fix="send amounts and fractions as decimal strings, never JSON floats",
            ) from exc
