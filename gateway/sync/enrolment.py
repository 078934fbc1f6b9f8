"""Zero-touch enrolment, the wire contract: pairing code, request, sealed answer.

Shared by the box (`gateway enrol`, gateway.sync.enrol_client) and head office (`cloud
boxes approve`, cloud.boxes). Pure: no I/O, no clock, no randomness of its own — keys,
nonces and passwords are passed in.

Theory of operation. A box without broker credentials makes an X25519 key pair and a
random request id, and connects with the shared enrolment identity, whose rights are only:
publish to `{root}/_enrol/+/request` and read `{root}/_enrol/+/answer` (the broker's rules,
cloud.broker). It publishes its request (id, public key, pairing code) retained to its own
request topic; the enrolment identity cannot read requests, so no other enrolling box
learns its id or key. The pairing code is the first 40 bits of SHA-256 of the public key,
so a request claiming a code it does not hash to is refused, and taking over a printed
code needs a 40-bit preimage. Head office, told the code by the technician, finds the one
pending request with it, issues credentials and publishes the answer, retained, to the
request's answer topic: the credentials are sealed to the box's public key (X25519 ECDH
with a fresh key, HKDF-SHA256, ChaCha20-Poly1305, the request id as associated data) and
the whole answer is signed with head office's Ed25519 key (gateway.sync.signing). Any
enrolling client may read the answer topic, but only the key's holder can open it, and a
forged answer fails the signature.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from gateway.errors import StoregateError, UsageError
from gateway.settings import IDENTIFIER as ID_PATTERN
from gateway.sync.errors import DownlinkRefused
from gateway.sync.signing import TrustedKeys, sign

ENROL_LEVEL = "_enrol"  # no store id can spell it (ids start with a letter or digit)
VERSION = 1
REQUEST_ID = re.compile(r"^[0-9a-f]{32}$")
IDENTIFIER = re.compile(ID_PATTERN)  # what [store] id / box take
# Crockford's base32: no I, L, O, U, so a code read off a receipt is not misread.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
MISREAD = str.maketrans({"I": "1", "L": "1", "O": "0"})
REQUEST_EXPIRY_S = 7 * 24 * 3600  # the broker drops a pending request after a week
ANSWER_EXPIRY_S = 7 * 24 * 3600
_INFO = b"storegate enrolment v1"


class EnrolmentError(StoregateError):
    """An enrolment message that cannot be used (malformed, forged, not ours)."""


def request_topic(root: str, request_id: str) -> str:
    return f"{root}/{ENROL_LEVEL}/{request_id}/request"


def answer_topic(root: str, request_id: str) -> str:
    return f"{root}/{ENROL_LEVEL}/{request_id}/answer"


def request_wildcard(root: str) -> str:
    return f"{root}/{ENROL_LEVEL}/+/request"


def answer_wildcard(root: str) -> str:
    return f"{root}/{ENROL_LEVEL}/+/answer"


def raw_public(key: X25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def pairing_code(public_key: bytes) -> str:
    """`XXXX-XXXX`: the first 40 bits of SHA-256(public key) in Crockford base32."""
    number = int.from_bytes(hashlib.sha256(public_key).digest()[:5], "big")
    chars = "".join(ALPHABET[(number >> shift) & 31] for shift in range(35, -1, -5))
    return f"{chars[:4]}-{chars[4:]}"


def normalise_code(text: str, where: str) -> str:
    """A code as a person typed it (any case, with or without the dash, O for 0, I/L
    for 1) in its printed form; `UsageError` when it cannot be one."""
    squeezed = re.sub(r"[\s-]", "", text.upper()).translate(MISREAD)
    if len(squeezed) != 8 or any(c not in ALPHABET for c in squeezed):
        raise UsageError(
            f"{text!r} is not a pairing code",
            where=where,
            fix="type the 8 characters the box printed, e.g. 7KQ2-M9XD",
        )
    return f"{squeezed[:4]}-{squeezed[4:]}"


@dataclass(frozen=True)
class EnrolmentRequest:
    """What a box waiting for enrolment published."""

    request_id: str
    public_key: bytes
    code: str
    hint: dict[str, str]  # what the box says about itself (host name), shown to head office

    def payload(self) -> bytes:
        body = {
            "v": VERSION,
            "request_id": self.request_id,
            "public_key": base64.b64encode(self.public_key).decode("ascii"),
            "code": self.code,
            "hint": self.hint,
        }
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def new_request(request_id: str, key: X25519PrivateKey, hint: dict[str, str]) -> EnrolmentRequest:
    public = raw_public(key)
    return EnrolmentRequest(request_id, public, pairing_code(public), dict(hint))


def parse_request(topic: str, payload: bytes, root: str) -> EnrolmentRequest:
    """A request as head office receives it; `EnrolmentError` when it is malformed, on
    another request's topic, or claims a code its key does not hash to."""
    where = f"enrolment request on {topic}"
    body = _json_object(payload, where)
    request_id = body.get("request_id")
    if not isinstance(request_id, str) or not REQUEST_ID.match(request_id):
        raise EnrolmentError("no valid request_id", where=where, fix="ignore it")
    if topic != request_topic(root, request_id):
        raise EnrolmentError("published on another request's topic", where=where, fix="ignore it")
    public = _b64(body.get("public_key"), where)
    if len(public) != 32:
        raise EnrolmentError("public_key is not 32 bytes", where=where, fix="ignore it")
    code = body.get("code")
    if code != pairing_code(public):
        raise EnrolmentError("its code does not match its key", where=where, fix="ignore it")
    raw_hint = body.get("hint")
    hint = {str(k): str(v)[:64] for k, v in raw_hint.items()} if isinstance(raw_hint, dict) else {}
    return EnrolmentRequest(request_id, public, code, hint)


