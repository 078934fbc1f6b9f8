"""`gateway devices ...`: the technician's commands (list, adopt, record, watch, scale,
print-test, simulate). Owns argument parsing and printing only; everything it does goes through the
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
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from devices.adoption import Proposal, Review
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

if TYPE_CHECKING:
    from devices.adoption import Proposal, Review
    from devices.udev import DeviceSource, UdevDevice
    from gateway.daemon.control import Connection
    from gateway.settings import GatewaySettings


def register(sub: Any) -> None:
    devices = sub.add_parser("devices", help="scanners, scales, card readers and printers")
    actions = devices.add_subparsers(dest="devices_command", metavar="ACTION", required=True)

    p = actions.add_parser(
        "list",
        help="configured devices found or missing (exit 1 if one is missing), and what "
        "every other plugged-in device probably is",
    )
    _config_arg(p)
    _recording_arg(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_list)

    p = actions.add_parser(
        "adopt",
        help="propose the settings entry for a plugged-in device and write it after you confirm",
    )
    p.add_argument("node", nargs="?", help="its node or by-id link (default: every proposal)")
    _config_arg(p)
    _recording_arg(p)
    p.add_argument(
        "--as",
        dest="as_role",
        choices=["scanner", "scale", "printer", "card_reader"],
        help="what it is, when the box cannot tell (a USB-serial bridge, an unknown keyboard)",
    )
    p.add_argument("--protocol", choices=sorted(PROTOCOLS), help="scales: skip identification")
    p.add_argument("--name", help="the entry's name (default: its role, numbered if taken)")
    p.add_argument("--yes", action="store_true", help="write without asking")
    p.add_argument("--no-reload", action="store_true", help="do not ask the daemon to reload")
    p.set_defaults(func=cmd_adopt)

    p = actions.add_parser(
        "record", help="write what udev lists (property dicts) as JSON, for --from-recording"
    )
    p.add_argument("--output", metavar="FILE", help="default: standard output")
    p.set_defaults(func=cmd_record)

    p = actions.add_parser(
        "watch",
        help="print decoded events, and devices plugged in or out, until Ctrl-C (beside "
        "gateway run: its devices' events, through its control socket)",
    )
    _config_arg(p)
    _recording_arg(p, replay=True)
    p.add_argument("--scale", metavar="PORT", help="also watch a scale on PORT (needs --protocol)")
    p.add_argument("--protocol", choices=sorted(PROTOCOLS), help="protocol of --scale")
    p.add_argument("--serial-scanner", metavar="PORT", help="also watch a serial scanner on PORT")
    p.add_argument("--printer", metavar="URI", help="also watch a printer's status")
    p.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    p.set_defaults(func=cmd_watch)

    p = actions.add_parser(
        "scale",
        help="take one reading from a scale (beside gateway run: its newest reading of it)",
    )
    p.add_argument("--port", required=True, help="serial port, e.g. /dev/ttyUSB0")
    p.add_argument(
        "--protocol",
        choices=sorted(PROTOCOLS),
        help="needed unless gateway run holds the port (it knows the scale's)",
    )
    _config_arg(p)
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
        "card-reader",
        help="a wedge card reader: rehearse what the box reads, or serve a box on a FIFO",
        description="Types magstripe swipes (--swipe TRACKS) and RFID taps (--tap UID, hex, "
        "MSB first) as the key events a reader programmed for --layout sends. Without "
        "--fifo it decodes them with a configured card reader's settings (--config, "
        "--reader) and prints what the box would see (payment cards masked). With --fifo "
        "PATH it writes them, as input_event records, into a FIFO that `gateway run` reads "
        "like the reader's node ([[devices.card_readers]] match = { path = PATH }).",
    )
    _config_arg(s)
    s.add_argument("--reader", help="the configured card reader to rehearse (default: first)")
    s.add_argument("--swipe", action="append", default=[], metavar="TRACKS",
                   help="e.g. ';6004001234567890=4912?' (repeatable)")  # fmt: skip
    s.add_argument("--tap", action="append", default=[], metavar="UID",
                   help="a card's UID in hex, MSB first, e.g. 04A1B2C3 (repeatable)")  # fmt: skip
    s.add_argument("--layout", help="the reader's keyboard country (default: the reader's)")
    s.add_argument("--rfid-format", choices=["decimal", "hex"], help="how the reader types UIDs")
    s.add_argument(
        "--byte-order", choices=["msb_first", "lsb_first"], help="the UID's byte order as typed"
    )
    s.add_argument("--fifo", metavar="PATH", help="serve a box: write the events into PATH")
    s.add_argument("--interval", type=float, default=1.0, help="seconds between cards (--fifo)")
    s.add_argument("--duration", type=float, help="--fifo: stop after S seconds")
    s.set_defaults(func=cmd_simulate_card_reader)
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


def _recording_arg(parser: argparse.ArgumentParser, replay: bool = False) -> None:
    then = "; its events are replayed as hotplug" if replay else ""
    parser.add_argument(
        "--from-recording",
        metavar="FILE",
        help=f"read the devices from a `gateway devices record` file instead of udev{then}",
    )


def _source(args: argparse.Namespace, replay: bool = False) -> DeviceSource:
    from devices.udev import PyudevSource, RecordedSource

    if getattr(args, "from_recording", None):
        return RecordedSource.load(Path(args.from_recording), replay=replay)
    return PyudevSource()


def _device_settings(args: argparse.Namespace) -> DeviceSettings:
    from gateway.settings import load_settings

    return load_settings(getattr(args, "config", None)).devices


# -- list -------------------------------------------------------------------------------
def _review(args: argparse.Namespace, settings: DeviceSettings) -> tuple[Review, list[UdevDevice]]:
    from devices.adoption import review
    from devices.known_devices import known_devices, system_usb_ids

    present = _source(args).enumerate()
    return review(settings, present, known_devices(), system_usb_ids()), present


def cmd_list(args: argparse.Namespace) -> int:
    settings = _device_settings(args)
    result, _ = _review(args, settings)
    if args.json:
        print(json.dumps(review_json(result), indent=2))
        return 1 if result.missing else 0
    print("Configured devices:")
    if not result.configured:
        print("  none configured")
    for c in result.configured:
        if c.network:
            state = "network printer (`gateway devices print-test` checks it)"
        else:
            state = f"found: {c.node}" if c.node else f"MISSING: no {c.wanted}"
        print(f"  {c.role.value} {c.name!r}: {state}")
    print("Not configured:")
    if not result.proposals:
        print("  nothing else plugged in")
    for p in result.proposals:
        vp = p.device.vendor_product or "no USB id"
        print(f"  {p.device.node}  {vp}  {p.title}")
        for reason in p.why_not:
            print(f"    not claimed by {reason}")
        if p.role is None:
            print(f"    not adopted: {p.why}")
            continue
        print(f"    probably a {p.role}: {p.why}")
        if not p.stable:
            print("    (no by-id link or serial number: the name may change when replugged)")
        if p.entry.get("protocol") == "?":
            print("    (protocol ?: `gateway devices adopt` asks the scale which one it speaks)")
        print(f"    adopt with `gateway devices adopt {p.device.node}`, which adds:")
        for line in _entry_text(p).splitlines():
            print(f"      {line}")
    return 1 if result.missing else 0


def _entry_text(p: Proposal) -> str:
    from devices.adoption import entry_text

    assert p.section is not None
    return entry_text(p.section, p.entry)


def review_json(result: Review) -> dict[str, Any]:
    """`gateway devices list --json`, and the technician page's device review."""
    return {
        "configured": [
            {
                "role": c.role.value,
                "name": c.name,
                "wanted": c.wanted,
                "found": c.node is not None or c.network,
                "node": c.node,
                "network": c.network,
            }
            for c in result.configured
        ],
        "missing": [
            {"role": m.role.value, "name": m.name, "wanted": m.wanted} for m in result.missing
        ],
        "unconfigured": [
            {
                "node": p.device.node,
                "vendor_product": p.device.vendor_product,
                "title": p.title,
                "role": p.role,
                "why": p.why,
                "why_not": list(p.why_not),
                "identity": p.identity,
                "stable": p.stable,
                "section": p.section,
                "entry": p.entry or None,
            }
            for p in result.proposals
        ],
    }


