"""The thin paho-mqtt adapter: build a client for one connection attempt, classify failures.

A fresh `paho.mqtt.client.Client` per attempt: paho keeps un-PUBACKed messages in memory
and re-sends them on reconnect, which would double what the uplink re-sends from the
acknowledged position anyway; a new client also makes the MQTT 5 -> 3.1.1 fallback plain.
The network loop is driven by the service's single thread (`client.loop()`), so every
callback runs on that thread; callbacks only append to `LinkEvents`, never call paho.

Owns: CONNECT options (persistent session, session expiry, Last Will, TLS, credentials)
and turning socket/TLS/CONNACK failures into typed errors with a fix. Must not read the
journal or decide what to send.
"""

from __future__ import annotations

import errno
import socket
import ssl
from collections import deque
from dataclasses import dataclass
from typing import Any, Literal

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from gateway.sync.errors import BrokerRefused, BrokerUnreachable, SyncError

Protocol = Literal["5", "3.1.1"]
UNSUPPORTED_PROTOCOL = 132  # CONNACK 0x84 (and MQTT 3.1.1 return code 1, as paho maps it)
# An MQTT 5 CONNECT left unanswered this long (no CONNACK, socket still open) is taken for
# a 3.1.1-only broker that cannot parse one: amqtt waits forever for bytes that never come
# when the CONNECT carries properties, where Mosquitto 1.x answers "unsupported protocol
# version". Clients set to "auto" then try 3.1.1 (gateway.sync.service, cloud.ingest).
MQTT5_SILENCE = 3.0
CREDENTIAL_REFUSALS = {134, 135, 4, 5}  # bad user name or password / not authorised


class ProtocolChoice:
    """Which MQTT version a client set to `setting` ("auto", "5" or "3.1.1") speaks next;
    the box's sync and head office's ingest both follow it.

    "auto" starts with 5. A broker that refuses 5 as unsupported gets 3.1.1. One that has
    never accepted 5 and closes the connection on the CONNECT or leaves it unanswered for
    MQTT5_SILENCE seconds may be a 3.1.1 broker that cannot parse it: it gets 3.1.1 too,
    and if that goes unanswered as well the silence was not about the protocol, so the
    next try is 5 again. A version a broker accepted holds. Pure: callers time and log.
    """

    def __init__(self, setting: str) -> None:
        self.setting = setting
        self.current: Protocol = "3.1.1" if setting == "3.1.1" else "5"
        self._spoke_5 = False  # the broker accepted 5 once: silence is not about that
        self._guessed_311 = False  # on 3.1.1 because 5 went unanswered, not yet accepted

    def may_fall_back(self) -> bool:
        """Would silence now mean "try 3.1.1"? (Then wait only MQTT5_SILENCE for a CONNACK.)"""
        return self.setting == "auto" and self.current == "5" and not self._spoke_5

    def accepted(self) -> None:
        """A CONNACK accepted `current`."""
        self._guessed_311 = False
        self._spoke_5 = self._spoke_5 or self.current == "5"

    def refused_5(self) -> bool:
        """The broker refused `current` as an unsupported version: True when the client
        should try again at once (on 3.1.1)."""
        if self.setting != "auto" or self.current != "5":
            return False
        self.current, self._guessed_311 = "3.1.1", False
        return True

    def unanswered(self) -> bool:
        """A CONNECT closed or left without a CONNACK: True when the client should try
        again at once (on 3.1.1)."""
        if self.may_fall_back():
            self.current, self._guessed_311 = "3.1.1", True
            return True
        if self._guessed_311:
            self.current, self._guessed_311 = "5", False
        return False


