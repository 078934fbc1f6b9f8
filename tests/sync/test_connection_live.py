"""Connection life against a real Mosquitto: credentials, TLS, protocol fallback, presence,
Last Will, and acks the box must refuse; and the fallback against the embedded amqtt
broker, which leaves an MQTT 5 CONNECT unanswered."""

from __future__ import annotations

import itertools
import json
import logging
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sync_support import BOX, STORE, append_sales, eventually, make_config

from gateway.harness.brokers import LinkProxy, Mosquitto, TlsFiles, free_port, make_tls
from gateway.harness.embedded_broker import EmbeddedBroker
from gateway.harness.receiver import ReferenceReceiver
from gateway.journal.store import Journal
from gateway.sync.link import ProtocolChoice
from gateway.sync.payloads import Ack
from gateway.sync.service import SyncService

ACK = f"storegate/v1/{STORE}/{BOX}/ack"
STATE = f"storegate/v1/{STORE}/{BOX}/state"


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[tuple[Mosquitto, TlsFiles, int]]:
    """A broker with accounts on its plain port and mutual TLS on a second port."""
    tls = make_tls(tmp_path / "tls")
    passwords = tmp_path / "passwd"
    for user, password in (("office", "office-pw"), ("store-1-box-1", "right-pw")):
        subprocess.run(
            [
                "mosquitto_passwd",
                "-b",
                *(["-c"] if not passwords.exists() else []),
                str(passwords),
                user,
                password,
            ],
            check=True,
            capture_output=True,
        )
    tls_port = free_port()
    extra = (
        f"password_file {passwords}\n"
        f"listener {tls_port} 127.0.0.1\n"
        f"cafile {tls.ca}\ncertfile {tls.server_cert}\nkeyfile {tls.server_key}\n"
        "require_certificate true\n"
    )
    broker = Mosquitto(tmp_path / "broker", extra=extra, allow_anonymous=False)
    with broker:
        yield broker, tls, tls_port


@pytest.fixture
def office(tmp_path: Path, secured: tuple[Mosquitto, TlsFiles, int]) -> Iterator[ReferenceReceiver]:
    broker, _, _ = secured
    receiver = ReferenceReceiver(
        host="127.0.0.1",
        port=broker.port,
        username="office",
        password="office-pw",
        db_path=tmp_path / "office.db",
    )
    receiver.start()
    receiver.wait_connected()
    yield receiver
    receiver.stop()


def test_bad_credentials_give_a_clear_error_and_slow_retries(
    tmp_path: Path,
    secured: tuple[Mosquitto, TlsFiles, int],
    journal: Journal,
    start_service: Callable[..., SyncService],
) -> None:
    broker, _, _ = secured
    service = start_service(
        make_config(
            tmp_path,
            broker.port,
            username="store-1-box-1",
            password="wrong-pw",
            refused_min=1.0,
            reconnect_max=1.0,
        )
    )
    assert eventually(lambda: service.status()["connection"] == "refused", 5)
    time.sleep(3)
    status = service.status()
    assert "refused the connection" in status["last_error"]
    assert "mqtt.username and mqtt.password" in status["last_error"]
    assert status["connect_attempts"] <= 5  # about one a second, not a flood
    assert status["reconnects"] == 0
    append_sales(journal, 20)  # the box keeps selling; its journal is untouched by sync
    assert journal.state().head_seq == 20 and journal.acknowledged_seq() == 0


def test_right_credentials_and_mutual_tls_upload(
    tmp_path: Path,
    secured: tuple[Mosquitto, TlsFiles, int],
    office: ReferenceReceiver,
    journal: Journal,
    start_service: Callable[..., SyncService],
) -> None:
    _, tls, tls_port = secured
    append_sales(journal, 300)
    start_service(
        make_config(
            tmp_path,
            tls_port,
            username="store-1-box-1",
            password="right-pw",
            ca_file=str(tls.ca),
            cert_file=str(tls.client_cert),
            key_file=str(tls.client_key),
        )
    )
    office.wait_for(STORE, BOX, 300, timeout=20)


