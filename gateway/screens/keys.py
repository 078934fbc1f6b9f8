"""Key presses and touches -> lane events: the cashier's keyboard as data.

Owns the key map (function keys, shown on the page's key bar) and the parsing of what the
cashier typed on the entry line (a barcode, `3*PLU`, an amount). Returns lane events or
the name of a dialog to open; decides nothing the lane decides. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from gateway.lane import events as ev

# action -> (key, text key). Every action of the cashier page has a key: no mouse needed.
KEYS: dict[str, tuple[str, str]] = {
    "member": ("F2", "k_member"),
    "weigh": ("F3", "k_weigh"),
    "qty": ("F4", "k_qty"),
    "void_line": ("F5", "k_void_line"),
    "suspend": ("F6", "k_suspend"),
    "resume": ("F7", "k_resume"),
    "cash": ("F8", "k_cash"),
    "card": ("F9", "k_card"),
    "refund": ("F10", "k_refund"),
    "void_sale": ("F11", "k_void_sale"),
    "sign": ("F12", "k_sign"),
    "up": ("ArrowUp", "k_up"),
    "down": ("ArrowDown", "k_down"),
    "escape": ("Escape", "k_escape"),
    # Shift + the function key of the nearest plain action: coupon next to member, price
    # next to quantity, member tenders next to cash/card, the rarer refunds and the drawer
    # next to refund / void sale / sign on (F1 is left to the kiosk's own help).
    "coupon": ("Shift+F2", "k_coupon"),
    # a discount on the whole sale (整单折扣): Ctrl with coupon's key (not Ctrl+F4 / F5,
    # which browsers keep for closing a tab and reloading)
    "basket_discount": ("Ctrl+F2", "k_basket_discount"),
    "price": ("Shift+F4", "k_price"),
    "points": ("Shift+F8", "k_points"),
    "stored_value": ("Shift+F9", "k_stored_value"),
    "refund_lines": ("Shift+F10", "k_refund_lines"),
    "return": ("Shift+F11", "k_return"),
    "no_sale": ("Shift+F12", "k_no_sale"),
    # cash into and out of the drawer without a sale: Ctrl with suspend / resume's keys
    "paid_in": ("Ctrl+F6", "k_paid_in"),
    "paid_out": ("Ctrl+F7", "k_paid_out"),
    # member top-ups (充值) and their refund: Ctrl with the tender keys
    "top_up": ("Ctrl+F8", "k_top_up"),
    "refund_top_up": ("Ctrl+F9", "k_refund_top_up"),
    # the stock mode (gateway.screens.stock): start receiving or a count (next section
    # while one is open), finish, cancel - Ctrl with the last three function keys
    "stock": ("Ctrl+F10", "k_stock"),
    "stock_finish": ("Ctrl+F11", "k_stock_finish"),
    "stock_cancel": ("Ctrl+F12", "k_stock_cancel"),
    # print again (Ctrl+P, as everywhere): the receipt that did not print (the banner),
    # else the last one. Not a Shift+F key: those are taken by the rarer sale actions.
    "reprint": ("Ctrl+P", "k_reprint"),
    # selling what has no barcode (docs/screens.md "Items without a barcode"): search next
    # to weigh, quick keys and open price next to void line / suspend, the age check
    "search": ("Shift+F3", "k_search"),
    "quick": ("Shift+F5", "k_quick"),
    "open_price": ("Shift+F6", "k_open_price"),
    "age": ("Shift+F7", "k_age"),
}
BARCODE_MIN = 8  # EAN-8 is the shortest barcode; shorter numbers are PLUs


class EntryError(ValueError):
    """What the cashier typed cannot be read; the message says what was expected."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Entry:
    """The entry line: an optional `n*` quantity and the rest."""

    quantity: Decimal | None
    text: str

    @classmethod
    def parse(cls, raw: str) -> Entry:
        raw = raw.strip()
        if "*" in raw:
            count, _, rest = raw.partition("*")
            return cls(_number(count, "bad_quantity"), rest.strip())
        return cls(None, raw)


def _number(text: str, code: str) -> Decimal:
    try:
        value = Decimal(text.strip().replace(",", "."))
    except InvalidOperation:
        raise EntryError(code, f"{text!r} is not a number.") from None
    if not value.is_finite():
        raise EntryError(code, f"{text!r} is not a number.")
    return value


def item_event(raw: str, at: datetime) -> ev.Event | None:
    """Enter on the entry line: a barcode (8+ digits or any scanner text) or a PLU."""
    entry = Entry.parse(raw)
    if not entry.text:
        return None
    quantity = entry.quantity if entry.quantity is not None else Decimal(1)
    if entry.text.isdigit() and len(entry.text) < BARCODE_MIN:
        return ev.Plu(at, entry.text, quantity)
    return ev.Scan(at, entry.text, quantity)


