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

import enum
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
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, cast

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
    scale_loop,
    scanner_loop,
)
from devices.settings import DeviceSettings
from gateway import __version__
from gateway.cardsafe import mask_card_data
from gateway.catalog.catalog import Catalog
from gateway.catalog.store import CatalogStore
from gateway.daemon.anomalies import Anomaly, AnomalyWatch
from gateway.daemon.backup import BackupReach, backup_dir, take_backup
from gateway.daemon.box_actions import (
    access_view,
    actor,
    journal_catalog_load,
    journal_staff_change,
)
from gateway.daemon.boxclock import BoxClock, SystemClock
from gateway.daemon.chain_guard import ChainBroken
from gateway.daemon.clockwatch import ClockWatch
from gateway.daemon.control import ControlServer, control_socket
from gateway.daemon.device_feed import DeviceFeed, RecentLog, weight_json
from gateway.daemon.keys import NotAnEvent, from_device, from_request, scale_capacity
from gateway.daemon.lock import daemon_lock
from gateway.daemon.memory import release_freed_heap
from gateway.daemon.notify import Notifier
from gateway.daemon.payments import ProviderReply, WalletDesk
from gateway.daemon.requests import (
    AcceptBreakRequest,
    Approval,
    BackupRequest,
    BadRequest,
    CatalogLoadRequest,
    ControlRequest,
    DeviceEventsRequest,
    LaneRequest,
    ReloadRequest,
    ReprintRequest,
    ScaleReadingRequest,
    StaffRequest,
    StatusRequest,
    StockRequest,
    SyncNowRequest,
    UpdateLockRequest,
    UpdateRecordRequest,
    ZReportRequest,
    parse_request,
)
from gateway.daemon.screens import Call, Screens
from gateway.daemon.till import PrinterWorker, TillEffects
from gateway.daemon.updates import UpdateDesk
from gateway.daemon.wallet_till import WalletTill
from gateway.database import open_database
from gateway.errors import StoregateError
from gateway.journal import Journal, JournalError, JournalRecord
from gateway.journal.retention import RetentionKeeper
from gateway.keyfile import SecretsKey
from gateway.lane import events as ev
from gateway.lane.book import LaneBook
from gateway.lane.events import Outcome, Refusal
from gateway.lane.machine import Lane, State
from gateway.lane.members import RoomMembers
from gateway.lane.records import LaneRef
from gateway.lane.staff import StaffChange, StaffDirectory, StaffMember
from gateway.members import LinkState, MemberAccounts, MemberStore
from gateway.private_files import private_dir
from gateway.receipts.text import render_receipt
from gateway.refusals import REFUSAL_CODES, RefusalCode
from gateway.settings import GatewaySettings, load_settings

log = logging.getLogger("storegate.daemon")
TICK = 0.2  # seconds the loop waits for a message before housekeeping
RECENT = 50  # anomalies and alerts kept for the supervisor's view
SYNC_RETRY_S = 30.0  # seconds between attempts to start sync when its state file failed
PRINTED_KINDS = ("sale", "refund", "paid_in", "paid_out", "top_up", "top_up_refund", "z_report")
SCREENS_TICK_S = 1.0


class StartError(StoregateError):
    """The daemon cannot start with these settings or this database."""


class Signal(enum.Enum):
    """A signal the kernel sent, as an inbox message."""

    TERM = "SIGTERM"  # and SIGINT
    HUP = "SIGHUP"


@dataclass(frozen=True)
class Request:
    """A parsed control request and where its answer goes (the control thread waits)."""

    request: ControlRequest
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
                fix="head office re-sends it; check the box's health",
            ) from None
        if verdict is not None:
            raise verdict