@dataclass(frozen=True)
class BrokerCredentials:
    """What head office hands an enrolled box: who it is and how it logs in."""

    store: str
    box: str
    username: str
    password: str

    def as_dict(self) -> dict[str, str]:
        return {
            "store": self.store,
            "box": self.box,
            "username": self.username,
            "password": self.password,
        }

    @classmethod
    def from_dict(cls, body: dict[str, Any], where: str) -> BrokerCredentials:
        fields = {name: body.get(name) for name in ("store", "box", "username", "password")}
        bad = [name for name, value in fields.items() if not isinstance(value, str) or not value]
        if bad:
            raise EnrolmentError(
                f"missing {', '.join(bad)}",
                where=where,
                fix="enrol the box again (`gateway enrol`, then `cloud boxes approve`)",
            )
        for name in ("store", "box"):
            if not IDENTIFIER.match(str(fields[name])):
                raise EnrolmentError(f"{name} {fields[name]!r} is not an id", where=where)
        return cls(**{k: str(v) for k, v in fields.items()})


def _key(shared: bytes, request_id: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=request_id.encode(), info=_INFO)
    return hkdf.derive(shared)


def seal_answer(
    request: EnrolmentRequest,
    credentials: BrokerCredentials,
    *,
    ephemeral: X25519PrivateKey,
    nonce: bytes,
    signing_key: Ed25519PrivateKey,
    key_id: str,
) -> dict[str, Any]:
    """The signed answer for `request`: the credentials only its key's holder can open."""
    shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(request.public_key))
    plain = json.dumps({"v": VERSION, **credentials.as_dict()}, sort_keys=True).encode()
    sealed = ChaCha20Poly1305(_key(shared, request.request_id)).encrypt(
        nonce, plain, request.request_id.encode()
    )
    answer = {
        "v": VERSION,
        "request_id": request.request_id,
        "ephemeral": base64.b64encode(raw_public(ephemeral)).decode("ascii"),
        "nonce": base64.b64encode(nonce).decode("ascii"),
        "sealed": base64.b64encode(sealed).decode("ascii"),
    }
    return sign(answer, signing_key, key_id)


def open_answer(
    payload: bytes, *, request_id: str, key: X25519PrivateKey, trusted: TrustedKeys
) -> BrokerCredentials:
    """The credentials in head office's answer to our request; `EnrolmentError` when it
    is not signed by a trusted key, is for another request or cannot be opened."""
    where = f"enrolment answer for request {request_id[:8]}..."
    body = _json_object(payload, where)
    try:
        trusted.verify(body, where)
    except DownlinkRefused as exc:
        raise EnrolmentError(exc.what, where=where, fix=exc.fix) from exc
    if body.get("request_id") != request_id:
        raise EnrolmentError("answers another request", where=where, fix="ignore it")
    ephemeral = _b64(body.get("ephemeral"), where)
    nonce, sealed = _b64(body.get("nonce"), where), _b64(body.get("sealed"), where)
    if len(ephemeral) != 32 or len(nonce) != 12:
        raise EnrolmentError("malformed ephemeral key or nonce", where=where)
    shared = key.exchange(X25519PublicKey.from_public_bytes(ephemeral))
    try:
        plain = ChaCha20Poly1305(_key(shared, request_id)).decrypt(
            nonce, sealed, request_id.encode()
        )
    except InvalidTag as exc:
        raise EnrolmentError(
            "sealed to another key",
            where=where,
            fix="this box's enrolment key changed: approve its new code",
        ) from exc
    return BrokerCredentials.from_dict(_json_object(plain, where), where)


def _json_object(payload: bytes, where: str) -> dict[str, Any]:
    try:
        body = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EnrolmentError(f"not JSON: {exc}", where=where, fix="ignore it") from exc
    if not isinstance(body, dict) or body.get("v") != VERSION:
        raise EnrolmentError(f"not a version {VERSION} object", where=where, fix="ignore it")
    return body


def _b64(value: object, where: str) -> bytes:
    try:
        return base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise EnrolmentError("a field is not base64", where=where, fix="ignore it") from exc
