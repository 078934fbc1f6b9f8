"""The refund-lines dialog (Shift+F10) lists the receipt's lines, read from its sale record
and the lane book's refunded quantities, and sends the lane the quantities picked on them
by keyboard or touch; an unknown receipt is said in the dialog and nothing is sent."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect
from screens_testkit import WINE, Till, shot, sign_on

from gateway.harness.screens_demo import SUPERVISOR
from gateway.journal.records import JournalRecord
from gateway.screens.keys import EntryError, refund_choice

OIL = "7612345001197"  # Olive oil 5 dl, 8.90, no promotion of its own
APPLES = "1001"  # Apples Gala, PLU, by weight


def journal(till: Till, kind: str) -> list[JournalRecord]:
    return [r for r in till.lane.book.journal.read(0, 1000) if r.kind == kind]


def test_the_dialog_lists_the_lines_and_refunds_part_of_one(till: Till, cashier: Page) -> None:
    sign_on(cashier)
    cashier.keyboard.type(f"3*{OIL}")  # right after the sign-on dialog closed
    expect(cashier.locator("#entry")).to_have_value(f"3*{OIL}")
    cashier.keyboard.press("Enter")
    # the page's key presses and the scanner reach the lane by different roads: wait for
    # each line before the next, so the lines are in the order the test expects
    expect(cashier.locator("#basket tr[data-line]")).to_have_count(1)
    till.devices.scanner.scan(WINE)
    expect(cashier.locator("#basket tr[data-line]")).to_have_count(2)
    till.devices.scale.set(mode="stable", weight="0.456")
    expect(cashier.locator("#weight")).to_have_class("weight stable")
    cashier.keyboard.type(APPLES)
    cashier.keyboard.press("F3")
    expect(cashier.locator("#basket tr[data-line]")).to_have_count(3)
    cashier.keyboard.press("F8")  # cash, exact
    expect(cashier.locator("#last-sale")).to_be_visible()
    sale = journal(till, "sale")[-1]
    receipt, sold = sale.body["receipt_id"], sale.body["lines"]

    cashier.keyboard.type(receipt)
    cashier.keyboard.press("Shift+F10")
    dialog = cashier.locator('[data-prompt="refund_lines"]')
    rows = dialog.locator(".receipt-lines tr[data-line]")
    expect(rows).to_have_count(3)
    for row, line in zip(rows.all(), sold, strict=True):  # the record's amounts, formatted
        expect(row.locator(".name")).to_contain_text(line["name"])
        expect(row.locator(".paid")).to_have_text(f"CHF {line['total']}")
        expect(row.locator(".refunded")).to_have_text("0")
    expect(rows.nth(0).locator(".sold")).to_have_text("3")
    expect(rows.nth(0).locator(".left")).to_have_text("3")
    expect(rows.nth(2).locator(".sold")).to_have_text("0.456 kg")
    expect(rows.nth(2).locator(".name")).to_contain_text("whole line only")
    expect(dialog.locator("#receipt")).to_contain_text(f"Total CHF {sale.body['totals']['total']}")

    # keyboard: the cursor is on line 1; Space takes all three, - leaves two
    first = dialog.locator('input[name="line_1"]')
    expect(first).to_be_focused()
    cashier.keyboard.press("Space")
    expect(first).to_have_value("3")
    cashier.keyboard.press("-")
    expect(first).to_have_value("2")
    cashier.keyboard.press("ArrowDown")
    expect(dialog.locator('input[name="line_2"]')).to_be_focused()
    # touch: a tap on the weighed line takes it whole, a second tap lets it go
    apples = dialog.locator('input[name="line_3"]')
    rows.nth(2).locator(".name").click()
    expect(apples).to_have_value("all")
    expect(rows.nth(2)).to_have_class(re.compile(r"\bchosen\b"))
    rows.nth(2).locator(".name").click()
    expect(apples).to_have_value("")
    dialog.locator('input[name="reason"]').fill("leaking bottles")
    expect(rows.nth(0)).to_have_class(re.compile(r"\bchosen\b"))
    shot(cashier, "cashier-refund-lines")
    cashier.keyboard.press("Enter")  # from the reason, Enter walks on to pay back
    expect(dialog.locator('input[name="tender"]')).to_be_focused()
    cashier.keyboard.press("Enter")  # cash: the last field, Enter is OK

    supervisor = cashier.locator('[data-prompt="supervisor"]')  # the lane wants one
    expect(supervisor).to_contain_text("needs a supervisor")
    cashier.keyboard.type(SUPERVISOR[0])
    cashier.keyboard.press("Tab")
    cashier.keyboard.type(SUPERVISOR[1])
    cashier.keyboard.press("Enter")
    expect(cashier.locator(".message.notice")).to_contain_text("Refunded: CHF ")
    refund = journal(till, "refund")[-1]
    assert refund.body["original_receipt_id"] == receipt
    assert [
        (line["original_index"], Decimal(line["quantity"])) for line in refund.body["lines"]
    ] == [(0, Decimal(2))]
    paid = refund.body["tenders"][-1]["amount"]
    expect(cashier.locator(".message.notice")).to_have_text(
        f"Refunded: CHF {refund.body['total']}. Give back cash {paid}."
    )
    assert till.lane.book.refunded(receipt) == {0: Decimal(2)}

    # the same receipt again: what the lane book says was refunded, and what is left
    cashier.keyboard.type(receipt)
    cashier.keyboard.press("Shift+F10")
    expect(rows.nth(0).locator(".refunded")).to_have_text("2")
    expect(rows.nth(0).locator(".left")).to_have_text("1")
    expect(rows.nth(1).locator(".left")).to_have_text("1")


@pytest.mark.parametrize(
    ("language", "alert", "hint"),
    [
        ("en", "No sale with receipt box-1-999999 on this till.", "Type or scan the receipt"),
        ("zh", "本收银台没有这张小票。", "请输入或扫描小票号"),
    ],
)
def test_an_unknown_receipt_is_said_in_the_dialog_and_nothing_is_sent(
    till: Till, cashier: Page, alert: str, hint: str
) -> None:
    sign_on(cashier)
    before = till.hub.desk.message
    cashier.keyboard.press("Shift+F10")  # no receipt on the entry line: the dialog asks
    dialog = cashier.locator('[data-prompt="refund_lines"]')
    expect(dialog).to_contain_text(hint)
    receipt_field = dialog.locator('input[name="receipt_id"]')
    expect(receipt_field).to_be_focused()
    cashier.keyboard.type("box-1-999999")
    cashier.keyboard.press("Enter")
    expect(dialog.locator("#prompt-alert")).to_have_text(alert)
    expect(dialog.locator(".receipt-lines")).to_have_count(0)
    assert journal(till, "refund") == [] and till.hub.desk.message == before
    expect(receipt_field).to_be_focused()  # selected: the next scan replaces it
    cashier.keyboard.type("box-1-999998")
    expect(receipt_field).to_have_value("box-1-999998")


def test_the_quantities_picked_on_the_lines() -> None:
    assert refund_choice(
        {
            "receipt_id": "box-1-000001",
            "line_1": "2",
            "line_2": "",
            "line_3": "all",
            "line_4": "0",
            "reason": "x",
        }
    ) == {0: Decimal(2), 2: None}
    assert refund_choice({"line_12": "全部", "line_3": "1,5"}) == {2: Decimal("1.5"), 11: None}
    for bad in ({}, {"line_1": ""}, {"line_1": "0"}, {"line_x": "1"}, {"line_1": "two"}):
        with pytest.raises(EntryError):
            refund_choice(bad)
