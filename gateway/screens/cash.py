"""The cashier page's cash dialogs: the float at sign-on, paid-in and paid-out, the drawer
count at close (a total, or per note and coin), and the drawer's figures once the shift
closed, its over/short coloured by its sign.

Builds `Prompt`s and turns their forms into lane events; decides nothing the lane decides
(the lane checks the amount, the reason, the permission, the count) and computes no amount
of its own: the count's sum is `gateway.lane.drawer.count_total`'s, the figures shown are
those of the journalled `shift_close` body. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from gateway.lane import drawer
from gateway.lane import events as ev
from gateway.screens import keys
from gateway.screens.money import CurrencyFormat
from gateway.screens.view import Message, Prompt, Translate

MOVEMENTS = ("paid_in", "paid_out")
# kept open, as typed, when refused (the card field holds a card's UID: nothing secret)
DIALOGS = (*MOVEMENTS, "close_shift", "top_up", "refund_top_up")


def refused(prompt: Prompt, typed: Mapping[str, str], why: str) -> Prompt:
    """`prompt` again with what was typed in it and why it was refused (no PIN is ever
    typed in these dialogs, so nothing secret is put back in the page)."""
    fields = tuple((name, label, typed.get(name, value)) for name, label, value in prompt.fields)
    return replace(prompt, fields=fields, alert=why)


def float_field(t: Translate) -> tuple[str, str, str]:
    """The sign-on dialog's float: empty keeps the till's own (setting, or last count)."""
    return ("float", t("float_field"), "")


def opening_float(fields: Mapping[str, str]) -> Decimal | None:
    return keys.amount(fields.get("float", ""))


def movement_prompt(kind: str, t: Translate, entry: str) -> Prompt:
    """Shift+F6 paid in, Shift+F7 paid out: the amount (from the entry line) and why."""
    return Prompt(
        kind,
        t(f"k_{kind}"),
        t(f"{kind}_hint"),
        (("amount", t("amount"), entry.strip()), ("reason", t("reason"), "")),
    )


def movement_event(kind: str, fields: Mapping[str, str], at: datetime) -> ev.Event:
    raw = fields.get("amount", "")
    amount = keys.amount(raw)
    if amount is None:
        raise keys.EntryError("needs_amount", "Type the amount of cash, then Enter.")
    movement = ev.PaidIn if kind == "paid_in" else ev.PaidOut
    return movement(at, amount, fields.get("reason", ""))


def top_up_prompt(t: Translate, entry: str) -> Prompt:
    """Ctrl+F8 top-up (充值): the member's card (read into the field, or its UID typed), the
    amount (from the entry line), cash or card, the terminal's reference for a card."""
    return Prompt(
        "top_up",
        t("k_top_up"),
        t("top_up_hint"),
        (
            ("card", t("member_card"), ""),
            ("amount", t("amount"), entry.strip()),
            ("tender", t("top_up_tender"), "cash"),
            ("reference", t("reference"), ""),
        ),
    )


def top_up_event(fields: Mapping[str, str], at: datetime) -> ev.TopUp:
    amount = keys.amount(fields.get("amount", ""))
    if amount is None:
        raise keys.EntryError("needs_amount", "Type the amount of the top-up, then Enter.")
    tender = fields.get("tender", "cash").strip().lower() or "cash"
    if tender not in ("cash", "card"):
        raise keys.EntryError("bad_tender", "Pay a top-up by cash or card.")
    return ev.TopUp(
        at,
        fields.get("card", "").strip(),
        amount,
        tender="card" if tender == "card" else "cash",
        reference=fields.get("reference", "").strip() or None,
    )


def refund_top_up_prompt(t: Translate, entry: str) -> Prompt:
    """Ctrl+F9 refund of a top-up: its number (from the entry line, as on its slip), the
    member's card, why. A supervisor authorises it (the lane asks)."""
    return Prompt(
        "refund_top_up",
        t("k_refund_top_up"),
        t("refund_top_up_hint"),
        (
            ("top_up", t("top_up_number"), entry.strip()),
            ("card", t("member_card"), ""),
            ("reason", t("reason"), ""),
        ),
    )


def close_prompt(t: Translate, fmt: CurrencyFormat, currency: str) -> Prompt:
    """F12 on an open shift: the cash counted, as a total or per note and coin of the
    currency (`drawer.DENOMINATIONS`): fill either; with pieces, the total may stay empty."""
    pieces = tuple(
        (f"{drawer.DENOMINATION_FIELD}{value}", fmt(value), "")
        for value in drawer.denominations(currency)
    )
    hint = t("count_hint") if pieces else ""
    return Prompt("close_shift", t("close_shift"), hint, (("counted", t("counted"), ""), *pieces))


def close_event(fields: Mapping[str, str], at: datetime, currency: str) -> ev.CloseShift:
    try:
        count = drawer.count_fields(currency, fields)
    except drawer.CountError as exc:
        raise keys.EntryError("bad_denomination", f"{str(exc).capitalize()}.") from None
    counted = keys.amount(fields.get("counted", ""))
    if counted is None:  # the pieces alone (the lane checks them), or nothing: zero
        counted = sum((value * n for value, n in count), Decimal(0)) if count else Decimal(0)
    return ev.CloseShift(at, counted, denominations=count)


def closed_message(body: Mapping[str, Any], text: str) -> Message:
    """The lane's sentence after a close, coloured as the over/short's sign."""
    sign = drawer.over_short_word(Decimal(str(body["over_short"])))
    return Message(f"notice over-short {sign}", text)


def closed_prompt(body: Mapping[str, Any], fmt: CurrencyFormat, t: Translate) -> Prompt:
    """The shift just closed, from its `shift_close` record: what the drawer should have
    held, what was counted, and the over/short in the colour of its sign."""

    def money(key: str) -> str:
        return fmt(Decimal(str(body.get(key) or "0")))

    over_short = Decimal(str(body["over_short"]))
    sign = drawer.over_short_word(over_short)
    signed = fmt.pattern.format(
        symbol=fmt.symbol, amount=("+" if over_short > 0 else "") + fmt.number(over_short)
    ).strip()
    rows = (
        (t("opening_float"), money("opening_float"), ""),
        (t("cash_sales"), money("cash_sales"), ""),
        (t("cash_refunds"), money("cash_refunds"), ""),
        (t("k_paid_in"), money("paid_in"), ""),
        (t("k_paid_out"), money("paid_out"), ""),
        (t("expected_cash"), money("expected"), ""),
        (t("counted"), money("counted"), ""),
        (f"{t('over_short')}: {t(sign)}", signed, f"over-short {sign}"),
    )
    return Prompt("shift_closed", f"{t('shift')} {body['shift_id']}", "", rows=rows)
