"""The shape of every MQTT payload between a box and head office, as pydantic models.

One place per shape: the box builds and checks with these, head office (`cloud/`) imports
the same models, and `gateway/schemas/sync.*.json` are generated from them
(`python -m gateway.sync.schemas --write`; a test keeps the files in step). Every payload
carries `"v": 1`; a change that old readers cannot ignore gets a new `v`.

Pure data: no I/O, no clock. Money inside journal bodies is already decimal strings.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

HASH = r"^[0-9a-f]{64}$"
WIRE_VERSION: Literal[1] = 1
# Counters and seqs are 64-bit signed integers in every database head office uses (SQLite
# INTEGER, PostgreSQL BIGINT): a larger number is refused here, at the wire, not by a store.
MAX_INT64 = 2**63 - 1
Hash = Annotated[str, Field(pattern=HASH)]
Seq = Annotated[int, Field(ge=0, le=MAX_INT64)]
Position = Annotated[int, Field(ge=1, le=MAX_INT64)]
CENTURY_S = 100 * 366 * 86400.0  # no unacknowledged record is older than this


class Payload(BaseModel):
    """Base of every payload: unknown keys are refused, so a typo never passes silently."""

    model_config = ConfigDict(extra="forbid")
    v: Literal[1] = WIRE_VERSION


# ---------------------------------------------------------------- up: journal


class JournalRecordWire(BaseModel):
    """One journal record as `JournalRecord.to_wire()` spells it."""

    model_config = ConfigDict(extra="forbid")
    seq: Position
    id: str
    time: str
    clock_synced: bool
    kind: str
    body: dict[str, Any]
    prev_hash: Hash
    hash: Hash


class JournalBatch(Payload):
    """`.../journal` (QoS 1): consecutive records `first_seq..last_seq`, in seq order.

    `historical` is true when the batch is re-sent (after a timeout, a reconnect or a
    restart) or holds records journaled before this connection came up: head office may
    already have them and must de-duplicate by (store, box, seq).
    """

    store: str
    box: str
    first_seq: Position
    last_seq: Position
    historical: bool
    sent_at: str
    records: list[JournalRecordWire] = Field(min_length=1)


class Ack(Payload):
    """`.../ack` (retained, down): head office has stored every record up to `seq`.

    `hash` is the stored record's hash at `seq`; the box checks it against its journal, so
    an ack for a record the box never sent (or a different one) is refused and reported.
    """

    seq: Seq
    hash: Hash
    time: str


# ---------------------------------------------------------------- presence


class BoxState(Payload):
    """`.../state` (retained): the birth on connect and, as Last Will, the death.

    `session` counts this box's connections (Sparkplug's bdSeq): a death with the session
    of the current birth means the box went away; an older one is stale.
    """

    online: bool
    session: Seq
    boot_id: str
    version: str | None = None
    time: str | None = None
    protocol: Literal["5", "3.1.1"] | None = None
    journal_head_seq: Seq | None = None
    journal_acknowledged_seq: Seq | None = None


class HeadOfficeState(Payload):
    """`{root}/_office/state` (retained, down): boxes drain their backlog only while online."""

    online: bool
    time: str
    node: str | None = Field(None, description="which head-office service wrote it")


# ---------------------------------------------------------------- events and telemetry


Severity = Literal["info", "warning", "error"]


class Event(Payload):
    """`.../events` (QoS 1): something happened on the box head office should know.

    `id` is unique per event so head office can de-duplicate re-deliveries.
    Kinds used by sync: document.applied, document.refused, ack.refused, command.refused,
    queue.dropped; other rooms add theirs (device.state, alert.*).
    """

    id: str
    time: str
    kind: str = Field(pattern=r"^[a-z][a-z0-9_.-]{0,63}$")
    severity: Severity = "info"
    body: dict[str, Any] = Field(default_factory=dict)


class DeviceHealth(BaseModel):
    """One device's state in telemetry (the devices room fills it)."""

    model_config = ConfigDict(extra="forbid")
    state: Literal["connected", "disconnected", "error", "unknown"]
    error: str | None = None
    last_event_at: str | None = None
    paper: Literal["ok", "low", "out", "unknown"] | None = Field(None, description="printers only")


class JournalHealth(BaseModel):
    model_config = ConfigDict(extra="forbid")
    backlog: Seq
    oldest_unacknowledged_age_s: (
        Annotated[float, Field(ge=0, le=CENTURY_S, allow_inf_nan=False)] | None
    )
    acknowledged_seq: Seq
    last_ack_at: str | None


class QueueHealth(BaseModel):
    model_config = ConfigDict(extra="forbid")
    depth: Seq
    capacity: Seq
    dropped_telemetry: Seq
    dropped_events: Seq


class HostHealth(BaseModel):
    model_config = ConfigDict(extra="forbid")
    load: tuple[float, float, float] | None
    temperature_c: float | None
    memory_total: int | None
    memory_available: int | None
    disk_total: int | None
    disk_free: int | None


class UpdateHealth(BaseModel):
    """The box's last software update (docs/install.md, "Software updates"): the state
    of gateway.updates.machine it is in, from which version to which, and what failed."""

    model_config = ConfigDict(extra="forbid")
    id: str
    state: str = Field(pattern=r"^[a-z_]{1,32}$")
    version: str
    from_version: str
    at: str | None = None
    error: str | None = Field(None, max_length=2000)


class Telemetry(Payload):
    """`.../telemetry` (QoS 1, through the bounded queue): periodic and on-change health."""

    time: str
    boot_id: str
    version: str
    uptime_s: float
    clock_synced: bool
    host: HostHealth
    journal: JournalHealth
    queue: QueueHealth
    reconnects: Seq
    devices: dict[str, DeviceHealth] = Field(default_factory=dict)
    update: UpdateHealth | None = Field(None, description="the last software update, if any")


# ---------------------------------------------------------------- down: signed


DocumentKind = Literal["catalog", "members", "config", "orders", "staff", "update"]


class SignedDocument(Payload):
    """Retained on `{store}/catalog`, `{store}/members`, `{store}/orders`, `{store}/staff`,
    `{store}/update`, `{store}/{box}/config`.

    `signature` is Ed25519 by the key `key_id` over the canonical JSON of every other field
    (gateway.sync.signing). `version` must exceed the one in force; `box` is null for
    store-wide documents, so a document signed for one store or box is useless elsewhere.
    """

    kind: DocumentKind
    store: str
    box: str | None = None
    version: Position
    issued_at: str
    key_id: str
    document: dict[str, Any]
    signature: str


class SignedCommand(Payload):
    """`.../cmd` (QoS 1): run `name` once per `id`, only before `expires_at` (UTC ISO-8601)."""

    id: str = Field(min_length=1, max_length=128)
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    args: dict[str, Any] = Field(default_factory=dict)
    store: str
    box: str
    issued_at: str
    expires_at: str
    key_id: str
    signature: str


CommandStatus = Literal["ok", "failed", "refused", "expired", "unknown_command", "interrupted"]


class CommandResult(Payload):
    """`.../cmd/result` (QoS 1): the outcome of one command id (repeated for a re-delivery)."""

    id: str
    name: str | None
    status: CommandStatus
    time: str
    result: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None


# Every payload with its topic, for the schema files and docs/protocol.md.
PAYLOADS: dict[str, type[BaseModel]] = {
    "journal-batch": JournalBatch,
    "ack": Ack,
    "box-state": BoxState,
    "head-office-state": HeadOfficeState,
    "event": Event,
    "telemetry": Telemetry,
    "signed-document": SignedDocument,
    "signed-command": SignedCommand,
    "command-result": CommandResult,
}
