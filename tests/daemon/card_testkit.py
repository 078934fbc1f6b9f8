"""Card terminal payments through `gateway run`: settings pointing at a
`ZvtTerminalSimulator`, and the check that the simulator's full card number is kept
nowhere (shared by the daemon's and the screens' card tests)."""

from __future__ import annotations

from pathlib import Path

from daemon_testkit import Daemon, box_config

from gateway.harness.zvt_terminal import PAN, ZvtTerminalSimulator


def card_config(
    directory: Path, sim: ZvtTerminalSimulator, timeout_s: float = 1.0, currency: str = "CHF"
) -> Path:
    """The example box (a CHF catalog) with the terminal simulator as its card terminal."""
    return box_config(
        directory,
        f"""
[payments]
poll_s = 0.2

[payments.terminal]
enabled = true
host = "127.0.0.1"
port = {sim.port}
password = "{sim.password}"
currency = "{currency}"
timeout_s = {timeout_s}
""",
    )


def assert_pan_kept_nowhere(directory: Path, daemon: Daemon) -> None:
    """Not the full number, nor its BCD bytes, in the database, logs or receipts."""
    for path in directory.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert PAN.encode() not in data and bytes.fromhex(PAN) not in data, path
    assert PAN not in daemon.output()
