"""What a box sent, checked: topic -> (store, box, channel), payload -> a typed message.

Pure: no database, no MQTT, no clock. Shapes come from `gateway.sync.payloads` and the
hash rule from `gateway.journal` (never re-defined here). Anything that fails becomes a
`Rejected` carrying the reason, which the store turns into an alert; a journal batch
keeps its records that check out and reports the ones that do not.

Checks on a journal batch: the schema; that the topic's store/box are the payload's (a box
publishing under another store's topic is rejected whole); `first_seq..last_seq` match the
records, which are consecutive; each record's hash is its own fields' hash (a forged or
corrupted record is refused, the rest of the batch is kept).

Every payload must also be storable: integers are bounded to 64 bits by the payload models
themselves, and a NUL character in a text field (which PostgreSQL cannot hold in `text`) is
refused here, on both engines, so what one head office stores the other would too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel, ValidationError

from gateway.journal.chain import canonical_json, envelope_bytes, hash_bytes
from gateway.journal.errors import JournalError
from gateway.journal.records import JournalRecord
from gateway.sync.payloads import BoxState, CommandResult, Event, JournalBatch, Telemetry
from gateway.sync.topics import Topics

CHANNELS = ("journal", "events", "telemetry", "state", "cmd_result")


@dataclass(frozen=True)
class Problem:
    """One reason to alert: `kind` names the rule (e.g. `record.forged`)."""

    kind: str
    severity: str
    message: str
    seq: int | None = None
    record_id: str | None = None


@dataclass(frozen=True)
class Rejected:
    store: str | None
    box: str | None
    channel: str | None
    problem: Problem
    payload_excerpt: str = ""


@dataclass(frozen=True)
class CheckedRecord:
    """A record whose hash is its fields' hash, with the canonical body text it covers."""

    record: JournalRecord
    body_text: str


@dataclass(frozen=True)
class JournalIn:
    store: str
    box: str
    historical: bool
    records: list[CheckedRecord]
    problems: list[Problem] = field(default_factory=list)


@dataclass(frozen=True)
class EventIn:
    store: str
    box: str
    event: Event


@dataclass(frozen=True)
class TelemetryIn:
    store: str
    box: str
    telemetry: Telemetry


@dataclass(frozen=True)
class StateIn:
    store: str
    box: str
    state: BoxState


@dataclass(frozen=True)
class ResultIn:
    store: str
    box: str
    result: CommandResult


Inbound = JournalIn | EventIn | TelemetryIn | StateIn | ResultIn | Rejected


def subscriptions(root: str) -> dict[str, str]:
    """Topic filters (store and box as `+`) for every up channel, by channel name."""
    wild = Topics(root, "+", "+")
    return {
        "journal": wild.journal,
        "events": wild.events,
        "telemetry": wild.telemetry,
        "state": wild.state,
        "cmd_result": wild.command_result,
    }


def split_topic(root: str, topic: str) -> tuple[str, str, str] | None:
    """(store, box, channel) of an up topic, or None when it is not one of ours."""
    prefix = root + "/"
    if not topic.startswith(prefix):
        return None
    parts = topic[len(prefix) :].split("/", 2)
    if len(parts) != 3 or not parts[0] or not parts[1]:
        return None
    store, box, _ = parts
    mine = Topics(root, store, box)
    channel = {
        mine.journal: "journal",
        mine.events: "events",
        mine.telemetry: "telemetry",
        mine.state: "state",
        mine.command_result: "cmd_result",
    }.get(topic)
    return (store, box, channel) if channel else None


