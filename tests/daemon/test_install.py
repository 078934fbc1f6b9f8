"""The install in a scratch root: what it creates, idempotence, uninstall keeping data,
purge, and the units passing `systemd-analyze verify`."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from daemon_testkit import GATEWAY, ROOT, append_records

UNITS = (
    "storegate.service",
    "storegate-enrol.service",
    "storegate-cloud.service",
    "storegate-backup.service",
    "storegate-backup.timer",
    "storegate-update.service",
    "storegate-update.path",
)


def gateway(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(GATEWAY), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **(env or {})},
    )


def tree(root: Path) -> dict[str, bytes | str]:
    """Every path under root with its content (files) or target (links): a full snapshot."""
    snapshot: dict[str, bytes | str] = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        if path.is_symlink():
            snapshot[key] = f"-> {path.readlink()}"
        elif path.is_file():
            snapshot[key] = path.read_bytes()
        else:
            snapshot[key] = f"dir {path.stat().st_mode:o}"
    return snapshot


def install(root: Path) -> subprocess.CompletedProcess[str]:
    return gateway("install", "--root", str(root), "--venv-from", str(Path(sys.prefix)))


def test_install_creates_user_dirs_units_rules_config_and_enables(tmp_path: Path) -> None:
    done = install(tmp_path)
    assert done.returncode == 0, done.stderr
    passwd = (tmp_path / "etc/passwd").read_text()
    assert passwd.startswith("storegate:") or "\nstoregate:" in passwd
    group = (tmp_path / "etc/group").read_text()
    for name in ("input", "dialout", "lp", "storegate-tech"):
        line = next(g for g in group.splitlines() if g.startswith(f"{name}:"))
        assert "storegate" in line.split(":")[3].split(","), line
    for folder in ("var/lib/storegate", "var/lib/storegate/backups", "etc/storegate"):
        assert (tmp_path / folder).is_dir()
    for unit in UNITS:
        assert (tmp_path / "etc/systemd/system" / unit).read_text() == (
            ROOT / "systemd" / unit
        ).read_text()
    assert (tmp_path / "etc/systemd/system/multi-user.target.wants/storegate.service").is_symlink()
    assert (tmp_path / "etc/systemd/system/timers.target.wants/storegate-backup.timer").is_symlink()
    assert (tmp_path / "etc/udev/rules.d/70-storegate.rules").exists()
    assert (tmp_path / "opt/storegate/venv").resolve() == Path(sys.prefix).resolve()
    # The units run /opt/storegate/current, which the updater switches (docs/install.md).
    assert os.readlink(tmp_path / "opt/storegate/current") == "venv"
    wants = tmp_path / "etc/systemd/system/multi-user.target.wants"
    assert (wants / "storegate-update.path").is_symlink()
    config = str(tmp_path / "etc/storegate/gateway.toml")
    # The starter config names the live /etc/storegate/catalog.json; in this scratch root
    # the catalog the install wrote is under tmp_path.
    check = gateway("config", "check", "--config", config)
    assert check.returncode == 2 and "paths.catalog: /etc/storegate/catalog.json" in check.stderr
    catalog = tmp_path / "etc/storegate/catalog.json"
    assert catalog.exists()
    check = gateway(
        "config", "check", "--config", config, env={"STOREGATE_PATHS__CATALOG": str(catalog)}
    )
    assert check.returncode == 0, check.stderr


def test_second_install_changes_nothing_and_keeps_edited_config(tmp_path: Path) -> None:
    assert install(tmp_path).returncode == 0
    config = tmp_path / "etc/storegate/gateway.toml"
    config.write_text(config.read_text().replace('name = "Corner Shop"', 'name = "Edited"'))
    before = tree(tmp_path)
    again = install(tmp_path)
    assert again.returncode == 0, again.stderr
    assert "nothing to change" in again.stdout
    assert tree(tmp_path) == before


def test_uninstall_keeps_data_unless_purged(tmp_path: Path) -> None:
    assert install(tmp_path).returncode == 0
    sale_data = tmp_path / "var/lib/storegate/storegate.db"
    sale_data.write_bytes(b"precious")
    done = gateway("uninstall", "--root", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "etc/systemd/system/storegate.service").exists()
    assert not (tmp_path / "etc/systemd/system/multi-user.target.wants/storegate.service").exists()
    assert not (tmp_path / "opt/storegate").exists()
    assert sale_data.read_bytes() == b"precious"
    assert (tmp_path / "etc/storegate/gateway.toml").exists()
    unreadable = gateway("uninstall", "--root", str(tmp_path), "--purge")
    assert unreadable.returncode == 1 and "cannot read the journal" in unreadable.stderr
    assert sale_data.read_bytes() == b"precious"  # nobody can say head office has it all
    purge = gateway("uninstall", "--root", str(tmp_path), "--purge", "--force")
    assert purge.returncode == 0, purge.stderr
    assert not (tmp_path / "var/lib/storegate").exists()
    assert "storegate:" not in (tmp_path / "etc/passwd").read_text()


def test_purge_is_refused_while_head_office_lacks_records(tmp_path: Path) -> None:
    from gateway.database import open_database
    from gateway.journal import Journal

    assert install(tmp_path).returncode == 0
    database = tmp_path / "var/lib/storegate/storegate.db"
    append_records(database, 3)
    refused = gateway("uninstall", "--root", str(tmp_path), "--purge")
    assert refused.returncode == 1, refused.stdout
    assert "holds 3 record(s) head office has not acknowledged" in refused.stderr
    assert "--force" in refused.stderr and "Traceback" not in refused.stderr
    assert database.exists() and (tmp_path / "etc/systemd/system/storegate.service").exists()

    db = open_database(database)
    journal = Journal(db)
    journal.acknowledge(journal.state().head_seq)
    db.conn.close()
    purge = gateway("uninstall", "--root", str(tmp_path), "--purge")
    assert purge.returncode == 0, purge.stderr
    assert not database.exists()


def test_a_device_configured_by_its_kernel_name_is_warned_about(tmp_path: Path) -> None:
    assert install(tmp_path).returncode == 0
    config = tmp_path / "etc/storegate/gateway.toml"
    config.write_text(
        config.read_text()
        + """
