"""`gateway restore --from-head-office`: collect the backup head office sent back to this
box (`cloud backups send`), as the box itself.

Adapter: one MQTT 5 connection with the box's own identity (its settings, or the one
enrolment gave it), one SUBSCRIBE of its `ack` and then its `restore/+` topics, so the
retained ack (head office's acknowledged position) arrives before the retained chunks.
It waits until the chunks of one upload are all there (gateway.sync.backup_upload), or
gives up after `wait` seconds. Runs while the daemon is stopped (the box's client id is
its own, one connection at a time).
"""

from __future__ import annotations

import json
import queue
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from gateway.sync.backup_upload import newest_complete, reassemble
from gateway.sync.errors import BrokerRefused, BrokerUnreachable, SyncError
from gateway.sync.topics import Topics


@dataclass(frozen=True)
class FetchedBackup:
    data: bytes
    name: str
    head_seq: int
    acknowledged_seq: int  # head office's, from its retained ack (0: none)


def fetch_backup(settings: Any, wait: float) -> FetchedBackup:
    m, store = settings.mqtt, settings.store
    topics = Topics(m.root_topic, store.id, store.box)
    where = f"mqtt broker {m.host}:{m.port} as {store.id}/{store.box}"
    events: queue.Queue[tuple[str, Any]] = queue.Queue()
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=m.client_id or f"storegate-{store.id}-{store.box}",
        protocol=mqtt.MQTTv5,
        reconnect_on_failure=False,
    )
    if m.username is not None:
        client.username_pw_set(m.username, m.password.get_secret_value() if m.password else None)
    try:
        if m.ca_file or m.cert_file:
            client.tls_set(
                ca_certs=str(m.ca_file) if m.ca_file else None,
                certfile=str(m.cert_file) if m.cert_file else None,
                keyfile=str(m.key_file) if m.key_file else None,
            )
        client.on_connect = lambda c, u, f, reason, p: events.put(("connack", reason))
        client.on_message = lambda c, u, msg: events.put(("message", msg))
        client.on_disconnect = lambda c, u, f, reason, p: events.put(("lost", reason))
        client.connect(m.host, m.port, keepalive=30)
    except (OSError, ssl.SSLError, ValueError) as exc:
        raise BrokerUnreachable(
            f"cannot connect: {exc}", where=where, fix="check [mqtt] and the network"
        ) from exc
    client.loop_start()
    try:
        return _collect(client, topics, events, wait, where)
    finally:
        client.disconnect()
        client.loop_stop()


def _collect(
    client: mqtt.Client,
    topics: Topics,
    events: queue.Queue[tuple[str, Any]],
    wait: float,
    where: str,
) -> FetchedBackup:
    deadline = time.monotonic() + wait
    chunks: dict[str, Mapping[str, Any]] = {}
    acknowledged = 0
    while (left := deadline - time.monotonic()) > 0:
        try:
            kind, value = events.get(timeout=min(left, 0.5))
        except queue.Empty:
            continue
        if kind == "connack":
            if value.is_failure:
                raise BrokerRefused(
                    f"the broker refused the box: {value}",
                    where=where,
                    fix="check the box's credentials (an enrolled box revoked at head "
                    "office enrols again)",
                )
            client.subscribe([(topics.ack, 1), (topics.restore, 1)])
        elif kind == "lost":
            raise BrokerUnreachable(f"connection lost: {value}", where=where, fix="try again")
        elif value.topic == topics.ack:
            try:
                acknowledged = int(json.loads(value.payload)["seq"])
            except (ValueError, KeyError, TypeError):
                acknowledged = 0
        elif value.payload:
            try:
                chunks[value.topic] = json.loads(value.payload)
            except ValueError:
                continue
            complete = newest_complete(list(chunks.values()))
            if complete is not None:
                first = complete[0]
                return FetchedBackup(
                    reassemble(complete), str(first["name"]), int(first["head_seq"]), acknowledged
                )
    raise SyncError(
        f"no complete backup from head office within {wait:g} s",
        where=where,
        fix="at head office: `cloud backups send STORE/BOX` (after `cloud backups list`)",
    )
