"""`gateway install` / `gateway uninstall`: put the box on a fresh Debian / Raspberry Pi OS.

Owns what the install creates under ROOT (default `/`): the units, timer and udev rules
from `systemd/`, a udev rule per configured device, the sysusers/tmpfiles entries (user
`storegate`, group `storegate-tech`, directories), a starter config, the virtual
environment in /opt/storegate/venv, and the enablement symlinks. Every step compares
before it writes, so a second run changes nothing. It never touches data in
/var/lib/storegate except to create the directories; uninstall keeps data and config
unless `--purge`.

Works on a scratch root (`--root DIR`): systemd-sysusers, systemd-tmpfiles and systemctl
all take `--root`; nothing is started or reloaded unless ROOT is `/` and systemd runs.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from devices.serial_line import usb_identity
from gateway.errors import StoregateError
from gateway.settings import load_settings

REPO = Path(__file__).resolve().parents[2]
UNITS_SOURCE = REPO / "systemd"
UNITS = (
    "storegate.service",
    "storegate-enrol.service",
    "storegate-cloud.service",
    "storegate-backup.service",
    "storegate-backup.timer",
    "storegate-update.service",
    "storegate-update.path",
)
ENABLED = ("storegate.service", "storegate-backup.timer", "storegate-update.path")
STATIC_RULES = "70-storegate.rules"
DEVICE_RULES = "71-storegate-devices.rules"
CONFIG = "etc/storegate/gateway.toml"
CATALOG = "etc/storegate/catalog.json"
VENV = "opt/storegate/venv"
# What the units run: a link to the environment in force, which the updater switches
# (docs/install.md, "Software updates"); made to point at VENV once, never replaced.
CURRENT = "opt/storegate/current"


class InstallError(StoregateError):
    """A step of the install could not be carried out."""


@dataclass
class InstallReport:
    """What a run did: `changed` lists every path or action that was not already in place."""

    root: Path
    changed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def note(self, changed: bool, what: str) -> None:
        (self.changed if changed else self.kept).append(what)


def progress(line: str) -> None:
    """One line of progress for a step that takes a while (stderr: stdout is the report)."""
    print(f"[storegate install] {line}", file=sys.stderr, flush=True)


# Kernel names the kernel hands out in plug-in order: the same adapter can be ttyUSB1
# tomorrow (docs/install.md, "Stable device names").
KERNEL_SERIAL = re.compile(r"^/dev/tty(USB|ACM)\d+$")


def write_if_different(path: Path, text: str, mode: int = 0o644) -> bool:
    """Write only when the content differs, so a second install changes nothing."""
    if path.exists() and path.read_text() == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".new")
    temporary.write_text(text)
    temporary.chmod(mode)
    temporary.replace(path)
    return True


def under(root: Path, absolute: str) -> Path:
    return root / absolute.lstrip("/")


def device_rules(config: Path, warnings: list[str] | None = None) -> str:
    """udev rules for the devices named in the config: service group and /dev/storegate/NAME.
    A serial device configured by its kernel name (/dev/ttyUSB0) is matched by the USB
    identity of the adapter found there now, and a warning is added to `warnings`."""
    lines = [
        "# Written by `gateway install` from the [devices] section; re-run it after editing",
        "# the config. Each rule gives the device to the service and a stable name.",
    ]
    devices = load_settings(config).devices
    wedges = [(s.name, s.match) for s in devices.scanners]
    wedges += [(c.name, c.match) for c in devices.card_readers]
    for name, match in wedges:
        if match is not None and match.vendor_product:
            vendor, product = match.vendor_product.lower().split(":")
            lines.append(
                f'SUBSYSTEM=="input", KERNEL=="event*", ATTRS{{idVendor}}=="{vendor}", '
                f'ATTRS{{idProduct}}=="{product}", GROUP="input", MODE="0660", '
                f'SYMLINK+="storegate/{name}"'
            )
    serials = [(s.name, s.serial.port) for s in devices.scanners if s.serial is not None]
    serials += [(s.name, s.serial.port) for s in devices.scales]
    for name, port in serials:
        lines.append(_serial_rule(name, port, warnings if warnings is not None else []))
    lines += [rule for p in devices.printers if (rule := _printer_rule(p.name, p.uri))]
    return "\n".join(lines) + "\n"


def adapter_identity(port: str) -> str | None:
    """The USB identity `usb:VID:PID[:SERIAL]` of the adapter at `port` now (None: nothing
    there, or not a USB adapter), from pyserial's port list."""
    from serial.tools import list_ports

    for found in list_ports.comports():
        if found.device == port and found.vid is not None and found.pid is not None:
            serial_number = f":{found.serial_number}" if found.serial_number else ""
            return f"usb:{found.vid:04x}:{found.pid:04x}{serial_number}"
    return None


