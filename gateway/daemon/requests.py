"""Control-socket requests as typed values, parsed once from the socket's JSON.

Pure: a JSON object in, one of the frozen request types below out, or `BadRequest` (exit
status 2) naming what is wrong. The control thread parses; the main loop only ever sees a
valid request and answers it from a table (request type -> handler) in `Box`. A lane
request carries its fields as keyed: `gateway.daemon.keys` checks each value when it turns
them into a lane event (that needs the lane's time and the scale's reading, which live on
the main loop).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from gateway.cardsafe import mask_card_data
from gateway.errors import StoregateError

MAX_FIELD = 256  # a card, staff number, PIN, day or source name


class BadRequest(StoregateError):
    """A control request that is not one this daemon answers, or has a wrong field."""

    exit_code = 2


@dataclass(frozen=True)
class StatusRequest:
    """`{"command": "status"}`."""


@dataclass(frozen=True)
class LaneRequest:
    """`{"command": "lane", "action": ..., FIELD: VALUE ...}` (see gateway.daemon.keys)."""

    fields: Mapping[str, Any]


@dataclass(frozen=True)
class ReloadRequest:
    """`{"command": "reload"}`: as SIGHUP."""


@dataclass(frozen=True)
class SyncNowRequest:
    """`{"command": "sync_now"}`."""


@dataclass(frozen=True)
class BackupRequest:
    """`{"command": "backup"}`: answered off the loop (seconds of I/O)."""


@dataclass(frozen=True)
class ZReportRequest:
    """`{"command": "z_report", "card": ...}` or with `staff` and `pin`; `day` optional."""

    card: str | None
    staff: str | None
    pin: str | None
    day: str | None
    empty_day: bool = False  # a Z of a day with no trading, asked for on purpose


@dataclass(frozen=True)
class StaffRequest:
    """`{"command": "staff", "action": "add"|"totp", ...}` (gateway.lane.staff.StaffChange)."""

    fields: Mapping[str, object]


@dataclass(frozen=True)
class CatalogLoadRequest:
    """`{"command": "catalog_load", "text": DOCUMENT, "source": NAME, "force": BOOL}`."""

    text: str
    source: str
    force: bool


@dataclass(frozen=True)
class AcceptBreakRequest:
    """`{"command": "accept_break", "seq": N, "by": NAME, "reason": TEXT}`
    (gateway.daemon.chain_guard checks them against the break as it is now)."""

    fields: Mapping[str, object]


ControlRequest = (
    StatusRequest
    | LaneRequest
    | ReloadRequest
    | SyncNowRequest
    | BackupRequest
    | ZReportRequest
    | StaffRequest
    | CatalogLoadRequest
    | AcceptBreakRequest
)


def _text(body: Mapping[str, Any], key: str, command: str, *, limit: int = MAX_FIELD) -> str | None:
    value = body.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise BadRequest(
            f"{command}: {key} must be text, not {type(value).__name__}",
            where="control socket",
            fix=f"send {key} as a JSON string",
        )
    text = str(value)
    if len(text) > limit:
        raise BadRequest(
            f"{command}: {key} is longer than {limit} characters", where="control socket"
        )
    return text


def _z_report(body: Mapping[str, Any]) -> ZReportRequest:
    request = ZReportRequest(
        card=_text(body, "card", "z_report"),
        staff=_text(body, "staff", "z_report"),
        pin=_text(body, "pin", "z_report"),
        day=_text(body, "day", "z_report"),
        empty_day=body.get("empty_day") is True,
    )
    if request.card is None and (request.staff is None or request.pin is None):
        raise BadRequest(
            "z_report needs a supervisor's card, or staff and pin",
            where="control socket",
            fix="gateway report z --card CARD (or --staff N, then the PIN)",
        )
    return request


def _staff(body: Mapping[str, Any]) -> StaffRequest:
    fields: dict[str, object] = {}
    for key, value in body.items():
        if key == "command":
            continue
        if value is not None and (isinstance(value, bool) or not isinstance(value, str | int)):
            raise BadRequest(
                f"staff: {key} must be text, not {type(value).__name__}", where="control socket"
            )
        fields[key] = value
    return StaffRequest(fields)


def _accept_break(body: Mapping[str, Any]) -> AcceptBreakRequest:
    seq = body.get("seq")
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 < seq < 2**63:
        raise BadRequest(
            "accept_break: seq must be the record number of the break",
            where="control socket",
            fix="gateway accept-break --seq N ...",
        )
    return AcceptBreakRequest(
        {
            "seq": seq,
            "by": _text(body, "by", "accept_break"),
            "reason": _text(body, "reason", "accept_break", limit=500),
        }
    )


def _catalog_load(body: Mapping[str, Any]) -> CatalogLoadRequest:
    text = body.get("text")
    if not isinstance(text, str) or not text:
        raise BadRequest(
            "catalog_load: text must be the catalog document as a string",
            where="control socket",
            fix="use `gateway catalog load FILE`",
        )
    force = body.get("force", False)
    if not isinstance(force, bool):
        raise BadRequest("catalog_load: force must be true or false", where="control socket")
    return CatalogLoadRequest(
        text, _text(body, "source", "catalog_load", limit=4096) or "catalog load", force
    )


PARSERS: dict[str, Callable[[Mapping[str, Any]], ControlRequest]] = {
    "status": lambda _: StatusRequest(),
    "lane": LaneRequest,
    "reload": lambda _: ReloadRequest(),
    "sync_now": lambda _: SyncNowRequest(),
    "backup": lambda _: BackupRequest(),
    "z_report": _z_report,
    "staff": _staff,
    "catalog_load": _catalog_load,
    "accept_break": _accept_break,
}


def parse_request(body: Mapping[str, Any]) -> ControlRequest:
    """The typed request `body` asks for; BadRequest for an unknown or malformed one."""
    command = body.get("command")
    parser = PARSERS.get(command) if isinstance(command, str) else None
    if parser is None:
        raise BadRequest(
            mask_card_data(f"unknown command {str(command)[:40]!r}"),
            where="control socket",
            fix=f"one of: {', '.join(PARSERS)}",
        )
    return parser(body)
