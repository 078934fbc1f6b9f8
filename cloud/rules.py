"""Alert rules over the incoming stream and the stored state; thresholds are settings.

Owns the decisions "is this worth an alert": telemetry rules (device fault, printer out of
paper, backlog growing or too old) run as telemetry is stored; periodic rules (box offline
too long, a gap in a chain outliving the reorder window) run every few seconds in
`cloud ingest` and on `cloud alerts check`; sales rules over the journal (refund/void rate
per cashier, no-sale opens, a day far outside the store's usual range) run on
`cloud alerts check`. Alerts are raised through `cloud.alerts.raise_alert` with keys that
make a second pass harmless. Must not write anything but alerts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from cloud.alerts import raise_alert
from cloud.clock import iso, parse_instant
from cloud.db import Database
from gateway.sync.payloads import Telemetry


@dataclass(frozen=True)
class Thresholds:
    offline_minutes: float = 15.0
    gap_seconds: float = 120.0
    backlog_hours: float = 4.0
    backlog_growing_min: int = 1000
    refund_void_rate: float = 0.10  # share of a cashier's tickets
    refund_void_min_tickets: int = 20
    no_sale_per_day: int = 10
    sales_deviation: float = 0.5  # a day below 50 % or above 150 % of the usual


def telemetry_alerts(db: Database, store: str, box: str, telemetry: Telemetry,
                     previous: dict[str, Any] | None, now: str,
                     limits: Thresholds = Thresholds()) -> None:
    """Device faults, paper out and backlog rules for one telemetry message."""
    for name, device in telemetry.devices.items():
        occurrence = device.last_event_at or telemetry.time[:13]
        if device.state == "error":
            raise_alert(db, key=f"device.fault:{store}/{box}/{name}:{occurrence}",
                        kind="device.fault", severity="error", now=now, store=store, box=box,
                        message=f"{store}/{box} device {name} is in error: "
                        f"{device.error or 'no detail'}", body={"device": name})
        if device.paper == "out":
            raise_alert(db, key=f"printer.paper_out:{store}/{box}/{name}:{occurrence}",
                        kind="printer.paper_out", severity="warning", now=now, store=store,
                        box=box, message=f"{store}/{box} printer {name} is out of paper",
                        body={"device": name})
    journal = telemetry.journal
    age = journal.oldest_unacknowledged_age_s
    if age is not None and age > limits.backlog_hours * 3600:
        oldest = iso(parse_instant(telemetry.time) - timedelta(seconds=age))[:16]
        raise_alert(db, key=f"backlog.old:{store}/{box}:{oldest}", kind="backlog.old",
                    severity="warning", now=now, store=store, box=box,
                    message=f"{store}/{box} has {journal.backlog} records not acknowledged, "
                    f"the oldest {age / 3600:.1f} h old",
                    body={"backlog": journal.backlog, "age_s": age})
    before = (previous or {}).get("journal", {}).get("backlog")
    if isinstance(before, int) and journal.backlog > before \
            and journal.backlog >= limits.backlog_growing_min:
        raise_alert(db, key=f"backlog.growing:{store}/{box}:{telemetry.time[:13]}",
                    kind="backlog.growing", severity="warning", now=now, store=store, box=box,
                    message=f"{store}/{box} journal backlog grows: {before} -> "
                    f"{journal.backlog} records", body={"before": before,
                                                        "now": journal.backlog})


def periodic(db: Database, now: str, limits: Thresholds = Thresholds()) -> None:
    """Offline boxes and lasting gaps; cheap enough to run every few seconds."""
    instant = parse_instant(now)
    offline_before = iso(instant - timedelta(minutes=limits.offline_minutes))
    gap_before = iso(instant - timedelta(seconds=limits.gap_seconds))
    with db.transaction():
        for store, box, since in db.execute(
                "SELECT store, box, offline_since FROM box_state WHERE NOT online "
                "AND offline_since IS NOT NULL AND offline_since < ?",
                (offline_before,)).fetchall():
            raise_alert(db, key=f"box.offline:{store}/{box}:{since}", kind="box.offline",
                        severity="error", now=now, store=store, box=box,
                        message=f"{store}/{box} offline since {since} (more than "
                        f"{limits.offline_minutes:g} min)")
        for store, box, acked, top, since in db.execute(
                "SELECT store, box, acked_seq, max_seq, gap_since FROM box_chain "
                "WHERE gap_since IS NOT NULL AND gap_since < ?", (gap_before,)).fetchall():
            raise_alert(db, key=f"chain.gap:{store}/{box}:{acked}", kind="chain.gap",
                        severity="error", now=now, store=store, box=box, seq=int(acked) + 1,
                        message=f"{store}/{box} records after seq {acked} are missing since "
                        f"{since} (head office holds up to {top}); nothing past the gap "
                        "is acknowledged", body={"acked_seq": acked, "max_seq": top})
