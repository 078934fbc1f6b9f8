"""Safe identification of a serial scale: which protocol answers on a port, without ever
writing to a port the technician did not name as a scale.

Owns the rules of who may be asked and the order of asking; the line work is
`devices.scale_driver.SerialScale` (one request, no retries, at each protocol's own line
settings). Odoo's IoT box probed every serial port and claimed the console UART as a scale
(odoo/odoo#221326); so here:

- the caller must say the port is a scale (`--as scale`, or the known-device table says
  so) — `identify_scale` refuses otherwise, before opening anything;
- the console (`/sys/class/tty/console/active`, `console=` on the kernel command line,
  /dev/console) and a port another process holds open (found in /proc/*/fd) are refused,
  whatever the caller says;
- listening comes first: a streaming scale (CAS continuous) is recognised without a byte
  written;
- then only the documented *read-only* weight requests, in this order: NCI `W<CR>`,
  MT-SICS `SI<CR><LF>`, Toledo 8217 `W`. None of them contains the zero or tare letters
  (`Z`, `T`) of any protocol we know, so a scale of another protocol hears an unknown
  command at worst. The 8217's bare `W` goes last: an NCI or MT-SICS scale would keep it
  in its buffer and read the next request as `WW<CR>` / `WSI` (unknown), while an 8217
  ignores CR and LF, so the earlier requests cannot spoil its turn.
The first protocol whose reply parses as that protocol is the answer; every attempt is
reported with what happened.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from devices.errors import DeviceError, ScaleGarbled, ScaleNoAnswer

SAFE_ORDER = ("cas", "nci", "mtsics", "toledo8217")  # listen first, then read-only requests


class ProbeRefused(DeviceError):
    """The port may not be written to (not named as a scale, the console, held by another)."""


@dataclass(frozen=True)
class Attempt:
    protocol: str
    request: str  # what was sent, or "listened"
    outcome: str  # "answered: ...", "no answer", "not this protocol: ..."
    answered: bool


@dataclass(frozen=True)
class Identification:
    port: str
    protocol: str | None
    attempts: tuple[Attempt, ...]


def console_ports(
    sys_active: Path = Path("/sys/class/tty/console/active"),
    cmdline: Path = Path("/proc/cmdline"),
) -> set[str]:
    """Real paths of the kernel's console devices (ttyS0, ttyAMA0, ...)."""
    names: set[str] = set()
    for path, pattern in ((sys_active, r"(\S+)"), (cmdline, r"\bconsole=([^,\s]+)")):
        try:
            names.update(re.findall(pattern, path.read_text()))
        except OSError:
            continue
    found = {os.path.realpath(f"/dev/{name}") for name in names}
    if os.path.exists("/dev/console"):
        found.add(os.path.realpath("/dev/console"))
    return found


def holders(node: str, proc: Path = Path("/proc")) -> list[str]:
    """`PID (command)` of every other process with `node` open (those we may see)."""
    target = os.path.realpath(node)
    found = []
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            fds = list((entry / "fd").iterdir())
        except OSError:
            continue  # gone, or another user's (we are not root)
        for fd in fds:
            try:
                if os.path.realpath(fd) == target:
                    comm = (entry / "comm").read_text().strip()
                    found.append(f"{entry.name} ({comm})")
                    break
            except OSError:
                continue
    return found


def check_may_write(
    port: str,
    *,
    named_scale: bool,
    consoles: Callable[[], set[str]] = console_ports,
    held_by: Callable[[str], list[str]] = holders,
) -> None:
    """Raise `ProbeRefused` unless `port` may be asked: see the module's rules."""
    real = os.path.realpath(port)
    if real in consoles():
        raise ProbeRefused(
            f"{port} is the system console: it is never probed",
            where=port,
            fix="connect the scale to another port (a USB-serial bridge)",
        )
    others = held_by(port)
    if others:
        raise ProbeRefused(
            f"{port} is open in another program: {', '.join(others)}",
            where=port,
            fix="stop that program (a running `gateway run` holds its configured ports)",
        )
    if not named_scale:
        raise ProbeRefused(
            f"{port} is not known as a scale: the box never writes to a port it was not told "
            "is a scale",
            where=port,
            fix=f"if it is one: `gateway devices adopt {port} --as scale`",
        )


def identify_scale(
    port: str,
    *,
    named_scale: bool,
    order: tuple[str, ...] = SAFE_ORDER,
    reply_timeout: float = 0.6,
    listen_s: float = 1.5,
    consoles: Callable[[], set[str]] = console_ports,
    held_by: Callable[[str], list[str]] = holders,
) -> Identification:
    """Try `order`'s protocols at their own line settings; the first that answers wins."""
    from devices.scale_driver import SerialScale
    from devices.scale_protocols import PROTOCOLS

    check_may_write(port, named_scale=named_scale, consoles=consoles, held_by=held_by)
    attempts = []
    for name in order:
        protocol = PROTOCOLS[name]
        request = "listened" if protocol.continuous else repr(protocol.weigh_command)[1:]
        scale = SerialScale(
            "probe",
            protocol,
            port,
            retries=0,
            reply_timeout=listen_s if protocol.continuous else reply_timeout,
        )
        line = f"{scale.baudrate} {scale.bytesize}{scale.parity}{scale.stopbits}"
        try:
            with scale:
                reading = scale.read_weight()
        except ScaleNoAnswer:
            attempts.append(Attempt(name, request, f"no answer at {line}", False))
            continue
        except ScaleGarbled as exc:
            attempts.append(Attempt(name, request, f"not this protocol ({exc.what})", False))
            continue
        weight = f"{reading.weight} {reading.unit}" if reading.weight is not None else "no weight"
        outcome = f"answered at {line}: {weight}, {reading.status.value}"
        attempts.append(Attempt(name, request, outcome, True))
        return Identification(port, name, tuple(attempts))
    return Identification(port, None, tuple(attempts))
