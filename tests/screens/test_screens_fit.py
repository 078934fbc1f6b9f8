"""The till screen fits a real basket (issue 14, item 1) and the customer display lets the
last customer go (item 8), in Chromium against the app over a lane on a real SQLite file.

A 30-line basket with promotions and a member, part paid: at 1024x768, 1366x768 and
1920x1080 the total, the amount still due and the newest line are inside the window
(element bounding boxes), the basket scrolls to the line selected, and the refund-lines
dialog of that 30-line receipt fits the window and is finished by keyboard alone. The
customer's thank-you goes after `[screens] thanks_seconds` of the hub's injected clock
and at the next sign-on; during a refund the customer sees the receipt being refunded."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect
from screens_testkit import Till, open_page, shot, sign_on

from gateway.harness.screens_demo import MEMBER_CARD, SUPERVISOR, member_card
from gateway.lane import events as ev

SIZES = [(1024, 768), (1366, 768), (1920, 1080)]
# 30 different products, chosen for their promotions: yoghurt 3 for 2.00, chocolate 3 for
# 2, second coffee half price, snacks 15 % off, pasta 0.50 off, member dairy 10 % off
BARCODES = [
    "7612345001012", "7612345001029", "7612345001036", "7612345001043", "7612345001050",
    "7612345001067", "7612345001074", "7612345001081", "7612345001098", "7612345001104",
    "7612345001111", "7612345001128", "7612345001135", "7612345001142", "7612345001159",
    "7612345001166", "7612345001173", "7612345001180", "7612345001197", "76123450",
    "7612345001203", "7612345001210", "7612345001227", "7612345001234", "7612345001241",
    "7612345001258", "7612345001265", "7612345001272", "7612345001289", "7612345001296",
]  # fmt: skip


def thirty_lines(till: Till) -> None:
    """A member's 30-line basket, fed to the lane through the hub (as the scanner does)."""
    hub = till.hub
    assert not isinstance(hub.device(member_card(MEMBER_CARD)), ev.Refusal)
    for code in BARCODES:
        assert not isinstance(hub.handle(ev.Scan(hub.clock(), code)), ev.Refusal), code


def inside(page: Page, element: Locator) -> None:
    """`element` is drawn wholly inside the browser window."""
    box = element.bounding_box()
    size = page.viewport_size
    assert box is not None and size is not None, element
    assert box["x"] >= 0 and box["y"] >= 0, (element, box)
    assert box["x"] + box["width"] <= size["width"] + 0.5, (element, box, size)
    assert box["y"] + box["height"] <= size["height"] + 0.5, (element, box, size)


def shown_in(scroller: Locator, element: Locator) -> None:
    """`element` is inside the visible part of the scrolling `scroller`."""
    outer, box = scroller.bounding_box(), element.bounding_box()
    assert outer is not None and box is not None
    assert outer["y"] - 0.5 <= box["y"], (outer, box)
    assert box["y"] + box["height"] <= outer["y"] + outer["height"] + 0.5, (outer, box)


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_a_30_line_basket_keeps_total_due_and_newest_line_in_view(
    till: Till, browser: Browser, width: int, height: int
) -> None:
    page = open_page(browser, till.kiosk("/"), width=width, height=height)
    try:
        sign_on(page)
        thirty_lines(till)
        page.keyboard.type("20")
        page.keyboard.press("F8")  # 20 in cash: the rest is still due
        expect(page.locator("#basket tr[data-line]")).to_have_count(30)
        expect(page.locator("#due")).to_be_visible()
        assert till.hub.view.has_savings and till.hub.view.member_name  # promotions, member
        expect(page.locator("#basket .adj").first).to_be_visible()
        newest = page.locator("#newest-line")
        expect(newest).to_have_attribute("data-line", "30")
        for element in ("#total", "#due", "#newest-line", "#st-store", "#st-time"):
            inside(page, page.locator(element))
        scroller = page.locator("#lines-scroll")
        shown_in(scroller, page.locator('#basket tr[data-line="30"]'))  # just scanned
        shot(page, f"cashier-30-lines-{width}x{height}")

        for _ in range(26):  # up to line 4: the basket follows the selection
            page.keyboard.press("ArrowUp")
        expect(page.locator("#basket tr.selected")).to_have_attribute("data-line", "4")
        page.wait_for_function(
            "() => { const s = document.getElementById('lines-scroll');"
            " const r = document.querySelector('#basket tr.selected');"
            " const a = s.getBoundingClientRect(), b = r.getBoundingClientRect();"
            " return b.top >= a.top - 1 && b.bottom <= a.bottom + 1; }"
        )
        shown_in(scroller, page.locator("#basket tr.selected"))
        for element in ("#total", "#due", "#newest-line"):
            inside(page, page.locator(element))
    finally:
        page.close()


