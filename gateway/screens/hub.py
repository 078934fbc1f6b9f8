"""The screens' adapter over one lane: events in, one current `ScreenView` out, pushed.

Owns the desk (device health, live weight, the last message, the open dialog, a refused
event waiting for a supervisor, the last completed sale), the newest lane snapshot, and
the subscribers that follow the view (the pages' server-sent event streams, the pole
display feed). It turns key presses and device events into lane events and hands them to
the lane's owner (`gateway.screens.requests.LaneOwner`); the lane prices, decides and
journals. It never touches the lane or its database: it renders the frozen
`LaneSnapshot` the owner hands back, and what else it needs (a LAN login, an earlier
receipt for the refund-lines dialog, a scanned return's SKU) is a typed request the owner
runs on its own thread.

Threads: `handle`, `press`, `submit`, `device`, `record` and `publish` may be called from
any thread (the daemon's main loop, the web server's worker threads). No lock of the hub
is held while waiting for the owner, so the owner may call `record` and `publish` at any
time. Listeners are called after the lock is released; async subscribers are woken with
`call_soon_threadsafe`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
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
from gateway.cardsafe import mask_card_data
from gateway.i18n import Translate, language_of, notice_text, refusal_text, translator
from gateway.lane import events as ev
from gateway.lane.events import Outcome, Refusal
from gateway.screens import cash, keys, stock
from gateway.screens.money import CurrencyFormat
from gateway.screens.requests import (
    ItemCode,
    LaneOwner,
    LaneSnapshot,
    ReceiptLines,
    SoldReceipt,
    StaffLogin,
)
from gateway.screens.selling import (
    Choice,
    DepartmentList,
    ProductSearch,
    QuickKeyList,
    chosen,
)
from gateway.screens.settings import ScreensSettings
from gateway.screens.view import (
    Desk,
    Message,
    Prompt,
    ScreenView,
    SyncView,
    Unprinted,
    build_view,
    last_sale,
    receipt_view,
)

Listener = Callable[[ScreenView], None]
OVERRIDABLE = (
    ev.ChangeQuantity,
    ev.VoidLine,
    ev.PriceOverride,
    ev.BasketDiscount,
    ev.VoidSale,
    ev.Refund,
    ev.ReturnWithoutReceipt,
    ev.NoSale,
    ev.CloseShift,
    ev.Tender,
    ev.PaidIn,
    ev.PaidOut,
    ev.TopUp,
    ev.RefundTopUp,
    ev.OpenPrice,
    ev.ConfirmAge,
)
LISTED = ("refund_lines", "search", "quick", "open_price")  # dialogs that ask the owner first
SELLING_DIALOGS = ("search", "quick", "open_price", "age", "basket_discount")


def store_clock(timezone: str) -> Callable[[], datetime]:
    """Store-local wall time, as the lane's events carry it."""
    zone = ZoneInfo(timezone)
    return lambda: datetime.now(zone).replace(tzinfo=None)