# -- adopt ------------------------------------------------------------------------------
def cmd_adopt(args: argparse.Namespace) -> int:
    from devices.adoption import add_entry, propose
    from devices.identify import identify_scale
    from devices.known_devices import known_devices, system_usb_ids
    from gateway.settings import DEFAULT_CONFIG_PATH, load_settings

    if (args.as_role or args.name or args.protocol) and not args.node:
        raise UsageError(
            "--as, --name and --protocol describe one device: name it",
            where="gateway devices adopt",
            fix="give its node or by-id link, e.g. `gateway devices adopt /dev/ttyUSB0 --as "
            "scale` (`gateway devices list` shows them)",
        )
    path = Path(args.config or DEFAULT_CONFIG_PATH)
    settings = load_settings(path)
    result, present = _review(args, settings.devices)
    candidates = result.proposals
    if args.node:
        wanted = os.path.realpath(args.node)
        candidates = [
            p
            for p in candidates
            if args.node in (p.device.node, *p.device.links)
            or wanted == os.path.realpath(p.device.node)
        ]
        if not candidates:
            configured = [
                c.name for c in result.configured if c.node and (os.path.realpath(c.node) == wanted)
            ]
            raise UsageError(
                f"{args.node}: "
                + (f"already configured as {configured[0]!r}" if configured else "not plugged in"),
                where=args.node,
                fix="`gateway devices list` shows what is plugged in and what is configured",
            )
    else:
        candidates = [p for p in candidates if p.role is not None]
    if not candidates:
        print("nothing to adopt: every plugged-in device the box knows is configured")
        return 0
    taken = {c.name for c in result.configured}
    wrote = refused = 0
    for candidate in candidates:
        proposal = candidate
        if args.as_role or args.name or args.protocol:
            proposal = propose(
                candidate.device,
                present,
                known_devices(),
                system_usb_ids(),
                taken,
                as_role=args.as_role or candidate.role,
                protocol=args.protocol,
            )
        if proposal.role is None:
            print(f"{candidate.device.node}: {proposal.title}\n  not adopted: {proposal.why}")
            refused += 1
            continue
        entry = dict(proposal.entry)
        if args.name:
            entry["name"] = args.name
        if proposal.role == "scale" and entry.get("protocol") == "?":
            named = args.as_role == "scale" or (
                proposal.known is not None and proposal.known.role == "scale"
            )
            found = identify_scale(proposal.device.node, named_scale=named)
            for attempt in found.attempts:
                print(f"  {attempt.protocol:<11} {attempt.request:<12} {attempt.outcome}")
            if found.protocol is None:
                raise DeviceError(
                    f"{proposal.device.node}: no known scale protocol answered",
                    where=proposal.device.node,
                    fix="check cable (null-modem?), power and the scale's interface menu, or "
                    "give --protocol",
                )
            print(f"  the scale speaks {found.protocol}")
            entry["protocol"] = found.protocol
        assert proposal.section is not None
        from devices.adoption import entry_text

        print(f"{proposal.device.node}: {proposal.title}, a {proposal.role} ({proposal.why})")
        if not proposal.stable:
            print("  (no by-id link or serial number: the name may change when replugged)")
        print(f"proposed entry for {path}:")
        print(entry_text(proposal.section, entry), end="")
        if not args.yes and not _confirm(f"write it into {path}? [y/N] "):
            print("not written")
            continue
        text = add_entry(path.read_text(encoding="utf-8"), proposal.section, entry)
        _write_checked(path, text)
        taken.add(str(entry["name"]))
        wrote += 1
        print(f"written: {proposal.section} {entry['name']!r}")
    if wrote and not args.no_reload:
        _ask_daemon_to_reload(path)
    return 1 if args.node and refused else 0  # the one device asked for was not adopted


