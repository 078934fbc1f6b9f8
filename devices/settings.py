"""Settings for the devices room: which scanners, scales, card readers and printers the box
should claim, and how to talk to them. Part of the `[devices]` table of gateway.toml."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class DeviceSettings(BaseModel):
    """The `[devices]` table; the devices room fills in the per-role sections."""

    model_config = ConfigDict(extra="forbid")
