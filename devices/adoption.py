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

import glob
from dataclasses import dataclass, field, replace
from typing import Any

from devices.discovery import (
    InputDeviceInfo,
    SerialPortInfo,
    input_mismatch,
    port_mismatch,
    serial_roles,
    wedge_roles,
)
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
    why_not: tuple[str, ...] = ()  # why each configured entry does not claim it


@dataclass(frozen=True)
class Review:
    configured: list[Configured]
    proposals: list[Proposal]

    @property
    def missing(self) -> list[Configured]:
        return [c for c in self.configured if c.node is None and not c.network]


# -- matching configured entries -----------------------------------------------------------
def as_input(device: UdevDevice) -> InputDeviceInfo:
    """The udev view as discovery's matcher wants it (one matching rule for both)."""
    vp = device.vendor_product or "0000:0000"
    return InputDeviceInfo(
        device.node,
        device.get("NAME"),
        device.get("PHYS"),
        int(vp[:4], 16),
        int(vp[5:], 16),
        device.get("UNIQ"),
        device.keyboard,
    )


def as_port(device: UdevDevice) -> SerialPortInfo:
    vp = device.vendor_product
    return SerialPortInfo(
        device.node,
        device.links,
        int(vp[:4], 16) if vp else None,
        int(vp[5:], 16) if vp else None,
        device.serial_number or None,
        device.label,
    )


def _why_not(role: Role, name: str, match: InputMatch | str, device: UdevDevice) -> str | None:
    """None when the configured `match` (InputMatch or port pattern) claims `device`; ""
    when the entry is for another kind of device (no reason worth showing)."""
    if isinstance(match, InputMatch):
        if device.subsystem != "input":
            return ""
        reasons = input_mismatch(match, as_input(device))
        return f"{role.value} {name!r}: " + "; ".join(reasons) if reasons else None
    if device.subsystem == "input":
        return ""
    reason = port_mismatch(match, as_port(device))
    return f"{role.value} {name!r}: {reason}" if reason else None


def review(
    settings: DeviceSettings,
    devices: list[UdevDevice],
    table: KnownDeviceTable,
    names: UsbIds,
) -> Review:
    wanted: list[tuple[Role, str, InputMatch | str, str]] = [
        (role, name, match, "input device with " + _describe(match))
        for role, name, match in wedge_roles(settings)
    ]
    wanted += [
        (role, name, pattern, f"port {pattern}") for role, name, pattern in serial_roles(settings)
    ]
    configured: list[Configured] = []
    claimed: dict[str, str] = {}  # node -> configured name
    reasons: dict[str, list[str]] = {d.node: [] for d in devices}
    for role, name, match, description in wanted:
        nodes = []
        for device in devices:
            if device.node in claimed:
                continue
            why = _why_not(role, name, match, device)
            if why is None:
                nodes.append(device.node)
            elif why:
                reasons[device.node].append(why)
        claimed.update((node, name) for node in nodes)
        if not nodes:  # a path udev does not list: a built-in UART, a pty, a FIFO
            pattern = match.path if isinstance(match, InputMatch) else match
            if pattern and usb_identity(pattern) is None:
                nodes = sorted(glob.glob(pattern))
        configured.append(Configured(role, name, description, _first(nodes)))
    for printer in settings.printers:
        if printer.uri.startswith("usb://"):
            vid_pid = printer.uri[6:].split("?")[0].lower()
            nodes = [d.node for d in devices if d.vendor_product == vid_pid]
            claimed.update((node, printer.name) for node in nodes)
            configured.append(Configured(Role.PRINTER, printer.name, printer.uri, _first(nodes)))
        elif printer.uri.startswith("tcp://"):
            configured.append(Configured(Role.PRINTER, printer.name, printer.uri, network=True))
    taken = {c.name for c in configured}
    proposals = []
    for device in devices:
        if device.node in claimed:
            continue
        proposal = propose(device, devices, table, names, taken)
        proposal = replace(proposal, why_not=tuple(reasons[device.node]))
        if proposal.entry:
            taken.add(proposal.entry["name"])
        proposals.append(proposal)
    return Review(configured, proposals)


def _describe(match: InputMatch) -> str:
    return ", ".join(f"{k}={v}" for k, v in match.model_dump().items() if v)


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
    misfit = _misfit(role, device)
    if misfit:
        return Proposal(device, title, known, None, misfit, identity, stable)
    name = _free_name(role.replace("_", "-"), taken)
    entry = _entry(role, name, device, identity, known, protocol)
    why = f"{'you said ' + role if as_role else 'known ' + (known.kind if known else role)}"
    if known is not None and known.uncertain and not as_role:
        why += " (uncertain: check it)"
    if known is not None and known.notes:
        why += f"; {known.notes}"
    return Proposal(device, title, known, role, why, identity, stable, SECTIONS[role], entry)


def _misfit(role: str, device: UdevDevice) -> str:
    """Why `device` cannot take `role` ("" when it can): the box reads scanners and card
    readers as keyboards, scanners and scales on serial lines, printers on serial or lp."""
    kind = {"input": "a keyboard-like input device", "usbmisc": "a USB printer-class node"}
    fits = {
        "input": ("scanner", "card_reader"),
        "tty": ("scanner", "scale", "printer"),
        "usbmisc": ("printer",),
    }
    if role in fits.get(device.subsystem, ()):
        return ""
    what = kind.get(device.subsystem, "a serial port")
    return f"{what} cannot be a {role} here (card readers are read as keyboards only)"


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
    raise AssertionError(f"{role} on {device.subsystem}: _misfit should have refused it")


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
    table.add(tomlkit.nl())  # a blank line before whatever section follows
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