def _printer_rule(name: str, uri: str) -> str | None:
    """USB printers by vendor:product (escpos usb://) or by usblp node (file:///dev/usb/lpN)."""
    if uri.startswith("usb://"):
        vendor, _, product = uri.removeprefix("usb://").split("/")[0].lower().partition(":")
        return (
            f'SUBSYSTEM=="usb", ENV{{DEVTYPE}}=="usb_device", ATTR{{idVendor}}=="{vendor}", '
            f'ATTR{{idProduct}}=="{product}", GROUP="lp", MODE="0660", '
            f'SYMLINK+="storegate/{name}"'
        )
    if uri.startswith("file:///dev/usb/"):
        return (
            f'SUBSYSTEM=="usbmisc", KERNEL=="{Path(uri).name}", GROUP="lp", MODE="0660", '
            f'SYMLINK+="storegate/{name}"'
        )
    return None  # network printers need no rule


def _serial_rule(name: str, port: str, warnings: list[str]) -> str:
    """A serial port as the devices room names it: a by-id/by-path link (or a glob of
    one), a USB identity `usb:VID:PID[:SERIAL]`, or a kernel name such as /dev/ttyUSB0 —
    which is not stable, so it is matched by the identity of the adapter there now when
    one is (and warned about either way)."""
    identity = usb_identity(port)
    if KERNEL_SERIAL.match(port):
        found = adapter_identity(port)
        warnings.append(
            f"{name} is configured as {port}: that name follows plug-in order and can "
            "belong to another adapter after a reboot or a replug. "
            + (
                f"The rule matches the adapter there now ({found}); set "
                f'port = "{found}" (or "/dev/storegate/{name}") in the config'
                if found
                else "No adapter is there now, so the rule matches the kernel name; set "
                'port = "usb:VID:PID:SERIAL" or a /dev/serial/by-id/ path in the config'
            )
        )
        identity = usb_identity(found) if found else None
    if identity is not None:
        vendor, product, serial_number = identity
        match = f'ATTRS{{idVendor}}=="{vendor:04x}", ATTRS{{idProduct}}=="{product:04x}"'
        if serial_number:
            match += f', ATTRS{{serial}}=="{serial_number}"'
    elif port.startswith("/dev/serial/by-id/") or port.startswith("/dev/serial/by-path/"):
        match = f'SYMLINK=="{port.removeprefix("/dev/")}"'
    else:
        match = f'KERNEL=="{Path(port).name}"'
    return f'SUBSYSTEM=="tty", {match}, GROUP="dialout", MODE="0660", SYMLINK+="storegate/{name}"'


def starter_config(data_dir: str = "/var/lib/storegate") -> str:
    """The example settings pointed at the installed catalog: `gateway config check` accepts it."""
    text = (REPO / "config" / "gateway.example.toml").read_text()
    return text.replace(
        '# catalog = "/etc/storegate/catalog.json"', 'catalog = "/etc/storegate/catalog.json"'
    )


