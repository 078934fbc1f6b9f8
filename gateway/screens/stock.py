"""The cashier page's stock mode: receiving a delivery (进货) and a stock count (盘点).

Owns the stock dialogs (start receiving or a count, next section, finish, cancel with a
reason), turning their forms and the entry line into `{"command": "stock"}` request fields
for the box's stock desk (gateway.daemon.stock_desk), and the session as the page shows it
instead of the basket (`StockView`, from the desk's `view()` dict: quantities hidden in a
blind count as the desk hides them). Decides nothing the desk decides: the supervisor's
staff number and PIN and the `stock` permission, the item, the quantity, the scale's
weight for a weighed item are all the desk's. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from gateway.screens import keys
from gateway.screens.view import Prompt, Translate

KEY_ACTIONS = ("stock", "stock_finish", "stock_cancel")  # keys.KEYS: Ctrl+F10..F12
SCANNING = ("enter", "weigh")  # the entry line (and F3) go to the session meanwhile
DIALOGS = ("stock_start", "stock_section", "stock_finish", "stock_cancel")
# what may be typed in the start dialog's mode field, in either language
MODES = {
    "count": "count",
    "c": "count",
    "盘点": "count",
    "receive": "receive",
    "r": "receive",
    "进货": "receive",
    "收货": "receive",
}
YES = frozenset({"yes", "y", "1", "true", "是"})
NO = frozenset({"", "no", "n", "0", "false", "否"})


@dataclass(frozen=True)
class StockLineView:
    name: str
    quantity: str  # "" in a blind count
    unit: str


@dataclass(frozen=True)
class OrderRowView:
    name: str
    ordered: str  # "" in a blind receipt
    received: str
    outstanding: str


@dataclass(frozen=True)
class StockView:
    """The open stock session as the cashier page shows it instead of the basket."""

    id: str
    mode: str  # "receive" or "count"
    title: str
    blind: bool
    section: str
    sections: str
    purchase_order: str
    supplier: str
    lines: tuple[StockLineView, ...]
    order: tuple[OrderRowView, ...]


def stock_view(shown: Mapping[str, Any] | None, t: Translate) -> StockView | None:
    """The desk's `view()` of the open session (None: none open)."""
    if shown is None:
        return None
    mode = str(shown.get("mode") or "count")
    lines = tuple(
        StockLineView(str(x.get("name") or x.get("sku")), str(x.get("quantity") or ""), _unit(x))
        for x in shown.get("lines") or ()
    )
    order = tuple(
        OrderRowView(
            str(x.get("name") or x.get("sku")),
            str(x.get("ordered") or ""),
            str(x.get("received") or ""),
            str(x.get("outstanding") or ""),
        )
        for x in shown.get("order") or ()
    )
    blind = bool(shown.get("blind"))
    title = t("stock_receiving") if mode == "receive" else t("stock_counting")
    if blind:
        title = f"{title} · {t('stock_blind')}"
    return StockView(
        id=str(shown.get("id") or ""),
        mode=mode,
        title=title,
        blind=blind,
        section=str(shown.get("section") or ""),
        sections=" · ".join(str(s) for s in shown.get("sections") or ()),
        purchase_order=str(shown.get("purchase_order") or ""),
        supplier=str(shown.get("supplier") or ""),
        lines=lines,
        order=order,
    )


def _unit(line: Mapping[str, Any]) -> str:
    return "kg" if line.get("unit") == "kg" else ""


# -- dialogs ---------------------------------------------------------------------------------


def _supervisor(t: Translate) -> tuple[tuple[str, str, str], ...]:
    return (("staff_id", t("staff_id"), ""), ("pin", t("pin"), ""))


def order_rows(orders: list[Mapping[str, Any]], t: Translate) -> tuple[tuple[str, str, str], ...]:
    """The box's purchase orders (the orders document head office pushed), line by line:
    ordered / received so far / outstanding."""
    if not orders:
        return ((t("stock_orders"), t("stock_no_orders"), ""),)
    rows = [(t("stock_orders"), t("stock_ordered_received_outstanding"), "")]
    for order in orders:
        for line in order.get("lines") or ():
            ordered = Decimal(str(line.get("quantity") or 0))
            received = Decimal(str(line.get("received") or 0))
            left = max(Decimal(0), ordered - received)
            rows.append(
                (
                    f"{order.get('id')} · {line.get('name') or line.get('sku')}",
                    f"{ordered} / {received} / {left}",
                    "",
                )
            )
    return tuple(rows)


