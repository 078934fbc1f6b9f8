"""`gateway run`: the box's main loop, the only writer of the SQLite file.

Theory of operation. Everything that changes the lane or the database happens on the
main thread, one message at a time, taken from one inbox (`queue.SimpleQueue`, safe to
fill from signal handlers and any thread): device events (driver threads of the devices
room), control requests (the control socket's thread, which waits for the answer),
acknowledgements from sync (its own thread; it never writes) and signals. Slow or
blocking work lives elsewhere: device I/O on the drivers' threads, printing on the
printer thread (commit first, then print), MQTT on sync's thread, backups on a thread
with their own read-only connection. So a jammed printer or a dead broker never holds up
a scan, and the lane and the journal writer never wait on the network.

Supervision: READY=1 once the lane, devices, sync and control socket are up; WATCHDOG=1
from the loop itself (a hung loop is restarted by systemd); SIGTERM suspends the sale in
progress, stops sync (its retained state says offline) and exits 0; SIGHUP reloads the
settings that can change live (anomaly thresholds, backups, disk threshold, receipt
header/footer, the catalog file).
"""

from __future__ import annotations

import faulthandler
import json
import logging
import os
import queue
import shutil
import signal
import sqlite3
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from devices.errors import DeviceError
from devices.events import (
    CardEvent,
    DecodeFault,
    DeviceStateEvent,
    ScanEvent,
    WeightReading,
    utc_now,
)
from devices.runner import (
    DeviceLoop,
    DeviceRunner,
    card_reader_loop,
    printer_for,
    scale_loop,
    scanner_loop,
)
from gateway.catalog.catalog import Catalog
from gateway.catalog.store import CatalogStore
from gateway.daemon.anomalies import Anomaly, AnomalyWatch
from gateway.daemon.backup import BackupReach, backup_dir, take_backup
from gateway.daemon.clockwatch import ClockWatch
from gateway.daemon.control import ControlServer, control_socket
from gateway.daemon.keys import NotAnEvent, from_device, from_request
from gateway.daemon.lock import daemon_lock
from gateway.daemon.memory import release_freed_heap
from gateway.daemon.notify import Notifier
from gateway.daemon.screens import Call, Screens
from gateway.database import open_database
from gateway.errors import StoregateError
from gateway.journal import Journal, JournalError, JournalRecord
from gateway.journal.clock import probe_ntp_synchronised
from gateway.journal.retention import RetentionKeeper
from gateway.lane import events as ev
from gateway.lane.book import LaneBook
from gateway.lane.events import Outcome, Refusal
from gateway.lane.machine import Lane, State
from gateway.lane.members import RoomMembers
from gateway.lane.records import LaneRef
from gateway.lane.staff import StaffChange, StaffDirectory
from gateway.members import MemberAccounts, MemberStore
from gateway.receipts.text import render_receipt
from gateway.settings import GatewaySettings, load_settings

log = logging.getLogger("storegate.daemon")
TICK = 0.2  # seconds the loop waits for a message before housekeeping
RECENT = 50  # anomalies and alerts kept for the supervisor's view
PRINTED_KINDS = ("sale", "refund", "z_report")


class StartError(StoregateError):
    """The daemon cannot start with these settings or this database."""


@dataclass(frozen=True)
class Request:
    body: dict[str, Any]
    reply: queue.SimpleQueue[dict[str, Any]]


@dataclass(frozen=True)
class Ack:
    seq: int
    hash: str


@dataclass(frozen=True)
class DocumentJob:
    """A verified document from head office, to apply on the main loop (the one writer)."""

    kind: str
    version: int
    document: dict[str, Any]
    reply: queue.SimpleQueue[BaseException | None]


