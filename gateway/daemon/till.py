"""The till's side effects after a commit: the receipt printed, the cash drawer opened.

Owns the printer thread (`PrinterWorker`) and what it is asked to do (`PrintJob`,
`DrawerKick`), and `TillEffects`, which turns a committed `Outcome` into those jobs: the
print job of the record the outcome names as its document (`Outcome.document`, never
guessed from the order of its records) and one drawer kick when `Outcome.open_drawer`
says cash moved or a no-sale opened it. Called by the main loop only after the lane
committed; it never touches the lane or the database, and the printer thread it feeds is
the only one talking to the printers, so a jammed printer never holds up a scan.

The drawer hangs on a receipt printer (ESC/POS `ESC p m t1 t2`, python-escpos'
`cashdraw`, on the pin of `[[devices.printers]] drawer_pin`): the kick goes to the first
configured printer whose profile has a drawer port. A kick that fails is reported as a
failed receipt is: an alert from the `printer` source, the printer's state offline.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devices.errors import DeviceError, PrinterNotReady
from devices.events import utc_now
from devices.runner import printer_for
from gateway.daemon.printer_health import PrinterHealth
from gateway.journal import JournalRecord
from gateway.lane.events import Outcome
from gateway.private_files import private_dir, write_private
from gateway.receipts.text import render_receipt
from gateway.settings import GatewaySettings

if TYPE_CHECKING:  # python-escpos loads with the first configured printer only
    from devices.printer import ReceiptPrinter
    from devices.settings import PrinterSettings

log = logging.getLogger("storegate.daemon")
Alert = Callable[[str, str], None]


PRINTER_POLL_S = 2.0  # status asked this often while a printer is in trouble


@dataclass(frozen=True)
class PrintJob:
    seq: int
    kind: str
    record_id: str
    receipt: Any


@dataclass(frozen=True)
class DrawerKick:
    """Open the cash drawer once, for the committed record `seq` (cash taken or paid out,
    or a no-sale)."""

    seq: int


@dataclass(frozen=True)
class BenchJob:
    """A technician's test from the technician page: `test_page` prints
    `ReceiptPrinter.print_test_page` (as `gateway devices print-test`) on every printer,
    `drawer` kicks the drawer's printer. `reply` gets one line per printer; the main loop
    never waits for it (the web thread that asked does)."""

    kind: str  # "test_page" or "drawer"
    lines: tuple[str, ...]
    reply: queue.SimpleQueue[list[str]]
    seq: int = 0  # every job names a record; this one none


@dataclass(frozen=True)
class Reconfigure:
    """Printers of reloaded settings, swapped in on the printer thread between jobs."""

    printers: tuple[PrinterSettings, ...]
    seq: int = 0  # every job names a record; this one none


class PrinterWorker:
    """Prints committed receipts on its own thread and keeps a text copy of each; opens the
    drawer when asked.

    ESC/POS bytes are made only when a printer is configured: python-escpos (with its
    capability database, 3-8 MB) is then loaded here at start-up, and never on a box that
    keeps text copies only.
    """

    def __init__(
        self,
        settings: GatewaySettings,
        receipts_dir: Path,
        alert: Alert,
        cleared: Alert | None = None,
    ) -> None:
        self.width = settings.store.receipt_width
        self.receipts_dir = receipts_dir
        self.alert = alert
        self.jobs: queue.Queue[PrintJob | DrawerKick | BenchJob | Reconfigure | None] = (
            queue.Queue()
        )
        self.health = PrinterHealth(
            [p.name for p in settings.devices.printers],
            alert,
            cleared or (lambda source, message: None),
        )
        self.printers: list[ReceiptPrinter] = []
        self.render_escpos: Callable[..., bytes] | None = None
        self._use(settings.devices.printers)
        self.thread = threading.Thread(target=self._run, name="storegate-printer", daemon=True)
        # who else follows each receipt printed or not (the till's screens: the job, and
        # why not); called on this thread. Printer states: `health.listener`.
        self.on_receipt: Callable[[PrintJob, bool, str], None] = lambda job, ok, why: None
        if self.printers and self.drawer_printer is None:
            log.warning(
                "no configured printer's profile has a drawer port: the cash drawer "
                "is not opened by the box"
            )

    def _use(self, printers: Sequence[PrinterSettings]) -> None:
        self.printers = [printer_for(p, self.health.observe, utc_now) for p in printers]
        self.state = "none configured" if not self.printers else "unknown"
        if self.printers and self.render_escpos is None:
            from gateway.receipts.escpos import render_escpos

            self.render_escpos = render_escpos

    def reconfigure(self, printers: Sequence[PrinterSettings]) -> None:
        """Reloaded settings' printers (`gateway devices adopt`): the jobs queued before
        print on the old printers, the ones after on the new."""
        self.jobs.put(Reconfigure(tuple(printers)))

    def _swap(self, job: Reconfigure) -> None:
        for printer in self.printers:
            printer.close()
        self.health.track([p.name for p in job.printers])
        self._use(job.printers)
        log.info("printers now: %s", ", ".join(p.name for p in job.printers) or "none")

    def start(self) -> None:
        private_dir(self.receipts_dir)  # copies hold who bought what: owner only
        self.thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self.jobs.put(None)
        self.thread.join(timeout)
        for printer in self.printers:
            printer.close()

    @property
    def drawer_printer(self) -> ReceiptPrinter | None:
        """The printer the cash drawer hangs on: the first whose profile has a drawer."""
        return next((p for p in self.printers if p.profile.drawer), None)

    def _run(self) -> None:
        while (job := self._next_job()) is not None:
            try:
                if isinstance(job, DrawerKick):
                    self._kick(job)
                elif isinstance(job, Reconfigure):
                    self._swap(job)
                elif isinstance(job, BenchJob):
                    job.reply.put(self._bench(job))
                else:
                    self._print(job)
            except Exception as exc:  # a bad receipt must not end printing for good
                log.exception("printer job for record %s failed", job.seq)
                self.alert("printer", f"record {job.seq}: printer job failed: {exc}")

    def _bench(self, job: BenchJob) -> list[str]:
        """A technician's test page or drawer kick, between two receipts."""
        if not self.printers:
            return ["no printer is configured ([[devices.printers]])"]
        targets = self.printers if job.kind == "test_page" else [self.drawer_printer]
        said: list[str] = []
        for printer in targets:
            if printer is None:
                return ["no configured printer's profile has a drawer port"]
            try:
                if job.kind == "test_page":
                    status = printer.print_test_page(list(job.lines))
                    said.append(f"{printer.name}: test page printed; {status.describe()}")
                else:
                    printer.kick_drawer()
                    said.append(f"{printer.name}: drawer opened")
                self.state = "ok"
            except PrinterNotReady as exc:
                said.append(f"{printer.name}: {exc.what}")
            except DeviceError as exc:
                printer.close()
                self.state = f"offline: {exc}"
                said.append(f"{printer.name}: {exc.describe()}")
        return said

    def _next_job(self) -> PrintJob | DrawerKick | BenchJob | Reconfigure | None:
        """The next job; while a printer is in trouble, its status is asked between jobs so
        recovery is seen (and the alert cleared) without a sale."""
        while True:
            try:
                return self.jobs.get(timeout=PRINTER_POLL_S if self.health.troubled else None)
            except queue.Empty:
                for printer in self.printers:
                    try:
                        printer.status()
                    except DeviceError:
                        printer.close()

    def copy_path(self, seq: int, kind: str) -> Path:
        return self.receipts_dir / f"{seq:07d}-{kind}.txt"

    def _print(self, job: PrintJob) -> None:
        """Paper first, then the text copy: a missing copy means "maybe not printed"."""
        if self.render_escpos is not None:
            self._print_paper(job)
        path = self.copy_path(job.seq, job.kind)
        partial = path.with_suffix(".partial")
        write_private(partial, render_receipt(job.receipt, self.width))
        partial.replace(path)

    def _print_paper(self, job: PrintJob) -> None:
        """Rendered for each printer in its own encoding (a Chinese receipt goes to a CJK
        profile's printer in GB18030 Chinese mode)."""
        assert self.render_escpos is not None
        failed = ""
        for printer in self.printers:
            data = self.render_escpos(job.receipt, self.width, encode=printer.encode_text)
            try:
                printer.print_bytes(data)
                self.state = "ok"
                self.health.printed()
            except DeviceError as exc:
                printer.close()
                self.state = f"offline: {exc}"
                self.health.not_printed(job.seq, exc.what)
                failed = failed or exc.what
        self.on_receipt(job, not failed, failed)

    def _kick(self, job: DrawerKick) -> None:
        printer = self.drawer_printer
        if printer is None:  # said once at start when printers are configured
            log.debug("record %s opens the drawer: no printer with a drawer port", job.seq)
            return
        try:
            printer.kick_drawer()
            self.state = "ok"
        except DeviceError as exc:
            printer.close()
            self.state = f"offline: {exc}"
            self.alert(
                "printer", f"drawer not opened for record {job.seq} ({exc}); open it with its key"
            )


class TillEffects:
    """What a committed outcome makes the till do, handed to the printer thread."""

    def __init__(self, printer: PrinterWorker) -> None:
        self.printer = printer

    def committed(self, outcome: Outcome) -> None:
        """After the lane committed `outcome`: open the drawer once, print its document."""
        document = outcome.document
        if outcome.open_drawer:
            committed = [r for r in (document, *outcome.records) if isinstance(r, JournalRecord)]
            self.printer.jobs.put(DrawerKick(committed[0].seq if committed else 0))
        if outcome.receipt is not None and isinstance(document, JournalRecord):
            self.print(document, outcome.receipt)

    def print(self, record: JournalRecord, receipt: object) -> None:
        """A receipt of `record` (a sale, refund or Z), e.g. printed again after a crash."""
        self.printer.jobs.put(PrintJob(record.seq, record.kind, record.id, receipt))
