"""Typed events every driver delivers: scans, weights, cards, device state and decode faults.

Owns the event vocabulary shared by decoders, drivers, the technician CLI and (later) the
lane and daemon. Pure data: no I/O, no clock of its own — every event carries the time the
*caller's* clock gave it (`Clock`), so tests are deterministic.

Money never appears here; weights are `Decimal` so the lane can price them exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum

Clock = Callable[[], datetime]
"""Injected time source; drivers stamp events with it."""


def utc_now() -> datetime:
    """The production clock: aware UTC time."""
    return datetime.now(UTC)


class Role(StrEnum):
    SCANNER = "scanner"
    SCALE = "scale"
    CARD_READER = "card_reader"
    PRINTER = "printer"


@dataclass(frozen=True, slots=True)
class ScanEvent:
    """One complete barcode as the scanner sent it, prefix and AIM identifier removed.

    `symbology` is a human name derived from the AIM identifier (`]E0` -> "EAN-13/UPC")
    and is None when the scanner sends no AIM identifier.
    """

    device: str
    text: str
    symbology: str | None
    aim_id: str | None
    at: datetime


class WeightStatus(StrEnum):
    STABLE = "stable"
    MOTION = "motion"
    ZERO = "zero"
    UNDER_ZERO = "under_zero"
    OVER_CAPACITY = "over_capacity"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class WeightReading:
    """One answer of a scale, whatever it said.

    `weight` is None when the scale sent a status without a weight (8217 and NCI do that
    in motion, below zero and over capacity). `raw` is the frame as received, for the
    technician; `detail` explains ERROR readings in words.
    """

    device: str
    weight: Decimal | None
    unit: str | None
    status: WeightStatus
    raw: bytes
    at: datetime
    net: bool = False
    detail: str = ""

    def why_not_priceable(self, capacity: Decimal | None = None) -> str | None:
        """None when the lane may price an item with this reading, else the reason.

        The rule the lane relies on: only a stable, positive, in-range weight may price an
        item (device-protocols.md §1.7: never charge an unstable, zero or negative weight).
        """
        if self.status is not WeightStatus.STABLE:
            return f"scale reports {self.status.value}" + (
                f": {self.detail}" if self.detail else ""
            )
        if self.weight is None or self.unit is None:
            return "scale sent no weight"
        if self.weight <= 0:
            return f"weight {self.weight} {self.unit} is not positive"
        if capacity is not None and self.weight > capacity:
            return f"weight {self.weight} {self.unit} exceeds the capacity {capacity}"
        return None

    def is_priceable(self, capacity: Decimal | None = None) -> bool:
        """True only for a stable, positive weight within `capacity` (when given)."""
        return self.why_not_priceable(capacity) is None


class CardKind(StrEnum):
    MEMBER = "member"
    STAFF = "staff"
    UNKNOWN = "unknown"
    PAYMENT = "payment"


@dataclass(frozen=True, slots=True)
class CardEvent:
    """A card was swiped or presented.

    For PAYMENT cards `card_id` is None and `masked` holds at most the first six and last
    four digits of the PAN (PCI DSS 3.3/3.4.1); the track data never leaves the decoder.
    For other cards `card_id` is the id to look up (magstripe account field, or the RFID
    UID as upper-case hex, most significant byte first) and `masked` is None.
    """

    device: str
    card_id: str | None
    kind: CardKind
    masked: str | None
    at: datetime
    source: str = "magstripe"  # "magstripe" or "rfid"


class DeviceState(StrEnum):
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    ERROR = "error"
    OFFLINE = "offline"
    PAPER_OUT = "paper_out"
    PAPER_NEAR_END = "paper_near_end"
    COVER_OPEN = "cover_open"
    READY = "ready"


@dataclass(frozen=True, slots=True)
class DeviceStateEvent:
    """A device came, went, or changed health; `detail` says what a technician should know."""

    device: str
    role: Role
    state: DeviceState
    detail: str
    at: datetime


@dataclass(frozen=True, slots=True)
class DecodeFault:
    """Input that could not become an event (line noise, overlong scan, partial frame).

    The decoder keeps running; `detail` never contains card data.
    """

    device: str
    role: Role
    reason: str
    detail: str
    at: datetime


DeviceEvent = ScanEvent | WeightReading | CardEvent | DeviceStateEvent | DecodeFault
EventSink = Callable[[DeviceEvent], None]
"""Where drivers deliver events: a callback, or `queue.Queue.put` of the caller's queue."""


def describe(event: DeviceEvent) -> str:
    """One line for the technician (`gateway devices watch`); never shows card data."""
    stamp = event.at.strftime("%H:%M:%S.%f")[:-3]
    match event:
        case ScanEvent():
            sym = f" [{event.symbology} {event.aim_id}]" if event.aim_id else ""
            return f"{stamp} scan    {event.device}: {event.text!r}{sym}"
        case WeightReading():
            weight = f"{event.weight} {event.unit}" if event.weight is not None else "-"
            net = " net" if event.net else ""
            extra = f" ({event.detail})" if event.detail else ""
            return f"{stamp} weight  {event.device}: {weight}{net} {event.status.value}{extra}"
        case CardEvent():
            shown = event.masked if event.kind is CardKind.PAYMENT else event.card_id
            return f"{stamp} card    {event.device}: {event.kind.value} {shown} ({event.source})"
        case DeviceStateEvent():
            head = f"{stamp} state   {event.device} ({event.role.value})"
            return f"{head}: {event.state.value} {event.detail}"
        case DecodeFault():
            head = f"{stamp} fault   {event.device} ({event.role.value})"
            return f"{head}: {event.reason} {event.detail}"
    raise TypeError(f"not a device event: {event!r}")
