"""What the lane is fed (tiny typed events) and what it answers when it says no.

Events are plain frozen values built by the daemon from devices and keys (or by tests):
no behaviour, no I/O. Every event carries `at`, the store-local wall time it happened, so
the lane never reads a clock, and may carry `actor`, the person doing it. A `Refusal` is a
sentence a cashier can read plus a stable `code` for software; the lane's state after a
refusal is exactly what it was before.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from gateway.cardsafe import mask_card_data
from gateway.refusals import RefusalCode

if TYPE_CHECKING:
    from devices.events import WeightReading

TenderType = Literal["cash", "card", "mobile", "voucher", "points", "stored_value"]


@dataclass(frozen=True)
class Refusal:
    """Why the lane did not do it: `message` for the cashier, `code` for software."""

    code: RefusalCode
    message: str
    needs_supervisor: bool = False  # a supervisor's Authorization on a retry may lift it
    # The only writes a refusal may carry: PIN-attempt counts (a lockout counts refusals).
    # Never a journal record: nothing the lane refuses is journalled.
    writes: tuple[Callable[[sqlite3.Connection], None], ...] = field(
        default=(), compare=False, repr=False
    )

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Credential:
    """Who is identifying: a staff card, or a staff number with a PIN."""

    card: str | None = None
    staff_id: str | None = None
    pin: str | None = None

    @property
    def method(self) -> Literal["card", "pin"]:
        return "card" if self.card is not None else "pin"


@dataclass(frozen=True)
class Authorization:
    """A supervisor's one-shot override for the event that carries it, and why."""

    credential: Credential
    reason: str


@dataclass(frozen=True)
class Event:
    """`at`: when it happened. `actor`: the staff id of the authenticated person doing it
    when that is not whoever is signed on at the till (a staff member logged in on a LAN
    tablet); None is the till itself, whose actions are its signed-on cashier's. The lane
    checks permissions against the actor's role and journals the actor (issue 13)."""

    at: datetime
    actor: str | None = field(default=None, kw_only=True)


@dataclass(frozen=True)
class OpenShift(Event):
    """A cashier signs on; `language`: the one they chose to work in (screens and their
    receipts), None: their own (`[screens] staff_languages`), else the box's default."""

    credential: Credential
    opening_float: Decimal | None = None
    language: str | None = None


@dataclass(frozen=True)
class Scan(Event):
    """A barcode as the scanner delivered it (parsed with `parse_scan`)."""

    raw: str
    quantity: Decimal = Decimal(1)


@dataclass(frozen=True)
class Plu(Event):
    """A PLU or SKU keyed in; weighed products need `Weighed` instead."""

    code: str
    quantity: Decimal = Decimal(1)


# kg per unit a scale may report: exact (the pound is 0.45359237 kg by the international
# yard and pound agreement of 1959; the ounce is 1/16 of it), so nothing is rounded twice.
KILOGRAMS_PER: dict[str, Decimal] = {
    "kg": Decimal(1),
    "g": Decimal("0.001"),
    "lb": Decimal("0.45359237"),
    "oz": Decimal("0.028349523125"),
}
DEFAULT_CAPACITY_KG = Decimal(30)  # the lane's limit when the scale's own is not configured


def kilograms(amount: Decimal, unit: str | None) -> Decimal | None:
    """`amount` of `unit` in kg, exactly; None for a unit not in `KILOGRAMS_PER`."""
    factor = KILOGRAMS_PER.get((unit or "").lower())
    return None if factor is None else amount * factor


def scale_kilograms(reading: WeightReading | None) -> Decimal | None:
    """The weight in kg the lane would price with: a stable, positive reading in a known
    unit (what the status shows and the anomaly watch follows), else None."""
    if reading is None or reading.why_not_priceable() is not None or reading.weight is None:
        return None
    return kilograms(reading.weight, reading.unit)