class Box:
    """One box: build with settings, `start()`, `run()` until stopped."""

    def __init__(
        self,
        settings: GatewaySettings,
        config_path: str | None,
        notifier: Notifier | None = None,
        clock: BoxClock | None = None,
    ) -> None:
        self.settings = settings
        self.config_path = config_path
        self.notifier = notifier or Notifier()
        self.clock: BoxClock = clock or SystemClock(settings.store.timezone)
        self.inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.data_dir = Path(settings.paths.data_dir)
        self.started = self.clock.monotonic()
        self.stopping = False
        self.anomalies = AnomalyWatch(settings.anomalies)
        self.recent_anomalies: deque[dict[str, Any]] = deque(maxlen=RECENT)
        self.alerts: deque[dict[str, Any]] = deque(maxlen=RECENT)
        self.clock_watch = ClockWatch()
        self.devices: dict[str, dict[str, Any]] = {}
        self.device_feed = DeviceFeed()  # the technician's live events (memory only)
        self.recent_log = RecentLog()  # the technician page's log lines
        self.scale: WeightReading | None = None
        self.sync: Any = None
        self.sync_failure: str | None = None  # why sync could not start (retried)
        self.sync_retry_at: float | None = None
        self.runner: DeviceRunner | None = None
        self.control: ControlServer | None = None
        self.printer: PrinterWorker | None = None
        self.till: TillEffects | None = None
        self.screens = Screens()
        self.chain_broken: ChainBroken | None = None
        self.config_pending = False  # head office's settings wait for the sale to end
        self.updates = UpdateDesk(self)  # software updates: order, lock, journalled steps
        self.next_backup = self.clock.monotonic() + settings.backup.interval_hours * 3600
        self.next_screens_tick = 0.0  # the screens' clock, sync light and thank-you timer
        self.counts = {"events": 0, "sales": 0, "refusals": 0}
        # When the lane last changed because of a device (for scan-to-screen latency).
        self.last_input: dict[str, Any] = {"count": 0, "device": None, "lane_updated_at": None}
        # The loop's message table: each kind of inbox message and who handles it.
        self.handlers: dict[type, Callable[[Any], None]] = {
            Signal: self._signal,
            Request: self._request,
            Ack: self._acknowledge,
            DocumentJob: self._document,
            Call: self._call,
            ScanEvent: self._device_input,
            CardEvent: self._device_input,
            WeightReading: self._weight,
            DeviceStateEvent: self._device_state,
            DecodeFault: self._decode_fault,
            ProviderReply: lambda reply: self.wallets.reply(reply),
        }
        # Control requests by type, answered on the main loop (backup: on its own thread).
        self.answers: dict[type, Callable[[Any], dict[str, Any]]] = {
            StatusRequest: lambda _: {"ok": True, "status": self.status()},
            DeviceEventsRequest: self._device_events,
            ScaleReadingRequest: self._scale_reading,
            LaneRequest: self._lane_request,
            ReloadRequest: self._reload_request,
            ZReportRequest: self._z_report,
            StaffRequest: self._staff_request,
            CatalogLoadRequest: self._catalog_load,
            SyncNowRequest: self._sync_now,
            AcceptBreakRequest: self._accept_break,
            ReprintRequest: self._reprint_request,
            StockRequest: self._stock_request,
            UpdateLockRequest: lambda r: self.updates.lock(r.version, r.peer_uid),
            UpdateRecordRequest: lambda r: self.updates.record_steps(r.peer_uid),
        }

    # -- life cycle -----------------------------------------------------------------------

    def start(self) -> None:
        logging.getLogger().addHandler(self.recent_log)  # every logger: sync, journal, ours
        self._route_signals()
        private_dir(self.data_dir)  # made 0700: nobody else lists or swaps its files
        self.db = open_database(self.settings.paths.database, owner_thread_only=True)
        self.journal = Journal(self.db, clock=self.clock.stamp)
        self.book = LaneBook(self.db, self.journal)
        self.retention = RetentionKeeper(  # prunes in small steps from _housekeeping
            self.journal,
            self.settings.journal,
            wall=self.clock.wall,
            backed_up=BackupReach(backup_dir(self.settings), self.journal.get),
            dependents=(LaneBook.forget_through,),
            alert=lambda m: self.alert("journal", m),
        )
        paths = self.settings.paths
        self.staff = StaffDirectory(
            self.db,
            self.settings.lane,
            secrets_key=SecretsKey(paths.secrets_key_for(paths.database)),
        )
        if sealed := self.staff.seal_clear_seeds():
            log.warning("%d TOTP seed(s) found in the clear were sealed with the key", sealed)
        link = self._member_link()
        members = RoomMembers(
            MemberAccounts(MemberStore(self.db, self.settings.store.box), link=link), link=link
        )
        self.lane = Lane(
            book=self.book,
            staff=self.staff,
            catalog=self._catalog(),
            settings=self.settings,
            members=members,
            new_id=self.clock.new_id,
        )
        from gateway.daemon.stock_desk import StockDesk
        from gateway.stock.orders import OrderStore

        self.stock = StockDesk(
            self.journal,
            self.db.conn,
            self.staff,
            self.settings,
            OrderStore(self.db.conn),
            lambda: self.lane.catalog,
            self.clock.local,
        )
        self.stock.restore()
        self.wallets = WalletTill(
            self,
            WalletDesk(self.settings.payments, self.book, self.inbox, self.clock.new_id),
        )
        self.wallets.restore()  # payments a restart left unresolved: in doubt, asked again
        self.printer = PrinterWorker(
            self.settings, self._receipts_dir(), self.alert, self.alert_cleared
        )
        self.till = TillEffects(self.printer)
        self.printer.start()
        self._reprint_unprinted()
        self._start_devices()
        self._record_update_steps()
        self._start_sync()
        self._check_chain()
        self.control = ControlServer(
            control_socket(self.settings), self._submit, self.settings.daemon.socket_group
        )
        self.control.start()
        self.notifier.ready(f"lane {self.lane.state.value}")
        from gateway.daemon.technician import BoxDesk

        self.screens.start(
            self.settings,
            self.lane,
            self.inbox,
            self.feed,
            self.alert,
            reprint=self.reprint,
            technician=BoxDesk(self),
            stock=lambda fields: self._stock_request(StockRequest(fields)),
        )
        self.screens.stock(self.stock.view())  # a session carried over a restart
        self.screens.follow_printer(self.printer)
        release_freed_heap()  # start-up's garbage back to the OS, its survivors frozen
        log.info(
            "ready: lane %s, journal head %s", self.lane.state.value, self.journal.state().head_seq
        )

    def reprint(
        self, seq: int | None, copy: bool | None = None, language: str | None = None
    ) -> str | None:
        """Print the receipt of journal record `seq` again through the printer thread (None:
        the newest printed record), read back from the journal; marked as a copy unless it
        is the receipt the printer said it did not print (`copy` None: decided so). In
        `language`, else the one its cashier chose at sign-on. Answers the receipt number,
        or None when there is no such receipt. On the main loop."""
        assert self.printer is not None and self.till is not None
        record = self._printed_record(seq)
        if record is None:
            return None
        if copy is None:
            copy = seq is None
        from gateway.receipts.model import from_record

        store = self.settings.store
        language = language or self.book.record_language(record, self.settings.screens.language)
        receipt = from_record(
            record,
            store.header_in(language),
            store.footer_in(language),
            copy=copy,
            language=language,
            names=self.lane.catalog,
        )
        self.till.print(record, receipt)
        number = str(record.body.get("receipt_id") or record.id)
        log.info("record %s (%s) printed again%s", record.seq, number, " (copy)" if copy else "")
        return number

    def _printed_record(self, seq: int | None) -> JournalRecord | None:
        if seq is not None:
            record = self.journal.get(seq)
            return record if record is not None and record.kind in PRINTED_KINDS else None
        head = self.journal.state().head_seq
        recent = self.journal.read(max(0, head - 200), 200)  # as `_reprint_unprinted` looks
        return next((r for r in reversed(recent) if r.kind in PRINTED_KINDS), None)

    def _reprint_request(self, request: ReprintRequest) -> dict[str, Any]:
        receipt = self.reprint(request.seq, copy=True, language=request.language)
        if receipt is None:
            return {
                "ok": False,
                "error": f"journal record {request.seq} is not a receipt on this till",
                "exit_code": 2,
            }
        return {"ok": True, "receipt": receipt}

    def _reprint_unprinted(self, last: int = 200) -> None:
        """After a crash between commit and print: print what has no text copy yet."""
        assert self.printer is not None and self.till is not None
        head = self.journal.state().head_seq
        for record in self.journal.read(max(0, head - last), last):
            if record.kind not in PRINTED_KINDS:
                continue
            if not self.printer.copy_path(record.seq, record.kind).exists():
                log.info("record %s committed but not printed: printing it now", record.seq)
                self.till.print(record, self.lane.receipt_for(record))

    def _route_signals(self) -> None:
        """SIGTERM/SIGINT/SIGHUP become inbox messages, whichever thread the kernel picks.

        Blocked here before any thread starts (threads inherit the mask) and taken with
        sigwait on a thread of their own, so the main loop wakes at once instead of at its
        next tick, and no handler ever runs in the middle of the loop's work.
        """
        wanted = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}
        for number in wanted:  # for threads some library started before this point
            message = Signal.HUP if number == signal.SIGHUP else Signal.TERM
            signal.signal(number, lambda *_, message=message: self.inbox.put(message))
        signal.pthread_sigmask(signal.SIG_BLOCK, wanted)

        def route() -> None:
            while True:
                received = signal.sigwait(wanted)
                self.inbox.put(Signal.HUP if received == signal.SIGHUP else Signal.TERM)

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
        if catalog is not None and file is not None and not Path(file).exists():
            log.warning(
                "paths.catalog names %s, which does not exist; selling with the "
                "database's catalog (version %s)",
                file,
                catalog.version,
            )
        if catalog is None and file is not None:
            raise StartError(
                f"there is no catalog: the database holds none and paths.catalog names "
                f"{file}, which does not exist",
                where=str(getattr(self.settings, "toml_path", None) or "paths.catalog"),
                fix=f"put the catalog document at {file}, or correct paths.catalog",
            )
        if catalog is None:
            raise StartError(
                "there is no catalog: the database holds none and no catalog file is configured",
                where=str(self.settings.paths.database),
                fix="set paths.catalog to a catalog document, or let head office push one",
            )
        return catalog

    def _start_devices(self) -> None:
        d = self.settings.devices
        sink = self.inbox.put
        loops: list[DeviceLoop] = [scanner_loop(s, sink, utc_now) for s in d.scanners]
        loops += [scale_loop(s, sink, utc_now) for s in d.scales]
        loops += [card_reader_loop(c, sink, utc_now) for c in d.card_readers]
        for loop in loops:
            self.devices[loop.name] = {
                "role": loop.role.value,
                "state": "starting",
                "detail": "",
                "at": None,
            }
        self.runner = DeviceRunner(loops).start()

    def _restart_devices(self, devices: DeviceSettings) -> None:
        """Reload: scanners, scales and card readers start again with the new `[devices]`
        (an entry `gateway devices adopt` wrote is picked up); the printer thread takes the
        new printers between two jobs."""
        if devices.printers != self.settings.devices.printers and self.printer is not None:
            self.printer.reconfigure(devices.printers)
        if self.runner is not None:
            self.runner.stop()
        self.settings.devices = devices
        self.devices.clear()
        self._start_devices()
        log.info("devices restarted with the reloaded settings: %s", ", ".join(self.devices))

    def _check_chain(self) -> None:
        """Journal integrity at start (gateway.daemon.chain_guard): broken, no sale."""
        from gateway.daemon.chain_guard import check_at_start

        began = self.clock.monotonic()
        checked = check_at_start(self.db, self.data_dir)
        self.chain_broken = checked.broken
        log.info(
            "journal checked: %d record(s) %s in %.0f ms",
            checked.checked,
            "from the checkpoint" if checked.from_checkpoint else "from the start",
            (self.clock.monotonic() - began) * 1000,
        )
        if checked.broken is not None:
            self.alert("journal", checked.broken.alert_text())

    def _accept_break(self, request: AcceptBreakRequest) -> dict[str, Any]:
        """`gateway accept-break`: an admin or technician (`restore_backup`) accepts the
        break; the record names them and why; sales resume."""
        from gateway.daemon.chain_guard import ACCEPTED_KIND, acceptance, write_checkpoint

        body = acceptance(dict(request.fields), self.chain_broken)  # the break as it is now
        who = self._approved("restore_backup", request.approval)
        if isinstance(who, Refusal):
            return {"ok": False, "refused": who.code, "error": who.message}
        record = self.journal.append(ACCEPTED_KIND, {**body, "by": who.id, "actor": actor(who)})
        write_checkpoint(self.data_dir, record.seq, record.hash)
        self.chain_broken = None
        self.alert_cleared(
            "journal",
            f"journal break at record {record.body['seq']} "
            f"accepted by {who.name} ({who.id}, {record.body['reason']}); "
            f"recorded as record {record.seq}; sales resume",
        )
        if self.sync is not None:
            self.sync.sync_now()
        return {"ok": True, "seq": record.seq}

    def _approved(self, action: str, approval: Approval) -> StaffMember | Refusal:
        """The person a control request's approval names, checked for `action`."""
        credential = (
            ev.Credential(staff_id=approval.staff_id, pin=approval.pin)
            if approval.staff_id
            else None
        )
        return self.staff.authorize_change(
            action, credential, approval.totp, self.clock.local(), self.clock.wall()
        )

    def _member_link(self) -> Callable[[], LinkState] | None:
        """The offline member policy follows sync's link (none without sync: online)."""
        if not self.settings.sync.enabled:
            return None
        from gateway.daemon.member_link import MemberLink

        return MemberLink(
            lambda: self.sync.link_status() if self.sync else None, self.journal, self.db.conn
        )

    def _record_update_steps(self) -> None:
        """The steps an update took while this daemon was not running (the switch and
        restart that started this version, or the rollback), journalled now."""
        try:
            self.updates.record_steps(check_peer=False)
        except (StoregateError, OSError, KeyError, TypeError) as exc:
            self.alert("update", f"the update's steps could not be journalled: {exc}")

    def _start_sync(self) -> None:
        """Start sync; when its state file cannot be opened (a full disk) the box sells
        without it, says so, and tries again every SYNC_RETRY_S from housekeeping."""
        if not self.settings.sync.enabled:
            return
        from gateway.daemon.remote import register_remote_commands
        from gateway.sync.commands import CommandRegistry
        from gateway.sync.service import SyncConfig, SyncService

        try:
            sync = SyncService(
                SyncConfig.from_settings(self.settings),
                acknowledge=lambda seq, h: self.inbox.put(Ack(seq, h)),
                sink=MainLoopDocuments(self.inbox),
                registry=register_remote_commands(CommandRegistry(), self),
                devices=self._device_health,
                update=self.updates.health,
                clock=self.clock.stamp,
            )
        except StoregateError as exc:
            self.sync_retry_at = self.clock.monotonic() + SYNC_RETRY_S
            if self.sync_failure != exc.what:
                self.alert(
                    "sync",
                    f"sync not started, retrying every {SYNC_RETRY_S:.0f} s: {exc.describe()}",
                )
            self.sync_failure = exc.what
            return
        self.sync, self.sync_failure, self.sync_retry_at = sync, None, None
        self.sync.start()

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
            now = self.clock.monotonic()
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
                answer = self.lane.handle(ev.Suspend(self.clock.local()))
                log.info(
                    "shutdown: sale in progress: %s (kept: %s)",
                    "; ".join(getattr(answer, "notices", ())) or answer,
                    ", ".join(self.book.suspended_ids()),
                )
            except (StoregateError, sqlite3.Error, OSError) as exc:
                log.error("shutdown: the sale in progress could not be suspended: %s", exc)
        self._answer_waiting()
        if self.control is not None:
            self.control.stop()
        self._answer_waiting()
        self.screens.stop()
        self._answer_waiting()
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
        logging.getLogger().removeHandler(self.recent_log)

    def _answer_waiting(self) -> None:
        """At shutdown: whoever still waits on the loop (a key press on a screen, a control
        request, a document) is answered now that the loop reads no more, not after its
        20-30 s time-out; the rest of the inbox (device events, acks) is let go."""
        stopping = StoregateError("the box is stopping", fix="try again once it is back")
        while True:
            try:
                message = self.inbox.get_nowait()
            except queue.Empty:
                return
            self._failed(message, stopping, "the box is stopping: try again once it is back")

    # -- messages -------------------------------------------------------------------------

    def _dispatch(self, message: object) -> None:
        """One inbox message to its handler (the message table). Whatever a handler raises
        is logged and, for a request someone waits on, answered as an error: one bad
        message never ends the loop, and the sale in progress stays as it was."""
        self.counts["events"] += 1
        handler = self.handlers.get(type(message))
        if handler is None:
            log.error("inbox message of unknown type %s ignored", type(message).__name__)
            return
        try:
            handler(message)
        except Exception as exc:  # the loop outlives any one message
            log.exception("handling %s failed; the lane goes on", type(message).__name__)
            self._failed(message, exc)

    def _failed(self, message: object, exc: Exception, what: str | None = None) -> None:
        """Answer whoever waits on `message` after its handler raised `exc`."""
        if what is None:
            what = f"internal error ({type(exc).__name__}: {exc}); the sale in progress is kept"
        if isinstance(message, Request):
            message.reply.put({"ok": False, "error": what, "exit_code": 1})
        elif isinstance(message, DocumentJob):
            from gateway.sync.errors import DocumentRefused

            message.reply.put(DocumentRefused(what, fix="head office re-sends it"))
        elif isinstance(message, Call):
            message.reply.put(exc)

    def _signal(self, message: Signal) -> None:
        if message is Signal.TERM:
            self.stopping = True
        else:
            self.reload()

    def _request(self, message: Request) -> None:
        if isinstance(message.request, BackupRequest):
            threading.Thread(
                target=self._backup_request, args=(message,), daemon=True
            ).start()  # seconds of I/O: off the loop
            return
        message.reply.put(self._answer(message.request))

    def _document(self, message: DocumentJob) -> None:
        message.reply.put(self._apply_document(message))

    def _call(self, message: Call) -> None:
        try:
            answer = message.fn()
        except Exception as exc:  # a screen's request failed: it says so, we go on
            log.exception("a request from the screens failed")
            answer = exc
        message.reply.put(answer)

    def _weight(self, message: WeightReading) -> None:
        self.device_feed.add(message)
        self.screens.observe(message)
        self.scale = message
        self._note_device(message.device, "connected", "", message.at)
        weight = ev.scale_kilograms(message)
        self._report(self.anomalies.scale_reading(weight, weight is not None))

    def _device_state(self, message: DeviceStateEvent) -> None:
        self.device_feed.add(message)
        self.screens.observe(message)
        self._note_device(message.device, message.state.value, message.detail, message.at)
        if (
            self.scale is not None
            and message.device == self.scale.device
            and message.state.value != "connected"
        ):
            self.scale = None  # never price with the weight of an unplugged scale

    def _decode_fault(self, message: DecodeFault) -> None:
        self.device_feed.add(message)
        self.screens.observe(message)
        log.info("device %s: %s", message.device, message.reason)

    def _submit(self, body: dict[str, Any], peer_uid: int | None = None) -> dict[str, Any]:
        """Called on the control thread: parse the request, queue it and wait for the main
        loop. A request that does not parse is answered here, without the loop. The
        updater's requests carry the peer's user id the kernel reported."""
        try:
            request = parse_request(body)
        except BadRequest as exc:
            return {"ok": False, "error": exc.describe(), "exit_code": exc.exit_code}
        if isinstance(request, UpdateLockRequest | UpdateRecordRequest):
            request = replace(request, peer_uid=peer_uid)
        reply: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self.inbox.put(Request(request, reply))
        try:
            return reply.get(timeout=20)
        except queue.Empty:
            return {"ok": False, "error": "the daemon's main loop did not answer in 20 s"}

    def _answer(self, request: ControlRequest) -> dict[str, Any]:
        try:
            return self.answers[type(request)](request)
        except StoregateError as exc:
            return {"ok": False, "error": exc.describe(), "exit_code": exc.exit_code}

    def _device_events(self, request: DeviceEventsRequest) -> dict[str, Any]:
        """`gateway devices watch` beside the daemon: what the drivers said since `after`."""
        events = [e.to_json() for e in self.device_feed.since(request.after)]
        return {"ok": True, "events": events, "last": self.device_feed.last}

    def _scale_reading(self, request: ScaleReadingRequest) -> dict[str, Any]:
        """`gateway devices scale` beside the daemon: the newest reading its driver took."""
        reading = self.device_feed.reading(request.scale)
        if reading is None:
            which = f"scale {request.scale!r}" if request.scale else "any scale"
            return {
                "ok": False,
                "error": f"no reading from {which} yet",
                "exit_code": 1,
                "devices": self.devices,
            }
        return {"ok": True, "reading": weight_json(reading, self.clock.wall())}

    def _reload_request(self, _: ReloadRequest) -> dict[str, Any]:
        self.reload()
        return {"ok": True}

    def _sync_now(self, _: SyncNowRequest) -> dict[str, Any]:
        if self.sync is None:
            return {
                "ok": False,
                "error": "sync is disabled on this box ([sync] enabled)",
                "exit_code": 1,
            }
        self.sync.sync_now()
        return {"ok": True}

    def _backup_request(self, request: Request) -> None:
        """`{"command": "backup"}`: its own read-only connection, on its own thread."""
        try:
            info = take_backup(
                self.settings.paths.database,
                backup_dir(self.settings),
                keep=self.settings.backup.keep,
            )
        except StoregateError as exc:
            request.reply.put({"ok": False, "error": exc.describe()})
            return
        request.reply.put({"ok": True, "path": str(info.path), "head_seq": info.head_seq})

    def _device_input(self, event: ScanEvent | CardEvent) -> None:
        self.device_feed.add(event)
        self._note_device(event.device, "connected", "", event.at)
        if self.stock.session is not None and isinstance(event, ScanEvent):
            if self.chain_broken is not None:
                log.error("stock scan not recorded: the journal failed its integrity check")
                return
            answer = self.stock.scan(event.text, ev.scale_kilograms(self.scale))
            if not answer.get("ok"):
                log.info("stock scan refused: %s", answer.get("error"))
            self._show_stock(answer)
            return
        lane_event = from_device(event, self.lane.state.value, self.clock.local())
        if lane_event is not None:
            lane_event = ev.without_card_data(lane_event)  # what the screens keep, too
            self.screens.record(lane_event, self.feed(lane_event))
            self.last_input = {
                "count": self.last_input["count"] + 1,
                "device": event.device,
                "lane_updated_at": self.clock.wall().timestamp(),
            }

    def _lane_request(self, request: LaneRequest) -> dict[str, Any]:
        if request.fields.get("action") == "resolve_payment":
            return self.wallets.resolve(dict(request.fields))
        event = from_request(
            dict(request.fields),
            self.clock.local(),
            self.scale,
            scale_capacity(self.settings.devices.scales, self.scale),
        )
        if isinstance(event, NotAnEvent):
            return {"ok": False, "error": event.message, "exit_code": 2}
        event = ev.without_card_data(event)  # what the screens keep and show, too
        answer = self.feed(event)
        self.screens.record(event, answer)
        if isinstance(answer, Refusal):
            return {
                "ok": False,
                "refused": answer.code,
                "error": answer.message,
                "lane": self.lane_view(),
            }
        return {
            "ok": True,
            "state": answer.state,
            "notices": list(answer.notices),
            "records": [getattr(r, "seq", None) for r in answer.records],
            "lane": self.lane_view(),
        }

    # -- the lane ---------------------------------------------------------------------------

    def feed(self, event: ev.Event, *, wallet: bool = False) -> Outcome | Refusal:
        """One lane event: refuse a new sale when the disk is nearly full; commit; then the
        till's side effects (drawer, receipt). A commit the storage refuses is refused with
        `journal_unavailable`; the lane is as it was, so the same event can be tried again.
        A journal that failed its integrity check refuses everything (chain_guard). A
        scanned payment code starts a wallet payment, a card tender without a reference a
        card terminal payment; while one is unresolved only the payment's own events
        (`wallet`) reach the lane (`wallet_till`)."""
        if not wallet:
            if isinstance(event, ev.Scan | ev.Refund | ev.Tender):
                started = (
                    self.wallets.scan(event)
                    if isinstance(event, ev.Scan)
                    else self.wallets.refund(event)
                    if isinstance(event, ev.Refund)
                    else self.wallets.card(event)
                )
                if started is not None:
                    return started
            held = self.wallets.gate()
            if held is not None:
                return held
        if self.chain_broken is not None:
            return Refusal(
                "journal_broken",
                "The box's journal failed its integrity check "
                f"at record {self.chain_broken.seq}: nothing can be recorded. "
                "Call the technician.",
            )
        if self.stock.session is not None and isinstance(
            event, ev.Scan | ev.Plu | ev.Weighed | ev.Resume | ev.MemberCard
        ):
            return Refusal(
                "stock_mode",
                f"The till is receiving or counting stock ({self.stock.session.id}): "
                "finish or cancel that first (gateway stock finish | cancel).",
            )
        if self.lane.state is State.IDLE and isinstance(event, ev.Scan | ev.Plu | ev.Weighed):
            full = self._disk_too_full()
            if full is not None:
                return full
        try:
            answer = self.lane.handle(event)
        except (StoregateError, sqlite3.Error, OSError) as exc:
            self._abandon_transaction()
            self.alert("journal", f"the journal could not be written: {exc}")
            return Refusal(
                "journal_unavailable",
                "The sale could not be recorded (the "
                "box's storage is failing or full). Call the technician; the "
                "sale is kept open.",
            )
        if isinstance(answer, Refusal):
            self.counts["refusals"] += 1
            self._refused(event, answer)
            return answer
        self._accepted(event, answer)
        return answer

    def _abandon_transaction(self) -> None:
        """After a failed write: leave no transaction open (the next one could not begin)."""
        if not self.db.conn.in_transaction:
            return
        try:
            self.db.conn.rollback()
        except sqlite3.Error as exc:
            log.error("rolling back the failed write failed too: %s", exc)

    def _disk_too_full(self) -> Refusal | None:
        free = shutil.disk_usage(self.data_dir).free
        limit = self.settings.daemon.disk_min_free_mb * 1024 * 1024
        if free >= limit:
            return None
        self.alert(
            "disk",
            f"only {free // (1024 * 1024)} MB free in {self.data_dir} "
            f"(below {self.settings.daemon.disk_min_free_mb} MB)",
        )
        return Refusal(
            "disk_full",
            "The box's storage is full: no new sale can be "
            "recorded. Call the technician (free disk space on the box).",
        )

    def _refused(self, event: ev.Event, answer: Refusal) -> None:
        now = self.clock.monotonic()
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
            if self.config_pending:
                self.config_pending = False
                self.reload()
        if self.till is not None:
            self.till.committed(outcome)
        if outcome.records and self.sync is not None:
            self.sync.sync_now()

    def _z_report(self, request: ZReportRequest) -> dict[str, Any]:
        from gateway.receipts.model import from_record
        from gateway.reports import close_day

        credential = ev.Credential(staff_id=request.staff, pin=request.pin)
        now = self.clock.local()
        day = request.day or now.date().isoformat()
        lane_ref = LaneRef(store=self.settings.store.id, box=self.settings.store.box)
        record = close_day(
            self.book,
            self.staff,
            self.settings.lane,
            lane_ref,
            day,
            now,
            credential,
            self.clock.new_id,
            empty_day=request.empty_day,
        )
        if isinstance(record, Refusal):
            return {"ok": False, "refused": record.code, "error": record.message}
        store = self.settings.store
        language = self.settings.screens.language
        receipt = from_record(record, store.header_in(language), (), language=language)
        if self.till is not None:
            self.till.print(record, receipt)
        if self.sync is not None:
            self.sync.sync_now()
        return {
            "ok": True,
            "seq": record.seq,
            "body": record.body,
            "text": render_receipt(receipt, store.receipt_width),
        }

    def _stock_request(self, request: StockRequest) -> dict[str, Any]:
        """`gateway stock ...`: a step of receiving or a count (gateway.daemon.stock_desk);
        a finished receipt or count goes up to head office at once. A journal that failed
        its integrity check takes no step (as it takes no sale)."""
        if self.chain_broken is not None:
            return {
                "ok": False,
                "refused": "journal_broken",
                "error": "The box's journal failed its integrity check "
                f"at record {self.chain_broken.seq}: nothing can be recorded. "
                "Call the technician.",
                "exit_code": 1,
            }
        sale_open = self.lane.sale is not None or self.lane.state in (
            State.IN_SALE,
            State.TENDERING,
        )
        answer = self.stock.request(
            request.fields, ev.scale_kilograms(self.scale), sale_open=sale_open
        )
        if request.fields.get("action") not in ("status", "orders"):
            self._show_stock(answer)
        if answer.get("document") is not None and self.sync is not None:
            self.sync.sync_now()
        return answer

    def _show_stock(self, answer: dict[str, Any]) -> None:
        """The cashier screen's message line says what the stock step said (the item and
        how many so far, or why not), so the person at the scanner sees it."""
        at = self.clock.local()
        self.screens.stock(self.stock.view())
        shown: Outcome | Refusal
        if answer.get("ok"):
            said = (str(answer.get("said") or ""), *map(str, answer.get("notices") or ()))
            shown = Outcome(self.lane.state.value, notices=tuple(n for n in said if n))
        else:
            # the desk's own code where the lane has it (the page words it in the cashier's
            # language: unknown_item, needs_weight, not_permitted, wrong_pin ...)
            code = str(answer.get("refused"))
            known = cast(RefusalCode, code) if code in REFUSAL_CODES else "stock_mode"
            shown = Refusal(known, str(answer.get("error") or ""))
        self.screens.record(ev.Event(at), shown)

    def _staff_request(self, request: StaffRequest) -> dict[str, Any]:
        """`gateway staff add|totp` while the daemon runs: approved
        (StaffDirectory.intend_change) and committed by the main loop with its `box_action`
        record naming the approver."""
        change = StaffChange.from_request(dict(request.fields))
        stage = self.staff.bootstrap()
        intent = self.staff.intend_change(change, self.clock.local(), self.clock.wall())
        result = journal_staff_change(self.journal, self.staff, change, intent, stage, "socket")
        if isinstance(result, Refusal):
            return {"ok": False, "refused": result.code, "error": result.message}
        log.info("staff %s changed through the control socket", mask_card_data(change.staff_id))
        return {"ok": True, "text": result.text}

    def _catalog_load(self, request: CatalogLoadRequest) -> dict[str, Any]:
        """`gateway catalog load` while the daemon runs: approved (`change_settings`),
        stored with its `box_action` record in one transaction, and priced with at once
        (the sale in progress keeps its catalog, as with a pushed one)."""
        stage = self.staff.bootstrap()
        who = self._approved("change_settings", request.approval)
        if isinstance(who, Refusal):
            return {"ok": False, "refused": who.code, "error": who.message}
        catalog = journal_catalog_load(
            self.journal,
            CatalogStore(self.db),
            request.text,
            request.source,
            force=request.force,
            who=who,
            stage=stage,
            via="socket",
        )
        self._use_catalog(catalog)
        log.info(
            "catalog version %s loaded through the control socket by %s", catalog.version, who.id
        )
        return {"ok": True, "version": catalog.version, "products": len(catalog.products)}

    def _apply_document(self, job: DocumentJob) -> BaseException | None:
        """Swap a catalog, members, orders or staff document in (or write head office's
        settings); the sale in progress keeps its catalog."""
        from gateway.catalog.document import parse_document
        from gateway.members.sink import MembersSink
        from gateway.sync.errors import DocumentRefused

        source = f"{job.kind} document version {job.version}"
        try:
            if job.kind == "catalog":
                document = parse_document(job.document, source)
                text = json.dumps(job.document, default=str)
                # Ordered by head office's own signed versions (the downlink refused a
                # replay): a catalog loaded on the box, whatever its version, never blocks it.
                self._use_catalog(
                    CatalogStore(self.db).apply(document, text, source, allow_same_or_older=True)
                )
            elif job.kind == "members":
                MembersSink(MemberStore(self.db, self.settings.store.box)).apply(
                    job.kind, job.version, job.document
                )
            elif job.kind == "config":
                self._apply_config(job.document)
            elif job.kind == "staff":
                from gateway.daemon.box_actions import journal_staff_document
                from gateway.lane.staff_document import parse_staff_document

                body = journal_staff_document(
                    self.journal, self.staff, parse_staff_document(job.document, source)
                )
                parts = ("added", "changed", "removed", "taken_over")
                log.info(
                    "staff from head office: %s",
                    "; ".join(f"{k} {', '.join(body[k]) or '-'}" for k in parts),
                )
            elif job.kind == "update":
                self.updates.offered(job.version, job.document)
            elif job.kind == "orders":
                from gateway.stock.orders import OrderStore, parse_orders

                OrderStore(self.db.conn).apply(
                    parse_orders(job.document, source), self.clock.wall()
                )
            else:
                return DocumentRefused(
                    f"no applier for {job.kind} documents on this box",
                    fix="update storegate; the document in force stays",
                )
        except DocumentRefused as exc:
            return exc
        except StoregateError as exc:
            return DocumentRefused(exc.what, where=exc.where, fix=exc.fix)
        log.info("applied %s", source)
        return None

    def _apply_config(self, document: dict[str, Any]) -> None:
        """Head office's settings: into the file now, live between sales (remote_config)."""
        from gateway.daemon.remote_config import write_settings
        from gateway.sync.config_keys import config_changes

        path = write_settings(self.config_path, config_changes(document))
        log.info("settings from head office written to %s", path)
        if self.lane.sale is None:
            self.reload()
        else:
            self.config_pending = True
            log.info("a sale is in progress: the new settings apply when it ends")

    def local_day(self) -> str:
        return self.clock.local().date().isoformat()

    def _device_health(self) -> dict[str, Any]:
        """For sync's telemetry (called on its thread: reads a copy)."""
        from gateway.sync.payloads import DeviceHealth

        states = {
            "connected": "connected",
            "ready": "connected",
            "disconnected": "disconnected",
            "starting": "unknown",
        }
        health: dict[str, Any] = {}
        for name, device in list(self.devices.items()):
            health[name] = DeviceHealth(
                state=states.get(str(device.get("state")), "error"),
                error=device.get("detail") or None,
                last_event_at=device.get("at"),
            )
        if self.printer is not None:
            health.update(self.printer.health.telemetry())
        return health

    def _acknowledge(self, ack: Ack) -> None:
        try:
            self.journal.acknowledge(ack.seq, expected_hash=ack.hash)
        except JournalError as exc:
            self.alert("journal", exc.describe())

    # -- events, alerts, status -------------------------------------------------------------

    def _report(self, anomalies: list[Anomaly]) -> None:
        for anomaly in anomalies:
            entry = {**anomaly.to_json(), "at": self.clock.wall().isoformat()}
            self.recent_anomalies.append(entry)
            log.warning("anomaly %s: %s", anomaly.rule, anomaly.message)
            self._post(f"anomaly.{anomaly.rule}", entry, "warning")

    def alert(self, source: str, message: str) -> None:
        """Something a technician must fix; thread-safe (a deque append), also sent."""
        entry = {"source": source, "message": message, "at": self.clock.wall().isoformat()}
        self.alerts.append(entry)
        log.error("%s: %s", source, message)
        self._post(f"alert.{source}", entry, "error")

    def alert_cleared(self, source: str, message: str) -> None:
        """The problem behind the last `source` alert is gone; head office clears it."""
        entry = {
            "source": source,
            "message": message,
            "at": self.clock.wall().isoformat(),
            "cleared": True,
        }
        self.alerts.append(entry)
        log.warning("%s: %s", source, message)
        self._post(f"alert.{source}.cleared", entry, "info")

    def _post(self, kind: str, body: dict[str, Any], severity: str) -> None:
        """Queue an event for head office. sync's queue lives on the box's disk: when that
        is full (or failing) the event stays in the log and the status, and the loop goes
        on; the alert about a failed commit must not fail the loop."""
        if self.sync is None:
            return
        try:
            self.sync.post_event(kind, body, severity)
        except (StoregateError, sqlite3.Error, OSError) as exc:
            log.error("event %s not queued for head office: %s", kind, exc)

    def _note_device(self, name: str, state: str, detail: str, at: datetime) -> None:
        entry = self.devices.setdefault(name, {"role": "?", "state": state})
        entry.update(state=state, detail=detail, at=at.isoformat())

    def _housekeeping(self, now: float) -> None:
        if self.screens.url is not None and now >= self.next_screens_tick:
            self.next_screens_tick = now + SCREENS_TICK_S
            online = self.sync.link_status().online if self.sync is not None else None
            self.screens.tick(online, self.journal.backlog()[0])
        if self.sync_retry_at is not None and now >= self.sync_retry_at:
            self._start_sync()
        jump = self.clock_watch.tick(self.clock.wall(), now)
        if jump is not None:
            log.warning(
                "wall clock jumped back %.3f s (%s -> %s); order is by seq",
                jump.seconds,
                jump.before,
                jump.after,
            )
            self._post("clock.jump_back", jump.__dict__, "warning")
        if now >= self.next_backup:
            self.next_backup = now + self.settings.backup.interval_hours * 3600
            threading.Thread(target=self._scheduled_backup, daemon=True).start()
        self.retention.tick(now)
        self.wallets.tick(now)

    def _scheduled_backup(self) -> None:
        try:
            info = take_backup(
                self.settings.paths.database,
                backup_dir(self.settings),
                keep=self.settings.backup.keep,
            )
            if self.settings.backup.upload and self.sync is not None:
                from gateway.daemon.remote import send_backup

                send_backup(self.sync, info.path, info.head_seq)  # [backup] upload
        except (StoregateError, sqlite3.Error, OSError) as exc:
            self.alert("backup", exc.describe() if isinstance(exc, StoregateError) else str(exc))

    def reload(self) -> None:
        """SIGHUP: settings that may change live; the rest needs a restart (logged)."""
        self.notifier.reloading()
        try:
            fresh = load_settings(self.config_path)
        except StoregateError as exc:
            self.alert("settings", f"reload refused, old settings stay: {exc.describe()}")
            self.notifier.ready()
            return
        for section in ("mqtt", "sync", "paths"):
            if getattr(fresh, section) != getattr(self.settings, section):
                log.warning("[%s] changed: restart the service to apply it", section)
        if fresh.devices != self.settings.devices:
            self._restart_devices(fresh.devices)
        self.settings.anomalies = fresh.anomalies
        self.settings.backup = fresh.backup
        self.settings.journal = self.retention.settings = fresh.journal
        self.settings.daemon = fresh.daemon
        self.settings.store.header = fresh.store.header
        self.settings.store.footer = fresh.store.footer
        self.settings.store.texts = fresh.store.texts
        self.anomalies.reconfigure(fresh.anomalies)
        self._reload_catalog()
        self.notifier.ready()
        log.info("settings reloaded")

    def _reload_catalog(self) -> None:
        from gateway.daemon.catalog_reload import CatalogRefused, reload_catalog_file

        file = self.settings.paths.catalog
        result = reload_catalog_file(CatalogStore(self.db), Path(file) if file else None)
        if isinstance(result, CatalogRefused):
            self.alert("catalog", result.message)
        elif result is not None:
            self._use_catalog(result)
            log.info("catalog version %s loaded from %s", result.version, file)

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
            "payment": self.wallets.view(),
            "anomalies": list(self.recent_anomalies)[-5:],
        }

    def _scale_view(self) -> str | None:
        """The stable weight in kg the lane would price with, or None."""
        weight = ev.scale_kilograms(self.scale)
        return str(weight) if weight is not None else None

    def status(self) -> dict[str, Any]:
        state = self.journal.state()
        backlog, oldest = self.journal.backlog()
        sync = self.sync.status() if self.sync is not None else {"state": "disabled"}
        if self.sync_failure is not None:
            sync = {"state": "not started", "error": self.sync_failure}
        update = self.updates.health()
        return {
            "pid": os.getpid(),
            "version": __version__,
            "update": update.model_dump() if update is not None else None,
            "uptime_s": round(self.clock.monotonic() - self.started, 1),
            "lane": self.lane_view(),
            "devices": self.devices,
            "printer": self.printer.health.view() if self.printer else "none",
            "scale": self._scale_view(),
            "journal": {
                "head_seq": state.head_seq,
                "acknowledged_seq": state.acknowledged_seq,
                "backlog": backlog,
                "oldest_unacknowledged": oldest,
                "broken": self.chain_broken.__dict__ if self.chain_broken else None,
            },
            "sync": sync,
            "clock": {
                "now": self.clock.wall().isoformat(),
                "synchronised": self.clock.synchronised(),
                "jumps_back": self.clock_watch.jumps_back,
                "last_jump": (
                    self.clock_watch.last_jump.__dict__ if self.clock_watch.last_jump else None
                ),
            },
            "anomalies": list(self.recent_anomalies),
            "alerts": list(self.alerts),
            "counts": dict(self.counts),
            "screens": self.screens.url,
            "last_input": dict(self.last_input),
            "access": access_view(self.staff.bootstrap()),
            "stock": self.stock.view(),
        }


def run_daemon(config_path: str | None) -> int:
    settings = load_settings(config_path)
    # A CPU-busy thread (sync encoding a batch) keeps the GIL for up to the switch interval
    # (5 ms by default) before the main loop gets it back: 1 ms keeps scans snappy.
    sys.setswitchinterval(0.001)
    # `kill -USR1 PID` writes every thread's stack to the journal: what a hang is doing.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    logging.basicConfig(
        level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", force=True
    )
    data_dir = Path(settings.paths.data_dir)
    with daemon_lock(data_dir, holder="gateway run"):
        box = Box(settings, config_path)
        box.start()
        return box.run()
