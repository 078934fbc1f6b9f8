"""The broker identity an enrolled box received from head office, kept at rest.

Owns `DATA_DIR/broker-identity.json` (0600, written whole then renamed into place): the
store and box ids head office assigned, and the box's own MQTT user name and password
(`gateway enrol`, docs/install.md "Zero-touch enrolment"). `load_settings` lays it over
the settings file, so every part of the box (sync, receipts, doctor) sees one identity.
A settings file that names another store or box, or its own broker user, is refused
rather than silently overridden. Must not import the sync adapter: the settings model
(imported by the pure core) imports this.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.errors import SettingsError
from gateway.private_files import private_dir, write_private

IDENTITY_FILE = "broker-identity.json"


@dataclass(frozen=True)
class BrokerIdentity:
    store: str
    box: str
    username: str
    password: str


def identity_path(data_dir: Path) -> Path:
    return Path(data_dir) / IDENTITY_FILE


def read_identity(data_dir: Path) -> BrokerIdentity | None:
    """The stored identity, None when the box has not been enrolled."""
    path = identity_path(data_dir)
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SettingsError(
            str(path), [f"cannot be read as the box's broker identity: {exc}"]
        ) from exc
    fields = [body.get(k) if isinstance(body, dict) else None for k in _FIELDS]
    if not all(isinstance(v, str) and v for v in fields):
        raise SettingsError(
            str(path), [f"needs {', '.join(_FIELDS)}; delete it and enrol again (gateway enrol)"]
        )
    return BrokerIdentity(*(str(v) for v in fields))


_FIELDS = ("store", "box", "username", "password")


def write_identity(data_dir: Path, identity: BrokerIdentity) -> Path:
    """Store it 0600 (a half-written file never replaces a good one)."""
    private_dir(Path(data_dir))
    path = identity_path(data_dir)
    partial = path.with_name(path.name + ".partial")
    write_private(partial, json.dumps(identity.__dict__, indent=2) + "\n")
    os.replace(partial, path)
    return path


def identity_overlay(settings: Any, identity: BrokerIdentity, source: str) -> dict[str, Any]:
    """The `store` and `mqtt` sections with the identity applied; `SettingsError` when
    the settings name a different store, box or broker user themselves."""
    store, mqtt = settings.store, settings.mqtt
    clashes = [
        f"{key} = {ours!r} in the settings, but this box was enrolled as {theirs!r} "
        f"({identity_path(settings.paths.data_dir)}); remove the key or re-enrol"
        for key, section, name, ours, theirs in (
            ("store.id", store, "id", store.id, identity.store),
            ("store.box", store, "box", store.box, identity.box),
            ("mqtt.username", mqtt, "username", mqtt.username, identity.username),
        )
        if name in section.model_fields_set and ours != theirs
    ]
    if clashes:
        raise SettingsError(source, clashes)
    return {
        "store": store.model_copy(update={"id": identity.store, "box": identity.box}),
        "mqtt": mqtt.model_copy(
            update={"username": identity.username, "password": _secret(identity.password)}
        ),
    }


def _secret(value: str) -> Any:
    from pydantic import SecretStr

    return SecretStr(value)
