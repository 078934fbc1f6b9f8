"""A store day, as the people of the store see it: the cashier at the till and its screen,
the customer's receipt and the cash drawer, the technician's journal and reports, head
office's database. One store (tests/acceptance/acceptance_testkit.py) serves every
scenario of this module; each scenario rings up its own sales, and the day closes last.

Amounts are computed by hand from the store's catalog (`store_catalog`): nothing here asks
the pricing engine what it thinks a basket costs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from acceptance_testkit import (
    ALICE_CARD,
    APPLE_PLU,
    BANANA_PLU,
    BEAT,
    BREAD,
    CHOC_A,
    CHOC_B,
    DRAWER_KICK,
    HAM_PLU,
    KICK_PREFIX,
    MILK,
    OIL,
    Store,
    label,
    money,
    wait_until,
)
from playwright.sync_api import Browser, Page, expect
from screens_testkit import daemon_kiosk, open_page

PAYMENT_CARD = "5500000000000004"


# -- helpers: what the scenarios read ---------------------------------------------------------


def kicks(data: bytes) -> int:
    """How many drawer pulses (ESC p) are in `data`."""
    return data.count(KICK_PREFIX)


def committed(store: Store, answer: dict[str, Any], kind: str) -> Any:
    """The record of `kind` among the records the lane's answer says it committed."""
    seqs = [s for s in answer["records"] if s is not None]
    found = [r for r in store.records(min(seqs) - 1) if r.seq in seqs and r.kind == kind]
    assert len(found) == 1, f"{kind} among {seqs}: {found}"
    return found[0]


def wait_kicks(store: Store, since: int, count: int) -> bytes:
    """The printer's bytes after offset `since` once they hold `count` drawer pulses."""
    wait_until(
        f"{count} drawer kick(s) on the printer",
        lambda: kicks(store.printed()[since:]) >= count,
        10,
    )
    return store.printed()[since:]


def cash_sale(store: Store, *codes: str) -> Any:
    for code in codes:
        store.scan(code)
    answer = store.ok("tender", type="cash")
    return committed(store, answer, "sale")


def override_records(store: Store, after: int) -> list[Any]:
    return [r for r in store.records(after) if r.kind == "override"]


@pytest.fixture
def cashier(browser: Browser, till: Store) -> Iterator[Page]:
    """The cashier page `gateway run` serves, in Chromium, showing the open shift."""
    page = open_page(browser, daemon_kiosk(str(till.status()["screens"]), till.box_dir))
    expect(page.locator("[data-state]")).to_have_attribute("data-state", "idle")
    yield page
    page.close()


def authorise(page: Page, reason: str, *, accepted: bool = True) -> None:
    """Beat types his staff number and PIN in the supervisor dialog; when the lane then
    accepts, the dialog closes."""
    prompt = page.locator('[data-prompt="supervisor"]')
    expect(prompt).to_be_visible()
    prompt.locator('input[name="staff_id"]').fill(BEAT[0])
    prompt.locator('input[name="pin"]').fill(BEAT[1])
    prompt.locator('input[name="reason"]').fill(reason)
    prompt.locator('input[name="reason"]').press("Enter")
    if accepted:
        expect(prompt).to_have_count(0)


# -- sales and the drawer ---------------------------------------------------------------------


def test_a_cash_sale_prints_its_receipt_and_opens_the_drawer_once(till: Store) -> None:
    mark = len(till.printed())
    till.scan(MILK)
    till.scan(BREAD)
    assert till.lane()["total"] == "4.95"  # 1.75 + 3.20
    answer = till.ok("tender", type="cash", amount="10.00")
    sale = committed(till, answer, "sale")
    assert sale.body["totals"]["total"] == "4.95" and sale.body["change"] == "5.05"
    copy = till.wait_printed(sale.seq, "sale")
    for text in ("Whole milk 1 l", "Brown bread 500 g", "4.95", "5.05", sale.body["receipt_id"]):
        assert text in copy, copy
    paper = till.printed()[mark:]
    assert b"Whole milk 1 l" in paper and b"Brown bread 500 g" in paper
    paper = wait_kicks(till, mark, 1)
    assert kicks(paper) == 1 and DRAWER_KICK in paper
    # committed first (the answer carries the record), then the kick just before the slip:
    # the cashier gives change while it prints (docs/daemon.md)
    assert paper.index(DRAWER_KICK) < paper.index(b"Whole milk 1 l")