def _confirm(prompt: str) -> bool:
    if not sys.stdin.isatty():
        answer = sys.stdin.readline()
        if not answer:
            raise UsageError(
                "adopt asks before it writes, and there is no answer on standard input",
                where="gateway devices adopt",
                fix="answer y, or pass --yes",
            )
    else:
        answer = input(prompt)
    return answer.strip().lower() in ("y", "yes")


def _write_checked(path: Path, text: str) -> None:
    """Write only a file that still loads: the new text is validated first, then replaces
    the old one atomically (same directory, same mode and owner)."""
    import tempfile

    from gateway.settings import load_settings

    try:
        with tempfile.NamedTemporaryFile(
            "w", dir=path.parent, prefix=f".{path.name}.", suffix=".new", delete=False
        ) as new:
            new.write(text)
    except OSError as exc:
        raise UsageError(
            f"cannot write next to {path}: {exc.strerror}",
            where=str(path),
            fix="run it as the settings file's owner (sudo gateway devices adopt ...)",
        ) from exc
    try:
        load_settings(Path(new.name))
        old = path.stat()
        os.chmod(new.name, old.st_mode & 0o7777)
        if os.geteuid() == 0:
            os.chown(new.name, old.st_uid, old.st_gid)
        os.replace(new.name, path)
    finally:
        if os.path.exists(new.name):
            os.unlink(new.name)


