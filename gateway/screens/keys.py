"""Key presses and touches -> lane events: the cashier's keyboard as data.

Owns the key map (function keys, shown on the page's key bar) and the parsing of what the
cashier typed on the entry line (a barcode, `3*PLU`, an amount). Returns lane events or
the name of a dialog to open; decides nothing the lane decides. Pure: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from gateway.lane import events as ev

# action -> (key, text key). Every action of the cashier page has a key: no mouse needed.
KEYS: dict[str, tuple[str, str]] = {
    "member": ("F2", "k_member"), "weigh": ("F3", "k_weigh"), "qty": ("F4", "k_qty"),
    "void_line": ("F5", "k_void_line"), "suspend": ("F6", "k_suspend"),
    "resume": ("F7", "k_resume"), "cash": ("F8", "k_cash"), "card": ("F9", "k_card"),
    "refund": ("F10", "k_refund"), "void_sale": ("F11", "k_void_sale"),
    "sign": ("F12", "k_sign"), "up": ("ArrowUp", "k_up"), "down": ("ArrowDown", "k_down"),
    "escape": ("Escape", "k_escape"),
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


def weighed_event(raw: str, at: datetime, weight: Decimal | None, stable: bool,
                  capacity: Decimal | None) -> ev.Weighed:
    """F3: the PLU typed, with the scale's current reading (the lane checks it)."""
    code = Entry.parse(raw).text
    if not code:
        raise EntryError("needs_plu", "Type the PLU of the weighed item, then press F3.")
    if capacity is None:
        return ev.Weighed(at, code, weight, stable)
    return ev.Weighed(at, code, weight, stable, capacity)


def amount(raw: str) -> Decimal | None:
    """An amount typed before a tender key; empty means "the rest" (exact)."""
    raw = raw.strip()
    return None if not raw else _number(raw, "bad_amount")


def quantity(raw: str) -> Decimal:
    if not raw.strip():
        raise EntryError("bad_quantity", "Type the new quantity, then press F4.")
    return _number(raw, "bad_quantity")
