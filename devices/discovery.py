"""Which configured role a device plays, with the reason each role turns it down.

Owns listing input devices for the wedge adapter (`evdev.list_devices()`) and the pure
matching of one device against the `[devices]` settings: `input_mismatch` (an input
node against a role's `InputMatch`) and `port_mismatch` (a serial port against a role's
port: path, glob, by-id link or `usb:VID:PID[:SERIAL]`). `devices.adoption` applies them to
what udev lists. Serial ports are never probed by writing to them (an Odoo lesson: a probe
once turned every serial device into an "Adam scale", odoo-iot-box.md §6): a port plays a
role only because the settings name it.
"""

from __future__ import annotations

import fnmatch
import glob
import os
from dataclasses import dataclass
from pathlib import Path

from devices.events import Role
from devices.serial_line import usb_identity
from devices.settings import DeviceSettings, InputMatch

BY_ID = Path("/dev/serial/by-id")


@dataclass(frozen=True)
class InputDeviceInfo:
    path: str
    name: str
    phys: str
    vendor: int
    product: int
    uniq: str = ""
    keyboard: bool = True

    @property
    def vendor_product(self) -> str:
        return f"{self.vendor:04x}:{self.product:04x}"

    def summary(self) -> str:
        serial = f"  serial={self.uniq}" if self.uniq else ""
        return f"{self.path}  {self.vendor_product}  {self.name!r}  phys={self.phys or '-'}{serial}"


@dataclass(frozen=True)
class SerialPortInfo:
    device: str
    by_id: tuple[str, ...] = ()
    vid: int | None = None
    pid: int | None = None
    serial_number: str | None = None
    description: str = ""

    @property
    def vendor_product(self) -> str | None:
        return (
            f"{self.vid:04x}:{self.pid:04x}"
            if self.vid is not None and self.pid is not None
            else None
        )

    def summary(self) -> str:
        parts = [self.device]
        if self.vendor_product:
            parts.append(self.vendor_product)
        if self.serial_number:
            parts.append(f"serial={self.serial_number}")
        if self.description and self.description != "n/a":
            parts.append(repr(self.description))
        parts.extend(f"by-id={link}" for link in self.by_id)
        return "  ".join(parts)


# -- listing (I/O) ------------------------------------------------------------------------
def list_input_devices() -> list[InputDeviceInfo]:
    """Readable /dev/input/event* nodes; empty without permission (group 'input')."""
    import evdev

    found: list[InputDeviceInfo] = []
    for path in evdev.list_devices():
        try:
            device = evdev.InputDevice(path)
        except OSError:
            continue
        try:
            keys = device.capabilities().get(evdev.ecodes.EV_KEY, [])
            found.append(
                InputDeviceInfo(
                    path=str(device.path),
                    name=device.name,
                    phys=device.phys or "",
                    vendor=device.info.vendor,
                    product=device.info.product,
                    uniq=device.uniq or "",
                    keyboard=evdev.ecodes.KEY_A in keys or evdev.ecodes.KEY_1 in keys,
                )
            )
        finally:
            device.close()
    return sorted(found, key=lambda d: d.path)


# -- matching (pure) ----------------------------------------------------------------------
def input_mismatch(match: InputMatch, info: InputDeviceInfo) -> list[str]:
    """Reasons `info` does not satisfy `match`; empty means it matches."""
    reasons = []
    if match.vendor_product and match.vendor_product.lower() != info.vendor_product:
        reasons.append(
            f"vendor:product {info.vendor_product} is not {match.vendor_product.lower()}"
        )
    if match.name and not fnmatch.fnmatchcase(info.name, match.name):
        reasons.append(f"name {info.name!r} does not match {match.name!r}")
    if match.phys and not fnmatch.fnmatchcase(info.phys, match.phys):
        reasons.append(f"phys {info.phys!r} does not match {match.phys!r}")
    if match.path and not _names_node(match.path, info.path):
        reasons.append(f"path {info.path!r} is not {match.path!r}")
    return reasons


def _names_node(pattern: str, path: str) -> bool:
    """`pattern` (a path or glob, maybe a by-id link) names the node `path`."""
    if fnmatch.fnmatchcase(path, pattern):
        return True
    return any(os.path.realpath(p) == os.path.realpath(path) for p in glob.glob(pattern))


def port_mismatch(pattern: str, port: SerialPortInfo) -> str | None:
    identity = usb_identity(pattern)
    if identity is not None:
        vid, pid, serial_number = identity
        if (port.vid, port.pid) != (vid, pid):
            return f"vendor:product {port.vendor_product or 'unknown'} is not {vid:04x}:{pid:04x}"
        if serial_number is not None and port.serial_number != serial_number:
            return f"serial number {port.serial_number} is not {serial_number}"
        return None
    names = (port.device, *port.by_id)
    if any(fnmatch.fnmatchcase(name, pattern) for name in names):
        return None
    if os.path.exists(pattern) and os.path.realpath(pattern) == os.path.realpath(port.device):
        return None
    return f"port is not {pattern}"


def wedge_roles(settings: DeviceSettings) -> list[tuple[Role, str, InputMatch]]:
    roles = [
        (Role.SCANNER, s.name, s.match)
        for s in settings.scanners
        if s.kind == "wedge" and s.match is not None
    ]
    roles += [(Role.CARD_READER, c.name, c.match) for c in settings.card_readers]
    return roles


def serial_roles(settings: DeviceSettings) -> list[tuple[Role, str, str]]:
    roles = [(Role.SCALE, s.name, s.serial.port) for s in settings.scales]
    roles += [
        (Role.SCANNER, s.name, s.serial.port)
        for s in settings.scanners
        if s.kind == "serial" and s.serial is not None
    ]
    roles += [
        (Role.PRINTER, p.name, p.uri.split("://", 1)[1].split("?")[0])
        for p in settings.printers
        if p.uri.startswith(("serial://", "file://"))
    ]
    return roles
