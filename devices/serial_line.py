"""Opening serial ports for drivers: resolve a configured path or glob, open with pyserial,
and turn OS failures into errors a technician can act on.

Owns only port resolution and opening; protocols live in their decoders. A configured
`/dev/serial/by-id/...` path (or a glob) is re-resolved at every (re)connect, which is how
a scale that comes back as /dev/ttyUSB1 instead of /dev/ttyUSB0 is found again.
"""

from __future__ import annotations

import glob
import os
import re
import select
import termios

import serial

from devices.errors import DeviceNotFound

PARITIES = {"N": serial.PARITY_NONE, "E": serial.PARITY_EVEN, "O": serial.PARITY_ODD}


USB_IDENTITY = re.compile(r"^usb:([0-9a-fA-F]{4}):([0-9a-fA-F]{4})(?::(.+))?$")


def usb_identity(pattern: str) -> tuple[int, int, str | None] | None:
    """`usb:VID:PID[:SERIAL]` -> (vid, pid, serial); None for paths and globs."""
    match = USB_IDENTITY.match(pattern)
    if match is None:
        return None
    return int(match.group(1), 16), int(match.group(2), 16), match.group(3)


def resolve_port(pattern: str) -> str:
    """The device path `pattern` names right now; `DeviceNotFound` if none.

    `pattern` is a path, a glob (`/dev/serial/by-id/usb-FTDI_*`), or a USB identity
    `usb:0403:6001[:A1B2C3]` looked up in pyserial's port list at every (re)connect.
    """
    identity = usb_identity(pattern)
    if identity is not None:
        from serial.tools import list_ports

        vid, pid, serial_number = identity
        for port in sorted(list_ports.comports(), key=lambda p: p.device):
            if (port.vid, port.pid) == (vid, pid) and serial_number in (None, port.serial_number):
                return str(port.device)
    elif any(ch in pattern for ch in "*?["):
        matches = sorted(glob.glob(pattern))
        if matches:
            return matches[0]
    elif os.path.exists(pattern) or "://" in pattern:
        return pattern
    raise DeviceNotFound(
        f"no serial port matches {pattern!r}",
        where=pattern,
        fix="plug the device in, check `gateway devices list`, or use its "
        "/dev/serial/by-id/ path so a new ttyUSB number does not matter",
    )


def open_serial(
    pattern: str,
    *,
    baudrate: int,
    bytesize: int,
    parity: str,
    stopbits: int,
    timeout: float,
    write_timeout: float | None = None,
) -> serial.Serial:
    """Open the port `pattern` resolves to, with the given line settings."""
    path = resolve_port(pattern)
    if os.path.realpath(path).startswith("/dev/pts/"):
        # A pseudo-terminal (the simulators, a socat bridge) has no UART: Linux refuses 7-bit
        # or parity settings on it with EINVAL once the speed is already set, so frame 8N1.
        bytesize, parity = 8, "N"
    try:
        return serial.serial_for_url(
            path,
            baudrate=baudrate,
            bytesize=bytesize,
            parity=PARITIES[parity],
            stopbits=stopbits,
            timeout=timeout,
            write_timeout=write_timeout or timeout,
            exclusive=True,
        )
    except (serial.SerialException, OSError, ValueError, termios.error) as exc:
        raise DeviceNotFound(
            f"cannot open {path}: {exc}",
            where=pattern,
            fix="check the port exists, is not used by another program, and that the "
            "service user is in group 'dialout'",
        ) from exc


def read_available(port: serial.Serial, timeout: float) -> bytes:
    """Whatever arrives within `timeout`, returning as soon as any byte is there.

    Waits with select() on the port's descriptor instead of re-setting `port.timeout` on
    every call (each change is a tcsetattr() round trip).
    """
    ready, _, _ = select.select([port.fileno()], [], [], timeout)
    if not ready:
        return b""
    data: bytes = port.read(max(1, port.in_waiting))
    return data
