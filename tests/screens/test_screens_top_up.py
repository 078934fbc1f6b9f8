"""A member's top-up (充值) at the till through `gateway run` and the cashier page
(issue 20, item 2): Ctrl+F8, the card, the amount, Enter; the slip prints with the bonus
and the balance; the X shows it in the drawer; Ctrl+F9 refunds it once a supervisor
authorises it, and the control socket says the same."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

from playwright.sync_api import Browser, expect
from screens_testkit import daemon_kiosk, open_page

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "daemon"))
from daemon_testkit import NO_SYNC, Daemon, box_config
from ops_testkit import ALICE_UID, load_members

from gateway.harness.screens_demo import SUPERVISOR


def bodies(database: Path, kind: str) -> list[dict[str, object]]:
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT body FROM journal_record WHERE kind = ? ORDER BY seq", (kind,))
        return [json.loads(body) for (body,) in rows]
    finally:
        conn.close()


def test_a_top_up_and_its_refund_at_the_cashier_page(tmp_path: Path, browser: Browser) -> None:
    load_members(tmp_path / "storegate.db")
    daemon = Daemon(tmp_path, box_config(tmp_path), NO_SYNC)
    try:
        assert daemon.key("sign_on", staff="101", pin="472951")["ok"]
        page = open_page(browser, daemon_kiosk(str(daemon.status()["screens"]), tmp_path))
        try:
            page.keyboard.type("100")
            page.keyboard.press("Control+F8")
            dialog = page.locator('[data-prompt="top_up"]')
            expect(dialog.locator("input[name=amount]")).to_have_value("100")
            expect(dialog.locator("input[name=card]")).to_be_focused()
            page.keyboard.type(ALICE_UID)  # a keyboard-wedge card reader types the UID
            dialog.locator("input[name=reference]").press("Enter")
            expect(page.locator("#message")).to_contain_text("balance 310.00")
            expect(page.locator("[data-prompt]")).to_have_count(0)
            (top_up,) = bodies(tmp_path / "storegate.db", "top_up")
            assert (top_up["amount"], top_up["bonus"], top_up["tender"]) == (
                "100.00",
                "10.00",
                "cash",
            )

            page.keyboard.type(str(top_up["top_up_id"]))
            page.keyboard.press("Control+F9")
            refund = page.locator('[data-prompt="refund_top_up"]')
            expect(refund.locator("input[name=top_up]")).to_have_value(str(top_up["top_up_id"]))
            refund.locator("input[name=card]").fill(ALICE_UID)
            refund.locator("input[name=reason]").fill("paid twice")
            refund.locator("input[name=reason]").press("Enter")
            prompt = page.locator('[data-prompt="supervisor"]')
            expect(prompt).to_be_visible()  # a cashier may not: a supervisor authorises
            page.keyboard.type(SUPERVISOR[0])
            page.keyboard.press("Tab")
            page.keyboard.type(SUPERVISOR[1])
            page.keyboard.press("Enter")
            expect(page.locator("#message")).to_contain_text("refunded: pay back 100.00")
        finally:
            page.close()
        (refunded,) = bodies(tmp_path / "storegate.db", "top_up_refund")
        assert (
            refunded["taken"] == "110.00"
            and refunded["override"]["supervisor"]["id"] == SUPERVISOR[0]
        )  # type: ignore[index]
        again = daemon.key(
            "refund_top_up", top_up=str(top_up["top_up_id"]), card=ALICE_UID, reason="again"
        )
        assert again.get("refused") == "already_refunded", again
        receipts = sorted((tmp_path / "receipts").glob("*top_up*.txt"))
        assert len(receipts) == 2, receipts
        slip = receipts[0].read_text()
        assert "TOP-UP" in slip and "Bonus" in slip and "310.00" in slip
    finally:
        assert daemon.stop() == 0, daemon.output()[-3000:]
