"""Control-socket requests as typed values, parsed once from the socket's JSON.

Pure: a JSON object in, one of the frozen request types below out, or `BadRequest` (exit
status 2) naming what is wrong. The control thread parses; the main loop only ever sees a
valid request and answers it from a table (request type -> handler) in `Box`. A lane
request carries its fields as keyed: `gateway.daemon.keys` checks each value when it turns
them into a lane event (that needs the lane's time and the scale's reading, which live on
the main loop).

Who asks. The socket's file mode lets its group in; that is not who changes data. A card
string typed on the socket is not a card read, so a lane sign-on, a supervisor's override
and a Z report over the socket name a staff number and PIN (`card`, `supervisor_card`
are refused here, exit 2). A change to the box (staff, catalog, accepting a journal break)
carries an `Approval` (`by`, `by_pin`, `totp`) that the main loop checks against the
staff directory (docs/daemon.md, "Control socket").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from gateway.cardsafe import mask_card_data
from gateway.errors import StoregateError
from gateway.i18n import LANGUAGES

MAX_FIELD = 256  # a card, staff number, PIN, day or source name


class BadRequest(StoregateError):
    """A control request that is not one this daemon answers, or has a wrong field."""

    exit_code = 2


@dataclass(frozen=True)
class Approval:
    """`by` (a staff number), `by_pin` and, once second factors exist, `totp`: the person
    asking for a change to the box (gateway.lane.staff.StaffDirectory.authorize_change)."""

    staff_id: str | None
    pin: str | None
    totp: str | None


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
class UpdateLockRequest:
    """`{"command": "update_lock", "version": V}`: the updater asks the daemon to stop
    now, between sales (docs/install.md, "Software updates"). Root or the service's own
    user only (`peer_uid`, from the socket's peer credentials, never from the body)."""

    version: str | None
    peer_uid: int | None = None


@dataclass(frozen=True)
class UpdateRecordRequest:
    """`{"command": "update_record"}`: journal the update's steps from its state file."""

    peer_uid: int | None = None


@dataclass(frozen=True)
class BackupRequest:
    """`{"command": "backup"}`: answered off the loop (seconds of I/O)."""


@dataclass(frozen=True)
class ZReportRequest:
    """`{"command": "z_report", "staff": ..., "pin": ...}`; `day` optional (no `card`: a
    card typed on the socket is not a card read)."""

    staff: str
    pin: str
    day: str | None
    empty_day: bool = False  # a Z of a day with no trading, asked for on purpose


@dataclass(frozen=True)
class StaffRequest:
    """`{"command": "staff", "action": ACTION, ...}`, ACTION one of
    gateway.lane.staff.STAFF_ACTIONS (checked by StaffChange.from_request)."""

    fields: Mapping[str, object]


@dataclass(frozen=True)
class CatalogLoadRequest:
    """`{"command": "catalog_load", "text": DOCUMENT, "source": NAME, "force": BOOL,
    "by": STAFF, "by_pin": PIN, "totp": CODE}`."""

    text: str
    source: str
    force: bool
    approval: Approval


@dataclass(frozen=True)
class AcceptBreakRequest:
    """`{"command": "accept_break", "seq": N, "by": STAFF, "by_pin": PIN, "totp": CODE,
    "reason": TEXT}` (gateway.daemon.chain_guard checks them against the break as it is
    now; `by` is the approver's staff number)."""

    fields: Mapping[str, object]
    approval: Approval


@dataclass(frozen=True)
class ReprintRequest:
    """`{"command": "reprint", "seq": N}`: the receipt of journal record N printed again,
    marked as a copy, through the daemon's printer thread (`gateway receipt N --print`);
    `"language"` (optional): the receipt's language, else the one its cashier chose."""

    seq: int
    language: str | None = None


@dataclass(frozen=True)
class DeviceEventsRequest:
    """`{"command": "device_events", "after": N}`: the device events the daemon kept
    (gateway.daemon.device_feed) numbered above N, for `gateway devices watch` beside the
    daemon. Read-only, card data masked: the socket's group may ask."""

    after: int


@dataclass(frozen=True)
class ScaleReadingRequest:
    """`{"command": "scale_reading", "scale": NAME}`: that scale's newest reading (any
    scale's when NAME is left out), for `gateway devices scale` beside the daemon.
    Read-only: the socket's group may ask."""

    scale: str | None


@dataclass(frozen=True)
class StockRequest:
    """`{"command": "stock", "action": ACTION, ...}`: a step of receiving or a stock count
    (gateway.daemon.stock_desk; `staff` and `pin` name the supervisor where one is needed)."""

    fields: Mapping[str, object]


ControlRequest = (
    StatusRequest
    | DeviceEventsRequest
    | ScaleReadingRequest
    | LaneRequest
    | ReloadRequest
    | SyncNowRequest
    | BackupRequest
    | ZReportRequest
    | StaffRequest
    | CatalogLoadRequest
    | AcceptBreakRequest
    | ReprintRequest
    | StockRequest
    | UpdateLockRequest
    | UpdateRecordRequest
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


def _typed_card(command: str, key: str, instead: str) -> BadRequest:
    return BadRequest(
        f"{command}: {key} is a card typed on the control socket, which is not a card read",
        where="control socket",
        fix=f"{instead}, or read the card at the till",
    )


def _approval(body: Mapping[str, Any], command: str) -> Approval:
    return Approval(
        _text(body, "by", command), _text(body, "by_pin", command), _text(body, "totp", command)
    )


def _lane(body: Mapping[str, Any]) -> LaneRequest:
    if body.get("supervisor_card") not in (None, ""):
        raise _typed_card(
            "lane", "supervisor_card", "send supervisor= and supervisor_pin= (their PIN)"
        )
    if body.get("action") == "sign_on" and body.get("card") not in (None, ""):
        raise _typed_card("sign_on", "card", "send staff= and pin=")
    return LaneRequest(body)


def _z_report(body: Mapping[str, Any]) -> ZReportRequest:
    if body.get("card") not in (None, ""):
        raise _typed_card("z_report", "card", "gateway report z --staff N (the PIN is asked)")
    staff, pin = _text(body, "staff", "z_report"), _text(body, "pin", "z_report")
    if staff is None or pin is None:
        raise BadRequest(
            "z_report needs a supervisor's staff number and PIN",
            where="control socket",
            fix="gateway report z --staff N (the PIN is asked)",
        )
    return ZReportRequest(
        staff=staff,
        pin=pin,
        day=_text(body, "day", "z_report"),
        empty_day=body.get("empty_day") is True,
    )


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


def _stock(body: Mapping[str, Any]) -> StockRequest:
    if body.get("card") not in (None, ""):
        raise _typed_card("stock", "card", "send staff= and pin=")
    fields: dict[str, object] = {}
    for key, value in body.items():
        if key == "command" or value is None:
            continue
        if not isinstance(value, str | int | bool) or (
            isinstance(value, str) and len(value) > MAX_FIELD
        ):
            raise BadRequest(
                f"stock: {key} must be text of at most {MAX_FIELD} characters",
                where="control socket",
                fix="gateway stock --help",
            )
        fields[key] = value
    return StockRequest(fields)


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
        },
        _approval(body, "accept_break"),
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
        text,
        _text(body, "source", "catalog_load", limit=4096) or "catalog load",
        force,
        _approval(body, "catalog_load"),
    )


