"""Selling what has no barcode, on the cashier screen in Chromium (issue 14, items 3 and
4): the search dialog (name, PLU, pinyin initials), the quick-key grid, the open-price
dialog with its ceiling, repeated scans merged into one line, the age check, and the
on-screen keypad, by keyboard only and by touch only, each checked in the lane's journal."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
from screens_testkit import MILK, ROOT, WINE, Till, shot, sign_on

from gateway.catalog.catalog import build_catalog
from gateway.catalog.document import parse_document
from gateway.harness.screens_demo import SUPERVISOR, StepClock, demo_lane
from gateway.journal.records import JournalRecord
from gateway.lane.events import Outcome
from gateway.screens.hub import ScreenHub
from gateway.screens.requests import LocalLane
from gateway.settings import GatewaySettings, load_settings


@pytest.fixture
def tune() -> Callable[[GatewaySettings], None]:
    def change(settings: GatewaySettings) -> None:
        settings.lane.age_check = True
        settings.lane.merge_repeats = True
        settings.screens.keypad = True

    return change


@pytest.fixture
def tablet(browser: Browser, till: Till) -> Iterator[Page]:
    """The kiosk page on a touch screen (taps, no keyboard)."""
    page = browser.new_page(viewport={"width": 1280, "height": 800}, has_touch=True)
    page.set_default_timeout(10_000)
    page.goto(till.kiosk("/"))
    page.wait_for_selector("body[data-live]", state="attached")
    yield page
    page.close()


def last_sale(till: Till) -> dict[str, Any]:
    records: list[JournalRecord] = list(till.lane.book.journal.read(0, 1000))
    return dict([r for r in records if r.kind == "sale"][-1].body)


def lines(till: Till) -> list[tuple[str, str]]:
    sale = till.lane.sale
    assert sale is not None
    return [(line.sku, str(line.weight or line.quantity)) for line in sale.lines]


def test_keyboard_only_search_quick_keys_open_price_and_age(till: Till, cashier: Page) -> None:
    sign_on(cashier)
    rows = cashier.locator("#basket tr[data-line]")
    till.devices.scanner.scan(MILK)
    expect(rows).to_have_count(1)
    till.devices.scanner.scan(MILK)  # merged: one line of 2
    expect(rows.first.locator(".qty")).to_have_text("2")

    # search by name: the entry line's text, Shift+F3, down to the first result, Enter
    cashier.keyboard.type("gruy")
    cashier.keyboard.press("Shift+F3")
    search = cashier.locator('[data-prompt="search"]')
    expect(search.locator("button[data-choice]").first).to_contain_text("Gruyère")
    shot(cashier, "cashier-search")
    cashier.keyboard.press("ArrowDown")
    expect(search.locator("button[data-choice]").first).to_be_focused()
    cashier.keyboard.press("Enter")
    expect(search).to_have_count(0)
    expect(rows).to_have_count(2)

    # by PLU in the dialog: Enter lists, Enter again takes the one result
    cashier.keyboard.press("Shift+F3")
    expect(search.locator('input[name="query"]')).to_be_focused()
    cashier.keyboard.type("501")
    cashier.keyboard.press("Enter")
    expect(search.locator("button[data-choice]")).to_have_count(1)
    expect(search.locator('input[name="query"]')).to_be_focused()
    expect(search.locator("button[data-choice]")).to_contain_text("Butter croissant")
    cashier.keyboard.press("Enter")
    expect(rows).to_have_count(3)

    # a quick key by its number, with the quantity typed first
    cashier.keyboard.type("3")
    cashier.keyboard.press("Shift+F5")
    quick = cashier.locator('[data-prompt="quick"]')
    expect(quick.locator("button[data-choice]")).to_have_count(9)
    expect(quick.locator('input[name="quantity"]')).to_have_value("3")
    expect(quick.locator('input[name="key"]')).to_be_focused()
    shot(cashier, "cashier-quick-keys")
    cashier.keyboard.type("1")
    cashier.keyboard.press("Enter")
    expect(rows).to_have_count(4)

    # a weighed quick key takes the scale's reading
    till.devices.scale.set(mode="stable", weight="0.456")
    expect(cashier.locator("#weight")).to_have_attribute("data-status", "stable")
    cashier.keyboard.press("Shift+F5")
    expect(quick.locator('input[name="key"]')).to_be_focused()
    cashier.keyboard.type("4")
    cashier.keyboard.press("Enter")
    expect(rows).to_have_count(5)
    assert lines(till) == [
        ("MILK-1L", "2"),
        ("CHEESE-GRU", "1"),
        ("CROISS", "1"),
        ("BAG-PAPER", "3"),
        ("APPLE-GALA", "0.456"),
    ]

    # a department's quick key opens the open-price dialog; the price, Enter
    cashier.keyboard.press("Shift+F5")
    expect(quick.locator('input[name="key"]')).to_be_focused()
    cashier.keyboard.type("8")
    cashier.keyboard.press("Enter")
    dialog = cashier.locator('[data-prompt="open_price"]')
    expect(dialog.locator('input[name="department"]')).to_have_value("DEPT-BAKERY")
    expect(dialog.locator('input[name="price"]')).to_be_focused()
    cashier.keyboard.type("4.50")
    cashier.keyboard.press("Enter")
    expect(rows).to_have_count(6)

    # above the ceiling: Shift+F6 with the price on the entry line, department by number
    cashier.keyboard.type("45")
    cashier.keyboard.press("Shift+F6")
    expect(dialog.locator('input[name="price"]')).to_have_value("45")
    expect(dialog.locator('input[name="department"]')).to_be_focused()
    cashier.keyboard.type("1")
    cashier.keyboard.press("Enter")
    supervisor = cashier.locator('[data-prompt="supervisor"]')
    expect(supervisor).to_contain_text("above the Bakery counter ceiling of 30.00")
    expect(supervisor.locator('input[name="staff_id"]')).to_be_focused()
    cashier.keyboard.type(SUPERVISOR[0])
    cashier.keyboard.press("Tab")
    cashier.keyboard.type(SUPERVISOR[1])
    cashier.keyboard.press("Tab")
    cashier.keyboard.type("birthday cake")
    cashier.keyboard.press("Enter")
    expect(rows).to_have_count(7)

    # the wine asks for the age at once; Esc, then payment is refused and asks again
    till.devices.scanner.scan(WINE)
    age = cashier.locator('[data-prompt="age"]')
    expect(age).to_contain_text("born on or before 2008-11-24")
    expect(age.locator("button[type=submit]")).to_be_focused()
    shot(cashier, "cashier-age-check")
    cashier.keyboard.press("Escape")
    expect(age).to_have_count(0)
    cashier.keyboard.press("F8")
    expect(age).to_contain_text("Confirm the customer's age first")
    expect(age.locator("button[type=submit]")).to_be_focused()
    cashier.keyboard.press("Enter")
    expect(age).to_have_count(0)
    expect(cashier.locator(".message.notice")).to_have_text("Age confirmed by Anna.")
    cashier.keyboard.press("F8")
    expect(cashier.locator("#last-sale")).to_be_visible()

    body = last_sale(till)
    assert body["age_check"]["staff"]["id"] == "101"
    keyed = [(line["sku"], line["unit_price"], line.get("open_price")) for line in body["lines"]]
    assert keyed[5][:2] == ("DEPT-BAKERY", "4.50") and keyed[6][:2] == ("DEPT-BAKERY", "45.00")
    assert keyed[6][2] is not None and keyed[6][2]["staff"]["id"] == "101"
    assert [o["action"] for o in body["overrides"]] == ["open_price_over_ceiling"]
    assert body["overrides"][0]["supervisor"]["id"] == SUPERVISOR[0]


def test_touch_only_keypad_quick_keys_search_open_price_and_age(till: Till, tablet: Page) -> None:
    sign_on(tablet)  # the staff number and PIN (a touch screen's own keyboard types them)
    rows = tablet.locator("#basket tr[data-line]")
    pad = tablet.locator("#keypad")

    def keypad(text: str) -> None:
        for char in text:
            pad.locator(f'button[data-pad="{char}"]').tap()

    # the keypad types a PLU on the entry line and ↵ rings it up; C clears the line
    keypad("7")
    pad.locator('button[data-pad="clear"]').tap()
    expect(tablet.locator("#entry")).to_have_value("")
    keypad("2*9")
    expect(tablet.locator("#entry")).to_have_value("2*9")
    pad.locator('button[data-pad="enter"]').tap()
    expect(rows).to_have_count(1)
    expect(rows.first.locator(".qty")).to_have_text("2")

    # the age key with nothing restricted on the sale: the lane says so; cancel
    tablet.locator('.keys [data-action="age"]').tap()
    age = tablet.locator('[data-prompt="age"]')
    age.locator("button[type=submit]").tap()
    expect(age.locator("#prompt-alert")).to_have_text("Nothing on this sale is age-restricted.")
    age.locator('button[hx-post="/action/escape"]').tap()
    expect(age).to_have_count(0)

    # quick keys: tap the key bar's button, tap the bread
    tablet.locator('.keys [data-action="quick"]').tap()
    quick = tablet.locator('[data-prompt="quick"]')
    quick.locator('button[data-choice="BREAD-BRN"]').tap()
    expect(rows).to_have_count(2)
    tablet.locator('.keys [data-action="quick"]').tap()
    quick.locator('button[data-choice="BREAD-BRN"]').tap()  # merged into the bread line
    expect(rows.nth(1).locator(".qty")).to_have_text("2")

    # search by PLU with the keypad, in the dialog; tap the result (weighed: the scale)
    till.devices.scale.set(mode="stable", weight="1.250")
    expect(tablet.locator("#weight")).to_have_attribute("data-status", "stable")
    tablet.locator('.keys [data-action="search"]').tap()
    search = tablet.locator('[data-prompt="search"]')
    expect(search.locator('input[name="query"]')).to_be_focused()
    keypad("1002")
    expect(search.locator('input[name="query"]')).to_have_value("1002")
    pad.locator('button[data-pad="enter"]').tap()
    search.locator('button[data-choice="BANANA"]').tap()
    expect(rows).to_have_count(3)

    # open price: the price on the keypad, the key, a tap on the department, OK
    keypad("12.5")
    tablet.locator('.keys [data-action="open_price"]').tap()
    dialog = tablet.locator('[data-prompt="open_price"]')
    expect(dialog.locator('input[name="price"]')).to_have_value("12.5")
    dialog.locator('button[data-choice="DEPT-FLOWERS"]').tap()
    expect(dialog.locator('input[name="department"]')).to_have_value("DEPT-FLOWERS")
    pad.locator('button[data-pad="back"]').tap()  # 12.5 -> 12.
    keypad("9")
    expect(dialog.locator('input[name="price"]')).to_have_value("12.9")
    shot(tablet, "cashier-open-price-touch")
    dialog.locator("button[type=submit]").tap()
    expect(rows).to_have_count(4)

    # the age check: the open-price alcohol department asks; a tap confirms
    tablet.locator('.keys [data-action="open_price"]').tap()
    dialog.locator('button[data-choice="DEPT-ALCOHOL"]').tap()
    keypad("9.90")
    dialog.locator("button[type=submit]").tap()
    expect(age).to_contain_text("born on or before")
    age.locator("button[type=submit]").tap()
    expect(age).to_have_count(0)
    tablet.locator('.keys [data-action="cash"]').tap()
    expect(tablet.locator("#last-sale")).to_be_visible()

    body = last_sale(till)
    assert [(line["sku"], line["quantity"]) for line in body["lines"]] == [
        ("BAG-PAPER", "2"),
        ("BREAD-BRN", "2"),
        ("BANANA", "1.250"),
        ("DEPT-FLOWERS", "1"),
        ("DEPT-ALCOHOL", "1"),
    ]
    assert body["lines"][2]["weight"] == "1.250"
    assert body["lines"][3]["unit_price"] == "12.90"
    assert body["lines"][4]["open_price"]["department"] == "DEPT-ALCOHOL"
    assert body["age_check"]["staff"]["name"] == "Anna"


def test_pinyin_initials_find_a_chinese_name(till: Till, cashier: Page) -> None:
    data = json.loads((ROOT / "config" / "catalog.example.json").read_text())
    chinese = copy.deepcopy(data)
    chinese["version"] = 2
    chinese["products"].append(
        {
            "sku": "CN-COKE",
            "name": "可口可乐 330ml",
            "price": "1.80",
            "tax_class": "food",
            "category": "drinks",
        }
    )
    till.lane.set_catalog(build_catalog(parse_document(chinese)))  # idle: applies at once
    sign_on(cashier)
    cashier.keyboard.type("kkkl")
    cashier.keyboard.press("Shift+F3")
    search = cashier.locator('[data-prompt="search"]')
    expect(search.locator("button[data-choice]")).to_have_count(1)
    expect(search.locator("button[data-choice]")).to_contain_text("可口可乐 330ml")
    shot(cashier, "cashier-search-pinyin")
    cashier.keyboard.press("Enter")  # the only result
    expect(cashier.locator("#basket tr[data-line]")).to_have_count(1)
    assert lines(till) == [("CN-COKE", "1")]

    cashier.keyboard.press("Shift+F7")  # the age key: nothing restricted here
    age = cashier.locator('[data-prompt="age"]')
    expect(age.locator("button[type=submit]")).to_be_focused()
    cashier.keyboard.press("Enter")
    expect(age.locator("#prompt-alert")).to_have_text("Nothing on this sale is age-restricted.")
    cashier.keyboard.press("Escape")
    expect(age).to_have_count(0)

    cashier.keyboard.type("nothing like it")
    cashier.keyboard.press("Shift+F3")
    expect(search.locator("#prompt-alert")).to_have_text("Nothing found: try fewer letters.")
    cashier.keyboard.press("Escape")
    expect(search).to_have_count(0)


def test_a_second_enter_on_a_dialog_already_done_rings_up_nothing(tmp_path: Path) -> None:
    """The hub without a browser: the open-price form sent twice (a double Enter) rings up
    one line; a search form after its dialog closed opens nothing."""
    settings = load_settings(ROOT / "config" / "gateway.example.toml")
    lane = demo_lane(tmp_path / "storegate.db", settings)
    hub = ScreenHub(LocalLane(lane), settings.screens, clock=StepClock(datetime(2026, 11, 24, 9)))
    assert isinstance(hub.submit("sign_on", {"staff_id": "101", "pin": "472951"}), Outcome)
    hub.press("open_price", "4.50")
    fields = {"department": "1", "price": "4.50", "quantity": "2"}
    assert isinstance(hub.submit("open_price", fields), Outcome)
    assert hub.submit("open_price", fields) is None
    assert lane.sale is not None and [(li.sku, li.quantity) for li in lane.sale.lines] == [
        ("DEPT-BAKERY", Decimal(2))
    ]
    hub.press("search", "croissant")
    assert hub.view.prompt is not None and hub.view.prompt.choices[0].value == "CROISS"
    assert isinstance(hub.submit("search", {"query": "croissant", "choice": "CROISS"}), Outcome)
    assert hub.submit("search", {"query": "croissant", "choice": "CROISS"}) is None
    assert hub.view.prompt is None and len(lane.sale.lines) == 2