def parse(root: str, topic: str, payload: bytes) -> Inbound:
    """Check one MQTT message; never raises for bad input."""
    where = split_topic(root, topic)
    if where is None:
        return Rejected(
            None,
            None,
            None,
            Problem("payload.unknown_topic", "warning", f"message on unexpected topic {topic!r}"),
        )
    store, box, channel = where
    excerpt = payload[:200].decode("utf-8", "replace")
    try:
        message = _MODELS[channel].model_validate_json(payload)
    except ValidationError as exc:
        errors = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][:4]) or '(payload)'}: {e['msg']}"
            for e in exc.errors()[:3]
        )
        return Rejected(
            store,
            box,
            channel,
            Problem(
                "payload.invalid",
                "error",
                f"{channel} payload from {store}/{box} on {topic} fails the schema: {errors}",
            ),
            excerpt,
        )
    nul = nul_field(message)
    if nul is not None:
        return Rejected(
            store,
            box,
            channel,
            Problem(
                "payload.invalid",
                "error",
                f"{channel} payload from {store}/{box} on {topic}: {nul} contains a NUL "
                "character, which head office cannot store: refused whole",
            ),
            excerpt,
        )
    if isinstance(message, JournalBatch):
        return _journal(store, box, message)
    if isinstance(message, Event):
        return EventIn(store, box, message)
    if isinstance(message, Telemetry):
        return TelemetryIn(store, box, message)
    if isinstance(message, BoxState):
        return StateIn(store, box, message)
    return ResultIn(store, box, message)


_MODELS: dict[str, type[JournalBatch | Event | Telemetry | BoxState | CommandResult]] = {
    "journal": JournalBatch,
    "events": Event,
    "telemetry": Telemetry,
    "state": BoxState,
    "cmd_result": CommandResult,
}


def nul_field(model: BaseModel, path: str = "") -> str | None:
    """The first text field (dotted path) or key holding U+0000, or None. Free-form JSON
    bodies (`dict[str, Any]`) are stored as JSON text, where NUL is escaped, so they pass."""
    for name in type(model).model_fields:
        found = _nul_in(getattr(model, name), f"{path}{name}")
        if found is not None:
            return found
    return None


def _nul_in(value: object, path: str) -> str | None:
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, BaseModel):
        return nul_field(value, path + ".")
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = _nul_in(item, f"{path}.{index}")
            if found is not None:
                return found
    if isinstance(value, dict):  # a map of models (telemetry's devices): keys are names
        for key, item in value.items():
            if not isinstance(item, BaseModel):
                continue
            if "\x00" in str(key):
                return f"{path} (a name)"
            found = nul_field(item, f"{path}.{key}.")
            if found is not None:
                return found
    return None


def _journal(store: str, box: str, batch: JournalBatch) -> Inbound:
    if (batch.store, batch.box) != (store, box):
        return Rejected(
            store,
            box,
            "journal",
            Problem(
                "topic.mismatch",
                "error",
                f"journal batch for {batch.store}/{batch.box} published on the topic of "
                f"{store}/{box}: refused (check the broker ACL)",
            ),
        )
    seqs = [r.seq for r in batch.records]
    if (
        seqs != list(range(batch.first_seq, batch.first_seq + len(seqs)))
        or seqs[-1] != batch.last_seq
    ):
        return Rejected(
            store,
            box,
            "journal",
            Problem(
                "payload.invalid",
                "error",
                f"journal batch {batch.first_seq}..{batch.last_seq} from {store}/{box} does not "
                f"hold consecutive records first_seq..last_seq",
            ),
        )
    good: list[CheckedRecord] = []
    problems: list[Problem] = []
    for wire in batch.records:
        record = JournalRecord(
            seq=wire.seq,
            id=wire.id,
            time=wire.time,
            clock_synced=wire.clock_synced,
            kind=wire.kind,
            body=wire.body,
            prev_hash=wire.prev_hash,
            hash=wire.hash,
        )
        checked = _check(record)
        if checked is None:
            problems.append(
                Problem(
                    "record.forged",
                    "critical",
                    f"{store}/{box} record seq {record.seq} carries hash {record.hash[:12]}... "
                    "that is not the hash of its own fields: refused",
                    record.seq,
                    record.id,
                )
            )
            continue
        good.append(checked)
    return JournalIn(store, box, batch.historical, good, problems)


def _check(record: JournalRecord) -> CheckedRecord | None:
    """The record with its canonical body, or None when its hash is not its own."""
    try:
        body = canonical_json(record.body)
    except JournalError:
        return None
    envelope = envelope_bytes(
        prev_hash=record.prev_hash,
        seq=record.seq,
        id=record.id,
        time=record.time,
        clock_synced=record.clock_synced,
        kind=record.kind,
        body_bytes=body,
    )
    if hash_bytes(envelope) != record.hash:
        return None
    return CheckedRecord(record, body.decode("utf-8"))