class MainLoopDocuments:
    """sync's DocumentSink: hands each document to the main loop and waits for its verdict."""

    def __init__(self, inbox: queue.SimpleQueue[Any]) -> None:
        self.inbox = inbox

    def apply(self, kind: str, version: int, document: dict[str, Any]) -> None:
        from gateway.sync.errors import DocumentRefused
        reply: queue.SimpleQueue[BaseException | None] = queue.SimpleQueue()
        self.inbox.put(DocumentJob(kind, version, document, reply))
        try:
            verdict = reply.get(timeout=30)
        except queue.Empty:
            raise DocumentRefused(
                "the box's main loop did not apply the document in 30 s",
                fix="head office re-sends it; check the box's health") from None
        if verdict is not None:
            raise verdict


@dataclass(frozen=True)
class PrintJob:
    seq: int
    kind: str
    record_id: str
    receipt: Any


class PrinterWorker:
    """Prints committed receipts on its own thread and keeps a text copy of each.

    ESC/POS bytes are made only when a printer is configured: python-escpos (with its
    capability database, 3-8 MB) is then loaded here at start-up, and never on a box that
    keeps text copies only.
    """

    def __init__(self, settings: GatewaySettings, receipts_dir: Path,
                 alert: Any) -> None:
        self.width = settings.store.receipt_width
        self.receipts_dir = receipts_dir
        self.alert = alert
        self.jobs: queue.Queue[PrintJob | None] = queue.Queue()
        self.printers = [printer_for(p, None, utc_now) for p in settings.devices.printers]
        self.state = "none configured" if not self.printers else "unknown"
        self.render_escpos: Callable[[Any, int], bytes] | None = None
        if self.printers:
            from gateway.receipts.escpos import render_escpos
            self.render_escpos = render_escpos
        self.thread = threading.Thread(target=self._run, name="storegate-printer", daemon=True)

    def start(self) -> None:
        self.receipts_dir.mkdir(parents=True, exist_ok=True)
        self.thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self.jobs.put(None)
        self.thread.join(timeout)
        for printer in self.printers:
            printer.close()

    def _run(self) -> None:
        while (job := self.jobs.get()) is not None:
            try:
                self._print(job)
            except Exception as exc:  # a bad receipt must not end printing for good
                log.exception("printing record %s failed", job.seq)
                self.alert("printer", f"receipt {job.seq} not printed: {exc}")

    def copy_path(self, seq: int, kind: str) -> Path:
        return self.receipts_dir / f"{seq:07d}-{kind}.txt"

    def _print(self, job: PrintJob) -> None:
        """Paper first, then the text copy: a missing copy means "maybe not printed"."""
        if self.render_escpos is not None:
            self._print_paper(job)
        path = self.copy_path(job.seq, job.kind)
        partial = path.with_suffix(".partial")
        partial.write_text(render_receipt(job.receipt, self.width))
        partial.replace(path)

    def _print_paper(self, job: PrintJob) -> None:
        assert self.render_escpos is not None
        data = self.render_escpos(job.receipt, self.width)
        for printer in self.printers:
            try:
                printer.print_bytes(data)
                self.state = "ok"
            except DeviceError as exc:
                printer.close()
                self.state = f"offline: {exc}"
                self.alert("printer", f"receipt {job.seq} not printed ({exc}); reprint with "
                           f"`gateway receipt {job.seq}`")


