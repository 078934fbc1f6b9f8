"""The technician page's answers in `gateway run` (docs/technician.md).

Owns `BoxDesk`, the daemon's `gateway.screens.technician.TechnicianDesk`: a table from
each of the page's typed requests to the function that answers it. What reads or changes
the lane, the database, the devices' state or the printers runs on the daemon's main
loop (`on_main_loop`), the one user of the database connection; the printer's answer to
a test page or a drawer kick comes from the printer thread (`BenchJob`), waited for on
the web's worker thread, never on the main loop. The same functions as the CLI answer:
`authorize_box_action` (sign-in), `Box.status` (`gateway status`), `devices.adoption.review`
(`gateway devices list`), `Doctor` (`gateway doctor`, given the daemon's status as the CLI
is), `load_settings` + `masked` (`gateway config check`), `parse_scan` + the catalog (a
scan as the lane reads it, nothing sold). Reading udev and the settings file, and the
doctor's own read-only checks, run on the worker thread: they touch neither the lane nor
the database connection nor a device's port.
"""

from __future__ import annotations

import json
import logging
import queue
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gateway.barcodes import Misread, parse_scan
from gateway.cardsafe import mask_card_data
from gateway.daemon.box_actions import BOX_ACTION_KIND
from gateway.daemon.device_feed import weight_json
from gateway.daemon.screens import on_main_loop
from gateway.daemon.till import BenchJob
from gateway.errors import StoregateError
from gateway.lane import events as ev
from gateway.lane.events import Refusal
from gateway.screens.technician import (
    BOX_ACTION,
    DeviceReview,
    Doctor,
    Events,
    LogLines,
    OpenDrawer,
    Overview,
    PrintTestPage,
    ReadScale,
    SettingsCheck,
    SignIn,
    Technician,
    TechRequest,
    TestScan,
)

if TYPE_CHECKING:
    from gateway.daemon.box import Box

log = logging.getLogger("storegate.daemon.technician")
PRINTER_WAIT_S = 30.0  # a test page on a slow serial printer, behind a queued receipt


