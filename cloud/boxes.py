"""Enrolled boxes (`cloud boxes approve|list|revoke|pending`): head office's side of
zero-touch enrolment.

Owns the `enrolled_box` and `spent_code` tables and the conversation with the broker as
head office's enrolment service (`storegate-admin`, the only client granted the
dynamic-security plugin's `$CONTROL` topic, cloud.broker). Approving a code: claim the
code (a spent code is refused), find the one pending request with it, create the box's
role (its own topics, cloud.broker.box_role) and its client (a fresh password, client id
bound to `store/box`) through `$CONTROL`, publish the answer sealed to the box's key and
signed (gateway.sync.enrolment), clear the request. Head office never keeps the
password; the broker keeps only its hash. Revoking deletes the client and its role: the
plugin disconnects the box at once and refuses it from then on.

The choices are plain functions (`choose_request`, `grant_commands`, `revoke_commands`);
`BrokerAdmin` is the thin MQTT adapter.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from cloud.broker import CONTROL_RESPONSE, CONTROL_TOPIC, box_role
from cloud.db import Database
from cloud.ingest import BrokerOptions
from cloud.publish import SigningKey
from gateway.errors import StoregateError, UsageError
from gateway.sync.enrolment import (
    ANSWER_EXPIRY_S,
    IDENTIFIER,
    BrokerCredentials,
    EnrolmentError,
    EnrolmentRequest,
    answer_topic,
    parse_request,
    request_topic,
    request_wildcard,
    seal_answer,
)

WAIT_S = 10.0


class BrokerAdminError(StoregateError):
    """The broker did not do what head office's enrolment service asked."""


@dataclass(frozen=True)
class EnrolledBox:
    store: str
    box: str
    username: str
    code: str
    host: str | None
    approved_at: str
    revoked_at: str | None


def check_identity(store: str, box: str, where: str) -> None:
    for name, value in (("store", store), ("box", box)):
        if not IDENTIFIER.match(value):
            raise UsageError(
                f"{name} {value!r} is not an id",
                where=where,
                fix=f"--{name}: letters, digits, '_' or '-', starting with a letter or digit",
            )


def choose_request(requests: list[EnrolmentRequest], code: str) -> EnrolmentRequest:
    """The one pending request showing `code`; none or several is refused."""
    found = [r for r in requests if r.code == code]
    if not found:
        raise UsageError(
            f"no box is waiting with pairing code {code}",
            where="cloud boxes approve",
            fix="check the code on the box's receipt or screen, and that the box runs "
            "`gateway enrol` against this broker (`cloud boxes pending` lists the waiting)",
        )
    if len(found) > 1:
        raise UsageError(
            f"{len(found)} requests show pairing code {code}: one of them is not the box "
            "you are looking at",
            where="cloud boxes approve",
            fix="restart enrolment on the box (delete DATA_DIR/enrolment-pending.json) "
            "for a new code, and report the duplicate",
        )
    return found[0]


def grant_commands(root: str, store: str, box: str, password: str) -> list[dict[str, Any]]:
    """The `$CONTROL` commands giving `store/box` its own client and topics."""
    identity = f"{store}/{box}"
    role = box_role(root, identity)
    return [
        {"command": "createRole", "rolename": role["rolename"], "acls": role["acls"]},
        {
            "command": "createClient",
            "username": identity,
            "password": password,
            "clientid": identity,  # this box's name only: it cannot take another's session
            "roles": [{"rolename": role["rolename"]}],
        },
    ]


def revoke_commands(store: str, box: str) -> list[dict[str, Any]]:
    identity = f"{store}/{box}"
    return [
        {"command": "deleteClient", "username": identity},
        {"command": "deleteRole", "rolename": f"box:{identity}"},
    ]