def _run(command: list[str], what: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise InstallError(
            f"{what} failed: {done.stderr.strip() or done.stdout.strip()}",
            where=" ".join(command),
            fix="run the command by hand to see the full error, then re-run "
            "the install (it is safe to repeat)",
        )


def _run_showing(command: list[str], what: str) -> None:
    """As `_run`, with the command's own output passed on line by line as progress."""
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as child:
        assert child.stdout is not None
        said: list[str] = []
        for line in child.stdout:
            progress("  " + line.rstrip())
            if line.strip():
                said.append(line.strip())
    if child.returncode != 0:
        errors = [line for line in said if line.startswith("ERROR")]
        raise InstallError(
            f"{what} failed: {(errors or said or ['no output'])[-1]}",
            where=" ".join(command),
            fix="the lines above say why (network? disk space?); re-run the install (it is "
            "safe to repeat)",
        )


def install_files(report: InstallReport) -> None:
    root = report.root
    for unit in UNITS:
        target = under(root, f"/etc/systemd/system/{unit}")
        report.note(write_if_different(target, (UNITS_SOURCE / unit).read_text()), str(target))
    rules = under(root, f"/etc/udev/rules.d/{STATIC_RULES}")
    report.note(write_if_different(rules, (UNITS_SOURCE / STATIC_RULES).read_text()), str(rules))
    for name, folder in (
        ("storegate.sysusers", "/etc/sysusers.d/storegate.conf"),
        ("storegate.tmpfiles", "/etc/tmpfiles.d/storegate.conf"),
    ):
        target = under(root, folder)
        report.note(write_if_different(target, (UNITS_SOURCE / name).read_text()), str(target))


def install_config(report: InstallReport) -> None:
    """Starter config and catalog only when absent: a technician's edits are never replaced."""
    root = report.root
    for relative, text in (
        (CONFIG, starter_config()),
        (CATALOG, (REPO / "config" / "catalog.example.json").read_text()),
    ):
        target = root / relative
        if target.exists():
            report.note(False, str(target))
            continue
        report.note(write_if_different(target, text, 0o640), str(target))
        _give_to_service_group(root, target)
    rules = under(root, f"/etc/udev/rules.d/{DEVICE_RULES}")
    text = device_rules(root / CONFIG, report.warnings)
    report.note(write_if_different(rules, text), str(rules))


def _give_to_service_group(root: Path, path: Path) -> None:
    """root:storegate 0640, so the service reads its config but cannot change it."""
    group = root / "etc" / "group"
    for line in group.read_text().splitlines() if group.exists() else []:
        name, _, gid, *_ = line.split(":")
        if name == "storegate" and os.geteuid() == 0:
            os.chown(path, 0, int(gid))


def install_accounts(report: InstallReport) -> None:
    """User, groups and directories through systemd's own tools (idempotent, --root aware)."""
    root = report.root
    before = _snapshot(root, ("etc/passwd", "etc/group"))
    _run(
        ["systemd-sysusers", f"--root={root}", str(root / "etc/sysusers.d/storegate.conf")],
        "creating the storegate user",
    )
    report.note(before != _snapshot(root, ("etc/passwd", "etc/group")), "user storegate")
    missing = [
        d
        for d in (
            "var/lib/storegate",
            "var/lib/storegate/backups",
            "var/lib/storegate/receipts",
            "etc/storegate",
        )
        if not (root / d).is_dir()
    ]
    _run(
        [
            "systemd-tmpfiles",
            "--create",
            f"--root={root}",
            str(root / "etc/tmpfiles.d/storegate.conf"),
        ],
        "creating the storegate directories",
    )
    report.note(bool(missing), "directories " + ", ".join(missing or ["(all present)"]))


def _snapshot(root: Path, files: tuple[str, ...]) -> list[str]:
    return [(root / f).read_text() if (root / f).exists() else "" for f in files]


def install_current(report: InstallReport) -> None:
    """`/opt/storegate/current -> venv` on a first install; an existing link is left as
    it is (an update may have switched it to a newer environment)."""
    link = report.root / CURRENT
    if link.is_symlink():
        report.note(False, str(link))
        return
    link.symlink_to("venv")
    report.note(True, str(link))


def install_venv(report: InstallReport, venv_from: Path | None) -> None:
    """The virtual environment: a fresh one with storegate installed, or a link to one."""
    target = report.root / VENV
    if venv_from is not None:
        if target.resolve() == venv_from.resolve():
            report.note(False, str(target))
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(venv_from.resolve())
        report.note(True, str(target))
        return
    stamp = target / ".storegate-source"
    if stamp.exists() and stamp.read_text() == str(REPO):
        report.note(False, str(target))
        return
    progress(f"1/2 creating the virtual environment {target}")
    _run([sys.executable, "-m", "venv", str(target)], "creating the virtual environment")
    progress(
        "2/2 installing storegate and its dependencies into it with pip (a few minutes "
        "on a Raspberry Pi; pip's lines follow)"
    )
    _run_showing(
        [str(target / "bin" / "pip"), "install", "--progress-bar", "off", "-e", str(REPO)],
        "installing storegate (editable: units and docs stay in the source tree)",
    )
    progress("virtual environment ready")
    stamp.write_text(str(REPO))
    report.note(True, str(target))


def enable_units(report: InstallReport) -> None:
    wants = [
        under(report.root, f"/etc/systemd/system/{w}")
        for w in (
            "multi-user.target.wants/storegate.service",
            "timers.target.wants/storegate-backup.timer",
            "multi-user.target.wants/storegate-update.path",
        )
    ]
    before = all(w.is_symlink() for w in wants)
    _run(["systemctl", f"--root={report.root}", "enable", *ENABLED], "enabling the units")
    report.note(not before, "enabled " + ", ".join(ENABLED))


def live_system(root: Path) -> bool:
    return root.resolve() == Path("/") and Path("/run/systemd/system").is_dir()


def reload_live(report: InstallReport) -> None:
    """On the real system: reload systemd and udev and (re)start the service."""
    _run(["systemctl", "daemon-reload"], "reloading systemd")
    if shutil.which("udevadm"):
        _run(["udevadm", "control", "--reload"], "reloading udev rules")
        _run(
            [
                "udevadm",
                "trigger",
                "--subsystem-match=tty",
                "--subsystem-match=input",
                "--subsystem-match=usbmisc",
            ],
            "applying udev rules",
        )
    _run(
        [
            "systemctl",
            "start",
            "storegate.service",
            "storegate-backup.timer",
            "storegate-update.path",
        ],
        "starting storegate",
    )


def install(root: Path, venv_from: Path | None = None) -> InstallReport:
    report = InstallReport(root)
    install_files(report)
    install_accounts(report)
    install_config(report)
    install_venv(report, venv_from)
    install_current(report)
    enable_units(report)
    if live_system(root) and report.changed:
        reload_live(report)
    return report


def unsent_records(root: Path) -> tuple[Path, int] | None:
    """The box database under `root` and how many journal records in it head office has
    not acknowledged (None: no database). A file that cannot be read is an InstallError:
    nobody can then say that head office has everything."""
    from gateway.database import open_database
    from gateway.journal import Journal

    config = root / CONFIG
    data_dir = load_settings(config).paths.data_dir if config.exists() else None
    database = under(root, str(data_dir or "/var/lib/storegate")) / "storegate.db"
    if not database.exists():
        return None
    try:
        count, _ = Journal(open_database(database, readonly=True)).backlog()
    except (StoregateError, sqlite3.Error) as exc:
        raise InstallError(
            f"cannot read the journal in {database}: {exc}",
            where="gateway uninstall --purge",
            fix="keep a copy of the file; pass --force to delete it anyway",
        ) from None
    return database, count


def uninstall(root: Path, purge: bool = False, force: bool = False) -> InstallReport:
    """Remove the units, rules and venv; keep /var/lib/storegate and /etc/storegate unless
    purge — which is refused while the journal holds records head office has not
    acknowledged, unless `force`."""
    report = InstallReport(root)
    if purge and not force and (unsent := unsent_records(root)) is not None and unsent[1]:
        database, count = unsent
        raise InstallError(
            f"the journal in {database} holds {count} record(s) head office has not "
            "acknowledged: --purge would delete sales nobody else has",
            where="gateway uninstall --purge",
            fix="start the box until `gateway sync status` shows no backlog, or keep a "
            "backup (gateway backup PATH); --force purges anyway",
        )
    if under(root, "/etc/systemd/system/storegate.service").exists():
        _run(["systemctl", f"--root={root}", "disable", *ENABLED], "disabling the units")
    if live_system(root):
        subprocess.run(["systemctl", "stop", *ENABLED], check=False, capture_output=True)
    paths = [f"/etc/systemd/system/{u}" for u in UNITS]
    paths += [
        f"/etc/udev/rules.d/{STATIC_RULES}",
        f"/etc/udev/rules.d/{DEVICE_RULES}",
        "/etc/sysusers.d/storegate.conf",
        "/etc/tmpfiles.d/storegate.conf",
        "/opt/storegate/venv",
        "/opt/storegate/current",
        "/opt/storegate/venvs",
    ]
    if purge:
        paths += ["/var/lib/storegate", "/etc/storegate"]
    for absolute in paths:
        _remove(under(root, absolute), report)
    opt = under(root, "/opt/storegate")
    if opt.is_dir() and not any(opt.iterdir()):
        opt.rmdir()  # the source clone, if there, is the technician's to delete
    if purge:
        _remove_user(root, report)
    else:
        report.kept += [str(under(root, "/var/lib/storegate")), str(under(root, "/etc/storegate"))]
    if live_system(root):
        subprocess.run(["systemctl", "daemon-reload"], check=False, capture_output=True)
    return report


def _remove(path: Path, report: InstallReport) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)
    else:
        return
    report.changed.append(f"removed {path}")


