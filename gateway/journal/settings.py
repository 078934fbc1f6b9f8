"""The `[journal]` section of the box settings: how long acknowledged records are kept.

Owns only this model (gateway/settings.py assembles it with the other rooms'); must not
import gateway.settings. What the keys mean is in docs/journal.md ("Retention").
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

MIN_RETENTION_DAYS = 7  # a day is closed the same night; a week leaves room for a Z taken late
MAX_RETENTION_DAYS = 3650


class JournalSettings(BaseModel):
    """Retention of the journal on the box (head office keeps every record for good)."""

    model_config = ConfigDict(extra="forbid")

    retention_days: int = Field(
        90,
        description="records acknowledged by head office and held in a backup are "
        "deleted once older than this many days; 0 keeps every record",
    )
    prune_batch: int = Field(
        100, ge=10, le=10_000, description="most records deleted in one step of the main loop"
    )
    prune_interval_s: float = Field(
        300.0,
        ge=1,
        le=86_400,
        description="seconds between looks for prunable records "
        "when the last step found none (steps follow each other while there are)",
    )

    @field_validator("retention_days")
    @classmethod
    def _sane_retention(cls, value: int) -> int:
        if value != 0 and not MIN_RETENTION_DAYS <= value <= MAX_RETENTION_DAYS:
            raise ValueError(
                f"retention_days = {value}: use 0 (keep every record) or "
                f"{MIN_RETENTION_DAYS} to {MAX_RETENTION_DAYS} days; fewer than "
                f"{MIN_RETENTION_DAYS} would prune records a late Z report or a refund "
                "still needs"
            )
        return value