def weighed_code(raw: str) -> str:
    """F3: the PLU typed for the item on the scale (the reading goes with it to the lane
    through `Weighed.from_reading`, the one translator of scale readings)."""
    code = Entry.parse(raw).text
    if not code:
        raise EntryError("needs_plu", "Type the PLU of the weighed item, then press F3.")
    return code


def amount(raw: str) -> Decimal | None:
    """An amount typed before a tender key; empty means "the rest" (exact)."""
    raw = raw.strip()
    return None if not raw else _number(raw, "bad_amount")


def quantity(raw: str) -> Decimal:
    if not raw.strip():
        raise EntryError("bad_quantity", "Type the new quantity, then press F4.")
    return _number(raw, "bad_quantity")


def price(raw: str) -> Decimal:
    """Shift+F4: the new unit price of the selected line (the lane refuses a negative one)."""
    if not raw.strip():
        raise EntryError("needs_price", "Type the new unit price, then press Shift+F4.")
    return _number(raw, "bad_price")


def open_price(raw: str) -> Decimal:
    """The open-price dialog's unit price (the lane checks it against the ceiling)."""
    if not raw.strip():
        raise EntryError("needs_price", "Type the item's price, then press Enter.")
    return _number(raw, "bad_price")


def basket_discount(
    fields: Mapping[str, str], at: datetime
) -> ev.BasketDiscount | ev.RemoveBasketDiscount:
    """Ctrl+F2's dialog: `discount` typed as a percent (`10%`, `12.5 %`) or an amount
    (`5.00`), and its `reason`; `0` (or `0%`) takes the sale's discount off again. The
    lane checks the rest (the largest percent, the currency's decimals, who may)."""
    raw = fields.get("discount", "").strip()
    if not raw:
        raise EntryError("needs_discount", "Type the discount: 10% or an amount such as 5.00.")
    percent = raw.endswith("%")
    value = _number(raw.rstrip("%").strip(), "bad_discount")
    if value == 0:
        return ev.RemoveBasketDiscount(at)
    reason = fields.get("reason", "")
    if percent:
        return ev.BasketDiscount(at, reason, percent=value)
    return ev.BasketDiscount(at, reason, amount=value)


def coupon(raw: str) -> str:
    """Shift+F2: the coupon's code as typed (or scanned); the lane checks it."""
    code = raw.strip()
    if not code:
        raise EntryError("needs_coupon", "Type or scan the coupon code, then press Shift+F2.")
    return code


LINE_FIELD = "line_"  # the refund-lines dialog's field of receipt line n is line_<n>
ALL_WORDS = frozenset({"all", "全部", "*"})  # what is left of the line, in either language


def refund_choice(fields: Mapping[str, str]) -> dict[int, Decimal | None]:
    """The refund-lines dialog's choice: field `line_<n>` (n as printed, from 1) holds how
    many of line n to refund, or `all` / `全部` for what is left of it (None: the hub fills
    it in from the receipt); an empty field or 0 is not refunded. Answers lane line indexes
    (from 0); the lane checks every quantity against the receipt."""
    wanted: dict[int, Decimal | None] = {}
    for name, raw in fields.items():
        text = raw.strip().lower()
        if not name.startswith(LINE_FIELD) or not text:
            continue
        number = name[len(LINE_FIELD) :]
        if not number.isdigit() or int(number) < 1:
            raise EntryError("bad_lines", f"{name!r} is not a receipt line.")
        count = None if text in ALL_WORDS else _number(text, "bad_quantity")
        if count != 0:
            wanted[int(number) - 1] = count
    if not wanted:
        raise EntryError(
            "bad_lines",
            "Pick the lines to refund: type how many on a line, or Space for all of it.",
        )
    return dict(sorted(wanted.items()))


# what a cashier may type in a refund dialog's "pay back" field, in either language
REFUND_TENDERS: dict[str, ev.TenderType] = {
    "cash": "cash",
    "c": "cash",
    "现金": "cash",
    "card": "card",
    "k": "card",
    "银行卡": "card",
    "stored": "stored_value",
    "stored_value": "stored_value",
    "stored value": "stored_value",
    "s": "stored_value",
    "储值": "stored_value",
}


def refund_tender(raw: str) -> ev.TenderType:
    """How a refund is paid back (empty: cash); the lane refuses what it will not pay out."""
    text = " ".join(raw.strip().lower().split()) or "cash"
    if text not in REFUND_TENDERS:
        raise EntryError("bad_tender", f"{raw!r}: pay back in cash, card or stored value.")
    return REFUND_TENDERS[text]
