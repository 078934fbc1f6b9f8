"""The `[sync]` section of the box settings: batching, window, timers, queue, trusted keys.

Owns only the settings model (gateway/settings.py assembles it with the other rooms'
sections). Must not import gateway.settings (that module imports this one).
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

KEY_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class TrustedKey(BaseModel):
    """A head-office Ed25519 public key the box accepts downlink signatures from."""

    model_config = ConfigDict(extra="forbid")

    key_id: str = Field(pattern=KEY_ID, description="named in each signed message's key_id")
    public_key: str = Field(description="raw 32-byte Ed25519 public key, base64")

    @field_validator("public_key")
    @classmethod
    def _thirty_two_bytes(cls, value: str) -> str:
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError(
                "public_key is not base64; paste the key as head office gave it"
            ) from exc
        if len(raw) != 32:
            raise ValueError(
                f"public_key decodes to {len(raw)} bytes; an Ed25519 public key is 32 bytes"
            )
        return value


class SyncSettings(BaseModel):
    """Tuning of the uplink, telemetry and downlink; defaults suit a shop DSL line."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    state_file: Path | None = Field(
        None,
        description="sync's own SQLite file (queue, versions, command ids); "
        "default <paths.data_dir>/sync.db",
    )
    batch_max_records: int = Field(500, ge=1, le=100_000)
    batch_max_bytes: int = Field(256 * 1024, ge=4096, le=64 * 1024 * 1024)
    window_batches: int = Field(16, ge=1, le=1000, description="journal batches in flight")
    resend_after: float = Field(
        30.0, gt=0, description="seconds without head-office ack progress before re-sending"
    )
    poll_interval: float = Field(0.2, gt=0, le=60, description="seconds between journal polls")
    ack_report_interval: float = Field(
        0.5, ge=0, le=60, description="seconds between writing the ack position to the journal"
    )
    require_head_office_online: bool = Field(
        True, description="drain only while head office's presence message says online"
    )
    telemetry_interval: float = Field(60.0, gt=0, description="seconds between telemetry")
    queue_max_messages: int = Field(
        10_000, ge=10, description="events + telemetry kept on disk while offline"
    )
    queue_window: int = Field(10, ge=1, le=1000, description="queued messages in flight")
    reconnect_min: float = Field(1.0, gt=0, description="first reconnect delay cap, seconds")
    reconnect_max: float = Field(120.0, gt=0, description="largest reconnect delay, seconds")
    refused_min: float = Field(
        30.0, ge=0, description="least delay after the broker refuses the credentials"
    )
    downlink_max_bytes: int = Field(16 * 1024 * 1024, ge=1024)
    trusted_keys: list[TrustedKey] = Field(default_factory=list)


class EnrolSettings(BaseModel):
    """`[enrol]`: how a box without broker credentials asks head office for its own
    (zero-touch enrolment, docs/install.md). Set `password` in the image every new box
    gets; a box that has `mqtt.username` or `mqtt.cert_file`, or was enrolled already,
    never enrols."""

    model_config = ConfigDict(extra="forbid")

    username: str = Field("storegate-enrol", description="the broker's shared enrolment user")
    password: SecretStr | None = Field(
        None, description="its password (`cloud broker acl --enrol`); unset: no enrolment"
    )
    retry_s: float = Field(
        10.0, gt=0, le=3600, description="seconds between enrolment connection attempts"
    )