def test_tls_with_the_wrong_ca_is_refused_clearly(
    tmp_path: Path,
    secured: tuple[Mosquitto, TlsFiles, int],
    start_service: Callable[..., SyncService],
) -> None:
    _, tls, tls_port = secured
    service = start_service(
        make_config(
            tmp_path,
            tls_port,
            ca_file=str(tls.other_ca),
            cert_file=str(tls.client_cert),
            key_file=str(tls.client_key),
        )
    )
    assert eventually(lambda: service.status()["last_error"] is not None, 5)
    error = service.status()["last_error"]
    assert "certificate is not trusted" in error and "mqtt.ca_file" in error
    assert service.status()["connection"] != "connected"


def test_missing_tls_files_are_a_clear_error_not_a_crash(
    tmp_path: Path,
    secured: tuple[Mosquitto, TlsFiles, int],
    start_service: Callable[..., SyncService],
) -> None:
    _, _, tls_port = secured
    service = start_service(
        make_config(tmp_path, tls_port, ca_file=str(tmp_path / "missing-ca.pem"))
    )
    assert eventually(lambda: service.status()["last_error"] is not None, 5)
    error = service.status()["last_error"]
    assert "TLS files cannot be used" in error and "mqtt.ca_file" in error


def test_falls_back_to_mqtt_311_when_the_broker_refuses_5(
    tmp_path: Path,
    broker: Mosquitto,
    receiver: ReferenceReceiver,
    journal: Journal,
    start_service: Callable[..., SyncService],
) -> None:
    old_broker = LinkProxy(broker.port, refuse_mqtt5=True).start()
    try:
        append_sales(journal, 100)
        service = start_service(make_config(tmp_path, old_broker.port))
        receiver.wait_for(STORE, BOX, 100, timeout=20)
        assert service.status()["protocol"] == "3.1.1"
        births = [s for s in receiver.received(f"{BOX}/state") if s["online"]]
        assert births and births[-1]["protocol"] == "3.1.1"
    finally:
        old_broker.stop()


def test_falls_back_to_mqtt_311_when_the_broker_leaves_5_unanswered(
    tmp_path: Path, journal: Journal, start_service: Callable[..., SyncService]
) -> None:
    """amqtt (the demo's embedded broker) neither accepts nor refuses an MQTT 5 CONNECT that
    carries properties: it waits for bytes that never come."""
    with EmbeddedBroker(tmp_path / "amqtt") as amqtt:
        service = start_service(make_config(tmp_path, amqtt.port))
        assert eventually(lambda: service.status()["connection"] == "connected", 10)
        assert service.status()["protocol"] == "3.1.1"
        births = _retained_311(amqtt.port, STATE)
        assert births and births[-1]["online"] and births[-1]["protocol"] == "3.1.1"


def test_the_protocol_rule_the_box_and_head_office_share() -> None:
    """ProtocolChoice: auto falls back on a refusal or on silence until 5 was accepted;
    a guessed 3.1.1 that is silent too goes back to 5; fixed settings never move."""
    auto = ProtocolChoice("auto")
    assert auto.current == "5" and auto.may_fall_back()
    assert auto.unanswered() and auto.current == "3.1.1" and not auto.may_fall_back()
    assert not auto.unanswered() and auto.current == "5"  # 3.1.1 silent too: not protocol
    assert auto.refused_5() and auto.current == "3.1.1"
    auto.accepted()
    assert not auto.unanswered() and auto.current == "3.1.1"  # accepted: it holds
    spoke = ProtocolChoice("auto")
    spoke.accepted()
    assert not spoke.may_fall_back() and not spoke.unanswered() and spoke.current == "5"
    for fixed in ("5", "3.1.1"):
        choice = ProtocolChoice(fixed)
        assert not choice.unanswered() and not choice.refused_5() and choice.current == fixed


