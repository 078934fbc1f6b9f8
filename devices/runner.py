"""Builds the configured drivers from `[devices]` settings and runs them until stopped.

Owns the wiring only: settings -> decoder + adapter per device, one thread per device
loop (each loop waits in select()/stop.wait, never in sleep), one shared sink. The daemon
and `gateway devices watch` both use it; the lane consumes the sink.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from devices.cards import CardLineDecoder, WedgeCardDecoder
from devices.errors import DeviceError
from devices.events import Clock, EventSink, Role, utc_now
from devices.inputs import WedgeInput
from devices.keymaps import load_keymap
from devices.scale_driver import ScaleMonitor, SerialScale
from devices.scanner import WedgeScanDecoder
from devices.serial_scanner import SerialScanner
from devices.settings import (
    CardReaderSettings,
    DeviceSettings,
    PrinterSettings,
    ScaleSettings,
    ScannerSettings,
)

if TYPE_CHECKING:  # python-escpos (with PIL, qrcode, its capability database) costs ~8 MB:
    from devices.printer import ReceiptPrinter  # imported only when a printer is configured


@dataclass(frozen=True)
class DeviceLoop:
    name: str
    role: Role
    run: Callable[[threading.Event], None]


class PrinterMonitor:
    """Asks a printer for its status every `interval` seconds; the printer reports changes."""

    def __init__(self, printer: ReceiptPrinter, interval: float = 5.0) -> None:
        self.printer = printer
        self.interval = interval

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.printer.status()
            except DeviceError:
                self.printer.close()  # the offline state was reported; retry next round
            stop.wait(self.interval)
        self.printer.close()


def scanner_loop(s: ScannerSettings, sink: EventSink, clock: Clock) -> DeviceLoop:
    if s.kind == "serial":
        assert s.serial is not None
        scanner = SerialScanner(
            s.name,
            s.serial.port,
            sink,
            baudrate=s.serial.baudrate or 9600,
            bytesize=s.serial.bytesize or 8,
            parity=s.serial.parity or "N",
            stopbits=s.serial.stopbits or 1,
            framing=s.framing,
            prefix=s.prefix,
            aim_ids=s.aim_ids,
            max_length=s.keys.max_length,
            clock=clock,
        )
        return DeviceLoop(s.name, Role.SCANNER, scanner.run)
    assert s.match is not None
    decoder = WedgeScanDecoder(
        s.name,
        clock,
        load_keymap(s.keys.layout),
        terminator=s.keys.terminator,
        inter_key_timeout=s.keys.inter_key_timeout_ms / 1000,
        max_length=s.keys.max_length,
        prefix=s.prefix,
        aim_ids=s.aim_ids,
    )
    wedge = WedgeInput(s.name, Role.SCANNER, s.match, decoder, sink, grab=s.keys.grab, clock=clock)
    return DeviceLoop(s.name, Role.SCANNER, wedge.run)


def scale_loop(s: ScaleSettings, sink: EventSink, clock: Clock) -> DeviceLoop:
    scale = SerialScale(
        s.name,
        s.protocol,
        s.serial.port,
        baudrate=s.serial.baudrate,
        bytesize=s.serial.bytesize,
        parity=s.serial.parity,
        stopbits=s.serial.stopbits,
        reply_timeout=s.reply_timeout_s,
        retries=s.retries,
        unit=s.unit,
        mtsics_command=s.mtsics_command,
        capacity=s.capacity,
        clock=clock,
    )
    monitor = ScaleMonitor(scale, sink, poll_interval=s.poll_interval_s)
    return DeviceLoop(s.name, Role.SCALE, monitor.run)


def card_reader_loop(c: CardReaderSettings, sink: EventSink, clock: Clock) -> DeviceLoop:
    lines = CardLineDecoder(
        c.name,
        clock,
        rfid_format=c.rfid_format,
        rfid_byte_order=c.rfid_byte_order,
        rfid_uid_bytes=c.rfid_uid_bytes,
        member_prefixes=tuple(c.member_prefixes),
        staff_prefixes=tuple(c.staff_prefixes),
    )
    decoder = WedgeCardDecoder(
        lines,
        load_keymap(c.keys.layout),
        terminator=c.keys.terminator,
        inter_key_timeout=c.keys.inter_key_timeout_ms / 1000,
        max_length=min(c.keys.max_length, 512),
    )
    wedge = WedgeInput(
        c.name, Role.CARD_READER, c.match, decoder, sink, grab=c.keys.grab, clock=clock
    )
    return DeviceLoop(c.name, Role.CARD_READER, wedge.run)


def printer_for(
    p: PrinterSettings, sink: EventSink | None = None, clock: Clock = utc_now
) -> ReceiptPrinter:
    from devices.printer import ReceiptPrinter

    return ReceiptPrinter(
        p.name,
        p.uri,
        p.profile,
        timeout=p.timeout_s,
        drawer_pin=p.drawer_pin,
        code_page=p.code_page,
        cjk=p.cjk,
        clock=clock,
        sink=sink,
    )


def device_loops(
    settings: DeviceSettings, sink: EventSink, clock: Clock = utc_now
) -> list[DeviceLoop]:
    loops = [scanner_loop(s, sink, clock) for s in settings.scanners]
    loops += [scale_loop(s, sink, clock) for s in settings.scales]
    loops += [card_reader_loop(c, sink, clock) for c in settings.card_readers]
    loops += [
        DeviceLoop(p.name, Role.PRINTER, PrinterMonitor(printer_for(p, sink, clock)).run)
        for p in settings.printers
    ]
    return loops


class DeviceRunner:
    """Starts each loop in its own thread; `stop()` ends them all within about a second."""

    def __init__(self, loops: list[DeviceLoop]) -> None:
        self.loops = loops
        self.stop_event = threading.Event()
        self.threads: list[threading.Thread] = []

    def start(self) -> DeviceRunner:
        for loop in self.loops:
            thread = threading.Thread(
                target=loop.run,
                args=(self.stop_event,),
                name=f"{loop.role.value} {loop.name}",
                daemon=True,
            )
            thread.start()
            self.threads.append(thread)
        return self

    def stop(self, timeout: float = 3.0) -> None:
        self.stop_event.set()
        for thread in self.threads:
            thread.join(timeout=timeout)
