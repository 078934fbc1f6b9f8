"""The hash rule of the journal: canonical bytes of a record and the SHA-256 chain over them.

Shared with head office (`cloud/` imports it), so it is pure: no SQLite, no clock, no I/O.
It must not change once records exist: a different byte anywhere here breaks every chain
already written. The rule (also in docs/journal.md):

    hash = sha256(canonical_json({"body": body, "clock_synced": ..., "id": ..., "kind": ...,
                                  "prev_hash": ..., "seq": ..., "time": ...})).hexdigest()

canonical_json = keys sorted, no spaces, UTF-8 (not \\u escapes), Decimal as its string,
and nothing without one obvious spelling (floats, NaN, bytes, non-string keys) is accepted.
Because "body" sorts first, the bytes are `{"body":` + canonical body + `,` + the rest,
which lets `envelope_bytes` hash the stored body bytes without parsing them again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from decimal import Decimal
from json.encoder import encode_basestring
from typing import Any

from gateway.journal.errors import UnserialisableBody

GENESIS_HASH = "0" * 64

_encoder = json.JSONEncoder(
    ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
)
_string = encode_basestring  # how _encoder spells a str (ensure_ascii=False)


def _plain(value: Any, where: str) -> Any:
    """Return `value` with Decimals as strings and tuples as lists; refuse anything ambiguous.

    Floats are refused on purpose: 0.1 has many spellings across languages, and money in a
    fiscal record must be a Decimal (or a decimal string) anyway.
    """
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise UnserialisableBody(
                f"non-finite Decimal {value}", where=where, fix="journal only finite amounts"
            )
        return str(value)
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise UnserialisableBody(
                    f"key {key!r} is not a string",
                    where=where,
                    fix="use string keys in record bodies",
                )
            out[key] = _plain(item, f"{where}.{key}")
        return out
    if isinstance(value, (list, tuple)):
        return [_plain(item, f"{where}[{i}]") for i, item in enumerate(value)]
    raise UnserialisableBody(
        f"{type(value).__name__} value {value!r} has no canonical JSON form",
        where=where,
        fix="use Decimal (or a decimal string) for amounts and quantities, ISO-8601 strings "
        "for times, and only str/int/bool/None/list/dict otherwise",
    )


def canonical_json(value: Any) -> bytes:
    """The one byte spelling of `value` that is hashed: sorted keys, no spaces, UTF-8."""
    try:
        return _encoder.encode(_plain(value, "body")).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise UnserialisableBody(
            f"text is not valid Unicode ({exc.reason})",
            where="body",
            fix="remove lone surrogates from record text",
        ) from exc


def envelope_bytes(
    *,
    prev_hash: str,
    seq: int,
    id: str,
    time: str,
    clock_synced: bool,
    kind: str,
    body_bytes: bytes,
) -> bytes:
    """The canonical bytes of a whole record, given its body already in canonical bytes."""
    if type(seq) is not int or type(clock_synced) is not bool:
        raise UnserialisableBody(
            f"seq {seq!r} must be an int and clock_synced {clock_synced!r} a bool",
            where="record envelope",
            fix="build records through Journal.append",
        )
    # Spelled out (hot path of verify) exactly as _encoder spells a sorted dict of these.
    rest = (
        f',"clock_synced":{"true" if clock_synced else "false"},"id":{_string(id)},'
        f'"kind":{_string(kind)},"prev_hash":{_string(prev_hash)},"seq":{seq},'
        f'"time":{_string(time)}}}'
    )
    try:
        return b'{"body":' + body_bytes + rest.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise UnserialisableBody(
            f"record text is not valid Unicode ({exc.reason})",
            where=f"record {seq}",
            fix="remove lone surrogates",
        ) from exc


def hash_bytes(envelope: bytes) -> str:
    """Hex SHA-256 of a record's canonical bytes."""
    return hashlib.sha256(envelope).hexdigest()


def record_hash(
    *,
    prev_hash: str,
    seq: int,
    id: str,
    time: str,
    clock_synced: bool,
    kind: str,
    body: Mapping[str, Any],
) -> str:
    """Hex SHA-256 of a record: what each record stores and the next record links to."""
    return hash_bytes(
        envelope_bytes(
            prev_hash=prev_hash,
            seq=seq,
            id=id,
            time=time,
            clock_synced=clock_synced,
            kind=kind,
            body_bytes=canonical_json(body),
        )
    )