def _reprint(body: Mapping[str, Any]) -> ReprintRequest:
    seq = body.get("seq")
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 < seq < 2**63:
        raise BadRequest(
            "reprint: seq must be the journal record number of a receipt",
            where="control socket",
            fix="gateway receipt SEQ|RECEIPT_NUMBER --print",
        )
    language = body.get("language")
    if language is not None and language not in LANGUAGES:
        raise BadRequest(
            f"reprint: language must be one of {', '.join(LANGUAGES)}",
            where="control socket",
            fix="gateway receipt SEQ --print --language en|zh",
        )
    return ReprintRequest(seq, language)


def _device_events(body: Mapping[str, Any]) -> DeviceEventsRequest:
    after = body.get("after", 0)
    if isinstance(after, bool) or not isinstance(after, int) or after < 0:
        raise BadRequest(
            "device_events: after must be the number of the last event seen (0: all)",
            where="control socket",
            fix='send {"command": "device_events", "after": 0}',
        )
    return DeviceEventsRequest(after)


PARSERS: dict[str, Callable[[Mapping[str, Any]], ControlRequest]] = {
    "device_events": _device_events,
    "scale_reading": lambda body: ScaleReadingRequest(_text(body, "scale", "scale_reading")),
    "status": lambda _: StatusRequest(),
    "lane": _lane,
    "reload": lambda _: ReloadRequest(),
    "sync_now": lambda _: SyncNowRequest(),
    "backup": lambda _: BackupRequest(),
    "z_report": _z_report,
    "staff": _staff,
    "catalog_load": _catalog_load,
    "accept_break": _accept_break,
    "reprint": _reprint,
    "stock": _stock,
    "update_lock": lambda body: UpdateLockRequest(_text(body, "version", "update_lock")),
    "update_record": lambda _: UpdateRecordRequest(),
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
