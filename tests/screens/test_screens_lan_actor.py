"""Issue 13 item 2, played as the attacker: a staff member logged in on a LAN tablet acts as
themselves, never under the cashier signed on at the till.

`gateway run` with the screens on the LAN; a supervisor's shift at the till (control
socket). A cashier logs in on a tablet (Chromium, a LAN client by `X-Forwarded-For` from
loopback) and tries a refund and a no-sale: each needs a supervisor now, as a cashier's
role requires, and nothing is journalled. A second supervisor then does both from another
tablet: the journal names that supervisor as who acted and the till's supervisor as the
operator, on the records and on nothing else."""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import Browser, Page, expect
from screens_testkit import MILK
from test_screens_in_the_daemon import lan_page, records, stopped_cleanly  # noqa: F401

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "daemon"))
from daemon_testkit import EXAMPLE_CONFIG, NO_SYNC, Daemon, box_config

from gateway.database import open_database
from gateway.lane.staff import StaffDirectory
from gateway.settings import load_settings

CASHIER = ("101", "472951")  # Anna, cashier (daemon_testkit.add_staff)
TILL_SUPERVISOR = ("201", "836104")  # Beat, supervisor: signed on at the till
TABLET_SUPERVISOR = ("202", "590317")  # Carla, supervisor, added here


def add_second_supervisor(database: Path) -> None:
    db = open_database(database)
    try:
        StaffDirectory(db, load_settings(EXAMPLE_CONFIG).lane).add(
            TABLET_SUPERVISOR[0], "Carla", "supervisor", pin=TABLET_SUPERVISOR[1]
        )
    finally:
        db.conn.close()  # the daemon must be the box's only writer


def log_in(browser: Browser, url: str, who: tuple[str, str]) -> Page:
    page = lan_page(browser, url)
    expect(page.locator('input[name="staff_id"]')).to_be_visible()
    page.locator('input[name="staff_id"]').fill(who[0])
    page.locator('input[name="pin"]').fill(who[1])
    page.locator('input[name="pin"]').press("Enter")
    page.wait_for_selector("body[data-live]", state="attached")
    return page


def no_sale(page: Page, reason: str) -> None:
    page.keyboard.press("Shift+F12")
    dialog = page.locator('[data-prompt="no_sale"]')
    expect(dialog).to_be_visible()
    dialog.locator('input[name="reason"]').fill(reason)
    dialog.locator('input[name="reason"]').press("Enter")


def refund(page: Page, receipt_id: str, reason: str) -> None:
    expect(page.locator('[data-prompt="supervisor"]')).to_have_count(0)  # the prompt closed
    page.keyboard.type(receipt_id)
    expect(page.locator("#entry")).to_have_value(receipt_id)  # typed, before the key
    page.keyboard.press("F10")
    dialog = page.locator('[data-prompt="refund"]')
    expect(dialog).to_be_visible()
    dialog.locator('input[name="reason"]').fill(reason)
    dialog.locator('input[name="reason"]').press("Enter")


def test_a_tablet_acts_as_its_own_person_not_as_the_tills_cashier(
    tmp_path: Path,
    browser: Browser,
    stopped_cleanly: list[Daemon],  # noqa: F811
) -> None:
    config = box_config(tmp_path)
    add_second_supervisor(tmp_path / "storegate.db")
    lan = {"STOREGATE_SCREENS__LAN": "true", "STOREGATE_SCREENS__INSECURE_LAN": "true"}
    daemon = Daemon(tmp_path, config, {**NO_SYNC, **lan})
    stopped_cleanly.append(daemon)
    assert daemon.key("sign_on", staff=TILL_SUPERVISOR[0], pin=TILL_SUPERVISOR[1])["ok"]
    assert daemon.key("scan", code=MILK)["ok"]
    assert daemon.key("tender", type="cash", amount="5")["ok"]
    (sale,) = records(tmp_path, "sale")
    receipt_id = str(sale.body["receipt_id"])
    url = str(daemon.status()["screens"])

    tablet = log_in(browser, url, CASHIER)
    try:
        no_sale(tablet, "change for the float")
        expect(tablet.locator('[data-prompt="supervisor"]')).to_be_visible()
        tablet.keyboard.press("Escape")
        refund(tablet, receipt_id, "changed mind")
        expect(tablet.locator('[data-prompt="supervisor"]')).to_be_visible()
        tablet.keyboard.press("Escape")
    finally:
        tablet.context.close()
    assert records(tmp_path, "no_sale") == []
    assert records(tmp_path, "refund") == []

    tablet = log_in(browser, url, TABLET_SUPERVISOR)
    try:
        no_sale(tablet, "change for the float")
        expect(tablet.locator(".message.notice")).to_contain_text("Drawer open")
        refund(tablet, receipt_id, "changed mind")
        expect(tablet.locator(".message.notice")).to_contain_text("Refunded: CHF ")
    finally:
        tablet.context.close()

    carla = {"id": "202", "name": "Carla", "role": "supervisor"}
    beat = {"id": "201", "name": "Beat", "role": "supervisor"}
    (drawer,) = records(tmp_path, "no_sale")
    (money_back,) = records(tmp_path, "refund")
    for record in (drawer, money_back):
        assert (record.body["staff"], record.body["operator"]) == (carla, beat), record.body
        assert record.body.get("override") is None  # her own role allowed it: no override
    # the till's own actions stay the till's cashier's, with no operator beside
    assert sale.body["staff"] == beat and "operator" not in sale.body