@dataclass(frozen=True)
class Weighed(Event):
    """A weighed item: PLU/SKU plus the scale's reading (only stable, positive, in range).

    `scale_says` is the scale driver's reason the reading cannot price an item, if any."""

    code: str
    weight: Decimal | None
    stable: bool
    capacity: Decimal = DEFAULT_CAPACITY_KG  # kg, as `weight`
    scale_says: str | None = None

    @classmethod
    def from_reading(
        cls, at: datetime, code: str, reading: WeightReading | None, capacity: Decimal | None = None
    ) -> Weighed:
        """The one translator from a scale's reading to this event, for every road a weighed
        item takes (the cashier screen's F3, the control socket's `weigh`).

        The reading is in the scale's own unit (kg, g, lb, oz) and so is `capacity` (the
        scale's setting): they are compared in that unit, then both turned into kg
        exactly, as the lane prices. No reading or an empty scale is "put the item on the
        scale"; a moving one "wait"; any other reading the scale says cannot price an
        item, or an unknown unit, travels as `scale_says`."""
        if reading is None or reading.status.value == "zero":
            return cls(at, code, None, True)
        if reading.status.value == "motion":
            return cls(at, code, None, False)
        if (why := reading.why_not_priceable(capacity)) is not None:
            return cls(at, code, None, False, scale_says=why)
        weight = scale_kilograms(reading)
        if weight is None:
            return cls(
                at,
                code,
                None,
                False,
                scale_says=f"the scale weighs in {reading.unit}; set it to kg, g, lb or oz",
            )
        limit = kilograms(capacity, reading.unit) if capacity is not None else None
        return cls(at, code, weight, True, limit if limit is not None else DEFAULT_CAPACITY_KG)


@dataclass(frozen=True)
class Pick(Event):
    """An item chosen on the screen by its sku (the search dialog, a quick key), not by a
    code typed: a weighed one comes with the scale's reading as `Weighed.from_reading`
    made it (`weighed`), a counted one with its `quantity`."""

    sku: str
    quantity: Decimal = Decimal(1)
    weighed: Weighed | None = None


@dataclass(frozen=True)
class OpenPrice(Event):
    """A department's open-price key: an item with no barcode, sold at the unit price the
    cashier keyed (`unit_price`, per piece) to that department. Above the department's
    ceiling it needs a supervisor (`authorization`)."""

    department: str
    unit_price: Decimal
    quantity: Decimal = Decimal(1)
    authorization: Authorization | None = None


@dataclass(frozen=True)
class ConfirmAge(Event):
    """The cashier saw that the customer is old enough for the sale's age-restricted
    items (once per sale; the sale record keeps who confirmed it)."""

    authorization: Authorization | None = None


@dataclass(frozen=True)
class ChangeQuantity(Event):
    line: int
    quantity: Decimal
    authorization: Authorization | None = None


@dataclass(frozen=True)
class VoidLine(Event):
    line: int
    authorization: Authorization | None = None


@dataclass(frozen=True)
class PriceOverride(Event):
    line: int
    unit_price: Decimal
    authorization: Authorization | None = None


@dataclass(frozen=True)
class BasketDiscount(Event):
    """整单折扣: a discount on the whole sale, `percent` of it or an `amount` off (exactly
    one), with why. Entered again, it replaces the one before. Its own permission
    (`basket_discount`: supervisors by default), else a supervisor's `authorization`."""

    reason: str
    percent: Decimal | None = None
    amount: Decimal | None = None
    authorization: Authorization | None = None


@dataclass(frozen=True)
class RemoveBasketDiscount(Event):
    """The whole-basket discount taken off the sale again (only raises the total: anyone
    who may sell may do it)."""


@dataclass(frozen=True)
class VoidSale(Event):
    reason: str
    authorization: Authorization | None = None


CardSource = Literal["reader", "keyed"]


@dataclass(frozen=True)
class MemberCard(Event):
    """A member card read or a member id keyed. `source` is "reader" only for what a card
    reader gave (a device event); anything typed (the entry line, the control socket) is
    "keyed", and a keyed member id may not pay from the member's wallets."""

    card_id: str
    source: CardSource = "keyed"


@dataclass(frozen=True)
class Coupon(Event):
    code: str


@dataclass(frozen=True)
class Tender(Event):
    """A payment. `amount` None means "the rest". `card` is what the terminal shows (masked
    to first six and last four digits by the lane whatever it is given)."""

    type: TenderType
    amount: Decimal | None = None
    reference: str | None = None
    card: str | None = None
    authorization: Authorization | None = None  # e.g. approving member tenders offline


@dataclass(frozen=True)
class WalletPayment(Event):
    """A wallet payment code was scanned: payment starts (prices fixed, the sale kept and
    locked in `tendering`) while the provider is asked; its outcome comes back as a
    `Tender` of type `mobile` (paid) or not at all. `provider` is the wallet's name."""

    provider: str


@dataclass(frozen=True)
class Suspend(Event):
    pass


@dataclass(frozen=True)
class Resume(Event):
    suspension_id: str