def test_the_refund_lines_dialog_of_30_lines_fits_and_ends_by_keyboard(
    till: Till, browser: Browser
) -> None:
    page = open_page(browser, till.kiosk("/"), width=1024, height=768)
    customer = open_page(browser, till.kiosk("/customer"), width=1024, height=600)
    try:
        sign_on(page)
        thirty_lines(till)
        page.keyboard.press("F8")  # exact cash
        expect(page.locator("#last-sale")).to_be_visible()
        receipt = till.hub.view.last_sale
        assert receipt is not None
        page.keyboard.type(receipt.receipt_id)
        page.keyboard.press("Shift+F10")
        dialog = page.locator('[data-prompt="refund_lines"] form')
        expect(dialog.locator(".receipt-lines tr[data-line]")).to_have_count(30)
        inside(page, dialog)  # the dialog fits; its list scrolls inside it
        # the customer sees the receipt being refunded
        expect(customer.locator("#c-refund")).to_have_attribute("data-receipt", receipt.receipt_id)
        expect(customer.locator("#c-refund li")).to_have_count(30)

        expect(dialog.locator('input[name="line_1"]')).to_be_focused()
        page.keyboard.press("Space")  # all of line 1: the customer sees it going back
        expect(customer.locator('#c-refund li[data-line="1"]')).to_have_class("open picked")
        expect(customer.locator('#c-refund li[data-line="1"] .back')).to_have_text("↩ 1")
        expect(customer.locator("#c-refund li.picked")).to_have_count(1)
        shot(customer, "customer-refund")
        page.keyboard.press("Enter")  # on to the reason
        expect(dialog.locator('input[name="reason"]')).to_be_focused()
        page.keyboard.type("spilt")
        page.keyboard.press("Enter")  # on to how the money goes back
        expect(dialog.locator('input[name="tender"]')).to_be_focused()
        inside(page, dialog.locator('button[type="submit"]'))  # OK in view too
        shot(page, "cashier-refund-30-lines-1024x768")
        page.keyboard.press("Enter")  # cash: the last field, Enter is OK
        supervisor = page.locator('[data-prompt="supervisor"]')
        expect(supervisor).to_be_visible()
        inside(page, supervisor.locator("form"))
        page.keyboard.type(SUPERVISOR[0])
        page.keyboard.press("Tab")
        page.keyboard.type(SUPERVISOR[1])
        page.keyboard.press("Enter")
        expect(page.locator(".message.notice")).to_contain_text("Refunded: CHF ")
        expect(customer.locator("#refunded")).to_be_visible()
        expect(customer.locator("#c-refunded")).to_contain_text("CHF ")
        assert till.lane.book.refunded(receipt.receipt_id)
    finally:
        page.close()
        customer.close()


# every dialog the cashier page opens, by its key, with what the entry line holds
DIALOGS = [
    ("F12", "", "sign_on"),
    ("F10", "box-1-000001", "refund"),
    ("Shift+F10", "", "refund_lines"),
    ("Shift+F11", "7612345001197", "return"),
    ("Shift+F12", "", "no_sale"),
    ("Control+F6", "", "paid_in"),
    ("Control+F7", "", "paid_out"),
    ("Shift+F3", "", "search"),
    ("Shift+F5", "", "quick"),
    ("Shift+F6", "", "open_price"),
    ("F11", "", "void_sale"),
    ("F12", "", "close_shift"),
]


def test_every_dialog_fits_a_small_screen_and_goes_by_keyboard(
    till: Till, browser: Browser
) -> None:
    page = open_page(browser, till.kiosk("/"), width=1024, height=768)
    try:
        for key, entry, kind in DIALOGS:
            if kind == "refund":
                sign_on(page)
            if kind == "void_sale":  # a sale to void
                page.keyboard.type(BARCODES[0])
                page.keyboard.press("Enter")
                expect(page.locator("#basket tr[data-line]")).to_have_count(1)
            page.keyboard.type(entry)
            page.keyboard.press(key)
            dialog = page.locator(f'[data-prompt="{kind}"] form')
            expect(dialog).to_be_visible()
            inside(page, dialog)
            inside(page, dialog.locator('button[type="submit"]'))
            expect(dialog.locator("input:focus")).to_have_count(1)  # typing goes in at once
            if kind == "void_sale":  # finished by keyboard: the reason, Enter
                page.keyboard.type("customer changed mind")
                page.keyboard.press("Enter")
                expect(page.locator("[data-state]")).to_have_attribute("data-state", "idle")
            else:
                page.keyboard.press("Escape")
            expect(page.locator("[data-prompt]")).to_have_count(0)
    finally:
        page.close()


