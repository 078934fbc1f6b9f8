"""Which configured device each plugged-in node is, and the entry that would adopt the rest.

Owns the pure comparison of the `[devices]` settings with what udev lists (`UdevDevice`s
from `devices.udev`), the proposal for an unconfigured device (from the known-device
table: kind, role, driver, protocol or profile, line settings) with a stable identity
(its /dev/.../by-id/ link, else `usb:VID:PID:SERIAL`), and writing an accepted entry into
the settings text with tomlkit so the technician's comments stay. No I/O: the caller
reads and writes the file and asks udev.

"Interfaces discover, drivers claim" (STYLE.md): a device nothing claims is still listed,
with what it probably is — or why the box cannot tell (a USB-serial bridge says nothing
about the scale behind it).
"""

from __future__ import annotations

import fnmatch
import glob
import os
from dataclasses import dataclass, field
from typing import Any

from devices.discovery import serial_roles
from devices.events import Role
from devices.known_devices import KnownDevice, KnownDeviceTable, UsbIds
from devices.serial_line import usb_identity
from devices.settings import DeviceSettings, InputMatch
from devices.udev import UdevDevice

SECTIONS = {
    "scanner": "scanners",
    "scale": "scales",
    "printer": "printers",
    "card_reader": "card_readers",
}


@dataclass(frozen=True)
class Configured:
    """One configured device and the node that claimed it (None: missing)."""

    role: Role
    name: str
    wanted: str
    node: str | None = None
    network: bool = False  # a tcp:// printer: not something udev lists


@dataclass(frozen=True)
class Proposal:
    """An unconfigured device: what it probably is and the entry that would adopt it."""

    device: UdevDevice
    title: str
    known: KnownDevice | None
    role: str | None  # None: the box cannot tell (bridge, unknown keyboard, no driver)
    why: str
    identity: str
    stable: bool
    section: str | None = None
    entry: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Review:
    configured: list[Configured]
    proposals: list[Proposal]

    @property
    def missing(self) -> list[Configured]:
        return [c for c in self.configured if c.node is None and not c.network]


# -- matching configured entries -----------------------------------------------------------
def _port_claims(pattern: str, device: UdevDevice) -> bool:
    if device.subsystem == "input":
        return False
    identity = usb_identity(pattern)
    if identity is not None:
        vid, pid, serial_number = identity
        return device.vendor_product == f"{vid:04x}:{pid:04x}" and serial_number in (
            None,
            device.serial_number,
        )
    names = (device.node, *device.links)
    if any(fnmatch.fnmatchcase(name, pattern) for name in names):
        return True
    return os.path.exists(pattern) and os.path.realpath(pattern) == os.path.realpath(device.node)


def _input_claims(match: InputMatch, device: UdevDevice) -> bool:
    if device.subsystem != "input":
        return False
    if match.vendor_product and match.vendor_product.lower() != device.vendor_product:
        return False
    if match.name and not fnmatch.fnmatchcase(device.get("NAME"), match.name):
        return False
    if match.path and not any(
        fnmatch.fnmatchcase(n, match.path) for n in (device.node, *device.links)
    ):
        return False
    return not (match.phys and not fnmatch.fnmatchcase(device.get("PHYS"), match.phys))


def review(
    settings: DeviceSettings,
    devices: list[UdevDevice],
    table: KnownDeviceTable,
    names: UsbIds,
) -> Review:
    configured: list[Configured] = []
    claimed: set[str] = set()
    wedges = [(Role.SCANNER, s.name, s.match) for s in settings.scanners if s.kind == "wedge"]
    wedges += [(Role.CARD_READER, c.name, c.match) for c in settings.card_readers]
    for role, name, match in wedges:
        assert match is not None  # a wedge scanner's settings require it
        nodes = [d.node for d in devices if _input_claims(match, d)]
        claimed.update(nodes)
        if not nodes and match.path:  # a node udev does not list (a simulator's FIFO)
            nodes = glob.glob(match.path)
        wanted = ", ".join(f"{k}={v}" for k, v in match.model_dump().items() if v)
        configured.append(Configured(role, name, f"input device with {wanted}", _first(nodes)))
    for role, name, pattern in serial_roles(settings):
        nodes = [d.node for d in devices if _port_claims(pattern, d)]
        claimed.update(nodes)
        if not nodes and usb_identity(pattern) is None:  # not USB: a built-in UART, a pty
            nodes = glob.glob(pattern)
        configured.append(Configured(role, name, f"port {pattern}", _first(nodes)))
    for printer in settings.printers:
        if printer.uri.startswith("usb://"):
            vid_pid = printer.uri[6:].split("?")[0].lower()
            nodes = [d.node for d in devices if d.vendor_product == vid_pid]
            claimed.update(nodes)
            configured.append(Configured(Role.PRINTER, printer.name, printer.uri, _first(nodes)))
        elif printer.uri.startswith("tcp://"):
            configured.append(Configured(Role.PRINTER, printer.name, printer.uri, network=True))
    taken = {c.name for c in configured}
    proposals = []
    for device in devices:
        if device.node in claimed:
            continue
        proposal = propose(device, devices, table, names, taken)
        if proposal.entry:
            taken.add(proposal.entry["name"])
        proposals.append(proposal)
    return Review(configured, proposals)


