"""Receipt printers through python-escpos: USB, serial and raw TCP 9100, one adapter.

Owns printer URIs, capability profiles (`profiles/printer-<name>.json`, layered on
python-escpos' escpos-printer-db profile named in it), status queries, drawer kick, cut,
CJK text and the offline / paper-out states. The lane renders receipts itself into ESC/POS
bytes (`new_receipt(profile)` gives it a python-escpos `Dummy` configured for the model)
and hands them to `ReceiptPrinter.print_bytes`.

Every operation is bounded by the configured timeout: connect, write and status reads all
run with socket / serial timeouts, so "printer offline" is an error after `timeout`
seconds, never a hang [ESCPOS-PRINTERS] (python-escpos' Network default is 60 s).
"""

from __future__ import annotations

import contextlib
import functools
import re
import select
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import serial
from escpos import printer as escpos_printer
from escpos.exceptions import DeviceNotFoundError
from pydantic import BaseModel, ConfigDict, ValidationError

from devices.errors import PrinterNotReady, PrinterOffline, ProfileError
from devices.events import Clock, DeviceState, DeviceStateEvent, EventSink, Role, utc_now
from devices.printer_status import QUERIES, PrinterStatus, decode_status, query
from devices.profile_files import profile_location, profile_names, read_profile

FS_CHINESE_ON, FS_CHINESE_OFF = b"\x1c\x26", b"\x1c\x2e"  # [SP91][SPRT-SP]
CJK = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f]")


