"""The screens' adapter over one lane: events in, one current `ScreenView` out, pushed.

Owns the desk (device health, live weight, the last message, the open dialog, a refused
event waiting for a supervisor, the last completed sale), the lock that serialises every
call into the lane, and the subscribers that follow the view (the pages' server-sent
event streams, the pole display feed). It turns key presses and device events into lane
events and hands them to `lane.handle`; the lane prices, decides and journals. It must not
touch the journal, the lane's tables or prices itself; it only reads an earlier receipt
through the lane's book (`by_receipt`, `refunded`) to list it in the refund-lines dialog.

Threads: `handle`, `press`, `submit`, `device` and `publish` may be called from any thread
(the daemon's device loop, the web server's worker threads). Listeners are called after
the lock is released; async subscribers are woken with `call_soon_threadsafe`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from devices.events import (
    CardEvent,
    CardKind,
    DecodeFault,
    DeviceEvent,
    DeviceStateEvent,
    ScanEvent,
    WeightReading,
)
from gateway.barcodes import Misread, parse_scan
from gateway.lane import events as ev
from gateway.lane.events import Outcome, Refusal
from gateway.screens import keys
from gateway.screens.i18n import notice_text, refusal_text, translator
from gateway.screens.money import CurrencyFormat
from gateway.screens.settings import ScreensSettings
from gateway.screens.view import (
    Desk,
    Message,
    Prompt,
    ScreenView,
    build_view,
    last_sale,
    receipt_view,
)

Listener = Callable[[ScreenView], None]
Feed = Callable[[ev.Event], "Outcome | Refusal"]
Read = Callable[[Callable[[], Any]], Any]
OVERRIDABLE = (ev.ChangeQuantity, ev.VoidLine, ev.PriceOverride, ev.VoidSale, ev.Refund,
               ev.ReturnWithoutReceipt, ev.NoSale, ev.CloseShift, ev.Tender)


class LanePort(Protocol):
    """What the screens need of a lane (gateway.lane.machine.Lane has all of it)."""

    state: Any
    settings: Any
    shift: Any
    sale: Any
    catalog: Any
    staff: Any

    @property
    def book(self) -> Any: ...

    def handle(self, event: ev.Event) -> Outcome | Refusal: ...


def store_clock(timezone: str) -> Callable[[], datetime]:
    """Store-local wall time, as the lane's events carry it."""
    zone = ZoneInfo(timezone)
    return lambda: datetime.now(zone).replace(tzinfo=None)


