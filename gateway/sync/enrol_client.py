"""The box's side of zero-touch enrolment: wait on the enrolment channel for its answer.

Adapter around the pure contract in gateway.sync.enrolment. Owns the pending request
(`DATA_DIR/enrolment-pending.json`, 0600: the request id and the X25519 private key, kept
so a restarted box shows the same pairing code) and the MQTT conversation as the shared
enrolment identity: publish the request retained (the broker drops it after a week),
subscribe to the answer topic, open the answer. The broker lets every enrolling box use
one client id (`use_username_as_clientid`), so two boxes enrolling at once take the
connection from each other: a box that is dropped waits `retry_s` and connects again, and
the retained answer is there whenever it is back. Writing the credentials is the
caller's (gateway.broker_identity). Randomness and the clock are injected.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from gateway.private_files import private_dir, write_private
from gateway.sync.enrolment import (
    REQUEST_EXPIRY_S,
    BrokerCredentials,
    EnrolmentError,
    EnrolmentRequest,
    answer_topic,
    new_request,
    open_answer,
    request_topic,
)
from gateway.sync.errors import BrokerRefused, BrokerUnreachable
from gateway.sync.link import CREDENTIAL_REFUSALS
from gateway.sync.signing import TrustedKeys

PENDING_FILE = "enrolment-pending.json"


@dataclass(frozen=True)
class EnrolConfig:
    host: str
    port: int
    root: str
    username: str
    password: str
    data_dir: Path
    trusted: TrustedKeys
    ca_file: str | None = None
    retry_s: float = 10.0
    hint: dict[str, str] = field(default_factory=dict)

    @property
    def broker(self) -> str:
        return f"{self.host}:{self.port}"


def pending_request(
    data_dir: Path, hint: dict[str, str], random_bytes: Callable[[int], bytes] = os.urandom
) -> tuple[EnrolmentRequest, X25519PrivateKey]:
    """This box's request and key: the kept one, else a new one (kept, 0600)."""
    path = Path(data_dir) / PENDING_FILE
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
        key = X25519PrivateKey.from_private_bytes(base64.b64decode(body["private_key"]))
        request_id = str(body["request_id"])
    except FileNotFoundError:
        key = X25519PrivateKey.from_private_bytes(random_bytes(32))
        request_id = random_bytes(16).hex()
        private_dir(Path(data_dir))
        raw = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        body = {"request_id": request_id, "private_key": base64.b64encode(raw).decode()}
        write_private(path, json.dumps(body) + "\n")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise EnrolmentError(
            f"the pending enrolment cannot be read: {exc}",
            where=str(path),
            fix="delete the file; the box then shows a new pairing code",
        ) from exc
    return new_request(request_id, key, hint), key


def pending_code(data_dir: Path) -> str | None:
    """The pairing code of the request this box is waiting with, if any (read only)."""
    try:
        body = json.loads((Path(data_dir) / PENDING_FILE).read_text(encoding="utf-8"))
        key = X25519PrivateKey.from_private_bytes(base64.b64decode(body["private_key"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return new_request(str(body.get("request_id", "")), key, {}).code


def forget_pending(data_dir: Path) -> None:
    (Path(data_dir) / PENDING_FILE).unlink(missing_ok=True)


class EnrolmentWait:
    """One box waiting for its answer; `run()` returns the opened credentials."""

    def __init__(
        self,
        config: EnrolConfig,
        request: EnrolmentRequest,
        key: X25519PrivateKey,
        *,
        say: Callable[[str], None],
        monotonic: Callable[[], float] = time.monotonic,
        stop: threading.Event | None = None,
    ) -> None:
        self.config, self.request, self.key = config, request, key
        self.say, self.monotonic = say, monotonic
        self.stop = stop or threading.Event()
        self._events: queue.Queue[tuple[str, Any]] = queue.Queue()

    def run(self, timeout: float | None = None) -> BrokerCredentials | None:
        """The credentials, or None when `timeout` seconds passed (or `stop` was set)."""
        deadline = None if timeout is None else self.monotonic() + timeout
        while not self.stop.is_set():
            left = None if deadline is None else deadline - self.monotonic()
            if left is not None and left <= 0:
                return None
            found = self._one_connection(left)
            if found is not None:
                return found
            self.stop.wait(self.config.retry_s if left is None else min(self.config.retry_s, left))
        return None

    def _one_connection(self, left: float | None) -> BrokerCredentials | None:
        cfg = self.config
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"enrol-{self.request.request_id[:16]}",
            protocol=mqtt.MQTTv5,
            reconnect_on_failure=False,
        )
        client.username_pw_set(cfg.username, cfg.password)
        if cfg.ca_file:
            try:
                client.tls_set(ca_certs=cfg.ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise BrokerUnreachable(
                    f"TLS files cannot be used: {exc}",
                    where=f"enrolment broker {cfg.broker}",
                    fix="mqtt.ca_file must be the PEM CA that signed the broker's certificate",
                ) from exc
        client.on_connect = lambda c, u, f, reason, p: self._events.put(("connack", reason))
        client.on_disconnect = lambda c, u, f, reason, p: self._events.put(("lost", reason))
        client.on_message = lambda c, u, m: self._events.put(("message", bytes(m.payload)))
        try:
            client.connect(cfg.host, cfg.port, keepalive=30)
        except (OSError, ssl.SSLError) as exc:
            self.say(f"enrolment: cannot reach {cfg.broker} ({exc}); retrying")
            return None
        client.loop_start()
        try:
            return self._converse(client, left)
        finally:
            client.disconnect()
            client.loop_stop()

    def _converse(self, client: mqtt.Client, left: float | None) -> BrokerCredentials | None:
        cfg = self.config
        end = None if left is None else self.monotonic() + left
        while not self.stop.is_set():
            wait = 0.5 if end is None else max(0.0, min(0.5, end - self.monotonic()))
            if end is not None and wait <= 0:
                return None
            try:
                kind, value = self._events.get(timeout=wait)
            except queue.Empty:
                continue
            if kind == "connack":
                if value.is_failure:
                    if int(value.value) in CREDENTIAL_REFUSALS:
                        raise BrokerRefused(
                            f"the broker refused the enrolment identity {cfg.username!r}: {value}",
                            where=f"enrolment broker {cfg.broker}",
                            fix="set [enrol] username and password to head office's "
                            "enrolment identity (`cloud broker acl --enrol`)",
                        )
                    self.say(f"enrolment: broker refused the connection ({value}); retrying")
                    return None
                properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
                properties.MessageExpiryInterval = REQUEST_EXPIRY_S
                client.publish(
                    request_topic(cfg.root, self.request.request_id),
                    self.request.payload(),
                    qos=1,
                    retain=True,
                    properties=properties,
                )
                client.subscribe(answer_topic(cfg.root, self.request.request_id), qos=1)
            elif kind == "lost":
                return None
            elif kind == "message":
                try:
                    return open_answer(
                        value, request_id=self.request.request_id, key=self.key, trusted=cfg.trusted
                    )
                except EnrolmentError as exc:
                    self.say(f"enrolment: answer refused: {exc.describe()}")
        return None
