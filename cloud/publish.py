"""Signed downlink from head office: keys, documents (catalog, members, orders, staff,
update, config), commands.

Owns: Ed25519 key files (`cloud keys generate`), checking a document with the same model
the box applies it with *before* anything is sent, the version counter per (kind, store,
box) in `document_version`, and the one-shot MQTT publisher / command round trip. The
signature rule and payload shapes are `gateway.sync.signing` / `gateway.sync.payloads`;
the topics are `gateway.sync.topics`. Must not define any of those.

A document's fields are sent exactly as they were signed: the file is read with decimals
kept exact (`Decimal`) and turned into canonical JSON once, so amounts travel as decimal
strings and the box re-derives the very bytes that were signed.
"""

from __future__ import annotations

import getpass
import json
import os
import secrets
import stat
import sys
import threading
import time
import tomllib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    KeySerializationEncryption,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import ValidationError

from cloud.clock import Clock, iso, system_clock
from cloud.db import Database
from cloud.ingest import BrokerOptions
from gateway.errors import StoregateError, UsageError
from gateway.journal.chain import canonical_json
from gateway.journal.errors import JournalError
from gateway.sync.payloads import CommandResult, SignedCommand, SignedDocument
from gateway.sync.settings import KEY_ID
from gateway.sync.signing import public_key_b64, sign
from gateway.sync.topics import Topics


class PublishError(StoregateError):
    """A document or command that was not sent (refused before sending, or unanswered)."""


# ---------------------------------------------------------------- keys


@dataclass(frozen=True)
class SigningKey:
    key_id: str
    private: Ed25519PrivateKey

    @property
    def public_b64(self) -> str:
        return public_key_b64(self.private)


PASSPHRASE_ENV = "STOREGATE_SIGNING_KEY_PASSPHRASE"
Passphrase = Callable[[], bytes | None]


def passphrase_from_env_or_terminal(confirm: bool = False) -> bytes | None:
    """The signing key's passphrase: `$STOREGATE_SIGNING_KEY_PASSPHRASE`, else asked on the
    terminal (twice when `confirm`), else None (no terminal: a service, a pipe)."""
    value = os.environ.get(PASSPHRASE_ENV)
    if value:
        return value.encode("utf-8")
    if not sys.stdin.isatty():
        return None
    first = getpass.getpass("signing key passphrase: ")
    if confirm and getpass.getpass("again: ") != first:
        raise UsageError(
            "the two passphrases differ",
            where="cloud keys generate --encrypt",
            fix="type the same passphrase twice",
        )
    return first.encode("utf-8") or None


def generate_key(
    directory: Path,
    key_id: str | None,
    clock: Clock = system_clock,
    passphrase: bytes | None = None,
) -> tuple[SigningKey, Path]:
    """A new key pair written as `KEY_ID.pem` (private, mode 0600; encrypted with
    `passphrase` when given) and `KEY_ID.pub`."""
    import re

    key_id = key_id or f"ho-{clock().strftime('%Y%m%d')}-{secrets.token_hex(3)}"
    if not re.fullmatch(KEY_ID, key_id):
        raise UsageError(
            f"key id {key_id!r} is not allowed",
            where="--key-id",
            fix="letters, digits, . _ - (up to 64), starting with a letter/digit",
        )
    directory.mkdir(parents=True, exist_ok=True)
    pem = directory / f"{key_id}.pem"
    if pem.exists():
        raise UsageError(
            f"{pem} already exists",
            where="cloud keys generate",
            fix="choose another --key-id; never overwrite a key boxes trust",
        )
    key = SigningKey(key_id, Ed25519PrivateKey.generate())
    encryption: KeySerializationEncryption = (
        BestAvailableEncryption(passphrase) if passphrase else NoEncryption()
    )
    fd = os.open(pem, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key.private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, encryption))
    (directory / f"{key_id}.pub").write_text(key.public_b64 + "\n")
    return key, pem


