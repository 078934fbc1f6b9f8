"""The shipped Mosquitto config (config/mosquitto/) with TLS and the generated ACL: each
box is confined to its own subtree, and box -> broker -> `cloud ingest` works through it."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import pwd
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from cloud_testkit import Box, assert_exactly_once, eventually, start_ingest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from paho.mqtt.enums import CallbackAPIVersion

from cloud.broker import acl_text
from cloud.ingest import BrokerOptions
from gateway.harness.brokers import Mosquitto

SHIPPED = Path(__file__).parents[2] / "config" / "mosquitto"
BOXES = ["store-1/box-1", "store-2/box-1"]


Issuer = tuple[ec.EllipticCurvePrivateKey, x509.Certificate]


def _cert(directory: Path, name: str, issuer: Issuer | None, server: bool = False) -> Issuer:
    """Write `name`.pem/.key (self-signed when no issuer) and return the key and cert."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    signer_key, signer_name = (key, subject) if issuer is None else (issuer[0], issuer[1].subject)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(signer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    cert = builder.sign(signer_key, hashes.SHA256())
    safe = name.replace("/", "_")
    (directory / f"{safe}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / f"{safe}.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return key, cert


class ShippedBroker(Mosquitto):
    """Mosquitto run with config/mosquitto/mosquitto.conf, paths and port made local."""

    def __init__(self, workdir: Path, tls: Path, acl: Path) -> None:
        super().__init__(workdir)
        self.tls, self.acl = tls, acl

    def config_text(self) -> str:
        text = (SHIPPED / "mosquitto.conf").read_text()
        swaps = {
            "listener 8883": f"listener {self.port} 127.0.0.1",
            "/etc/mosquitto/storegate/device-ca.pem": str(self.tls / "ca.pem"),
            "/etc/mosquitto/storegate/broker.pem": str(self.tls / "localhost.pem"),
            "/etc/mosquitto/storegate/broker.key": str(self.tls / "localhost.key"),
            "/etc/mosquitto/storegate/acl": str(self.acl),
            "/var/lib/mosquitto/": f"{self.workdir}/",
            "log_dest syslog": f"log_dest file {self.workdir}/mosquitto.log",
            "persistence true": "persistence false",
        }
        for old, new in swaps.items():
            assert old in text, f"shipped config lost {old!r}"
            text = text.replace(old, new)
        return f"user {pwd.getpwuid(os.getuid()).pw_name}\n" + text


@pytest.fixture
def shipped(tmp_path: Path) -> Iterator[tuple[ShippedBroker, Path]]:
    tls = tmp_path / "tls"
    tls.mkdir()
    issuer = _cert(tls, "ca", None)
    _cert(tls, "localhost", issuer, server=True)
    for name in [*BOXES, "storegate-office"]:
        _cert(tls, name, issuer)
    acl = tmp_path / "acl"
    acl.write_text(acl_text("storegate/v1", BOXES))
    broker = ShippedBroker(tmp_path / "broker", tls, acl)
    with broker:
        yield broker, tls


def _client(port: int, tls: Path, name: str) -> tuple[mqtt.Client, list[str]]:
    seen: list[str] = []
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        protocol=mqtt.MQTTv5,
        client_id=f"probe-{name.replace('/', '-')}",
    )
    safe = name.replace("/", "_")
    client.tls_set(
        ca_certs=str(tls / "ca.pem"),
        certfile=str(tls / f"{safe}.pem"),
        keyfile=str(tls / f"{safe}.key"),
        cert_reqs=ssl.CERT_REQUIRED,
    )
    client.on_message = lambda c, u, m: seen.append(f"{m.topic} {m.payload.decode()}")
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client, seen


def test_acl_confines_each_box_to_its_own_subtree(shipped: tuple[ShippedBroker, Path]) -> None:
    broker, tls = shipped
    office, office_seen = _client(broker.port, tls, "storegate-office")
    box, box_seen = _client(broker.port, tls, "store-1/box-1")
    try:
        office.subscribe("$share/ingest/storegate/v1/+/+/journal", qos=1)
        box.subscribe(
            [
                ("storegate/v1/store-1/catalog", 1),
                ("storegate/v1/store-2/catalog", 1),
                ("storegate/v1/store-2/box-1/ack", 1),
            ]
        )
        time.sleep(0.5)
        box.publish("storegate/v1/store-1/box-1/journal", "mine", qos=1).wait_for_publish(5)
        box.publish("storegate/v1/store-2/box-1/journal", "forged", qos=1).wait_for_publish(5)
        box.publish("storegate/v1/store-1/box-2/journal", "neighbour", qos=1)
        office.publish("storegate/v1/store-1/catalog", "c1", qos=1)
        office.publish("storegate/v1/store-2/catalog", "c2", qos=1)
        office.publish("storegate/v1/store-2/box-1/ack", "a2", qos=1)
        assert eventually(lambda: "storegate/v1/store-1/catalog c1" in box_seen, 5)
        time.sleep(1.0)
        assert office_seen == ["storegate/v1/store-1/box-1/journal mine"]
        assert box_seen == ["storegate/v1/store-1/catalog c1"]
    finally:
        for client in (office, box):
            client.loop_stop()
            client.disconnect()


def test_box_to_ingest_through_tls_and_acl(
    tmp_path: Path, db_url: str, shipped: tuple[ShippedBroker, Path]
) -> None:
    broker, tls = shipped
    worker = start_ingest(
        db_url,
        broker.port,
        broker=BrokerOptions(
            port=broker.port,
            ca_file=str(tls / "ca.pem"),
            cert_file=str(tls / "storegate-office.pem"),
            key_file=str(tls / "storegate-office.key"),
        ),
    )
    box = Box(
        tmp_path / "box",
        broker.port,
        ca_file=str(tls / "ca.pem"),
        cert_file=str(tls / "store-1_box-1.pem"),
        key_file=str(tls / "store-1_box-1.key"),
    )
    box.append(500)
    box.start()
    try:
        assert eventually(lambda: box.acknowledged() == 500, 30)
        assert_exactly_once(db_url, box)
    finally:
        box.stop()
        worker.stop()
