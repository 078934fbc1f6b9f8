"""The [devices] settings: the example file's commented entries are all valid, typos are
refused, and discovery matches present devices to roles with reasons."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from devices.adoption import review
from devices.discovery import (
    InputDeviceInfo,
    SerialPortInfo,
    input_mismatch,
    list_input_devices,
    port_mismatch,
)
from devices.errors import DeviceNotFound
from devices.events import Role
from devices.known_devices import UsbIds, known_devices
from devices.serial_line import resolve_port
from devices.settings import DeviceSettings, InputMatch
from devices.udev import UdevDevice
from gateway.errors import SettingsError
from gateway.settings import load_settings

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "gateway.example.toml"


def uncommented_example(tmp_path: Path) -> Path:
    """The example file with every commented key of the [devices] section switched on
    (other rooms' sections, which may follow, are left alone)."""
    lines = EXAMPLE.read_text(encoding="utf-8").split("\n")
    start = lines.index("[devices]")
    end = next(
        (
            i
            for i in range(start + 1, len(lines))
            if lines[i].startswith("[") and not lines[i].startswith(("[devices.", "[[devices."))
        ),
        len(lines),
    )
    for i in range(start + 1, end):
        if re.match(r"^# (\[|[a-z_]+ = )", lines[i]):
            lines[i] = lines[i][2:]
    path = tmp_path / "all.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def test_every_commented_example_entry_is_valid(tmp_path):
    devices = load_settings(uncommented_example(tmp_path)).devices
    assert [s.kind for s in devices.scanners] == ["wedge", "serial"]
    assert devices.scales[0].protocol == "toledo8217"
    assert devices.card_readers[0].rfid_byte_order == "lsb_first"
    assert devices.printers[0].uri.startswith("tcp://")


def test_typo_is_reported_with_its_key(tmp_path):
    path = tmp_path / "typo.toml"
    path.write_text('[[devices.scales]]\nname = "s"\nprotocl = "nci"\nserial = { port = "/x" }\n')
    with pytest.raises(SettingsError) as info:
        load_settings(path)
    assert "devices.scales[0].protocl" in info.value.describe()


def test_rules():
    with pytest.raises(ValidationError, match="grab every keyboard"):
        InputMatch()
    with pytest.raises(ValidationError, match="used twice"):
        DeviceSettings.model_validate(
            {
                "scales": [{"name": "a", "protocol": "nci", "serial": {"port": "/x"}}],
                "printers": [{"name": "a", "uri": "tcp://h:9100"}],
            }
        )
    with pytest.raises(ValidationError, match="tcp://"):
        DeviceSettings.model_validate({"printers": [{"name": "p", "uri": "http://h"}]})
    with pytest.raises(ValidationError, match="needs a \\[match\\]"):
        DeviceSettings.model_validate({"scanners": [{"name": "s"}]})


SCANNER = InputDeviceInfo(
    "/dev/input/event5", "Honeywell 1900 Scanner", "usb-0000:01:00.0-1.2/input0", 0x0C2E, 0x0B61
)
KEYBOARD = InputDeviceInfo(
    "/dev/input/event2", "Logitech USB Keyboard", "usb-0000:01:00.0-1.1/input0", 0x046D, 0xC31C
)


def test_matching_claims_and_explains():
    settings = DeviceSettings.model_validate(
        {
            "scanners": [
                {"name": "front", "match": {"vendor_product": "0C2E:0B61", "phys": "*-1.2/*"}}
            ],
            "scales": [
                {
                    "name": "deli",
                    "protocol": "nci",
                    "serial": {"port": "/dev/serial/by-id/usb-FTDI*"},
                }
            ],
            "card_readers": [{"name": "loyalty", "match": {"name": "*RFID*"}}],
        }
    )
    present = [
        UdevDevice({"SUBSYSTEM": "input", "DEVNAME": "/dev/input/event5", "ID_VENDOR_ID": "0c2e",
                    "ID_MODEL_ID": "0b61", "NAME": SCANNER.name, "PHYS": SCANNER.phys,
                    "ID_INPUT_KEYBOARD": "1"}),
        UdevDevice({"SUBSYSTEM": "input", "DEVNAME": "/dev/input/event2", "ID_VENDOR_ID": "046d",
                    "ID_MODEL_ID": "c31c", "NAME": KEYBOARD.name, "PHYS": KEYBOARD.phys,
                    "ID_INPUT_KEYBOARD": "1"}),
        UdevDevice({"SUBSYSTEM": "tty", "DEVNAME": "/dev/ttyUSB1", "ID_BUS": "usb",
                    "ID_VENDOR_ID": "0403", "ID_MODEL_ID": "6001", "ID_SERIAL_SHORT": "A1",
                    "DEVLINKS": "/dev/serial/by-id/usb-FTDI_A1-if00-port0"}),
        UdevDevice({"SUBSYSTEM": "tty", "DEVNAME": "/dev/ttyUSB2", "ID_BUS": "usb",
                    "ID_VENDOR_ID": "067b", "ID_MODEL_ID": "2303"}),
    ]  # fmt: skip
    result = review(settings, present, known_devices(), UsbIds())
    found = {c.name: c.node for c in result.configured}
    assert found == {"front": "/dev/input/event5", "deli": "/dev/ttyUSB1", "loyalty": None}
    assert [(m.role, m.name) for m in result.missing] == [(Role.CARD_READER, "loyalty")]
    by_node = {p.device.node: p for p in result.proposals}
    keyboard = by_node["/dev/input/event2"]
    assert keyboard.role is None
    assert any("046d:c31c is not 0c2e:0b61" in r for r in keyboard.why_not)
    assert any(
        "name 'Logitech USB Keyboard' does not match '*RFID*'" in r for r in keyboard.why_not
    )
    assert by_node["/dev/ttyUSB2"].why_not == (
        "scale 'deli': port is not /dev/serial/by-id/usb-FTDI*",
    )


def test_serial_port_by_usb_identity():
    ftdi = SerialPortInfo("/dev/ttyUSB3", (), 0x0403, 0x6001, "A1B2C3")
    assert port_mismatch("usb:0403:6001", ftdi) is None
    assert port_mismatch("usb:0403:6001:A1B2C3", ftdi) is None
    assert port_mismatch("usb:0403:6001:ZZZ", ftdi) == "serial number A1B2C3 is not ZZZ"
    assert port_mismatch("usb:067b:2303", ftdi) == "vendor:product 0403:6001 is not 067b:2303"
    settings = DeviceSettings.model_validate(
        {"scales": [{"name": "deli", "protocol": "nci", "serial": {"port": "usb:0403:6001"}}]}
    )
    udev = UdevDevice(
        {"SUBSYSTEM": "tty", "DEVNAME": "/dev/ttyUSB3", "ID_BUS": "usb", "ID_VENDOR_ID": "0403",
         "ID_MODEL_ID": "6001", "ID_SERIAL_SHORT": "A1B2C3"}
    )  # fmt: skip
    result = review(settings, [udev], known_devices(), UsbIds())
    assert (result.configured[0].node, result.missing) == ("/dev/ttyUSB3", [])
    with pytest.raises(DeviceNotFound):
        resolve_port("usb:0403:6001:not-plugged-in")


def test_two_identical_scanners_told_apart_by_phys():
    other_port = InputDeviceInfo(
        SCANNER.path, SCANNER.name, "usb-0000:01:00.0-1.3/input0", 0x0C2E, 0x0B61
    )
    match = InputMatch(vendor_product="0c2e:0b61", phys="*-1.2/*")
    assert input_mismatch(match, SCANNER) == []
    assert input_mismatch(match, other_port) == [
        "phys 'usb-0000:01:00.0-1.3/input0' does not match '*-1.2/*'"
    ]


def test_listing_this_machine_does_not_fail():
    assert all(d.path.startswith("/dev/input/") for d in list_input_devices())