def test_a_card_sale_never_opens_the_drawer_and_a_no_sale_opens_it_once(till: Store) -> None:
    mark = len(till.printed())
    till.scan(OIL)
    answer = till.ok("tender", type="card", reference="AUTH0042", card=PAYMENT_CARD)
    sale = committed(till, answer, "sale")
    tender = sale.body["tenders"][0]
    assert (tender["type"], tender["amount"]) == ("card", "8.90")
    assert PAYMENT_CARD not in json.dumps(sale.body)  # only the masked number is kept
    copy = till.wait_printed(sale.seq, "sale")
    assert "Olive oil extra virgin 5 dl" in copy and "8.90" in copy
    # The no-sale is the barrier: the printer takes jobs in order, so once its kick is on
    # the paper, a kick for the card sale would be there too.
    refused = till.key("no_sale", reason="change for the float")
    assert refused["refused"] == "needs_override", refused  # a cashier needs a supervisor
    no_sale = till.ok(
        "no_sale", reason="change for the float", supervisor=BEAT[0], supervisor_pin=BEAT[1]
    )
    kinds = sorted(r.kind for r in till.records(min(no_sale["records"]) - 1))
    assert "no_sale" in kinds
    paper = wait_kicks(till, mark, 1)
    assert kicks(paper) == 1, "a card sale opened the drawer, or a no-sale opened it twice"


def test_a_split_sale_card_then_cash_opens_the_drawer_once(till: Store) -> None:
    mark = len(till.printed())
    till.scan(OIL)
    till.scan(BREAD)  # 8.90 + 3.20 = 12.10
    part = till.ok("tender", type="card", amount="5.00", reference="AUTH0043", card=PAYMENT_CARD)
    assert part["state"] == "tendering" and part["records"] == []
    answer = till.ok("tender", type="cash", amount="10.00")
    sale = committed(till, answer, "sale")
    assert [(t["type"], t["amount"]) for t in sale.body["tenders"]] == [
        ("card", "5.00"),
        ("cash", "7.10"),
    ]
    assert sale.body["change"] == "2.90"
    till.wait_printed(sale.seq, "sale")
    assert kicks(wait_kicks(till, mark, 1)) == 1


# -- members ----------------------------------------------------------------------------------


def test_a_member_sale_with_points_and_stored_value(till: Store) -> None:
    before = till.head()
    till.ok("member", card=ALICE_CARD)
    till.scan(OIL)
    till.scan(BREAD)  # 12.10
    part = till.ok("tender", type="points", amount="2.00")  # 200 points
    assert part["state"] == "tendering"
    answer = till.ok("tender", type="stored_value")  # the rest, 10.10, from the wallet
    sale = committed(till, answer, "sale")
    assert sale.body["member"]["id"] == "M0001"
    assert [(t["type"], t["amount"]) for t in sale.body["tenders"]] == [
        ("points", "2.00"),
        ("stored_value", "10.10"),
    ]
    changes = {r.body["change"]: r.body for r in till.records(before) if r.kind == "member_balance"}
    sale_id = sale.body["receipt_id"]
    assert {
        c: (b["wallet"], b["delta"], b["reason"], b["offline"]) for c, b in changes.items()
    } == {
        f"{sale_id}/t1/points": ("points", "-200", "redeem", False),
        f"{sale_id}/t2/cash": ("cash", "-10.10", "spend", False),
        f"{sale_id}/earn/points": ("points", "10", "earn", False),  # 12.10 - 2.00 paid in points
    }
    # The receipt is the sale's: its text copy is named for the sale record.
    wait_until(
        "the member sale's text copy",
        lambda: any(list(till.receipts.glob(f"{seq:07d}-*.txt")) for seq in answer["records"]),
        15,
    )
    copies = sorted(
        p.name for seq in answer["records"] for p in till.receipts.glob(f"{seq:07d}-*.txt")
    )
    assert copies == [f"{sale.seq:07d}-sale.txt"]
    assert not list(till.receipts.glob("*-member_balance.txt"))
    copy = till.wait_printed(sale.seq, "sale")
    assert sale_id in copy and "10.10" in copy
    # Head office has the sale and its balance changes, as the box hashed them.
    till.wait_office_has_all()
    box = [(r.seq, r.kind, r.hash) for r in till.records(before)]
    office = till.office(
        "SELECT seq, kind, hash FROM journal_record WHERE seq > ? ORDER BY seq", (before,)
    )
    assert [(int(s), k, h) for s, k, h in office] == box