class PrinterProfile(BaseModel):
    """A model's capabilities: ours on top of python-escpos' profile `escpos_profile`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    title: str
    escpos_profile: str
    status_query: bool
    cjk: bool
    drawer: bool
    cutter: bool
    notes: str = ""
    source: str = ""

    @property
    def columns(self) -> int:
        from escpos.capabilities import get_profile

        return int(get_profile(self.escpos_profile).get_columns("a"))


def available_profiles() -> list[str]:
    return profile_names("printer")


@cache
def load_printer_profile(name: str) -> PrinterProfile:
    data = read_profile("printer", name, "printer profile")
    try:
        profile = PrinterProfile.model_validate(data)
    except ValidationError as exc:
        raise ProfileError(
            f"invalid printer profile: {exc}", where=profile_location("printer", name)
        ) from exc
    from escpos.capabilities import CAPABILITIES

    if profile.escpos_profile not in CAPABILITIES["profiles"]:
        raise ProfileError(
            f"python-escpos has no profile {profile.escpos_profile!r}",
            where=profile_location("printer", name),
            fix="use a name from escpos-printer-db (e.g. TM-T88V, POS-5890, default)",
        )
    return profile


# -- text and receipts (pure) -----------------------------------------------------------
def new_receipt(profile: PrinterProfile, code_page: str | None = None) -> escpos_printer.Dummy:
    """A python-escpos Dummy for the lane to render into; `.output` is what to print.

    `code_page` forces one code page (e.g. "CP858" for the euro sign) instead of
    python-escpos' per-character guess.
    """
    dummy = escpos_printer.Dummy(profile=profile.escpos_profile)
    if code_page:
        dummy.charcode(code_page)
    return dummy


def encode_text(text: str, profile: PrinterProfile, *, code_page: str | None = None) -> bytes:
    """Text as ESC/POS bytes for this model.

    CJK-capable profiles: wrapped in Chinese mode (`FS &` ... `FS .`) and encoded GB18030,
    which prints ASCII unchanged [SPRT-POS76][SP91]; python-escpos would send GB18030 without
    `FS &` [ESCPOS-MAGIC]. Other profiles: python-escpos' code-page "magic encode"; CJK
    characters they cannot print become '?' instead of GB18030 bytes printed as garbage.
    """
    if profile.cjk and CJK.search(text):
        return FS_CHINESE_ON + text.encode("gb18030", errors="replace") + FS_CHINESE_OFF
    dummy = new_receipt(profile, code_page)
    dummy.text(CJK.sub("?", text))
    # Chinese firmware powers up in Chinese mode and would read bytes >= 0x80 as halves of
    # GB18030 characters: leave Chinese mode before code-page text [SP91].
    leave = FS_CHINESE_OFF if profile.cjk and not text.isascii() else b""
    return leave + bytes(dummy.output)


# -- addresses ----------------------------------------------------------------------------
@dataclass(frozen=True)
class PrinterAddress:
    scheme: str
    target: str
    options: dict[str, str]

    def describe(self) -> str:
        return f"{self.scheme}://{self.target}"


def parse_printer_uri(uri: str) -> PrinterAddress:
    parts = urlsplit(uri)
    options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    if parts.scheme == "tcp" and parts.hostname:
        return PrinterAddress("tcp", f"{parts.hostname}:{parts.port or 9100}", options)
    if parts.scheme in ("serial", "file") and parts.path:
        return PrinterAddress(parts.scheme, parts.path, options)
    if parts.scheme == "usb" and re.fullmatch(r"[0-9a-fA-F]{4}:[0-9a-fA-F]{4}", parts.netloc):
        return PrinterAddress("usb", parts.netloc.lower(), options)
    raise PrinterOffline(
        f"cannot use printer address {uri!r}",
        fix="write tcp://HOST:9100, serial:///dev/ttyUSB0?baudrate=19200, usb://04b8:0202 "
        "or file:///dev/usb/lp0",
    )


def _escpos_device(address: PrinterAddress, profile: str, timeout: float) -> Any:
    opts = address.options
    if address.scheme == "tcp":
        host, _, port = address.target.rpartition(":")
        return escpos_printer.Network(host, int(port), timeout=timeout, profile=profile)
    if address.scheme == "serial":
        return escpos_printer.Serial(
            address.target,
            baudrate=int(opts.get("baudrate", 9600)),
            bytesize=int(opts.get("bytesize", 8)),
            parity=opts.get("parity", "N"),
            stopbits=int(opts.get("stopbits", 1)),
            xonxoff=opts.get("xonxoff", "0") == "1",
            dsrdtr=opts.get("dsrdtr", "0") == "1",
            timeout=timeout,
            profile=profile,
        )
    if address.scheme == "usb":
        if not escpos_printer.Usb.is_usable():
            raise PrinterOffline(
                "USB printers need pyusb, which is not installed",
                where=address.describe(),
                fix="pip install pyusb (and libusb-1.0), or use the kernel's usblp node: "
                "file:///dev/usb/lp0",
            )
        vid, pid = (int(x, 16) for x in address.target.split(":"))
        return escpos_printer.Usb(
            vid,
            pid,
            timeout=int(timeout * 1000),
            in_ep=int(opts.get("in_ep", "0x82"), 0),
            out_ep=int(opts.get("out_ep", "0x01"), 0),
            profile=profile,
        )
    return escpos_printer.File(address.target, profile=profile)


# -- the adapter --------------------------------------------------------------------------
R = TypeVar("R")


def _serialised(method: Callable[..., R]) -> Callable[..., R]:
    @functools.wraps(method)
    def locked(self: ReceiptPrinter, *args: Any, **kwargs: Any) -> R:
        with self._lock:
            return method(self, *args, **kwargs)

    return locked


class ReceiptPrinter:
    """One printer. Methods raise `PrinterOffline` / `PrinterNotReady`; state changes also
    go to `sink` as DeviceStateEvents when one is given."""

    def __init__(
        self,
        name: str,
        uri: str,
        profile: PrinterProfile | str = "default",
        *,
        timeout: float = 3.0,
        status_timeout: float | None = None,
        drawer_pin: int = 2,
        code_page: str | None = None,
        cjk: bool | None = None,
        clock: Clock = utc_now,
        sink: EventSink | None = None,
    ) -> None:
        self.name = name
        self.address = parse_printer_uri(uri)
        profile = load_printer_profile(profile) if isinstance(profile, str) else profile
        self.profile = profile if cjk is None else profile.model_copy(update={"cjk": cjk})
        self.code_page = code_page
        self.timeout = timeout
        self.status_timeout = status_timeout if status_timeout is not None else min(timeout, 0.5)
        self.drawer_pin = drawer_pin
        self.clock = clock
        self.sink = sink
        self._device: Any = None
        self._state: str | None = None
        # One conversation at a time: the daemon's status poll and the lane's print job
        # must not read each other's status bytes.
        self._lock = threading.RLock()

    # -- rendering helpers for the lane ----------------------------------------------------
    def new_receipt(self) -> escpos_printer.Dummy:
        """A Dummy configured for this printer's model and code page."""
        return new_receipt(self.profile, self.code_page)

    def encode_text(self, text: str) -> bytes:
        """`text` as bytes this printer prints correctly (CJK per its profile)."""
        return encode_text(text, self.profile, code_page=self.code_page)

    # -- connection ----------------------------------------------------------------------
    def open(self) -> None:
        if self._device is not None:
            return
        device = _escpos_device(self.address, self.profile.escpos_profile, self.timeout)
        try:
            device.open()
        except (DeviceNotFoundError, OSError, serial.SerialException) as exc:
            self._offline(f"cannot connect: {exc}".replace("\n", " "))
        self._device = device

    def close(self) -> None:
        if self._device is not None:
            with contextlib.suppress(Exception):  # closing a dead link must never raise
                self._device.close()
            self._device = None

    def __enter__(self) -> ReceiptPrinter:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- operations ------------------------------------------------------------------------
    @_serialised
    def status(self) -> PrinterStatus:
        """DLE EOT 1, 2, 4; stops asking after the first unanswered query."""
        self.open()
        replies: dict[int, int] = {}
        if self.profile.status_query:
            self._drain()
            for n in QUERIES:
                byte = self._ask(n)
                if byte is None:
                    break
                replies[n] = byte
        result = decode_status(replies)
        self._report(result.state.value if result.answered else "connected", result.describe())
        return result

    @_serialised
    def print_bytes(self, data: bytes, *, check_status: bool = True) -> PrinterStatus | None:
        """Send rendered ESC/POS bytes; refuses (PrinterNotReady) when the printer says it
        cannot print (paper out, cover open, error)."""
        status = self.status() if check_status else None
        if status is not None and not status.can_print:
            raise PrinterNotReady(
                f"printer {self.name}: {status.describe()}",
                where=self.address.describe(),
                fix="load paper / close the cover, then print again",
            )
        self._write(data)
        return status

    @_serialised
    def kick_drawer(self, pin: int | None = None) -> None:
        """ESC p m t1 t2 on pin 2 or 5, 100 ms pulse (python-escpos defaults) [EPSON-U295]."""
        self.open()
        self._call(lambda: self._device.cashdraw(pin or self.drawer_pin))

    @_serialised
    def cut(self, partial: bool = False) -> None:
        self.open()
        self._call(lambda: self._device.cut(mode="PART" if partial else "FULL"))

    @_serialised
    def print_test_page(self, lines: list[str] | None = None) -> PrinterStatus:
        """A short page naming the printer, its profile and its status; `PrinterNotReady`
        (nothing sent) when the printer says it cannot print."""
        status = self.status()
        if not status.can_print:
            raise PrinterNotReady(
                f"printer {self.name}: {status.describe()}; test page not sent",
                where=self.address.describe(),
                fix="load paper / close the cover, then print again",
            )
        receipt = self.new_receipt()
        receipt.hw("INIT")
        receipt.set(align="center", bold=True, double_height=True, double_width=True)
        receipt.textln("storegate")
        receipt.set_with_default()
        for line in [
            f"printer: {self.name}",
            f"address: {self.address.describe()}",
            f"profile: {self.profile.name} ({self.profile.title})",
            f"columns: {self.profile.columns}",
            f"status:  {status.describe()}",
            "-" * self.profile.columns,
            "ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789",
            *(lines or []),
        ]:
            receipt.textln(line)
        if self.profile.cjk:
            receipt._raw(self.encode_text("中文测试 GB18030\n"))
        receipt.cut()
        self.print_bytes(bytes(receipt.output), check_status=False)
        return status

    # -- internals ------------------------------------------------------------------------
    def _write(self, data: bytes) -> None:
        self.open()
        self._call(lambda: self._device._raw(data))

    def _call(self, action: Any) -> None:
        try:
            action()
        except (OSError, serial.SerialException, DeviceNotFoundError) as exc:
            self.close()
            self._offline(f"write failed: {exc}".replace("\n", " "))

    def _ask(self, n: int) -> int | None:
        self._call(lambda: self._device._raw(query(n)))
        data = self._read_byte(self.status_timeout)
        return data[0] if data else None

    def _read_byte(self, timeout: float) -> bytes:
        """One byte if it arrives within `timeout` (0: only if already there)."""
        handle = self._handle()
        try:
            if handle is None:
                return self._read_usb() if timeout > 0 else b""
            ready, _, _ = select.select([handle], [], [], max(timeout, 0.0))
            if not ready:
                return b""
            if isinstance(handle, socket.socket):
                data = handle.recv(1)
                if not data:
                    self.close()
                    self._offline("the printer closed the connection")
                return data
            return bytes(handle.read(1))
        except (OSError, serial.SerialException) as exc:
            self.close()
            self._offline(f"read failed: {exc}")
        return b""  # unreachable: _offline raises

    def _read_usb(self) -> bytes:
        """python-escpos' Usb reads from the IN endpoint with its own timeout (ms)."""
        if isinstance(self._device, escpos_printer.Usb):
            return bytes(self._device._read())[:1]
        return b""  # file:// printers are write-only

    def _drain(self) -> None:
        """Forget late replies to earlier queries so they are not taken for this one."""
        while self._read_byte(0.0):
            pass

    def _handle(self) -> Any:
        device = getattr(self._device, "device", None)
        if isinstance(device, socket.socket | serial.Serial):
            return device
        return None  # USB and file printers: write-only here

    def _offline(self, detail: str) -> None:
        self._report("offline", detail)
        raise PrinterOffline(
            f"printer {self.name} is offline: {detail}",
            where=self.address.describe(),
            fix="check power, cable / network and the address; TCP printers listen on 9100",
        )

    def _report(self, state: str, detail: str) -> None:
        if state != self._state:
            self._state = state
            if self.sink is not None:
                self.sink(
                    DeviceStateEvent(
                        self.name, Role.PRINTER, DeviceState(state), detail, self.clock()
                    )
                )
