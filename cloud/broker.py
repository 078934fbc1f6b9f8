"""The broker's access file that confines each box to its own topics (`cloud broker acl`).

Owns the access rules only, written as the configuration of Mosquitto's dynamic-security
plugin (JSON), because Mosquitto 2.0's `acl_file` never checks a subscription: any box
could join head office's shared group (`$share/ingest/...`), be dealt every other
message, be refused it at delivery, and the message was lost for the whole group. The
plugin checks every SUBSCRIBE against the subscriber's own rules, and anything not
granted is refused (default deny, nothing falls through to another check).

Identity: a client certificate's common name is the user name (`use_identity_as_username`)
and, on the box listener, also the client id (`use_username_as_clientid`), so a box is
`{store}/{box}` whatever id it sends and cannot take over another client's session.
Boxes and head office use different CAs and listeners (config/mosquitto/mosquitto.conf).
The plugin (2.0) has no `%u` substitution, so each box gets a role of its own naming its
topics literally: write its journal/events/telemetry/state/cmd result, subscribe to and
receive its ack/cmd/config, its store's catalog, members, purchase orders, staff and update, and
head office's presence.
Head office (`office_user`) gets the rights ingest, publish and cmd need, including its
shared subscriptions. Only head office's
enrolment service (`admin_user`, its own office certificate) is granted the plugin's
`$CONTROL` topic: `cloud boxes approve|revoke` add and remove a box's own client, with a
password and its client id bound to its name, and the plugin keeps the file up to date
itself (so regenerating it drops enrolled boxes: see docs/cloud.md, "Zero-touch
enrolment"). With `enrol_password`, the shared enrolment identity may publish to
`{root}/_enrol/+/request` and read `{root}/_enrol/+/answer`, nothing else
(gateway.sync.enrolment says why that is enough). Topic spellings come from
`gateway.sync.topics` and `gateway.sync.enrolment`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Iterable
from typing import Any, TypedDict

from gateway.errors import UsageError
from gateway.sync.enrolment import answer_wildcard, request_wildcard
from gateway.sync.topics import HEAD_OFFICE_LEVEL, Topics

OFFICE_ROLE = "storegate-office"
ADMIN_ROLE = "storegate-admin"
ENROL_ROLE = "storegate-enrol"
CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
CONTROL_RESPONSE = f"{CONTROL_TOPIC}/response"
PASSWORD_ITERATIONS = 10_000  # PBKDF2-SHA512, as the plugin checks it


class Acl(TypedDict):
    acltype: str
    topic: str
    allow: bool


class Role(TypedDict):
    rolename: str
    acls: list[Acl]


def _acl(acltype: str, topic: str) -> Acl:
    return {"acltype": acltype, "topic": topic, "allow": True}


def box_role(root: str, identity: str) -> Role:
    """One box's rights, every topic spelled out (the role is named after the box)."""
    store, box = _split(identity)
    topics = Topics(root, store, box)
    writes = [topics.journal, topics.events, topics.telemetry, topics.state]
    writes.append(topics.command_result)
    reads = [*topics.subscriptions()]
    return {
        "rolename": f"box:{identity}",
        "acls": [
            *(_acl("publishClientSend", t) for t in writes),
            *(_acl("subscribeLiteral", t) for t in reads),
            *(_acl("publishClientReceive", t) for t in reads),
            _acl("subscribePattern", topics.restore),  # its own backup, sent back
            _acl("publishClientReceive", topics.restore),
        ],
    }


def office_role(root: str) -> Role:
    """Head office: reads every box's up topics, plainly or in any shared group, writes
    acks, commands and documents, and owns its presence topic."""
    wild = Topics(root, "+", "+")
    presence = f"{root}/{HEAD_OFFICE_LEVEL}/state"
    reads = [wild.journal, wild.events, wild.telemetry, wild.state, wild.command_result]
    writes = [wild.ack, wild.command, wild.config, wild.catalog, wild.members, wild.orders]
    writes += [wild.staff, wild.update, presence, wild.restore]
    return {
        "rolename": OFFICE_ROLE,
        "acls": [
            *(_acl("publishClientSend", t) for t in writes),
            *(_acl("subscribePattern", t) for t in [*reads, presence]),
            *(_acl("subscribePattern", f"$share/+/{t}") for t in reads),
            *(_acl("publishClientReceive", t) for t in [*reads, presence]),
        ],
    }