@dataclass(frozen=True)
class LinkOptions:
    host: str
    port: int
    client_id: str
    keepalive: int
    session_expiry: int
    receive_maximum: int
    max_inflight: int
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    connect_timeout: float = 5.0

    @property
    def broker(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Connected:
    session_present: bool
    max_packet: int | None = None  # the broker's MaximumPacketSize (MQTT 5), if it set one


@dataclass(frozen=True)
class Refused:
    reason: str
    code: int


@dataclass(frozen=True)
class Lost:
    reason: str


@dataclass(frozen=True)
class Message:
    topic: str
    payload: bytes
    retained: bool


@dataclass(frozen=True)
class PubAck:
    mid: int


LinkEvent = Connected | Refused | Lost | Message | PubAck


class LinkEvents:
    """Paho callbacks, recorded in order for the service thread to handle after `loop()`."""

    def __init__(self) -> None:
        self.queue: deque[LinkEvent] = deque()

    def on_connect(
        self, client: Any, userdata: Any, flags: Any, reason: ReasonCode, properties: Any
    ) -> None:
        if reason.is_failure:
            self.queue.append(Refused(str(reason), int(reason.value)))
        else:
            limit = getattr(properties, "MaximumPacketSize", None)
            self.queue.append(Connected(bool(flags.session_present), int(limit) if limit else None))

    def on_disconnect(
        self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        self.queue.append(Lost(str(reason)))

    def on_message(self, client: Any, userdata: Any, message: mqtt.MQTTMessage) -> None:
        self.queue.append(Message(message.topic, bytes(message.payload), bool(message.retain)))

    def on_publish(
        self, client: Any, userdata: Any, mid: int, reason: Any, properties: Any
    ) -> None:
        self.queue.append(PubAck(mid))


def new_client(
    options: LinkOptions,
    protocol: Protocol,
    events: LinkEvents,
    will_topic: str,
    will_payload: bytes,
) -> mqtt.Client:
    """A paho client set up for one attempt (callbacks, TLS, credentials, Last Will).

    Raises `BrokerUnreachable` when the TLS files cannot be loaded.
    """
    if protocol == "5":
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=options.client_id,
            protocol=mqtt.MQTTv5,
            reconnect_on_failure=False,
        )
    else:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=options.client_id,
            protocol=mqtt.MQTTv311,
            clean_session=False,
            reconnect_on_failure=False,
        )
    client.on_connect = events.on_connect
    client.on_disconnect = events.on_disconnect
    client.on_message = events.on_message
    client.on_publish = events.on_publish
    client.suppress_exceptions = False
    client.connect_timeout = options.connect_timeout
    client.max_inflight_messages_set(options.max_inflight)
    client.max_queued_messages_set(0)  # our own windows bound what is queued
    if options.username is not None:
        client.username_pw_set(options.username, options.password)
    if options.ca_file or options.cert_file:
        try:
            client.tls_set(
                ca_certs=options.ca_file, certfile=options.cert_file, keyfile=options.key_file
            )
        except (OSError, ssl.SSLError, ValueError) as exc:
            raise BrokerUnreachable(
                f"TLS files cannot be used: {exc}",
                where=f"mqtt broker {options.broker}",
                fix="mqtt.ca_file, mqtt.cert_file and mqtt.key_file must be readable PEM "
                "files (the key without a passphrase)",
            ) from exc
    client.will_set(will_topic, will_payload, qos=1, retain=True)
    return client


def connect(client: mqtt.Client, options: LinkOptions, protocol: Protocol) -> None:
    """Open the socket (TLS handshake included) and send CONNECT; raise a typed error."""
    try:
        if protocol == "5":
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = options.session_expiry
            properties.ReceiveMaximum = options.receive_maximum
            client.connect(
                options.host,
                options.port,
                options.keepalive,
                clean_start=False,
                properties=properties,
            )
        else:
            client.connect(options.host, options.port, options.keepalive)
    except ssl.SSLCertVerificationError as exc:
        raise BrokerUnreachable(
            f"TLS: the broker's certificate is not trusted ({exc.verify_message})",
            where=f"mqtt broker {options.broker}",
            fix="set mqtt.ca_file to the CA that signed the broker's certificate, and "
            "mqtt.host to a name the certificate is issued for",
        ) from exc
    except ssl.SSLError as exc:
        raise BrokerUnreachable(
            f"TLS handshake failed: {exc.reason or exc}",
            where=f"mqtt broker {options.broker}",
            fix="check that the port speaks TLS, and mqtt.cert_file / mqtt.key_file",
        ) from exc
    except (OSError, ValueError) as exc:
        raise BrokerUnreachable(
            f"cannot connect: {_os_reason(exc)}",
            where=f"mqtt broker {options.broker}",
            fix="check mqtt.host and mqtt.port, the network and that the broker runs",
        ) from exc


def _os_reason(exc: BaseException) -> str:
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timed out"
    if isinstance(exc, OSError) and exc.errno is not None:
        return f"{errno.errorcode.get(exc.errno, exc.errno)} ({exc.strerror})"
    return str(exc) or type(exc).__name__


def refusal_error(refused: Refused, options: LinkOptions) -> SyncError:
    """The typed error for a CONNACK refusal, with what to change."""
    if refused.code in CREDENTIAL_REFUSALS:
        fix = (
            "check mqtt.username and mqtt.password (or the client certificate) against "
            "the broker's accounts and ACL; retrying slowly"
        )
    else:
        fix = "see the broker's log for why it refused this client id"
    return BrokerRefused(
        f"the broker refused the connection: {refused.reason}",
        where=f"mqtt broker {options.broker} as {options.client_id!r}",
        fix=fix,
    )
