"""The known-device table: USB vendor:product -> what the device probably is and how the box
would drive it, read from one reviewed data file (`devices/data/known_usb_devices.toml`,
sources in docs/devices.md), plus the names of everything else from the system's usb.ids.

Owns reading and validating that file and the lookups; pure apart from reading the two
files (passed in or found at their usual places). A lookup never opens a device.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal, cast

from devices.errors import DeviceError

TABLE = Path(__file__).parent / "data" / "known_usb_devices.toml"
# Where Debian's usbutils / usb.ids / hwdata put the database, newest layout first.
USB_IDS = (
    Path("/usr/share/hwdata/usb.ids"),
    Path("/usr/share/misc/usb.ids"),
    Path("/var/lib/usbutils/usb.ids"),
)
Kind = Literal["scanner", "printer", "scale", "card_reader", "serial_bridge"]
Driver = Literal["wedge", "serial", "escpos", "none"]
KINDS = ("scanner", "printer", "scale", "card_reader", "serial_bridge")
DRIVERS = ("wedge", "serial", "escpos", "none")
ROLES = ("scanner", "printer", "scale", "card_reader", "")
KEYS = {
    "usb", "title", "kind", "role", "driver", "protocol", "profile", "baudrate", "bytesize",
    "parity", "notes", "source", "uncertain",
}  # fmt: skip


@dataclass(frozen=True)
class KnownDevice:
    usb: str  # "vvvv:pppp" or "vvvv:*"
    title: str
    kind: Kind
    role: str  # "" when the box cannot tell
    driver: Driver
    source: str
    protocol: str | None = None
    profile: str | None = None
    baudrate: int | None = None
    bytesize: int | None = None
    parity: str | None = None
    notes: str = ""
    uncertain: bool = False

    @property
    def vendor_only(self) -> bool:
        return self.usb.endswith(":*")


class KnownDeviceTable:
    def __init__(self, devices: list[KnownDevice]) -> None:
        self.devices = devices
        self._exact = {d.usb: d for d in devices if not d.vendor_only}
        self._vendor = {d.usb[:4]: d for d in devices if d.vendor_only}

    def lookup(self, vendor_product: str) -> KnownDevice | None:
        """The entry for "vvvv:pppp", else its maker's "vvvv:*" entry, else None."""
        key = vendor_product.lower()
        return self._exact.get(key) or self._vendor.get(key[:4])


def parse_table(text: str, where: str = str(TABLE)) -> KnownDeviceTable:
    """Validate the table; a bad entry is a `DeviceError` naming it (a test loads the file)."""
    from devices.scale_protocols import PROTOCOLS

    data = tomllib.loads(text)
    devices: list[KnownDevice] = []
    seen: set[str] = set()
    for number, raw in enumerate(data.get("device", []), start=1):
        entry = f"{where}: [[device]] #{number} ({raw.get('usb', '?')})"
        unknown = set(raw) - KEYS
        problems = [f"unknown key(s) {sorted(unknown)}"] if unknown else []
        usb = str(raw.get("usb", ""))
        vid, _, pid = usb.partition(":")
        if not (_hex4(vid) and (pid == "*" or _hex4(pid))) or usb != usb.lower():
            problems.append("usb must be lower-case 'vvvv:pppp' or 'vvvv:*'")
        if usb in seen:
            problems.append("listed twice")
        if raw.get("kind") not in KINDS:
            problems.append(f"kind must be one of {', '.join(KINDS)}")
        if raw.get("role", "") not in ROLES:
            problems.append("role must be scanner, printer, scale, card_reader or ''")
        if raw.get("driver") not in DRIVERS:
            problems.append(f"driver must be one of {', '.join(DRIVERS)}")
        if not raw.get("title") or not raw.get("source"):
            problems.append("title and source are required (where does the ID come from?)")
        if raw.get("protocol") is not None and raw["protocol"] not in PROTOCOLS:
            problems.append(f"protocol must be one of {', '.join(PROTOCOLS)}")
        if problems:
            raise DeviceError(
                f"{entry}: {'; '.join(problems)}",
                where=where,
                fix="correct the entry (keys are described at the top of the file)",
            )
        seen.add(usb)
        devices.append(
            KnownDevice(
                usb=usb,
                title=str(raw["title"]),
                kind=cast(Kind, raw["kind"]),
                role=str(raw.get("role", "")),
                driver=cast(Driver, raw["driver"]),
                source=str(raw["source"]),
                protocol=raw.get("protocol"),
                profile=raw.get("profile"),
                baudrate=raw.get("baudrate"),
                bytesize=raw.get("bytesize"),
                parity=raw.get("parity"),
                notes=str(raw.get("notes", "")),
                uncertain=bool(raw.get("uncertain", False)),
            )
        )
    return KnownDeviceTable(devices)


def _hex4(text: str) -> bool:
    return len(text) == 4 and all(c in "0123456789abcdef" for c in text)


@cache
def known_devices() -> KnownDeviceTable:
    return parse_table(TABLE.read_text(encoding="utf-8"))


# -- usb.ids ------------------------------------------------------------------------------
class UsbIds:
    """Vendor and product names from a usb.ids file (`vvvv  Name` / `<TAB>pppp  Name`)."""

    def __init__(self, text: str = "") -> None:
        self.vendors: dict[str, str] = {}
        self.products: dict[str, str] = {}
        vendor = None
        for line in text.splitlines():
            if not line or line.startswith("#"):
                continue
            if line.startswith("C ") or line.startswith("AT "):
                break  # device classes and later sections: not vendors any more
            if line[0] != "\t":
                vendor = line[:4].lower()
                self.vendors[vendor] = line[6:].strip()
            elif line[1] != "\t" and vendor is not None:
                self.products[f"{vendor}:{line[1:5].lower()}"] = line[7:].strip()

    def name(self, vendor_product: str) -> str | None:
        key = vendor_product.lower()
        vendor = self.vendors.get(key[:4])
        if vendor is None:
            return None
        product = self.products.get(key)
        return f"{vendor} {product}" if product else f"{vendor} (product {key[5:]} not listed)"


@cache
def system_usb_ids() -> UsbIds:
    """The first usb.ids of USB_IDS that exists; empty (no names) when none is installed."""
    for path in USB_IDS:
        if path.is_file():
            return UsbIds(path.read_text(encoding="utf-8", errors="replace"))
    return UsbIds()