def admin_role(root: str) -> Role:
    """Head office's enrolment service: the plugin's control topic, the pending requests
    (read, and cleared once answered) and the answers."""
    return {
        "rolename": ADMIN_ROLE,
        "acls": [
            _acl("publishClientSend", CONTROL_TOPIC),
            _acl("subscribeLiteral", CONTROL_RESPONSE),
            _acl("publishClientReceive", CONTROL_RESPONSE),
            _acl("subscribePattern", request_wildcard(root)),
            _acl("publishClientReceive", request_wildcard(root)),
            _acl("publishClientSend", request_wildcard(root)),
            _acl("publishClientSend", answer_wildcard(root)),
        ],
    }


def enrol_role(root: str) -> Role:
    """The shared enrolment identity: publish a request, read (sealed) answers."""
    return {
        "rolename": ENROL_ROLE,
        "acls": [
            _acl("publishClientSend", request_wildcard(root)),
            _acl("subscribePattern", answer_wildcard(root)),
            _acl("publishClientReceive", answer_wildcard(root)),
        ],
    }


def password_fields(password: str, salt: bytes) -> dict[str, Any]:
    """A client's password as the plugin stores it (PBKDF2-SHA512, a 12-byte salt)."""
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, PASSWORD_ITERATIONS)
    return {
        "password": base64.b64encode(digest).decode("ascii"),
        "salt": base64.b64encode(salt).decode("ascii"),
        "iterations": PASSWORD_ITERATIONS,
    }


def acl_text(
    root: str,
    boxes: Iterable[str],
    office_user: str = "storegate-office",
    *,
    admin_user: str = "storegate-admin",
    enrol_user: str = "storegate-enrol",
    enrol_password: str | None = None,
    salt: bytes | None = None,
) -> str:
    """The whole access file (dynamic-security JSON) for these boxes (`store/box` each);
    with `enrol_password`, also the shared enrolment identity."""
    identities = sorted(set(boxes))
    roles = [office_role(root), admin_role(root), *(box_role(root, b) for b in identities)]
    for flag, user in (("office-user", office_user), ("admin-user", admin_user)):
        if user in identities or "/" in user:
            raise UsageError(
                f"{flag.replace('-', ' ')} {user!r} looks like a box",
                where=f"cloud broker acl --{flag}",
                fix="name head office's users without a '/', e.g. storegate-office",
            )
    if len({office_user, admin_user, enrol_user}) != 3:
        raise UsageError(
            "the office, admin and enrolment users must differ",
            where="cloud broker acl",
            fix="give each its own name (defaults: storegate-office, -admin, -enrol)",
        )
    clients: list[dict[str, Any]] = [
        {"username": office_user, "roles": [{"rolename": OFFICE_ROLE}]},
        {"username": admin_user, "roles": [{"rolename": ADMIN_ROLE}]},
        *({"username": b, "roles": [{"rolename": f"box:{b}"}]} for b in identities),
    ]
    if enrol_password is not None:
        if len(enrol_password) < 12:
            raise UsageError(
                "the enrolment password is shorter than 12 characters",
                where="cloud broker acl --enrol",
                fix="set $STOREGATE_ENROL_PASSWORD to a longer one (it goes into every box image)",
            )
        roles.append(enrol_role(root))
        clients.append(
            {
                "username": enrol_user,
                "roles": [{"rolename": ENROL_ROLE}],
                **password_fields(enrol_password, salt if salt is not None else os.urandom(12)),
            }
        )
    document = {
        "_comment": "storegate broker access, generated by `cloud broker acl` - do not edit "
        "by hand; docs/cloud.md (Broker)",
        "defaultACLAccess": {
            "publishClientSend": False,
            "publishClientReceive": False,
            "subscribe": False,
            "unsubscribe": True,
        },
        "clients": clients,
        "groups": [],
        "roles": roles,
    }
    return json.dumps(document, indent=2) + "\n"


def _split(identity: str) -> tuple[str, str]:
    parts = identity.split("/")
    if len(parts) != 2 or not all(parts) or any(c in identity for c in "+#$"):
        raise UsageError(
            f"box {identity!r} is not STORE/BOX",
            where="cloud broker acl",
            fix="name each box as store-id/box-id, e.g. store-1/box-1",
        )
    return parts[0], parts[1]
