"""The cash dialogs in Chromium, keyboard only (issue 14, item 5): the float at sign-on, a
paid-in, a paid-out a supervisor authorises, the close counted per note and coin, and the
drawer's figures after it with the over/short coloured by its sign; each checked in the
lane's journal."""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect
from screens_testkit import Till, shot

from gateway.harness.screens_demo import CASHIER, SUPERVISOR
from gateway.i18n import notice_text, refusal_text, translator
from gateway.journal.records import JournalRecord
from gateway.lane import events as ev
from gateway.lane.drawer import denominations
from gateway.screens.cash import close_event, closed_prompt, movement_event
from gateway.screens.keys import EntryError
from gateway.screens.money import CurrencyFormat

RED, AMBER, GREEN = "rgb(255, 107, 107)", "rgb(255, 210, 74)", "rgb(76, 195, 138)"


def bodies(till: Till, kind: str) -> list[dict[str, object]]:
    records: list[JournalRecord] = list(till.lane.book.journal.read(0, 1000))
    return [r.body for r in records if r.kind == kind]


def test_float_paid_in_paid_out_and_a_counted_close_by_keyboard(till: Till, cashier: Page) -> None:
    cashier.keyboard.press("F12")  # sign on: staff number, PIN, and the float counted in
    dialog = cashier.locator('[data-prompt="sign_on"]')
    expect(dialog.locator('input[name="float"]')).to_be_visible()
    cashier.keyboard.type(CASHIER[0])
    cashier.keyboard.press("Tab")
    cashier.keyboard.type(CASHIER[1])
    cashier.keyboard.press("Tab")
    cashier.keyboard.type("80.00")
    cashier.keyboard.press("Enter")
    expect(cashier.locator("[data-state]")).to_have_attribute("data-state", "idle")
    assert bodies(till, "shift_open")[0]["opening_float"] == "80.00"

    cashier.keyboard.type("20")  # the amount on the entry line, then Ctrl+F6: paid in
    cashier.keyboard.press("Control+F6")
    paid_in = cashier.locator('[data-prompt="paid_in"]')
    expect(paid_in.locator('input[name="amount"]')).to_have_value("20")
    expect(paid_in.locator('input[name="reason"]')).to_be_focused()
    cashier.keyboard.press("Enter")  # no reason: refused inside the dialog, amount kept
    expect(paid_in.locator("#prompt-alert")).to_have_text("Enter why cash is paid in.")
    expect(paid_in.locator('input[name="amount"]')).to_have_value("20")
    expect(paid_in.locator('input[name="reason"]')).to_be_focused()
    assert bodies(till, "paid_in") == []
    cashier.keyboard.type("change from the bank")
    cashier.keyboard.press("Enter")
    expect(paid_in).to_have_count(0)
    expect(cashier.locator(".message.notice")).to_contain_text("Paid in: 20.00.")
    [movement] = bodies(till, "paid_in")
    assert (movement["amount"], movement["reason"]) == ("20.00", "change from the bank")

    cashier.keyboard.press("Control+F7")  # paid out: a cashier needs a supervisor for it
    paid_out = cashier.locator('[data-prompt="paid_out"]')
    expect(paid_out.locator('input[name="amount"]')).to_be_focused()
    cashier.keyboard.type("12.50")
    cashier.keyboard.press("Tab")
    cashier.keyboard.type("milk man")
    cashier.keyboard.press("Enter")
    supervisor = cashier.locator('[data-prompt="supervisor"]')
    expect(supervisor).to_contain_text("A paid-out needs a supervisor")
    assert bodies(till, "paid_out") == []  # refused: nothing written
    expect(supervisor.locator('input[name="staff_id"]')).to_be_focused()
    cashier.keyboard.type(SUPERVISOR[0])
    cashier.keyboard.press("Tab")
    cashier.keyboard.type(SUPERVISOR[1])
    expect(supervisor.locator('input[name="reason"]')).to_have_value("milk man")
    cashier.keyboard.press("Enter")
    expect(supervisor).to_have_count(0)
    [out] = bodies(till, "paid_out")
    assert out["amount"] == "12.50" and out["override"]["supervisor"]["name"] == "Beat"  # type: ignore[index]
    assert out["staff"]["name"] == "Anna"  # type: ignore[index]

    # close: expected 80.00 + 20.00 - 12.50 = 87.50; counted 50 + 20 + 10 + 5 + 2 = 87.00
    cashier.keyboard.press("F12")
    close = cashier.locator('[data-prompt="close_shift"]')
    expect(close.locator('input[name="counted"]')).to_be_focused()
    expect(close.locator("input")).to_have_count(1 + len(denominations("CHF")))
    cashier.keyboard.type("90")  # a total that is not what the pieces add up to
    for _ in range(4):  # d_1000, d_200, d_100, d_50
        cashier.keyboard.press("Tab")
    cashier.keyboard.type("1")
    cashier.keyboard.press("Enter")
    expect(close.locator("#prompt-alert")).to_contain_text("add up to 50, not 90")
    expect(close.locator('input[name="counted"]')).to_have_value("90")  # kept as typed
    expect(close.locator('input[name="d_50"]')).to_have_value("1")
    assert bodies(till, "shift_close") == []  # refused: nothing written
    expect(close.locator('input[name="d_1000"]')).to_be_focused()  # the first empty one
    cashier.keyboard.press("Shift+Tab")
    cashier.keyboard.press("Control+a")
    cashier.keyboard.press("Backspace")  # the total stays empty: the notes and coins say it
    cashier.keyboard.press("Tab")
    for value in ("1000", "200", "100"):
        expect(close.locator(f'input[name="d_{value}"]')).to_be_focused()
        cashier.keyboard.press("Tab")
    for value in ("50", "20", "10", "5", "2"):
        expect(close.locator(f'input[name="d_{value}"]')).to_be_focused()
        cashier.keyboard.type("1")
        cashier.keyboard.press("Tab")
    shot(cashier, "cashier-close-count")
    cashier.keyboard.press("Enter")
    expect(cashier.locator("[data-state]")).to_have_attribute("data-state", "closed")
    [closed] = bodies(till, "shift_close")
    assert (closed["expected"], closed["counted"], closed["over_short"]) == (
        "87.50",
        "87.00",
        "-0.50",
    )
    assert [d["value"] for d in closed["denominations"]] == ["50", "20", "10", "5", "2"]  # type: ignore[index, union-attr]

    figures = cashier.locator('[data-prompt="shift_closed"]')
    expect(figures.locator("tr.over-short.short td")).to_have_text("CHF -0.50")
    expect(figures.locator("tr.over-short th")).to_have_text("Over/short: short")
    assert figures.locator("tr.over-short td").evaluate("e => getComputedStyle(e).color") == RED
    expect(figures).to_contain_text("Expected cash")
    expect(figures.locator("tr").first).to_have_text("Opening floatCHF 80.00")
    expect(cashier.locator(".message.over-short.short")).to_contain_text("Drawer short: -0.50")
    expect(figures.locator('button[type="submit"]')).to_be_focused()
    shot(cashier, "cashier-close-drawer")
    cashier.keyboard.press("Enter")  # read: OK
    expect(figures).to_have_count(0)


