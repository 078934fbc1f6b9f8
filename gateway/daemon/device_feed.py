"""What the devices said lately, for the technician: the technician page's live events,
`gateway devices watch` and `gateway devices scale` beside a running daemon.

Owns two bounded in-memory rings, filled on the daemon's main loop and read there (the
web and control threads ask the main loop, never the rings themselves):

- `DeviceFeed`: recent device events as one-line entries, numbered so a reader asks for
  what came after the last one it saw. Scans carry their symbology; weights are kept
  only when they change (a scale polled five times a second would push every scan out);
  cards only as their kind and a masked number (gateway.cardsafe: no card number or
  track is kept, even in memory for a page); a wallet's payment code only as its first and
  last four (`scan_text`). The newest reading of each scale is kept
  apart, so "read the scale" answers even when the ring has moved on.
- `RecentLog`: the daemon's recent log lines (a logging handler), masked the same way.

Nothing here is written to disk; a restart starts both empty.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from devices.events import (
    CardEvent,
    CardKind,
    DecodeFault,
    DeviceEvent,
    DeviceStateEvent,
    ScanEvent,
    WeightReading,
    describe,
)
from gateway.barcodes.payment_codes import mask_payment_code, payment_scheme
from gateway.cardsafe import mask_card_data


def scan_text(text: str) -> str:
    """A scan as the technician may see it: a wallet's payment code (a bearer token) as
    its first and last four, card data masked, anything else as scanned."""
    if payment_scheme(text) is not None:
        return mask_payment_code(text)
    return mask_card_data(text)


FEED_SIZE = 200  # device events kept for the technician
LOG_SIZE = 2000  # log lines kept for the technician page and `upload_logs` (~0.5 MB)


@dataclass(frozen=True)
class FeedEntry:
    """One device event as the technician sees it. `n` grows by one per entry."""

    n: int
    at: str
    device: str
    kind: str  # scan, weight, card, state, fault
    line: str  # what `gateway devices watch` prints for it
    symbology: str | None = None
    code: str | None = None  # a scan's text (never a card's)
    weight: str | None = None
    unit: str | None = None
    status: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def weight_json(reading: WeightReading, now: datetime | None = None) -> dict[str, Any]:
    """A scale reading as the control socket and the technician page give it."""
    answer: dict[str, Any] = {
        "device": reading.device,
        "weight": str(reading.weight) if reading.weight is not None else None,
        "unit": reading.unit,
        "status": reading.status.value,
        "net": reading.net,
        "detail": reading.detail,
        "priceable": reading.why_not_priceable() is None,
        "why_not": reading.why_not_priceable(),
        "at": reading.at.isoformat(),
        "raw": reading.raw.decode("latin-1"),
    }
    if now is not None:
        answer["age_s"] = round((now - reading.at).total_seconds(), 3)
    return answer


def _card_line(event: CardEvent) -> str:
    """A card as the feed keeps it: kind and a masked number, whatever the kind (a member
    or staff card number is a key to an account too)."""
    if event.kind is CardKind.PAYMENT or event.card_id is None:
        shown = event.masked or "****"
    else:
        shown = "****" + event.card_id[-2:]
    stamp = event.at.strftime("%H:%M:%S.%f")[:-3]
    return f"{stamp} card    {event.device}: {event.kind.value} {shown} ({event.source})"


class DeviceFeed:
    """The recent device events (a ring of FEED_SIZE) and each scale's newest reading."""

    def __init__(self, size: int = FEED_SIZE) -> None:
        self.entries: deque[FeedEntry] = deque(maxlen=size)
        self.last = 0
        self.weights: dict[str, WeightReading] = {}

    def add(self, event: DeviceEvent) -> FeedEntry | None:
        """Keep `event`; None when it adds nothing (the same weight again)."""
        at = event.at.isoformat()
        match event:
            case ScanEvent():
                shown = replace(event, text=scan_text(event.text))
                return self._keep(
                    at,
                    event.device,
                    "scan",
                    mask_card_data(describe(shown)),
                    symbology=event.symbology or "unknown",
                    code=shown.text,
                )
            case WeightReading():
                before = self.weights.get(event.device)
                self.weights[event.device] = event
                if before is not None and (before.weight, before.unit, before.status) == (
                    event.weight,
                    event.unit,
                    event.status,
                ):
                    return None
                return self._keep(
                    at,
                    event.device,
                    "weight",
                    describe(event),
                    weight=str(event.weight) if event.weight is not None else None,
                    unit=event.unit,
                    status=event.status.value,
                )
            case CardEvent():
                return self._keep(at, event.device, "card", _card_line(event))
            case DeviceStateEvent():
                if event.state.value != "connected":
                    self.weights.pop(event.device, None)
                return self._keep(at, event.device, "state", mask_card_data(describe(event)))
            case DecodeFault():
                return self._keep(at, event.device, "fault", mask_card_data(describe(event)))
        return None

    def _keep(self, at: str, device: str, kind: str, line: str, **extra: Any) -> FeedEntry:
        self.last += 1
        entry = FeedEntry(self.last, at, device, kind, line, **extra)
        self.entries.append(entry)
        return entry

    def since(self, after: int, limit: int = FEED_SIZE) -> list[FeedEntry]:
        """The entries numbered above `after`, oldest first (at most `limit`, the newest)."""
        newer = [e for e in self.entries if e.n > after]
        return newer[-limit:]

    def reading(self, device: str | None = None) -> WeightReading | None:
        """The newest reading of scale `device` (None: of any scale, the newest)."""
        if device is not None:
            return self.weights.get(device)
        return max(self.weights.values(), key=lambda r: r.at, default=None)


class RecentLog(logging.Handler):
    """The daemon's last LOG_SIZE log lines, card data masked. `emit` runs on whichever
    thread logs (a deque append under the handler's lock); `lines` copies under it."""

    def __init__(self, size: int = LOG_SIZE) -> None:
        super().__init__(logging.INFO)
        self.records: deque[str] = deque(maxlen=size)
        self.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S")
        )
        self._copy = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = mask_card_data(self.format(record).splitlines()[0])
        except Exception:  # a line that cannot be formatted is dropped, never raised
            return
        with self._copy:
            self.records.append(line)

    def lines(self, count: int = 50) -> list[str]:
        with self._copy:
            return list(self.records)[-count:]