def load_key(
    path: Path,
    key_id: str | None = None,
    passphrase: Passphrase = passphrase_from_env_or_terminal,
) -> SigningKey:
    """The private key in `path`; its id is `key_id` or the file name without `.pem`.

    A key file group or others may read (or write) is refused before it is read: whoever
    holds it signs catalogs and commands every box obeys. An encrypted key (PKCS#8, as
    `cloud keys generate --encrypt` writes) asks `passphrase` only when it needs one."""
    _check_private(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _unreadable(path, exc) from exc
    if b"ENCRYPTED" not in data.split(b"\n", 1)[0]:
        try:
            private = load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as exc:
            raise _unreadable(path, exc) from exc
    else:
        secret = passphrase()
        if secret is None:
            raise UsageError(
                "the signing key is encrypted and no passphrase was given",
                where=str(path),
                fix=f"set ${PASSPHRASE_ENV}, or run the command on a terminal to be asked",
            )
        try:
            private = load_pem_private_key(data, password=secret)
        except (ValueError, TypeError) as exc:
            raise UsageError(
                "wrong passphrase for the signing key (or the file is damaged)",
                where=str(path),
                fix=f"give the passphrase the key was written with (${PASSPHRASE_ENV})",
            ) from exc
    if not isinstance(private, Ed25519PrivateKey):
        raise UsageError(
            "not an Ed25519 private key",
            where=str(path),
            fix="generate one with `cloud keys generate`",
        )
    return SigningKey(key_id or path.name.removesuffix(".pem"), private)


def _unreadable(path: Path, exc: Exception) -> UsageError:
    return UsageError(
        f"cannot read the signing key: {exc}",
        where=str(path),
        fix="pass the KEY_ID.pem file `cloud keys generate` wrote",
    )


def _check_private(path: Path) -> None:
    """Refuse a key file that anyone but its owner can read or write."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError as exc:
        raise _unreadable(path, exc) from exc
    if mode & 0o077:
        raise UsageError(
            f"the signing key is open to group or others (mode {mode:o}): refused",
            where=str(path),
            fix=f"chmod 600 {path} (and consider the key exposed if others could read it: "
            "generate a new one and rotate)",
        )


def trusted_key_toml(key: SigningKey) -> str:
    """What a box's settings need to accept this key."""
    return f'[[sync.trusted_keys]]\nkey_id = "{key.key_id}"\npublic_key = "{key.public_b64}"\n'


# ---------------------------------------------------------------- documents


def read_document(kind: str, path: Path) -> dict[str, Any]:
    """The file as plain JSON data with decimals kept exact (TOML allowed for config)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PublishError(
            f"cannot read the {kind} document: {exc}",
            where=str(path),
            fix="give a UTF-8 JSON file (TOML for config); nothing was sent",
        ) from exc
    return parse_document(kind, data, toml=path.suffix == ".toml", where=str(path))


def parse_document(kind: str, data: bytes, *, toml: bool, where: str) -> dict[str, Any]:
    """A document's bytes (a file, a browser upload) as plain JSON data with decimals kept
    exact; `toml` for a config written in TOML."""
    try:
        text = data.decode("utf-8")
        raw = (
            tomllib.loads(text, parse_float=Decimal)
            if toml
            else json.loads(text, parse_float=Decimal)
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise PublishError(
            f"cannot read the {kind} document: {exc}",
            where=where,
            fix="give a UTF-8 JSON file (TOML for config); nothing was sent",
        ) from exc
    if not isinstance(raw, dict):
        raise PublishError(
            f"the {kind} document is not a JSON object",
            where=where,
            fix="the file must hold one object; nothing was sent",
        )
    try:
        plain: dict[str, Any] = json.loads(canonical_json(raw))
    except JournalError as exc:
        raise PublishError(
            f"the {kind} document has a value with no exact spelling: {exc.what}",
            where=where,
            fix="write amounts as decimals or strings; nothing was sent",
        ) from exc
    return plain


def check_document(kind: str, document: dict[str, Any], source: str) -> None:
    """Validate with the box's own model; raises the room's error listing every problem."""
    if kind == "catalog":
        from gateway.catalog.document import parse_document as parse_catalog

        parse_catalog(document, source)
    elif kind == "members":
        from gateway.members.document import parse_document as parse_members

        parse_members(document, source)
    elif kind == "orders":
        from gateway.stock.orders import parse_orders

        parse_orders(document, source)
    elif kind == "staff":
        from gateway.lane.staff_document import parse_staff_document

        parse_staff_document(document, source)
    elif kind == "update":
        from gateway.updates.bundle import UpdateDocument, UpdateManifest

        try:
            UpdateManifest.model_validate(UpdateDocument.model_validate(document).manifest)
        except ValidationError as exc:
            raise PublishError(
                f"update refused: {exc.errors()[0]['msg']}",
                where=source,
                fix="give a bundle `cloud update build` made; nothing was sent",
            ) from exc
    else:
        from gateway.settings import GatewaySettings
        from gateway.sync.config_keys import config_changes
        from gateway.sync.errors import DocumentRefused

        try:
            config_changes(document)
        except DocumentRefused as exc:
            raise PublishError(
                f"config refused: {exc.what}", where=source, fix=f"{exc.fix}; nothing was sent"
            ) from exc
        try:
            GatewaySettings.model_validate(document)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5]
            )
            raise PublishError(
                f"config refused: {problems}",
                where=source,
                fix="see config/gateway.example.toml; nothing was sent",
            ) from exc


def next_version(
    db: Database,
    kind: str,
    store: str,
    box: str | None,
    document: dict[str, Any],
    key_id: str,
    now: str,
) -> int:
    """Bump and record the version (above both the last published and the file's own)."""
    with db.transaction():
        row = db.execute(
            "SELECT version FROM document_version WHERE kind = ? AND store = ? "
            "AND box = ?" + db.lock_rows_for_update(),
            (kind, store, box or ""),
        ).fetchone()
        own = document.get("version")
        version = max(int(row[0]) if row else 0, own - 1 if isinstance(own, int) else 0) + 1
        db.execute(
            "INSERT INTO document_version (kind, store, box, version, issued_at, key_id) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (kind, store, box) DO UPDATE SET "
            "version = excluded.version, issued_at = excluded.issued_at, "
            "key_id = excluded.key_id",
            (kind, store, box or "", version, now, key_id),
        )
    return version


def signed_document(
    kind: str,
    store: str,
    box: str | None,
    version: int,
    document: dict[str, Any],
    key: SigningKey,
    now: str,
) -> dict[str, Any]:
    if "version" in document:
        document = {**document, "version": version}
    message = sign(
        {
            "v": 1,
            "kind": kind,
            "store": store,
            "box": box,
            "version": version,
            "issued_at": now,
            "document": document,
        },
        key.private,
        key.key_id,
    )
    SignedDocument.model_validate(message)
    return message


def document_topic(root: str, kind: str, store: str, box: str | None) -> str:
    topics = Topics(root, store, box or "_")
    if kind == "config":
        if not box:
            raise UsageError(
                "a config document is for one box",
                where="cloud publish config",
                fix="add --box BOX",
            )
        return topics.config
    if box:
        raise UsageError(
            f"a {kind} document is for the whole store",
            where=f"--box {box}",
            fix="leave out --box; every box of the store takes it",
        )
    store_wide = {
        "catalog": topics.catalog,
        "orders": topics.orders,
        "staff": topics.staff,
        "update": topics.update,
    }
    return store_wide.get(kind, topics.members)


# ---------------------------------------------------------------- MQTT


class OneShot:
    """A short-lived head-office MQTT client for publish and cmd."""

    def __init__(self, broker: BrokerOptions, client_id: str) -> None:
        self.broker = broker
        self.messages: list[mqtt.MQTTMessage] = []
        self.arrived = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
        )
        broker.apply(self.client)
        self.client.on_message = self._on_message

    def _on_message(self, client: Any, userdata: Any, message: mqtt.MQTTMessage) -> None:
        self.messages.append(message)
        self.arrived.set()

    def __enter__(self) -> OneShot:
        try:
            self.client.connect(self.broker.host, self.broker.port, 30)
        except OSError as exc:
            raise PublishError(
                f"cannot connect: {exc}",
                where=f"mqtt broker {self.broker.host}:{self.broker.port}",
                fix="check --host/--port and that the broker runs; nothing was sent",
            ) from exc
        self.client.loop_start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def publish(self, topic: str, payload: bytes, *, retain: bool, timeout: float = 10.0) -> None:
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        try:
            info.wait_for_publish(timeout)
        except (RuntimeError, ValueError) as exc:
            raise PublishError(
                f"the broker did not take the message: {exc}",
                where=topic,
                fix="check the broker and this account's ACL",
            ) from exc
        if not info.is_published():
            raise PublishError(
                f"no PUBACK from the broker within {timeout:g} s",
                where=topic,
                fix="check the broker and this account's ACL",
            )


def publish_document(
    *,
    db: Database,
    broker: BrokerOptions,
    root: str,
    kind: str,
    document: dict[str, Any],
    stores: list[str],
    box: str | None,
    key: SigningKey,
    clock: Clock = system_clock,
) -> list[dict[str, Any]]:
    """Version, sign and publish a checked document retained to each of `stores` (known
    stores only: `cloud.stores.require_known`); returns the signed messages in order. Each
    store's version is its own; what was sent is kept for the next preview."""
    from cloud.stores import record_published, require_known

    require_known(db, stores, f"cloud publish {kind}")
    topics = [document_topic(root, kind, store, box) for store in stores]
    messages = []
    with OneShot(broker, f"cloud-publish-{uuid.uuid4().hex[:8]}") as link:
        for store, topic in zip(stores, topics, strict=True):
            now = iso(clock())
            version = next_version(db, kind, store, box, document, key.key_id, now)
            message = signed_document(kind, store, box, version, document, key, now)
            link.publish(topic, json.dumps(message, ensure_ascii=False).encode(), retain=True)
            record_published(db, kind, store, box, version, message["document"])
            if kind == "members":
                record_roster(db, store, version, message["document"])
            messages.append(message)
    return messages


def record_roster(db: Database, store: str, version: int, document: dict[str, Any]) -> None:
    """The member ids of the members document `store`'s boxes now hold: what a dividend
    may credit in that store (a member id is the store's own, never another store's)."""
    members = [str(m["id"]) for m in document.get("members", [])]
    with db.transaction():
        db.execute("DELETE FROM member_roster WHERE store = ?", (store,))
        db.executemany(
            "INSERT INTO member_roster (store, member, version) VALUES (?, ?, ?)",
            [(store, member, version) for member in sorted(set(members))],
        )


BOX_COMMANDS = (
    "ping",
    "sync_now",
    "set_log_level",
    "report_x",
    "backup_now",
    "print_test_page",
    "reload_config",
    "upload_logs",
    "upload_backup",
)
"""The commands a box serves (`gateway.sync.commands.builtin_commands` and
`gateway.daemon.remote.register_remote_commands`): what the box's page offers. `cloud cmd`
sends any name (a newer box may serve more), the box answers an unknown one `failed`."""


def command_args(pairs: list[str], where: str) -> dict[str, Any]:
    """`KEY=VALUE` words -> a command's arguments (VALUE is JSON when it parses as JSON,
    a float kept as its text: floats have no canonical form to sign)."""
    parsed: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UsageError(
                f"argument {pair!r} is not KEY=VALUE",
                where=where,
                fix="e.g. level=DEBUG (set_log_level) or day=2026-11-24 (report_x)",
            )
        try:
            parsed[name] = json.loads(value)
        except ValueError:
            parsed[name] = value
        if isinstance(parsed[name], float):
            parsed[name] = value
    return parsed


def send_command(
    *,
    db: Database,
    link: OneShot,
    root: str,
    store: str,
    box: str,
    name: str,
    args: dict[str, Any],
    key: SigningKey,
    expires_in: float,
    clock: Clock = system_clock,
) -> dict[str, Any]:
    """Sign a command, record it in `command` (status `sent`; ingest writes the box's
    result into the same row) and publish it on the box's command topic; returns the
    signed command. The one place `cloud cmd` and the box's page send from: the page
    returns at once, the CLI then waits (`run_command`)."""
    issued = clock()
    command = sign(
        {
            "v": 1,
            "id": uuid.uuid4().hex,
            "name": name,
            "args": args,
            "store": store,
            "box": box,
            "issued_at": iso(issued),
            "expires_at": iso(issued + timedelta(seconds=expires_in)),
        },
        key.private,
        key.key_id,
    )
    try:
        SignedCommand.model_validate(command)
    except ValidationError as exc:
        raise UsageError(
            f"command refused before sending: {exc.errors()[0]['msg']}",
            where=f"command {name!r}",
            fix="command names are lower_snake_case",
        ) from exc
    with db.transaction():
        db.execute(
            "INSERT INTO command (id, store, box, name, args, issued_at, expires_at, "
            "status) VALUES (?, ?, ?, ?, ?, ?, ?, 'sent')",
            (
                command["id"],
                store,
                box,
                name,
                json.dumps(args, sort_keys=True),
                command["issued_at"],
                command["expires_at"],
            ),
        )
    link.publish(Topics(root, store, box).command, json.dumps(command).encode(), retain=False)
    return command


@dataclass(frozen=True)
class SentCommand:
    """One row of `command`: what head office sent a box and, once ingest has it, the
    box's answer (`status` stays `sent` until then)."""

    id: str
    name: str
    args: dict[str, Any]
    issued_at: str
    expires_at: str
    status: str
    result: dict[str, Any] | None
    error: str | None
    result_at: str | None


def recent_commands(db: Database, store: str, box: str, limit: int = 20) -> list[SentCommand]:
    """The box's newest commands first, with their results as ingest recorded them."""
    rows = db.query(
        "SELECT id, name, args, issued_at, expires_at, status, result, error, result_at "
        "FROM command WHERE store = ? AND box = ? ORDER BY issued_at DESC, id LIMIT ?",
        (store, box, limit),
    )
    db.conn.commit()  # end the read transaction (PostgreSQL)
    return [
        SentCommand(
            str(id_),
            str(name),
            _json(args) or {},
            str(issued),
            str(expires),
            str(status),
            _json(result),
            None if error is None else str(error),
            None if result_at is None else str(result_at),
        )
        for id_, name, args, issued, expires, status, result, error, result_at in rows
    ]


def _json(value: object) -> dict[str, Any] | None:
    """A JSON column as a dict: PostgreSQL's driver decodes it, SQLite gives its text."""
    if value is None:
        return None
    decoded = json.loads(value) if isinstance(value, str | bytes) else value
    return decoded if isinstance(decoded, dict) else {"value": decoded}


def run_command(
    *,
    db: Database,
    broker: BrokerOptions,
    root: str,
    store: str,
    box: str,
    name: str,
    args: dict[str, Any],
    key: SigningKey,
    timeout: float,
    expires_in: float,
    clock: Clock = system_clock,
) -> CommandResult:
    """Send a signed command (`send_command`) and wait for its result on `.../cmd/result`."""
    topics = Topics(root, store, box)
    with OneShot(broker, f"cloud-cmd-{uuid.uuid4().hex[:8]}") as link:
        link.client.subscribe(topics.command_result, qos=1)
        time.sleep(0.2)  # let SUBACK come back before the box can answer
        command = send_command(
            db=db,
            link=link,
            root=root,
            store=store,
            box=box,
            name=name,
            args=args,
            key=key,
            expires_in=expires_in,
            clock=clock,
        )
        return _await_result(link, command["id"], timeout, f"{store}/{box}")


def _await_result(link: OneShot, command_id: str, timeout: float, where: str) -> CommandResult:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        link.arrived.wait(max(0.0, deadline - time.monotonic()))
        link.arrived.clear()
        for message in list(link.messages):
            try:
                result = CommandResult.model_validate_json(message.payload)
            except ValidationError:
                continue
            if result.id == command_id:
                return result
    raise PublishError(
        f"no answer from {where} within {timeout:g} s",
        where=f"command {command_id}",
        fix="check `cloud fleet` (is the box online?); the command stays valid until it "
        "expires, and the box answers it once it connects",
    )
