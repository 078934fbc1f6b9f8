"""整单折扣 on the cashier screen as `gateway run` serves it, in Chromium (issue 21 item 1):
a cashier working in Chinese presses Ctrl+F2, types 10% and the reason, the supervisor
prompt follows, the total drops, cash pays; the journalled sale names who, why and the
override, and `gateway receipt` prints 整单折扣 10%."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from screens_testkit import MILK, daemon_kiosk

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "daemon"))
from daemon_testkit import GATEWAY, NO_SYNC, Daemon, box_config

from gateway.database import open_database
from gateway.harness.screens_demo import SUPERVISOR
from gateway.journal import Journal, JournalRecord
from gateway.lane import events as ev
from gateway.screens.keys import EntryError, basket_discount

RICE = "7612345001166"  # 3.60


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    started = Daemon(tmp_path, box_config(tmp_path), NO_SYNC)
    yield started
    code = started.stop()
    output = started.output()
    assert code == 0, output
    assert "Traceback" not in output and "a request from the screens failed" not in output


def records(data: Path, kind: str) -> list[JournalRecord]:
    db = open_database(data / "storegate.db", readonly=True)
    try:
        return [r for r in Journal(db).read(0, 1000) if r.kind == kind]
    finally:
        db.conn.close()


def test_ctrl_f2_gives_a_basket_discount_with_a_supervisor(
    tmp_path: Path, browser: Browser, daemon: Daemon
) -> None:
    assert daemon.key("sign_on", staff="101", pin="472951", language="zh")["ok"]
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.set_default_timeout(10_000)
    page.goto(daemon_kiosk(str(daemon.status()["screens"]), tmp_path))
    page.wait_for_selector("body[data-live]", state="attached")
    try:
        page.keyboard.type(f"3*{MILK}")
        page.keyboard.press("Enter")
        page.keyboard.type(RICE)
        page.keyboard.press("Enter")
        expect(page.locator("#total")).to_have_text("CHF 8.85")
        expect(page.locator('.keys [data-key="Ctrl+F2"]')).to_contain_text("整单折扣")
        page.keyboard.type("10%")
        page.keyboard.press("Control+F2")
        dialog = page.locator('[data-prompt="basket_discount"]')
        expect(dialog).to_be_visible()
        expect(dialog.locator('input[name="discount"]')).to_have_value("10%")
        dialog.locator('input[name="reason"]').fill("包装破损")
        dialog.locator('input[name="reason"]').press("Enter")
        supervisor = page.locator('[data-prompt="supervisor"]')
        expect(supervisor).to_contain_text("主管")
        expect(supervisor.locator('input[name="reason"]')).to_have_value("包装破损")
        supervisor.locator('input[name="staff_id"]').fill(SUPERVISOR[0])
        supervisor.locator('input[name="pin"]').fill(SUPERVISOR[1])
        supervisor.locator('input[name="pin"]').press("Enter")
        expect(supervisor).to_have_count(0)
        expect(page.locator("#total")).to_have_text("CHF 7.96")  # 10% of 8.85 = 0.885 -> 0.89
        expect(page.locator("#basket")).to_contain_text("整单折扣 10%")
        # above the largest percent: refused inside the dialog, which stays open
        page.keyboard.type("30%")
        page.keyboard.press("Control+F2")
        dialog.locator('input[name="reason"]').fill("试试")
        dialog.locator('input[name="reason"]').press("Enter")
        expect(dialog).to_contain_text("整单折扣超过本店允许的最大折扣")
        page.keyboard.press("Escape")
        expect(dialog).to_have_count(0)
        page.keyboard.press("F8")  # cash, exact
        expect(page.locator("#last-sale")).to_be_visible()
    finally:
        page.close()
    (sale,) = records(tmp_path, "sale")
    discount = sale.body["basket_discount"]
    assert (discount["percent"], discount["discount"], discount["reason"]) == (
        "10",
        "0.89",
        "包装破损",
    )
    assert discount["staff"]["id"] == "101"
    assert discount["override"]["supervisor"]["id"] == SUPERVISOR[0]
    assert sale.body["totals"]["total"] == "7.96"
    (override,) = records(tmp_path, "override")
    assert override.body["action"] == "basket_discount" and override.body["reason"] == "包装破损"
    printed = subprocess.run(
        [str(GATEWAY), "receipt", str(sale.seq), "--config", str(tmp_path / "gateway.toml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert printed.returncode == 0, printed.stderr
    (row,) = [line for line in printed.stdout.splitlines() if "整单折扣" in line]
    assert "整单折扣 10%" in row and row.endswith("-0.89"), printed.stdout


def test_what_the_dialog_reads_as_a_discount() -> None:
    at = datetime(2026, 11, 24, 9, 0)

    def read(text: str) -> ev.Event:
        return basket_discount({"discount": text, "reason": "why"}, at)

    assert read("10%") == ev.BasketDiscount(at, "why", percent=Decimal(10))
    assert read(" 12.5 % ") == ev.BasketDiscount(at, "why", percent=Decimal("12.5"))
    assert read("5,00") == ev.BasketDiscount(at, "why", amount=Decimal("5.00"))
    assert read("0") == ev.RemoveBasketDiscount(at) == read("0%")
    for typed, code in (("", "needs_discount"), ("ten", "bad_discount"), ("%", "bad_discount")):
        with pytest.raises(EntryError) as refused:
            read(typed)
        assert refused.value.code == code
