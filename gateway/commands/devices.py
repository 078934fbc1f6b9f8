"""`gateway devices ...`: the technician's commands (list, watch, scale, print-test,
simulate). Owns argument parsing and printing only; everything it does goes through the
drivers and simulators of the `devices` package, so what works here works in the daemon.
It lives with the box's commands because it reads the box's settings: `devices` itself
imports nothing of the box but its error types (an import-linter contract).

Errors a person can fix are `StoregateError`s (printed without traceback by gateway.cli).
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from devices.errors import DeviceError, PrinterNotReady
from devices.events import DeviceEvent, describe, utc_now
from devices.profile_files import profile_names
from devices.scale_protocols import PROTOCOLS
from devices.settings import (
    DeviceSettings,
    PrinterSettings,
    ScaleSettings,
    ScannerSettings,
    SerialLine,
    printer_uri,
)
from gateway.errors import UsageError


def register(sub: Any) -> None:
    devices = sub.add_parser("devices", help="scanners, scales, card readers and printers")
    actions = devices.add_subparsers(dest="devices_command", metavar="ACTION", required=True)

    p = actions.add_parser("list", help="what is connected, which role it plays, and why not")
    _config_arg(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_list)

    p = actions.add_parser("watch", help="print decoded events live until Ctrl-C")
    _config_arg(p)
    p.add_argument("--scale", metavar="PORT", help="also watch a scale on PORT (needs --protocol)")
    p.add_argument("--protocol", choices=sorted(PROTOCOLS), help="protocol of --scale")
    p.add_argument("--serial-scanner", metavar="PORT", help="also watch a serial scanner on PORT")
    p.add_argument("--printer", metavar="URI", help="also watch a printer's status")
    p.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    p.set_defaults(func=cmd_watch)

    p = actions.add_parser("scale", help="take one reading from a scale")
    p.add_argument("--port", required=True, help="serial port, e.g. /dev/ttyUSB0")
    p.add_argument(
        "--protocol", required=True, choices=sorted(PROTOCOLS), help="the scale's protocol"
    )
    p.add_argument("--baud", type=int, help="baud rate (default: the protocol's)")
    p.add_argument("--parity", choices=["N", "E", "O"], help="parity (default: the protocol's)")
    p.add_argument(
        "--bytesize", type=int, choices=[7, 8], help="data bits (default: the protocol's)"
    )
    p.add_argument("--timeout", type=float, default=1.0, help="reply timeout in seconds (1)")
    p.add_argument(
        "--retries", type=int, default=1, help="requests again when no reply (default 1)"
    )
    p.add_argument("--zero", action="store_true", help="send the zero command first")
    p.add_argument("--json", action="store_true", help="print the reading as JSON")
    p.set_defaults(func=cmd_scale)

    p = actions.add_parser("print-test", help="print a test page with the printer's status")
    _config_arg(p)
    p.add_argument(
        "--printer",
        metavar="URI",
        help="HOST[:PORT] (network, 9100), tcp://HOST:9100, serial:///dev/ttyUSB0 ...",
    )
    p.add_argument("--profile", default=None, help=f"one of {', '.join(profile_names('printer'))}")
    p.add_argument("--timeout", type=float, default=3.0, help="seconds to wait (default 3)")
    p.add_argument("--kick", action="store_true", help="also open the cash drawer")
    p.set_defaults(func=cmd_print_test)

    p = actions.add_parser("simulate", help="run a simulated device for bench work")
    kinds = p.add_subparsers(dest="simulated", metavar="DEVICE", required=True)
    s = kinds.add_parser("scale", help="a scale on a pseudo-terminal")
    s.add_argument("--protocol", required=True, choices=sorted(PROTOCOLS), help="protocol to speak")
    s.add_argument(
        "--mode",
        default="stable",
        help="stable, motion, zero, under_zero, "
        "over_capacity, error, garbage, wrong_protocol, silent, partial",
    )
    s.add_argument("--weight", default="1.234", help="weight it reports (default 1.234)")
    s.add_argument("--unit", default="kg", help="unit it reports (default kg)")
    s.add_argument("--link", metavar="PATH", help="also create a symlink PATH to the pty")
    s.add_argument("--duration", type=float, help="seconds to run (default: until Ctrl-C)")
    s.set_defaults(func=cmd_simulate_scale)
    s = kinds.add_parser("printer", help="a network receipt printer that keeps what it gets")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on")
    s.add_argument("--port", type=int, default=9100, help="port to listen on (default 9100)")
    s.add_argument("--paper-out", action="store_true", help="report paper out")
    s.add_argument("--cover-open", action="store_true", help="report the cover open")
    s.add_argument("--silent", action="store_true", help="never answer status queries")
    s.add_argument("--output", metavar="FILE", help="append everything received to FILE")
    s.add_argument("--duration", type=float, help="seconds to run (default: until Ctrl-C)")
    s.set_defaults(func=cmd_simulate_printer)
    s = kinds.add_parser("scanner", help="a serial barcode scanner on a pseudo-terminal")
    s.add_argument("codes", nargs="*", default=["]E04006381333931"], help="codes to scan")
    s.add_argument(
        "--suffix", choices=["cr", "lf", "crlf"], default="cr", help="end of each code (default cr)"
    )
    s.add_argument("--interval", type=float, default=1.0, help="seconds between scans")
    s.add_argument("--link", metavar="PATH", help="also link the pty at PATH")
    s.add_argument("--duration", type=float, help="seconds to run (default: until Ctrl-C)")
    s.set_defaults(func=cmd_simulate_scanner)
    s = kinds.add_parser(
        "wedge",
        help="show the key events a wedge scanner sends for TEXT, and what a layout reads",
        description="No hardware needed: types TEXT as a scanner programmed for --layout "
        "would (real evdev InputEvents), then decodes them with --read-as. Shows the "
        "classic wrong-layout fault before it happens in the shop.",
    )
    s.add_argument("text", help="what the wedge types")
    s.add_argument("--layout", default="us", help="the scanner's keyboard country")
    s.add_argument("--read-as", default=None, help="the box's layout (default: --layout)")
    s.add_argument("--events", action="store_true", help="also print every key event")
    s.set_defaults(func=cmd_simulate_wedge)


def _config_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", metavar="PATH", help="settings file (default /etc/storegate/gateway.toml)"
    )


def _device_settings(args: argparse.Namespace) -> DeviceSettings:
    from gateway.settings import load_settings

    return load_settings(getattr(args, "config", None)).devices


# -- list -------------------------------------------------------------------------------
def cmd_list(args: argparse.Namespace) -> int:
    from devices.discovery import list_input_devices, list_serial_ports, match_devices

    settings = _device_settings(args)
    claims, missing = match_devices(settings, list_input_devices(), list_serial_ports())
    if args.json:
        print(
            json.dumps(
                {
                    "devices": [
                        {
                            "kind": c.kind,
                            "path": c.path,
                            "summary": c.summary,
                            "role": c.role.value if c.role else None,
                            "name": c.device,
                            "why_not": list(c.why_not),
                        }
                        for c in claims
                    ],
                    "missing": [
                        {"role": m.role.value, "name": m.device, "wanted": m.wanted}
                        for m in missing
                    ],
                    "printers": [
                        {"name": p.name, "uri": p.uri, "profile": p.profile}
                        for p in settings.printers
                    ],
                },
                indent=2,
            )
        )
        return 0
    for kind, title in (("input", "Input devices (evdev)"), ("serial", "Serial ports")):
        print(f"{title}:")
        rows = [c for c in claims if c.kind == kind]
        if not rows:
            hint = " (is the user in group 'input'?)" if kind == "input" else ""
            print(f"  none found{hint}")
        for claim in rows:
            print(f"  {claim.summary}")
            if claim.role is not None:
                print(f"    -> {claim.role.value} {claim.device!r}")
            else:
                for reason in claim.why_not or ("not claimed",):
                    print(f"    not claimed: {reason}")
    if settings.printers:
        print("Printers (configured; `gateway devices print-test` checks them):")
        for p in settings.printers:
            print(f"  {p.name}: {p.uri} profile={p.profile}")
    if missing:
        print("Configured but not present:")
        for m in missing:
            print(f"  {m.role.value} {m.device!r}: no {m.wanted}")
    return 0


# -- watch ------------------------------------------------------------------------------
def cmd_watch(args: argparse.Namespace) -> int:
    from devices.runner import DeviceRunner, device_loops

    settings = _device_settings(args)
    extra = _adhoc_settings(args)
    settings = DeviceSettings(
        scanners=[*settings.scanners, *extra.scanners],
        scales=[*settings.scales, *extra.scales],
        card_readers=settings.card_readers,
        printers=[*settings.printers, *extra.printers],
    )
    events: queue.Queue[DeviceEvent] = queue.Queue()
    loops = device_loops(settings, events.put)
    if not loops:
        raise UsageError(
            "nothing to watch: no devices configured",
            fix="configure [devices] or pass --scale/--serial-scanner/--printer",
        )
    print(
        f"watching {len(loops)} device(s): {', '.join(loop.name for loop in loops)}; Ctrl-C stops",
        flush=True,
    )
    runner = DeviceRunner(loops).start()
    deadline = time.monotonic() + args.duration if args.duration else None
    try:
        while deadline is None or time.monotonic() < deadline:
            try:
                event = events.get(timeout=0.1)
            except queue.Empty:
                continue
            print(describe(event), flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        runner.stop()
    return 0


def _adhoc_settings(args: argparse.Namespace) -> DeviceSettings:
    scales, scanners, printers = [], [], []
    if args.scale:
        if not args.protocol:
            raise UsageError("--scale needs --protocol", fix=f"one of {', '.join(PROTOCOLS)}")
        scales.append(
            ScaleSettings(name="scale", protocol=args.protocol, serial=SerialLine(port=args.scale))
        )
    if args.serial_scanner:
        scanners.append(
            ScannerSettings(
                name="scanner", kind="serial", serial=SerialLine(port=args.serial_scanner)
            )
        )
    if args.printer:
        printers.append(_printer_option(args.printer, args.devices_command))
    return DeviceSettings(scales=scales, scanners=scanners, printers=printers)


# -- scale ------------------------------------------------------------------------------
def cmd_scale(args: argparse.Namespace) -> int:
    from devices.scale_driver import SerialScale

    scale = SerialScale(
        "scale",
        args.protocol,
        args.port,
        baudrate=args.baud,
        parity=args.parity,
        bytesize=args.bytesize,
        reply_timeout=args.timeout,
        retries=args.retries,
    )
    with scale:
        if args.zero:
            result = scale.zero()
            print(f"zero: {'done' if result.ok else 'refused'} ({result.detail})")
        reading = scale.read_weight()
    why = reading.why_not_priceable()
    if args.json:
        print(
            json.dumps(
                {
                    "weight": str(reading.weight) if reading.weight is not None else None,
                    "unit": reading.unit,
                    "status": reading.status.value,
                    "net": reading.net,
                    "detail": reading.detail,
                    "priceable": why is None,
                    "raw": reading.raw.decode("latin-1"),
                }
            )
        )
    else:
        weight = f"{reading.weight} {reading.unit}" if reading.weight is not None else "no weight"
        print(
            f"{weight}  status={reading.status.value}{'  net' if reading.net else ''}"
            f"{'  (' + reading.detail + ')' if reading.detail else ''}"
        )
        print(f"raw: {reading.raw!r}")
        print("priceable: yes" if why is None else f"priceable: no ({why})")
    return 0


def _printer_option(text: str, command: str, **settings: Any) -> PrinterSettings:
    """`--printer` as typed (a bare HOST[:PORT] is a network printer), or a usage error
    saying what to write."""
    try:
        return PrinterSettings(name="printer", uri=printer_uri(text), **settings)
    except ValidationError as exc:
        raise UsageError(
            f"--printer {text!r}: {exc.errors()[0]['msg']}",
            where=f"gateway devices {command}",
            fix="write HOST or HOST:PORT (network, port 9100), tcp://HOST:9100, "
            "serial:///dev/ttyUSB0, usb://VID:PID or file:///dev/usb/lp0",
        ) from None


# -- print-test -------------------------------------------------------------------------
def cmd_print_test(args: argparse.Namespace) -> int:
    if args.printer:
        targets = [
            _printer_option(
                args.printer,
                "print-test",
                profile=args.profile or "default",
                timeout_s=args.timeout,
            )
        ]
    else:
        targets = _device_settings(args).printers
        if not targets:
            raise UsageError(
                "no printer given", fix="pass --printer URI or configure [[devices.printers]]"
            )
    from devices.printer import ReceiptPrinter  # python-escpos: only for this command

    failures = 0
    for target in targets:
        printer = ReceiptPrinter(
            target.name,
            target.uri,
            args.profile or target.profile,
            timeout=target.timeout_s,
            drawer_pin=target.drawer_pin,
        )
        try:
            with printer:
                status = printer.print_test_page([f"printed {utc_now():%Y-%m-%d %H:%M:%S} UTC"])
                if args.kick:
                    printer.kick_drawer()
            print(
                f"{target.name}: test page sent to {printer.address.describe()}; "
                f"{status.describe()}"
            )
        except PrinterNotReady as exc:
            print(f"{target.name}: {exc.what}")  # reachable, but says it cannot print
            failures += 1
        except DeviceError as exc:
            if len(targets) == 1:
                raise
            print(f"{target.name}: {exc.describe()}", file=sys.stderr)
            failures += 1
    return 1 if failures else 0


# -- simulate ---------------------------------------------------------------------------
def _hold(duration: float | None, link: str | None, target: str) -> None:
    if link:
        path = Path(link)
        if path.is_symlink():
            path.unlink()
        path.symlink_to(target)
    try:
        stop = threading.Event()
        stop.wait(duration) if duration else _wait_forever()
    except KeyboardInterrupt:
        pass
    finally:
        if link and Path(link).is_symlink():
            os.unlink(link)


def _wait_forever() -> None:
    while True:
        time.sleep(3600)


def cmd_simulate_scale(args: argparse.Namespace) -> int:
    from devices.simulators.scale import MODES, ScaleSimulator

    if args.mode not in MODES:
        raise UsageError(f"unknown mode {args.mode!r}", fix=f"one of {', '.join(MODES)}")
    with ScaleSimulator(
        args.protocol, mode=args.mode, weight=Decimal(args.weight), unit=args.unit
    ) as sim:
        print(
            f"scale simulator: {PROTOCOLS[args.protocol].title}, {args.mode} "
            f"{args.weight} {args.unit}, on {sim.path}",
            flush=True,
        )
        print(
            f"try: gateway devices scale --port {args.link or sim.path} --protocol {args.protocol}",
            flush=True,
        )
        _hold(args.duration, args.link, sim.path)
    return 0


def cmd_simulate_printer(args: argparse.Namespace) -> int:
    from devices.simulators.printer import NetworkPrinterSimulator

    sim = NetworkPrinterSimulator(args.host, args.port)
    sim.flags |= {"paper_out"} if args.paper_out else set()
    sim.flags |= {"cover_open"} if args.cover_open else set()
    sim.silent = args.silent
    with sim:
        print(f"printer simulator listening on {sim.uri}", flush=True)
        try:
            _hold(args.duration, None, "")
        finally:
            if args.output:
                with open(args.output, "ab") as fh:
                    fh.write(sim.printed)
            print(
                f"received {len(sim.printed)} bytes of print data, {len(sim.queries)} status "
                "queries",
                flush=True,
            )
    return 0


def cmd_simulate_wedge(args: argparse.Namespace) -> int:
    from evdev import categorize, ecodes

    from devices.keymaps import load_keymap
    from devices.simulators.keystrokes import KeyScript
    from devices.wedge import KeyboardWedgeDecoder, WedgeLine

    typed_with = load_keymap(args.layout)
    read_with = load_keymap(args.read_as or args.layout)
    try:
        events = KeyScript().type_text(args.text, typed_with).events
    except ValueError as exc:
        raise UsageError(str(exc), fix="use characters the scanner's layout can type") from exc
    if args.events:
        for event in events:
            if event.type == ecodes.EV_KEY:
                print(f"  {categorize(event)}")
    decoder = KeyboardWedgeDecoder(read_with)
    lines = [o.text for e in events for o in decoder.feed(e) if isinstance(o, WedgeLine)]
    read = lines[0] if lines else ""
    verdict = "OK" if read == args.text else "MISMATCH: set keys.layout to the scanner's country"
    print(f"typed on {typed_with.layout}: {args.text!r}")
    print(f"read as  {read_with.layout}: {read!r}  {verdict}")
    return 0 if read == args.text else 1


def cmd_simulate_scanner(args: argparse.Namespace) -> int:
    from devices.simulators.scanner import SerialScannerSimulator

    with SerialScannerSimulator(suffix=args.suffix) as sim:
        print(f"scanner simulator on {sim.path} (suffix {args.suffix})", flush=True)
        print(f"try: gateway devices watch --serial-scanner {args.link or sim.path}", flush=True)
        stop = threading.Event()

        def scan_forever() -> None:
            while not stop.is_set():
                for code in args.codes:
                    if stop.wait(args.interval):
                        return
                    sim.scan(code)

        feeder = threading.Thread(target=scan_forever, daemon=True)
        feeder.start()
        try:
            _hold(args.duration, args.link, sim.path)
        finally:
            stop.set()
    return 0