def test_offline_the_member_limits_of_the_policy_apply_and_head_office_gets_it_all_once(
    till: Store,
) -> None:
    """docs/members.md, offline policy of the store's document: stored value at most 25.00
    a sale and 40.00 a day while offline, no points redemption offline."""
    before = till.head()
    till.broker.kill()
    try:
        wait_until("the box to notice the broker is gone", lambda: not till.connected(), 20)
        till.ok("member", card=ALICE_CARD)
        till.ok("scan", code=OIL, quantity="4")  # 35.60
        points = till.key("tender", type="points", amount="1.00")
        assert points.get("refused") == "offline_not_allowed", points
        too_much = till.key("tender", type="stored_value", amount="30.00")
        assert too_much.get("refused") == "offline_transaction_ceiling", too_much
        till.ok("tender", type="stored_value", amount="20.00")
        first = committed(till, till.ok("tender", type="cash", amount="20.00"), "sale")
        assert first.body["change"] == "4.40"  # 15.60 due in cash, rounded to 0.05
        # The day's offline ceiling: 20.00 taken, 20.00 left.
        till.ok("member", card=ALICE_CARD)
        till.ok("scan", code=OIL, quantity="3")  # 26.70
        over_day = till.key("tender", type="stored_value", amount="25.00")
        assert over_day.get("refused") == "offline_day_ceiling", over_day
        till.ok("tender", type="stored_value", amount="20.00")  # exactly the ceiling
        second = committed(
            till, till.ok("tender", type="card", reference="AUTH0044", card=PAYMENT_CARD), "sale"
        )
        plain = cash_sale(till, MILK)
        assert plain.body["totals"]["total"] == "1.75"
        spends = [
            r.body
            for r in till.records(before)
            if r.kind == "member_balance" and r.body["reason"] == "spend"
        ]
        assert [(b["delta"], b["offline"]) for b in spends] == [("-20.00", True), ("-20.00", True)]
        assert till.status()["journal"]["backlog"] >= 3
    finally:
        till.broker.start()
    wait_until("the box to reconnect", till.connected, 30)
    till.wait_office_has_all(45)
    seqs = till.office_seqs()
    assert seqs == list(range(1, till.head() + 1))  # every record, each once
    assert {second.seq, first.seq, plain.seq} <= set(seqs)


# -- promotions and refunds -------------------------------------------------------------------


def test_refunding_one_unit_of_a_three_for_two_pays_back_what_it_cost_in_its_set(
    till: Store, cashier: Page
) -> None:
    """4 truffle bars (4.00) and 2 drops (2.00), "3 for 2": sets form from the dearest unit
    down. Set 1 = three bars, 4.00 off, one bar free. Set 2 = bar + drop + drop (8.00), the
    cheapest (2.00) free, spread over the set by price: 1.00 off the bar, 0.50 off each drop.
    So the bars' line is 16.00 - 5.00 = 11.00, the drops' 4.00 - 1.00 = 3.00 (1.50 each),
    total 14.00. (Pooling both sets' 6.00 over all six units would give 11.20 and 2.80.)"""
    till.ok("scan", code=CHOC_A, quantity="4")
    till.ok("scan", code=CHOC_B, quantity="2")
    assert till.lane()["total"] == "14.00"
    sale = committed(till, till.ok("tender", type="cash", amount="20.00"), "sale")
    lines = [(line["sku"], money(line["quantity"]), line["total"]) for line in sale.body["lines"]]
    assert lines == [("CHOC-TRUFFLE", Decimal(4), "11.00"), ("CHOC-DROPS", Decimal(2), "3.00")]
    till.wait_printed(sale.seq, "sale")
    mark = len(till.printed())
    before = till.head()

    cashier.keyboard.type(sale.body["receipt_id"])
    cashier.keyboard.press("Shift+F10")  # refund chosen lines
    dialog = cashier.locator('[data-prompt="refund_lines"]')
    rows = dialog.locator(".receipt-lines tr[data-line]")
    expect(rows).to_have_count(2)
    expect(rows.nth(1).locator(".paid")).to_have_text("CHF 3.00")
    dialog.locator('input[name="line_2"]').fill("1")
    dialog.locator('input[name="reason"]').fill("melted")
    dialog.locator('input[name="reason"]').press("Enter")  # Enter walks on to pay back
    expect(dialog.locator('input[name="tender"]')).to_be_focused()
    dialog.locator('input[name="tender"]').press("Enter")  # cash: the last field, OK
    authorise(cashier, "melted")
    expect(cashier.locator(".message.notice")).to_contain_text("Refunded: CHF 1.50")
    refund = [r for r in till.records(before) if r.kind == "refund"]
    assert len(refund) == 1
    body = refund[0].body
    assert [(line["original_index"], money(line["quantity"])) for line in body["lines"]] == [
        (1, Decimal(1))
    ]
    assert body["total"] == "1.50" and body["tenders"][-1]["type"] == "cash"
    copy = till.wait_printed(refund[0].seq, "refund")
    assert "Chocolate drops" in copy and "1.50" in copy
    assert kicks(wait_kicks(till, mark, 1)) == 1  # cash paid out: the drawer opens once


