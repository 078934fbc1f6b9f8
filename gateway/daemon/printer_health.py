"""What the receipt printers are doing, for telemetry, `gateway status` and one alert.

The printer thread feeds it (the printers' own state reports, each receipt printed or
not); sync's thread reads `telemetry()` and the main loop `view()`, so everything sits
behind one lock. A printer problem that costs a receipt raises **one** `printer` alert
naming the receipt; receipts lost while the problem lasts are only added to it (logged),
and when every printer prints again the alert is cleared with the list of receipts to
reprint. Paper out, cover open and offline reach head office through the device health
in telemetry (`paper` = ok / low / out), which is what its `printer.paper_out` rule reads.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from devices.events import DeviceEvent, DeviceState, DeviceStateEvent
from gateway.sync.payloads import DeviceHealth

log = logging.getLogger("storegate.daemon")
Notify = Callable[[str, str], None]  # (source, message)

State = Literal["connected", "disconnected", "error", "unknown"]
Paper = Literal["ok", "low", "out", "unknown"]
# The printer's own state -> (telemetry state, paper).
_HEALTH: dict[str, tuple[State, Paper]] = {
    DeviceState.READY: ("connected", "ok"),
    DeviceState.PAPER_NEAR_END: ("connected", "low"),
    DeviceState.PAPER_OUT: ("connected", "out"),
    DeviceState.CONNECTED: ("connected", "unknown"),  # answers no status queries
    DeviceState.COVER_OPEN: ("error", "unknown"),
    DeviceState.ERROR: ("error", "unknown"),
    DeviceState.OFFLINE: ("disconnected", "unknown"),
    DeviceState.DISCONNECTED: ("disconnected", "unknown"),
}
_PRINTS = (DeviceState.READY, DeviceState.PAPER_NEAR_END, DeviceState.CONNECTED)


@dataclass
class _Printer:
    state: str = "unknown"
    detail: str = ""
    since: str | None = None


@dataclass
class _Outage:
    """Receipts not printed since the problem began (the alert names the first)."""

    reason: str
    receipts: list[int] = field(default_factory=list)


class PrinterHealth:
    """Thread-safe printer states and the one-alert-per-outage rule."""

    def __init__(self, names: list[str], alert: Notify, cleared: Notify) -> None:
        self._lock = threading.Lock()
        self._printers = {name: _Printer() for name in names}
        self._alert = alert
        self._cleared = cleared
        self._outage: _Outage | None = None
        # who else follows the printers' state reports (the till's screens: the device
        # panel); called on the printer thread, must not block
        self.listener: Callable[[DeviceEvent], None] = lambda event: None

    def track(self, names: list[str]) -> None:
        """The printers of reloaded settings: new ones start "unknown", removed ones go."""
        with self._lock:
            self._printers = {name: self._printers.get(name, _Printer()) for name in names}

    def observe(self, event: DeviceEvent) -> None:
        """A printer's state report (its sink; called on the printer thread)."""
        if not isinstance(event, DeviceStateEvent):
            return
        with self._lock:
            printer = self._printers.setdefault(event.device, _Printer())
            printer.state, printer.detail = event.state.value, event.detail
            printer.since = event.at.isoformat()
        log.info("printer %s: %s %s", event.device, event.state.value, event.detail)
        self.listener(event)
        if event.state in _PRINTS:
            self._maybe_recovered()

    def not_printed(self, seq: int, reason: str) -> None:
        """A receipt that did not print: the outage's first raises the alert."""
        with self._lock:
            first = self._outage is None
            if first:
                self._outage = _Outage(reason)
            assert self._outage is not None
            self._outage.receipts.append(seq)
        if first:
            self._alert(
                "printer",
                f"receipt {seq} not printed ({reason}); reprint with "
                f"`gateway receipt {seq} --print` (or Ctrl+P at the till) once the printer "
                "is ready",
            )
        else:
            log.error("printer: receipt %s not printed either (%s)", seq, reason)

    def printed(self) -> None:
        self._maybe_recovered()

    @property
    def troubled(self) -> bool:
        """True while a receipt was lost or a printer cannot print (worth polling)."""
        with self._lock:
            return self._outage is not None or any(
                p.state not in _PRINTS and p.state != "unknown" for p in self._printers.values()
            )

    def _maybe_recovered(self) -> None:
        with self._lock:
            if self._outage is None or any(p.state not in _PRINTS for p in self._printers.values()):
                return
            outage, self._outage = self._outage, None
        listed = ", ".join(str(seq) for seq in outage.receipts)
        self._cleared(
            "printer",
            f"the printer prints again (it was: {outage.reason}); "
            f"receipts not printed meanwhile: {listed} — reprint each with "
            "`gateway receipt SEQ --print`",
        )

    def telemetry(self) -> dict[str, DeviceHealth]:
        """Device health per printer for sync's telemetry (any thread)."""
        with self._lock:
            printers = dict(
                (name, _Printer(p.state, p.detail, p.since)) for name, p in self._printers.items()
            )
        health: dict[str, DeviceHealth] = {}
        for name, printer in printers.items():
            state, paper = _HEALTH.get(printer.state, ("unknown", "unknown"))
            health[name] = DeviceHealth(
                state=state,
                error=None if paper in ("ok", "low") else (printer.detail or None),
                last_event_at=printer.since,
                paper=paper,
            )
        return health

    def view(self) -> str:
        """One line for `gateway status`: each printer's state."""
        with self._lock:
            return (
                ", ".join(
                    f"{name} {p.state}" + (f" ({p.detail})" if p.detail else "")
                    for name, p in self._printers.items()
                )
                or "none configured"
            )
