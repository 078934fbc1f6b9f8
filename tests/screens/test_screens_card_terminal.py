"""F9 "Card" at the cashier page of a `gateway run` with a card terminal set up: the
amount goes to the ZVT terminal simulator, the page says it waits for the terminal, and
the sale completes with the terminal's references and the masked card number; nothing
of the full card number reaches a file or the log."""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import Browser, expect
from screens_testkit import MILK, daemon_kiosk

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "daemon"))
from card_testkit import assert_pan_kept_nowhere, card_config
from daemon_testkit import NO_SYNC, Daemon
from wallet_testkit import payments, sales

from gateway.harness.zvt_terminal import ZvtTerminalSimulator


def test_f9_pays_at_the_terminal(tmp_path: Path, browser: Browser) -> None:
    with ZvtTerminalSimulator(delay_s=1.5) as terminal:
        terminal.script("slow")  # the customer takes a moment with the PIN
        daemon = Daemon(tmp_path, card_config(tmp_path, terminal, timeout_s=5.0), NO_SYNC)
        try:
            assert daemon.key("sign_on", staff="101", pin="472951")["ok"]
            page = browser.new_page()
            page.set_default_timeout(15_000)
            page.goto(daemon_kiosk(str(daemon.status()["screens"]), tmp_path))
            page.wait_for_selector("body[data-live]", state="attached")
            page.keyboard.type(MILK)
            page.keyboard.press("Enter")
            expect(page.locator("#basket tr[data-line]")).to_have_count(1)
            page.keyboard.press("F9")
            expect(page.get_by_text("Waiting for the card terminal")).to_be_visible()
            expect(page.locator("[data-state]")).to_have_attribute("data-state", "idle")
            page.close()
        finally:
            assert daemon.stop() == 0, daemon.output()
    assert [p["state"] for p in payments(tmp_path)] == ["pending", "paid"]
    [sale] = sales(tmp_path)
    [tender] = sale["tenders"]
    assert tender["type"] == "card" and tender["card"] == "************1111"
    assert tender["reference"] == "TID52500001-TR000001-R0001"
    assert terminal.requests == ["registration", "authorisation"]
    assert_pan_kept_nowhere(tmp_path, daemon)
