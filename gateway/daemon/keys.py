"""Turning what happens at the till into lane events: device events and keyed commands.

Pure translation: a device event or a control request plus the lane's state and the last
scale reading in, a lane event (or a sentence why not) out. No I/O; the caller passes the
store-local time `at`. The scale reading is only a *value* here, turned into the lane's
`Weighed` by its one translator (`Weighed.from_reading`, shared with the screens): the
lane itself refuses an unstable, zero or over-capacity weight.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, get_args

from devices.events import CardEvent, CardKind, ScanEvent, WeightReading
from devices.settings import ScaleSettings
from gateway.cardsafe import mask_card_data
from gateway.lane import events as ev
from gateway.lane.drawer import DENOMINATION_FIELD
from gateway.pricing.engine import MAX_QUANTITY  # items of one scan or PLU, whole


@dataclass(frozen=True)
class NotAnEvent:
    """A request the daemon cannot turn into a lane event, with the reason."""

    message: str


def from_device(event: ScanEvent | CardEvent, lane_state: str, at: datetime) -> ev.Event | None:
    """A scan or a card as the lane sees it; None when it means nothing in this state."""
    if isinstance(event, ScanEvent):
        return None if lane_state == "closed" else ev.Scan(at, event.text)
    if event.kind is CardKind.STAFF and lane_state == "closed" and event.card_id:
        return ev.OpenShift(at, ev.Credential(card=event.card_id))
    if event.kind is CardKind.MEMBER and event.card_id and lane_state in ("idle", "in_sale"):
        return ev.MemberCard(at, event.card_id, source="reader")
    if event.kind is CardKind.PAYMENT and lane_state in ("in_sale", "tendering"):
        return ev.Tender(at, "card", None, reference="terminal", card=event.masked)
    return None


# Bounds of what a keyed value may be. The lane refuses what is wrong for *this* sale
# (more decimals than the currency has, an amount above what is due); these bounds refuse
# what no sale can mean, before a `Decimal` with 30 digits or an exponent of 9999 reaches
# arithmetic that would raise instead of answering.
MAX_AMOUNT = Decimal("9999999.99")  # the largest tender, float or count a till takes
MAX_DECIMALS = 6  # places an amount may carry here; the lane refuses beyond the currency's
MAX_LINE = 9999  # a line index
MAX_TEXT = 256  # a barcode, PLU, card, id, reference, PIN
MAX_REASON = 500  # a reason a person typed
TENDER_TYPES: tuple[ev.TenderType, ...] = get_args(ev.TenderType)


class BadValue(ValueError):
    """A keyed value outside what the till accepts: the sentence says which and why."""


def _decimal(value: object, what: str) -> Decimal | None:
    """A non-negative amount within MAX_AMOUNT and MAX_DECIMALS places, or None."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise BadValue(f"{what} must be a number, not {type(value).__name__}")
    text = str(value).strip()
    if len(text) > 32:
        raise BadValue(f"{what} {text[:20]!r}... is too long to be an amount")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise BadValue(f"{what} {text!r} is not a number") from None
    if not number.is_finite():
        raise BadValue(f"{what} {text!r} is not a number")
    if number < 0:
        raise BadValue(f"{what} {text!r} is negative")
    if number > MAX_AMOUNT:
        raise BadValue(f"{what} {text!r} is above the till's limit of {MAX_AMOUNT}")
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MAX_DECIMALS:
        raise BadValue(f"{what} {text!r} has more than {MAX_DECIMALS} decimals")
    return number


def _whole(value: object, what: str, low: int, high: int) -> int:
    """A whole number in [low, high] from an int or its digits."""
    if value is None:
        raise BadValue(f"{what} is missing")
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise BadValue(f"{what} must be a whole number, not {type(value).__name__}")
    text = str(value).strip()
    try:
        number = Decimal(text) if len(text) <= 32 else None
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite() or number != number.to_integral_value():
        raise BadValue(f"{what} {text[:40]!r} is not a whole number")
    if not low <= number <= high:
        raise BadValue(f"{what} {text!r} is outside {low}..{high}")
    return int(number)


def _quantity(value: object) -> Decimal:
    if value is None:
        return Decimal(1)
    return Decimal(_whole(value, "quantity", 1, int(MAX_QUANTITY)))


def _text(
    request: dict[str, Any], key: str, limit: int = MAX_TEXT, *, default: str | None = None
) -> str:
    """A text field: a string (or a number, as keyed), non-empty unless it has a default."""
    value = request.get(key, default)
    if value is None:
        raise BadValue(f"{key} is missing")
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise BadValue(f"{key} must be text, not {type(value).__name__}")
    text = str(value)
    if len(text) > limit:
        raise BadValue(f"{key} is longer than {limit} characters")
    if not text and default is None:
        raise BadValue(f"{key} is empty")
    return text