class BrokerAdmin:
    """One MQTT 5 connection as head office's enrolment service."""

    def __init__(self, broker: BrokerOptions, root: str) -> None:
        self.broker, self.root = broker, root
        self._lock = threading.Condition()
        self._messages: list[tuple[str, bytes]] = []
        self._connack: int | None = None
        self._subacks: list[list[int]] = []
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"cloud-boxes-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5,
        )
        broker.apply(self.client)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe

    @property
    def where(self) -> str:
        return f"mqtt broker {self.broker.host}:{self.broker.port}"

    def __enter__(self) -> BrokerAdmin:
        try:
            self.client.connect(self.broker.host, self.broker.port, 30)
        except OSError as exc:
            raise BrokerAdminError(
                f"cannot connect: {exc}",
                where=self.where,
                fix="check --host/--port and the TLS options; nothing was changed",
            ) from exc
        self.client.loop_start()
        self._wait(lambda: self._connack is not None, "no CONNACK")
        if self._connack is not None and self._connack >= 0x80:
            self.__exit__()
            raise BrokerAdminError(
                f"the broker refused head office's enrolment service ({self._connack})",
                where=self.where,
                fix="connect with the storegate-admin certificate on the office listener",
            )
        self._subscribe(CONTROL_RESPONSE)
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def pending(self) -> list[EnrolmentRequest]:
        """Every request waiting on the broker (retained), malformed ones left out.

        The broker hands retained messages right after the SUBACK; a marker published
        after it to our own subscription arrives after them, so its arrival says all
        retained requests are in (no timeout as synchronisation)."""
        self._subscribe(request_wildcard(self.root))
        marker = request_topic(self.root, uuid.uuid4().hex)
        self.client.publish(marker, b"", qos=1)
        self._wait(lambda: any(t == marker for t, _ in self._messages), "no marker back")
        found = []
        for topic, payload in self._messages:
            if topic in (marker, CONTROL_RESPONSE) or not payload:
                continue
            try:
                found.append(parse_request(topic, payload, self.root))
            except EnrolmentError:
                continue
        return found

    def control(self, commands: list[dict[str, Any]]) -> None:
        """Run plugin commands; `BrokerAdminError` naming the first that failed."""
        tag = uuid.uuid4().hex
        tagged = [{**c, "correlationData": f"{tag}-{i}"} for i, c in enumerate(commands)]
        self.client.publish(CONTROL_TOPIC, json.dumps({"commands": tagged}), qos=1)
        answers: dict[str, dict[str, Any]] = {}

        def complete() -> bool:
            for topic, payload in self._messages:
                if topic != CONTROL_RESPONSE:
                    continue
                for response in json.loads(payload).get("responses", []):
                    answers[str(response.get("correlationData"))] = response
            return all(f"{tag}-{i}" in answers for i in range(len(commands)))

        self._wait(complete, "the dynamic-security plugin did not answer")
        for i, command in enumerate(commands):
            error = answers[f"{tag}-{i}"].get("error")
            if error:
                raise BrokerAdminError(
                    f"{command['command']} failed: {error}",
                    where=self.where,
                    fix="check the broker's dynamic-security file and `cloud boxes list`",
                )

    def publish_retained(self, topic: str, payload: bytes, expiry_s: int | None = None) -> None:
        properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        if expiry_s is not None:
            properties.MessageExpiryInterval = expiry_s
        info = self.client.publish(topic, payload, qos=1, retain=True, properties=properties)
        info.wait_for_publish(WAIT_S)
        if not info.is_published():
            raise BrokerAdminError("no PUBACK", where=topic, fix="check the broker")

    # -- paho callbacks and waits (network thread -> condition) --------------------------
    def _subscribe(self, topic: str) -> None:
        before = len(self._subacks)
        self.client.subscribe(topic, qos=1)
        self._wait(lambda: len(self._subacks) > before, f"no SUBACK for {topic}")
        if any(code >= 0x80 for code in self._subacks[-1]):
            raise BrokerAdminError(
                f"not allowed to subscribe to {topic}",
                where=self.where,
                fix="the access file must grant storegate-admin its role (`cloud broker acl`)",
            )

    def _wait(self, ready: Callable[[], bool], what: str) -> None:
        with self._lock:
            if not self._lock.wait_for(ready, WAIT_S):
                raise BrokerAdminError(
                    f"{what} within {WAIT_S:g} s",
                    where=self.where,
                    fix="check the broker and that storegate-admin is in its access file",
                )

    def _on_connect(self, c: Any, u: Any, f: Any, reason: Any, p: Any) -> None:
        with self._lock:
            self._connack = int(reason.value)
            self._lock.notify_all()

    def _on_message(self, c: Any, u: Any, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self._messages.append((message.topic, bytes(message.payload)))
            self._lock.notify_all()

    def _on_subscribe(self, c: Any, u: Any, mid: int, codes: list[Any], p: Any) -> None:
        with self._lock:
            self._subacks.append([int(code.value) for code in codes])
            self._lock.notify_all()


# ---------------------------------------------------------------- database


def enrolled(db: Database) -> list[EnrolledBox]:
    rows = db.query(
        "SELECT store, box, username, code, host, approved_at, revoked_at FROM enrolled_box "
        "ORDER BY store, box"
    )
    return [EnrolledBox(*row) for row in rows]


def find(db: Database, store: str, box: str) -> EnrolledBox | None:
    return next((b for b in enrolled(db) if (b.store, b.box) == (store, box)), None)


def approve(
    db: Database,
    admin: BrokerAdmin,
    *,
    code: str,
    store: str,
    box: str,
    key: SigningKey,
    now: str,
    password: Callable[[], str] = lambda: secrets.token_urlsafe(24),
    ephemeral: Callable[[], X25519PrivateKey] = X25519PrivateKey.generate,
    nonce: Callable[[], bytes] = lambda: secrets.token_bytes(12),
) -> EnrolmentRequest:
    """Give the box waiting with `code` the identity `store/box` (see the module doc)."""
    where = "cloud boxes approve"
    spent = db.one("SELECT store, box, spent_at FROM spent_code WHERE code = ?", (code,))
    if spent is not None:
        raise UsageError(
            f"pairing code {code} was spent on {spent[2]} (for {spent[0]}/{spent[1]})",
            where=where,
            fix="a code is used once: have the box start enrolment again for a new code",
        )
    current = find(db, store, box)
    if current is not None and current.revoked_at is None:
        raise UsageError(
            f"{store}/{box} is enrolled already (approved {current.approved_at})",
            where=where,
            fix=f"pick another --box, or `cloud boxes revoke {store}/{box}` first",
        )
    request = choose_request(admin.pending(), code)
    with db.transaction():  # claim the code first: two approvals of one code cannot both win
        db.execute(
            "INSERT INTO spent_code (code, store, box, spent_at) VALUES (?, ?, ?, ?)",
            (code, store, box, now),
        )
    granted = False
    try:
        secret = password()
        admin.control(grant_commands(admin.root, store, box, secret))
        granted = True
        credentials = BrokerCredentials(store, box, f"{store}/{box}", secret)
        answer = seal_answer(
            request,
            credentials,
            ephemeral=ephemeral(),
            nonce=nonce(),
            signing_key=key.private,
            key_id=key.key_id,
        )
        admin.publish_retained(
            answer_topic(admin.root, request.request_id),
            json.dumps(answer).encode(),
            ANSWER_EXPIRY_S,
        )
        admin.publish_retained(request_topic(admin.root, request.request_id), b"")
    except BaseException:
        if granted:  # the box never got its answer: take its client off the broker again
            with contextlib.suppress(BrokerAdminError):
                admin.control(revoke_commands(store, box))
        with db.transaction():
            db.execute("DELETE FROM spent_code WHERE code = ?", (code,))
        raise
    with db.transaction():
        db.execute("DELETE FROM enrolled_box WHERE store = ? AND box = ?", (store, box))
        db.execute(
            "INSERT INTO enrolled_box (store, box, username, request_id, code, host, "
            "approved_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
            (store, box, f"{store}/{box}", request.request_id, code, request.hint.get("host"), now),
        )
    return request


def revoke(db: Database, admin: BrokerAdmin, store: str, box: str, now: str) -> None:
    """Cut `store/box` off: its client and role deleted (the plugin disconnects it)."""
    current = find(db, store, box)
    if current is None or current.revoked_at is not None:
        state = "not enrolled" if current is None else f"revoked already ({current.revoked_at})"
        raise UsageError(
            f"{store}/{box} is {state}",
            where="cloud boxes revoke",
            fix="`cloud boxes list` shows the enrolled boxes",
        )
    admin.control(revoke_commands(store, box))
    request_id = db.one(
        "SELECT request_id FROM enrolled_box WHERE store = ? AND box = ?", (store, box)
    )
    if request_id is not None:  # the sealed answer is useless now; take it off the broker
        admin.publish_retained(answer_topic(admin.root, str(request_id[0])), b"")
    with db.transaction():
        db.execute(
            "UPDATE enrolled_box SET revoked_at = ? WHERE store = ? AND box = ?",
            (now, store, box),
        )


# ---------------------------------------------------------------- checked requests


def enrol_code(
    db: Database,
    broker: BrokerOptions,
    root: str,
    *,
    code: str,
    store: str,
    box: str,
    key: SigningKey,
    now: str,
    where: str,
) -> tuple[str, EnrolmentRequest]:
    """`cloud boxes approve` whole, for the CLI and `/boxes`: the code as typed (any case,
    with or without its dash), the ids, a known store, then `approve` over one broker
    connection. Returns the code as read and the request approved."""
    from cloud.stores import require_known
    from gateway.sync.enrolment import normalise_code

    code = normalise_code(code, where)
    check_identity(store, box, where)
    require_known(db, [store], where)
    with BrokerAdmin(broker, root) as admin:
        return code, approve(db, admin, code=code, store=store, box=box, key=key, now=now)


def parse_identity(text: str, where: str) -> tuple[str, str]:
    """`STORE/BOX` -> (store, box), both ids."""
    store, _, box = text.partition("/")
    if not store or not box or "/" in box:
        raise UsageError(
            f"{text!r} is not STORE/BOX",
            where=where,
            fix="name the box as store-id/box-id, e.g. store-1/box-1",
        )
    check_identity(store, box, where)
    return store, box


def revoke_box(
    db: Database, broker: BrokerOptions, root: str, store: str, box: str, now: str
) -> None:
    """`cloud boxes revoke` whole, for the CLI and `/boxes`, over one broker connection."""
    with BrokerAdmin(broker, root) as admin:
        revoke(db, admin, store, box, now)
