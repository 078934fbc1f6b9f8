"""Each cashier works in their own language, chosen at sign-on, without a restart: in
Chromium, a cashier who signs on in Chinese gets the whole cashier page in Chinese (no
English word left but product data, codes and key caps); after their shift, the next
cashier signs on in English and gets English, on the same page, from the same box; a
cashier who makes no choice gets their own language (`[screens] staff_languages`)."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Page, expect
from screens_testkit import MILK, Till, open_page, shot, wait_live

from gateway.harness.screens_demo import CASHIER, SUPERVISOR
from gateway.i18n import TEXTS

# every text node the cashier can see, except the key caps (F2, Shift+F10, Esc: the names
# printed on the keys), product names and the signed-on person's name (data, not wording)
VISIBLE_TEXT = """() => {
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const out = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || parent.closest("kbd, td.name, #cashier, script, style")) { continue; }
    if (!parent.checkVisibility()) { continue; }
    if (node.textContent.trim()) { out.push(node.textContent.trim()); }
  }
  const fields = [...document.querySelectorAll("input[placeholder]")].map(i => i.placeholder);
  return out.concat(fields).join("\\n");
}"""
WORD = re.compile(r"[A-Za-z]{2,}")


def english_words(page: Page, till: Till) -> list[str]:
    """ASCII words left on the page once codes and data (device names, ids, the lane's
    name, the currency code, PLU, units, staff names) are taken out."""
    text = page.evaluate(VISIBLE_TEXT)
    view = till.hub.view
    receipt = view.last_sale.receipt_id if view.last_sale else ""
    people = [view.cashier or ""]  # staff names are data (the refund dialog's "sold by")
    desk = till.hub.desk  # the lane's name (`[store] box`, the status bar) is a code too
    codes = [*desk.devices, view.shift_id or "", receipt, till.hub.store_name, desk.lane_name]
    codes += people
    for code in sorted(filter(None, codes), key=len, reverse=True):
        text = text.replace(code, " ")
    allowed = {"PLU", "CHF", "kg"}
    return [word for word in WORD.findall(text) if word not in allowed]


def sign_on_in(page: Page, who: tuple[str, str], language: str, expected: str = "") -> None:
    """F12, staff number, Tab, PIN, the language chosen in the dialog ("": none), Enter."""
    page.keyboard.press("F12")
    dialog = page.locator('[data-prompt="sign_on"]')
    expect(dialog).to_be_visible()
    page.keyboard.type(who[0])
    page.keyboard.press("Tab")
    page.keyboard.type(who[1])
    dialog.locator("select[name=language]").select_option(language)
    dialog.locator("input[name=pin]").press("Enter")
    expect(page.locator("[data-state]")).to_have_attribute("data-state", "idle")
    expect(page.locator("html")).to_have_attribute("data-language", expected or language)
    wait_live(page)  # the page loaded again in the language: keys count once it is live


def test_a_cashier_who_signs_on_in_chinese_sees_only_chinese_the_next_one_english(
    browser: Browser, till: Till
) -> None:
    page = open_page(browser, till.kiosk("/"))
    try:
        expect(page.locator("html")).to_have_attribute("lang", "en")  # the box's default
        sign_on_in(page, CASHIER, "zh")
        zh = TEXTS["zh"]
        expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
        expect(page.locator(".keys")).to_contain_text(zh["k_member"])  # not pushed: reloaded
        expect(page.locator("label[for=entry]")).to_have_text(zh["entry"])
        page.locator("#entry").fill(MILK)
        page.keyboard.press("Enter")
        expect(page.locator("tr.line")).to_have_count(1)
        expect(page.locator("#total")).to_contain_text("1.75")
        expect(page.locator("#basket")).to_contain_text(zh["total"])
        page.locator("#entry").fill("5")
        page.keyboard.press("F8")  # cash: the change is the lane's notice, translated
        expect(page.locator("#message")).to_contain_text("找零：3.25")
        expect(page.locator("#last-sale")).to_contain_text(zh["change"])
        shot(page, "cashier-zh-signed-on")
        assert english_words(page, till) == []
        receipt = till.hub.view.last_sale.receipt_id  # type: ignore[union-attr]
        page.locator("#entry").fill(receipt)
        page.keyboard.press("Shift+F10")  # the refund-lines dialog lists the sale's lines
        expect(page.locator("#receipt")).to_have_attribute("data-receipt", receipt)
        expect(page.locator('[data-prompt="refund_lines"]')).to_contain_text(zh["lines_hint"])
        assert english_words(page, till) == []
        dialog = page.locator('[data-prompt="refund_lines"]')
        dialog.locator("input[name=line_1]").fill("1")
        dialog.locator("input[name=reason]").fill("坏了")
        dialog.locator("input[name=reason]").press("Enter")  # on to pay back
        expect(dialog.locator("input[name=tender]")).to_be_focused()
        page.keyboard.press("Enter")  # cash: the last field, Enter is OK; a cashier: supervisor
        prompt = page.locator('[data-prompt="supervisor"]')
        expect(prompt).to_contain_text(zh["supervisor"])
        expect(prompt).to_contain_text("此操作需要主管授权")  # the lane's refusal, by its code
        assert english_words(page, till) == []
        page.keyboard.press("Escape")
        expect(page.locator("[data-prompt]")).to_have_count(0)

        page.keyboard.press("F12")  # the shift closes: the page goes back to the default
        expect(page.locator('[data-prompt="close_shift"]')).to_contain_text(zh["counted"])
        page.keyboard.type("3.25")
        page.keyboard.press("Enter")
        expect(page.locator("[data-state]")).to_have_attribute("data-state", "closed")
        expect(page.locator("html")).to_have_attribute("data-language", "en")
        wait_live(page)  # loaded again in the box's language: Enter counts once it is live
        figures = page.locator('[data-prompt="shift_closed"]')  # the drawer's figures: read
        expect(figures).to_be_visible()
        figures.locator("button[type=submit]").press("Enter")
        expect(figures).to_have_count(0)

        sign_on_in(page, SUPERVISOR, "en")
        expect(page.locator("html")).to_have_attribute("lang", "en")
        expect(page.locator(".keys")).to_contain_text(TEXTS["en"]["k_member"])
        expect(page.locator("#basket")).to_contain_text(TEXTS["en"]["cashier"])
        expect(page.locator("#cashier")).to_have_text("Beat")
        assert not re.search(r"[\u4e00-\u9fff]", page.evaluate(VISIBLE_TEXT))
    finally:
        page.close()


def test_a_cashiers_own_language_applies_and_the_customer_page_follows_it(
    browser: Browser, till: Till
) -> None:
    till.settings.screens.staff_languages[CASHIER[0]] = "zh"  # the lane reads these settings
    cashier = open_page(browser, till.kiosk("/"))
    customer = open_page(browser, till.kiosk("/customer"), width=1024, height=600)
    try:
        expect(customer.locator("#welcome h1")).to_have_text(TEXTS["en"]["welcome"])
        sign_on_in(cashier, CASHIER, "", expected="zh")  # no choice made: her own
        expect(customer.locator("html")).to_have_attribute("lang", "zh-CN")
        expect(customer.locator("#welcome h1")).to_have_text(TEXTS["zh"]["welcome"])
    finally:
        customer.close()
        cashier.close()