class ScreenHub:
    """One lane's screens. Create it with the lane, mount `create_app(hub)`, feed it events."""

    def __init__(
        self,
        owner: LaneOwner,
        settings: ScreensSettings,
        *,
        clock: Callable[[], datetime],
        scale_capacity: Mapping[str, Decimal] | None = None,
        store_name: str = "",
        lane_name: str = "",
    ) -> None:
        """`owner` runs every lane event and request (`LocalLane(lane)` without a daemon;
        the daemon's main loop in `gateway run`, which then calls `record` for events it
        fed itself). `scale_capacity`: each scale's configured capacity by device name, in
        that scale's own unit."""
        self.owner = owner
        self.settings = settings
        self.clock = clock
        self.scale_capacity = dict(scale_capacity or {})
        self.store_name = store_name
        self.desk = Desk(store=store_name, lane_name=lane_name)
        self._thanks_at: datetime | None = None  # when the customer's thank-you began
        # prints a receipt again through the daemon's printer thread: the journal record
        # `seq` (None: the last receipt); answers its receipt number, None for nothing to
        # print. None here: this till has no printer thread (no daemon).
        self.reprinter: Callable[[int | None], str | None] | None = None
        # runs a stock desk request (gateway.screens.stock's fields) on the daemon's main
        # loop and answers the desk's reply; None: no stock desk (no daemon). The daemon
        # hands the open session's view to `stock_shown`.
        self.stocker: Callable[[dict[str, Any]], dict[str, Any]] | None = None
        self.stock_session: dict[str, Any] | None = None
        self._pending: ev.Event | None = None
        self._member_name: str | None = None
        self._lock = threading.RLock()
        self._listeners: list[Listener] = []
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
        self.closed = False  # set by close(): the streams end, the server is stopping
        self.version = 0
        self.snapshot: LaneSnapshot = owner.snapshot()
        self._view = self._build()

    # -- the view and who follows it -------------------------------------------------------

    @property
    def view(self) -> ScreenView:
        return self._view

    @property
    def language(self) -> str:
        """The signed-on cashier's language (chosen at sign-on), else the box's default:
        the pages follow a new sign-on at once, without a restart."""
        shift = self.snapshot.shift
        return language_of(getattr(shift, "language", None), self.settings.language)

    @property
    def t(self) -> Translate:
        return translator(self.language)

    @property
    def money(self) -> CurrencyFormat:
        lane = self.snapshot
        return CurrencyFormat.for_currency(lane.currency, lane.places, self.settings.currency)

    def _build(self) -> ScreenView:
        view = build_view(self.snapshot, self.desk, self.money, self.t, self.language)
        if self.stock_session is not None:
            view = replace(view, stock=stock.stock_view(self.stock_session, self.t))
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

    def close(self) -> None:
        """The server is stopping: every stream ends itself (see `closed`), so the server
        finds no request it has to cancel. Wakes the streams like a change does."""
        with self._lock:
            self.closed = True
            waiters = list(self._waiters)
        self._wake(waiters)

    def _wake(self, waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]]) -> None:
        for loop, flag in waiters:
            if not loop.is_closed():
                loop.call_soon_threadsafe(flag.set)

    def _adopt(self, snapshot: LaneSnapshot | None) -> None:
        """Keep the newest snapshot (under the lock): one that arrives late is older."""
        if snapshot is not None and snapshot.serial >= self.snapshot.serial:
            self.snapshot = snapshot

    def publish(self, snapshot: LaneSnapshot | None = None) -> None:
        """Rebuild the view and wake every follower. The lane's owner passes the snapshot
        it took when something other than an event (a catalog swap, a restore) changed the
        lane; without one, only the desk changed."""
        with self._lock:
            self._adopt(snapshot)
            self._view = self._build()
            self.version += 1
            view, waiters, listeners = self._view, list(self._waiters), list(self._listeners)
        self._wake(waiters)
        for listener in listeners:
            listener(view)

    # -- lane events -------------------------------------------------------------------------

    def handle(self, event: ev.Event, actor: str | None = None) -> Outcome | Refusal:
        """Hand `event` to the lane's owner, remember what it answered, publish. `actor`:
        the staff id of a LAN session's person, who the event is done by (None: the till
        itself, its signed-on cashier). The hub's lock is not held meanwhile: an owner that
        runs it on the daemon's main loop cannot deadlock with that loop calling `publish`.
        A card number typed into a reason or a reference is masked before the hub keeps the
        event (a pending override's prompt shows its reason again, to every page)."""
        event = ev.without_card_data(event)
        if actor is not None:
            event = replace(event, actor=actor)
        fed = self.owner.feed(event)
        self.record(event, fed.answer, fed.snapshot)
        return fed.answer

    def record(
        self, event: ev.Event, answer: Outcome | Refusal, snapshot: LaneSnapshot | None = None
    ) -> None:
        """What the lane answered to `event` (fed by the hub or by the daemon) and the lane
        right after it: the message, a supervisor prompt, the last sale; then publish."""
        with self._lock:
            self._adopt(snapshot)
            if isinstance(answer, Refusal):
                self._refused(event, answer)
            else:
                shown = (self.desk.last_sale, self.desk.refunded)
                self._accepted(answer, self._member_name)
                if (self.desk.last_sale, self.desk.refunded) != shown:
                    self.desk.thanks_cleared, self._thanks_at = False, event.at
                if isinstance(event, ev.OpenShift):  # the next cashier: a fresh display
                    self.desk.thanks_cleared, self._thanks_at = True, None
            if not self.snapshot.member:
                self._member_name = None
        self.publish()

    def _refused(self, event: ev.Event, refusal: Refusal) -> None:
        self.desk.message = Message(
            "refusal", refusal_text(self.language, refusal.code, refusal.message)
        )
        if refusal.code == "needs_age_check":
            self.desk.prompt = self._age_prompt(self.desk.message.text)
            return
        open_ = self.desk.prompt
        if open_ is not None and open_.kind in SELLING_DIALOGS:
            # said inside the dialog the cashier is looking at, which stays open
            self.desk.prompt = replace(open_, alert=self.desk.message.text)
        # a member tender the members room will only take offline with a supervisor's
        # approval says so with `needs_supervisor` rather than the lane's own code
        wants_supervisor = refusal.code == "needs_override" or refusal.needs_supervisor
        if wants_supervisor and isinstance(event, OVERRIDABLE):
            self._pending = event
            reason = getattr(event, "reason", "")
            self.desk.prompt = Prompt(
                "supervisor",
                self.t("supervisor"),
                self.desk.message.text,
                (
                    ("staff_id", self.t("staff_id"), ""),
                    ("pin", self.t("pin"), ""),
                    ("reason", self.t("reason"), reason),
                ),
            )

    def _accepted(self, outcome: Outcome, member_name: str | None) -> None:
        self._pending = None
        self.desk.prompt = None
        self.desk.refund_picks = {}
        self.desk.selected = None
        text = " ".join(notice_text(self.language, n) for n in outcome.notices)
        self.desk.message = Message("notice", text) if text else None
        asked = next((n for n in outcome.notices if n.startswith("Age check:")), None)
        if asked is not None:  # the lane asks once per sale: the prompt opens with it
            self.desk.prompt = self._age_prompt(notice_text(self.language, asked))
        records: tuple[Any, ...] = outcome.records
        closed = next((r for r in records if r.kind == "shift_close"), None)
        if closed is not None:  # the drawer's figures, over/short in the colour of its sign
            self.desk.prompt = cash.closed_prompt(closed.body, self.money, self.t)
            self.desk.message = cash.closed_message(closed.body, text)
        document = next((r for r in records if r.kind in ("sale", "refund")), None)
        if document is not None and document.kind == "sale":
            name = member_name if document.body.get("member") else None
            self.desk.last_sale = last_sale(
                document.body, outcome.receipt, self.money, self.settings.receipt_qr, name
            )
            self.desk.refunded = None
        elif document is not None:
            total = self.money(Decimal(str(document.body["total"])))
            self.desk.refunded = total
            self.desk.message = Message("notice", f"{self.t('refunded')}: {total}. {text}")
        if self.snapshot.sale is not None:
            self.desk.last_sale = None

    # -- keys and dialogs --------------------------------------------------------------------

    def press(
        self, action: str, entry: str = "", actor: str | None = None
    ) -> Outcome | Refusal | None:
        """A function key (or its button) with what the entry line held, pressed by `actor`
        (a LAN session's staff id; None: at the till)."""
        try:
            return self._press(action, entry, actor)
        except keys.EntryError as exc:
            self.note("refusal", refusal_text(self.language, exc.code, mask_card_data(str(exc))))
            return None

    def _press(self, action: str, entry: str, actor: str | None) -> Outcome | Refusal | None:
        if action in stock.KEY_ACTIONS or (
            self.stock_session is not None and action in stock.SCANNING
        ):
            self._stock_press(action, entry)
            return None
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
            return self.handle(event, actor) if event is not None else None
        if action == "reprint":  # the daemon's printer thread: not under the hub's lock
            self._reprint()
            return None
        if action in LISTED:  # asks the lane's owner: not under the hub's lock
            listed = self._listed_prompt(action, entry)
            with self._lock:
                self.desk.prompt, self.desk.refund_picks = listed, {}
            self.publish()
            return None
        dialogs: dict[str, Callable[[str], None]] = {
            "refund": self._open_refund,
            "void_sale": self._open_void,
            "sign": self._open_sign,
            "up": lambda _: self._move(-1),
            "down": lambda _: self._move(1),
            "select": self._select,
            "refund_pick": self._refund_pick,
            "return": self._open_return,
            "no_sale": self._open_no_sale,
            "paid_in": lambda entry: self._open_movement("paid_in", entry),
            "top_up": lambda entry: self._prompt(cash.top_up_prompt(self.t, entry)),
            "refund_top_up": lambda entry: self._prompt(cash.refund_top_up_prompt(self.t, entry)),
            "paid_out": lambda entry: self._open_movement("paid_out", entry),
            "age": lambda _: self._open_age(),
            "basket_discount": self._open_basket_discount,
            "escape": lambda _: self._escape(),
        }
        if action not in dialogs:
            raise keys.EntryError("unknown_key", f"No such key action: {action}.")
        with self._lock:
            dialogs[action](entry)
        self.publish()
        return None

    def _reprint(self) -> None:
        """Ctrl+P: the receipt the banner says did not print, else the last receipt
        (marked as a copy), printed again from its journal record."""
        with self._lock:
            unprinted = self.desk.unprinted
        if self.reprinter is None:
            self.note("alert", self.t("no_printer"))
            return
        printing = self.reprinter(unprinted.seq if unprinted is not None else None)
        if printing is None:
            self.note("alert", self.t("nothing_to_reprint"))
        else:
            self.note("notice", f"{self.t('reprinting')} {printing}")

    def _weighed(self, entry: str, at: datetime) -> ev.Event:
        """F3: the PLU typed and the scale's last reading, through the lane's one
        translator from a reading to `Weighed` (the control socket's `weigh` uses it too)."""
        return self._reading(at, keys.weighed_code(entry))

    def _reading(self, at: datetime, code: str) -> ev.Weighed:
        """The scale's last reading for the item `code`, as the lane's one translator
        (`Weighed.from_reading`) makes it."""
        with self._lock:
            reading = self.desk.reading
        capacity = self.scale_capacity.get(reading.device) if reading is not None else None
        return ev.Weighed.from_reading(at, code, reading, capacity)

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

    def _refund_pick(self, entry: str) -> None:
        """What the cashier has picked so far in the refund-lines dialog (`1=2;3=all`, sent
        by the page as it changes), for the customer's display only: the lane gets the
        picks with OK, and checks them then."""
        prompt = self.desk.prompt
        if prompt is None or prompt.receipt is None:
            return
        numbers = {line.number for line in prompt.receipt.lines if line.open}
        picks: dict[int, str] = {}
        for item in entry.split(";")[:500]:
            number, _, quantity = item.partition("=")
            if number.strip().isdigit() and int(number) in numbers and quantity.strip():
                picks[int(number)] = quantity.strip()[:12]
        self.desk.refund_picks = picks

    def _escape(self) -> None:
        self.desk.refund_picks = {}
        self.desk.prompt = None
        self.desk.message = None
        self._pending = None

    def _pay_back(self) -> tuple[tuple[str, str, str], ...]:
        """The refund dialogs' last fields: how the money goes back (cash unless changed)
        and the card terminal's reference."""
        return (
            ("tender", self.t("pay_back"), self.t("cash_word")),
            ("reference", self.t("reference"), ""),
        )

    def _open_refund(self, entry: str) -> None:
        self.desk.prompt = Prompt(
            "refund",
            self.t("refund"),
            "",
            (
                ("receipt_id", self.t("receipt_id"), entry.strip()),
                ("reason", self.t("reason"), ""),
                *self._pay_back(),
            ),
        )

    def _refund_lines_prompt(self, receipt_id: str) -> Prompt:
        """Shift+F10: the receipt on the entry line (or typed / scanned in the dialog) with
        its lines listed, to pick how many of each to refund (see keys.refund_choice).
        The refund-lines dialog for `receipt_id`: the receipt's lines read from its sale
        record and the lane book's refunded quantities, or why it cannot list them. Only
        reads the book (a request its owner runs); the lane decides on the refund when it
        is sent."""
        title, field = self.t("k_refund_lines"), ("receipt_id", self.t("receipt_id"), receipt_id)
        if not receipt_id:
            return Prompt("refund_lines", title, self.t("receipt_hint"), (field,))
        sold = self.owner.ask(ReceiptLines(receipt_id))
        if sold is None:
            alert = refusal_text(
                self.language, "unknown_receipt", f"No sale with receipt {receipt_id} on this till."
            )
            return Prompt("refund_lines", title, self.t("receipt_hint"), (field,), alert=alert)
        body = sold.body
        money = CurrencyFormat.for_currency(
            str(body["currency"]), int(body["places"]), self.settings.currency
        )
        receipt = receipt_view(body, sold.refunded, money, self.t)
        return Prompt(
            "refund_lines",
            title,
            self.t("lines_hint"),
            (field, ("reason", self.t("reason"), ""), *self._pay_back()),
            receipt=receipt,
        )

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

    # -- items without a barcode: search, quick keys, open price, age ----------------------

    def _listed_prompt(self, action: str, entry: str) -> Prompt:
        """A dialog that lists what the lane's owner reads (never under the hub's lock)."""
        if action == "refund_lines":
            return self._refund_lines_prompt(entry.strip())
        if action == "search":
            return self._search_prompt(entry.strip())
        if action == "quick":
            return self._quick_prompt(entry)
        return self._open_price_prompt("", entry.strip())

    def _search_prompt(self, query: str) -> Prompt:
        """Shift+F3: products by name, PLU or pinyin initials (the entry line's text)."""
        found = self.owner.ask(ProductSearch(query)) if query else ()
        return Prompt(
            "search",
            self.t("k_search"),
            self.t("search_hint"),
            (("query", self.t("search_query"), query),),
            alert=self.t("no_results") if query and not found else "",
            choices=found,
        )

    def _quick_prompt(self, entry: str) -> Prompt:
        """Shift+F5: the catalog's quick keys; a quantity typed on the entry line stays."""
        count = entry.strip() if entry.strip().isdigit() else "1"
        return Prompt(
            "quick",
            self.t("k_quick"),
            self.t("quick_hint"),
            (("key", self.t("key_number"), ""), ("quantity", self.t("qty"), count)),
            choices=self.owner.ask(QuickKeyList()),
        )

    def _open_price_prompt(self, department: str, price: str) -> Prompt:
        """Shift+F6 (or a department's quick key): department, price each and quantity;
        a price typed on the entry line comes with it."""
        return Prompt(
            "open_price",
            self.t("k_open_price"),
            self.t("departments_hint"),
            (
                ("department", self.t("department"), department),
                ("price", self.t("unit_price"), price),
                ("quantity", self.t("qty"), "1"),
            ),
            choices=self.owner.ask(DepartmentList()),
        )

    def _age_prompt(self, text: str) -> Prompt:
        return Prompt("age", self.t("k_age"), text or self.t("age_hint"))

    def _open_age(self) -> None:
        """Shift+F7: confirm the customer's age now (the lane says whether it is needed)."""
        self.desk.prompt = self._age_prompt("")

    def _open(self, kind: str) -> bool:
        with self._lock:
            return self.desk.prompt is not None and self.desk.prompt.kind == kind

    def _choices(self, kind: str) -> tuple[Choice, ...]:
        with self._lock:
            prompt = self.desk.prompt
        return prompt.choices if prompt is not None and prompt.kind == kind else ()

    def _show(self, prompt: Prompt) -> None:
        with self._lock:
            self.desk.prompt = prompt
        self.publish()

    def _picked(self, choice: Choice, count: str, at: datetime) -> ev.Event | None:
        """A search result or a quick key: a counted item with its quantity, a weighed one
        with the scale's reading, a department's key opens the open-price dialog."""
        if choice.kind == "department":
            self._show(self._open_price_prompt(choice.value, ""))
            return None
        if choice.kind == "weighed":
            return ev.Pick(at, choice.value, weighed=self._reading(at, choice.value))
        return ev.Pick(at, choice.value, keys.quantity(count or "1"))

    def _search_event(self, f: Mapping[str, str], at: datetime) -> ev.Event | None:
        """The search form: a result picked (tapped, or Enter on it), else the query
        listed again; Enter on the query with one result listed takes that one."""
        choices = self._choices("search")
        query = f.get("query", "")
        pick = chosen(choices, f.get("choice", ""))
        if pick is None and len(choices) == 1 and f.get("listed") == query:
            pick = choices[0]
        if pick is None:
            self._show(self._search_prompt(query))
            return None
        return self._picked(pick, "1", at)

    def _quick_event(self, f: Mapping[str, str], at: datetime) -> ev.Event | None:
        pick = chosen(self._choices("quick"), f.get("choice") or f.get("key", ""))
        if pick is None:
            raise keys.EntryError("bad_key", "Tap a quick key, or type its number.")
        return self._picked(pick, f.get("quantity", "1"), at)

    def _open_price_event(self, f: Mapping[str, str], at: datetime) -> ev.Event:
        typed = f.get("department", "")
        department = chosen(self._choices("open_price"), typed)
        return ev.OpenPrice(
            at,
            department.value if department is not None else typed,
            keys.open_price(f.get("price", "")),
            keys.quantity(f.get("quantity", "") or "1"),
        )

    def _open_return(self, entry: str) -> None:
        """Shift+F11: goods back without a receipt; the entry line may hold `n*code`."""
        try:
            typed = keys.Entry.parse(entry)
        except keys.EntryError:
            typed = keys.Entry(None, entry.strip())
        count = typed.quantity if typed.quantity is not None else Decimal(1)
        self.desk.prompt = Prompt(
            "return",
            self.t("k_return"),
            "",
            (
                ("code", self.t("code"), typed.text),
                ("quantity", self.t("qty"), str(count)),
                ("reason", self.t("reason"), ""),
                ("tender", self.t("pay_back"), self.t("cash_word")),
            ),
        )

    def _open_no_sale(self, entry: str) -> None:
        """Shift+F12: open the drawer without a sale; the lane wants the reason."""
        self.desk.prompt = Prompt(
            "no_sale", self.t("k_no_sale"), "", (("reason", self.t("reason"), entry.strip()),)
        )

    def _prompt(self, prompt: Prompt) -> None:
        self.desk.prompt = prompt

    def _open_movement(self, kind: str, entry: str) -> None:
        """Shift+F6 / Shift+F7: cash in or out of the drawer; the lane wants a reason."""
        self.desk.prompt = cash.movement_prompt(kind, self.t, entry)

    def _open_basket_discount(self, entry: str) -> None:
        """Ctrl+F2: a discount on the whole sale (整单折扣), `10%` or an amount, and why;
        what the entry line held is the discount. A cashier is then asked for a supervisor
        (the lane's `needs_override`, as for any override)."""
        self.desk.prompt = Prompt(
            "basket_discount",
            self.t("k_basket_discount"),
            self.t("basket_discount_hint"),
            (
                ("discount", self.t("discount"), entry.strip()),
                ("reason", self.t("reason"), ""),
            ),
        )

    def _open_void(self, entry: str) -> None:
        self.desk.prompt = Prompt(
            "void_sale", self.t("k_void_sale"), "", (("reason", self.t("reason"), entry.strip()),)
        )

    def _open_sign(self, entry: str) -> None:
        if self.snapshot.shift is None:
            self.desk.prompt = Prompt(
                "sign_on",
                self.t("sign_on"),
                "",
                (
                    ("staff_id", self.t("staff_id"), entry.strip()),
                    ("pin", self.t("pin"), ""),
                    cash.float_field(self.t),
                    ("language", self.t("language"), ""),
                ),
            )
        else:
            self.desk.prompt = cash.close_prompt(self.t, self.money, self.snapshot.currency)

    def submit(
        self, kind: str, fields: Mapping[str, str], actor: str | None = None
    ) -> Outcome | Refusal | None:
        """The open dialog's form: builds the lane event it stands for, done by `actor` (a
        LAN session's staff id; None: at the till). A supervisor's form sent for a pending
        event makes it the sender's too: whoever sends it asks for the override."""
        at = self.clock()
        f = {k: str(v).strip() for k, v in fields.items()}
        try:
            event = self._dialog_event(kind, f, at)
        except keys.EntryError as exc:
            self.note("refusal", refusal_text(self.language, exc.code, mask_card_data(str(exc))))
            self._keep_typed(kind, f)
            return None
        if event is None:
            return None
        answer = self.handle(event, actor)
        if isinstance(answer, Refusal):
            self._keep_typed(kind, f)
        return answer

    def _keep_typed(self, kind: str, fields: Mapping[str, str]) -> None:
        """A cash dialog the lane (or its own parsing) refused stays open with what was
        typed and the refusal inside it: a count of a dozen notes and coins is not lost."""
        with self._lock:
            prompt, message = self.desk.prompt, self.desk.message
            if kind not in cash.DIALOGS or prompt is None or prompt.kind != kind:
                return
            self.desk.prompt = cash.refused(prompt, fields, message.text if message else "")
        self.publish()

    def _dialog_event(self, kind: str, f: Mapping[str, str], at: datetime) -> ev.Event | None:
        if kind in stock.DIALOGS:
            self._stock_submit(kind, f)
            return None
        credential = ev.Credential(staff_id=f.get("staff_id") or None, pin=f.get("pin") or None)
        if kind == "sign_on":
            return ev.OpenShift(
                at, credential, cash.opening_float(f), language=f.get("language") or None
            )
        if kind == "close_shift":
            return cash.close_event(f, at, self.snapshot.currency)
        if kind in cash.MOVEMENTS:
            return cash.movement_event(kind, f, at)
        if kind == "top_up":
            return cash.top_up_event(f, at)
        if kind == "refund_top_up":
            return ev.RefundTopUp(at, f.get("top_up", ""), f.get("card", ""), f.get("reason", ""))
        if kind == "shift_closed":  # the drawer's figures were read: OK closes them
            with self._lock:
                self.desk.prompt = None
            self.publish()
            return None
        if kind == "refund":
            return ev.Refund(
                at,
                f.get("receipt_id", ""),
                f.get("reason", ""),
                tender=keys.refund_tender(f.get("tender", "")),
                reference=f.get("reference") or None,
            )
        if kind == "void_sale":
            return ev.VoidSale(at, f.get("reason", ""))
        if kind == "refund_lines":
            receipt = f.get("receipt_id", "")
            if self._listing(receipt):
                return None
            wanted = keys.refund_choice(f)
            return ev.Refund(
                at,
                receipt,
                f.get("reason", ""),
                lines=self._whole_lines(receipt, wanted),
                tender=keys.refund_tender(f.get("tender", "")),
                reference=f.get("reference") or None,
            )
        if kind == "return":
            return ev.ReturnWithoutReceipt(
                at,
                self.owner.ask(ItemCode(f.get("code", ""))),
                f.get("reason", ""),
                keys.quantity(f.get("quantity", "") or "1"),
                keys.refund_tender(f.get("tender", "")),
            )
        if kind == "no_sale":
            return ev.NoSale(at, f.get("reason", ""))
        if kind in SELLING_DIALOGS and not self._open(kind):
            return None  # a form of a dialog no longer open (a second Enter): done already
        if kind == "search":
            return self._search_event(f, at)
        if kind == "quick":
            return self._quick_event(f, at)
        if kind == "open_price":
            return self._open_price_event(f, at)
        if kind == "age":
            return ev.ConfirmAge(at)
        if kind == "basket_discount":
            return keys.basket_discount(f, at)
        if kind == "supervisor":
            return self._authorised(ev.Authorization(credential, f.get("reason", "")), at)
        raise keys.EntryError("unknown_dialog", f"No such dialog: {kind}.")

    def _whole_lines(
        self, receipt_id: str, wanted: Mapping[int, Decimal | None]
    ) -> dict[int, Decimal]:
        """Lines named without a quantity are refunded whole, or what is left of them: read
        from the receipt through the lane's book (the lane still checks it all). An unknown
        receipt keeps 1 and the lane refuses it in its own words."""
        sold: list[Any] = []
        done: Mapping[int, Decimal] = {}
        if any(q is None for q in wanted.values()):
            receipt: SoldReceipt | None = self.owner.ask(ReceiptLines(receipt_id.strip()))
            if receipt is not None:
                sold, done = list(receipt.body.get("lines", ())), receipt.refunded
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

    def identify_staff(self, staff_id: str, pin: str, source: str = "screens") -> Any:
        """A LAN login: the lane's staff directory checks the PIN (and counts failures
        toward its lockout), on the lane owner's thread. Answers the staff member or a
        Refusal. `source`: where the login came from ("screens ADDRESS")."""
        if not staff_id.strip() or not pin.strip():
            return Refusal("no_credential", "Enter your staff number and PIN.")
        credential = ev.Credential(staff_id=staff_id.strip(), pin=pin.strip())
        return self.owner.ask(StaffLogin(credential, self.clock(), source))

    def wake(self) -> None:
        """Wake every event stream without a change (a session ended: its stream ends)."""
        with self._lock:
            waiters = list(self._waiters)
        self._wake(waiters)

    # -- the stock mode (gateway.screens.stock; the daemon's stock desk decides) -------------

    def stock_shown(self, shown: dict[str, Any] | None) -> None:
        """The open stock session as the desk shows it (None: the till sells again)."""
        with self._lock:
            self.stock_session = shown
        self.publish()

    def _stock_press(self, action: str, entry: str) -> None:
        """Ctrl+F10..F12 open the stock dialogs; while a session is open the entry line
        (Enter, F3) is a scan of it. Never under the hub's lock: the desk answers on the
        daemon's main loop, which shows the step through `record` and `stock_shown`."""
        if self.stocker is None:
            self.note("alert", self.t("stock_no_desk"))
            return
        if action in stock.SCANNING:
            fields = stock.scan_fields(entry)
            if fields is not None:
                self.stocker(fields)
            return
        open_ = self.stock_session is not None
        if action == "stock" and not open_:
            orders = self.stocker({"action": "orders"}).get("orders") or []
            self._show(stock.start_prompt(self.t, orders, entry))
        elif not open_:
            self.note("refusal", self.t("stock_none_open"))
        elif action == "stock":
            self._show(stock.section_prompt(self.t, entry))
        elif action == "stock_finish":
            self._show(stock.finish_prompt(self.t))
        else:
            self._show(stock.cancel_prompt(self.t, entry))

    def _stock_submit(self, kind: str, f: Mapping[str, str]) -> None:
        """A stock dialog's form to the desk: done, the dialog closes (the desk's step was
        shown); refused, it stays open with what was typed, the PIN cleared, and why."""
        if self.stocker is None or not self._open(kind):
            return  # a form of a dialog no longer open (a second Enter): done already
        answer = self.stocker(stock.request_fields(kind, f))
        with self._lock:
            prompt = self.desk.prompt
            if prompt is None or prompt.kind != kind:
                pass
            elif answer.get("ok"):
                self.desk.prompt = None
            else:
                why = refusal_text(
                    self.language, str(answer.get("refused") or ""), str(answer.get("error"))
                )
                self.desk.prompt = stock.refused(prompt, f, why)
        self.publish()

    # -- the till at a glance ----------------------------------------------------------------

    def tick(self, now: datetime | None = None) -> None:
        """The clock moved (the daemon calls this every second; `now` defaults to the
        hub's clock): the date and time shown, and the customer's thank-you cleared once
        `[screens] thanks_seconds` have passed. Publishes only what changed."""
        now = now if now is not None else self.clock()
        limit = self.settings.thanks_seconds
        with self._lock:
            desk = self.desk
            before = (desk.date, desk.clock, desk.thanks_cleared)
            desk.date, desk.clock = now.strftime("%Y-%m-%d"), now.strftime("%H:%M")
            since = self._thanks_at
            if limit and since is not None and now - since >= timedelta(seconds=limit):
                desk.thanks_cleared, self._thanks_at = True, None
            changed = before != (desk.date, desk.clock, desk.thanks_cleared)
        if changed:
            self.publish()

    def sync_state(self, online: bool | None, backlog: int) -> None:
        """How the box stands with head office (`online` None: sync is off), and how many
        journal records wait for its acknowledgement."""
        state = SyncView(online, backlog)
        with self._lock:
            changed, self.desk.sync = self.desk.sync != state, state
        if changed:
            self.publish()

    def receipt_printed(self, seq: int, receipt_id: str, printed: bool, reason: str = "") -> None:
        """The printer thread's word on the receipt of record `seq`: one that did not
        print raises the till's banner (Ctrl+P prints it again); printed, it goes."""
        with self._lock:
            shown = self.desk.unprinted
            if not printed:
                self.desk.unprinted = Unprinted(seq, receipt_id, reason)
            elif shown is not None and shown.seq == seq:
                self.desk.unprinted = None
            changed = shown != self.desk.unprinted
        if changed:
            self.publish()

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
            self.note("alert", self.t("use_terminal").format(card=event.masked))
            return None
        card = event.card_id or ""
        if event.kind is CardKind.STAFF:
            if self.snapshot.shift is None:
                return self.handle(ev.OpenShift(at, ev.Credential(card=card)))
            with self._lock:
                pending = self._pending
            reason = str(getattr(pending, "reason", "")) or "supervisor card"
            event_ = self._authorised(ev.Authorization(ev.Credential(card=card), reason), at)
            return self.handle(event_) if event_ is not None else None
        return self.handle(ev.MemberCard(at, card, source="reader"))

    def _weight(self, reading: WeightReading) -> None:
        with self._lock:
            before = (self.desk.weight, self.desk.weight_status)
            self.desk.reading = reading
            self.desk.weight, self.desk.weight_unit = reading.weight, reading.unit
            self.desk.weight_status = reading.status.value
            self.desk.devices[reading.device] = ("scale", reading.status.value)
            changed = before != (reading.weight, reading.status.value)
        if changed:
            self.publish()

    def _device_state(self, name: str, role: str, state: str) -> None:
        with self._lock:
            self.desk.devices[name] = (role, state)
        self.publish()