@dataclass(frozen=True)
class Refund(Event):
    """Refund against an earlier receipt: `lines` maps line index to quantity (None: all)."""

    receipt_id: str
    reason: str
    lines: dict[int, Decimal] | None = None
    tender: TenderType = "cash"
    reference: str | None = None
    authorization: Authorization | None = None


@dataclass(frozen=True)
class ReturnWithoutReceipt(Event):
    """Goods back with no receipt: priced from the catalog in force (separate permission)."""

    code: str
    reason: str
    quantity: Decimal = Decimal(1)
    tender: TenderType = "cash"
    authorization: Authorization | None = None


@dataclass(frozen=True)
class NoSale(Event):
    reason: str
    authorization: Authorization | None = None


@dataclass(frozen=True)
class PaidIn(Event):
    """Cash put into the drawer that is not a sale (change from the bank, a float top-up)."""

    amount: Decimal
    reason: str
    authorization: Authorization | None = None


@dataclass(frozen=True)
class PaidOut(Event):
    """Cash taken out of the drawer that is not a refund (a supplier paid, a cash drop)."""

    amount: Decimal
    reason: str
    authorization: Authorization | None = None


@dataclass(frozen=True)
class TopUp(Event):
    """A member's cash wallet topped up (充值) at the till: `card` read or its UID keyed,
    `amount` paid by `tender` (cash into the drawer, or a card on the terminal)."""

    card: str
    amount: Decimal
    tender: Literal["cash", "card"] = "cash"
    reference: str | None = None
    source: CardSource = "keyed"
    authorization: Authorization | None = None


@dataclass(frozen=True)
class RefundTopUp(Event):
    """A top-up paid back (its amount, by its tender) and taken off the wallet with its
    bonus, while the wallet still holds it; the member's card must be there."""

    top_up_id: str
    card: str
    reason: str
    source: CardSource = "keyed"
    authorization: Authorization | None = None


@dataclass(frozen=True)
class CloseShift(Event):
    """The drawer count; `blind` None follows the `lane.blind_count` setting.

    `denominations`: the count per note and coin (`gateway.lane.drawer`), optional; when
    given, `counted` must be its sum (the dialog fills it in)."""

    counted: Decimal
    blind: bool | None = None
    authorization: Authorization | None = None
    denominations: tuple[tuple[Decimal, int], ...] = ()


@dataclass(frozen=True)
class Outcome:
    """What an accepted event produced: journal records committed, a receipt to print (of
    `document`, the committed record it is the slip of: never guessed from the order of
    `records`), and whether the cash drawer should open (cash taken or paid out, a no-sale)."""

    state: str
    records: tuple[object, ...] = ()
    receipt: object | None = None
    document: object | None = None
    notices: tuple[str, ...] = field(default_factory=tuple)
    open_drawer: bool = False


# Fields that are codes looked up as typed: masking would turn a product's, a coupon's or a
# member card's code into one nothing has. Their handlers decide (a scanned or keyed card
# number is refused with `payment_card_scanned`; a payment card offered as a member card
# with `payment_card`; a coupon's refusal masks it); a `Credential` is looked up, not kept.
CODE_FIELDS: dict[type[Event], frozenset[str]] = {
    Scan: frozenset({"raw"}),
    Plu: frozenset({"code"}),
    Weighed: frozenset({"code"}),
    Pick: frozenset({"sku"}),
    OpenPrice: frozenset({"department"}),
    ReturnWithoutReceipt: frozenset({"code"}),
    Coupon: frozenset({"code"}),
    MemberCard: frozenset({"card_id"}),
}
Masked = TypeVar("Masked", bound=Event)


def without_card_data(event: Masked) -> Masked:
    """`event` with a card number or track masked (first six, last four) in every text a
    person typed that the lane may journal, print or echo: tender references and card
    fields, reasons (the event's and its supervisor's), receipt and suspension ids. Applied
    by the lane before any handler sees the event (`Lane.decide`), and by the daemon and
    the screens before they keep or show what was fed (PCI DSS 3.3.1, 3.5.1)."""
    changes: dict[str, Any] = {}
    skip = CODE_FIELDS.get(type(event), frozenset())
    for item in fields(event):
        value = getattr(event, item.name)
        if item.name in skip:
            continue
        if isinstance(value, str):
            masked: object = mask_card_data(value)
        elif isinstance(value, Authorization):
            masked = replace(value, reason=mask_card_data(value.reason))
        else:
            continue
        if masked != value:
            changes[item.name] = masked
    return replace(event, **changes) if changes else event
