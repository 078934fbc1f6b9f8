"""`gateway doctor`: check the box and say, line by line, what to fix.

Owns the checks and their wording. Every check returns OK / WARN / FAIL with a one-line
finding and, unless OK, the fix to apply. Checks only read: the database is opened
read-only, serial devices are asked for a reading only when the daemon is not running
(when it is, its own view of the devices is used, so doctor never fights it for a port),
and the broker is only connected to (TCP, then TLS when configured), never published to.
"""

from __future__ import annotations

import argparse
import errno
import grp
import json
import os
import pwd
import shutil
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from gateway.daemon.backup import backup_dir, list_backups
from gateway.daemon.control import ControlError, call, control_socket
from gateway.errors import StoregateError
from gateway.settings import GatewaySettings, load_settings

Level = Literal["OK", "WARN", "FAIL"]
SERVICE_USER = "storegate"
SERVICE_GROUPS = ("input", "dialout", "lp")
CERT_WARN_DAYS = 30
BACKLOG_WARN = timedelta(hours=1)
BACKLOG_FAIL = timedelta(hours=24)


@dataclass(frozen=True)
class Finding:
    check: str
    level: Level
    message: str
    fix: str = ""

    def render(self) -> str:
        line = f"{self.level:<4}  {self.check:<10} {self.message}"
        return line + (f"\n      fix: {self.fix}" if self.fix and self.level != "OK" else "")


def ok(check: str, message: str) -> Finding:
    return Finding(check, "OK", message)