class BoxDesk:
    """Answers the technician page for one running box."""

    def __init__(self, box: Box) -> None:
        self.box = box
        self.answers: dict[type, Callable[[Any], Any]] = {
            SignIn: self._sign_in,
            Overview: self._overview,
            DeviceReview: self._device_review,
            Events: self._events,
            ReadScale: self._read_scale,
            PrintTestPage: self._print_test_page,
            OpenDrawer: self._open_drawer,
            TestScan: self._test_scan,
            Doctor: self._doctor,
            SettingsCheck: self._settings_check,
            LogLines: lambda _: self.box.recent_log.lines(60),
        }

    def ask(self, request: TechRequest) -> Any:
        return self.answers[type(request)](request)

    def _main(self, fn: Callable[[], Any]) -> Any:
        return on_main_loop(self.box.inbox, fn)

    # -- on the main loop ---------------------------------------------------------------

    def _sign_in(self, request: SignIn) -> Technician | Refusal:
        def check() -> Technician | Refusal:
            box = self.box
            credential = ev.Credential(staff_id=request.staff_id or None, pin=request.pin)
            who = box.staff.authorize_box_action(
                BOX_ACTION, credential, request.totp, box.clock.local(), box.clock.wall()
            )
            if isinstance(who, Refusal):
                log.warning(
                    "technician page: sign-in of %r from %s refused (%s)",
                    mask_card_data(request.staff_id[:20]),
                    request.source,
                    who.code,
                )
                return who
            log.info("technician page: %s (%s) signed in from %s", who.name, who.id, request.source)
            return Technician(who.id, who.name, who.role)

        answer: Technician | Refusal = self._main(check)
        return answer

    def _overview(self, _: Overview) -> dict[str, Any]:
        status: dict[str, Any] = self._main(self.box.status)
        mqtt = self.box.settings.mqtt
        status["addresses"] = [
            f"host name {socket.gethostname()}",
            f"broker {mqtt.host}:{mqtt.port}" + (" (TLS)" if mqtt.ca_file else ""),
        ]
        return status

    def _events(self, request: Events) -> list[dict[str, Any]]:
        def since() -> list[dict[str, Any]]:
            return [e.to_json() for e in self.box.device_feed.since(request.after)]

        answer: list[dict[str, Any]] = self._main(since)
        return answer

    def _read_scale(self, _: ReadScale) -> list[dict[str, Any]]:
        def readings() -> list[dict[str, Any]]:
            now = self.box.clock.wall()
            return [weight_json(r, now) for r in self.box.device_feed.weights.values()]

        answer: list[dict[str, Any]] = self._main(readings)
        return answer

    def _bench(self, kind: str, by: Technician, before: Callable[[], str | None]) -> list[str]:
        """Queue a `BenchJob` from the main loop (after `before`, which may refuse), then
        wait here for the printer thread's answer."""
        reply: queue.SimpleQueue[list[str]] = queue.SimpleQueue()

        def queue_it() -> str | None:
            refused = before()
            if refused is not None:
                return refused
            printer = self.box.printer
            if printer is None:
                return "the printer thread is not running"
            lines = (f"test page asked by {by.name} ({by.staff_id})",)
            printer.jobs.put(BenchJob(kind, lines, reply))
            return None

        refused: str | None = self._main(queue_it)
        if refused is not None:
            return [refused]
        try:
            return reply.get(timeout=PRINTER_WAIT_S)
        except queue.Empty:
            return [f"the printer thread did not answer in {PRINTER_WAIT_S:.0f} s"]

    def _print_test_page(self, request: PrintTestPage) -> list[str]:
        def note() -> None:
            log.info("technician page: test page asked by %s", request.by.staff_id)

        return self._bench("test_page", request.by, lambda: note())

    def _open_drawer(self, request: OpenDrawer) -> list[str]:
        """Journal first: the `box_action` record naming who opened the drawer commits
        before the kick is queued; a broken journal opens nothing."""
        box = self.box

        def record() -> str | None:
            if box.chain_broken is not None:
                return "the journal failed its integrity check: the drawer is not opened"
            by = request.by
            body = {
                "action": "open_drawer",
                "actor": {"id": by.staff_id, "name": by.name, "role": by.role},
                "bootstrap": False,
                "via": "technician page",
            }
            committed = box.journal.append(BOX_ACTION_KIND, body)
            log.info("technician page: drawer opened by %s (record %s)", by.staff_id, committed.seq)
            if box.sync is not None:
                box.sync.sync_now()
            return None

        return self._bench("drawer", request.by, record)

    def _test_scan(self, request: TestScan) -> list[str]:
        def read() -> list[str]:
            lane = self.box.lane
            parsed = parse_scan(request.code, lane.settings.barcodes)
            shown = mask_card_data(request.code)
            if isinstance(parsed, Misread):
                return [f"{shown!r}: not read ({parsed.kind}): {parsed.reason}"]
            lines = [
                f"{shown!r}: read as {parsed.source}, symbology {parsed.symbology or 'unknown'}"
                + (f", GTIN {parsed.gtin}" if parsed.gtin else "")
            ]
            if parsed.weight is not None:
                lines.append(f"weight on the label: {parsed.weight} kg")
            if parsed.price is not None:
                lines.append(f"price on the label: {parsed.price}")
            product = lane.catalog.lookup(parsed.lookup_keys)
            lines.append(
                f"catalog: {product.sku} {product.name}"
                if product is not None
                else f"catalog: no product for {', '.join(parsed.lookup_keys)}"
            )
            lines.append("nothing was sold: this is a test")
            return lines

        log.info("technician page: test scan by %s", request.by.staff_id)
        answer: list[str] = self._main(read)
        return answer

    # -- on the worker thread (no lane, no database connection, no device port) -----------

    def _device_review(self, _: DeviceReview) -> dict[str, Any]:
        from devices.adoption import review
        from devices.known_devices import known_devices, system_usb_ids
        from devices.udev import PyudevSource
        from gateway.commands.devices import review_json

        try:
            present = PyudevSource().enumerate()
            return review_json(
                review(self.box.settings.devices, present, known_devices(), system_usb_ids())
            )
        except (ImportError, OSError, StoregateError) as exc:
            return {"error": f"udev could not be read: {exc}", "configured": [], "unconfigured": []}

    def _doctor(self, _: Doctor) -> list[dict[str, str]]:
        from gateway.daemon.doctor import Doctor as Checks

        status = self._main(self.box.status)
        return [
            {"level": f.level, "check": f.check, "message": f.message, "fix": f.fix}
            for f in Checks(self.box.settings, json.loads(json.dumps(status, default=str))).run()
        ]

    def _settings_check(self, _: SettingsCheck) -> dict[str, Any]:
        from gateway.settings import load_settings, masked

        path = self.box.config_path
        try:
            settings = load_settings(path)
        except StoregateError as exc:
            return {"ok": False, "verdict": f"settings refused: {exc.describe()}", "text": ""}
        text = json.dumps(masked(settings), indent=2, ensure_ascii=False, default=str)
        return {"ok": True, "verdict": f"settings OK ({path or 'the default file'})", "text": text}
