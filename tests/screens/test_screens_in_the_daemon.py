"""The screens as `gateway run` serves them, driven in Chromium next to the control socket:
a scale in any unit prices a weighed item the same from F3 and from `weigh`, and during a
whole browser session (LAN login, a sale, the refund-lines dialog, a refund) only the main
loop uses the box's database connection (the daemon opens it with sqlite3's
`check_same_thread`, so a web thread touching it raises and the session fails)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from screens_testkit import MILK, daemon_kiosk, sign_on

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "daemon"))
from daemon_testkit import NO_SYNC, Daemon, box_config

from devices.simulators.scale import ScaleSimulator
from gateway.database import open_database
from gateway.harness.screens_demo import SUPERVISOR
from gateway.journal import Journal, JournalRecord

APPLES = "1001"  # Apples Gala, 3.80 per kg, sold by weight
LAN_CLIENT = "192.0.2.50"  # a tablet on the shop's network (TEST-NET-1)


def wait_until(condition: Callable[[], object], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def records(data: Path, kind: str) -> list[JournalRecord]:
    """The journal as a reader outside the daemon sees it (its own read-only connection)."""
    db = open_database(data / "storegate.db", readonly=True)
    try:
        return [r for r in Journal(db).read(0, 1000) if r.kind == kind]
    finally:
        db.conn.close()


@pytest.fixture
def stopped_cleanly() -> Iterator[list[Daemon]]:
    """Daemons a test started: each must stop with 0 and log no failed screen request."""
    started: list[Daemon] = []
    yield started
    for daemon in started:
        code = daemon.stop()
        output = daemon.output()
        assert code == 0, output
        for bad in ("Traceback", "ProgrammingError", "a request from the screens failed"):
            assert bad not in output, output


# kg, g, lb and oz readings of the same 456 g of apples (1.005 lb = 0.45586 kg, 16.08 oz =
# 0.45586 kg), each with a capacity in the scale's own unit: at 3.80 per kg the line lists
# CHF 1.73 before the produce promotion.
UNITS = [
    ("kg", "0.456", "15"),
    ("g", "456", "15000"),
    ("lb", "1.005", "33"),
    ("oz", "16.08", "528"),
]


@pytest.mark.parametrize(("unit", "weight", "capacity"), UNITS)
def test_f3_and_the_control_socket_price_a_weighed_item_alike(
    tmp_path: Path,
    browser: Browser,
    stopped_cleanly: list[Daemon],
    unit: str,
    weight: str,
    capacity: str,
) -> None:
    scale = ScaleSimulator("mtsics", weight=weight, unit=unit, pace=False).start()
    try:
        config = box_config(
            tmp_path,
            f'\n[[devices.scales]]\nname = "deli-scale"\n'
            f'protocol = "mtsics"\nserial = {{ port = "{scale.path}" }}\n'
            f"poll_interval_s = 0.1\ncapacity = {capacity}\n",
        )
        daemon = Daemon(tmp_path, config, NO_SYNC)
        stopped_cleanly.append(daemon)
        assert daemon.key("sign_on", staff="101", pin="472951")["ok"]
        wait_until(lambda: daemon.status()["scale"] is not None)
        page = browser.new_page()
        page.goto(daemon_kiosk(str(daemon.status()["screens"]), tmp_path))
        page.wait_for_selector("body[data-live]", state="attached")
        expect(page.locator("#weight")).to_have_class("weight stable")
        page.keyboard.type(APPLES)
        page.keyboard.press("F3")
        expect(page.locator("#basket tr[data-line]")).to_have_count(1)
        weighed = daemon.key("weigh", code=APPLES)
        assert weighed["ok"], weighed
        expect(page.locator("#basket tr[data-line]")).to_have_count(2)
        assert daemon.key("tender", type="cash", amount="5")["ok"]
        page.close()
    finally:
        scale.stop()
    (sale,) = records(tmp_path, "sale")
    screen, socket = sale.body["lines"]
    assert Decimal(screen["weight"]) == Decimal(socket["weight"])
    assert Decimal(screen["weight"]).quantize(Decimal("0.001")) == Decimal("0.456")
    listed = (Decimal(screen["list_amount"]), Decimal(socket["list_amount"]))
    assert listed == (Decimal("1.73"), Decimal("1.73"))
    assert screen["total"] == socket["total"]


def lan_page(browser: Browser, url: str) -> Page:
    """A tablet's browser: uvicorn takes the client address from X-Forwarded-For when the
    connection comes from loopback, so the screens see a LAN client that must sign in."""
    context = browser.new_context(
        extra_http_headers={"X-Forwarded-For": LAN_CLIENT}, viewport={"width": 1280, "height": 800}
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(url + "/")
    return page


def test_only_the_main_loop_uses_the_database_in_a_browser_session(
    tmp_path: Path, browser: Browser, stopped_cleanly: list[Daemon]
) -> None:
    lan = {"STOREGATE_SCREENS__LAN": "true", "STOREGATE_SCREENS__INSECURE_LAN": "true"}
    daemon = Daemon(tmp_path, box_config(tmp_path), {**NO_SYNC, **lan})
    stopped_cleanly.append(daemon)
    url = str(daemon.status()["screens"])
    page = lan_page(browser, url)
    try:
        expect(page.locator('input[name="staff_id"]')).to_be_visible()  # the LAN login
        page.locator('input[name="staff_id"]').fill("101")
        page.locator('input[name="pin"]').fill("472951")
        page.locator('input[name="pin"]').press("Enter")
        page.wait_for_selector("body[data-live]", state="attached")
        sign_on(page)
        page.keyboard.type(MILK)
        page.keyboard.press("Enter")
        expect(page.locator("#basket tr[data-line]")).to_have_count(1)
        page.keyboard.press("F8")  # cash, exact
        expect(page.locator("#last-sale")).to_be_visible()
        (sale,) = records(tmp_path, "sale")
        page.keyboard.type(str(sale.body["receipt_id"]))
        page.keyboard.press("Shift+F10")
        dialog = page.locator('[data-prompt="refund_lines"]')
        expect(dialog.locator(".receipt-lines tr[data-line]")).to_have_count(1)
        expect(dialog.locator('input[name="line_1"]')).to_be_focused()
        page.keyboard.press("Space")  # all of line 1
        dialog.locator('input[name="reason"]').fill("changed mind")
        dialog.locator('input[name="reason"]').press("Enter")  # on to pay back
        expect(dialog.locator('input[name="tender"]')).to_be_focused()
        page.keyboard.press("Enter")  # cash: the last field, Enter is OK
        expect(page.locator('[data-prompt="supervisor"]')).to_be_visible()  # the lane wants one
        page.keyboard.type(SUPERVISOR[0])
        page.keyboard.press("Tab")
        page.keyboard.type(SUPERVISOR[1])
        page.keyboard.press("Enter")
        expect(page.locator(".message.notice")).to_contain_text("Refunded: CHF ")
    finally:
        page.context.close()
    (refund,) = records(tmp_path, "refund")
    assert refund.body["original_receipt_id"] == sale.body["receipt_id"]


def test_the_one_translator_compares_capacity_in_the_scales_own_unit() -> None:
    from datetime import datetime

    from devices.events import WeightReading, WeightStatus
    from gateway.lane.events import Weighed

    at = datetime(2026, 11, 24, 9)

    def weighed(weight: str, unit: str, capacity: str | None = None) -> Weighed:
        reading = WeightReading("deli-scale", Decimal(weight), unit, WeightStatus.STABLE, b"", at)
        return Weighed.from_reading(at, APPLES, reading, Decimal(capacity) if capacity else None)

    grams = weighed("456", "g", "15000")
    assert (grams.weight, grams.capacity, grams.scale_says) == (Decimal("0.456"), 15, None)
    assert weighed("15001", "g", "15000").scale_says == "weight 15001 g exceeds the capacity 15000"
    assert weighed("2", "lb").weight == Decimal("0.90718474")
    assert weighed("1", "ct").scale_says == "the scale weighs in ct; set it to kg, g, lb or oz"
    assert Weighed.from_reading(at, APPLES, None) == Weighed(at, APPLES, None, True)


def test_items_without_a_barcode_and_the_age_check_through_gateway_run(
    tmp_path: Path, browser: Browser, stopped_cleanly: list[Daemon]
) -> None:
    """Issue 14 items 3 and 4 as `gateway run` serves them: search, a quick key, merged
    repeats, an open price above the ceiling with a supervisor, the age check, the keypad
    (its settings from the environment), all on the main loop's database connection."""
    env = {
        **NO_SYNC,
        "STOREGATE_LANE__AGE_CHECK": "true",
        "STOREGATE_LANE__MERGE_REPEATS": "true",
        "STOREGATE_SCREENS__KEYPAD": "true",
    }
    daemon = Daemon(tmp_path, box_config(tmp_path), env)
    stopped_cleanly.append(daemon)
    assert daemon.key("sign_on", staff="101", pin="472951")["ok"]
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.set_default_timeout(10_000)
    page.goto(daemon_kiosk(str(daemon.status()["screens"]), tmp_path))
    page.wait_for_selector("body[data-live]", state="attached")
    rows = page.locator("#basket tr[data-line]")
    try:
        expect(page.locator("#keypad")).to_be_visible()
        for _ in range(2):
            page.keyboard.type(MILK)
            page.keyboard.press("Enter")
        expect(rows.first.locator(".qty")).to_have_text("2")  # merged
        page.keyboard.type("gruy")
        page.keyboard.press("Shift+F3")
        expect(page.locator('[data-prompt="search"] button[data-choice]')).to_have_count(1)
        page.keyboard.press("ArrowDown")
        page.keyboard.press("Enter")
        expect(rows).to_have_count(2)
        page.keyboard.press("Shift+F5")
        expect(page.locator('[data-prompt="quick"] input[name="key"]')).to_be_focused()
        page.keyboard.type("1")  # the paper bag
        page.keyboard.press("Enter")
        expect(rows).to_have_count(3)
        page.keyboard.type("85")
        page.keyboard.press("Shift+F6")
        expect(page.locator('[data-prompt="open_price"] input[name="department"]')).to_be_focused()
        page.keyboard.type("2")  # Flowers, ceiling 80.00
        page.keyboard.press("Enter")
        expect(page.locator('[data-prompt="supervisor"]')).to_contain_text("ceiling of 80.00")
        expect(page.locator('[data-prompt="supervisor"] input[name="staff_id"]')).to_be_focused()
        page.keyboard.type(SUPERVISOR[0])
        page.keyboard.press("Tab")
        page.keyboard.type(SUPERVISOR[1])
        page.keyboard.press("Tab")
        page.keyboard.type("large bouquet")
        page.keyboard.press("Enter")
        expect(rows).to_have_count(4)
        page.keyboard.type("7612345001319")  # lager: age-restricted
        page.keyboard.press("Enter")
        age = page.locator('[data-prompt="age"]')
        expect(age).to_contain_text("born on or before")
        expect(age.locator("button[type=submit]")).to_be_focused()
        page.keyboard.press("Enter")
        expect(age).to_have_count(0)
        page.keyboard.press("F8")
        expect(page.locator("#last-sale")).to_be_visible()
    finally:
        page.close()
    (sale,) = records(tmp_path, "sale")
    body = sale.body
    assert [(line["sku"], line["quantity"]) for line in body["lines"]] == [
        ("MILK-1L", "2"),
        ("CHEESE-GRU", "1"),
        ("BAG-PAPER", "1"),
        ("DEPT-FLOWERS", "1"),
        ("BEER-50", "1"),
    ]
    assert body["lines"][3]["open_price"]["staff"]["id"] == "101"
    assert body["lines"][3]["unit_price"] == "85.00"
    assert body["age_check"]["staff"]["id"] == "101"
    (override,) = records(tmp_path, "override")
    assert override.body["action"] == "open_price_over_ceiling"
    assert override.body["supervisor"]["id"] == SUPERVISOR[0]
