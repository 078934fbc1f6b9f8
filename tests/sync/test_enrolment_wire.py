"""The enrolment contract alone (gateway.sync.enrolment): codes, requests, sealed and
signed answers, and every way a message is refused. Keys come from fixed bytes."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from gateway.errors import UsageError
from gateway.sync.enrolment import (
    BrokerCredentials,
    EnrolmentError,
    new_request,
    normalise_code,
    open_answer,
    pairing_code,
    parse_request,
    request_topic,
    seal_answer,
)
from gateway.sync.settings import TrustedKey
from gateway.sync.signing import TrustedKeys, public_key_b64

ROOT = "storegate/v1"
RID = "ab" * 16
BOX_KEY = X25519PrivateKey.from_private_bytes(bytes(range(32)))
HEAD_OFFICE = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
TRUSTED = TrustedKeys([TrustedKey(key_id="ho", public_key=public_key_b64(HEAD_OFFICE))])
CREDS = BrokerCredentials("store-1", "box-1", "store-1/box-1", "s3cret-password")


def sealed(
    request_key: X25519PrivateKey = BOX_KEY, signer: Ed25519PrivateKey = HEAD_OFFICE
) -> bytes:
    request = new_request(RID, request_key, {"host": "till-1"})
    answer = seal_answer(
        request,
        CREDS,
        ephemeral=X25519PrivateKey.from_private_bytes(bytes(range(2, 34))),
        nonce=bytes(12),
        signing_key=signer,
        key_id="ho",
    )
    return json.dumps(answer).encode()


def test_the_code_is_the_key_hash_and_reads_forgivingly() -> None:
    request = new_request(RID, BOX_KEY, {})
    assert request.code == pairing_code(request.public_key)
    assert len(request.code) == 9 and request.code[4] == "-"
    typed = request.code.replace("-", "").lower().replace("0", "o").replace("1", "l")
    assert normalise_code(typed, "here") == request.code
    for bad in ("", "1234", "ABCD-EFGH-J", "ABCU-EFGH"):
        with pytest.raises(UsageError, match="is not a pairing code"):
            normalise_code(bad, "here")


def test_a_request_round_trips_and_forgeries_are_refused() -> None:
    request = new_request(RID, BOX_KEY, {"host": "till-1"})
    topic = request_topic(ROOT, RID)
    assert parse_request(topic, request.payload(), ROOT) == request
    body = json.loads(request.payload())
    other = X25519PrivateKey.from_private_bytes(bytes(range(5, 37)))
    forged = {**body, "code": new_request(RID, other, {}).code}  # someone else's code
    with pytest.raises(EnrolmentError, match="does not match its key"):
        parse_request(topic, json.dumps(forged).encode(), ROOT)
    with pytest.raises(EnrolmentError, match="another request's topic"):
        parse_request(request_topic(ROOT, "cd" * 16), request.payload(), ROOT)
    for junk in (b"", b"[]", b'{"v": 2}', b"\xff"):
        with pytest.raises(EnrolmentError):
            parse_request(topic, junk, ROOT)


def test_only_the_requesting_key_opens_a_head_office_signed_answer() -> None:
    assert open_answer(sealed(), request_id=RID, key=BOX_KEY, trusted=TRUSTED) == CREDS
    assert b"s3cret" not in sealed()
    other = X25519PrivateKey.from_private_bytes(bytes(range(5, 37)))
    with pytest.raises(EnrolmentError, match="sealed to another key"):
        open_answer(sealed(), request_id=RID, key=other, trusted=TRUSTED)
    rogue = Ed25519PrivateKey.from_private_bytes(bytes(range(9, 41)))
    with pytest.raises(EnrolmentError, match="does not verify"):
        open_answer(sealed(signer=rogue), request_id=RID, key=BOX_KEY, trusted=TRUSTED)
    with pytest.raises(EnrolmentError, match="answers another request"):
        open_answer(sealed(), request_id="cd" * 16, key=BOX_KEY, trusted=TRUSTED)
    tampered = json.loads(sealed())
    tampered["sealed"] = base64.b64encode(b"x" * 40).decode()
    with pytest.raises(EnrolmentError, match="does not verify"):
        open_answer(json.dumps(tampered).encode(), request_id=RID, key=BOX_KEY, trusted=TRUSTED)