def _optional(request: dict[str, Any], key: str) -> str | None:
    return None if request.get(key) in (None, "") else _text(request, key)


def _refund_lines(value: object) -> dict[int, Decimal] | None:
    """`lines=N:Q[,N:Q...]`: Q of line N (numbered as the receipt prints them, from 1) to
    refund; absent, every line (what is left of it). The lane checks each against the
    receipt (a weighed line's quantity is its weight)."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise BadValue("lines must be N:Q[,N:Q...]: Q of receipt line N, from 1 (e.g. lines=1:2)")
    wanted: dict[int, Decimal] = {}
    for part in value.split(",")[:MAX_LINE]:
        number, colon, quantity = part.partition(":")
        if not colon:
            raise BadValue(f"lines {part.strip()[:40]!r} is not N:Q (line N, quantity Q)")
        index = _whole(number, "line", 1, MAX_LINE) - 1
        amount = _decimal(quantity, "quantity")
        if amount is None or amount <= 0:
            raise BadValue(f"lines {part.strip()[:40]!r}: the quantity must be more than 0")
        wanted[index] = amount
    return wanted


def _tender_type(value: object, what: str = "type") -> ev.TenderType:
    for known in TENDER_TYPES:
        if value == known:
            return known
    raise BadValue(f"{what} {str(value)[:40]!r} is not a tender type ({', '.join(TENDER_TYPES)})")


def _credential(request: dict[str, Any]) -> ev.Credential:
    if request.get("card"):
        return ev.Credential(card=_text(request, "card"))
    return ev.Credential(
        staff_id=_text(request, "staff", default=""), pin=_text(request, "pin", default="")
    )


def _reason(request: dict[str, Any]) -> str:
    return _text(request, "reason", MAX_REASON, default="")


def _authorization(request: dict[str, Any]) -> ev.Authorization | None:
    """A supervisor's override: their staff number and PIN (`supervisor=`,
    `supervisor_pin=`); a `supervisor_card` is refused before this on the control socket."""
    if request.get("supervisor") not in (None, ""):
        credential = ev.Credential(
            staff_id=_text(request, "supervisor"), pin=_text(request, "supervisor_pin", default="")
        )
        return ev.Authorization(credential, _reason(request))
    if not request.get("supervisor_card"):
        return None
    return ev.Authorization(ev.Credential(card=_text(request, "supervisor_card")), _reason(request))


MAX_PIECES = 100000  # notes or coins of one value in one drawer


def _denominations(request: dict[str, Any]) -> tuple[tuple[Decimal, int], ...]:
    """A count per note and coin: fields `d_<value>=<pieces>` (`d_50=3 d_0.05=12`), as the
    count dialog sends them; the lane checks each value against the currency's."""
    out: list[tuple[Decimal, int]] = []
    for key in sorted(request):
        if not key.startswith(DENOMINATION_FIELD) or request[key] in (None, ""):
            continue
        value = _decimal(key[len(DENOMINATION_FIELD) :], "denomination")
        if value is None or value <= 0:
            raise BadValue(f"{key} is not a note or coin value")
        out.append((value, _whole(request[key], key, 0, MAX_PIECES)))
    return tuple(sorted(out, reverse=True))


def from_request(
    request: dict[str, Any],
    at: datetime,
    scale: WeightReading | None,
    scale_capacity: Decimal | None = None,
) -> ev.Event | NotAnEvent:
    """A keyed lane command (`{"command": "lane", "action": ...}`) as a lane event; every
    value checked against the bounds above (NotAnEvent says which one is wrong).
    `scale_capacity` is that scale's configured capacity, in its own unit."""
    action = request.get("action")
    if not isinstance(action, str) or len(action) > 40:
        return NotAnEvent("a lane request needs an action (e.g. scan, tender)")
    try:
        return _build(action, request, at, scale, scale_capacity)
    except ValueError as exc:  # the sentence may quote what was typed: masked
        return NotAnEvent(mask_card_data(f"{action}: {exc}"))