# -- weighed items and labels -----------------------------------------------------------------

# 0.456 kg of bananas at 2.90/kg = 1.3224 -> 1.32, whatever unit the scale weighs in.
SAME_WEIGHT = {"scale-kg": "0.456", "scale-g": "456", "scale-lb": "1.00531"}
BANANAS_0456 = "1.32"


def test_weighing_on_kg_g_and_lb_scales_at_the_control_socket_charges_the_same(till: Store) -> None:
    for scale, weight in SAME_WEIGHT.items():
        till.put_on_scale(scale, weight)
        answer = till.key("weigh", code=BANANA_PLU)
        assert answer.get("ok"), f"{scale} {weight}: {answer}"
    till.clear_scales()
    sale = cash_sale(till)
    amounts = [(line["sku"], line["total"]) for line in sale.body["lines"]]
    assert amounts == [("BANANA", BANANAS_0456)] * len(SAME_WEIGHT)
    weights = [money(line["weight"]).quantize(Decimal("0.001")) for line in sale.body["lines"]]
    assert weights == [Decimal("0.456")] * len(SAME_WEIGHT)


def test_weighing_on_kg_g_and_lb_scales_with_f3_on_the_cashier_page_charges_the_same(
    till: Store, cashier: Page
) -> None:
    basket = cashier.locator("#basket tr[data-line]")
    for count, (scale, weight) in enumerate(SAME_WEIGHT.items(), start=1):
        till.put_on_scale(scale, weight)
        expect(cashier.locator("#weight")).to_have_class("weight stable")
        cashier.keyboard.type(BANANA_PLU)
        cashier.keyboard.press("F3")
        expect(basket).to_have_count(count)
        expect(basket.nth(count - 1).locator(".amount")).to_have_text(f"CHF {BANANAS_0456}")
    till.clear_scales()
    sale = cash_sale(till)
    assert [line["total"] for line in sale.body["lines"]] == [BANANAS_0456] * len(SAME_WEIGHT)


def test_label_items_sell_at_their_label_and_a_quantity_on_them_is_refused(
    till: Store, cashier: Page
) -> None:
    ham = label("22", HAM_PLU, "630")  # deli price label: cooked ham, 6.30
    apples = label("23", APPLE_PLU, "456")  # produce weight label: apples, 0.456 kg
    till.scan(ham)
    till.scan(apples)  # 3.80/kg x 0.456 = 1.7328 -> 1.73
    assert till.lane()["total"] == "8.03"
    for code in (ham, apples):
        answer = till.key("scan", code=code, quantity="2")
        assert answer.get("refused") == "quantity_on_weighed", answer
        assert till.lane()["total"] == "8.03"  # nothing charged
    basket = cashier.locator("#basket tr[data-line]")
    expect(basket).to_have_count(2)
    cashier.keyboard.type(f"2*{ham}")
    cashier.keyboard.press("Enter")
    expect(cashier.locator(".message.refusal")).to_be_visible()
    expect(basket).to_have_count(2)
    expect(cashier.locator("#total")).to_have_text("CHF 8.03")
    sale = cash_sale(till)
    assert [(line["sku"], line["total"]) for line in sale.body["lines"]] == [
        ("DELI-HAM", "6.30"),
        ("APPLE-GALA", "1.73"),
    ]


