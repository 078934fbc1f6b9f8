"""What is plugged in, as udev sees it: one seam for enumerating devices and watching hotplug.

Owns the `DeviceSource` interface and its two implementations: `PyudevSource` (production:
pyudev's enumeration and its netlink monitor) and `RecordedSource` (udev property dicts
recorded on a box, replayed — `gateway devices record` writes them; tests and bench work
replay them with simulators behind the device nodes). Everything above this module sees
only `UdevDevice`, a frozen view of one device's udev properties, so discovery and
adoption behave the same on both.

Nothing here opens a device node: enumeration reads udev's database and sysfs only.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from devices.errors import DeviceError

SUBSYSTEMS = ("tty", "input", "usbmisc")


@dataclass(frozen=True)
class UdevDevice:
    """One device node and its udev properties (SUBSYSTEM, DEVNAME, DEVLINKS, ID_BUS,
    ID_VENDOR_ID, ID_MODEL_ID, ID_SERIAL_SHORT, ID_VENDOR, ID_MODEL, ID_USB_DRIVER,
    ID_INPUT_KEYBOARD; for input nodes also NAME and PHYS of the parent input device)."""

    properties: Mapping[str, str]

    def get(self, key: str) -> str:
        return self.properties.get(key, "")

    @property
    def subsystem(self) -> str:
        return self.get("SUBSYSTEM")

    @property
    def node(self) -> str:
        return self.get("DEVNAME")

    @property
    def links(self) -> tuple[str, ...]:
        return tuple(self.get("DEVLINKS").split())

    @property
    def by_id(self) -> str | None:
        """The first /dev/.../by-id/ link: survives ttyUSB0 becoming ttyUSB1."""
        return next((link for link in self.links if "/by-id/" in link), None)

    @property
    def vendor_product(self) -> str | None:
        vid, pid = self.get("ID_VENDOR_ID").lower(), self.get("ID_MODEL_ID").lower()
        return f"{vid}:{pid}" if len(vid) == 4 and len(pid) == 4 else None

    @property
    def serial_number(self) -> str:
        return self.get("ID_SERIAL_SHORT")

    @property
    def usb(self) -> bool:
        return self.get("ID_BUS") == "usb"

    @property
    def keyboard(self) -> bool:
        return self.get("ID_INPUT_KEYBOARD") == "1"

    @property
    def label(self) -> str:
        """The device's own words (vendor and model strings), empty when it gives none."""
        vendor = self.get("ID_VENDOR_FROM_DATABASE") or self.get("ID_VENDOR")
        model = self.get("ID_MODEL_FROM_DATABASE") or self.get("ID_MODEL")
        return " ".join(part.replace("_", " ") for part in (vendor, model) if part)


@dataclass(frozen=True)
class UdevEvent:
    action: str  # "add", "remove", "change", "bind", ...
    device: UdevDevice


class DeviceSource(Protocol):
    def enumerate(self) -> list[UdevDevice]:
        """Devices present now, in SUBSYSTEMS, sorted by node."""

    def poll(self, timeout: float) -> UdevEvent | None:
        """The next hotplug event within `timeout` seconds, else None."""


def wanted(device: UdevDevice) -> bool:
    """Nodes discovery cares about: USB serial ports (built-in UARTs such as the console's
    ttyS0 are left alone), keyboard-like event nodes, USB printer-class nodes (lp)."""
    if device.subsystem == "tty":
        return device.usb or device.vendor_product is not None
    if device.subsystem == "input":
        return device.node.startswith("/dev/input/event") and device.keyboard
    if device.subsystem == "usbmisc":
        return os.path.basename(device.node).startswith("lp")
    return False


