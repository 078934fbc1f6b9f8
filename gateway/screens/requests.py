"""What the screens ask of the lane's owner, and the frozen lane snapshot they render.

The lane and its database connection have one owner: the thread that feeds the lane (the
daemon's main loop in `gateway run`). The screens' web threads never touch either. They
render a `LaneSnapshot`, an immutable value the owner builds after every lane change and
hands over, and everything else they need of the lane is a typed request here, run by the
owner on its own thread: a lane event (`LaneOwner.feed`, answered with the snapshot taken
right after it), a LAN login (`StaffLogin`, which counts wrong PINs in the database), an
earlier receipt for the refund-lines dialog (`ReceiptLines`), a scanned return's SKU
(`ItemCode`).

`LocalLane` is the owner for a hub without a daemon (the demo, tests): it runs each
request under a lock on the caller's thread. The daemon's owner is
`gateway.daemon.screens.MainLoopLane`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from gateway.barcodes import Misread, parse_scan
from gateway.catalog.catalog import Catalog
from gateway.lane import events as ev
from gateway.lane.book import LaneReader
from gateway.lane.events import Outcome, Refusal
from gateway.lane.staff import StaffDirectory
from gateway.lane.state import Sale, Shift, State
from gateway.screens.keys import BARCODE_MIN
from gateway.settings import GatewaySettings

if TYPE_CHECKING:
    from gateway.lane.staff import StaffMember

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class LanePort(Protocol):
    """What the owner's requests use of a lane (gateway.lane.machine.Lane has all of it)."""

    state: State
    settings: GatewaySettings
    shift: Shift | None
    sale: Sale | None
    catalog: Catalog
    staff: StaffDirectory

    @property
    def book(self) -> LaneReader: ...

    def handle(self, event: ev.Event) -> Outcome | Refusal: ...


@dataclass(frozen=True)
class LaneSnapshot:
    """The lane at one moment, as the screens show it. `shift` and `sale` are the lane's own
    frozen values (the lane replaces them, never changes them); `suspended` is read from
    the book when the snapshot is taken. `serial` orders snapshots: the hub keeps the
    newest, whichever thread brings it."""

    serial: int
    state: str
    shift: Any
    sale: Any
    currency: str
    places: int
    suspended: tuple[str, ...] = ()

    @classmethod
    def of(cls, lane: LanePort, serial: int) -> LaneSnapshot:
        """Taken on the lane owner's thread only (it reads the book)."""
        state = lane.state.value if hasattr(lane.state, "value") else lane.state
        money = lane.catalog.money
        return cls(
            serial,
            str(state),
            lane.shift,
            lane.sale,
            str(money.currency),
            int(money.decimals),
            tuple(lane.book.suspended_ids()),
        )

    @property
    def member(self) -> bool:
        """A member is identified on the sale in progress."""
        return self.sale is not None and self.sale.member is not None


@dataclass(frozen=True)
class Fed:
    """What the lane answered to an event, and the lane right after it."""

    answer: Outcome | Refusal
    snapshot: LaneSnapshot


class LaneRequest(Protocol[T_co]):
    """A read or write the screens need, run by the lane's owner on its thread."""

    def run(self, lane: LanePort) -> T_co: ...


@dataclass(frozen=True)
class StaffLogin:
    """A LAN login: the staff directory checks the PIN and counts a wrong one toward its
    lockout (a database write). `source` names where it came from ("screens ADDRESS"):
    a right PIN clears only failures from that same source (gateway.lane.staff)."""

    credential: ev.Credential
    at: datetime
    source: str = "screens"

    def run(self, lane: LanePort) -> StaffMember | Refusal:
        answer: StaffMember | Refusal = lane.staff.identify(self.credential, self.at, self.source)
        return answer


@dataclass(frozen=True)
class SoldReceipt:
    """An earlier sale as its journal record has it, and what was refunded of each line."""

    body: dict[str, Any]
    refunded: dict[int, Decimal] = field(default_factory=dict)


@dataclass(frozen=True)
class ReceiptLines:
    """The sale with `receipt_id` on this till, or None (the lane book's tables)."""

    receipt_id: str

    def run(self, lane: LanePort) -> SoldReceipt | None:
        record = lane.book.by_receipt(self.receipt_id)
        if record is None or record.kind != "sale":
            return None
        return SoldReceipt(dict(record.body), dict(lane.book.refunded(self.receipt_id)))


@dataclass(frozen=True)
class ItemCode:
    """The lane takes a return by PLU or SKU; a cashier scans the goods. A barcode is read
    as the lane reads scans and named by its product's SKU; anything the catalog does not
    know stays as typed, and the lane refuses it in its own words."""

    code: str

    def run(self, lane: LanePort) -> str:
        code = self.code
        if not code or (code.isdigit() and len(code) < BARCODE_MIN):
            return code
        parsed = parse_scan(code, lane.settings.barcodes)
        if isinstance(parsed, Misread):
            return code
        product = lane.catalog.lookup(parsed.lookup_keys)
        return str(product.sku) if product is not None else code


class LaneOwner(Protocol):
    """Whoever owns the lane and its database: runs the screens' requests on its thread."""

    def feed(self, event: ev.Event) -> Fed: ...

    def ask(self, request: LaneRequest[T]) -> T: ...

    def snapshot(self) -> LaneSnapshot: ...


class LocalLane:
    """The owner of a lane without a daemon: each request under one lock, on the caller's
    thread (the demo and the screens' own tests)."""

    def __init__(self, lane: LanePort) -> None:
        self.lane = lane
        self._lock = threading.Lock()
        self._serial = 0

    def _take(self) -> LaneSnapshot:
        self._serial += 1
        return LaneSnapshot.of(self.lane, self._serial)

    def feed(self, event: ev.Event) -> Fed:
        with self._lock:
            return Fed(self.lane.handle(event), self._take())

    def ask(self, request: LaneRequest[T]) -> T:
        with self._lock:
            return request.run(self.lane)

    def snapshot(self) -> LaneSnapshot:
        with self._lock:
            return self._take()