def _build(
    action: str,
    r: dict[str, Any],
    at: datetime,
    scale: WeightReading | None,
    capacity: Decimal | None,
) -> ev.Event | NotAnEvent:
    match action:
        case "sign_on":
            return ev.OpenShift(
                at,
                _credential(r),
                _decimal(r.get("float"), "float"),
                language=_optional(r, "language"),
            )
        case "scan":
            return ev.Scan(at, _text(r, "code"), _quantity(r.get("quantity")))
        case "plu":
            return ev.Plu(at, _text(r, "code"), _quantity(r.get("quantity")))
        case "weigh":
            return ev.Weighed.from_reading(at, _text(r, "code"), scale, capacity)
        case "pick":
            sku = _text(r, "sku")
            reading = ev.Weighed.from_reading(at, sku, scale, capacity) if r.get("weigh") else None
            return ev.Pick(at, sku, _quantity(r.get("quantity")), reading)
        case "open_price":
            price = _decimal(r.get("price"), "price")
            if price is None:
                return NotAnEvent("open_price needs the price each (price=)")
            return ev.OpenPrice(
                at,
                _text(r, "department"),
                price,
                _quantity(r.get("quantity")),
                _authorization(r),
            )
        case "confirm_age":
            return ev.ConfirmAge(at, _authorization(r))
        case "member":
            return ev.MemberCard(at, _text(r, "card"))
        case "coupon":
            return ev.Coupon(at, _text(r, "code"))
        case "tender":
            return ev.Tender(
                at,
                _tender_type(r.get("type", "cash")),
                _decimal(r.get("amount"), "amount"),
                reference=_optional(r, "reference"),
                card=_optional(r, "card"),
                authorization=_authorization(r),  # an empties payout (a refund's permission)
            )
        case "suspend":
            return ev.Suspend(at)
        case "resume":
            return ev.Resume(at, _text(r, "id"))
        case "void_line":
            return ev.VoidLine(at, _whole(r.get("line"), "line", 0, MAX_LINE), _authorization(r))
        case "void_sale":
            return ev.VoidSale(at, _reason(r), _authorization(r))
        case "discount":  # 整单折扣: percent= or amount= (one), reason=
            percent, amount = (
                _decimal(r.get("percent"), "percent"),
                _decimal(r.get("amount"), "amount"),
            )
            if (percent is None) == (amount is None):
                return NotAnEvent("discount needs percent= or amount= (one of the two) and reason=")
            return ev.BasketDiscount(
                at, _reason(r), percent=percent, amount=amount, authorization=_authorization(r)
            )
        case "remove_discount":
            return ev.RemoveBasketDiscount(at)
        case "no_sale":
            return ev.NoSale(at, _reason(r), _authorization(r))
        case "refund":
            return ev.Refund(
                at,
                _text(r, "receipt"),
                _reason(r),
                lines=_refund_lines(r.get("lines")),
                tender=_tender_type(r.get("tender", "cash"), "tender"),
                authorization=_authorization(r),
            )
        case "paid_in" | "paid_out":
            amount = _decimal(r.get("amount"), "amount")
            if amount is None:
                return NotAnEvent(f"{action} needs the amount")
            movement = ev.PaidIn if action == "paid_in" else ev.PaidOut
            return movement(at, amount, _reason(r), _authorization(r))
        case "top_up":
            amount = _decimal(r.get("amount"), "amount")
            if amount is None:
                return NotAnEvent("top_up needs the amount")
            tender = str(r.get("tender") or "cash")
            if tender not in ("cash", "card"):
                return NotAnEvent(f"top_up tender {mask_card_data(tender)!r}: cash or card")
            return ev.TopUp(
                at,
                _text(r, "card"),
                amount,
                tender="card" if tender == "card" else "cash",
                reference=str(r.get("reference") or "") or None,
                authorization=_authorization(r),
            )
        case "refund_top_up":
            return ev.RefundTopUp(
                at,
                _text(r, "top_up"),
                _text(r, "card"),
                _reason(r),
                authorization=_authorization(r),
            )
        case "close_shift":
            counted = _decimal(r.get("counted"), "counted")
            count = _denominations(r)
            if counted is None and count:  # the notes and coins alone: their sum
                counted = sum((value * pieces for value, pieces in count), Decimal(0))
            if counted is None:
                return NotAnEvent("close_shift needs the counted cash")
            return ev.CloseShift(at, counted, authorization=_authorization(r), denominations=count)
    return NotAnEvent(mask_card_data(f"unknown lane action {action!r}"))


def scale_capacities(scales: Sequence[ScaleSettings]) -> dict[str, Decimal]:
    """Each scale's configured capacity by device name, in that scale's own unit."""
    return {s.name: s.capacity for s in scales if s.capacity is not None}


def scale_capacity(
    scales: Sequence[ScaleSettings], reading: WeightReading | None
) -> Decimal | None:
    """The configured capacity of the scale that sent `reading`, in that scale's unit."""
    return None if reading is None else scale_capacities(scales).get(reading.device)
