"""Zero-touch enrolment end to end: the real `gateway enrol` on a box without credentials,
the real `cloud boxes approve|list|revoke`, the shipped Mosquitto configuration with the
access file `cloud broker acl --enrol` wrote and the dynamic-security plugin, and then the
box's sync (settings as `load_settings` lays the kept identity over them) delivering its
journal to `cloud ingest` as itself."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from broker_testkit import ROOT, ShippedBroker
from cloud_testkit import Box, assert_exactly_once, cloud_cli, eventually, start_ingest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from devices.simulators.printer import NetworkPrinterSimulator
from gateway.broker_identity import identity_path
from gateway.harness.brokers import free_port
from gateway.settings import load_settings
from gateway.sync.enrolment import EnrolmentError, open_answer
from gateway.sync.settings import TrustedKey
from gateway.sync.signing import TrustedKeys

ENROL_PASSWORD = "shop-image-enrol-2026"
STORE, BOX = "store-7", "box-2"


@pytest.fixture
def shipped(tmp_path: Path) -> Iterator[ShippedBroker]:
    with ShippedBroker(tmp_path / "broker", [], enrol_password=ENROL_PASSWORD) as broker:
        yield broker


def signing_key(tmp_path: Path) -> tuple[Path, str]:
    status, _, err = cloud_cli(
        "keys", "generate", "--dir", str(tmp_path / "keys"), "--key-id", "ho-test"
    )
    assert status == 0, err
    return tmp_path / "keys" / "ho-test.pem", (tmp_path / "keys" / "ho-test.pub").read_text()


def box_config(
    tmp_path: Path, name: str, broker: ShippedBroker, public: str, printer: str = ""
) -> Path:
    """A fresh box's settings: the enrolment password and head office's key, no identity
    (and a receipt printer at `printer`, a tcp:// URI, when given)."""
    data = tmp_path / name
    data.mkdir()
    path = data / "gateway.toml"
    path.write_text(
        f"""[paths]
data_dir = "{data}"

[mqtt]
host = "localhost"
port = {broker.password_port}
root_topic = "{ROOT}"
ca_file = "{broker.tls / "device-ca.pem"}"

[enrol]
password = "{ENROL_PASSWORD}"
retry_s = 0.2

[screens]
port = {free_port()}

[[sync.trusted_keys]]
key_id = "ho-test"
public_key = "{public.strip()}"
"""
        + (f'\n[[devices.printers]]\nname = "receipt"\nuri = "{printer}"\n' if printer else "")
    )
    return path


def start_enrol(config: Path, *extra: str) -> tuple[subprocess.Popen[str], str]:
    """`gateway enrol` running; its pairing code (the first line it prints)."""
    process = subprocess.Popen(
        [
            *(str(Path(sys.executable).parent / "gateway"), "enrol", "--config", str(config)),
            *("--wait", "60", *extra),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.startswith("pairing code: "), line + (
        process.stderr.read() if process.stderr else ""
    )
    return process, line.split(": ", 1)[1].strip()


def doctor(data: Path) -> str:
    """What `gateway doctor` says about the box's broker identity (its other checks are
    not this test's business)."""
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "gateway"),
            "doctor",
            "--config",
            str(data / "gateway.toml"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return "\n".join(line for line in done.stdout.splitlines() if " identity " in line)


def test_a_box_is_enrolled_connects_as_itself_and_is_revoked(
    tmp_path: Path, db_url: str, shipped: ShippedBroker
) -> None:
    pem, public = signing_key(tmp_path)
    office = shipped.office_args()
    db = ("--db", db_url)
    assert cloud_cli("stores", "add", STORE, *db)[0] == 0
    # A second box waiting for enrolment, with the same shared identity, listens to every
    # answer topic it may read; it must learn nothing it can use.
    rival = shipped.password_probe("storegate-enrol", ENROL_PASSWORD, "rival")
    # The enrolment identity may read answers (sealed) and nothing else.
    codes = rival.subscribe(
        f"{ROOT}/_enrol/+/answer",
        f"{ROOT}/_enrol/+/request",
        f"{ROOT}/#",
        f"{ROOT}/{STORE}/{BOX}/cmd",
        f"{ROOT}/_office/state",
    )
    assert codes[0] == 1 and all(c >= 0x80 for c in codes[1:]), codes
    # ... and may write nothing a box or head office reads.
    watcher = shipped.probe("storegate-office", "cloud-office-watch", office=True)
    assert watcher.subscribe(f"{ROOT}/+/+/journal", f"{ROOT}/+/+/events") == [1, 1]
    for topic in (f"{ROOT}/{STORE}/{BOX}/journal", f"{ROOT}/store-1/box-1/events"):
        rival.client.publish(topic, "forged", qos=1).wait_for_publish(5)
    time.sleep(1.0)  # what was refused must stay away: give it time to (not) arrive
    assert watcher.seen == []
    watcher.close()
    printer = NetworkPrinterSimulator().start()
    process, code = start_enrol(box_config(tmp_path, "box", shipped, public, printer.uri))
    try:
        # The code on the receipt printer, large, with a QR code (a raster image) and how
        # head office approves it.
        assert eventually(lambda: b"cloud boxes approve" in printer.printed, 10)
        assert code.encode() in printer.printed and b"\x1dv0" in printer.printed
        # ... and on the cashier screen, where the kiosk browser looks (with a QR code).
        port = load_settings(tmp_path / "box" / "gateway.toml").screens.port
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as page:
            html = page.read().decode()
        assert f'<div class="code">{code}</div>' in html and "<svg" in html

        assert f"waiting for enrolment with pairing code {code}" in doctor(tmp_path / "box")

        status, out, _ = cloud_cli("boxes", "pending", *office)
        assert status == 0 and code in out

        # Bad input: a clear error, exit 2, nothing changed.
        status, _, err = cloud_cli(
            "boxes", "approve", "12-34", "--store", STORE, "--box", BOX, "--key", str(pem),
            *db, *office,
        )  # fmt: skip
        assert status == 2 and "is not a pairing code" in err and "Traceback" not in err
        status, _, err = cloud_cli(
            "boxes", "approve", "0000-0000", "--store", STORE, "--box", BOX, "--key", str(pem),
            *db, *office,
        )  # fmt: skip
        assert status == 2 and "no box is waiting with pairing code 0000-0000" in err
        status, _, err = cloud_cli(
            "boxes", "approve", code, "--store", "nowhere", "--box", BOX, "--key", str(pem),
            *db, *office,
        )  # fmt: skip
        assert status == 2 and "unknown store: nowhere" in err

        # Approved, typed in lower case without the dash.
        status, out, err = cloud_cli(
            "boxes", "approve", code.replace("-", "").lower(), "--store", STORE, "--box", BOX,
            "--key", str(pem), *db, *office,
        )  # fmt: skip
        assert status == 0, err
        assert f"as {STORE}/{BOX}" in out
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        assert f"enrolled as {STORE}/{BOX}" in out
    finally:
        printer.stop()
        if process.poll() is None:
            process.kill()
    data = tmp_path / "box"
    kept = identity_path(data)
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    identity = json.loads(kept.read_text())
    assert (identity["store"], identity["box"], identity["username"]) == (
        STORE,
        BOX,
        f"{STORE}/{BOX}",
    )
    assert not (data / "enrolment-pending.json").exists()
    assert f"enrolled as {STORE}/{BOX}" in doctor(data)

    # The rival reads the retained answer (the boxes share one client id, so the
    # enrolling box's connection took the rival's: it connects again): sealed to the
    # enrolling box's key, neither its own key nor reading it as text gives the password.
    assert eventually(lambda: rival.drops >= 1, 5)
    rival.connect()
    assert rival.subscribe(f"{ROOT}/_enrol/+/answer") == [1]
    assert eventually(lambda: any("/answer " in s for s in rival.seen), 5)
    answer = next(s for s in rival.seen if "/answer " in s).split(" ", 1)[1]
    assert identity["password"] not in answer
    trusted = TrustedKeys([TrustedKey(key_id="ho-test", public_key=public.strip())])
    with pytest.raises(EnrolmentError, match="sealed to another key"):
        open_answer(
            answer.encode(),
            request_id=json.loads(answer)["request_id"],
            key=X25519PrivateKey.generate(),
            trusted=trusted,
        )
    rival.close()

    # The spent code is refused, and so is a second approval of the box.
    status, _, err = cloud_cli(
        "boxes", "approve", code, "--store", STORE, "--box", "box-9", "--key", str(pem),
        *db, *office,
    )  # fmt: skip
    assert status == 2 and f"pairing code {code} was spent" in err
    status, out, _ = cloud_cli("boxes", "list", *db)
    assert status == 0 and f"{STORE}/{BOX}  enrolled" in out

    # The box as its settings now say: its own identity, over the password listener,
    # delivering its journal to head office's ingest.
    settings = load_settings(data / "gateway.toml")
    assert (settings.store.id, settings.store.box) == (STORE, BOX)
    assert settings.mqtt.username == f"{STORE}/{BOX}" and settings.mqtt.password is not None
    worker = start_ingest(db_url, shipped.office_port, broker=shipped.office_options())
    box = Box(
        tmp_path / "box-journal",
        shipped.password_port,
        store=settings.store.id,
        box=settings.store.box,
        host="localhost",
        username=settings.mqtt.username,
        password=settings.mqtt.password.get_secret_value(),
        ca_file=str(settings.mqtt.ca_file),
    )
    box.append(50)
    box.start()
    try:
        assert eventually(lambda: box.acknowledged() == 50, 30)
        assert_exactly_once(db_url, box)
    finally:
        box.stop()
        worker.stop()

    # Revoked: the broker drops the box at once and refuses it from then on.
    login = (f"{STORE}/{BOX}", settings.mqtt.password.get_secret_value())
    victim = shipped.password_probe(*login)
    # Its own topics only: a backup sent back to it, not to another box.
    codes = victim.subscribe(f"{ROOT}/{STORE}/{BOX}/restore/+", f"{ROOT}/store-1/box-1/restore/+")
    assert codes[0] == 1 and codes[1] >= 0x80, codes
    status, out, err = cloud_cli("boxes", "revoke", f"{STORE}/{BOX}", *db, *office)
    assert status == 0, err
    assert eventually(lambda: victim.drops == 1, 10)
    with pytest.raises(ConnectionRefusedError):
        victim.connect()
    status, _, err = cloud_cli("boxes", "revoke", f"{STORE}/{BOX}", *db, *office)
    assert status == 2 and "revoked already" in err
    status, out, _ = cloud_cli("boxes", "list", *db)
    assert f"{STORE}/{BOX}  revoked" in out

    # Its replacement enrols under the same name (a new key, a new code).
    process, fresh = start_enrol(box_config(tmp_path, "replacement", shipped, public), "--no-print")
    try:
        assert fresh != code
        status, _, err = cloud_cli(
            "boxes", "approve", fresh, "--store", STORE, "--box", BOX, "--key", str(pem),
            *db, *office,
        )  # fmt: skip
        assert status == 0, err
        assert process.wait(60) == 0
    finally:
        if process.poll() is None:
            process.kill()
    replaced = load_settings(tmp_path / "replacement" / "gateway.toml")
    assert replaced.mqtt.password is not None
    shipped.password_probe(f"{STORE}/{BOX}", replaced.mqtt.password.get_secret_value()).close()
    status, out, _ = cloud_cli("boxes", "list", *db)
    assert f"{STORE}/{BOX}  enrolled" in out and fresh in out


def test_enrolment_refuses_bad_settings_with_what_to_fix(
    tmp_path: Path, shipped: ShippedBroker
) -> None:
    """No enrolment password, a wrong one, settings naming another store than the one
    the box was enrolled as: each said with its fix, no traceback."""
    _, public = signing_key(tmp_path)
    gateway = str(Path(sys.executable).parent / "gateway")
    config = box_config(tmp_path, "box", shipped, public)
    config.write_text(config.read_text().replace(f'password = "{ENROL_PASSWORD}"\n', ""))
    done = subprocess.run(
        [gateway, "enrol", "--config", str(config), "--wait", "1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "[enrol] password is not set" in done.stderr
    quiet = subprocess.run(
        [gateway, "enrol", "--config", str(config), "--if-needed"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert quiet.returncode == 0 and quiet.stdout == ""

    # A wrong enrolment password: refused by the broker, said so.
    config.write_text(
        config.read_text().replace("[enrol]\n", '[enrol]\npassword = "wrong-one-1234"\n')
    )
    done = subprocess.run(
        [gateway, "enrol", "--config", str(config), "--no-print", "--wait", "10"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and "refused the enrolment identity" in done.stderr
    assert "Traceback" not in done.stderr

    # An identity kept beside settings that name another store: refused, not overridden.
    data = tmp_path / "box"
    identity_path(data).write_text(
        json.dumps({"store": STORE, "box": BOX, "username": f"{STORE}/{BOX}", "password": "x"})
    )
    config.write_text(config.read_text() + '\n[store]\nid = "store-1"\n')
    done = subprocess.run(
        [gateway, "config", "check", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "but this box was enrolled as 'store-7'" in done.stdout + done.stderr
