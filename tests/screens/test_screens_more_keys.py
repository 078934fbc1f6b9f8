"""The rarer lane actions from the keyboard (Shift + function keys) and by touch, end to end:
coupon, price override, points and stored-value tenders, refunding chosen lines, a return
without receipt and a no-sale, each checked in the lane's state and journal."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from screens_testkit import MILK, ROOT, WINE, Till, shot, sign_on

from gateway.harness.screens_demo import (
    CASHIER,
    MEMBER_CARD,
    SUPERVISOR,
    StepClock,
    demo_lane,
    member_card,
)
from gateway.i18n import notice_text, refusal_text
from gateway.journal.records import JournalRecord
from gateway.lane import events as ev
from gateway.screens.hub import ScreenHub
from gateway.screens.keys import EntryError, refund_tender
from gateway.screens.requests import Fed, LocalLane
from gateway.settings import load_settings

OIL = "7612345001197"  # Olive oil 5 dl, 8.90, no promotion of its own


def authorise(page: Page, reason: str, shot_name: str | None = None) -> None:
    """The supervisor dialog the hub opens when the lane says needs_override: no mouse."""
    prompt = page.locator('[data-prompt="supervisor"]')
    expect(prompt).to_be_visible()
    expect(prompt).to_contain_text("needs a supervisor")
    if shot_name:
        shot(page, shot_name)
    prompt.locator('input[name="staff_id"]').fill(SUPERVISOR[0])
    prompt.locator('input[name="pin"]').fill(SUPERVISOR[1])
    prompt.locator('input[name="reason"]').fill(reason)
    prompt.locator('input[name="reason"]').press("Enter")
    expect(prompt).to_have_count(0)


def journal(till: Till) -> list[JournalRecord]:
    return list(till.lane.book.journal.read(0, 1000))


def test_coupon_price_override_and_member_tenders(till: Till, cashier: Page) -> None:
    sign_on(cashier)
    for _ in range(4):
        till.devices.scanner.scan(OIL)
    expect(cashier.locator("#basket tr[data-line]")).to_have_count(4)
    before = till.lane.sale.priced.total
    cashier.keyboard.type("welcome5")
    cashier.keyboard.press("Shift+F2")  # coupon
    expect(cashier.locator("#total")).not_to_have_text(f"CHF {before}")
    sale = till.lane.sale
    assert sale.coupons == ("WELCOME5",) and sale.priced.total == before - Decimal("5.00")
    assert "coupon-welcome5" in [p["id"] for p in sale.priced.promotions]
    expect(cashier.locator("#total")).to_have_text(f"CHF {sale.priced.total}")

    cashier.locator('tr[data-line="1"] .name').click()  # touch selects the line
    cashier.keyboard.type("7.90")
    cashier.keyboard.press("Shift+F4")  # price override: a cashier needs a supervisor
    authorise(cashier, "damaged label")
    sale = till.lane.sale
    assert sale.lines[0].price_override == Decimal("7.90")
    assert sale.priced.lines[0].unit_price == Decimal("7.90")
    override = [r for r in journal(till) if r.kind == "override"][-1]
    assert override.body["action"] == "price_override"
    assert override.body["supervisor"]["id"] == SUPERVISOR[0]
    expect(cashier.locator("#total")).to_have_text(f"CHF {sale.priced.total}")

    till.hub.device(member_card(MEMBER_CARD))
    expect(cashier.locator("#member")).to_contain_text("Alice")
    total = till.lane.sale.priced.total
    cashier.keyboard.type("2")
    cashier.keyboard.press("Shift+F8")  # 2.00 paid with points
    expect(cashier.locator("#due")).to_have_text(f"CHF {total - 2}")
    assert [t.type for t in till.lane.sale.tenders] == ["points"]
    cashier.locator('.keys [data-action="stored_value"]').click()  # touch: the rest
    expect(cashier.locator("#last-sale")).to_be_visible()
    assert till.lane.sale is None
    sale_record = [r for r in journal(till) if r.kind == "sale"][-1]
    tenders = {t["type"]: Decimal(str(t["amount"])) for t in sale_record.body["tenders"]}
    assert tenders == {"points": Decimal(2), "stored_value": total - 2}
    assert sale_record.body["member"]


def test_refund_lines_return_without_receipt_and_no_sale(till: Till, cashier: Page) -> None:
    sign_on(cashier)
    till.devices.scanner.scan(MILK)
    till.devices.scanner.scan(WINE)
    expect(cashier.locator("#total")).to_have_text("CHF 14.25")
    cashier.keyboard.press("F8")
    expect(cashier.locator("#last-sale")).to_be_visible()
    assert till.hub.desk.last_sale is not None
    receipt = till.hub.desk.last_sale.receipt_id

    cashier.keyboard.type(receipt)
    cashier.keyboard.press("Shift+F10")  # refund chosen lines
    dialog = cashier.locator('[data-prompt="refund_lines"]')
    expect(dialog.locator('input[name="receipt_id"]')).to_have_value(receipt)
    expect(dialog.locator(".receipt-lines tr[data-line]")).to_have_count(2)
    dialog.locator('input[name="line_2"]').fill("1")
    dialog.locator('input[name="reason"]').fill("corked")
    expect(dialog.locator('input[name="tender"]')).to_have_value("cash")
    dialog.locator('input[name="tender"]').fill("card")  # back to the card it was paid by
    dialog.locator('input[name="reference"]').fill("T-991")
    shot(cashier, "cashier-refund-lines-card")
    dialog.locator('input[name="reference"]').press("Enter")
    authorise(cashier, "corked")
    expect(cashier.locator(".message.notice")).to_have_text(
        "Refunded: CHF 12.50. Give back card 12.50."
    )
    refund = [r for r in journal(till) if r.kind == "refund"][-1]
    assert refund.body["original_receipt_id"] == receipt
    assert [line["original_index"] for line in refund.body["lines"]] == [1]
    assert till.lane.book.refunded(receipt) == {1: Decimal(1)}
    assert [(t["type"], t["reference"]) for t in refund.body["tenders"]] == [("card", "T-991")]

    cashier.keyboard.type(MILK)
    cashier.keyboard.press("Shift+F11")  # return without receipt
    dialog = cashier.locator('[data-prompt="return"]')
    expect(dialog.locator('input[name="code"]')).to_have_value(MILK)
    expect(dialog.locator('input[name="quantity"]')).to_have_value("1")
    dialog.locator('input[name="reason"]').fill("gift, no receipt")
    shot(cashier, "cashier-return")
    dialog.locator('input[name="reason"]').press("Enter")
    authorise(cashier, "known customer")
    expect(cashier.locator(".message.notice")).to_have_text(
        "Refunded: CHF 1.75. Give back cash 1.75."
    )
    back = [r for r in journal(till) if r.kind == "refund"][-1]
    assert back.seq > refund.seq and back.body.get("original_receipt_id") is None
    overrides = [r.body["action"] for r in journal(till) if r.kind == "override"]
    assert overrides == ["refund", "return_without_receipt"]

    cashier.keyboard.press("Shift+F12")  # no-sale: open the drawer
    dialog = cashier.locator('[data-prompt="no_sale"]')
    expect(dialog).to_be_visible()
    cashier.keyboard.type("change for the float")
    shot(cashier, "cashier-no-sale")
    cashier.keyboard.press("Enter")
    authorise(cashier, "change for the float", "cashier-no-sale-supervisor")
    expect(cashier.locator(".message.notice")).to_have_text("Drawer open.")
    no_sale = [r for r in journal(till) if r.kind == "no_sale"]
    assert len(no_sale) == 1 and no_sale[0].body["reason"] == "change for the float"
    assert no_sale[0].body["override"]


@pytest.mark.parametrize("language", ["zh"])
def test_chinese_labels_and_refusals_of_the_new_keys(till: Till, cashier: Page) -> None:
    expect(cashier.locator('.keys [data-action="no_sale"]')).to_contain_text("开钱箱")
    expect(cashier.locator('.keys [data-action="points"]')).to_contain_text("积分支付")
    sign_on(cashier)
    till.devices.scanner.scan(MILK)
    expect(cashier.locator("#total")).to_have_text("CHF 1.75")
    cashier.keyboard.type("NOPE")
    cashier.keyboard.press("Shift+F2")
    expect(cashier.locator(".message.refusal")).to_have_text("此优惠券在本店无效。")
    cashier.keyboard.press("Shift+F4")  # no price typed
    expect(cashier.locator(".message.refusal")).to_have_text("请输入新单价，再按 Shift+F4。")
    cashier.keyboard.press("Shift+F8")  # points without a member card
    expect(cashier.locator(".message.refusal")).to_have_text("请先刷会员卡。")
    assert till.lane.sale.coupons == () and till.lane.sale.tenders == ()


def test_refund_tender_words() -> None:
    assert [refund_tender(t) for t in ("", "Card", "储值", "stored value")] == [
        "cash",
        "card",
        "stored_value",
        "stored_value",
    ]
    with pytest.raises(EntryError):
        refund_tender("cheque")
    assert notice_text("zh", "Give back card 12.50.") == "退回银行卡 12.50。"
    assert notice_text("zh", "Give back cash 1.75.") == "退还现金 1.75。"


def test_points_given_back_read_in_chinese_and_never_as_a_member_greeting() -> None:
    """The refund's points notices (gateway/lane/refunds.py, members.py) have their own
    shapes: the generic "Member ..." greeting must not swallow them."""
    assert (
        notice_text("zh", "500 points go back to member M0001 (balance 1200), nothing in money.")
        == "500 积分退回会员 M0001（余额 1200），不退现金。"
    )
    assert notice_text("zh", "111 points go back to member M0001 (balance 1311).") == (
        "111 积分退回会员 M0001（余额 1311）。"
    )
    assert notice_text(
        "zh", "Member M0002 is lost: the 500 points go back to the account, not to the card."
    ) == ("会员 M0002 已挂失：500 积分退回账户，不退回卡。")
    assert notice_text("zh", "Member M0001 Anna.") == "会员：M0001 Anna。"
    assert refusal_text("zh", "points_back", "x").startswith("积分只能退回积分")
    assert refusal_text("zh", "no_member_to_credit", "x").startswith("无小票退货")


def test_a_member_tender_the_room_wants_approved_gets_the_supervisor_prompt(tmp_path: Path) -> None:
    """The members room answers an offline member tender with `needs_supervisor` (its own
    code, not needs_override): the hub opens the supervisor prompt and sends the same
    tender again with the supervisor's authorization. The room's offline state is stood in
    for by a feed that refuses the first, unauthorised try as the room would."""
    settings = load_settings(ROOT / "config" / "gateway.example.toml")
    lane = demo_lane(tmp_path / "storegate.db", settings)
    fed: list[ev.Event] = []

    class OfflineRoom(LocalLane):
        def feed(self, event: ev.Event) -> Fed:
            fed.append(event)
            member_tender = isinstance(event, ev.Tender) and event.type != "cash"
            if member_tender and getattr(event, "authorization", None) is None:
                return Fed(
                    ev.Refusal(
                        "offline_too_long",
                        "Offline for more than 60 minutes "
                        "- a supervisor must approve stored value.",
                        True,
                    ),
                    self.snapshot(),
                )
            return super().feed(event)

    hub = ScreenHub(OfflineRoom(lane), settings.screens, clock=StepClock(datetime(2026, 11, 24, 9)))
    hub.submit("sign_on", {"staff_id": CASHIER[0], "pin": CASHIER[1]})
    hub.press("enter", MILK)
    hub.device(member_card(MEMBER_CARD))
    hub.press("stored_value", "")
    assert hub.desk.prompt is not None and hub.desk.prompt.kind == "supervisor"
    assert lane.sale is not None and lane.sale.tenders == ()
    hub.submit(
        "supervisor", {"staff_id": SUPERVISOR[0], "pin": SUPERVISOR[1], "reason": "link down"}
    )
    retry = fed[-1]
    assert isinstance(retry, ev.Tender) and retry.type == "stored_value"
    assert retry.authorization is not None
    assert retry.authorization.credential.staff_id == SUPERVISOR[0]
    assert lane.sale is None and hub.desk.prompt is None  # paid: the sale is complete


def test_f1_latches_shift_for_keypads_without_it(till: Till, cashier: Page) -> None:
    """F1 then F12 is Shift+F12 (no-sale), and the latch lets go after one key: F1, Esc,
    F12 is the plain F12 again (close shift)."""
    sign_on(cashier)
    cashier.keyboard.press("F1")
    expect(cashier.locator("body")).to_have_class("cashier shift-latched")
    cashier.keyboard.press("F12")
    expect(cashier.locator('[data-prompt="no_sale"]')).to_be_visible()
    expect(cashier.locator("body")).not_to_have_class("cashier shift-latched")
    cashier.keyboard.press("Escape")
    # each step waits for the page to show it, as a cashier would see it: pressing on
    # before the dialog has closed raced the server's re-render on a loaded machine
    expect(cashier.locator('[data-prompt="no_sale"]')).to_have_count(0)
    cashier.keyboard.press("F1")
    expect(cashier.locator("body")).to_have_class("cashier shift-latched")
    cashier.keyboard.press("Escape")
    expect(cashier.locator("body")).not_to_have_class("cashier shift-latched")
    cashier.keyboard.press("F12")
    expect(cashier.locator('[data-prompt="close_shift"]')).to_be_visible()