def _first(nodes: list[str]) -> str | None:
    return sorted(nodes)[0] if nodes else None


# -- proposals ------------------------------------------------------------------------------
def identity_of(device: UdevDevice, devices: list[UdevDevice]) -> tuple[str, bool]:
    """The name an entry should use: by-id link, else usb:VID:PID[:SERIAL] when that is
    unique among the present devices, else the node itself (not stable: says so)."""
    if device.by_id:
        return device.by_id, True
    vp = device.vendor_product
    if vp is not None:
        if device.serial_number:
            return f"usb:{vp}:{device.serial_number}", True
        twins = [d for d in devices if d.vendor_product == vp and d.subsystem == device.subsystem]
        if len(twins) == 1:
            return f"usb:{vp}", True
    return device.node, False


def propose(
    device: UdevDevice,
    devices: list[UdevDevice],
    table: KnownDeviceTable,
    names: UsbIds,
    taken: set[str],
    *,
    as_role: str | None = None,
    protocol: str | None = None,
) -> Proposal:
    """The entry that would adopt `device`; `as_role` is the technician's word (a bridge,
    an unknown keyboard), `protocol` a scale protocol that answered (devices.identify)."""
    vp = device.vendor_product
    known = table.lookup(vp) if vp else None
    title = (
        (known.title if known and not known.vendor_only else None)
        or (names.name(vp) if vp else None)
        or device.label
        or "unknown device"
    )
    identity, stable = identity_of(device, devices)
    role = as_role or (known.role if known and known.driver != "none" else None) or None
    if known is not None and known.driver == "none" and as_role is None:
        return Proposal(device, title, known, None, known.notes, identity, stable)
    if role is None:
        if known is not None and known.kind == "serial_bridge":
            why = known.notes or "a USB-serial bridge: the device behind it is unknown"
        elif device.subsystem == "input":
            why = "a keyboard-like device not in the known-device table (a scanner? a reader?)"
        else:
            why = "not in the known-device table"
        why += "; adopt it with --as scanner|scale|printer|card_reader"
        return Proposal(device, title, known, None, why, identity, stable)
    name = _free_name(role.replace("_", "-"), taken)
    entry = _entry(role, name, device, identity, known, protocol)
    why = f"{'you said ' + role if as_role else 'known ' + (known.kind if known else role)}"
    if known is not None and known.uncertain and not as_role:
        why += " (uncertain: check it)"
    if known is not None and known.notes:
        why += f"; {known.notes}"
    return Proposal(device, title, known, role, why, identity, stable, SECTIONS[role], entry)


def _free_name(base: str, taken: set[str]) -> str:
    if base not in taken:
        return base
    number = 2
    while f"{base}-{number}" in taken:
        number += 1
    return f"{base}-{number}"


def _entry(
    role: str,
    name: str,
    device: UdevDevice,
    identity: str,
    known: KnownDevice | None,
    protocol: str | None,
) -> dict[str, Any]:
    serial: dict[str, Any] = {"port": identity}
    for key in ("baudrate", "bytesize", "parity"):
        value = getattr(known, key) if known else None
        if value is not None:
            serial[key] = value
    if role in ("scanner", "card_reader") and device.subsystem == "input":
        match = {"vendor_product": device.vendor_product} if device.vendor_product else {}
        if not match or not identity.startswith("/dev/input/by-id"):
            match["name"] = device.get("NAME") or "*"
        if role == "scanner":
            return {"name": name, "kind": "wedge", "match": match}
        return {"name": name, "match": match}
    if role == "scanner":
        return {"name": name, "kind": "serial", "serial": serial}
    if role == "scale":
        chosen = protocol or (known.protocol if known else None)
        entry: dict[str, Any] = {"name": name, "protocol": chosen or "?", "serial": serial}
        return entry
    if role == "printer":
        profile = (known.profile if known else None) or "default"
        usblp = device.subsystem == "usbmisc"  # kernel usblp: write-only, no status
        uri = f"file://{device.node}" if usblp else f"serial://{identity}"
        return {"name": name, "uri": uri, "profile": profile}
    # card reader on a serial line: the box reads card readers as keyboards only
    return {}


# -- writing ----------------------------------------------------------------------------------
def add_entry(text: str, section: str, entry: dict[str, Any]) -> str:
    """`text` (a settings file) with `entry` appended to `[[devices.SECTION]]`; comments,
    order and formatting of everything else stay as they were (tomlkit)."""
    import tomlkit

    document = tomlkit.parse(text)
    devices = document.get("devices")
    if devices is None:
        devices = tomlkit.table(is_super_table=True)
        document["devices"] = devices
    table = tomlkit.table()
    for key, value in entry.items():
        if isinstance(value, dict):
            inline = tomlkit.inline_table()
            inline.update(value)
            table[key] = inline
        else:
            table[key] = value
    existing = devices.get(section)
    if existing is None:
        array = tomlkit.aot()
        array.append(table)
        devices[section] = array
    else:
        existing.append(table)
    return tomlkit.dumps(document)


def entry_text(section: str, entry: dict[str, Any]) -> str:
    """How the entry will look in the file."""
    return add_entry("", section, entry).strip() + "\n"
