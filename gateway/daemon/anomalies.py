"""Anomaly rules on the box: patterns a supervisor should look at, never a refusal.

Pure: fed what the lane committed or refused and what the scale said, with monotonic
time passed in; answers `Anomaly` values. The daemon posts them as events to head office
and keeps the recent ones for the lane's supervisor view (`gateway status`). No I/O, no
clock, no thresholds of its own: they come from `[anomalies]`.

Rules: a sale above a limit; voids, refunds or no-sale drawer opens per shift above a
limit; a burst of unknown barcodes; the scale's weight changing after a weighed item was
priced (goods added after weighing); repeated failed PIN entries.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from gateway.cardsafe import mask_card_data
from gateway.daemon.settings import AnomalySettings

PER_SHIFT = {
    "void": "voids_per_shift",
    "refund": "refunds_per_shift",
    "no_sale": "no_sales_per_shift",
}


@dataclass(frozen=True)
class Anomaly:
    rule: str
    message: str
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The event's body for head office and the supervisor's view: a code the lane
        took for an unknown barcode (or anything else) never carries a card number."""
        return {
            "rule": self.rule,
            "message": mask_card_data(self.message),
            "detail": {k: mask_card_data(str(v)) for k, v in self.detail.items()},
        }


class AnomalyWatch:
    """Counts per shift and sliding windows; each rule fires once per crossing."""

    def __init__(self, settings: AnomalySettings) -> None:
        self.settings = settings
        self.per_shift: Counter[tuple[str, str]] = Counter()
        self.unknown: deque[float] = deque()
        self.failed_pins: deque[float] = deque()
        self.priced_weight: Decimal | None = None
        self.priced_code: str | None = None

    def reconfigure(self, settings: AnomalySettings) -> None:
        self.settings = settings

    def committed(self, kind: str, body: dict[str, Any], shift_id: str | None) -> list[Anomaly]:
        """A journal record the lane just committed."""
        if not self.settings.enabled:
            return []
        found: list[Anomaly] = []
        if kind == "sale":
            self.priced_weight = self.priced_code = None
            total = Decimal(str(body.get("totals", {}).get("total", "0")))
            if total > self.settings.sale_above:
                found.append(
                    Anomaly(
                        "sale_above_limit",
                        f"sale of {total} above the limit {self.settings.sale_above}",
                        {"total": total, "receipt": body.get("receipt_id", "")},
                    )
                )
        limit_name = PER_SHIFT.get(kind)
        if limit_name and shift_id:
            found += self._per_shift(kind, shift_id, getattr(self.settings, limit_name))
        return found

    def voided_line(self, shift_id: str | None) -> list[Anomaly]:
        if not self.settings.enabled or not shift_id:
            return []
        return self._per_shift("void", shift_id, self.settings.voids_per_shift)

    def _per_shift(self, kind: str, shift_id: str, limit: int) -> list[Anomaly]:
        self.per_shift[(kind, shift_id)] += 1
        count = self.per_shift[(kind, shift_id)]
        if count != limit + 1:
            return []
        return [
            Anomaly(
                f"{kind}s_per_shift",
                f"{count} {kind.replace('_', '-')}s in shift {shift_id} (limit {limit})",
                {"shift": shift_id, "count": count},
            )
        ]

    def unknown_barcode(self, code: str, now: float) -> list[Anomaly]:
        s = self.settings
        if not s.enabled:
            return []
        count = _in_window(self.unknown, now, s.unknown_window_s)
        if count != s.unknown_barcodes + 1:
            return []
        return [
            Anomaly(
                "unknown_barcode_burst",
                f"{count} unknown barcodes within {s.unknown_window_s:g} s",
                {"last": code, "count": count},
            )
        ]

    def failed_pin(self, staff_id: str | None, now: float) -> list[Anomaly]:
        s = self.settings
        if not s.enabled:
            return []
        count = _in_window(self.failed_pins, now, s.failed_pin_window_s)
        if count != s.failed_pins + 1:
            return []
        return [
            Anomaly(
                "failed_pins",
                f"{count} failed PIN entries within {s.failed_pin_window_s:g} s",
                {"staff": staff_id or "?", "count": count},
            )
        ]

    def weighed_item_priced(self, code: str, weight: Decimal) -> None:
        self.priced_code, self.priced_weight = code, weight

    def sale_ended(self) -> None:
        self.priced_weight = self.priced_code = None

    def scale_reading(self, weight: Decimal | None, stable: bool) -> list[Anomaly]:
        """A stable reading that moved beyond the threshold since the item was priced."""
        if (
            not self.settings.enabled
            or self.priced_weight is None
            or weight is None
            or not stable
            or weight <= 0
        ):
            return []
        change = weight - self.priced_weight
        if abs(change) <= self.settings.weight_change_kg:
            return []
        anomaly = Anomaly(
            "weight_changed_after_pricing",
            f"scale moved from {self.priced_weight} to {weight} kg after "
            f"{self.priced_code} was priced",
            {"item": self.priced_code or "", "priced": self.priced_weight, "now": weight},
        )
        self.priced_weight = None  # once per priced item
        return [anomaly]


def _in_window(times: deque[float], now: float, window: float) -> int:
    times.append(now)
    while times and times[0] < now - window:
        times.popleft()
    return len(times)