class ScreenHub:
    """One lane's screens. Create it with the lane, mount `create_app(hub)`, feed it events."""

    def __init__(self, lane: LanePort, settings: ScreensSettings, *,
                 clock: Callable[[], datetime], scale_capacity: Decimal | None = None,
                 store_name: str = "", feed: Feed | None = None,
                 read: Read | None = None) -> None:
        """`feed` is how lane events reach the lane: by default `lane.handle` under a lock
        of the hub's own; the daemon passes its own (which also prints, counts anomalies
        and runs on its main loop) and then calls `record` for events it fed itself.
        `read(query)` runs a query of the lane's book the same way: under that lock by
        default, on the daemon's main loop (the database connection's one user) there."""
        self.lane = lane
        self._lane_lock = threading.Lock()
        self._feed: Feed = feed or self._handle_locked
        self._read: Read = read or self._read_locked
        self.settings = settings
        self.clock = clock
        self.scale_capacity = scale_capacity
        self.store_name = store_name
        self.language = settings.language
        self.t = translator(self.language)
        self.desk = Desk()
        self._pending: ev.Event | None = None
        self._member_name: str | None = None
        self._lock = threading.RLock()
        self._listeners: list[Listener] = []
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
        self.version = 0
        self._view = self._build()

    # -- the view and who follows it -------------------------------------------------------

    @property
    def view(self) -> ScreenView:
        return self._view

    @property
    def money(self) -> CurrencyFormat:
        money = self.lane.catalog.money
        return CurrencyFormat.for_currency(money.currency, money.decimals,
                                           self.settings.currency)

    def _build(self, lane_changed: bool = True) -> ScreenView:
        if lane_changed:  # a weight or device change does not query the lane's tables
            self.desk.suspended = tuple(self.lane.book.suspended_ids())
        view = build_view(self.lane, self.desk, self.money, self.t, self.language)
        if view.member_name is not None:
            self._member_name = view.member_name  # greets the member after the sale too
        return view

    def add_listener(self, listener: Listener) -> None:
        """`listener(view)` after every change (the pole display feed); must not block."""
        self._listeners.append(listener)
        listener(self._view)

    def waiter(self) -> asyncio.Event:
        """An asyncio.Event set on every change, for a stream on the running loop."""
        flag = asyncio.Event()
        with self._lock:
            self._waiters.append((asyncio.get_running_loop(), flag))
        return flag

    def forget(self, flag: asyncio.Event) -> None:
        with self._lock:
            self._waiters = [(lp, f) for lp, f in self._waiters if f is not flag]

    def publish(self, lane_changed: bool = True) -> None:
        """Rebuild the view and wake every follower. The daemon calls this when something
        other than an event (a catalog swap, a restore) changed the lane."""
        with self._lock:
            self._view = self._build(lane_changed)
            self.version += 1
            view, waiters, listeners = self._view, list(self._waiters), list(self._listeners)
        for loop, flag in waiters:
            if not loop.is_closed():
                loop.call_soon_threadsafe(flag.set)
        for listener in listeners:
            listener(view)

    # -- lane events -------------------------------------------------------------------------

    def _read_locked(self, query: Callable[[], Any]) -> Any:
        with self._lane_lock:
            return query()

    def _handle_locked(self, event: ev.Event) -> Outcome | Refusal:
        with self._lane_lock:
            return self.lane.handle(event)

    def handle(self, event: ev.Event) -> Outcome | Refusal:
        """Hand `event` to the lane (through `feed`), remember what it answered, publish.
        The hub's lock is not held meanwhile: a feed that waits for the daemon's main loop
        cannot deadlock with that loop calling `publish`."""
        answer = self._feed(event)
        self.record(event, answer)
        return answer

    def record(self, event: ev.Event, answer: Outcome | Refusal) -> None:
        """What the lane answered to `event` (fed by the hub or by the daemon): the message,
        a supervisor prompt, the last sale; then publish."""
        with self._lock:
            if isinstance(answer, Refusal):
                self._refused(event, answer)
            else:
                self._accepted(answer, self._member_name)
            if self.lane.sale is None or self.lane.sale.member is None:
                self._member_name = None
        self.publish()

    def _refused(self, event: ev.Event, refusal: Refusal) -> None:
        self.desk.message = Message("refusal", refusal_text(self.language, refusal.code,
                                                            refusal.message))
        # a member tender the members room will only take offline with a supervisor's
        # approval says so with `needs_supervisor` rather than the lane's own code
        wants_supervisor = refusal.code == "needs_override" or refusal.needs_supervisor
        if wants_supervisor and isinstance(event, OVERRIDABLE):
            self._pending = event
            reason = getattr(event, "reason", "")
            self.desk.prompt = Prompt("supervisor", self.t("supervisor"), self.desk.message.text,
                                      (("staff_id", self.t("staff_id"), ""),
                                       ("pin", self.t("pin"), ""),
                                       ("reason", self.t("reason"), reason)))

    def _accepted(self, outcome: Outcome, member_name: str | None) -> None:
        self._pending = None
        self.desk.prompt = None
        self.desk.selected = None
        text = " ".join(notice_text(self.language, n) for n in outcome.notices)
        self.desk.message = Message("notice", text) if text else None
        records: tuple[Any, ...] = outcome.records
        document = next((r for r in records if r.kind in ("sale", "refund")), None)
        if document is not None and document.kind == "sale":
            name = member_name if document.body.get("member") else None
            self.desk.last_sale = last_sale(document.body, outcome.receipt, self.money,
                                            self.settings.receipt_qr, name)
        elif document is not None:
            total = self.money(Decimal(str(document.body["total"])))
            self.desk.message = Message("notice", f"{self.t('refunded')}: {total}. {text}")
        if self.lane.sale is not None:
            self.desk.last_sale = None

    # -- keys and dialogs --------------------------------------------------------------------

    def press(self, action: str, entry: str = "") -> Outcome | Refusal | None:
        """A function key (or its button) with what the entry line held."""
        try:
            return self._press(action, entry)
        except keys.EntryError as exc:
            self.note("refusal", refusal_text(self.language, exc.code, str(exc)))
            return None

    def _press(self, action: str, entry: str) -> Outcome | Refusal | None:
        at = self.clock()
        simple: dict[str, Callable[[], ev.Event | None]] = {
            "enter": lambda: keys.item_event(entry, at),
            "member": lambda: ev.MemberCard(at, entry.strip()) if entry.strip() else None,
            "weigh": lambda: self._weighed(entry, at),
            "qty": lambda: ev.ChangeQuantity(at, self._selected(), keys.quantity(entry)),
            "void_line": lambda: ev.VoidLine(at, self._selected()),
            "suspend": lambda: ev.Suspend(at),
            "resume": lambda: self._resume(entry, at),
            "cash": lambda: ev.Tender(at, "cash", keys.amount(entry)),
            "card": lambda: ev.Tender(at, "card", None, reference=entry.strip() or None),
            "coupon": lambda: ev.Coupon(at, keys.coupon(entry)),
            "price": lambda: ev.PriceOverride(at, self._selected(), keys.price(entry)),
            "points": lambda: ev.Tender(at, "points", keys.amount(entry)),
            "stored_value": lambda: ev.Tender(at, "stored_value", keys.amount(entry)),
        }
        if action in simple:
            event = simple[action]()
            return self.handle(event) if event is not None else None
        dialogs: dict[str, Callable[[str], None]] = {
            "refund": self._open_refund, "void_sale": self._open_void, "sign": self._open_sign,
            "up": lambda _: self._move(-1), "down": lambda _: self._move(1),
            "select": self._select, "refund_lines": self._open_refund_lines,
            "return": self._open_return, "no_sale": self._open_no_sale,
            "escape": lambda _: self._escape(),
        }
        if action not in dialogs:
            raise keys.EntryError("unknown_key", f"No such key action: {action}.")
        with self._lock:
            dialogs[action](entry)
        self.publish()
        return None

    def _weighed(self, entry: str, at: datetime) -> ev.Event:
        with self._lock:
            # an empty scale is settled too: the lane then says "put the item on the scale"
            weight, stable = self.desk.weight, self.desk.weight_status in ("stable", "zero")
        return keys.weighed_event(entry, at, weight, stable, self.scale_capacity)

    def _resume(self, entry: str, at: datetime) -> ev.Event | None:
        wanted = entry.strip().upper()
        held = self.view.suspended
        if not wanted and held:
            wanted = held[-1]
        return ev.Resume(at, wanted) if wanted else None

    def _selected(self) -> int:
        view = self.view
        chosen = next((line.number - 1 for line in view.lines if line.selected), None)
        return chosen if chosen is not None else max(len(view.lines) - 1, 0)

    def _move(self, step: int) -> None:
        count = len(self.view.lines)
        if count:
            self.desk.selected = min(max(self._selected() + step, 0), count - 1)

    def _select(self, entry: str) -> None:
        """A tapped line (its number as shown, from 1)."""
        if entry.strip().isdigit() and 1 <= int(entry) <= len(self.view.lines):
            self.desk.selected = int(entry) - 1

    def _escape(self) -> None:
        self.desk.prompt = None
        self.desk.message = None
        self._pending = None

    def _pay_back(self) -> tuple[tuple[str, str, str], ...]:
        """The refund dialogs' last fields: how the money goes back (cash unless changed)
        and the card terminal's reference."""
        return (("tender", self.t("pay_back"), self.t("cash_word")),
                ("reference", self.t("reference"), ""))

    def _open_refund(self, entry: str) -> None:
        self.desk.prompt = Prompt("refund", self.t("refund"), "", (
            ("receipt_id", self.t("receipt_id"), entry.strip()),
            ("reason", self.t("reason"), ""), *self._pay_back()))

    def _open_refund_lines(self, entry: str) -> None:
        """Shift+F10: the receipt on the entry line (or typed / scanned in the dialog) with
        its lines listed, to pick how many of each to refund (see keys.refund_choice)."""
        self.desk.prompt = self._refund_lines_prompt(entry.strip())

    def _refund_lines_prompt(self, receipt_id: str) -> Prompt:
        """The refund-lines dialog for `receipt_id`: the receipt's lines read from its sale
        record and the lane book's refunded quantities, or why it cannot list them. Only
        reads the book; the lane decides on the refund when it is sent."""
        title, field = self.t("k_refund_lines"), ("receipt_id", self.t("receipt_id"), receipt_id)
        if not receipt_id:
            return Prompt("refund_lines", title, self.t("receipt_hint"), (field,))
        book = self.lane.book

        def query() -> tuple[Any, dict[int, Decimal]]:
            found = book.by_receipt(receipt_id)
            return found, (book.refunded(receipt_id) if found is not None else {})

        record, done = self._read(query)
        if record is None or record.kind != "sale":
            alert = refusal_text(self.language, "unknown_receipt",
                                 f"No sale with receipt {receipt_id} on this till.")
            return Prompt("refund_lines", title, self.t("receipt_hint"), (field,), alert=alert)
        body = record.body
        money = CurrencyFormat.for_currency(str(body["currency"]), int(body["places"]),
                                            self.settings.currency)
        receipt = receipt_view(body, done, money, self.t)
        return Prompt("refund_lines", title, self.t("lines_hint"), (
            field, ("reason", self.t("reason"), ""), *self._pay_back()), receipt=receipt)

    def _listing(self, receipt_id: str) -> bool:
        """The refund-lines form was sent: True when it asks to list a receipt (another one
        typed or scanned), which then opens here and nothing goes to the lane. A form of a
        dialog no longer open (a second Enter) is dropped as done too."""
        with self._lock:
            prompt = self.desk.prompt
        if prompt is None or prompt.kind != "refund_lines":
            return True
        if prompt.receipt is not None and prompt.receipt.receipt_id == receipt_id:
            return False
        listed = self._refund_lines_prompt(receipt_id)
        with self._lock:
            if self.desk.prompt is prompt:
                self.desk.prompt = listed
        self.publish()
        return True

    def _open_return(self, entry: str) -> None:
        """Shift+F11: goods back without a receipt; the entry line may hold `n*code`."""
        try:
            typed = keys.Entry.parse(entry)
        except keys.EntryError:
            typed = keys.Entry(None, entry.strip())
        count = typed.quantity if typed.quantity is not None else Decimal(1)
        self.desk.prompt = Prompt("return", self.t("k_return"), "", (
            ("code", self.t("code"), typed.text), ("quantity", self.t("qty"), str(count)),
            ("reason", self.t("reason"), ""),
            ("tender", self.t("pay_back"), self.t("cash_word"))))

    def _open_no_sale(self, entry: str) -> None:
        """Shift+F12: open the drawer without a sale; the lane wants the reason."""
        self.desk.prompt = Prompt("no_sale", self.t("k_no_sale"), "",
                                  (("reason", self.t("reason"), entry.strip()),))

    def _open_void(self, entry: str) -> None:
        self.desk.prompt = Prompt("void_sale", self.t("k_void_sale"), "",
                                  (("reason", self.t("reason"), entry.strip()),))

    def _open_sign(self, entry: str) -> None:
        if self.lane.shift is None:
            self.desk.prompt = Prompt("sign_on", self.t("sign_on"), "", (
                ("staff_id", self.t("staff_id"), entry.strip()), ("pin", self.t("pin"), "")))
        else:
            self.desk.prompt = Prompt("close_shift", self.t("close_shift"), "",
                                      (("counted", self.t("counted"), ""),))

    def submit(self, kind: str, fields: Mapping[str, str]) -> Outcome | Refusal | None:
        """The open dialog's form: builds the lane event it stands for."""
        at = self.clock()
        f = {k: str(v).strip() for k, v in fields.items()}
        try:
            event = self._dialog_event(kind, f, at)
        except keys.EntryError as exc:
            self.note("refusal", refusal_text(self.language, exc.code, str(exc)))
            return None
        return self.handle(event) if event is not None else None

    def _dialog_event(self, kind: str, f: Mapping[str, str], at: datetime) -> ev.Event | None:
        credential = ev.Credential(staff_id=f.get("staff_id") or None, pin=f.get("pin") or None)
        if kind == "sign_on":
            return ev.OpenShift(at, credential)
        if kind == "close_shift":
            counted = keys.amount(f.get("counted", "")) or Decimal(0)
            return ev.CloseShift(at, counted)
        if kind == "refund":
            return ev.Refund(at, f.get("receipt_id", ""), f.get("reason", ""),
                             tender=keys.refund_tender(f.get("tender", "")),
                             reference=f.get("reference") or None)
        if kind == "void_sale":
            return ev.VoidSale(at, f.get("reason", ""))
        if kind == "refund_lines":
            receipt = f.get("receipt_id", "")
            if self._listing(receipt):
                return None
            wanted = keys.refund_choice(f)
            return ev.Refund(at, receipt, f.get("reason", ""),
                             lines=self._whole_lines(receipt, wanted),
                             tender=keys.refund_tender(f.get("tender", "")),
                             reference=f.get("reference") or None)
        if kind == "return":
            return ev.ReturnWithoutReceipt(at, self._item_code(f.get("code", "")),
                                           f.get("reason", ""),
                                           keys.quantity(f.get("quantity", "") or "1"),
                                           keys.refund_tender(f.get("tender", "")))
        if kind == "no_sale":
            return ev.NoSale(at, f.get("reason", ""))
        if kind == "supervisor":
            return self._authorised(ev.Authorization(credential, f.get("reason", "")), at)
        raise keys.EntryError("unknown_dialog", f"No such dialog: {kind}.")

    def _item_code(self, code: str) -> str:
        """The lane takes a return by PLU or SKU; a cashier scans the goods. A barcode is
        read as the lane reads scans and named by its product's SKU; anything the catalog
        does not know goes to the lane as typed, which refuses it in its own words."""
        if not code or (code.isdigit() and len(code) < keys.BARCODE_MIN):
            return code
        parsed = parse_scan(code, self.lane.settings.barcodes)
        if isinstance(parsed, Misread):
            return code
        product = self.lane.catalog.lookup(parsed.lookup_keys)
        return str(product.sku) if product is not None else code

    def _whole_lines(self, receipt_id: str, wanted: Mapping[int, Decimal | None]
                     ) -> dict[int, Decimal]:
        """Lines named without a quantity are refunded whole, or what is left of them: read
        from the receipt through the lane's book (the lane still checks it all). An unknown
        receipt keeps 1 and the lane refuses it in its own words."""
        sold: list[Any] = []
        done: Mapping[int, Decimal] = {}
        if any(q is None for q in wanted.values()):
            with self._lane_lock:
                record = self.lane.book.by_receipt(receipt_id.strip())
                done = self.lane.book.refunded(receipt_id.strip())
            sold = list(record.body.get("lines", ())) if record is not None else []
        out: dict[int, Decimal] = {}
        for index, quantity in wanted.items():
            if quantity is None and index < len(sold):
                whole = Decimal(str(sold[index]["quantity"]))
                left = whole - done.get(index, Decimal(0))
                quantity = left if left > 0 else whole  # all gone: the lane says so
            out[index] = quantity if quantity is not None else Decimal(1)
        return out

    def _authorised(self, authorization: ev.Authorization, at: datetime) -> ev.Event | None:
        with self._lock:
            pending = self._pending
        if pending is None:
            return None
        changes: dict[str, Any] = {"authorization": authorization, "at": at}
        if hasattr(pending, "reason") and not str(pending.reason).strip():
            changes["reason"] = authorization.reason
        return replace(pending, **changes)

    def identify_staff(self, staff_id: str, pin: str) -> Any:
        """A LAN login: the lane's staff directory checks the PIN (and counts failures
        toward its lockout). Answers the staff member or a Refusal."""
        if not staff_id.strip() or not pin.strip():
            return Refusal("no_credential", "Enter your staff number and PIN.")
        credential = ev.Credential(staff_id=staff_id.strip(), pin=pin.strip())
        with self._lane_lock:
            return self.lane.staff.identify(credential, self.clock())

    def note(self, kind: str, text: str) -> None:
        with self._lock:
            self.desk.message = Message(kind, text)
        self.publish()

    # -- devices -----------------------------------------------------------------------------

    def device(self, event: DeviceEvent) -> Outcome | Refusal | None:
        """A device event: scans and cards become lane events; weights and health show."""
        at = self.clock()
        if isinstance(event, ScanEvent):
            return self.handle(ev.Scan(at, event.text))
        if isinstance(event, CardEvent):
            return self._card(event, at)
        self.observe(event)
        return None

    def observe(self, event: DeviceEvent) -> None:
        """Show a device event without feeding the lane: the live weight, device health and
        decode faults (for a daemon that turns scans and cards into lane events itself)."""
        if isinstance(event, WeightReading):
            self._weight(event)
        elif isinstance(event, DeviceStateEvent):
            self._device_state(event.device, event.role.value, event.state.value)
        elif isinstance(event, DecodeFault):
            self.note("alert", f"{event.device}: {event.reason}")

    def _card(self, event: CardEvent, at: datetime) -> Outcome | Refusal | None:
        if event.kind is CardKind.PAYMENT:
            self.note("alert", f"{event.masked}: use the card terminal")
            return None
        card = event.card_id or ""
        if event.kind is CardKind.STAFF:
            if self.lane.shift is None:
                return self.handle(ev.OpenShift(at, ev.Credential(card=card)))
            with self._lock:
                pending = self._pending
            reason = str(getattr(pending, "reason", "")) or "supervisor card"
            event_ = self._authorised(ev.Authorization(ev.Credential(card=card), reason), at)
            return self.handle(event_) if event_ is not None else None
        return self.handle(ev.MemberCard(at, card))

    def _weight(self, reading: WeightReading) -> None:
        with self._lock:
            before = (self.desk.weight, self.desk.weight_status)
            self.desk.weight, self.desk.weight_unit = reading.weight, reading.unit
            self.desk.weight_status = reading.status.value
            self.desk.devices[reading.device] = ("scale", reading.status.value)
            changed = before != (reading.weight, reading.status.value)
        if changed:
            self.publish(lane_changed=False)

    def _device_state(self, name: str, role: str, state: str) -> None:
        with self._lock:
            self.desk.devices[name] = (role, state)
        self.publish(lane_changed=False)