def test_the_thank_you_goes_after_its_time_and_at_the_next_sign_on(
    till: Till, cashier: Page, customer: Page
) -> None:
    hub = till.hub
    sign_on(cashier)
    cashier.keyboard.type(BARCODES[0])
    cashier.keyboard.press("Enter")
    cashier.keyboard.press("F8")
    expect(customer.locator("#thanks")).to_be_visible()
    limit = hub.settings.thanks_seconds
    assert limit == 120  # config/gateway.example.toml
    clock = hub.clock
    paid_at = clock.now  # type: ignore[attr-defined]
    hub.tick(paid_at + timedelta(seconds=limit - 1))  # not yet
    expect(customer.locator("#thanks")).to_be_visible()
    expect(cashier.locator("#st-time")).to_have_text(
        (paid_at + timedelta(seconds=limit - 1)).strftime("%H:%M")
    )
    hub.tick(paid_at + timedelta(seconds=limit + 15))
    expect(customer.locator("#welcome")).to_be_visible()
    expect(customer.locator("#thanks")).to_have_count(0)

    # the next sale's thank-you, then a new sign-on clears it before its time
    cashier.keyboard.type(BARCODES[1])
    cashier.keyboard.press("Enter")
    cashier.keyboard.press("F8")
    expect(customer.locator("#thanks")).to_be_visible()
    cashier.keyboard.press("F12")  # close the shift
    expect(cashier.locator('[data-prompt="close_shift"]')).to_be_visible()
    cashier.keyboard.type("0")
    cashier.keyboard.press("Enter")
    expect(cashier.locator("[data-state]")).to_have_attribute("data-state", "closed")
    figures = cashier.locator('[data-prompt="shift_closed"]')  # the drawer's figures
    expect(figures.locator('button[type="submit"]')).to_be_focused()
    cashier.keyboard.press("Enter")  # read: OK
    expect(figures).to_have_count(0)
    expect(customer.locator("#thanks")).to_be_visible()  # the shift closed: still thanked
    sign_on(cashier)
    expect(customer.locator("#welcome")).to_be_visible()
    expect(customer.locator("#thanks")).to_have_count(0)


def test_the_status_bar_shows_sync_and_the_unprinted_banner(
    till: Till, cashier: Page, tmp_path: Path
) -> None:
    hub = till.hub
    sign_on(cashier)
    expect(cashier.locator("#st-store")).to_have_text(till.settings.store.name)
    expect(cashier.locator("#st-cashier")).to_contain_text("Anna")
    hub.sync_state(False, 3)
    expect(cashier.locator("#st-sync")).to_have_text("Offline · 3 to send")
    expect(cashier.locator("#st-sync")).to_have_class("sync offline")
    hub.sync_state(True, 0)
    expect(cashier.locator("#st-sync")).to_have_text("Online")
    hub.receipt_printed(7, "box-1-000003", False, "printer receipt is out of paper")
    expect(cashier.locator("#unprinted")).to_contain_text("Receipt box-1-000003 did not print")
    inside(cashier, cashier.locator("#unprinted"))
    cashier.keyboard.press("Control+p")  # no printer thread without the daemon: said so
    expect(cashier.locator(".message.alert")).to_have_text("No receipt printer on this till.")
    hub.receipt_printed(7, "box-1-000003", True)
    expect(cashier.locator("#unprinted")).to_have_count(0)


@pytest.mark.parametrize("language", ["zh"])
def test_the_status_bar_and_banner_in_chinese(till: Till, cashier: Page) -> None:
    sign_on(cashier)
    till.hub.sync_state(False, 3)
    expect(cashier.locator("#st-sync")).to_have_text("离线 · 3 条待上传")
    expect(cashier.locator("#st-lane")).to_have_text("收银台 box-1")
    till.hub.receipt_printed(7, "box-1-000003", False)
    expect(cashier.locator("#unprinted")).to_have_text(
        "小票 box-1-000003 未打印 — 按 Ctrl+P 重新打印"
    )
