"""The `[daemon]`, `[backup]` and `[anomalies]` sections of the box settings.

Owns only these models (gateway/settings.py assembles them with the other rooms').
Must not import gateway.settings (that module imports this one). Money is Decimal.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DaemonSettings(_Section):
    """How `gateway run` talks to systemd and to the technician."""

    control_socket: Path | None = Field(
        None, description="Unix socket for `gateway status`; default <data_dir>/control.sock"
    )
    socket_group: str | None = Field(
        "storegate-tech", description="group that may use the control socket (mode 0660)"
    )
    receipts_dir: Path | None = Field(
        None,
        description="where printed receipts are also kept as text; default <data_dir>/receipts",
    )
    disk_min_free_mb: int = Field(
        50, ge=1, description="below this free space the lane refuses new sales"
    )


class BackupSettings(_Section):
    """Online SQLite backups on a schedule, kept `keep` deep."""

    directory: Path | None = Field(None, description="default <data_dir>/backups")
    keep: int = Field(14, ge=1, le=1000, description="newest backups kept by rotation")
    interval_hours: float = Field(
        24.0, gt=0, description="hours between backups taken by the running daemon"
    )
    upload: bool = Field(
        False,
        description="send each backup the daemon takes to head office (`cloud backups`), "
        "in chunks through sync's outbox",
    )


class AnomalySettings(_Section):
    """Thresholds of the box's own anomaly rules; an anomaly is an event, never a refusal."""

    enabled: bool = True
    sale_above: Decimal = Field(Decimal("500.00"), gt=0, description="sale total above this")
    voids_per_shift: int = Field(5, ge=1, description="voided sales/lines per shift above this")
    refunds_per_shift: int = Field(3, ge=1)
    no_sales_per_shift: int = Field(5, ge=1)
    unknown_barcodes: int = Field(5, ge=1, description="unknown scans within the window")
    unknown_window_s: float = Field(60.0, gt=0)
    weight_change_kg: Decimal = Field(
        Decimal("0.020"), gt=0, description="scale change after a weighed item was priced"
    )
    failed_pins: int = Field(3, ge=1, description="failed PIN entries within the window")
    failed_pin_window_s: float = Field(300.0, gt=0)


class UpdateSettings(_Section):
    """Signed software updates (docs/install.md, "Software updates"): where the virtual
    environments live, how the service is restarted and how long it has to be ready."""

    enabled: bool = Field(
        True, description="take `update` documents from head office (false: refuse them)"
    )
    link: Path = Field(
        Path("/opt/storegate/current"),
        description="the symlink the service runs from, switched between environments",
    )
    environments: Path = Field(
        Path("/opt/storegate/venvs"), description="where each version's environment is built"
    )
    restart_command: list[str] = Field(
        ["systemctl", "restart", "storegate.service"],
        min_length=1,
        description="restarts the box's service (run by the updater, as root)",
    )
    health_timeout_s: float = Field(
        60.0, gt=0, le=3600, description="seconds the new version has to answer `gateway status`"
    )
    lock_retry_s: float = Field(
        10.0, gt=0, description="seconds between asks for the update lock while a sale is open"
    )
