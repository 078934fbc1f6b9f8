"""Settings for the devices room: which scanners, scales, card readers and printers the box
should claim, and how to talk to them. Part of the `[devices]` table of gateway.toml.

Owns only the shape and validation of `[devices]`; it opens nothing. Every section keeps
`extra="forbid"` so a misspelt key is reported instead of silently ignored.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DEVICE_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
VENDOR_PRODUCT = r"^[0-9a-fA-F]{4}:[0-9a-fA-F]{4}$"
LAYOUTS = ("us", "de", "fr")
SCALE_PROTOCOLS = ("toledo8217", "mtsics", "nci", "cas")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InputMatch(_Section):
    """How to recognise a keyboard-wedge device among /dev/input/event* nodes.

    Every key given must match (AND). `name` and `phys` are shell-style globs
    (`*Honeywell*`, `usb-0000:01:00.0-1.2*`), so two identical scanners can be told apart
    by the USB port they are plugged into.
    """

    vendor_product: str | None = Field(None, pattern=VENDOR_PRODUCT, description="e.g. 0c2e:0b61")
    name: str | None = None
    phys: str | None = None
    path: str | None = Field(
        None,
        description="a node path or glob, e.g. /dev/input/by-id/usb-MagTek_*-event-kbd: "
        "the node(s) it names are opened directly (the other keys are then not checked); "
        "a FIFO of input_event records (`gateway devices simulate card-reader`) is read "
        "like a node",
    )

    @model_validator(mode="after")
    def _something(self) -> InputMatch:
        if not (self.vendor_product or self.name or self.phys or self.path):
            raise ValueError(
                "give at least one of vendor_product, name, phys, path — an empty match "
                "would grab every keyboard"
            )
        return self


class SerialLine(_Section):
    """Serial line settings; None means "the protocol's default"."""

    port: str = Field(
        description="device path or glob, e.g. /dev/serial/by-id/usb-FTDI_*-if00-port0, or "
        "a USB identity usb:VID:PID[:SERIAL] (usb:0403:6001:A1B2C3); by-id paths and USB "
        "identities survive ttyUSB0 becoming ttyUSB1"
    )
    baudrate: int | None = Field(None, ge=300, le=921600)
    bytesize: Literal[7, 8] | None = None
    parity: Literal["N", "E", "O"] | None = None
    stopbits: Literal[1, 2] | None = None


class WedgeKeys(_Section):
    """Keyboard-wedge decoding shared by scanners and card readers."""

    layout: Literal["us", "de", "fr"] = Field(
        "us", description="the keyboard country the device is programmed for"
    )
    terminator: Literal["enter", "tab", "timeout"] = "enter"
    inter_key_timeout_ms: int = Field(
        100,
        ge=5,
        le=5000,
        description="gap that ends a scan (terminator=timeout) or drops a partial one",
    )
    max_length: int = Field(4096, ge=16, le=65536)
    grab: bool = Field(True, description="exclusive grab so scans do not reach the console")


class ScannerSettings(_Section):
    name: str = Field(pattern=DEVICE_NAME)
    kind: Literal["wedge", "serial"] = "wedge"
    match: InputMatch | None = None
    keys: WedgeKeys = Field(default_factory=WedgeKeys)
    serial: SerialLine | None = None
    framing: Literal["cr", "lf", "crlf", "any"] = Field(
        "any", description="serial scanners: what ends a scan (any = CR or LF)"
    )
    prefix: str = Field("", description="a fixed prefix the scanner adds, stripped")
    aim_ids: bool = Field(True, description="strip and report AIM identifiers like ]E0")

    @model_validator(mode="after")
    def _transport(self) -> ScannerSettings:
        if self.kind == "wedge" and self.match is None:
            raise ValueError(f"wedge scanner {self.name!r} needs a [match] table")
        if self.kind == "serial" and self.serial is None:
            raise ValueError(f"serial scanner {self.name!r} needs a [serial] table with port")
        return self


class ScaleSettings(_Section):
    name: str = Field(pattern=DEVICE_NAME)
    protocol: Literal["toledo8217", "mtsics", "nci", "cas"]
    serial: SerialLine
    reply_timeout_s: float = Field(1.0, gt=0, le=10, description="per request (NCI: 1 s)")
    retries: int = Field(2, ge=0, le=10, description="extra attempts after a timeout")
    poll_interval_s: float = Field(0.3, ge=0.05, le=10)
    capacity: Decimal | None = Field(None, gt=0, description="readings above are not priceable")
    unit: Literal["kg", "g", "lb"] | None = Field(
        None, description="8217 sends no unit: kg when 3 decimals, lb when 2, unless set"
    )
    mtsics_command: Literal["SI", "S"] = Field(
        "SI", description="SI answers at once (S D in motion); S waits for stability"
    )


class CardReaderSettings(_Section):
    name: str = Field(pattern=DEVICE_NAME)
    match: InputMatch
    keys: WedgeKeys = Field(default_factory=WedgeKeys)
    rfid_format: Literal["decimal", "hex"] = "decimal"
    rfid_byte_order: Literal["msb_first", "lsb_first"] = Field(
        "msb_first", description="lsb_first for readers that print a MIFARE UID little-endian"
    )
    rfid_uid_bytes: int = Field(4, ge=4, le=10)
    member_prefixes: list[str] = Field(default_factory=list)
    staff_prefixes: list[str] = Field(default_factory=list)


# A printer as a person types it on the command line: a host name or address, maybe a port.
BARE_PRINTER_ADDRESS = re.compile(r"^(?:[A-Za-z0-9][A-Za-z0-9.-]*|\[[0-9A-Fa-f:]+\])(?::\d{1,5})?$")


def printer_uri(text: str) -> str:
    """`text` as a printer uri: a uri stays as it is; a bare host or address, with or
    without a port (192.168.1.50, printer.local:9100), is a network printer on raw TCP
    (port 9100 unless given). Anything else is returned unchanged for the uri check to
    refuse with its example."""
    text = text.strip()
    if "://" not in text and BARE_PRINTER_ADDRESS.match(text):
        return f"tcp://{text}" if re.search(r":\d+$", text) else f"tcp://{text}:9100"
    return text


class PrinterSettings(_Section):
    name: str = Field(pattern=DEVICE_NAME)
    uri: str = Field(
        description="tcp://host:9100, serial:///dev/ttyUSB0?baudrate=19200, "
        "usb://04b8:0202, file:///dev/usb/lp0"
    )
    profile: str = Field("default", description="a file name in devices/profiles/ (no .json)")
    timeout_s: float = Field(3.0, gt=0, le=60)
    code_page: str | None = Field(None, description="force one code page, e.g. CP858")
    cjk: bool | None = Field(None, description="GB18030 output; None = what the profile says")
    drawer_pin: Literal[2, 5] = 2

    @field_validator("uri")
    @classmethod
    def _scheme(cls, value: str) -> str:
        if not re.match(r"^(tcp|serial|usb|file)://", value):
            raise ValueError(
                "printer uri must start with tcp://, serial://, usb:// or file:// "
                "(e.g. tcp://192.168.1.50:9100)"
            )
        return value


class DeviceSettings(_Section):
    """The `[devices]` table: one array of tables per role."""

    scanners: list[ScannerSettings] = Field(default_factory=list)
    scales: list[ScaleSettings] = Field(default_factory=list)
    card_readers: list[CardReaderSettings] = Field(default_factory=list)
    printers: list[PrinterSettings] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_names(self) -> DeviceSettings:
        seen: set[str] = set()
        for group in (self.scanners, self.scales, self.card_readers, self.printers):
            for device in group:
                if device.name in seen:
                    raise ValueError(
                        f"device name {device.name!r} is used twice; names must be unique"
                    )
                seen.add(device.name)
        return self
