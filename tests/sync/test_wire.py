"""The uplink's byte-splicing reader matches the journal's own wire form exactly."""

from __future__ import annotations

import json
from collections import deque
from decimal import Decimal
from pathlib import Path

from gateway.harness.receiver import canonical_body, wire_record_hash
from gateway.journal.store import Journal
from gateway.sync.payloads import JournalBatch
from gateway.sync.wire import WireReader, batch_payload, take_batch

TRICKY = [
    ("sale", {"total": Decimal("12.30"), "name": 'Crème "brûlée"\n\t\\', "emoji": "🧀"}),
    ("void", {"lines": [], "nested": {"b": [1, None, True], "a": "\u2028"}}),
    ("note", {"text": "日本語", "n": 10**20}),
]


def test_wire_bytes_are_the_journal_wire_form(tmp_path: Path, journal: Journal) -> None:
    journal.append_many(TRICKY)
    journal.append('kind/with "quote"', {"x": "y"}, record_id='id-\u00e9"1')
    reader = WireReader(tmp_path / "box.db")
    wire = reader.read(0, 10)
    records = journal.read(0, 10)
    assert [seq for seq, _, _ in wire] == [r.seq for r in records]
    for (_, digest, encoded), record in zip(wire, records, strict=True):
        assert json.loads(encoded) == record.to_wire()
        assert digest == record.hash
    batch = JournalBatch.model_validate_json(
        batch_payload(
            store="s", box="b", historical=False, sent_at="t", records=[(s, e) for s, _, e in wire]
        )
    )
    for parsed, record in zip(batch.records, records, strict=True):
        body = canonical_body(parsed)
        assert body is not None and wire_record_hash(parsed, body) == record.hash


def test_batches_respect_count_and_bytes_but_never_stall() -> None:
    pending = deque((n, b"x" * 100) for n in range(1, 11))
    assert [s for s, _ in take_batch(pending, 3, 10_000)] == [1, 2, 3]
    assert [s for s, _ in take_batch(pending, 100, 250)] == [4, 5]
    huge = deque([(11, b"y" * 5000)])
    assert [s for s, _ in take_batch(huge, 100, 250)] == [11]
