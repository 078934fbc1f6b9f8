"""HTTPS when configured: uvicorn serves the screens with the configured certificate."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gateway.harness.screens_demo import StepClock, demo_lane
from gateway.screens.access import HSTS, KIOSK_COOKIE
from gateway.screens.app import create_app
from gateway.screens.hub import ScreenHub
from gateway.screens.requests import LocalLane
from gateway.screens.serve import ScreensServer
from gateway.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "storegate box")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "screens.pem", directory / "screens.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_screens_over_https(tmp_path: Path) -> None:
    settings = load_settings(ROOT / "config" / "gateway.example.toml")
    settings.screens.tls_cert, settings.screens.tls_key = self_signed(tmp_path)
    lane = demo_lane(tmp_path / "storegate.db", settings)
    hub = ScreenHub(
        LocalLane(lane), settings.screens, clock=StepClock(dt.datetime(2026, 11, 24, 9))
    )
    token = "kiosk-token-of-this-test-0123456789abcdef"
    server = ScreensServer(create_app(hub, kiosk_token=token), settings.screens, port=0).start()
    try:
        assert server.url.startswith("https://127.0.0.1:")
        trust = ssl.create_default_context(cafile=str(settings.screens.tls_cert))
        page = httpx.get(server.url + "/", verify=trust, cookies={KIOSK_COOKIE: token})
        assert page.status_code == 200 and "sse-connect" in page.text
        assert page.headers["strict-transport-security"] == HSTS
        plain = httpx.Client(base_url=server.url.replace("https", "http"))
        try:
            plain.get("/")
            answered_plain = True
        except httpx.HTTPError:
            answered_plain = False
        finally:
            plain.close()
        assert not answered_plain
    finally:
        server.stop()