class PyudevSource:
    """The system's devices through pyudev (libudev); netlink monitor for hotplug."""

    def __init__(self) -> None:
        try:
            import pyudev

            self.context = pyudev.Context()
        except ImportError as exc:  # pyudev, or libudev.so.1 behind it, missing
            raise DeviceError(
                f"cannot ask udev what is plugged in: {exc}",
                fix="install libudev1 (Debian) and the pyudev package; or give "
                "--from-recording FILE",
            ) from exc
        self._pyudev = pyudev
        self._monitor: Any = None

    def enumerate(self) -> list[UdevDevice]:
        found = []
        for subsystem in SUBSYSTEMS:
            for raw in self.context.list_devices(subsystem=subsystem):
                if raw.device_node is None:
                    continue
                device = self._view(raw)
                if wanted(device):
                    found.append(device)
        return sorted(found, key=lambda d: d.node)

    def poll(self, timeout: float) -> UdevEvent | None:
        if self._monitor is None:
            self._monitor = self._pyudev.Monitor.from_netlink(self.context)
            for subsystem in SUBSYSTEMS:
                self._monitor.filter_by(subsystem)
            self._monitor.start()
        raw = self._monitor.poll(timeout=timeout)
        if raw is None or raw.device_node is None:
            return None
        device = self._view(raw)
        return UdevEvent(str(raw.action), device) if wanted(device) else None

    def _view(self, raw: Any) -> UdevDevice:
        props = {str(k): str(v) for k, v in raw.properties.items()}
        props.setdefault("SUBSYSTEM", str(raw.subsystem))
        props.setdefault("DEVNAME", str(raw.device_node))
        if props["SUBSYSTEM"] == "input" and raw.parent is not None:
            for key in ("NAME", "PHYS", "UNIQ"):
                value = raw.parent.properties.get(key)
                if value:
                    props.setdefault(key, str(value).strip('"'))
        usb = raw.find_parent("usb", "usb_device")
        if usb is not None:  # no udev database (a container): sysfs still knows the IDs
            attrs = usb.attributes
            props.setdefault("ID_BUS", "usb")
            for key, attr in (
                ("ID_VENDOR_ID", "idVendor"),
                ("ID_MODEL_ID", "idProduct"),
                ("ID_SERIAL_SHORT", "serial"),
            ):
                if key not in props and attr in attrs.available_attributes:
                    props[key] = attrs.asstring(attr)
        return UdevDevice(props)


class RecordedSource:
    """udev property dicts replayed: `{"devices": [PROPS...], "events": [{"action": ...,
    "device": PROPS}...]}`. `enumerate()` is the devices plus the events polled so far;
    `plug()` / `unplug()` add events, as the kernel does when a cable goes in or out."""

    def __init__(
        self, devices: Sequence[Mapping[str, str]] = (), events: Sequence[UdevEvent] = ()
    ) -> None:
        self._present = {d["DEVNAME"]: UdevDevice(dict(d)) for d in devices}
        self._pending = list(events)

    @classmethod
    def load(cls, path: Path, *, replay: bool = False) -> RecordedSource:
        """The recording at `path`; its events happened already unless `replay` (then
        `poll()` delivers them one by one, as hotplug)."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            devices = [_props(d) for d in data.get("devices", [])]
            events = [
                UdevEvent(str(e["action"]), UdevDevice(_props(e["device"])))
                for e in data.get("events", [])
            ]
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise DeviceError(
                f"cannot read the udev recording {path}: {exc}",
                where=str(path),
                fix='give a file written by `gateway devices record` ({"devices": [...]})',
            ) from exc
        source = cls(devices, events)
        if not replay:
            source.drain()
        return source

    def plug(self, props: Mapping[str, str]) -> None:
        self._pending.append(UdevEvent("add", UdevDevice(dict(props))))

    def unplug(self, node: str) -> None:
        gone = self._present.get(node) or UdevDevice({"DEVNAME": node})
        self._pending.append(UdevEvent("remove", gone))

    def poll(self, timeout: float) -> UdevEvent | None:
        if not self._pending:
            return None
        event = self._pending.pop(0)
        if event.action == "remove":
            self._present.pop(event.device.node, None)
        else:
            self._present[event.device.node] = event.device
        return event

    def drain(self) -> list[UdevEvent]:
        events = []
        while (event := self.poll(0)) is not None:
            events.append(event)
        return events

    def enumerate(self) -> list[UdevDevice]:
        return sorted((d for d in self._present.values() if wanted(d)), key=lambda d: d.node)


def _props(raw: Any) -> dict[str, str]:
    if not isinstance(raw, dict) or "DEVNAME" not in raw:
        raise ValueError("each device is an object of udev properties with DEVNAME")
    return {str(k): str(v) for k, v in raw.items()}


def recording(devices: list[UdevDevice]) -> dict[str, Any]:
    """What `gateway devices record` writes: a file `RecordedSource.load` replays."""
    return {"devices": [dict(d.properties) for d in devices]}