def test_a_silent_broker_gets_311_then_5_again(
    tmp_path: Path,
    journal: Journal,
    start_service: Callable[..., SyncService],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A broker that answers neither version: the silence was not about the protocol, so
    the box goes back to MQTT 5 (each look at the clock moves it 2 s on)."""
    caplog.set_level(logging.INFO, logger="gateway.sync.service")
    ticks = itertools.count(0.0, 2.0)
    with socket.create_server(("127.0.0.1", 0)) as silent:  # connects, never answers
        start_service(make_config(tmp_path, silent.getsockname()[1]), monotonic=lambda: next(ticks))
        assert eventually(lambda: _said(caplog, "trying 3.1.1") >= 2, 10)
    assert _said(caplog, "back to MQTT 5") >= 1


def _said(caplog: pytest.LogCaptureFixture, text: str) -> int:
    return sum(text in r.getMessage() for r in list(caplog.records))


def _retained_311(port: int, topic: str) -> list[dict[str, Any]]:
    """What a 3.1.1 client sees retained on `topic`."""
    seen: list[dict[str, Any]] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    client.on_message = lambda c, u, m: seen.append(json.loads(m.payload))
    client.connect("127.0.0.1", port)
    client.loop_start()
    client.subscribe(topic, qos=1)
    eventually(lambda: bool(seen), 3)
    client.loop_stop()
    client.disconnect()
    return seen


def test_presence_gates_the_drain_and_bad_acks_are_refused_and_reported(
    tmp_path: Path,
    broker: Mosquitto,
    receiver: ReferenceReceiver,
    journal: Journal,
    start_service: Callable[..., SyncService],
) -> None:
    receiver.set_presence(False)
    append_sales(journal, 100)
    service = start_service(make_config(tmp_path, broker.port))
    assert eventually(lambda: service.status()["connection"] == "connected")
    time.sleep(0.5)
    assert receiver.acknowledged(STORE, BOX) == 0  # head office away: nothing drained
    wrong = journal.read(49, 1)[0].hash.replace("a", "b").replace("0", "1")
    receiver.publish(ACK, Ack(seq=50, hash=wrong, time="t").model_dump_json())
    receiver.publish(ACK, Ack(seq=10**6, hash="0" * 64, time="t").model_dump_json())
    assert eventually(
        lambda: (
            len([e for e in receiver.received(f"{BOX}/events") if e["kind"] == "ack.refused"]) == 2
        )
    )
    reasons = [
        e["body"]["reason"]
        for e in receiver.received(f"{BOX}/events")
        if e["kind"] == "ack.refused"
    ]
    assert reasons == ["hash_mismatch", "beyond_journal"]
    assert journal.acknowledged_seq() == 0
    assert service.status()["acks_refused"] == 2
    receiver.set_presence(True)
    receiver.wait_for(STORE, BOX, 100, timeout=10)
    assert eventually(lambda: journal.acknowledged_seq() == 100)


def test_birth_on_connect_and_last_will_when_the_box_vanishes(
    tmp_path: Path,
    broker: Mosquitto,
    receiver: ReferenceReceiver,
    journal: Journal,
    start_service: Callable[..., SyncService],
) -> None:
    proxy = LinkProxy(broker.port).start()
    try:
        service = start_service(make_config(tmp_path, proxy.port, keepalive=5))
        assert eventually(lambda: service.status()["connection"] == "connected")
        proxy.down()  # the box's line dies without a DISCONNECT
        assert eventually(
            lambda: any(not s["online"] for s in receiver.received(f"{BOX}/state")), 15
        )
        states = receiver.received(f"{BOX}/state")
        birth = next(s for s in states if s["online"])
        death = next(s for s in states if not s["online"])
        assert birth["session"] == death["session"]  # the will of that very connection
        assert birth["journal_head_seq"] == 0
    finally:
        proxy.stop()
