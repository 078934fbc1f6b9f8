"""Test and benchmark harness for sync: a real Mosquitto, a TCP link proxy, TLS material.

Shared by tests/sync, bench/bench_sync.py and (later) the head-office tests, so the box and
head office are checked against the same broker set-up. Nothing here is used by the box.

- `Mosquitto`: /usr/sbin/mosquitto on a free port with its own config file in a temporary
  directory (TLS, password file, ACL as asked); `kill()` is SIGKILL; no persistence by
  default, so a restart loses sessions and retained messages like a crashed broker.
- `LinkProxy`: a TCP proxy in front of the broker that can delay each direction (a cloud
  round trip over DSL), drop every connection and refuse new ones (a flaky shop link), and
  answer MQTT 5 CONNECTs the way a 3.1.1-only broker does.
- `make_tls`: a CA, a broker certificate for 127.0.0.1/localhost, a client certificate,
  and an unrelated CA, written as PEM files.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import os
import pwd
import signal
import socket
import subprocess
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

MOSQUITTO = "/usr/sbin/mosquitto"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(
    port: int, timeout: float = 10.0, alive: Callable[[], bool] = lambda: True
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive():
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.02)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


class BrokerProcess(ABC):
    """A broker in a child process on 127.0.0.1:`port`: `start()`, `kill()` (SIGKILL, a
    real outage), `restart()`, a context manager. Subclasses say how to launch it."""

    name = "the broker"
    log_name = "broker.log"

    def __init__(self, workdir: Path, *, port: int | None = None) -> None:
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / self.log_name

    @abstractmethod
    def command(self) -> list[str]:
        """The broker's command line (written config files and all)."""

    def start(self) -> Self:
        command = self.command()
        with self.log_path.open("ab") as log:  # the child keeps its own copy
            self.process = subprocess.Popen(command, stdout=log, stderr=log)
        try:
            wait_for_port(
                self.port, alive=lambda: self.process is not None and self.process.poll() is None
            )
        except TimeoutError as exc:
            self.kill()
            tail = self.log_path.read_text(errors="replace")[-800:]
            raise RuntimeError(f"{self.name} did not start; its log ends:\n{tail}") from exc
        return self

    def kill(self) -> None:
        """SIGKILL: no goodbye, nothing saved."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
        self.process = None

    def restart(self) -> None:
        self.kill()
        self.start()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.kill()


class Mosquitto(BrokerProcess):
    """One Mosquitto process; `extra` lines go into its config under the listener."""

    name = "mosquitto"
    log_name = "mosquitto.log"

    def __init__(
        self,
        workdir: Path,
        *,
        port: int | None = None,
        extra: str = "",
        persistence: bool = False,
        allow_anonymous: bool = True,
    ) -> None:
        super().__init__(workdir, port=port)
        self.allow_anonymous = allow_anonymous
        self.extra = extra
        self.persistence = persistence

    def config_text(self) -> str:
        anonymous = "true" if self.allow_anonymous else "false"
        # As root, mosquitto drops to user "mosquitto", who cannot read pytest's tmp dirs.
        lines = [
            f"user {pwd.getpwuid(os.getuid()).pw_name}",
            "per_listener_settings false",
            f"listener {self.port} 127.0.0.1",
            f"allow_anonymous {anonymous}",
            f"persistence {'true' if self.persistence else 'false'}",
            f"persistence_location {self.workdir}/",
            "max_queued_messages 100000",
            "message_size_limit 0",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
        ]
        return "\n".join(lines) + "\n" + self.extra + "\n"

    def command(self) -> list[str]:
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(self.config_text())
        return [MOSQUITTO, "-c", str(conf)]


class LinkProxy:
    """TCP proxy 127.0.0.1:port -> target, delaying each direction by `delay` seconds."""

    def __init__(
        self,
        target_port: int,
        *,
        delay: float = 0.0,
        port: int | None = None,
        refuse_mqtt5: bool = False,
    ) -> None:
        self.target_port = target_port
        self.refuse_mqtt5 = refuse_mqtt5
        self.delay = delay
        self.port = port or free_port()
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._up = True
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="link-proxy", daemon=True
        )
        self.connections = 0

    def start(self) -> LinkProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(5)
        return self

    def stop(self) -> None:
        self._call(self._close_all, True)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def down(self) -> None:
        """Cut every connection and refuse new ones (the shop's DSL line drops)."""
        self._up = False
        self._call(self._close_all, False)

    def up(self) -> None:
        self._up = True

    def _call(self, func: object, *args: object) -> None:
        async def run() -> None:
            func(*args)  # type: ignore[operator]

        asyncio.run_coroutine_threadsafe(run(), self._loop).result(5)

    def _close_all(self, also_server: bool) -> None:
        for writer in list(self._writers):
            with contextlib.suppress(Exception):
                transport = writer.transport
                transport.abort()
        self._writers.clear()
        if also_server and self._server is not None:
            self._server.close()

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self._up:
            writer.transport.abort()
            return
        first = b""
        if self.refuse_mqtt5:
            first = await reader.read(65536)
            if _mqtt_level(first) == 5:  # answer like a 3.1.1-only broker: CONNACK rc 1
                writer.write(b"\x20\x02\x00\x01")
                await writer.drain()
                writer.close()
                return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self.connections += 1
        self._writers.update((writer, up_writer))
        if first:
            up_writer.write(first)
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                if self.delay:
                    loop.call_later(self.delay, self._forward, writer, data)
                else:
                    writer.write(data)
                    await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            if self.delay:
                loop.call_later(self.delay, self._close, writer)
            else:
                self._close(writer)

    @staticmethod
    def _forward(writer: asyncio.StreamWriter, data: bytes) -> None:
        if not writer.is_closing():
            writer.write(data)

    def _close(self, writer: asyncio.StreamWriter) -> None:
        self._writers.discard(writer)
        with contextlib.suppress(Exception):
            writer.close()


def _mqtt_level(connect: bytes) -> int | None:
    """The protocol level byte of an MQTT CONNECT packet (4 = 3.1.1, 5 = MQTT 5)."""
    at = connect.find(b"\x00\x04MQTT")
    return connect[at + 6] if at >= 0 and len(connect) > at + 6 else None


@dataclass(frozen=True)
class TlsFiles:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _ca(name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _leaf(
    ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate, name: str, server: bool
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    return key, builder.sign(ca_key, hashes.SHA256())


def make_tls(directory: Path) -> TlsFiles:
    """Fresh CA, broker and client certificates (and an unrelated CA) under `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = _ca("storegate test CA")
    server_key, server_cert = _leaf(ca_key, ca_cert, "localhost", server=True)
    client_key, client_cert = _leaf(ca_key, ca_cert, "store-1-box-1", server=False)
    _, other_cert = _ca("some other CA")
    files = TlsFiles(
        *(
            directory / n
            for n in (
                "ca.pem",
                "server.pem",
                "server.key",
                "client.pem",
                "client.key",
                "other-ca.pem",
            )
        )
    )
    pem = serialization.Encoding.PEM
    files.ca.write_bytes(ca_cert.public_bytes(pem))
    files.server_cert.write_bytes(server_cert.public_bytes(pem))
    files.server_key.write_bytes(_key_pem(server_key))
    files.client_cert.write_bytes(client_cert.public_bytes(pem))
    files.client_key.write_bytes(_key_pem(client_key))
    files.other_ca.write_bytes(other_cert.public_bytes(pem))
    for path in (files.server_key, files.client_key):
        os.chmod(path, 0o600)
    return files
