"""`gateway doctor` against real parts: a simulated scale and printer, a real Mosquitto, a
TLS certificate about to expire, a journal that verifies and then one that does not."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from daemon_testkit import (
    EXAMPLE_CATALOG,
    GATEWAY,
    NO_SYNC,
    Daemon,
    append_records,
    write_config,
)

from devices.simulators.printer import NetworkPrinterSimulator
from devices.simulators.scale import ScaleSimulator
from gateway.harness.brokers import Mosquitto


def certificate(path: Path, days_left: int) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - timedelta(days=300))
        .not_valid_after(now + timedelta(days=days_left))
        .sign(key, hashes.SHA256())
    )
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def doctor(config: Path) -> tuple[int, dict[str, list[str]]]:
    done = subprocess.run(
        [str(GATEWAY), "doctor", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    lines: dict[str, list[str]] = {}
    for line in done.stdout.splitlines():
        if line[:4] in ("OK  ", "WARN", "FAIL"):
            level, check = line.split()[:2]
            lines.setdefault(check, []).append(f"{level} {line}")
    return done.returncode, lines


def test_doctor_names_each_problem_with_its_fix(tmp_path: Path) -> None:
    scale = ScaleSimulator("toledo8217", weight="0.352", pace=False).start()
    printer = NetworkPrinterSimulator().start()
    broker = Mosquitto(tmp_path / "broker").start()
    try:
        certificate(tmp_path / "ca.pem", days_left=10)
        config = write_config(
            tmp_path,
            f"""
[[devices.scales]]
name = "deli-scale"
protocol = "toledo8217"
serial = {{ port = "{scale.path}" }}

[[devices.printers]]
name = "receipt"
uri = "{printer.uri}"
""",
        )
        text = config.read_text().replace("port = 1883", f"port = {broker.port}")
        text = text.replace(
            '# ca_file = "/etc/storegate/tls/ca.pem"', f'ca_file = "{tmp_path / "ca.pem"}"'
        )
        config.write_text(text)
        append_records(tmp_path / "storegate.db", 5)
        printer.flags.add("paper_out")
        status, found = doctor(config)
        assert status == 1
        assert (
            found["device"][0].startswith("OK") and "answers (stable, 0.352" in found["device"][0]
        )
        assert found["printer"][0].startswith("FAIL") and "paper out" in found["printer"][0]
        assert any(line.startswith("WARN") and "expires in" in line for line in found["tls"])
        assert found["journal"][0].startswith("OK") and "5 records checked" in found["journal"][0]
        assert found["backup"][0].startswith("WARN")
        # TLS is configured but the broker speaks plain MQTT: the handshake must fail.
        assert found["broker"][0].startswith("FAIL") and "TLS" in found["broker"][0]

        printer.flags.discard("paper_out")
        config.write_text(text.replace(f'ca_file = "{tmp_path / "ca.pem"}"', ""))
        assert (
            subprocess.run(
                [str(GATEWAY), "backup", "--config", str(config)], capture_output=True, check=False
            ).returncode
            == 0
        )
        status, found = doctor(config)
        assert found["printer"][0].startswith("OK")
        assert found["broker"][0].startswith("OK")
        assert found["backup"][0].startswith("OK")

        with sqlite3.connect(tmp_path / "storegate.db") as conn:
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type='trigger' AND tbl_name='journal_record'"
            ).fetchall():
                conn.execute(f"DROP TRIGGER {name}")
            conn.execute("UPDATE journal_record SET kind = 'refund' WHERE seq = 2")
        scale.stop()
        status, found = doctor(config)
        assert status == 1
        assert found["journal"][0].startswith("FAIL") and "record 2" in found["journal"][0]
        assert found["device"][0].startswith("FAIL")
    finally:
        broker.kill()
        printer.stop()
        scale.stop()


def test_doctor_fails_a_missing_catalog_and_a_taken_screens_port(tmp_path: Path) -> None:
    import socket

    gone = tmp_path / "catalog.json"
    config = write_config(tmp_path)
    text = config.read_text().replace(
        '# catalog = "/etc/storegate/catalog.json"', f'catalog = "{gone}"'
    )
    config.write_text(text)
    with socket.socket() as holder:  # another program on the screens' port
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        config.write_text(re.sub(r"(\[screens\][^\[]*?)port = \d+", rf"\g<1>port = {port}", text))
        status, found = doctor(config)
        assert status == 1
        assert (
            found["catalog"][0].startswith("FAIL")
            and f"{gone}, which does not exist" in (found["catalog"][0])
        )
        assert found["screens"][0].startswith("FAIL"), found["screens"]
        assert (
            f"127.0.0.1:{port}" in found["screens"][0]
            and "another program" in (found["screens"][0])
        )
        # no device and no printer configured: each is a WARN, not an OK
        assert found["device"][0].startswith("WARN") and "no scanner" in found["device"][0]
        assert found["printer"][0].startswith("WARN"), found["printer"]

        run = subprocess.run(
            [str(GATEWAY), "run", "--config", str(config)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={**os.environ, "STOREGATE_SYNC__ENABLED": "false"},
        )
        assert run.returncode != 0
        assert f"paths.catalog names {gone}, which does not exist" in run.stderr, run.stderr
        assert "Traceback" not in run.stderr
    status, found = doctor(config)  # the port is free again
    assert found["screens"][0].startswith("OK") and "is free" in found["screens"][0]
    gone.write_text(EXAMPLE_CATALOG.read_text())
    status, found = doctor(config)
    assert found["catalog"][0].startswith("OK"), found["catalog"]

    # Once the database holds a catalog, the daemon sells with it and says the file is gone.
    first = Daemon(tmp_path, config, NO_SYNC)
    assert first.stop() == 0, first.output()
    gone.unlink()
    daemon = Daemon(tmp_path, config, NO_SYNC)
    try:
        status, found = doctor(config)
        assert found["catalog"][0].startswith("FAIL"), found["catalog"]
    finally:
        assert daemon.stop() == 0, daemon.output()
    assert f"paths.catalog names {gone}, which does not exist; selling with" in daemon.output()