class Doctor:
    """Runs every check against one settings object; `daemon` is its status when running."""

    def __init__(
        self, settings: GatewaySettings, daemon: dict[str, Any] | None, now: datetime | None = None
    ) -> None:
        self.settings = settings
        self.daemon = daemon
        self.now = now or datetime.now(UTC)

    def run(self) -> list[Finding]:
        checks: list[Callable[[], list[Finding]]] = [
            self.service_user,
            self.daemon_running,
            self.catalog,
            self.screens,
            self.devices,
            self.printers,
            self.broker,
            self.identity,
            self.certificates,
            self.clock,
            self.disk,
            self.journal,
            self.access,
            self.backlog,
            self.backups,
        ]
        findings: list[Finding] = []
        for check in checks:
            try:
                findings += check()
            except Exception as exc:  # a check that breaks must say so, not hide the rest
                findings.append(
                    Finding(
                        check.__name__,
                        "FAIL",
                        f"check failed: {exc}",
                        "report this to storegate's maintainers",
                    )
                )
        return findings

    def service_user(self) -> list[Finding]:
        try:
            user = pwd.getpwnam(SERVICE_USER)
        except KeyError:
            return [
                Finding(
                    "user",
                    "WARN",
                    f"no {SERVICE_USER} user on this machine",
                    "install the service: sudo bash systemd/install.sh",
                )
            ]
        missing = [g for g in SERVICE_GROUPS if not _member(SERVICE_USER, user.pw_gid, g)]
        if missing:
            return [
                Finding(
                    "user",
                    "FAIL",
                    f"{SERVICE_USER} is not in group(s) "
                    f"{', '.join(missing)}: it cannot open those devices",
                    f"sudo usermod -aG {','.join(missing)} {SERVICE_USER}; "
                    "sudo systemctl restart storegate",
                )
            ]
        return [ok("user", f"{SERVICE_USER} is in {', '.join(SERVICE_GROUPS)}")]

    def daemon_running(self) -> list[Finding]:
        if self.daemon is None:
            return [
                Finding(
                    "daemon",
                    "WARN",
                    "gateway run is not answering on its control socket",
                    "sudo systemctl start storegate; then journalctl -u storegate -e",
                )
            ]
        return [
            ok("daemon", f"running (pid {self.daemon['pid']}), lane {self.daemon['lane']['state']}")
        ]

    def devices(self) -> list[Finding]:
        d = self.settings.devices
        serial = [(s.name, s.serial.port) for s in d.scanners if s.serial is not None]
        serial += [(s.name, s.serial.port) for s in d.scales]
        findings = [self._serial_device(name, port) for name, port in serial]
        wedges = [s.name for s in d.scanners if s.serial is None]
        wedges += [c.name for c in d.card_readers]
        for name in wedges:
            findings.append(
                self._from_daemon(name)
                or Finding(
                    "device",
                    "WARN",
                    f"{name}: not checked (the daemon is not running)",
                    "`gateway devices list` shows what is plugged in and which entry claims it",
                )
            )
        if not findings:
            findings.append(
                Finding(
                    "device",
                    "WARN",
                    "no scanner, scale or card reader is configured: items can only be keyed",
                    "`gateway devices list` shows what is plugged in; add its entry to "
                    "[devices] (docs/devices.md)",
                )
            )
        return findings

    def catalog(self) -> list[Finding]:
        """The catalog `gateway run` starts with: `paths.catalog` when set (it must exist),
        else the one the database holds (read-only)."""
        from gateway.catalog.catalog import load_catalog_file
        from gateway.catalog.store import CatalogStore
        from gateway.database import open_database

        file = self.settings.paths.catalog
        if file is not None:
            if not Path(file).is_file():
                return [
                    Finding(
                        "catalog",
                        "FAIL",
                        f"paths.catalog is {file}, which does not exist",
                        "put the catalog document there, or correct paths.catalog in "
                        f"{_settings_file(self.settings)}",
                    )
                ]
            try:
                products = len(load_catalog_file(file).products)
            except StoregateError as exc:
                return [Finding("catalog", "FAIL", f"{file}: {exc.what}", exc.fix or "")]
            return [ok("catalog", f"{file}: {products} products")]
        path = self.settings.paths.database
        version = (
            CatalogStore(open_database(path, readonly=True)).version() if path.exists() else None
        )
        if version is not None:
            return [ok("catalog", f"version {version} in the database (paths.catalog unset)")]
        return [
            Finding(
                "catalog",
                "FAIL",
                "no catalog: paths.catalog is not set and the database holds none, so "
                "gateway run will not start",
                "set paths.catalog to a catalog document, or let head office push one",
            )
        ]

    def screens(self) -> list[Finding]:
        """The screens' address: served by the running daemon, else free to bind."""
        sc = self.settings.screens
        where = f"{sc.host}:{sc.port}"
        if not sc.enabled:
            return [ok("screens", "disabled ([screens] enabled = false)")]
        if self.daemon is not None:
            if self.daemon.get("screens"):
                return [ok("screens", f"served at {self.daemon['screens']}")]
            return [
                Finding(
                    "screens",
                    "FAIL",
                    f"the daemon runs but does not serve the screens on {where}",
                    "journalctl -u storegate -e says why (another program on the port?)",
                )
            ]
        problem = _bind_problem(sc.host, sc.port)
        if problem:
            return [
                Finding(
                    "screens",
                    "FAIL",
                    f"cannot listen on {where}: {problem}",
                    f"stop what holds it (ss -ltnp 'sport = :{sc.port}') or set "
                    "[screens] port to a free one",
                )
            ]
        return [ok("screens", f"{where} is free for gateway run")]

    def _serial_device(self, name: str, pattern: str) -> Finding:
        """A configured port as the driver finds it: a path, a glob or a USB identity
        (`usb:VID:PID[:SERIAL]`, what `gateway devices adopt` may write), resolved by the
        drivers' own rule (`devices.serial_line.resolve_port`)."""
        from devices.errors import DeviceError
        from devices.serial_line import resolve_port

        try:
            port = resolve_port(pattern)
        except DeviceError:
            port = pattern
        if not Path(port).exists():
            return Finding(
                "device",
                "FAIL",
                f"{name}: {pattern} does not exist (unplugged, or the udev rule did not match)",
                "plug it in; check `ls -l /dev/storegate/` and `gateway devices list`",
            )
        if not os.access(port, os.R_OK | os.W_OK):
            return Finding(
                "device",
                "FAIL",
                f"{name}: {port} is not readable and writable by this user",
                "check the udev rules (GROUP=dialout) and that the service user is in dialout",
            )
        return (
            self._from_daemon(name)
            or self._ask_scale(name)
            or ok("device", f"{name}: {port} present")
        )

    def _from_daemon(self, name: str) -> Finding | None:
        if self.daemon is None:
            return None
        state = self.daemon["devices"].get(name, {})
        level: Level = "OK" if state.get("state") in ("connected", "ready") else "FAIL"
        return Finding(
            "device",
            level,
            f"{name}: {state.get('state', 'unknown')} {state.get('detail') or ''}".rstrip(),
            "check the cable and power; `gateway devices watch` shows its events",
        )

    def _ask_scale(self, name: str) -> Finding | None:
        from devices.errors import DeviceError
        from devices.scale_driver import SerialScale

        scale = next((s for s in self.settings.devices.scales if s.name == name), None)
        if scale is None:
            return None
        driver = SerialScale(
            name,
            scale.protocol,
            scale.serial.port,
            baudrate=scale.serial.baudrate,
            bytesize=scale.serial.bytesize,
            parity=scale.serial.parity,
            stopbits=scale.serial.stopbits,
            reply_timeout=scale.reply_timeout_s,
            retries=scale.retries,
            unit=scale.unit,
            mtsics_command=scale.mtsics_command,
            capacity=scale.capacity,
        )
        try:
            with driver:
                reading = driver.read_weight()
        except DeviceError as exc:
            return Finding(
                "device",
                "FAIL",
                f"{name}: does not answer: {exc}",
                f"check the protocol ({scale.protocol}) and line settings against "
                "the scale's menu; `gateway devices scale` tries one reading",
            )
        return ok(
            "device",
            f"{name}: answers ({reading.status.value}, {reading.weight} "
            f"{reading.unit or ''})".rstrip(),
        )

    def printers(self) -> list[Finding]:
        from devices.runner import printer_for

        findings = []
        if not self.settings.devices.printers:
            return [
                Finding(
                    "printer",
                    "WARN",
                    "no receipt printer is configured: receipts are not printed",
                    "add [[devices.printers]] with its uri (docs/devices.md)",
                )
            ]
        for p in self.settings.devices.printers:
            printer = printer_for(p)
            try:
                status = printer.status()
            except StoregateError as exc:
                findings.append(
                    Finding(
                        "printer",
                        "FAIL",
                        f"{p.name}: {exc.what}",
                        "check power, cable/network and the uri in [devices.printers]",
                    )
                )
                continue
            finally:
                printer.close()
            findings.append(_paper(p.name, status))
        return findings

    def broker(self) -> list[Finding]:
        if not self.settings.sync.enabled:
            return [ok("broker", "sync is disabled ([sync] enabled = false)")]
        m = self.settings.mqtt
        try:
            sock = socket.create_connection((m.host, m.port), timeout=3)
        except OSError as exc:
            return [
                Finding(
                    "broker",
                    "FAIL",
                    f"cannot reach {m.host}:{m.port}: {exc}",
                    "check the network, mqtt.host/mqtt.port and the firewall; sales "
                    "go on and sync catches up when it is back",
                )
            ]
        with sock:
            if m.ca_file:
                problem = _tls_handshake(sock, m)
                if problem:
                    return [
                        Finding(
                            "broker",
                            "FAIL",
                            f"TLS with {m.host}:{m.port} failed: {problem}",
                            "check mqtt.ca_file is the CA that signed the "
                            "broker's certificate, the port is the TLS listener and "
                            "the box's certificate is valid",
                        )
                    ]
        return [ok("broker", f"{m.host}:{m.port} reachable" + (" (TLS)" if m.ca_file else ""))]

    def identity(self) -> list[Finding]:
        """Said only for a box that enrolled or is waiting to (docs/install.md)."""
        from gateway.broker_identity import identity_path, read_identity
        from gateway.sync.enrol_client import pending_code

        data_dir = self.settings.paths.data_dir
        enrolled = read_identity(data_dir)
        if enrolled is not None:
            where = identity_path(data_dir)
            return [ok("identity", f"enrolled as {enrolled.store}/{enrolled.box} ({where})")]
        m = self.settings.mqtt
        if m.username is not None or m.cert_file is not None:
            return []
        code = pending_code(data_dir)
        if code is None:
            return []
        return [
            Finding(
                "identity",
                "WARN",
                f"waiting for enrolment with pairing code {code}",
                f"head office: `cloud boxes approve {code} --store S --box B`; the box "
                "starts once it has its credentials (`journalctl -u storegate-enrol`)",
            )
        ]

    def certificates(self) -> list[Finding]:
        from cryptography import x509

        m = self.settings.mqtt
        findings = []
        for label, path in (("CA", m.ca_file), ("box certificate", m.cert_file)):
            if path is None:
                continue
            try:
                cert = x509.load_pem_x509_certificate(Path(path).read_bytes())
            except (OSError, ValueError) as exc:
                findings.append(
                    Finding(
                        "tls",
                        "FAIL",
                        f"{label} {path}: cannot be read: {exc}",
                        "put the PEM file head office gave you there",
                    )
                )
                continue
            findings.append(_expiry(label, path, cert.not_valid_after_utc, self.now))
        return findings or [ok("tls", "no TLS configured (mqtt.ca_file unset)")]

    def clock(self) -> list[Finding]:
        from gateway.journal.clock import probe_ntp_synchronised

        jumps = (self.daemon or {}).get("clock", {}).get("jumps_back", 0)
        if not probe_ntp_synchronised():
            return [
                Finding(
                    "clock",
                    "WARN",
                    "the clock is not NTP-synchronised (records are "
                    "marked clock_synced=false; order is by seq)",
                    "check network time: timedatectl; systemctl status systemd-timesyncd",
                )
            ]
        if jumps:
            return [
                Finding(
                    "clock",
                    "WARN",
                    f"synchronised, but it jumped back {jumps} time(s) since the daemon started",
                    "see journalctl -u storegate",
                )
            ]
        return [ok("clock", "NTP-synchronised")]

    def disk(self) -> list[Finding]:
        data = Path(self.settings.paths.data_dir)
        target = data if data.exists() else data.parent
        free_mb = shutil.disk_usage(target).free // (1024 * 1024)
        limit = self.settings.daemon.disk_min_free_mb
        if free_mb < limit:
            return [
                Finding(
                    "disk",
                    "FAIL",
                    f"{free_mb} MB free in {target}: the lane refuses new sales below {limit} MB",
                    "free space: old backups, logs (journalctl --vacuum-size=50M)",
                )
            ]
        if free_mb < 4 * limit:
            return [
                Finding(
                    "disk",
                    "WARN",
                    f"only {free_mb} MB free in {target}",
                    f"free space before it reaches the limit of {limit} MB",
                )
            ]
        return [ok("disk", f"{free_mb} MB free in {target}")]

    def journal(self) -> list[Finding]:
        from gateway.database import open_database
        from gateway.journal import verify_journal

        path = self.settings.paths.database
        if not path.exists():
            return [
                Finding(
                    "journal",
                    "WARN",
                    f"no database yet at {path}",
                    "start the daemon once: it creates the database",
                )
            ]
        report = verify_journal(open_database(path, readonly=True))
        if not report.ok:
            return [
                Finding(
                    "journal",
                    "FAIL",
                    report.describe(),
                    "keep the file for inspection; restore the newest backup that "
                    "verifies: gateway restore PATH",
                )
            ]
        return [ok("journal", report.describe())]

    def access(self) -> list[Finding]:
        """The bootstrap (no admin with a second factor yet): from the running daemon, else
        from the database (read-only)."""
        from gateway.daemon.box_actions import access_view
        from gateway.database import open_database
        from gateway.lane.staff import StaffDirectory

        view = (self.daemon or {}).get("access")
        if view is None:
            path = self.settings.paths.database
            if not path.exists():
                return []
            db = open_database(path, readonly=True)
            view = access_view(StaffDirectory(db, self.settings.lane).bootstrap())
        if view["bootstrap"]:
            return [Finding("access", "WARN", view["allows"], view["fix"])]
        return [ok("access", view["allows"])]

    def backlog(self) -> list[Finding]:
        from gateway.database import open_database
        from gateway.journal import Journal

        path = self.settings.paths.database
        if not path.exists():
            return []
        count, oldest = Journal(open_database(path, readonly=True)).backlog()
        if not count or oldest is None:
            return [ok("backlog", "head office has acknowledged every record")]
        age = self.now - datetime.fromisoformat(oldest.replace("Z", "+00:00"))
        text = f"{count} record(s) not acknowledged, the oldest for {_human(age)}"
        if age > BACKLOG_FAIL:
            return [
                Finding(
                    "backlog",
                    "FAIL",
                    text,
                    "check the broker line above and "
                    "`gateway sync status`; head office must be reachable",
                )
            ]
        if age > BACKLOG_WARN:
            return [Finding("backlog", "WARN", text, "check `gateway sync status`")]
        return [ok("backlog", text)]

    def backups(self) -> list[Finding]:
        found = list_backups(backup_dir(self.settings))
        interval = timedelta(hours=self.settings.backup.interval_hours)
        if not found:
            return [
                Finding(
                    "backup",
                    "WARN",
                    "no backup yet",
                    "gateway backup (the timer storegate-backup.timer takes one daily)",
                )
            ]
        newest = datetime.fromtimestamp(found[-1].stat().st_mtime, UTC)
        if self.now - newest > 2 * interval:
            return [
                Finding(
                    "backup",
                    "WARN",
                    f"newest backup is {_human(self.now - newest)} old",
                    "systemctl status storegate-backup.timer",
                )
            ]
        return [ok("backup", f"{len(found)} backup(s), newest {found[-1].name}")]