def start_prompt(t: Translate, orders: list[Mapping[str, Any]], entry: str) -> Prompt:
    """Ctrl+F10 with no session open: the supervisor first (the cursor starts there: number,
    Tab, PIN, Enter), then a count (the default) or receiving, the count's section and
    whether it is blind, the purchase order and the delivery note. The entry line names
    the section, or a purchase order of the box (then it is receiving against it)."""
    typed = entry.strip()
    ordered = any(str(order.get("id")) == typed for order in orders) and bool(typed)
    return Prompt(
        "stock_start",
        t("k_stock"),
        t("stock_start_hint"),
        (
            *_supervisor(t),
            ("mode", t("stock_mode_field"), "receive" if ordered else "count"),
            ("section", t("stock_section"), "" if ordered else typed),
            ("blind", t("stock_blind_field"), "no"),
            ("po", t("stock_po"), typed if ordered else ""),
            ("delivery_note", t("stock_delivery_note"), ""),
        ),
        rows=order_rows(orders, t),
    )


def section_prompt(t: Translate, entry: str) -> Prompt:
    """Ctrl+F10 while a count is open: the next section's name (from the entry line)."""
    return Prompt(
        "stock_section",
        t("stock_next_section"),
        t("stock_section_hint"),
        (("name", t("stock_section"), entry.strip()),),
    )


def finish_prompt(t: Translate) -> Prompt:
    return Prompt("stock_finish", t("k_stock_finish"), t("stock_finish_hint"), _supervisor(t))


def cancel_prompt(t: Translate, entry: str) -> Prompt:
    return Prompt(
        "stock_cancel",
        t("k_stock_cancel"),
        t("stock_cancel_hint"),
        (("reason", t("reason"), entry.strip()), *_supervisor(t)),
    )


def refused(prompt: Prompt, typed: Mapping[str, str], why: str) -> Prompt:
    """`prompt` again with what was typed (never the PIN) and why the desk refused it."""
    fields = tuple(
        (name, label, "" if name == "pin" else typed.get(name, value))
        for name, label, value in prompt.fields
    )
    return replace(prompt, fields=fields, alert=why)


def _yes(raw: str) -> bool:
    text = raw.strip().lower()
    if text in YES:
        return True
    if text in NO:
        return False
    raise keys.EntryError("bad_input", f"{raw!r}: type yes or no (是 / 否).")


def request_fields(kind: str, f: Mapping[str, str]) -> dict[str, Any]:
    """A stock dialog's form as the stock desk's request fields."""
    who = {"staff": f.get("staff_id", ""), "pin": f.get("pin", "")}
    if kind == "stock_start":
        mode = MODES.get(f.get("mode", "").strip().lower() or "count")
        if mode is None:
            raise keys.EntryError("bad_input", "Type count or receive (盘点 / 进货).")
        if mode == "count":
            return {
                "action": "count",
                "section": f.get("section", ""),
                "blind": _yes(f.get("blind", "")),
                **who,
            }
        return {
            "action": "receive",
            "po": f.get("po", ""),
            "delivery_note": f.get("delivery_note", ""),
            "blind": _yes(f.get("blind", "")),
            **who,
        }
    if kind == "stock_section":
        return {"action": "section", "name": f.get("name", "")}
    if kind == "stock_finish":
        return {"action": "finish", **who}
    return {"action": "cancel", "reason": f.get("reason", ""), **who}


def scan_fields(entry: str) -> dict[str, Any] | None:
    """The entry line (Enter, or F3 for a weighed item: the desk takes the scale's stable
    reading) in stock mode: the code, with an `n*` quantity when one is typed."""
    typed = keys.Entry.parse(entry)
    if not typed.text:
        return None
    fields: dict[str, Any] = {"action": "scan", "code": typed.text}
    if typed.quantity is not None:
        fields["quantity"] = str(typed.quantity)
    return fields
