"""`gateway devices ...` end to end against the simulators (in-process, real pty / TCP)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time

import pytest

from devices.simulators.printer import NetworkPrinterSimulator
from devices.simulators.scale import ScaleSimulator
from devices.simulators.scanner import SerialScannerSimulator
from gateway.cli import main

GATEWAY = [sys.executable, "-m", "gateway.cli"]


def test_scale_command_reads_one_weight(capsys):
    with ScaleSimulator("mtsics", weight="0.750", pace=False) as sim:
        assert main(["devices", "scale", "--port", sim.path, "--protocol", "mtsics"]) == 0
    out = capsys.readouterr().out
    assert "0.750 kg  status=stable" in out and "priceable: yes" in out


def test_scale_command_json_and_motion(capsys):
    with ScaleSimulator("toledo8217", mode="motion", pace=False) as sim:
        assert (
            main(["devices", "scale", "--port", sim.path, "--protocol", "toledo8217", "--json"])
            == 0
        )
    data = json.loads(capsys.readouterr().out)
    assert data["status"] == "motion" and data["priceable"] is False


def test_scale_command_names_the_likely_cause(capsys):
    with ScaleSimulator("nci", mode="silent", pace=False) as sim:
        code = main(
            [
                "devices",
                "scale",
                "--port",
                sim.path,
                "--protocol",
                "nci",
                "--timeout",
                "0.1",
                "--retries",
                "0",
            ]
        )
    err = capsys.readouterr().err
    assert code == 4
    assert "no answer within 0.1 s" in err and "baud rate" in err
    assert "Traceback" not in err


def test_scale_command_wrong_protocol(capsys):
    with ScaleSimulator("mtsics", pace=False) as sim:
        code = main(
            [
                "devices",
                "scale",
                "--port",
                sim.path,
                "--protocol",
                "cas",
                "--timeout",
                "0.2",
                "--retries",
                "0",
            ]
        )
    assert code == 4
    assert "protocol" in capsys.readouterr().err


def test_print_test_against_simulated_printer(capsys):
    with NetworkPrinterSimulator() as sim:
        code = main(
            [
                "devices",
                "print-test",
                "--printer",
                sim.uri,
                "--profile",
                "epson-tm-t88v",
                "--kick",
                "--timeout",
                "1",
            ]
        )
        deadline = time.monotonic() + 2
        while b"\x1bp" not in sim.printed and time.monotonic() < deadline:
            time.sleep(0.01)
    assert code == 0
    assert "test page sent" in capsys.readouterr().out
    assert b"profile: epson-tm-t88v" in sim.printed and b"\x1d\x56" in sim.printed


def test_print_test_paper_out_fails(capsys):
    with NetworkPrinterSimulator() as sim:
        sim.flags.add("paper_out")
        code = main(["devices", "print-test", "--printer", sim.uri, "--timeout", "1"])
        assert sim.printed == b""  # nothing sent to a printer without paper
    assert code == 1
    assert "paper_out; test page not sent" in capsys.readouterr().out


def test_print_test_offline_printer_is_an_error(capsys):
    code = main(["devices", "print-test", "--printer", "tcp://127.0.0.1:1", "--timeout", "0.5"])
    assert code == 4
    assert "offline" in capsys.readouterr().err


def test_watch_shows_scans_and_weights(capsys, tmp_path):
    config = tmp_path / "gateway.toml"
    with SerialScannerSimulator() as scanner, ScaleSimulator("cas", pace=False) as scale:
        config.write_text(
            "[[devices.scales]]\n"
            'name = "deli"\nprotocol = "cas"\n'
            f'serial = {{ port = "{scale.path}" }}\n'
        )
        feeder = threading.Timer(0.5, scanner.scan, args=("]C1010400638133393110ABC",))
        feeder.start()
        code = main(
            [
                "devices",
                "watch",
                "--config",
                str(config),
                "--serial-scanner",
                scanner.path,
                "--duration",
                "1.5",
            ]
        )
        feeder.join()
    out = capsys.readouterr().out
    assert code == 0
    assert "scan    scanner: '010400638133393110ABC' [GS1-128 ]C1]" in out
    assert "weight  deli: 1.234 kg stable" in out
    assert "state   deli (scale): connected" in out


def test_list_shows_roles_and_reasons(capsys, tmp_path):
    config = tmp_path / "gateway.toml"
    config.write_text(
        '[[devices.scales]]\nname = "deli"\nprotocol = "nci"\n'
        'serial = { port = "/dev/serial/by-id/usb-nothing" }\n'
        '[[devices.scanners]]\nname = "front"\nmatch = { vendor_product = "0c2e:0b61" }\n'
    )
    empty = tmp_path / "udev.json"  # nothing plugged in (a recorded udev view)
    empty.write_text('{"devices": []}')
    listing = ["devices", "list", "--config", str(config), "--from-recording", str(empty)]
    assert main([*listing, "--json"]) == 1  # a configured device is missing
    data = json.loads(capsys.readouterr().out)
    assert {
        "role": "scale",
        "name": "deli",
        "wanted": "port /dev/serial/by-id/usb-nothing",
    } in data["missing"]
    assert any(m["name"] == "front" for m in data["missing"])
    assert main(listing) == 1
    out = capsys.readouterr().out
    assert "scale 'deli': MISSING: no port /dev/serial/by-id/usb-nothing" in out
    assert "scanner 'front': MISSING: no input device with vendor_product=0c2e:0b61" in out


def test_simulate_scale_runs_as_a_command(tmp_path):
    link = tmp_path / "scale"
    proc = subprocess.Popen(
        [
            *GATEWAY,
            "devices",
            "simulate",
            "scale",
            "--protocol",
            "toledo8217",
            "--weight",
            "2.500",
            "--link",
            str(link),
            "--duration",
            "120",  # ended by the test: never by a clock racing a busy machine
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert "scale simulator" in proc.stdout.readline()
        result = subprocess.run(
            [*GATEWAY, "devices", "scale", "--port", str(link), "--protocol", "toledo8217"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        assert result.returncode == 0, result.stderr
        assert "2.500 kg  status=stable" in result.stdout
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def test_simulate_printer_command(tmp_path):
    out_file = tmp_path / "printed.bin"
    proc = subprocess.Popen(
        [
            *GATEWAY,
            "devices",
            "simulate",
            "printer",
            "--port",
            "0",
            "--output",
            str(out_file),
            "--duration",
            "120",  # ended by the test's Ctrl-C below
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()
    assert "listening on tcp://127.0.0.1:" in line
    uri = line.split()[-1]
    result = subprocess.run(
        [*GATEWAY, "devices", "print-test", "--printer", uri],
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert result.returncode == 0, result.stderr
    proc.send_signal(signal.SIGINT)  # Ctrl-C: the simulator saves what it received
    proc.wait(timeout=10)
    assert b"storegate" in out_file.read_bytes()


@pytest.mark.parametrize("suffix", ["cr", "crlf"])
def test_simulate_scanner_command(tmp_path, suffix):
    link = tmp_path / "scanner"
    proc = subprocess.Popen(
        [
            *GATEWAY,
            "devices",
            "simulate",
            "scanner",
            "]E04006381333931",
            "--suffix",
            suffix,
            "--interval",
            "0.2",
            "--link",
            str(link),
            "--duration",
            "120",  # ended by the test: never by a clock racing a busy machine
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert "scanner simulator" in proc.stdout.readline()
        result = subprocess.run(
            [*GATEWAY, "devices", "watch", "--serial-scanner", str(link), "--duration", "3"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        assert "'4006381333931' [EAN-13/UPC ]E0]" in result.stdout
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def test_simulate_wedge_shows_the_layout_fault(capsys):
    assert (
        main(["devices", "simulate", "wedge", "0013748911", "--layout", "us", "--read-as", "fr"])
        == 1
    )
    out = capsys.readouterr().out
    assert "read as  fr: 'àà&\"è\\'_ç&&'  MISMATCH" in out
    assert main(["devices", "simulate", "wedge", "]C1ABC", "--layout", "fr", "--events"]) == 0
    out = capsys.readouterr().out
    assert "KEY_LEFTSHIFT" in out and "OK" in out
    assert main(["devices", "simulate", "wedge", "x", "--layout", "xx"]) == 4
    assert "no keyboard layout 'xx'" in capsys.readouterr().err