def _remove_user(root: Path, report: InstallReport) -> None:
    passwd = root / "etc" / "passwd"
    lines = passwd.read_text().splitlines() if passwd.exists() else []
    if any(line.startswith("storegate:") for line in lines):
        _run(["userdel", f"--root={root.resolve()}", "storegate"], "removing the storegate user")
        report.changed.append("removed user storegate")


def install_command(args: argparse.Namespace) -> int:
    if os.geteuid() != 0 and Path(args.root).resolve() == Path("/"):
        raise InstallError(
            "installing on this machine needs root",
            where="gateway install",
            fix="run it with sudo, or pass --root DIR to install into a folder",
        )
    venv_from = Path(args.venv_from) if args.venv_from else None
    report = install(Path(args.root), venv_from)
    _print(report, "installed")
    return 0


def uninstall_command(args: argparse.Namespace) -> int:
    report = uninstall(Path(args.root), purge=args.purge, force=args.force)
    _print(report, "uninstalled")
    return 0


def _print(report: InstallReport, verb: str) -> None:
    for line in report.changed:
        print(f"  changed: {line}")
    for warning in report.warnings:
        print(f"storegate install: warning: {warning}", file=sys.stderr)
    summary = f"{len(report.changed)} change(s)" if report.changed else "nothing to change"
    print(f"storegate {verb} under {report.root}: {summary}")
