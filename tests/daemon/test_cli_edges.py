"""The command line's edges (issue 15, item 9): a reader that goes away ends a command
quietly (`gateway report x | head -1`, and a pipe closed before anything is written), and
`devices print-test --printer` takes an address as a person types it, or says what to
write instead — each through the real `gateway` command as a process."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from daemon_testkit import GATEWAY, box_config

from devices.settings import printer_uri
from devices.simulators.printer import NetworkPrinterSimulator
from gateway.cli import BROKEN_PIPE


def test_a_closed_pipe_ends_report_x_quietly(tmp_path: Path) -> None:
    config = box_config(tmp_path)
    shell = subprocess.run(
        ["bash", "-o", "pipefail", "-c", f"'{GATEWAY}' report x --config '{config}' | head -1"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    whole = subprocess.run(
        [str(GATEWAY), "report", "x", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert whole.returncode == 0 and len(whole.stdout.splitlines()) > 1, whole.stderr
    assert shell.stdout == whole.stdout.splitlines(keepends=True)[0]
    assert "Traceback" not in shell.stderr and "BrokenPipe" not in shell.stderr, shell.stderr
    assert shell.returncode in (0, BROKEN_PIPE), shell.stderr

    # The reader gone before the first byte: every write fails, deterministically.
    read, write = os.pipe()
    os.close(read)
    try:
        closed = subprocess.run(
            [str(GATEWAY), "report", "x", "--config", str(config)],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write)
    assert closed.returncode == BROKEN_PIPE, closed.stderr
    assert "Traceback" not in closed.stderr and "Exception ignored" not in closed.stderr
    assert "BrokenPipe" not in closed.stderr and "unexpected error" not in closed.stderr


def test_print_test_takes_a_bare_address_or_says_what_to_write() -> None:
    assert printer_uri("192.168.1.50") == "tcp://192.168.1.50:9100"
    assert printer_uri("printer.local:9101") == "tcp://printer.local:9101"
    assert printer_uri("serial:///dev/ttyUSB0") == "serial:///dev/ttyUSB0"
    with NetworkPrinterSimulator() as printer:
        done = subprocess.run(
            [str(GATEWAY), "devices", "print-test", "--printer", f"127.0.0.1:{printer.port}"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"address: tcp://127.0.0.1:{printer.port}".encode() in printer.printed
    wrong = subprocess.run(
        [str(GATEWAY), "devices", "print-test", "--printer", "lpt1://printer"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert wrong.returncode == 2, wrong.stdout
    assert "--printer 'lpt1://printer'" in wrong.stderr and "HOST or HOST:PORT" in wrong.stderr
    assert "Traceback" not in wrong.stderr