# -- price override ---------------------------------------------------------------------------


def test_a_price_override_is_refused_without_a_trace_and_accepted_with_one_record(
    till: Store, cashier: Page
) -> None:
    before = till.head()
    till.scan(MILK)
    basket = cashier.locator("#basket tr[data-line]")
    expect(basket).to_have_count(1)
    basket.nth(0).locator(".name").click()  # select the line
    cashier.keyboard.type("1.234")  # more decimals than CHF has
    cashier.keyboard.press("Shift+F4")
    refusal = cashier.locator(".message.refusal")
    expect(refusal).to_be_visible()
    if "supervisor" in refusal.inner_text():  # the lane may ask for one before the price
        authorise(cashier, "label says 1.234", accepted=False)
        expect(refusal).not_to_contain_text("needs a supervisor")
    expect(refusal).to_contain_text("1.234")  # the lane's sentence names the price
    if cashier.locator('[data-prompt="supervisor"]').count():
        cashier.keyboard.press("Escape")
    expect(cashier.locator("#total")).to_have_text("CHF 1.75")
    assert override_records(till, before) == [], "a refused override left a record"

    basket.nth(0).locator(".name").click()
    cashier.keyboard.type("1.20")
    cashier.keyboard.press("Shift+F4")
    authorise(cashier, "damaged pack")
    expect(cashier.locator("#total")).to_have_text("CHF 1.20")
    overrides = override_records(till, before)
    assert len(overrides) == 1
    assert overrides[0].body["action"] == "price_override"
    assert overrides[0].body["supervisor"]["id"] == BEAT[0]
    sale = cash_sale(till)
    assert sale.body["totals"]["total"] == "1.20"
    assert sale.body["lines"][0]["override"] == overrides[0].id
    assert override_records(till, before) == overrides  # still exactly one


# -- the day's close: X and Z against head office ---------------------------------------------


def _office_day(store: Store, day: str) -> dict[str, Decimal]:
    view = store.cloud("report", "sales", "--by", "day", "--from", day, "--to", day)
    rows = [row for row in view["rows"] if str(row.get("day")) == day]
    assert len(rows) == 1, view
    return {key: money(rows[0][key]) for key in ("tickets", "sales", "refunds", "net")}


def _box_figures(report: dict[str, Any]) -> dict[str, Decimal]:
    figures = report.get("figures", report)
    return {
        "tickets": money(figures["sales"]),
        "sales": money(figures["gross"]),
        "refunds": money(figures["refunds_amount"]),
        "net": money(figures["net"]),
    }


def test_x_and_z_of_the_day_match_head_office(till: Store) -> None:
    """Last of the day: the shift closes, X and then Z for every business day the journal
    holds (the daemon dates sales with its wall clock; no date is assumed here). It rings
    up a sale of its own first: xdist may run another module's tests between this
    module's, and pytest then builds this module's store again, empty."""
    store = till
    cash_sale(store, MILK, BREAD)
    store.ok("close_shift", counted="500.00")
    days = sorted({r.body["business_day"] for r in store.records() if r.kind in ("sale", "refund")})
    assert days, "no sale in the day"
    store.wait_office_has_all()
    for day in days:
        x = store.gateway("report", "x", "--date", day, "--json")
        assert x.returncode == 0, x.stderr
        box_x = _box_figures(json.loads(x.stdout))
        assert box_x["tickets"] > 0
        assert box_x == _office_day(store, day), day
        z = store.gateway(
            "report", "z", "--date", day, "--staff", BEAT[0], "--pin-stdin", "--json", stdin=BEAT[1]
        )
        assert z.returncode == 0, z.stderr
        assert _box_figures(json.loads(z.stdout)) == box_x
    store.wait_office_has_all()
    closes = [r for r in store.records() if r.kind == "z_report"]
    assert len(closes) == len(days)
    office_closes = store.office("SELECT seq FROM journal_record WHERE kind = 'z_report'")
    assert sorted(int(s) for (s,) in office_closes) == [r.seq for r in closes]
    for day in days:
        assert _office_day(store, day) == _box_figures(
            json.loads(store.gateway("report", "x", "--date", day, "--json").stdout)
        )
