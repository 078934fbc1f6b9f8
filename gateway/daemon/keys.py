"""Turning what happens at the till into lane events: device events and keyed commands.

Pure translation: a device event or a control request plus the lane's state and the last
scale reading in, a lane event (or a sentence why not) out. No I/O; the caller passes the
store-local time `at`. The scale reading is only a *value* here, turned into the lane's
`Weighed` by its one translator (`Weighed.from_reading`, shared with the screens): the
lane itself refuses an unstable, zero or over-capacity weight.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from devices.events import CardEvent, CardKind, ScanEvent, WeightReading
from devices.settings import ScaleSettings
from gateway.lane import events as ev


@dataclass(frozen=True)
class NotAnEvent:
    """A request the daemon cannot turn into a lane event, with the reason."""

    message: str


def from_device(event: ScanEvent | CardEvent, lane_state: str, at: datetime) -> ev.Event | None:
    """A scan or a card as the lane sees it; None when it means nothing in this state."""
    if isinstance(event, ScanEvent):
        return None if lane_state == "closed" else ev.Scan(at, event.text)
    if event.kind is CardKind.STAFF and lane_state == "closed" and event.card_id:
        return ev.OpenShift(at, ev.Credential(card=event.card_id))
    if event.kind is CardKind.MEMBER and event.card_id and lane_state in ("idle", "in_sale"):
        return ev.MemberCard(at, event.card_id)
    if event.kind is CardKind.PAYMENT and lane_state in ("in_sale", "tendering"):
        return ev.Tender(at, "card", None, reference="terminal", card=event.masked)
    return None


def _decimal(value: Any, what: str) -> Decimal | None:
    if value is None:
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{what} {value!r} is not a number") from None
    if not number.is_finite():
        raise ValueError(f"{what} {value!r} is not a number")
    return number


def _credential(request: dict[str, Any]) -> ev.Credential:
    if request.get("card"):
        return ev.Credential(card=str(request["card"]))
    return ev.Credential(staff_id=str(request.get("staff", "")), pin=str(request.get("pin", "")))


def _authorization(request: dict[str, Any]) -> ev.Authorization | None:
    card = request.get("supervisor_card")
    if not card:
        return None
    return ev.Authorization(ev.Credential(card=str(card)), str(request.get("reason", "")))


def from_request(request: dict[str, Any], at: datetime, scale: WeightReading | None,
                 scale_capacity: Decimal | None = None) -> ev.Event | NotAnEvent:
    """A keyed lane command (`{"command": "lane", "action": ...}`) as a lane event;
    `scale_capacity` is that scale's configured capacity, in its own unit."""
    action = request.get("action")
    try:
        return _build(str(action), request, at, scale, scale_capacity)
    except (ValueError, KeyError) as exc:
        return NotAnEvent(f"{action}: {exc}")


def _build(action: str, r: dict[str, Any], at: datetime, scale: WeightReading | None,
           capacity: Decimal | None) -> ev.Event | NotAnEvent:
    qty = _decimal(r.get("quantity"), "quantity") or Decimal(1)
    match action:
        case "sign_on":
            return ev.OpenShift(at, _credential(r), _decimal(r.get("float"), "float"))
        case "scan":
            return ev.Scan(at, str(r["code"]), qty)
        case "plu":
            return ev.Plu(at, str(r["code"]), qty)
        case "weigh":
            return ev.Weighed.from_reading(at, str(r["code"]), scale, capacity)
        case "member":
            return ev.MemberCard(at, str(r["card"]))
        case "tender":
            return ev.Tender(at, r.get("type", "cash"), _decimal(r.get("amount"), "amount"),
                             reference=r.get("reference"), card=r.get("card"))
        case "suspend":
            return ev.Suspend(at)
        case "resume":
            return ev.Resume(at, str(r["id"]))
        case "void_line":
            return ev.VoidLine(at, int(r["line"]), _authorization(r))
        case "void_sale":
            return ev.VoidSale(at, str(r.get("reason", "")), _authorization(r))
        case "no_sale":
            return ev.NoSale(at, str(r.get("reason", "")), _authorization(r))
        case "refund":
            return ev.Refund(at, str(r["receipt"]), str(r.get("reason", "")),
                             tender=r.get("tender", "cash"), authorization=_authorization(r))
        case "close_shift":
            counted = _decimal(r.get("counted"), "counted")
            if counted is None:
                return NotAnEvent("close_shift needs the counted cash")
            return ev.CloseShift(at, counted, authorization=_authorization(r))
    return NotAnEvent(f"unknown lane action {action!r}")


def scale_capacities(scales: Sequence[ScaleSettings]) -> dict[str, Decimal]:
    """Each scale's configured capacity by device name, in that scale's own unit."""
    return {s.name: s.capacity for s in scales if s.capacity is not None}


def scale_capacity(scales: Sequence[ScaleSettings], reading: WeightReading | None
                   ) -> Decimal | None:
    """The configured capacity of the scale that sent `reading`, in that scale's unit."""
    return None if reading is None else scale_capacities(scales).get(reading.device)
