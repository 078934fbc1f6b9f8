"""The cashier page's stock dialogs and view (gateway.screens.stock), as plain values: the
forms become the stock desk's request fields, a refused dialog keeps what was typed but
never the PIN, a blind count shows no quantity, and the orders list ordered / received /
outstanding. The whole path (`gateway run`, Chromium) is in
tests/acceptance/test_acceptance_stock.py."""

from __future__ import annotations

import pytest
from screens_testkit import Till

from gateway.i18n import translator
from gateway.screens import keys, stock

t = translator("en")


def test_the_forms_become_the_desks_requests() -> None:
    start = {"mode": "盘点", "section": "shelf", "blind": "是", "staff_id": "201", "pin": "9"}
    assert stock.request_fields("stock_start", start) == {
        "action": "count",
        "section": "shelf",
        "blind": True,
        "staff": "201",
        "pin": "9",
    }
    receive = {"mode": "receive", "po": "PO-1", "delivery_note": "DN-7", "blind": ""}
    assert stock.request_fields("stock_start", receive)["po"] == "PO-1"
    assert stock.request_fields("stock_section", {"name": "backroom"}) == {
        "action": "section",
        "name": "backroom",
    }
    cancel = stock.request_fields("stock_cancel", {"reason": "wrong", "staff_id": "201"})
    assert (cancel["action"], cancel["reason"]) == ("cancel", "wrong")
    assert stock.scan_fields("3*7612345001128") == {
        "action": "scan",
        "code": "7612345001128",
        "quantity": "3",
    }
    assert stock.scan_fields("  ") is None
    with pytest.raises(keys.EntryError, match="count or receive"):
        stock.request_fields("stock_start", {"mode": "sell"})
    with pytest.raises(keys.EntryError, match="yes or no"):
        stock.request_fields("stock_start", {"mode": "count", "blind": "maybe"})


def test_a_refused_dialog_keeps_what_was_typed_but_not_the_pin() -> None:
    prompt = stock.start_prompt(t, [], "aisle-3")
    typed = {"mode": "count", "section": "aisle-3", "staff_id": "101", "pin": "472951"}
    again = stock.refused(prompt, typed, "may not")
    values = {name: value for name, _, value in again.fields}
    assert (values["staff_id"], values["pin"], again.alert) == ("101", "", "may not")


def test_the_orders_and_a_blind_count_as_shown() -> None:
    orders = [
        {
            "id": "PO-1",
            "lines": [{"sku": "MILK-1L", "name": "Milk", "quantity": "24", "received": "4"}],
        }
    ]
    rows = stock.start_prompt(t, orders, "").rows
    received = dict((n, v) for n, _, v in stock.start_prompt(t, orders, "PO-1").fields)
    assert (received["mode"], received["po"], received["section"]) == ("receive", "PO-1", "")
    assert rows[1][:2] == ("PO-1 · Milk", "24 / 4 / 20")
    assert stock.start_prompt(t, [], "").rows[0][1] == t("stock_no_orders")
    blind = {
        "id": "box-1-C-000001",
        "mode": "count",
        "blind": True,
        "section": "shelf",
        "sections": ["shelf"],
        "lines": [{"sku": "MILK-1L", "name": "Milk", "unit": "each"}],
    }
    shown = stock.stock_view(blind, translator("zh"))
    assert shown is not None
    assert (shown.title, shown.lines[0].quantity) == ("盘点 · 盲盘", "")
    assert stock.stock_view(None, t) is None


def test_a_till_without_the_daemon_has_no_stock_desk(till: Till) -> None:
    """The demo hub (no daemon, no stock desk): Ctrl+F10 says so and nothing opens."""
    till.hub.press("stock")
    view = till.hub.view
    assert view.prompt is None and view.stock is None
    assert view.message is not None and view.message.text == t("stock_no_desk")
