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

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cloud.alerts import clear_alerts, raise_alert
from cloud.clock import iso, parse_instant
from cloud.db import Database
from gateway.sync.payloads import Event, Telemetry


class Thresholds(BaseModel):
    """When the rules alert: the `[alerts]` section of head office's settings
    (`cloud.settings`, config/cloud.example.toml); these defaults apply without one."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    offline_minutes: float = Field(
        15.0, gt=0, description="box.offline: minutes a box has been offline"
    )
    gap_seconds: float = Field(
        120.0,
        gt=0,
        description="chain.gap: seconds records may be missing after the "
        "acknowledged seq (the reorder window of workers sharing a box's stream)",
    )
    backlog_hours: float = Field(
        4.0, gt=0, description="backlog.old: hours the oldest unacknowledged record may wait"
    )
    backlog_growing_min: int = Field(
        1000, ge=1, description="backlog.growing: smallest growing backlog that alerts"
    )
    refund_void_rate: float = Field(
        0.10,
        gt=0,
        le=1,
        description="cashier.refund_void_rate: share of a cashier's tickets in a day (0.10 = 10 %)",
    )
    refund_void_min_tickets: int = Field(
        20,
        ge=1,
        description="cashier.refund_void_rate: tickets a cashier needs in a day "
        "before the rate is judged",
    )
    no_sale_per_day: int = Field(
        10, ge=0, description="cashier.no_sale: no-sale drawer opens a day above this"
    )
    sales_deviation: float = Field(
        0.5,
        gt=0,
        le=1,
        description="store.sales_unusual: a day below (1 - x) or above "
        "(1 + x) times the store's median day (0.5: outside 50 %..150 %)",
    )


DEFAULTS = Thresholds()


def telemetry_alerts(
    db: Database,
    store: str,
    box: str,
    telemetry: Telemetry,
    previous: dict[str, Any] | None,
    now: str,
    limits: Thresholds = DEFAULTS,
    *,
    latest: bool = True,
) -> None:
    """Device faults, paper out and backlog rules for one telemetry message. A device
    reported well again in the `latest` telemetry clears its fault / paper-out alert (an
    older message arriving late never clears what a newer one raised)."""
    for name, device in telemetry.devices.items():
        occurrence = device.last_event_at or telemetry.time[:13]
        fault = f"device.fault:{store}/{box}/{name}:"
        paper = f"printer.paper_out:{store}/{box}/{name}:"
        if device.state == "error":
            raise_alert(
                db,
                key=fault + occurrence,
                kind="device.fault",
                severity="error",
                now=now,
                store=store,
                box=box,
                message=f"{store}/{box} device {name} is in error: {device.error or 'no detail'}",
                body={"device": name},
            )
        elif latest:
            clear_alerts(db, kind="device.fault", store=store, box=box, now=now, key_prefix=fault)
        if device.paper == "out":
            raise_alert(
                db,
                key=paper + occurrence,
                kind="printer.paper_out",
                severity="warning",
                now=now,
                store=store,
                box=box,
                message=f"{store}/{box} printer {name} is out of paper"
                + (f" ({device.error})" if device.error else "")
                + "; load paper — receipts wait until then",
                body={"device": name, "since": device.last_event_at},
            )
        elif latest and device.paper in ("ok", "low"):
            clear_alerts(
                db, kind="printer.paper_out", store=store, box=box, now=now, key_prefix=paper
            )
    journal = telemetry.journal
    age = journal.oldest_unacknowledged_age_s
    if latest and (age is None or age <= limits.backlog_hours * 3600):
        clear_alerts(db, kind="backlog.old", store=store, box=box, now=now)
    if age is not None and age > limits.backlog_hours * 3600:
        oldest = iso(parse_instant(telemetry.time) - timedelta(seconds=age))[:16]
        raise_alert(
            db,
            key=f"backlog.old:{store}/{box}:{oldest}",
            kind="backlog.old",
            severity="warning",
            now=now,
            store=store,
            box=box,
            message=f"{store}/{box} has {journal.backlog} records not acknowledged, "
            f"the oldest {age / 3600:.1f} h old",
            body={"backlog": journal.backlog, "age_s": age},
        )
    before = (previous or {}).get("journal", {}).get("backlog")
    if (
        isinstance(before, int)
        and journal.backlog > before
        and journal.backlog >= limits.backlog_growing_min
    ):
        raise_alert(
            db,
            key=f"backlog.growing:{store}/{box}:{telemetry.time[:13]}",
            kind="backlog.growing",
            severity="warning",
            now=now,
            store=store,
            box=box,
            message=f"{store}/{box} journal backlog grows: {before} -> {journal.backlog} records",
            body={"before": before, "now": journal.backlog},
        )


def closed_day(now: datetime) -> date:
    """The business day the sales rules judge at `now`: the (UTC) day before, the last one
    whose trading is over. `cloud ingest` and `cloud alerts check` both ask this."""
    return now.astimezone(UTC).date() - timedelta(days=1)


CLEARED = ".cleared"


def event_alerts(db: Database, store: str, box: str, event: Event, now: str) -> None:
    """A box event worth an alert (warning or error) raises `event.KIND` with the event's
    own words: `message` (box alerts and anomalies), else `error`, else `reason`. An
    `alert.SOURCE.cleared` event clears that box's open `event.alert.SOURCE` alerts.
    Call once per newly stored event (a re-delivery must not raise again)."""
    if event.kind.endswith(CLEARED):
        clear_alerts(
            db, kind=f"event.{event.kind.removesuffix(CLEARED)}", store=store, box=box, now=now
        )
        return
    if event.severity not in ("warning", "error"):
        return
    text = next(
        (str(event.body[k]) for k in ("message", "error", "reason") if event.body.get(k)), ""
    )
    raise_alert(
        db,
        key=f"event:{store}/{box}:{event.id}",
        kind=f"event.{event.kind}",
        severity=event.severity,
        now=now,
        store=store,
        box=box,
        message=f"{store}/{box} reported {event.kind}: {text}".strip().rstrip(":"),
        body=event.body,
    )


def periodic(db: Database, now: str, limits: Thresholds = DEFAULTS) -> None:
    """Offline boxes and lasting gaps; cheap enough to run every few seconds."""
    instant = parse_instant(now)
    offline_before = iso(instant - timedelta(minutes=limits.offline_minutes))
    gap_before = iso(instant - timedelta(seconds=limits.gap_seconds))
    with db.transaction():
        for store, box, since in db.execute(
            "SELECT store, box, offline_since FROM box_state WHERE NOT online "
            "AND offline_since IS NOT NULL AND offline_since < ?",
            (offline_before,),
        ).fetchall():
            raise_alert(
                db,
                key=f"box.offline:{store}/{box}:{since}",
                kind="box.offline",
                severity="error",
                now=now,
                store=store,
                box=box,
                message=f"{store}/{box} offline since {since} (more than "
                f"{limits.offline_minutes:g} min)",
            )
        for store, box, acked, top, since in db.execute(
            "SELECT store, box, acked_seq, max_seq, gap_since FROM box_chain "
            "WHERE gap_since IS NOT NULL AND gap_since < ?",
            (gap_before,),
        ).fetchall():
            raise_alert(
                db,
                key=f"chain.gap:{store}/{box}:{acked}",
                kind="chain.gap",
                severity="error",
                now=now,
                store=store,
                box=box,
                seq=int(acked) + 1,
                message=f"{store}/{box} records after seq {acked} are missing since "
                f"{since} (head office holds up to {top}); nothing past the gap "
                "is acknowledged",
                body={"acked_seq": acked, "max_seq": top},
            )
        _clear_ended(db, now)


def _clear_ended(db: Database, now: str) -> None:
    """Clear the offline and gap alerts whose condition has ended: the box is online
    again, the records after the gap arrived."""
    for store, box in db.execute(
        "SELECT a.store, a.box FROM alert a JOIN box_state s ON s.store = a.store AND "
        "s.box = a.box WHERE a.kind = 'box.offline' AND a.cleared_at IS NULL AND s.online",
    ).fetchall():
        clear_alerts(db, kind="box.offline", store=store, box=box, now=now)
    for store, box in db.execute(
        "SELECT a.store, a.box FROM alert a JOIN box_chain c ON c.store = a.store AND "
        "c.box = a.box WHERE a.kind = 'chain.gap' AND a.cleared_at IS NULL AND "
        "c.gap_since IS NULL",
    ).fetchall():
        clear_alerts(db, kind="chain.gap", store=store, box=box, now=now)


def sales_rules(
    db: Database, day: date, now: str, limits: Thresholds = DEFAULTS, history_days: int = 28
) -> int:
    """Refund/void rate and no-sale opens per cashier on `day`, and each store's day
    total against its median over the `history_days` before; returns alerts considered."""
    from cloud.sales import Period, load

    loaded = load(db, Period(day, day))
    per_cashier: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for entry in loaded.entries:
        staff = getattr(entry.body, "staff", None)
        row = per_cashier[(entry.store, f"{staff.id}" if staff else "?")]
        row[{"sale": 0, "refund": 1, "void": 1, "no_sale": 2}[entry.kind]] += 1
    considered = 0
    with db.transaction():
        for (store, cashier), (tickets, refunds_voids, no_sales) in sorted(per_cashier.items()):
            if (
                tickets >= limits.refund_void_min_tickets
                and refunds_voids > limits.refund_void_rate * tickets
            ):
                considered += 1
                raise_alert(
                    db,
                    key=f"cashier.refund_void_rate:{store}/{cashier}:{day}",
                    kind="cashier.refund_void_rate",
                    severity="warning",
                    now=now,
                    store=store,
                    message=f"{store} cashier {cashier}: "
                    f"{refunds_voids} refunds/voids on {tickets} tickets on {day} "
                    f"(over {limits.refund_void_rate:.0%})",
                    body={
                        "cashier": cashier,
                        "tickets": tickets,
                        "refunds_voids": refunds_voids,
                        "day": str(day),
                    },
                )
            if no_sales > limits.no_sale_per_day:
                considered += 1
                raise_alert(
                    db,
                    key=f"cashier.no_sale:{store}/{cashier}:{day}",
                    kind="cashier.no_sale",
                    severity="warning",
                    now=now,
                    store=store,
                    message=f"{store} cashier {cashier} opened the drawer with no "
                    f"sale {no_sales} times on {day}",
                    body={"cashier": cashier, "no_sales": no_sales, "day": str(day)},
                )
        considered += _sales_range(db, day, now, limits, history_days)
    return considered


def _day_totals(db: Database, first: date, last: date) -> dict[tuple[str, str], Decimal]:
    from cloud.sales import Period, load
    from gateway.lane.records import SaleBody

    totals: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for entry in load(db, Period(first, last), kinds=("sale",)).entries:
        if isinstance(entry.body, SaleBody):
            totals[(entry.store, entry.body.business_day)] += entry.body.totals.total
    return totals


def _sales_range(db: Database, day: date, now: str, limits: Thresholds, history_days: int) -> int:
    totals = _day_totals(db, day - timedelta(days=history_days), day)
    stores = {store for store, _ in totals}
    raised = 0
    for store in sorted(stores):
        history = sorted(v for (s, d), v in totals.items() if s == store and d != str(day))
        if len(history) < 3:
            continue
        usual = history[len(history) // 2]
        today = totals.get((store, str(day)), Decimal("0.00"))
        low, high = (
            usual * Decimal(1 - limits.sales_deviation),
            usual * Decimal(1 + limits.sales_deviation),
        )
        if low <= today <= high:
            continue
        raised += 1
        raise_alert(
            db,
            key=f"store.sales_unusual:{store}:{day}",
            kind="store.sales_unusual",
            severity="warning",
            now=now,
            store=store,
            message=f"{store} sold {today} on {day}, far from its usual {usual} "
            f"(median of {len(history)} days)",
            body={"day": str(day), "sales": str(today), "usual": str(usual)},
        )
    return raised
