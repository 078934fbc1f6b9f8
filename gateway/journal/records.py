"""`JournalRecord`: one committed journal entry, and its wire form (what MQTT carries).

Pure data: no SQLite, no clock. The store builds records; sync and head office move them
as `to_wire()` dicts and rebuild them with `from_wire()`, which checks the shape but not the
hash (`verify()` does that, given the previous hash).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.journal.chain import record_hash
from gateway.journal.errors import JournalError

WIRE_FIELDS: dict[str, type | tuple[type, ...]] = {
    "seq": int,
    "id": str,
    "time": str,
    "clock_synced": bool,
    "kind": str,
    "body": dict,
    "prev_hash": str,
    "hash": str,
}


@dataclass(frozen=True)
class JournalRecord:
    """A record as committed: `seq` is the order (never the clock), `id` the idempotency key."""

    seq: int
    id: str
    time: str
    clock_synced: bool
    kind: str
    body: dict[str, Any]
    prev_hash: str
    hash: str

    def to_wire(self) -> dict[str, Any]:
        """All fields, JSON-able: the body is already plain JSON (amounts as strings)."""
        return {
            "seq": self.seq,
            "id": self.id,
            "time": self.time,
            "clock_synced": self.clock_synced,
            "kind": self.kind,
            "body": json.loads(json.dumps(self.body)),
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> JournalRecord:
        """Rebuild a record from its wire dict; a missing or mistyped field is a JournalError."""
        problems = [_field_problem(name, kind, data) for name, kind in WIRE_FIELDS.items()]
        found = [p for p in problems if p]
        if found:
            raise JournalError(
                "journal record on the wire is malformed: " + "; ".join(found),
                where=f"record seq={data.get('seq')!r} id={data.get('id')!r}",
                fix="send records as produced by JournalRecord.to_wire()",
            )
        return cls(**{name: data[name] for name in WIRE_FIELDS})

    def expected_hash(self) -> str:
        """The hash these fields should carry under the chain rule."""
        return record_hash(
            prev_hash=self.prev_hash,
            seq=self.seq,
            id=self.id,
            time=self.time,
            clock_synced=self.clock_synced,
            kind=self.kind,
            body=self.body,
        )

    def verify(self, prev_hash: str) -> bool:
        """True when this record links to `prev_hash` and its own hash matches its fields."""
        return self.prev_hash == prev_hash and self.hash == self.expected_hash()


def _field_problem(name: str, kind: type | tuple[type, ...], data: Mapping[str, Any]) -> str:
    if name not in data:
        return f"{name} missing"
    value = data[name]
    if kind is int and isinstance(value, bool):
        return f"{name} must be an integer"
    if not isinstance(value, kind):
        return f"{name} must be {getattr(kind, '__name__', kind)}, not {type(value).__name__}"
    return ""