def _tls_handshake(sock: socket.socket, m: Any) -> str | None:
    """None when the broker completes a TLS handshake with these files, else why not."""
    try:
        context = ssl.create_default_context(cafile=str(m.ca_file))
        if m.cert_file and m.key_file:
            context.load_cert_chain(str(m.cert_file), str(m.key_file))
        with context.wrap_socket(sock, server_hostname=m.host):
            return None
    except ssl.SSLError as exc:
        return str(exc.reason or exc)
    except OSError as exc:
        return str(exc)


def _bind_problem(host: str, port: int) -> str | None:
    """Why this machine cannot listen on host:port now (None: it can); the probe socket
    is closed at once."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        return f"the address does not resolve ({exc.strerror})"
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(address)
        except OSError as exc:
            taken = exc.errno == errno.EADDRINUSE
            return "another program is listening there" if taken else str(exc.strerror)
    return None


def _settings_file(settings: GatewaySettings) -> str:
    path = getattr(settings, "toml_path", None)
    return str(path) if path is not None else "the settings file"


def _member(user: str, primary_gid: int, group: str) -> bool:
    try:
        entry = grp.getgrnam(group)
    except KeyError:
        return False
    return user in entry.gr_mem or entry.gr_gid == primary_gid


def _paper(name: str, status: Any) -> Finding:
    if not status.answered:
        return Finding(
            "printer",
            "WARN",
            f"{name}: connected but does not report its status",
            "the printer profile may not support DLE EOT; print a test page: "
            "gateway devices print-test",
        )
    state = status.state.value
    if state in ("paper_out", "cover_open", "error", "offline"):
        return Finding(
            "printer",
            "FAIL",
            f"{name}: {state.replace('_', ' ')}",
            "load paper / close the cover / clear the error on the printer",
        )
    if state == "paper_near_end":
        return Finding("printer", "WARN", f"{name}: paper near end", "load a new roll soon")
    return ok("printer", f"{name}: ready, paper ok")


def _expiry(label: str, path: Any, not_after: datetime, now: datetime) -> Finding:
    left = not_after - now
    if left <= timedelta(0):
        return Finding(
            "tls",
            "FAIL",
            f"{label} {path} expired on {not_after:%Y-%m-%d}",
            "get a new certificate from head office",
        )
    if left < timedelta(days=CERT_WARN_DAYS):
        return Finding(
            "tls",
            "WARN",
            f"{label} {path} expires in {left.days} day(s) ({not_after:%Y-%m-%d})",
            "ask head office for a renewed certificate",
        )
    return ok("tls", f"{label} valid until {not_after:%Y-%m-%d}")


def _human(age: timedelta) -> str:
    seconds = int(age.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"


def doctor_command(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(args.config)
    except StoregateError as exc:
        print(Finding("settings", "FAIL", exc.what.splitlines()[0], exc.fix or "").render())
        print(exc.what)
        return 1
    daemon = _daemon_status(settings)
    findings = [ok("settings", "valid"), *Doctor(settings, daemon).run()]
    if args.json:
        print(json.dumps([f.__dict__ for f in findings], indent=2))
    else:
        for finding in findings:
            print(finding.render())
    failed = sum(f.level == "FAIL" for f in findings)
    warned = sum(f.level == "WARN" for f in findings)
    if not args.json:
        print(f"{failed} FAIL, {warned} WARN, {len(findings) - failed - warned} OK")
    return 1 if failed else 0


def _daemon_status(settings: GatewaySettings) -> dict[str, Any] | None:
    try:
        answer = call(control_socket(settings), {"command": "status"}, timeout=5)
    except ControlError:
        return None
    status: dict[str, Any] | None = answer.get("status")
    return status