[[devices.scales]]
name = "deli-scale"
protocol = "toledo8217"
serial = { port = "/dev/ttyUSB7" }
"""
    )
    done = install(tmp_path)
    assert done.returncode == 0, done.stderr
    assert "warning: deli-scale is configured as /dev/ttyUSB7" in done.stderr
    assert "usb:VID:PID:SERIAL" in done.stderr  # no adapter there now: what to write
    rules = (tmp_path / "etc/udev/rules.d/71-storegate-devices.rules").read_text()
    assert 'KERNEL=="ttyUSB7"' in rules and 'SYMLINK+="storegate/deli-scale"' in rules


def test_device_rules_follow_the_configured_devices(tmp_path: Path) -> None:
    assert install(tmp_path).returncode == 0
    config = tmp_path / "etc/storegate/gateway.toml"
    config.write_text(
        config.read_text()
        + """
[[devices.scales]]
name = "deli-scale"
protocol = "toledo8217"
serial = { port = "/dev/serial/by-id/usb-FTDI_FT232R-if00-port0" }

[[devices.scanners]]
name = "front-scanner"
kind = "wedge"
match = { vendor_product = "0c2e:0b61" }

[[devices.scanners]]
name = "back-scanner"
kind = "serial"
serial = { port = "usb:0403:6001:A1B2C3" }

[[devices.printers]]
name = "receipt"
uri = "usb://04b8:0202"
"""
    )
    assert install(tmp_path).returncode == 0
    rules = (tmp_path / "etc/udev/rules.d/71-storegate-devices.rules").read_text()
    assert 'SYMLINK=="serial/by-id/usb-FTDI_FT232R-if00-port0"' in rules
    assert 'SYMLINK+="storegate/deli-scale"' in rules
    assert 'ATTRS{idVendor}=="0c2e", ATTRS{idProduct}=="0b61"' in rules
    assert 'SYMLINK+="storegate/front-scanner"' in rules
    assert 'ATTR{idVendor}=="04b8", ATTR{idProduct}=="0202", GROUP="lp"' in rules
    assert 'SYMLINK+="storegate/receipt"' in rules
    assert (
        'SUBSYSTEM=="tty", ATTRS{idVendor}=="0403", ATTRS{idProduct}=="6001", '
        'ATTRS{serial}=="A1B2C3", GROUP="dialout"'
    ) in rules


def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    """verify where systemd-analyze exists (CI's Debian has it); else at least the sections."""
    # The units name /opt/storegate/venv; point them at this venv so verify can check that
    # the commands exist, and change nothing else.
    for unit in UNITS:
        text = (ROOT / "systemd" / unit).read_text()
        text = text.replace("/opt/storegate/current", sys.prefix)
        (tmp_path / unit).write_text(text.replace("/opt/storegate/venv", sys.prefix))
    if shutil.which("systemd-analyze") is None:
        for unit in UNITS:
            sections = re.findall(r"^\[(\w+)\]$", (tmp_path / unit).read_text(), re.M)
            assert sections[0] == "Unit" and set(sections) <= {
                "Unit",
                "Service",
                "Timer",
                "Install",
            }, unit
        return
    done = subprocess.run(
        ["systemd-analyze", "verify", *(str(tmp_path / u) for u in UNITS)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "", done.stderr


def test_service_unit_has_the_supervision_and_hardening_the_issue_asks() -> None:
    text = (ROOT / "systemd" / "storegate.service").read_text()
    for line in (
        "Type=notify",
        "WatchdogSec=30",
        "Restart=on-failure",
        "User=storegate",
        "SupplementaryGroups=input dialout lp storegate-tech",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/storegate",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "DeviceAllow=char-input rw",
    ):
        assert line in text.splitlines(), line


def test_building_the_venv_shows_progress_and_an_offline_pip_says_why(tmp_path: Path) -> None:
    """The real venv build (no --venv-from) with pip kept off the network (PIP_NO_INDEX,
    pip's own setting): each step is announced before it runs, pip's lines are passed on,
    and the failure is one sentence naming pip's error."""
    done = gateway("install", "--root", str(tmp_path), env={"PIP_NO_INDEX": "1"})
    assert done.returncode == 1, done.stdout
    lines = done.stderr.splitlines()
    creating = next(i for i, x in enumerate(lines) if "1/2 creating the virtual environment" in x)
    installing = next(i for i, x in enumerate(lines) if "2/2 installing storegate" in x)
    assert creating < installing < len(lines) - 2
    assert any(x.startswith("[storegate install]   ") for x in lines[installing + 1 :])
    assert "installing storegate" in lines[-2] and "No matching distribution" in lines[-2]
    assert "Traceback" not in done.stderr
    assert (tmp_path / "opt/storegate/venv/bin/python").exists()
    assert not (tmp_path / "opt/storegate/venv/.storegate-source").exists()  # retried next time
