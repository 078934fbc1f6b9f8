"""`gateway run` as systemd runs it: READY=1 and watchdog pings on a notify socket, the
control socket, SIGTERM keeping the sale in progress and saying offline, SIGHUP reloads."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from daemon_testkit import ADMIN, GATEWAY, NO_SYNC, Daemon, add_admin, box_config

from gateway.harness.brokers import Mosquitto


def retained(port: int, topic: str, timeout: float = 10) -> dict[str, object]:
    """The retained message on `topic` (as head office's dashboard would see it)."""
    got: list[bytes] = []
    done = threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)

    def on_message(_c: object, _u: object, message: mqtt.MQTTMessage) -> None:
        got.append(message.payload)
        done.set()

    client.on_message = on_message
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        assert done.wait(timeout), f"nothing retained on {topic}"
    finally:
        client.loop_stop()
        client.disconnect()
    payload: dict[str, object] = json.loads(got[-1])
    return payload


def test_ready_watchdog_status_and_a_private_socket(tmp_path: Path) -> None:
    config = box_config(tmp_path)
    daemon = Daemon(tmp_path, config, NO_SYNC, watchdog_usec=200_000)
    try:
        assert daemon.ready_at < 5, daemon.ready_at
        first = daemon.notify.wait_for("WATCHDOG=1")
        daemon.notify.drain(1.0)
        pings = [at for at, m in daemon.notify.messages if m == "WATCHDOG=1" and at >= first]
        assert len(pings) >= 3, daemon.notify.messages
        mode = stat.S_IMODE(os.stat(daemon.socket).st_mode)
        assert mode == 0o660, oct(mode)
        status = daemon.status()
        assert status["lane"]["state"] == "closed"  # type: ignore[index]
        assert status["journal"]["head_seq"] == 0  # type: ignore[index]
        assert "synchronised" in status["clock"]  # type: ignore[operator]
        backup = daemon.ask({"command": "backup"})
        assert backup["ok"] and Path(str(backup["path"])).exists(), backup
        on_command_line = subprocess.run(
            [str(GATEWAY), "till", "sign_on", "staff=101", "pin=472951", "--config", str(config)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert on_command_line.returncode == 2, on_command_line.stdout
        assert "never given on the command line" in on_command_line.stderr
        assert "Traceback" not in on_command_line.stderr
        till = subprocess.run(
            [str(GATEWAY), "till", "sign_on", "staff=101", "--pin-stdin", "--config", str(config)],
            input="472951\n",
            capture_output=True,
            text=True,
            check=False,
        )
        assert till.returncode == 0 and '"ok": true' in till.stdout, till.stdout + till.stderr
        shown = subprocess.run(
            [str(GATEWAY), "status", "--config", str(config)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert shown.returncode == 0, shown.stderr
        assert "lane     idle, cashier Anna" in shown.stdout
        assert "journal  head 1, acknowledged 0, backlog 1" in shown.stdout
        assert "sync     disabled" in shown.stdout
    finally:
        assert daemon.stop() == 0, daemon.output()
    assert not daemon.socket.exists()
    assert "STOPPING=1" in [m for _, m in daemon.notify.messages]
    gone = subprocess.run(
        [str(GATEWAY), "status", "--config", str(config)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert gone.returncode == 1 and "the daemon is not running" in gone.stderr
    assert "Traceback" not in gone.stderr


def test_sigterm_suspends_the_sale_and_the_state_topic_says_offline(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path / "broker").start()
    try:
        config = box_config(tmp_path)
        config.write_text(config.read_text().replace("port = 1883", f"port = {broker.port}"))
        daemon = Daemon(tmp_path, config)
        assert daemon.key("sign_on", staff="101", pin="472951")["ok"]
        assert daemon.key("scan", code="7612345001012")["ok"]
        assert daemon.key("scan", code="7612345001135", quantity="2")["ok"]
        topic = "storegate/v1/store-1/box-1/state"
        deadline = time.monotonic() + 10
        while retained(broker.port, topic).get("online") is not True:
            assert time.monotonic() < deadline, "the box never said online"
            time.sleep(0.2)
        assert daemon.stop() == 0, daemon.output()
        assert retained(broker.port, topic)["online"] is False

        again = Daemon(tmp_path, config)
        try:
            lane = again.status()["lane"]
            assert lane["state"] == "idle" and len(lane["suspended"]) == 1, lane  # type: ignore[index]
            resumed = again.key("resume", id=lane["suspended"][0])  # type: ignore[index]
            assert resumed["ok"] and resumed["lane"]["lines"] == 2, resumed  # type: ignore[index]
            paid = again.key("tender", type="cash", amount="20")
            assert paid["ok"] and paid["state"] == "idle", paid
        finally:
            assert again.stop() == 0
    finally:
        broker.kill()


def test_sighup_reloads_anomaly_thresholds_and_anomalies_reach_the_lane(tmp_path: Path) -> None:
    config = box_config(tmp_path)
    daemon = Daemon(tmp_path, config, NO_SYNC)
    try:
        for _ in range(4):
            refused = daemon.key("sign_on", staff="101", pin="000000")
            assert refused["refused"] == "wrong_pin", refused
        assert daemon.key("sign_on", staff="101", pin="472951")["ok"]
        for n in range(6):
            assert daemon.key("scan", code=f"76199999{n:04d}")["refused"] in (
                "unknown_item",
                "misread",
            )
        assert daemon.key("scan", code="7612345001012")["ok"]
        assert daemon.key("tender", type="cash", amount="5")["ok"]
        rules = [a["rule"] for a in daemon.status()["anomalies"]]  # type: ignore[index]
        assert "failed_pins" in rules
        assert "sale_above_limit" not in rules

        config.write_text(
            config.read_text().replace('sale_above = "500.00"', 'sale_above = "1.00"')
        )
        daemon.process.send_signal(1)  # SIGHUP
        deadline = time.monotonic() + 10
        while "settings reloaded" not in daemon.output():
            assert time.monotonic() < deadline, daemon.output()
            time.sleep(0.05)
        assert daemon.key("scan", code="7612345001012")["ok"]
        paid = daemon.key("tender", type="cash", amount="5")
        assert paid["ok"]
        lane_view = paid["lane"]["anomalies"]  # type: ignore[index]
        assert [a["rule"] for a in lane_view][-1] == "sale_above_limit", lane_view
    finally:
        assert daemon.stop() == 0, daemon.output()


def test_a_signed_catalog_from_head_office_applies_between_sales(tmp_path: Path) -> None:
    import base64

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    from gateway.sync.signing import sign

    key = Ed25519PrivateKey.generate()
    public = base64.b64encode(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))
    broker = Mosquitto(tmp_path / "broker").start()
    try:
        config = box_config(
            tmp_path,
            f'\n[[sync.trusted_keys]]\nkey_id = "ho-1"\npublic_key = "{public.decode()}"\n',
        )
        config.write_text(config.read_text().replace("port = 1883", f"port = {broker.port}"))
        daemon = Daemon(tmp_path, config)
        try:
            assert daemon.key("sign_on", staff="101", pin="472951")["ok"]
            first = daemon.key("scan", code="7612345001012")
            assert first["lane"]["total"] == "1.75"  # type: ignore[index]
            catalog = json.loads(
                (Path(__file__).parents[2] / "config" / "catalog.example.json").read_text()
            )
            catalog["version"] = 2
            for product in catalog["products"]:
                if product["sku"] == "MILK-1L":
                    product["price"] = "1.95"
            message = sign(
                {
                    "v": 1,
                    "kind": "catalog",
                    "store": "store-1",
                    "box": None,
                    "version": 2,
                    "issued_at": "2026-11-24T02:00:00.000Z",
                    "document": catalog,
                },
                key,
                "ho-1",
            )
            publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
            publisher.connect("127.0.0.1", broker.port)
            publisher.loop_start()
            publisher.publish(
                "storegate/v1/store-1/catalog", json.dumps(message), qos=1, retain=True
            ).wait_for_publish(10)
            publisher.loop_stop()
            publisher.disconnect()
            deadline = time.monotonic() + 15
            while "applied catalog document version 2" not in daemon.output():
                assert time.monotonic() < deadline, daemon.output()[-2000:]
                time.sleep(0.1)
            same_sale = daemon.key("scan", code="7612345001012")
            assert same_sale["lane"]["total"] == "3.50"  # type: ignore[index]
            assert daemon.key("tender", type="cash", amount="5")["ok"]
            next_sale = daemon.key("scan", code="7612345001012")
            assert next_sale["lane"]["total"] == "1.95"  # type: ignore[index]
        finally:
            assert daemon.stop() == 0, daemon.output()
    finally:
        broker.kill()


def test_cli_changes_go_through_the_running_daemon_which_stays_the_one_writer(
    tmp_path: Path,
) -> None:
    """A technician adds a cashier, loads a catalog and closes the day on a live box: each
    change is written by the daemon's main loop (it says so in its log) and takes effect
    in the running lane at once; with the daemon stopped, the same commands write the file.
    The admin approves with their PIN (no authenticator enrolled yet: bootstrap)."""
    config = box_config(tmp_path)
    add_admin(tmp_path / "storegate.db")
    by = ("--by", ADMIN[0], "--pin-stdin")
    catalog = json.loads(
        (Path(__file__).parents[2] / "config" / "catalog.example.json").read_text()
    )
    catalog["version"] = 2
    for product in catalog["products"]:
        if product["sku"] == "MILK-1L":
            product["price"] = "1.95"
    newer = tmp_path / "catalog-v2.json"
    newer.write_text(json.dumps(catalog))

    def gateway(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(GATEWAY), *args, "--config", str(config)],
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
        )

    daemon = Daemon(tmp_path, config, NO_SYNC)
    try:
        added = gateway(
            "staff", "add", "102", "Carla", "cashier", *by, stdin=f"{ADMIN[1]}\n615243\n"
        )
        assert added.returncode == 0, added.stderr
        assert "staff 102 Carla (cashier) saved" in added.stdout
        bad = gateway(
            "staff",
            "add",
            "103",
            "Dora",
            "supervisor",
            "--ceiling",
            "lots",
            *by,
            stdin=f"{ADMIN[1]}\n615243\n",
        )
        assert bad.returncode == 2 and "override ceiling 'lots' is not a number" in bad.stderr
        broken = tmp_path / "catalog-broken.json"
        broken.write_text(
            json.dumps(
                {**catalog, "version": 3, "products": [{**catalog["products"][0], "price": "-1"}]}
            )
        )
        refused = gateway("catalog", "load", str(broken), *by, stdin=f"{ADMIN[1]}\n")
        assert refused.returncode == 2 and "price" in refused.stderr, refused.stderr
        unapproved = gateway("catalog", "load", str(newer))
        assert unapproved.returncode == 1 and "--by STAFF_ID" in unapproved.stderr
        loaded = gateway("catalog", "load", str(newer), *by, stdin=f"{ADMIN[1]}\n")
        assert loaded.returncode == 0 and "catalog version 2 in force" in loaded.stdout, (
            loaded.stderr
        )
        assert daemon.key("sign_on", staff="102", pin="615243")["ok"]
        scanned = daemon.key("scan", code="7612345001012")
        assert scanned["lane"]["total"] == "1.95"  # type: ignore[index]
        assert daemon.key("tender", type="cash", amount="2")["ok"]
        assert daemon.key("close_shift", counted="1.95")["ok"]
        z = gateway("report", "z", "--staff", "201", "--pin-stdin", stdin="836104\n")
        assert z.returncode == 0 and "Z REPORT 0001" in z.stdout, z.stderr
        again = gateway("report", "z", "--staff", "201", "--pin-stdin", stdin="836104\n")
        assert again.returncode == 1 and "gateway report z:" in again.stderr
        log = daemon.output()
        assert "staff 102 changed through the control socket" in log, log[-2000:]
        assert "catalog version 2 loaded through the control socket" in log, log[-2000:]
    finally:
        assert daemon.stop() == 0, daemon.output()
    offline = gateway("staff", "add", "104", "Emil", "cashier", *by, stdin=f"{ADMIN[1]}\n716354\n")
    assert offline.returncode == 0 and "staff 104 Emil (cashier) saved" in offline.stdout
    bad_offline = gateway(
        "staff",
        "add",
        "103",
        "Dora",
        "supervisor",
        "--ceiling",
        "lots",
        *by,
        stdin=f"{ADMIN[1]}\n615243\n",
    )
    assert (bad_offline.returncode, bad_offline.stderr) == (bad.returncode, bad.stderr)
    refused_offline = gateway("catalog", "load", str(broken))
    assert refused_offline.returncode == 2
    assert "staff 104" not in daemon.output()


def test_a_reader_holding_the_file_open_loses_nothing_across_a_restart(tmp_path: Path) -> None:
    """Another process keeps a read transaction open on the box database (a technician's
    `sqlite3` shell, a report) while the daemon suspends a sale at SIGTERM and starts
    again: WAL cannot checkpoint past that reader, and still nothing is lost."""
    import sqlite3

    config = box_config(tmp_path)
    reader = sqlite3.connect(tmp_path / "storegate.db", isolation_level=None)
    reader.execute("BEGIN")
    assert reader.execute("SELECT count(*) FROM journal_record").fetchone() == (0,)
    daemon = Daemon(tmp_path, config, NO_SYNC)
    try:
        assert daemon.key("sign_on", staff="101", pin="472951")["ok"]
        assert daemon.key("scan", code="7612345001012")["ok"]
        assert daemon.key("tender", type="cash", amount="2")["ok"]
        assert daemon.key("scan", code="7612345001135", quantity="2")["ok"]
    finally:
        assert daemon.stop() == 0, daemon.output()
    # the reader's snapshot is still the one from before the daemon wrote anything
    assert reader.execute("SELECT count(*) FROM journal_record").fetchone() == (0,)
    again = Daemon(tmp_path, config, NO_SYNC)
    try:
        lane = again.status()["lane"]
        assert lane["state"] == "idle" and len(lane["suspended"]) == 1, lane  # type: ignore[index]
        assert again.status()["journal"]["head_seq"] == 2  # type: ignore[index]  # shift, sale
    finally:
        assert again.stop() == 0, again.output()
        reader.close()
    verified = subprocess.run(
        [str(GATEWAY), "journal", "verify", "--config", str(config)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
