"""Every action from the keyboard, Chinese screens, device health, and who may open the
screens (loopback, LAN with a staff login, actions only from the pages themselves)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect
from screens_testkit import MILK, WINE, Till, asgi, csrf_of, shot, sign_on

from gateway.errors import SettingsError
from gateway.harness.screens_demo import CASHIER, SUPERVISOR
from gateway.screens.access import CSRF_COOKIE, SESSION_COOKIE
from gateway.screens.app import create_app
from gateway.screens.keys import KEYS
from gateway.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_every_action_has_a_key_and_a_button(cashier: Page) -> None:
    for action, (key, _) in KEYS.items():
        button = cashier.locator(f'.keys button[data-action="{action}"]')
        expect(button).to_have_attribute("data-key", key)


def test_keyboard_only_quantity_void_suspend_resume(
    till: Till, cashier: Page, customer: Page
) -> None:
    sign_on(cashier)
    for code in (MILK, WINE):
        cashier.keyboard.type(code)
        cashier.keyboard.press("Enter")  # a barcode keyed on the entry line
    rows = cashier.locator("#basket tr[data-line]")
    expect(rows).to_have_count(2)
    expect(cashier.locator("#entry")).to_have_value("")
    cashier.keyboard.press("ArrowUp")
    expect(cashier.locator('tr[data-line="1"]')).to_have_class("line selected")
    cashier.keyboard.type("3")
    cashier.keyboard.press("F4")
    expect(cashier.locator('tr[data-line="1"] .qty')).to_have_text("3")
    expect(cashier.locator("#total")).to_have_text("CHF 17.75")
    cashier.locator('tr[data-line="2"] .name').click()  # touch: tap the wine's line
    expect(cashier.locator('tr[data-line="2"]')).to_have_class("line selected")
    cashier.keyboard.press("F5")  # void the wine
    expect(rows).to_have_count(1)
    cashier.keyboard.type("2*501")  # two croissants by PLU
    cashier.keyboard.press("Enter")
    expect(rows).to_have_count(2)
    expect(cashier.locator('tr[data-line="2"] .name')).to_contain_text("Butter croissant")
    cashier.keyboard.press("F6")
    expect(cashier.locator("#suspended")).to_have_text("H0001")
    expect(rows).to_have_count(0)
    expect(customer.locator("#welcome")).to_be_visible()
    cashier.keyboard.press("F7")
    expect(rows).to_have_count(2)
    expect(cashier.locator(".message.notice")).to_contain_text("Resumed H0001")
    cashier.keyboard.press("F11")
    expect(cashier.locator('[data-prompt="void_sale"]')).to_be_visible()
    cashier.keyboard.press("Escape")
    expect(cashier.locator('[data-prompt="void_sale"]')).to_have_count(0)
    expect(rows).to_have_count(2)


def test_staff_cards_sign_on_and_authorise(till: Till, cashier: Page) -> None:
    from datetime import datetime

    from devices.events import CardEvent, CardKind

    at = datetime(2026, 11, 24, 9)
    till.hub.device(CardEvent("loyalty-reader", "CARD-ANNA", CardKind.STAFF, None, at))
    expect(cashier.locator("#cashier")).to_have_text("Anna")
    cashier.keyboard.type("4711")
    cashier.keyboard.press("F12")  # close shift needs the counted cash, then no override
    expect(cashier.locator('[data-prompt="close_shift"]')).to_be_visible()
    cashier.keyboard.press("Escape")
    expect(cashier.locator('[data-prompt="close_shift"]')).to_have_count(0)
    cashier.keyboard.press("F10")
    dialog = cashier.locator('[data-prompt="refund"]')
    dialog.locator('input[name="receipt_id"]').fill("box-1-999999")
    dialog.locator('input[name="reason"]').fill("broken")
    dialog.locator('input[name="reason"]').press("Enter")
    expect(cashier.locator(".message.refusal")).to_contain_text("No sale with receipt")
    assert SUPERVISOR and CASHIER


@pytest.mark.parametrize("language", ["zh"])
def test_chinese_screens(till: Till, cashier: Page, customer: Page) -> None:
    expect(cashier.locator("[data-state]")).to_have_text("收银台未开班：请登录")
    sign_on(cashier)
    expect(cashier.locator(".message.notice")).to_have_text("班次 box-1-S00001 已开班：Anna。")
    till.devices.scanner.scan(MILK)
    expect(cashier.locator("#total")).to_have_text("CHF 1.75")
    expect(cashier.locator(".totals .total dt")).to_contain_text("应付")
    expect(cashier.locator('.keys [data-action="cash"]')).to_contain_text("现金")
    expect(customer.locator("#current-line .name")).to_have_text("Whole milk 1 l")
    expect(customer.locator(".big-totals .total dt")).to_have_text("应付")
    cashier.keyboard.type("1001")
    cashier.keyboard.press("F3")  # empty scale: the refusal in Chinese
    expect(cashier.locator(".message.refusal")).to_have_text("请把商品放到秤上。")
    shot(cashier, "cashier-zh")
    shot(customer, "customer-zh")


def test_printer_paper_out_shows_as_a_device_alert(till: Till, cashier: Page) -> None:
    device = cashier.locator('#devices li[data-device="receipt"]')
    expect(device).to_contain_text("ready")
    till.devices.printer.flags.add("paper_out")
    expect(device).to_contain_text("paper out", timeout=8000)  # the monitor polls every 5 s
    expect(device).to_have_class("bad")
    shot(cashier, "cashier-paper-out")


def test_actions_need_the_pages_own_header(till: Till) -> None:
    with httpx.Client(base_url=till.url, cookies=till.cookies) as client:
        assert client.post("/action/suspend").status_code == 403
        assert client.post("/action/suspend", headers={"HX-Request": "true"}).status_code == 204


def test_lan_access_needs_lan_and_a_staff_login(till: Till) -> None:
    app = create_app(till.hub, kiosk_token=till.kiosk_token)
    kiosk = till.cookies
    assert asgi(app, "127.0.0.1", "GET", "/", cookies=kiosk).status_code == 200
    refused = asgi(app, "192.0.2.50", "GET", "/", cookies=kiosk)
    assert refused.status_code == 403 and "this box only" in refused.text
    till.hub.settings.lan = True
    try:
        lan_kiosk = asgi(app, "192.0.2.50", "GET", "/customer", cookies=kiosk)
        assert lan_kiosk.status_code == 401  # the kiosk cookie counts on the box only
        assert 'name="next" value="/customer"' in lan_kiosk.text  # the login form instead
        form = asgi(app, "192.0.2.50", "GET", "/login")
        csrf = csrf_of(form)
        jar = {CSRF_COOKIE: form.cookies[CSRF_COOKIE]}
        wrong = asgi(
            app,
            "192.0.2.50",
            "POST",
            "/login",
            cookies=jar,
            data={"staff_id": CASHIER[0], "pin": "000000", **csrf},
        )
        assert wrong.status_code == 401 and "Wrong staff number or PIN" in wrong.text
        good = asgi(
            app,
            "192.0.2.50",
            "POST",
            "/login",
            cookies=jar,
            data={"staff_id": CASHIER[0], "pin": CASHIER[1], "next": "/customer", **csrf},
        )
        assert good.status_code == 303 and good.headers["location"] == "/customer"
        cookie = good.cookies[SESSION_COOKIE]
        assert "httponly" in good.headers["set-cookie"].lower()
        assert "samesite=strict" in good.headers["set-cookie"].lower()
        page = asgi(app, "192.0.2.50", "GET", "/", cookies={SESSION_COOKIE: cookie})
        assert page.status_code == 200 and "sse-connect" in page.text
        forged = asgi(app, "192.0.2.50", "GET", "/", cookies={SESSION_COOKIE: "guess"})
        assert forged.status_code == 401
    finally:
        till.hub.settings.lan = False


def test_settings_keep_the_screens_on_loopback_unless_lan(tmp_path: Path) -> None:
    base = (ROOT / "config" / "gateway.example.toml").read_text()
    exposed = tmp_path / "exposed.toml"
    exposed.write_text(
        base.replace("[screens]\n", '[screens]\nhost = "0.0.0.0"\n', 1).replace(
            'host = "127.0.0.1"\nport = 8080', "port = 8080"
        )
    )
    with pytest.raises(SettingsError, match="lan = true"):
        load_settings(exposed)
    half_tls = tmp_path / "tls.toml"
    half_tls.write_text(base.replace("# tls_cert = ", "tls_cert = "))
    with pytest.raises(SettingsError, match="tls_cert and tls_key go together"):
        load_settings(half_tls)
    both = tmp_path / "both.toml"
    both.write_text(
        base.replace("# tls_cert = ", "tls_cert = ").replace("# tls_key = ", "tls_key = ")
    )
    assert load_settings(both).screens.https