def test_a_drawer_over_is_amber_and_even_is_green(till: Till, cashier: Page) -> None:
    for counted, css, colour in (("160.00", "over", AMBER), ("150.00", "even", GREEN)):
        till.hub.handle(ev.OpenShift(till.hub.clock(), ev.Credential(card="CARD-ANNA")))
        expect(cashier.locator("[data-state]")).to_have_attribute("data-state", "idle")
        cashier.keyboard.press("F12")
        close = cashier.locator('[data-prompt="close_shift"]')
        expect(close.locator('input[name="counted"]')).to_be_focused()
        cashier.keyboard.type(counted)  # the float is 150.00 (settings), no sale
        cashier.keyboard.press("Enter")
        row = cashier.locator(f'[data-prompt="shift_closed"] tr.over-short.{css} td')
        expect(row).to_be_visible()
        assert row.evaluate("e => getComputedStyle(e).color") == colour
        cashier.keyboard.press("Escape")
        expect(row).to_have_count(0)
    assert [b["over_short"] for b in bodies(till, "shift_close")] == ["10.00", "0.00"]


def test_the_dialogs_forms_read_as_lane_events() -> None:
    from datetime import datetime

    at = datetime(2026, 11, 24, 9)
    count = close_event({"counted": "", "d_50": "2", "d_0.05": "3"}, at, "CHF")
    assert (count.counted, count.denominations) == (
        Decimal("100.15"),
        ((Decimal("50"), 2), (Decimal("0.05"), 3)),
    )
    assert close_event({"counted": "12"}, at, "XAF").counted == Decimal("12")
    with pytest.raises(EntryError, match="whole number"):
        close_event({"d_50": "two"}, at, "CHF")
    with pytest.raises(EntryError, match="amount"):
        movement_event("paid_out", {"amount": "", "reason": "x"}, at)
    paid = movement_event("paid_in", {"amount": "5,50", "reason": "bank"}, at)
    assert isinstance(paid, ev.PaidIn) and paid.amount == Decimal("5.50")
    t = translator("zh")
    fmt = CurrencyFormat.for_currency("CNY", 2)
    prompt = closed_prompt(
        {"shift_id": "box-1-S00001", "over_short": "1.20", "expected": "10.00", "counted": "11.20"},
        fmt,
        t,
    )
    assert prompt.rows[-1] == ("长短款: 长款", "¥+1.20", "over-short over")
    said = "Drawer short: -0.50 (expected 87.50, counted 87.00)."
    assert notice_text("zh", said) == "钱箱短款：-0.50（应有 87.50，实点 87.00）。"
    assert notice_text("zh", "Paid out: 12.50.") == "已支出现金：12.50。"
    assert refusal_text("zh", "drawer_short", "x") == "钱箱里的现金不够支出这个金额。"
