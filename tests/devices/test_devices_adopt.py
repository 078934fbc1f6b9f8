"""Plug and play: simulated devices are plugged in (udev property dicts replayed through
`RecordedSource`, simulators on ptys behind the nodes), proposed by `gateway devices list`,
adopted by `gateway devices adopt` into the settings file, picked up by the running daemon
(control-socket reload) and sold through."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "daemon"))

from daemon_testkit import NO_SYNC, Daemon, box_config

from devices.adoption import add_entry, review
from devices.errors import DeviceError
from devices.identify import ProbeRefused, check_may_write, identify_scale
from devices.known_devices import (
    TABLE,
    UsbIds,
    known_devices,
    parse_table,
    system_usb_ids,
)
from devices.settings import DeviceSettings
from devices.simulators.printer import SerialPrinterSimulator
from devices.simulators.scale import ScaleSimulator
from devices.simulators.scanner import SerialScannerSimulator
from devices.udev import RecordedSource, UdevDevice
from gateway.cli import main

MILK = "7612345001036"  # in config/catalog.example.json


def tty_props(node: str, vid: str, pid: str, link: str = "", serial: str = "", **extra: str):
    """What udev reports for a USB serial port (as `udevadm info` / pyudev show it)."""
    props = {
        "SUBSYSTEM": "tty",
        "DEVNAME": node,
        "ID_BUS": "usb",
        "ID_VENDOR_ID": vid,
        "ID_MODEL_ID": pid,
        "DEVLINKS": link,
        **extra,
    }
    if serial:
        props["ID_SERIAL_SHORT"] = serial
    return props


def wait_for(what: str, check, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_plug_propose_adopt_and_sell_through_the_daemon(tmp_path: Path, capsys) -> None:
    scanner = SerialScannerSimulator().start()
    scale = ScaleSimulator("toledo8217", weight="0.000", mode="zero", pace=False).start()
    printer = SerialPrinterSimulator().start()
    by_id = tmp_path / "by-id"
    by_id.mkdir()
    scanner_link = by_id / "usb-Newland_HR100-if00"
    scanner_link.symlink_to(scanner.path)
    bridge_link = by_id / "usb-1a86_USB_Serial-if00-port0"
    bridge_link.symlink_to(scale.path)
    printer_link = by_id / "usb-BIXOLON_SRP-350II-if00"
    printer_link.symlink_to(printer.path)
    config = box_config(tmp_path, "\n# the technician's own note stays where it is\n")
    recording = tmp_path / "udev.json"
    source = RecordedSource()
    source.plug(tty_props(scanner.path, "1eab", "0c06", str(scanner_link), ID_USB_DRIVER="cdc_acm"))
    source.plug(tty_props(scale.path, "1a86", "7523", str(bridge_link), ID_USB_DRIVER="ch341"))
    source.plug(tty_props(printer.path, "1504", "001f", str(printer_link)))
    events = source.drain()
    assert [e.action for e in events] == ["add", "add", "add"]
    recording.write_text(json.dumps({"devices": [dict(d.properties) for d in source.enumerate()]}))
    daemon = Daemon(tmp_path, config, NO_SYNC)
    try:
        # proposed: the Newland scanner by the table; the CH340 bridge only with a reason
        code = main(["devices", "list", "--config", str(config), "--from-recording",
                     str(recording), "--json"])  # fmt: skip
        listed = json.loads(capsys.readouterr().out)
        assert code == 0 and listed["missing"] == []
        by_node = {u["node"]: u for u in listed["unconfigured"]}
        newland = by_node[scanner.path]
        assert newland["role"] == "scanner" and newland["identity"] == str(scanner_link)
        assert newland["entry"] == {
            "name": "scanner", "kind": "serial", "serial": {"port": str(scanner_link)}
        }  # fmt: skip
        bridge = by_node[scale.path]
        assert bridge["role"] is None and "CH340 bridge" in bridge["why"]
        bixolon = by_node[printer.path]
        assert bixolon["title"] == "Bixolon SRP-350II Thermal Receipt Printer"
        assert bixolon["entry"] == {
            "name": "printer", "uri": f"serial://{printer_link}", "profile": "default"
        }  # fmt: skip

        # adopt the scanner (by its by-id link) and the scale behind the bridge
        text_before = config.read_text()
        # without NODE: every device the table knows (the scanner and the printer)
        assert main(["devices", "adopt", "--config", str(config),
                     "--from-recording", str(recording), "--yes"]) == 0  # fmt: skip
        assert main(["devices", "adopt", scale.path, "--as", "scale", "--config", str(config),
                     "--from-recording", str(recording), "--yes"]) == 0  # fmt: skip
        out = capsys.readouterr().out
        assert "the scale speaks toledo8217" in out and "reloaded" in out
        text = config.read_text()
        import difflib

        changes = difflib.SequenceMatcher(None, text_before.splitlines(), text.splitlines())
        assert {op for op, *_ in changes.get_opcodes()} == {"equal", "insert"}  # nothing lost
        assert "# the technician's own note stays where it is" in text
        assert f'uri = "serial://{printer_link}"' in text
        assert f'serial = {{port = "{bridge_link}"}}' in text and 'protocol = "toledo8217"' in text

        # the daemon picked both up: they connect, and a sale goes through them
        wait_for(
            "the adopted devices to connect",
            lambda: {
                n: d.get("state") for n, d in daemon.status()["devices"].items()
            } == {"scanner": "connected", "scale": "connected"},
        )  # fmt: skip
        assert daemon.key("sign_on", staff="101", pin="472951")["ok"]
        scanner.scan(MILK)
        wait_for("the scan to reach the lane", lambda: daemon.status()["lane"]["lines"] == 1)
        scale.set(mode="stable", weight="0.612")
        wait_for("the scale to settle", lambda: daemon.status()["scale"] == "0.612")
        weighed = daemon.key("weigh", code="1003")
        assert weighed["ok"], weighed
        assert daemon.status()["lane"]["lines"] == 2
        paid = daemon.key("tender", type="cash", amount="50")
        assert paid["ok"] and paid["state"] == "idle", paid
        wait_for("the receipt", lambda: b"TOTAL" in printer.responder.printed.upper())
        assert daemon.status()["printer"] != "none"

        # listed again: all found, nothing left to adopt
        assert main(["devices", "list", "--config", str(config), "--from-recording",
                     str(recording)]) == 0  # fmt: skip
        out = capsys.readouterr().out
        assert f"scale 'scale': found: {scale.path}" in out
        assert "nothing else plugged in" in out
    finally:
        daemon.stop()
        scanner.stop()
        scale.stop()
        printer.stop()


def test_list_exits_1_for_a_missing_device_and_proposes_the_unknown(tmp_path, capsys) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text(
        '[[devices.scales]]\nname = "deli"\nprotocol = "nci"\n'
        'serial = { port = "usb:0403:6001:A1B2C3" }\n'
    )
    recording = tmp_path / "udev.json"
    recording.write_text(json.dumps({"devices": [
        tty_props("/dev/ttyUSB0", "0403", "6001", serial="ZZ999"),
        {"SUBSYSTEM": "input", "DEVNAME": "/dev/input/event7", "ID_BUS": "usb",
         "ID_VENDOR_ID": "0801", "ID_MODEL_ID": "0001", "ID_INPUT_KEYBOARD": "1",
         "NAME": "MagTek Mini Swipe", "DEVLINKS": "/dev/input/by-id/usb-Mag-Tek-event-kbd"},
        {"SUBSYSTEM": "input", "DEVNAME": "/dev/input/event3", "ID_VENDOR_ID": "046d",
         "ID_MODEL_ID": "c31c", "ID_INPUT_KEYBOARD": "1", "NAME": "USB Keyboard"},
        {"SUBSYSTEM": "tty", "DEVNAME": "/dev/ttyS0"},  # the console UART: never listed
    ]}))  # fmt: skip
    args = ["devices", "list", "--config", str(config), "--from-recording", str(recording)]
    assert main(args) == 1
    out = capsys.readouterr().out
    assert "scale 'deli': MISSING: no port usb:0403:6001:A1B2C3" in out
    assert "FTDI bridge: the device behind it is unknown" in out  # another serial number
    assert 'match = {vendor_product = "0801:0001"}' in out  # the MagTek, as a card reader
    assert "Logitech" in out or "046d:c31c" in out  # name from usb.ids (when installed)
    assert "a keyboard-like device not in the known-device table" in out
    assert "/dev/ttyS0" not in out
    assert main([*args, "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["missing"] == [
        {"role": "scale", "name": "deli", "wanted": "port usb:0403:6001:A1B2C3"}
    ]


def test_adopt_asks_first_and_keeps_comments(tmp_path, capsys, monkeypatch) -> None:
    import io

    config = tmp_path / "gateway.toml"
    config.write_text('# the shop\'s settings\n[store]\nid = "s1"  # our store\n')
    recording = tmp_path / "udev.json"
    recording.write_text(json.dumps({"devices": [
        tty_props("/dev/ttyACM0", "1eab", "1306", "/dev/serial/by-id/usb-Newland-if00"),
    ]}))  # fmt: skip
    args = ["devices", "adopt", "--config", str(config), "--from-recording", str(recording)]
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    assert main(args) == 0
    assert "not written" in capsys.readouterr().out
    assert "devices" not in config.read_text()
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(args) == 2  # no answer: a usage error, nothing written
    assert "pass --yes" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    assert main(args) == 0
    text = config.read_text()
    assert text.startswith('# the shop\'s settings\n[store]\nid = "s1"  # our store\n')
    assert 'port = "/dev/serial/by-id/usb-Newland-if00"' in text
    assert "no gateway run on these settings" in capsys.readouterr().out


def test_add_entry_appends_to_an_existing_array_and_keeps_everything_else() -> None:
    text = (
        "[devices]\n# scanners and scales\n\n[[devices.scanners]]\n# the front one\n"
        'name = "front"\nkind = "serial"\nserial = { port = "/dev/x" }\n\n[mqtt]\nhost = "h"\n'
    )
    out = add_entry(text, "scanners", {"name": "back", "kind": "serial", "serial": {"port": "/y"}})
    assert out.startswith(text.split("[mqtt]")[0])
    import tomllib

    data = tomllib.loads(out)
    assert [s["name"] for s in data["devices"]["scanners"]] == ["front", "back"]
    assert data["mqtt"] == {"host": "h"}


def test_replayed_hotplug_adds_and_removes() -> None:
    source = RecordedSource()
    source.plug(tty_props("/dev/ttyUSB0", "10c4", "ea60", "/dev/serial/by-id/usb-Silicon_Labs"))
    assert source.enumerate() == []  # not yet: the event has not been read
    event = source.poll(0)
    assert event is not None and event.action == "add"
    assert [d.node for d in source.enumerate()] == ["/dev/ttyUSB0"]
    proposals = review(DeviceSettings(), source.enumerate(), known_devices(), UsbIds()).proposals
    assert proposals[0].role is None and "CP210x bridge" in proposals[0].why
    source.unplug("/dev/ttyUSB0")
    assert source.poll(0).action == "remove" and source.enumerate() == []


def test_identity_prefers_by_id_then_serial_number() -> None:
    from devices.adoption import identity_of

    with_link = UdevDevice(tty_props("/dev/ttyUSB0", "0403", "6001", "/dev/serial/by-id/usb-F"))
    serial_only = UdevDevice(tty_props("/dev/ttyUSB1", "0403", "6001", serial="A1B2C3"))
    twin_a = UdevDevice(tty_props("/dev/ttyUSB2", "1a86", "7523"))
    twin_b = UdevDevice(tty_props("/dev/ttyUSB3", "1a86", "7523"))
    present = [with_link, serial_only, twin_a, twin_b]
    assert identity_of(with_link, present) == ("/dev/serial/by-id/usb-F", True)
    assert identity_of(serial_only, present) == ("usb:0403:6001:A1B2C3", True)
    assert identity_of(twin_a, present) == ("/dev/ttyUSB2", False)  # CH340s: no serial number


# -- the known-device table ------------------------------------------------------------------
def test_the_table_loads_and_every_usb_ids_entry_is_in_usb_ids() -> None:
    table = known_devices()
    assert table.lookup("1a86:7523").kind == "serial_bridge"
    assert table.lookup("1eab:ffff").title.startswith("Fujian Newland")  # the maker's entry
    assert table.lookup("dead:beef") is None
    names = system_usb_ids()
    if not names.vendors:
        pytest.fail("no usb.ids on this machine: install Debian's usb.ids (.ci/dev does)")
    for device in table.devices:
        if device.source == "usb.ids":
            assert device.usb in names.products, f"{device.usb} {device.title} not in usb.ids"
        if device.vendor_only:
            assert device.usb[:4] in names.vendors, device.usb


def test_a_bad_table_entry_is_named() -> None:
    bad = TABLE.read_text() + '\n[[device]]\nusb = "1A86:7523"\ntitle = "x"\nkind = "scale"\n'
    with pytest.raises(DeviceError, match=r"#\d+ \(1A86:7523\).*lower-case.*driver"):
        parse_table(bad)


def test_usb_ids_names_vendor_and_product() -> None:
    ids = UsbIds("# c\n1a86  QinHeng Electronics\n\t7523  CH340 serial converter\nC 00  x\n")
    assert ids.name("1a86:7523") == "QinHeng Electronics CH340 serial converter"
    assert ids.name("1a86:0001") == "QinHeng Electronics (product 0001 not listed)"
    assert ids.name("ffff:0001") is None


# -- safe identification of scales ----------------------------------------------------------
@pytest.mark.parametrize("protocol", ["cas", "nci", "mtsics", "toledo8217"])
def test_each_protocol_is_identified_in_the_safe_order(protocol: str) -> None:
    with ScaleSimulator(protocol, weight="1.250", pace=False) as sim:
        found = identify_scale(sim.path, named_scale=True, held_by=lambda _p: [])
        assert found.protocol == protocol
        assert found.attempts[-1].answered and "1.250 kg" in found.attempts[-1].outcome
        order = [a.protocol for a in found.attempts]
        assert order == ["cas", "nci", "mtsics", "toledo8217"][: len(order)]
        if protocol == "cas":
            assert found.attempts[0].request == "listened" and sim.commands == []
        assert all(b"Z" not in c and b"T" not in c for c in sim.commands)  # never zero/tare


def test_a_port_not_named_as_a_scale_the_console_or_a_held_port_is_never_written() -> None:
    with ScaleSimulator("toledo8217", pace=False) as sim:
        with pytest.raises(ProbeRefused, match="not known as a scale"):
            identify_scale(sim.path, named_scale=False, held_by=lambda _p: [])
        with pytest.raises(ProbeRefused, match="system console"):
            identify_scale(sim.path, named_scale=True, consoles=lambda: {sim.path})
        with pytest.raises(ProbeRefused, match=r"open in another program: 4242 \(minicom\)"):
            identify_scale(sim.path, named_scale=True, held_by=lambda _p: ["4242 (minicom)"])
        time.sleep(0.2)
        assert sim.commands == []  # nothing reached the line


def test_a_port_another_program_holds_is_found_in_proc_and_refused() -> None:
    import subprocess

    from devices.identify import holders

    with ScaleSimulator("toledo8217", pace=False) as sim:
        assert holders(sim.path) == []  # only this process (excluded) has it open
        with open(sim.path, "rb") as line:
            other = subprocess.Popen(["sleep", "30"], stdin=line)
        try:
            wait_for("sleep to start", lambda: holders(sim.path) != [], 5)
            assert holders(sim.path) == [f"{other.pid} (sleep)"]
            with pytest.raises(ProbeRefused, match=f"open in another program: {other.pid}"):
                identify_scale(sim.path, named_scale=True)
        finally:
            other.kill()
            other.wait()
        assert sim.commands == []


def test_the_console_is_found_from_sysfs_and_the_kernel_command_line(tmp_path) -> None:
    from devices.identify import console_ports

    active = tmp_path / "active"
    active.write_text("tty0 ttyS0\n")
    cmdline = tmp_path / "cmdline"
    cmdline.write_text("root=/dev/sda1 console=ttyAMA0,115200 quiet\n")
    found = console_ports(active, cmdline)
    assert {"/dev/ttyS0", "/dev/ttyAMA0", "/dev/tty0"} <= found
    with pytest.raises(ProbeRefused):
        check_may_write("/dev/ttyS0", named_scale=True, consoles=lambda: found)


def test_watch_reports_devices_plugged_in_and_out(tmp_path, capsys) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text(
        '[[devices.scales]]\nname = "deli"\nprotocol = "cas"\n'
        'serial = { port = "/dev/serial/by-id/usb-CAS-if00" }\n'
    )
    newland = tty_props("/dev/ttyACM0", "1eab", "0c06", "/dev/serial/by-id/usb-Newland-if00")
    cas = tty_props("/dev/ttyUSB0", "0f0c", "0001", "/dev/serial/by-id/usb-CAS-if00")
    recording = tmp_path / "udev.json"
    recording.write_text(json.dumps({"devices": [], "events": [
        {"action": "add", "device": newland},
        {"action": "add", "device": cas},
        {"action": "remove", "device": newland},
    ]}))  # fmt: skip
    args = ["devices", "watch", "--config", str(config), "--from-recording", str(recording)]
    assert main([*args, "--duration", "1.5"]) == 0
    out = capsys.readouterr().out
    assert (
        "plugged   /dev/ttyACM0 1eab:0c06 Newland HR100/HR3260/HR3290 cordless/BS80 (USB Serial "
        "CDC): probably a scanner; `gateway devices adopt /dev/serial/by-id/usb-Newland-if00`"
    ) in out
    assert "plugged   /dev/ttyUSB0: scale 'deli' (configured)" in out
    assert "unplugged /dev/ttyACM0" in out


def test_docs_list_every_entry_of_the_table_with_its_source() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "devices.md").read_text()
    for device in known_devices().devices:
        row = next((line for line in docs.splitlines() if line.startswith(f"| `{device.usb}`")), "")
        assert row, f"{device.usb} is not in docs/devices.md"
        assert (device.source if device.source != "usb.ids" else "usb.ids") in row
        assert row.endswith("| yes |") == device.uncertain, row


def test_adopt_refusals_are_clear_and_write_nothing(tmp_path, capsys) -> None:
    with ScaleSimulator("nci", mode="silent", pace=False) as silent:
        config = tmp_path / "gateway.toml"
        config.write_text(
            '[[devices.scanners]]\nname = "door"\nkind = "serial"\n'
            'serial = { port = "/dev/ttyACM9" }\n'
        )
        before = config.read_text()
        recording = tmp_path / "udev.json"
        recording.write_text(json.dumps({"devices": [
            tty_props(silent.path, "1a86", "7523"),
            tty_props("/dev/ttyACM9", "1eab", "0c06"),
        ]}))  # fmt: skip
        base = ["--config", str(config), "--from-recording", str(recording), "--yes"]
        # a bridge without --as: not adopted, says why, exit 1
        assert main(["devices", "adopt", silent.path, *base]) == 1
        assert "CH340 bridge: the device behind it is unknown" in capsys.readouterr().out
        # --as needs a node
        assert main(["devices", "adopt", "--as", "scale", *base]) == 2
        assert "name it" in capsys.readouterr().err
        # a configured device is not adopted twice
        assert main(["devices", "adopt", "/dev/ttyACM9", *base]) == 2
        assert "already configured as 'door'" in capsys.readouterr().err
        # a scale that answers no protocol: every attempt shown, nothing written
        assert main(["devices", "adopt", silent.path, "--as", "scale", *base]) == 4
        captured = capsys.readouterr()
        assert "no known scale protocol answered" in captured.err
        assert captured.out.count("no answer at 9600") == 4
        assert config.read_text() == before


def test_pyudev_lists_this_machine_and_leaves_built_in_uarts_and_consoles_alone(
    tmp_path,
) -> None:
    """The production source on this machine (no USB here): libudev lists its ttys, and
    none of them — the console UART ttyS0, /dev/console, virtual consoles — is offered."""
    import pyudev

    from devices.udev import PyudevSource, wanted

    raw = {d.device_node for d in pyudev.Context().list_devices(subsystem="tty")}
    source = PyudevSource()
    listed = source.enumerate()
    if Path("/sys/class/tty/ttyS0").exists():
        assert "/dev/ttyS0" in raw
    assert not {d.node for d in listed} & {"/dev/ttyS0", "/dev/console", "/dev/tty0", "/dev/tty"}
    assert all(wanted(d) for d in listed)
    assert source.poll(0.1) is None  # the netlink monitor starts; nothing is plugged in
    # `record` writes what it lists, in the form --from-recording reads
    out = tmp_path / "recorded.json"
    assert main(["devices", "record", "--output", str(out)]) == 0
    assert RecordedSource.load(out).enumerate() == listed


def test_a_role_the_device_cannot_take_is_refused_with_the_reason() -> None:
    from devices.adoption import propose

    keyboard = UdevDevice({"SUBSYSTEM": "input", "DEVNAME": "/dev/input/event3",
                           "ID_INPUT_KEYBOARD": "1", "NAME": "USB Keyboard"})  # fmt: skip
    bridge = UdevDevice(tty_props("/dev/ttyUSB0", "1a86", "7523"))
    table, names = known_devices(), UsbIds()
    as_scale = propose(keyboard, [keyboard], table, names, set(), as_role="scale")
    assert as_scale.role is None and as_scale.entry == {}
    assert "a keyboard-like input device cannot be a scale" in as_scale.why
    as_reader = propose(bridge, [bridge], table, names, set(), as_role="card_reader")
    assert as_reader.role is None and "card readers are read as keyboards only" in as_reader.why
    as_scanner = propose(keyboard, [keyboard], table, names, {"scanner"}, as_role="scanner")
    assert as_scanner.entry == {
        "name": "scanner-2", "kind": "wedge", "match": {"name": "USB Keyboard"}
    }  # fmt: skip
