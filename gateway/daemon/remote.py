"""The remote commands head office may send a box (docs/protocol.md, *Commands*).

Sync runs a command's handler on its own thread and sends back what it returns (or the
`CommandFailed` it raises). So here: what reads or writes the database or the lane — an X
report, a settings reload — is handed to the main loop, the box's one writer, and waited
for; what needs only its own connection or the printer's own lock — a backup (seconds of
I/O), a test page — runs right here, never on the main loop. `report_z` is not offered:
closing a business day is permanent and needs a supervisor's credential at the till.
"""

from __future__ import annotations

import queue
import re
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from devices.errors import DeviceError
from gateway.daemon.backup import backup_dir, take_backup
from gateway.daemon.screens import on_main_loop
from gateway.errors import StoregateError
from gateway.settings import GatewaySettings, load_settings
from gateway.sync.backup_upload import EVENT_KIND as BACKUP_CHUNK
from gateway.sync.backup_upload import chunk_bodies
from gateway.sync.commands import CommandRegistry
from gateway.sync.errors import CommandFailed
from gateway.sync.log_upload import EVENT_KIND, limits, parts, select_lines

if TYPE_CHECKING:
    from gateway.daemon.boxclock import BoxClock
    from gateway.daemon.device_feed import RecentLog
    from gateway.daemon.till import PrinterWorker
    from gateway.lane.book import LaneBook
    from gateway.lane.machine import Lane

T = TypeVar("T")
DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class BoxSide(Protocol):
    """What the handlers need of the running box (gateway.daemon.box.Box)."""

    settings: GatewaySettings
    config_path: str | None
    inbox: queue.SimpleQueue[Any]
    book: LaneBook
    lane: Lane
    printer: PrinterWorker | None
    recent_log: RecentLog
    sync: Any  # gateway.sync.service.SyncService once started

    def reload(self) -> None: ...

    def local_day(self) -> str: ...

    @property
    def clock(self) -> BoxClock: ...


def register_remote_commands(registry: CommandRegistry, box: BoxSide) -> CommandRegistry:
    commands = RemoteCommands(box)
    registry.register("report_x", commands.report_x)
    registry.register("backup_now", commands.backup_now)
    registry.register("print_test_page", commands.print_test_page)
    registry.register("reload_config", commands.reload_config)
    registry.register("upload_logs", commands.upload_logs)
    registry.register("upload_backup", commands.upload_backup)
    return registry


class RemoteCommands:
    def __init__(self, box: BoxSide) -> None:
        self.box = box

    def _on_loop(self, fn: Callable[[], T]) -> T:
        try:
            return on_main_loop(self.box.inbox, fn)
        except queue.Empty:
            raise CommandFailed(
                "the box's main loop did not answer in 20 s",
                fix="check the box's health (`gateway status`)",
            ) from None
        except StoregateError as exc:
            raise CommandFailed(exc.what, where=exc.where, fix=exc.fix) from exc

    def report_x(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """`{day?: YYYY-MM-DD, shift?: ID}`: the shift in progress (or `shift`), else the day
        (`day`, default today); the figures and the report as receipt text."""
        from gateway.reports import day_report, render_report, x_report

        day, shift = args.get("day"), args.get("shift")
        if day is not None and not (isinstance(day, str) and DAY.match(day)):
            raise CommandFailed(f"day {day!r} is not YYYY-MM-DD", fix="e.g. day=2026-11-24")

        def build() -> dict[str, Any]:
            chosen = shift or (
                self.box.lane.shift.shift_id if self.box.lane.shift and day is None else None
            )
            if chosen:
                figures, title = x_report(self.box.book, str(chosen)), f"X report {chosen}"
            else:
                which = str(day or self.box.local_day())
                figures, title = day_report(self.box.book, which), f"X report {which}"
            width = self.box.settings.store.receipt_width
            return {
                "title": title,
                "figures": figures.to_json(),
                "text": render_report(title, figures, width, at=self.box.clock.local()),
            }

        return self._on_loop(build)

    def backup_now(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """An online backup now (its own read-only connection; not the main loop)."""
        settings = self.box.settings
        try:
            info = take_backup(
                settings.paths.database, backup_dir(settings), keep=settings.backup.keep
            )
        except StoregateError as exc:
            raise CommandFailed(exc.what, where=exc.where, fix=exc.fix) from exc
        return {
            "path": str(info.path),
            "head_seq": info.head_seq,
            "acknowledged_seq": info.acknowledged_seq,
            "records_checked": info.records_checked,
        }

    def print_test_page(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """A test page on each receipt printer (each printer serialises its own talk)."""
        worker = self.box.printer
        if worker is None or not worker.printers:
            raise CommandFailed(
                "this box has no receipt printer configured",
                fix="add [[devices.printers]] to the box's settings",
            )
        printed: dict[str, str] = {}
        for printer in worker.printers:
            try:
                printed[printer.name] = printer.print_test_page(["sent by head office"]).describe()
            except DeviceError as exc:
                printer.close()
                raise CommandFailed(exc.what, where=exc.where, fix=exc.fix) from exc
        return {"printed": printed}

    def reload_config(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """As SIGHUP; a settings file that does not validate is refused (and kept out)."""
        try:
            load_settings(self.box.config_path)
        except StoregateError as exc:
            raise CommandFailed(
                f"settings not reloaded, the old ones stay: {exc.what}",
                where=exc.where,
                fix=exc.fix,
            ) from exc
        self._on_loop(self.box.reload)
        return {"reloaded": True, "file": self.box.config_path}

    def upload_logs(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """`{lines?, max_bytes?}`: the newest log lines the box keeps (card data masked),
        bounded, queued as `log.upload` events (gateway.sync.log_upload); `cloud logs`
        shows them once ingest has them."""
        bounds = limits(args)
        chosen = select_lines(self.box.recent_log.lines(bounds.lines), bounds)
        upload = uuid.uuid4().hex
        bodies = parts(upload, chosen)
        for body in bodies:
            self.box.sync.post_event(EVENT_KIND, body)
        size = sum(len(line.encode()) + 1 for line in chosen)
        return {"upload": upload, "lines": len(chosen), "bytes": size, "parts": len(bodies)}

    def upload_backup(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """A fresh online backup (as `backup_now`), sent to head office as `backup.chunk`
        events with its SHA-256 (gateway.sync.backup_upload); `cloud backups` has it."""
        if args:
            raise CommandFailed(
                f"unknown argument(s) {', '.join(sorted(args))}", fix="upload_backup takes none"
            )
        settings = self.box.settings
        try:
            info = take_backup(
                settings.paths.database, backup_dir(settings), keep=settings.backup.keep
            )
            return send_backup(self.box.sync, info.path, info.head_seq)
        except StoregateError as exc:
            raise CommandFailed(exc.what, where=exc.where, fix=exc.fix) from exc


def send_backup(sync: Any, path: Path, head_seq: int) -> dict[str, Any]:
    """Queue the backup at `path` for head office as `backup.chunk` events; what was sent
    (`upload_backup`'s answer). Used by the command and by the daemon's scheduled backups
    (`[backup] upload`)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CommandFailed(
            f"the backup cannot be read: {exc}",
            where=str(path),
            fix="check the backup folder and the disk",
        ) from exc
    bodies = chunk_bodies(uuid.uuid4().hex, path.name, head_seq, data)
    for body in bodies:
        sync.post_event(BACKUP_CHUNK, body)
    first = bodies[0]
    return {k: first[k] for k in ("upload", "name", "head_seq", "size", "sha256", "parts")}