class Box:
    """One box: build with settings, `start()`, `run()` until stopped."""

    def __init__(self, settings: GatewaySettings, config_path: str | None,
                 notifier: Notifier | None = None) -> None:
        self.settings = settings
        self.config_path = config_path
        self.notifier = notifier or Notifier()
        self.inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.data_dir = Path(settings.paths.data_dir)
        self.started = time.monotonic()
        self.stopping = False
        self.anomalies = AnomalyWatch(settings.anomalies)
        self.recent_anomalies: deque[dict[str, Any]] = deque(maxlen=RECENT)
        self.alerts: deque[dict[str, Any]] = deque(maxlen=RECENT)
        self.clock_watch = ClockWatch()
        self.devices: dict[str, dict[str, Any]] = {}
        self.scale: WeightReading | None = None
        self.sync: Any = None
        self.runner: DeviceRunner | None = None
        self.control: ControlServer | None = None
        self.printer: PrinterWorker | None = None
        self.screens = Screens()
        self.next_backup = time.monotonic() + settings.backup.interval_hours * 3600
        self.counts = {"events": 0, "sales": 0, "refusals": 0}
        # When the lane last changed because of a device (for scan-to-screen latency).
        self.last_input: dict[str, Any] = {"count": 0, "device": None, "lane_updated_at": None}

    # -- life cycle -----------------------------------------------------------------------

    def start(self) -> None:
        self._route_signals()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.db = open_database(self.settings.paths.database)
        self.journal = Journal(self.db)
        self.book = LaneBook(self.db, self.journal)
        self.retention = RetentionKeeper(  # prunes in small steps from _housekeeping
            self.journal, self.settings.journal, wall=lambda: datetime.now(UTC),
            backed_up=BackupReach(backup_dir(self.settings), self.journal.get),
            dependents=(LaneBook.forget_through,), alert=lambda m: self.alert("journal", m))
        self.staff = StaffDirectory(self.db, self.settings.lane)
        members = RoomMembers(MemberAccounts(MemberStore(self.db, self.settings.store.box)))
        self.lane = Lane(book=self.book, staff=self.staff, catalog=self._catalog(),
                         settings=self.settings, members=members)
        self.printer = PrinterWorker(self.settings, self._receipts_dir(), self.alert)
        self.printer.start()
        self._reprint_unprinted()
        self._start_devices()
        self._start_sync()
        self.control = ControlServer(control_socket(self.settings), self._submit,
                                     self.settings.daemon.socket_group)
        self.control.start()
        self.notifier.ready(f"lane {self.lane.state.value}")
        self.screens.start(self.settings, self.lane, self.inbox, self.feed, self.alert)
        release_freed_heap()  # start-up's garbage back to the OS, its survivors frozen
        log.info("ready: lane %s, journal head %s", self.lane.state.value,
                 self.journal.state().head_seq)

    def _reprint_unprinted(self, last: int = 200) -> None:
        """After a crash between commit and print: print what has no text copy yet."""
        assert self.printer is not None
        head = self.journal.state().head_seq
        for record in self.journal.read(max(0, head - last), last):
            if record.kind not in PRINTED_KINDS:
                continue
            if not self.printer.copy_path(record.seq, record.kind).exists():
                log.info("record %s committed but not printed: printing it now", record.seq)
                self.printer.jobs.put(PrintJob(record.seq, record.kind, record.id,
                                               self.lane.receipt_for(record)))

    def _route_signals(self) -> None:
        """SIGTERM/SIGINT/SIGHUP become inbox messages, whichever thread the kernel picks.

        Blocked here before any thread starts (threads inherit the mask) and taken with
        sigwait on a thread of their own, so the main loop wakes at once instead of at its
        next tick, and no handler ever runs in the middle of the loop's work.
        """
        wanted = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}
        for number in wanted:  # for threads some library started before this point
            name = "SIGHUP" if number == signal.SIGHUP else "SIGTERM"
            signal.signal(number, lambda *_, name=name: self.inbox.put(name))
        signal.pthread_sigmask(signal.SIG_BLOCK, wanted)

        def route() -> None:
            while True:
                received = signal.sigwait(wanted)
                self.inbox.put("SIGHUP" if received == signal.SIGHUP else "SIGTERM")

        threading.Thread(target=route, name="storegate-signals", daemon=True).start()

    def _receipts_dir(self) -> Path:
        chosen = self.settings.daemon.receipts_dir
        return Path(chosen) if chosen else self.data_dir / "receipts"

    def _catalog(self) -> Catalog:
        store = CatalogStore(self.db)
        file = self.settings.paths.catalog
        if file is not None and Path(file).exists():
            text = Path(file).read_text()
            if store.version() is None:
                return store.apply_text(text, str(file))
        catalog = store.load()
        if catalog is None:
            raise StartError("there is no catalog: the database holds none and no catalog "
                             "file is configured", where=str(self.settings.paths.database),
                             fix="set paths.catalog to a catalog document, or let head "
                             "office push one")
        return catalog

    def _start_devices(self) -> None:
        d = self.settings.devices
        sink = self.inbox.put
        loops: list[DeviceLoop] = [scanner_loop(s, sink, utc_now) for s in d.scanners]
        loops += [scale_loop(s, sink, utc_now) for s in d.scales]
        loops += [card_reader_loop(c, sink, utc_now) for c in d.card_readers]
        for loop in loops:
            self.devices[loop.name] = {"role": loop.role.value, "state": "starting",
                                       "detail": "", "at": None}
        self.runner = DeviceRunner(loops).start()

    def _start_sync(self) -> None:
        if not self.settings.sync.enabled:
            return
        from gateway.sync.service import SyncConfig, SyncService
        self.sync = SyncService(SyncConfig.from_settings(self.settings),
                                acknowledge=lambda seq, h: self.inbox.put(Ack(seq, h)),
                                sink=MainLoopDocuments(self.inbox),
                                devices=self._device_health, clock=self._wall_clock)
        self.sync.start()

    @staticmethod
    def _wall_clock() -> tuple[datetime, bool]:
        return datetime.now(UTC), probe_ntp_synchronised()

    def run(self) -> int:
        """The main loop: one message at a time, watchdog and housekeeping between."""
        next_ping = 0.0
        interval = self.notifier.watchdog_interval
        while not self.stopping:
            try:
                message = self.inbox.get(timeout=TICK)
            except queue.Empty:
                message = None
            if message is not None:
                self._dispatch(message)
            now = time.monotonic()
            if interval is not None and now >= next_ping:
                self.notifier.watchdog()
                next_ping = now + interval
            self._housekeeping(now)
        self.shutdown()
        return 0

    def shutdown(self) -> None:
        """SIGTERM: keep the sale in progress (suspended), stop sync (offline), flush, exit."""
        self.notifier.stopping()
        if self.lane.state is State.IN_SALE:
            try:
                answer = self.lane.handle(ev.Suspend(self._local_now()))
                log.info("shutdown: sale in progress: %s (kept: %s)",
                         "; ".join(getattr(answer, "notices", ())) or answer,
                         ", ".join(self.book.suspended_ids()))
            except (StoregateError, sqlite3.Error, OSError) as exc:
                log.error("shutdown: the sale in progress could not be suspended: %s", exc)
        if self.control is not None:
            self.control.stop()
        self.screens.stop()
        if self.runner is not None:
            self.runner.stop()
        if self.printer is not None:
            self.printer.stop()
        if self.sync is not None:
            self.sync.stop()
        if self.db.conn.in_transaction:  # never lose work to close()'s implicit rollback
            log.error("a transaction was still open at shutdown: committing it")
            self.db.conn.commit()
        self.db.conn.close()
        log.info("stopped")

    # -- messages -------------------------------------------------------------------------

    def _dispatch(self, message: Any) -> None:
        self.counts["events"] += 1
        match message:
            case "SIGTERM":
                self.stopping = True
            case "SIGHUP":
                self.reload()
            case Request() if message.body.get("command") == "backup":
                threading.Thread(target=self._backup_request, args=(message,),
                                 daemon=True).start()  # seconds of I/O: off the loop
            case Request():
                message.reply.put(self._answer(message.body))
            case Ack():
                self._acknowledge(message)
            case DocumentJob():
                message.reply.put(self._apply_document(message))
            case Call():
                try:
                    answer = message.fn()
                except Exception as exc:  # a screen's request failed: it says so, we go on
                    log.exception("a request from the screens failed")
                    answer = exc
                message.reply.put(answer)
            case ScanEvent() | CardEvent():
                self._device_input(message)
            case WeightReading():
                self.screens.observe(message)
                self.scale = message
                self._note_device(message.device, "connected", "", message.at)
                from gateway.daemon.keys import weight_kg
                weight, stable = weight_kg(message)
                self._report(self.anomalies.scale_reading(weight, stable))
            case DeviceStateEvent():
                self.screens.observe(message)
                self._note_device(message.device, message.state.value, message.detail,
                                  message.at)
                if (self.scale is not None and message.device == self.scale.device
                        and message.state.value != "connected"):
                    self.scale = None  # never price with the weight of an unplugged scale
            case DecodeFault():
                self.screens.observe(message)
                log.info("device %s: %s", message.device, message.reason)

    def _submit(self, body: dict[str, Any]) -> dict[str, Any]:
        """Called on the control thread: queue the request and wait for the main loop."""
        reply: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self.inbox.put(Request(body, reply))
        try:
            return reply.get(timeout=20)
        except queue.Empty:
            return {"ok": False, "error": "the daemon's main loop did not answer in 20 s"}

    def _answer(self, body: dict[str, Any]) -> dict[str, Any]:
        command = body.get("command")
        try:
            if command == "status":
                return {"ok": True, "status": self.status()}
            if command == "lane":
                return self._lane_request(body)
            if command == "reload":
                self.reload()
                return {"ok": True}
            if command == "z_report":
                return self._z_report(body)
            if command == "staff":
                return self._staff_request(body)
            if command == "catalog_load":
                return self._catalog_load(body)
            if command == "sync_now" and self.sync is not None:
                self.sync.sync_now()
                return {"ok": True}
        except StoregateError as exc:
            return {"ok": False, "error": exc.describe(), "exit_code": exc.exit_code}
        return {"ok": False, "error": f"unknown command {command!r}"}

    def _backup_request(self, request: Request) -> None:
        """`{"command": "backup"}`: its own read-only connection, on its own thread."""
        try:
            info = take_backup(self.settings.paths.database, backup_dir(self.settings),
                               keep=self.settings.backup.keep)
        except StoregateError as exc:
            request.reply.put({"ok": False, "error": exc.describe()})
            return
        request.reply.put({"ok": True, "path": str(info.path), "head_seq": info.head_seq})

    def _local_now(self) -> datetime:
        return datetime.now(ZoneInfo(self.settings.store.timezone)).replace(tzinfo=None)

    def _device_input(self, event: ScanEvent | CardEvent) -> None:
        self._note_device(event.device, "connected", "", event.at)
        lane_event = from_device(event, self.lane.state.value, self._local_now())
        if lane_event is not None:
            self.screens.record(lane_event, self.feed(lane_event))
            self.last_input = {"count": self.last_input["count"] + 1, "device": event.device,
                               "lane_updated_at": time.time()}

    def _lane_request(self, body: dict[str, Any]) -> dict[str, Any]:
        event = from_request(body, self._local_now(), self.scale)
        if isinstance(event, NotAnEvent):
            return {"ok": False, "error": event.message}
        answer = self.feed(event)
        self.screens.record(event, answer)
        if isinstance(answer, Refusal):
            return {"ok": False, "refused": answer.code, "error": answer.message,
                    "lane": self.lane_view()}
        return {"ok": True, "state": answer.state, "notices": list(answer.notices),
                "records": [getattr(r, "seq", None) for r in answer.records],
                "lane": self.lane_view()}

    # -- the lane ---------------------------------------------------------------------------

    def feed(self, event: ev.Event) -> Outcome | Refusal:
        """One lane event: refuse a new sale when the disk is nearly full; commit; print."""
        if self.lane.state is State.IDLE and isinstance(event, ev.Scan | ev.Plu | ev.Weighed):
            full = self._disk_too_full()
            if full is not None:
                return full
        try:
            answer = self.lane.handle(event)
        except (StoregateError, sqlite3.Error, OSError) as exc:
            self.alert("journal", f"the journal could not be written: {exc}")
            return Refusal("journal_unavailable", "The sale could not be recorded (the "
                           "box's storage is failing or full). Call the technician; the "
                           "sale is kept open.")
        if isinstance(answer, Refusal):
            self.counts["refusals"] += 1
            self._refused(event, answer)
            return answer
        self._accepted(event, answer)
        return answer

    def _disk_too_full(self) -> Refusal | None:
        free = shutil.disk_usage(self.data_dir).free
        limit = self.settings.daemon.disk_min_free_mb * 1024 * 1024
        if free >= limit:
            return None
        self.alert("disk", f"only {free // (1024 * 1024)} MB free in {self.data_dir} "
                   f"(below {self.settings.daemon.disk_min_free_mb} MB)")
        return Refusal("disk_full", "The box's storage is full: no new sale can be "
                       "recorded. Call the technician (free disk space on the box).")

    def _refused(self, event: ev.Event, answer: Refusal) -> None:
        now = time.monotonic()
        if answer.code == "unknown_item" and isinstance(event, ev.Scan | ev.Plu):
            code = event.raw if isinstance(event, ev.Scan) else event.code
            self._report(self.anomalies.unknown_barcode(code, now))
        elif answer.code == "wrong_pin":
            staff = getattr(getattr(event, "credential", None), "staff_id", None)
            self._report(self.anomalies.failed_pin(staff, now))

    def _accepted(self, event: ev.Event, outcome: Outcome) -> None:
        shift = self.lane.shift.shift_id if self.lane.shift else None
        if isinstance(event, ev.Weighed) and event.weight is not None:
            self.anomalies.weighed_item_priced(event.code, event.weight)
        if isinstance(event, ev.VoidLine):
            self._report(self.anomalies.voided_line(shift))
        for record in outcome.records:
            body = getattr(record, "body", {})
            kind = getattr(record, "kind", "")
            if kind == "sale":
                self.counts["sales"] += 1
            self._report(self.anomalies.committed(kind, body, body.get("shift_id", shift)))
        if self.lane.sale is None:
            self.anomalies.sale_ended()
        document = outcome.document
        if outcome.receipt is not None and isinstance(document, JournalRecord) \
                and self.printer is not None:
            self.printer.jobs.put(PrintJob(document.seq, document.kind, document.id,
                                           outcome.receipt))
        if outcome.records and self.sync is not None:
            self.sync.sync_now()

    def _z_report(self, body: dict[str, Any]) -> dict[str, Any]:
        from gateway.receipts.model import from_record
        from gateway.reports import close_day
        credential = ev.Credential(card=body["card"]) if body.get("card") else ev.Credential(
            staff_id=str(body.get("staff")), pin=str(body.get("pin")))
        now = self._local_now()
        day = str(body.get("day") or now.date().isoformat())
        lane_ref = LaneRef(store=self.settings.store.id, box=self.settings.store.box)
        record = close_day(self.book, self.staff, self.settings.lane, lane_ref, day, now,
                           credential, lambda: uuid.uuid4().hex,
                           empty_day=body.get("empty_day") is True)
        if isinstance(record, Refusal):
            return {"ok": False, "refused": record.code, "error": record.message}
        store = self.settings.store
        receipt = from_record(record, store.header, ())
        if self.printer is not None:
            self.printer.jobs.put(PrintJob(record.seq, record.kind, record.id, receipt))
        if self.sync is not None:
            self.sync.sync_now()
        return {"ok": True, "seq": record.seq, "body": record.body,
                "text": render_receipt(receipt, store.receipt_width)}

    def _staff_request(self, body: dict[str, Any]) -> dict[str, Any]:
        """`gateway staff add|totp` while the daemon runs: the main loop writes it."""
        result = self.staff.change(StaffChange.from_request(body), self._local_now(),
                                   datetime.now(UTC))
        if isinstance(result, Refusal):
            return {"ok": False, "refused": result.code, "error": result.message}
        log.info("staff %s changed through the control socket", body.get("staff_id"))
        return {"ok": True, "text": result}

    def _catalog_load(self, body: dict[str, Any]) -> dict[str, Any]:
        """`gateway catalog load` while the daemon runs: stored, then priced with at once
        (the sale in progress keeps its catalog, as with a pushed one)."""
        catalog = CatalogStore(self.db).apply_text(str(body.get("text", "")),
                                                   str(body.get("source", "catalog load")),
                                                   allow_same_or_older=bool(body.get("force")))
        self._use_catalog(catalog)
        log.info("catalog version %s loaded through the control socket", catalog.version)
        return {"ok": True, "version": catalog.version, "products": len(catalog.products)}

    def _apply_document(self, job: DocumentJob) -> BaseException | None:
        """Swap a catalog or members document in; the sale in progress keeps its catalog."""
        from gateway.catalog.document import parse_document
        from gateway.members.sink import MembersSink
        from gateway.sync.errors import DocumentRefused
        source = f"{job.kind} document version {job.version}"
        try:
            if job.kind == "catalog":
                document = parse_document(job.document, source)
                text = json.dumps(job.document, default=str)
                self._use_catalog(CatalogStore(self.db).apply(document, text, source))
            elif job.kind == "members":
                MembersSink(MemberStore(self.db, self.settings.store.box)).apply(
                    job.kind, job.version, job.document)
            else:
                return DocumentRefused(f"no applier for {job.kind} documents on this box",
                                       fix="update storegate; the document in force stays")
        except DocumentRefused as exc:
            return exc
        except StoregateError as exc:
            return DocumentRefused(exc.what, where=exc.where, fix=exc.fix)
        log.info("applied %s", source)
        return None

    def _device_health(self) -> dict[str, Any]:
        """For sync's telemetry (called on its thread: reads a copy)."""
        from gateway.sync.payloads import DeviceHealth
        states = {"connected": "connected", "ready": "connected",
                  "disconnected": "disconnected", "starting": "unknown"}
        health: dict[str, Any] = {}
        for name, device in list(self.devices.items()):
            health[name] = DeviceHealth(state=states.get(str(device.get("state")), "error"),
                                        error=device.get("detail") or None,
                                        last_event_at=device.get("at"))
        return health

    def _acknowledge(self, ack: Ack) -> None:
        try:
            self.journal.acknowledge(ack.seq, expected_hash=ack.hash)
        except JournalError as exc:
            self.alert("journal", exc.describe())

    # -- events, alerts, status -------------------------------------------------------------

    def _report(self, anomalies: list[Anomaly]) -> None:
        for anomaly in anomalies:
            entry = {**anomaly.to_json(), "at": datetime.now(UTC).isoformat()}
            self.recent_anomalies.append(entry)
            log.warning("anomaly %s: %s", anomaly.rule, anomaly.message)
            if self.sync is not None:
                self.sync.post_event(f"anomaly.{anomaly.rule}", entry, "warning")

    def alert(self, source: str, message: str) -> None:
        """Something a technician must fix; thread-safe (a deque append), also sent."""
        entry = {"source": source, "message": message, "at": datetime.now(UTC).isoformat()}
        self.alerts.append(entry)
        log.error("%s: %s", source, message)
        if self.sync is not None:
            self.sync.post_event(f"alert.{source}", entry, "error")

    def _note_device(self, name: str, state: str, detail: str, at: datetime) -> None:
        entry = self.devices.setdefault(name, {"role": "?", "state": state})
        entry.update(state=state, detail=detail, at=at.isoformat())

    def _housekeeping(self, now: float) -> None:
        jump = self.clock_watch.tick(datetime.now(UTC), now)
        if jump is not None:
            log.warning("wall clock jumped back %.3f s (%s -> %s); order is by seq",
                        jump.seconds, jump.before, jump.after)
            if self.sync is not None:
                self.sync.post_event("clock.jump_back", jump.__dict__, "warning")
        if now >= self.next_backup:
            self.next_backup = now + self.settings.backup.interval_hours * 3600
            threading.Thread(target=self._scheduled_backup, daemon=True).start()
        self.retention.tick(now)

    def _scheduled_backup(self) -> None:
        try:
            take_backup(self.settings.paths.database, backup_dir(self.settings),
                        keep=self.settings.backup.keep)
        except StoregateError as exc:
            self.alert("backup", exc.describe())

    def reload(self) -> None:
        """SIGHUP: settings that may change live; the rest needs a restart (logged)."""
        self.notifier.reloading()
        try:
            fresh = load_settings(self.config_path)
        except StoregateError as exc:
            self.alert("settings", f"reload refused, old settings stay: {exc.describe()}")
            self.notifier.ready()
            return
        for section in ("devices", "mqtt", "sync", "paths"):
            if getattr(fresh, section) != getattr(self.settings, section):
                log.warning("[%s] changed: restart the service to apply it", section)
        self.settings.anomalies = fresh.anomalies
        self.settings.backup = fresh.backup
        self.settings.journal = self.retention.settings = fresh.journal
        self.settings.daemon = fresh.daemon
        self.settings.store.header = fresh.store.header
        self.settings.store.footer = fresh.store.footer
        self.anomalies.reconfigure(fresh.anomalies)
        self._reload_catalog()
        self.notifier.ready()
        log.info("settings reloaded")

    def _reload_catalog(self) -> None:
        file = self.settings.paths.catalog
        if file is None or not Path(file).exists():
            return
        store = CatalogStore(self.db)
        try:
            catalog = store.apply_text(Path(file).read_text(), str(file))
        except StoregateError:
            return  # same or older version: nothing new to apply
        self._use_catalog(catalog)

    def _use_catalog(self, catalog: Catalog) -> None:
        """The lane prices with `catalog` from its next sale; the old catalog's objects are
        freed and the new ones frozen out of full collections (gateway.daemon.memory)."""
        self.lane.set_catalog(catalog)
        self.screens.publish()
        release_freed_heap()

    def lane_view(self) -> dict[str, Any]:
        """What the lane's screen shows: state, cashier, the running total, notices."""
        sale = self.lane.sale
        priced = getattr(sale, "priced", None)
        return {
            "state": self.lane.state.value,
            "cashier": self.lane.shift.staff.name if self.lane.shift else None,
            "shift": self.lane.shift.shift_id if self.lane.shift else None,
            "lines": len(getattr(priced, "lines", ()) or ()) if priced else 0,
            "total": str(priced.total) if priced is not None else None,
            "suspended": self.book.suspended_ids(),
            "anomalies": list(self.recent_anomalies)[-5:],
        }

    def _scale_view(self) -> str | None:
        """The stable weight in kg the lane would price with, or None."""
        from gateway.daemon.keys import weight_kg
        weight, stable = weight_kg(self.scale)
        return str(weight) if stable and weight is not None else None

    def status(self) -> dict[str, Any]:
        state = self.journal.state()
        backlog, oldest = self.journal.backlog()
        sync = self.sync.status() if self.sync is not None else {"state": "disabled"}
        return {
            "pid": os.getpid(),
            "uptime_s": round(time.monotonic() - self.started, 1),
            "lane": self.lane_view(),
            "devices": self.devices,
            "printer": self.printer.state if self.printer else "none",
            "scale": self._scale_view(),
            "journal": {"head_seq": state.head_seq, "acknowledged_seq": state.acknowledged_seq,
                        "backlog": backlog, "oldest_unacknowledged": oldest},
            "sync": sync,
            "clock": {"now": datetime.now(UTC).isoformat(),
                      "synchronised": probe_ntp_synchronised(),
                      "jumps_back": self.clock_watch.jumps_back,
                      "last_jump": (self.clock_watch.last_jump.__dict__
                                    if self.clock_watch.last_jump else None)},
            "anomalies": list(self.recent_anomalies),
            "alerts": list(self.alerts),
            "counts": dict(self.counts),
            "screens": self.screens.url,
            "last_input": dict(self.last_input),
        }


def run_daemon(config_path: str | None) -> int:
    settings = load_settings(config_path)
    # A CPU-busy thread (sync encoding a batch) keeps the GIL for up to the switch interval
    # (5 ms by default) before the main loop gets it back: 1 ms keeps scans snappy.
    sys.setswitchinterval(0.001)
    # `kill -USR1 PID` writes every thread's stack to the journal: what a hang is doing.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s",
                        force=True)
    data_dir = Path(settings.paths.data_dir)
    with daemon_lock(data_dir, holder="gateway run"):
        box = Box(settings, config_path)
        box.start()
        return box.run()