def _ask_daemon_to_reload(path: Path) -> None:
    from gateway.daemon.control import control_socket
    from gateway.daemon.lock import daemon_holds
    from gateway.errors import StoregateError
    from gateway.settings import load_settings

    settings = load_settings(path)
    try:
        running = daemon_holds(Path(settings.paths.data_dir))
    except PermissionError:
        running = True
    if not running:
        print("no gateway run on these settings: it reads the entry when it starts")
        return
    from gateway.daemon.control import call

    try:
        answer = call(control_socket(settings), {"command": "reload"}, timeout=30)
    except (OSError, StoregateError) as exc:
        print(
            f"could not ask gateway run to reload ({exc}): `systemctl reload storegate`",
            file=sys.stderr,
        )
        return
    if answer.get("ok"):
        print("gateway run reloaded its settings: the device starts now")
    else:
        print(f"gateway run did not reload: {answer.get('error')}", file=sys.stderr)


# -- record -----------------------------------------------------------------------------
def cmd_record(args: argparse.Namespace) -> int:
    from devices.udev import PyudevSource, recording

    text = json.dumps(recording(PyudevSource().enumerate()), indent=2) + "\n"
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        print(text, end="")
    return 0


# -- watch ------------------------------------------------------------------------------
def cmd_watch(args: argparse.Namespace) -> int:
    """Beside a running `gateway run` the configured devices' ports are the daemon's: their
    events come through its control socket (`device_events`); only devices given on the
    command line that it does not run are opened here."""
    from devices.runner import DeviceRunner, device_loops
    from gateway.settings import load_settings

    box = load_settings(getattr(args, "config", None))
    configured = box.devices
    extra = _adhoc_settings(args)
    daemon = _daemon_socket(box)
    if daemon is not None:
        ports = {_port_key(s.serial.port) for s in configured.scales}
        ports |= {_port_key(s.serial.port) for s in configured.scanners if s.serial is not None}
        extra = DeviceSettings(
            scales=[s for s in extra.scales if _port_key(s.serial.port) not in ports],
            scanners=[
                s
                for s in extra.scanners
                if s.serial is None or _port_key(s.serial.port) not in ports
            ],
            printers=extra.printers,
        )
        configured = DeviceSettings(printers=configured.printers)
    settings = DeviceSettings(
        scanners=[*configured.scanners, *extra.scanners],
        scales=[*configured.scales, *extra.scales],
        card_readers=configured.card_readers,
        printers=[*configured.printers, *extra.printers],
    )
    events: queue.Queue[DeviceEvent | str] = queue.Queue()
    loops = device_loops(settings, events.put)
    stop = threading.Event()
    if daemon is not None:
        d = box.devices
        held = [x.name for x in d.scanners] + [x.name for x in d.scales]
        held += [x.name for x in d.card_readers]
        print(
            f"gateway run holds the ports of {', '.join(held) or 'its devices'}: their events "
            f"come through its control socket ({daemon})",
            flush=True,
        )
        connection, last = _daemon_events(daemon)
        threading.Thread(
            target=_watch_daemon, args=(connection, last, events.put, stop), daemon=True
        ).start()
    names = ", ".join(loop.name for loop in loops) or "none here"
    print(f"watching {len(loops)} device(s): {names}; and hotplug; Ctrl-C stops", flush=True)
    runner = DeviceRunner(loops).start()
    plugs = threading.Thread(
        target=_watch_hotplug,
        args=(_source(args, replay=True), box.devices if daemon else settings, events.put, stop),
    )
    plugs.start()
    deadline = time.monotonic() + args.duration if args.duration else None
    try:
        while deadline is None or time.monotonic() < deadline:
            try:
                event = events.get(timeout=0.1)
            except queue.Empty:
                continue
            print(event if isinstance(event, str) else describe(event), flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        plugs.join(2)
        runner.stop()
    return 0


DAEMON_POLL_S = 0.2  # how often `watch` asks the daemon for new events


def _daemon_socket(settings: GatewaySettings) -> Path | None:
    """The control socket of the `gateway run` on these settings, or None when none runs."""
    from gateway.daemon.control import control_socket
    from gateway.daemon.lock import daemon_holds

    path = control_socket(settings)
    try:
        running = daemon_holds(Path(settings.paths.data_dir))
    except PermissionError:  # not allowed to open its lock file: does its socket answer?
        running = path.exists()
    return path if running else None


def _port_key(port: str) -> str:
    """A serial port as compared: the device node it names (by-id links resolved)."""
    return os.path.realpath(port) if port.startswith("/") else port


def _daemon_events(path: Path) -> tuple[Connection, int]:
    """A connection to the daemon and the number of its newest device event (the ones
    before `watch` started are not repeated)."""
    from gateway.daemon.control import Connection, ControlError

    try:
        connection = Connection(path)
        answer = connection.ask({"command": "device_events", "after": 0})
    except (OSError, ValueError) as exc:
        raise ControlError(
            f"gateway run holds the devices' ports, and its control socket does not answer: {exc}",
            where=str(path),
            fix="add yourself to the socket's group (storegate-tech), or use sudo",
        ) from None
    if not answer.get("ok"):
        raise ControlError(
            f"gateway run did not give its device events: {answer.get('error')}",
            where=str(path),
            fix="update storegate on this box (the daemon predates `device_events`)",
        )
    return connection, int(answer.get("last", 0))


def _watch_daemon(
    connection: Connection, last: int, say: Callable[[str], None], stop: threading.Event
) -> None:
    """The daemon's device events after `last`, as they come."""
    from gateway.errors import StoregateError

    try:
        while not stop.wait(DAEMON_POLL_S):
            answer = connection.ask({"command": "device_events", "after": last})
            if not answer.get("ok"):
                say(f"the daemon did not give its events: {answer.get('error')}")
                return
            for event in answer["events"]:
                say(str(event["line"]))
            last = int(answer.get("last", last))
    except (OSError, ValueError, StoregateError) as exc:
        say(f"the daemon stopped answering ({exc}): its devices are no longer shown")
    finally:
        connection.close()


def _watch_hotplug(
    source: DeviceSource,
    settings: DeviceSettings,
    say: Callable[[str], None],
    stop: threading.Event,
) -> None:
    """Devices plugged in (with what they probably are and how to adopt them) and out."""
    from devices.adoption import review
    from devices.known_devices import known_devices, system_usb_ids

    try:
        while not stop.is_set():
            event = source.poll(0.2)
            if event is None:
                continue
            node = event.device.node
            if event.action == "remove":
                say(f"unplugged {node}")
                continue
            if event.action != "add":
                continue
            result = review(settings, source.enumerate(), known_devices(), system_usb_ids())
            claimed = [c for c in result.configured if c.node == node]
            if claimed:
                say(f"plugged   {node}: {claimed[0].role.value} {claimed[0].name!r} (configured)")
                continue
            for p in (p for p in result.proposals if p.device.node == node):
                vp = p.device.vendor_product or "no USB id"
                if p.role is None:
                    say(f"plugged   {node} {vp} {p.title}: not adopted: {p.why}")
                else:
                    say(
                        f"plugged   {node} {vp} {p.title}: probably a {p.role}; "
                        f"`gateway devices adopt {p.identity}`"
                    )
    except (OSError, ImportError) as exc:  # no netlink socket / libudev here
        say(f"hotplug is not watched: {exc}")


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
    from gateway.errors import StoregateError
    from gateway.settings import load_settings

    try:
        box = load_settings(args.config)
    except StoregateError:
        if args.config:
            raise
        box = None  # the default settings do not load: the bench reads the port itself
    if box is not None:
        daemon = _daemon_socket(box)
        port = _port_key(args.port)
        held = [s for s in box.devices.scales if _port_key(s.serial.port) == port]
        if daemon is not None and held:
            return _scale_through_daemon(args, daemon, held[0].name)
    if not args.protocol:
        raise UsageError(
            f"{args.port}: which protocol does the scale speak?",
            where="gateway devices scale",
            fix=f"give --protocol, one of {', '.join(sorted(PROTOCOLS))}",
        )
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
    _print_reading(args, reading)
    return 0


def _scale_through_daemon(args: argparse.Namespace, path: Path, name: str) -> int:
    """`gateway run` holds the scale's port: its newest reading, through the socket."""
    from gateway.daemon.control import call

    if args.zero:
        raise UsageError(
            f"gateway run holds {args.port} (scale {name!r}): the bench cannot zero it",
            where=args.port,
            fix="zero it with the scale's own key, or stop gateway run for bench work",
        )
    print(
        f"gateway run holds {args.port} (scale {name!r}): its newest reading, through its "
        f"control socket ({path})",
        file=sys.stderr if args.json else sys.stdout,
        flush=True,
    )
    answer = call(path, {"command": "scale_reading", "scale": name}, timeout=args.timeout + 10)
    if not answer.get("ok"):
        raise DeviceError(
            f"scale {name!r}: {answer.get('error')}",
            where=args.port,
            fix="`gateway status` shows the scale's state; check its cable and power",
        )
    reading = answer["reading"]
    if args.json:
        print(json.dumps(reading))
        return 0
    weight = (
        f"{reading['weight']} {reading['unit']}" if reading["weight"] is not None else "no weight"
    )
    net = "  net" if reading["net"] else ""
    detail = f"  ({reading['detail']})" if reading["detail"] else ""
    print(f"{weight}  status={reading['status']}{net}{detail}  ({reading.get('age_s')} s ago)")
    print(f"raw: {reading['raw'].encode('latin-1')!r}")
    print("priceable: yes" if reading["priceable"] else f"priceable: no ({reading['why_not']})")
    return 0


def _print_reading(args: argparse.Namespace, reading: Any) -> None:
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


def cmd_simulate_card_reader(args: argparse.Namespace) -> int:
    from devices.cards import CardLineDecoder, WedgeCardDecoder
    from devices.events import CardEvent
    from devices.keymaps import load_keymap
    from devices.settings import CardReaderSettings, InputMatch
    from devices.simulators.card_reader import CardReaderSimulator, key_events, tap_text

    readers = _device_settings(args).card_readers if args.config or not args.fifo else []
    reader = next((r for r in readers if args.reader in (None, r.name)), None)
    if args.reader and reader is None:
        raise UsageError(
            f"no card reader {args.reader!r} in the settings",
            fix="name one of [[devices.card_readers]], or leave --reader out",
        )
    reader = reader or CardReaderSettings(name="reader", match=InputMatch(name="*"))
    layout = args.layout or reader.keys.layout
    rfid_format = args.rfid_format or reader.rfid_format
    byte_order = args.byte_order or reader.rfid_byte_order
    try:
        uids = [bytes.fromhex(uid) for uid in args.tap]
    except ValueError as exc:
        raise UsageError(f"--tap: {exc}", fix="give the UID in hex, e.g. 04A1B2C3") from exc
    texts = [*args.swipe, *(tap_text(u, rfid_format=rfid_format, byte_order=byte_order)
                            for u in uids)]  # fmt: skip
    if not texts:
        raise UsageError("nothing to type", fix="give --swipe TRACKS and/or --tap UID")
    if args.fifo:
        with CardReaderSimulator(
            Path(args.fifo), layout=layout, rfid_format=rfid_format, byte_order=byte_order
        ) as sim:
            print(f"card reader simulator on FIFO {args.fifo} ({layout}); Ctrl-C stops", flush=True)
            stop = threading.Event()
            deadline = time.monotonic() + args.duration if args.duration else None
            try:
                while deadline is None or time.monotonic() < deadline:
                    for text in texts:
                        if stop.wait(args.interval):
                            break
                        sim.type_line(text)
            except KeyboardInterrupt:
                pass
        return 0
    decoder = WedgeCardDecoder(
        CardLineDecoder(
            reader.name,
            utc_now,
            rfid_format=reader.rfid_format,
            rfid_byte_order=reader.rfid_byte_order,
            rfid_uid_bytes=reader.rfid_uid_bytes,
            member_prefixes=tuple(reader.member_prefixes),
            staff_prefixes=tuple(reader.staff_prefixes),
        ),
        load_keymap(reader.keys.layout),
    )
    wrong = 0
    for number, text in enumerate(texts, start=1):
        try:
            events = key_events(text, layout)
        except ValueError as exc:
            raise UsageError(str(exc), fix="use characters the reader's layout can type") from exc
        for output in (o for e in events for o in decoder.feed(e)):
            print(f"card {number}: {describe(output)}")
            wrong += not isinstance(output, CardEvent)
    return 1 if wrong else 0


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
