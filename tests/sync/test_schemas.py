"""The shipped JSON Schemas match the pydantic models, and real payloads validate."""

from __future__ import annotations

import json

import pytest

from gateway.sync.payloads import PAYLOADS, Ack, JournalBatch
from gateway.sync.schemas import rendered, schema_path


@pytest.mark.parametrize("name", sorted(PAYLOADS))
def test_shipped_schema_matches_the_model(name: str) -> None:
    assert schema_path(name).read_text() == rendered(name), (
        "run `python -m gateway.sync.schemas --write` and commit the files"
    )


def test_every_payload_is_versioned() -> None:
    for name, model in PAYLOADS.items():
        assert json.loads(rendered(name))["properties"]["v"]["const"] == 1, name
        assert model.model_fields["v"].default == 1


def test_unknown_keys_and_bad_hashes_are_refused() -> None:
    with pytest.raises(ValueError, match="extra"):
        Ack.model_validate({"v": 1, "seq": 1, "hash": "0" * 64, "time": "t", "x": 1})
    with pytest.raises(ValueError, match="pattern"):
        Ack.model_validate({"v": 1, "seq": 1, "hash": "xyz", "time": "t"})
    with pytest.raises(ValueError, match="at least 1"):
        JournalBatch.model_validate(
            {
                "v": 1,
                "store": "s",
                "box": "b",
                "first_seq": 1,
                "last_seq": 1,
                "historical": False,
                "sent_at": "t",
                "records": [],
            }
        )


def test_protocol_doc_names_every_schema_file_and_topic() -> None:
    from pathlib import Path

    from gateway.sync.topics import Topics

    doc = (Path(__file__).parents[2] / "docs" / "protocol.md").read_text()
    for name in PAYLOADS:
        assert f"sync.{name}.json" in doc, name
    topics = Topics("{root}", "{store}", "{box}")
    for topic in (
        topics.journal,
        topics.ack,
        topics.state,
        topics.events,
        topics.telemetry,
        topics.catalog,
        topics.members,
        topics.config,
        topics.command,
        topics.command_result,
        topics.head_office_state,
    ):
        assert f"`{topic}`" in doc, topic
