"""What is plugged in, and which configured role each device plays — with reasons.

Owns listing input devices (`evdev.list_devices()`) and serial ports (pyserial
`list_ports`, `/dev/serial/by-id`), and the pure matching of those lists against the
`[devices]` settings. Serial ports are never probed by writing to them (an Odoo lesson:
a probe once turned every serial device into an "Adam scale", odoo-iot-box.md §6): a port
plays a role only because the settings name it.

"Interfaces discover, drivers claim" (STYLE.md): devices that no role claims are still
listed, each with the reason every configured role turned it down.
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class Claim:
    """One present device: the role and configured name that claim it, or why none does."""

    kind: str  # "input" or "serial"
    path: str
    summary: str
    role: Role | None = None
    device: str | None = None
    why_not: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Missing:
    """A configured device with nothing present that matches it."""

    role: Role
    device: str
    wanted: str


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


def list_serial_ports(by_id_dir: Path = BY_ID) -> list[SerialPortInfo]:
    """pyserial's ports plus their stable /dev/serial/by-id names."""
    from serial.tools import list_ports

    links: dict[str, list[str]] = {}
    if by_id_dir.is_dir():
        for link in sorted(by_id_dir.iterdir()):
            links.setdefault(os.path.realpath(link), []).append(str(link))
    ports = []
    for port in list_ports.comports():
        ports.append(
            SerialPortInfo(
                device=port.device,
                by_id=tuple(links.get(os.path.realpath(port.device), ())),
                vid=port.vid,
                pid=port.pid,
                serial_number=port.serial_number,
                description=port.description or "",
            )
        )
    return sorted(ports, key=lambda p: p.device)


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
    if match.path and not fnmatch.fnmatchcase(info.path, match.path):
        reasons.append(f"path {info.path!r} does not match {match.path!r}")
    return reasons


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


def _wedge_roles(settings: DeviceSettings) -> list[tuple[Role, str, InputMatch]]:
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


def match_devices(
    settings: DeviceSettings, inputs: list[InputDeviceInfo], ports: list[SerialPortInfo]
) -> tuple[list[Claim], list[Missing]]:
    claims: list[Claim] = []
    found: set[str] = set()
    for info in inputs:
        reasons = []
        for role, name, match in _wedge_roles(settings):
            why = input_mismatch(match, info)
            if not why:
                claims.append(Claim("input", info.path, info.summary(), role, name))
                found.add(name)
                break
            reasons.append(f"{role.value} {name!r}: " + "; ".join(why))
        else:
            if not _wedge_roles(settings):
                reasons.append("no scanner or card reader is configured")
            if not info.keyboard:
                reasons.append("not a keyboard-like device")
            claims.append(Claim("input", info.path, info.summary(), why_not=tuple(reasons)))
    for port in ports:
        reasons = []
        for role, name, pattern in serial_roles(settings):
            mismatch = port_mismatch(pattern, port)
            if mismatch is None:
                claims.append(Claim("serial", port.device, port.summary(), role, name))
                found.add(name)
                break
            reasons.append(f"{role.value} {name!r}: {mismatch}")
        else:
            if not serial_roles(settings):
                reasons.append("no serial scale, scanner or printer is configured")
            claims.append(Claim("serial", port.device, port.summary(), why_not=tuple(reasons)))
    missing = [
        Missing(role, name, _describe(match))
        for role, name, match in _wedge_roles(settings)
        if name not in found
    ]
    missing += [
        Missing(role, name, f"port {pattern}")
        for role, name, pattern in serial_roles(settings)
        if name not in found and (usb_identity(pattern) is not None or not os.path.exists(pattern))
    ]
    return claims, missing


def _describe(match: InputMatch) -> str:
    keys = {"vendor_product": match.vendor_product, "name": match.name, "phys": match.phys}
    return "input device with " + ", ".join(f"{k}={v}" for k, v in keys.items() if v)
