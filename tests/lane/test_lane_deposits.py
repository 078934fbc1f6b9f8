"""Deposits (Pfand / 押金) at the lane: a bottle's deposit on its line, empties returned as
a negative line, a basket of only empties paid out in cash (`empties_payout`), and
a refund of a bottle paying its deposit back (docs/lane.md "Deposits and empties")."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from lane_testkit import CASHIER, CATALOG, SUPERVISOR, Clock, make_lane

from gateway.catalog.catalog import build_catalog
from gateway.catalog.document import parse_document
from gateway.lane import events as ev
from gateway.lane.events import Outcome, Refusal
from gateway.lane.machine import Lane
from gateway.receipts.model import from_record
from gateway.receipts.text import render_receipt
from gateway.settings import GatewaySettings

D = Decimal
BOSS = ev.Authorization(SUPERVISOR, "empties payout")
COLA = "7612345001296"  # Cola 1.5 l, 2.10, food 2.6% inclusive
PFAND = "7612345009995"  # the deposit, 0.50: scanned alone, one empty bottle back
DEPOSIT = {
    "sku": "PFAND-050",
    "name": "Pfand",
    "names": {"zh": "押金"},
    "barcodes": [PFAND],
    "price": "0.50",
    "tax_class": "food",
    "category": "drinks",
    "flags": ["deposit"],
}


def ok(lane: Lane, event: ev.Event) -> Outcome:
    answer = lane.handle(event)
    assert isinstance(answer, Outcome), answer
    return answer


def deposit_document() -> dict:  # type: ignore[type-arg]
    doc = json.loads(CATALOG.read_text())
    doc["products"].append(DEPOSIT)
    for product in doc["products"]:
        if product["sku"] == "COLA-15":
            product["deposit"] = {"sku": "PFAND-050"}
    return doc


def deposit_lane(db_path: Path, settings: GatewaySettings) -> Lane:
    return make_lane(db_path, build_catalog(parse_document(deposit_document())), settings)


def test_a_sale_with_deposits_and_empties_then_a_partial_refund(
    db_path: Path, settings: GatewaySettings
) -> None:
    lane, clock = deposit_lane(db_path, settings), Clock()
    ok(lane, ev.OpenShift(clock(), CASHIER))
    ok(lane, ev.Scan(clock(), COLA, D(3)))
    assert lane.sale is not None and lane.sale.priced is not None
    # 2.10 x 3 = 6.30, deposit 0.50 x 3 = 1.50: 7.80
    assert lane.sale.priced.total == D("7.80")
    ok(lane, ev.Scan(clock(), PFAND, D(2)))  # two empties back: -1.00
    assert lane.sale.priced.total == D("6.80")
    out = ok(lane, ev.Tender(clock(), "cash", D("10.00")))
    body = next(r.body for r in out.records if r.kind == "sale")
    cola, empties = body["lines"]
    assert (cola["deposit"], cola["deposit_sku"], cola["total"]) == ("1.50", "PFAND-050", "7.80")
    assert (empties["total"], empties["unit_price"]) == ("-1.00", "-0.50")
    assert "deposit" not in empties  # lines without one keep the body as it was
    assert body["change"] == "3.20"
    # one cola back: 7.80 / 3 = 2.60, its 0.50 deposit with it
    back = ok(
        lane,
        ev.Refund(clock(), body["receipt_id"], "one back", {0: D(1)}, authorization=BOSS),
    )
    refund = next(r.body for r in back.records if r.kind == "refund")
    assert refund["lines"][0]["amount"] == "2.60"


def test_only_empties_pays_out_cash_with_a_refund_s_permission(
    db_path: Path, settings: GatewaySettings
) -> None:
    lane, clock = deposit_lane(db_path, settings), Clock()
    ok(lane, ev.OpenShift(clock(), CASHIER))
    ok(lane, ev.Scan(clock(), PFAND, D(3)))
    assert lane.sale is not None and lane.sale.priced is not None
    assert lane.sale.priced.total == D("-1.50")
    # a cashier may not refund: the payout needs a supervisor, and a card cannot take it
    refused = lane.handle(ev.Tender(clock(), "cash"))
    assert not isinstance(refused, Outcome) and refused.code == "needs_override"
    card = lane.handle(ev.Tender(clock(), "card", reference="T1"))
    assert not isinstance(card, Outcome) and card.code == "empties_payout_cash"
    out = ok(lane, ev.Tender(clock(), "cash", authorization=BOSS))
    kinds = [r.kind for r in out.records]
    assert "override" in kinds and "sale" in kinds  # the approval journalled with the sale
    body = next(r.body for r in out.records if r.kind == "sale")
    assert body["tenders"][0]["type"] == "cash"
    assert body["tenders"][0]["amount"] == body["totals"]["due"] == "-1.50"
    assert "Pay out: 1.50" in out.notices
    assert out.open_drawer
    receipt = render_receipt(from_record(next(r for r in out.records if r.kind == "sale")), 42)
    assert "Empties returned" in receipt
    # the drawer paid it: the shift's cash sales are 1.50 lower (a negative cash tender)
    x = lane.x_report()
    assert not isinstance(x, Refusal)
    assert (x.cash_sales, x.expected_cash) == (D("-1.50"), x.opening_floats - D("1.50"))


def test_the_receipt_shows_the_deposit_on_its_own_row_in_english_and_chinese(
    db_path: Path, settings: GatewaySettings
) -> None:
    lane, clock = deposit_lane(db_path, settings), Clock()
    ok(lane, ev.OpenShift(clock(), CASHIER))
    ok(lane, ev.Scan(clock(), COLA, D(2)))
    out = ok(lane, ev.Tender(clock(), "card", reference="T9"))
    record = next(r for r in out.records if r.kind == "sale")
    english = render_receipt(from_record(record), 42)
    assert any(
        ln.startswith("  Deposit 2 x 0.50") and ln.endswith("1.00") for ln in english.splitlines()
    )
    chinese = render_receipt(from_record(record, language="zh"), 42)
    assert any(
        ln.startswith("  押金 2 x 0.50") and ln.endswith("1.00") for ln in chinese.splitlines()
    )


def test_a_whole_refund_leaves_the_empties_out_and_an_empties_line_is_not_refunded(
    db_path: Path, settings: GatewaySettings
) -> None:
    lane, clock = deposit_lane(db_path, settings), Clock()
    ok(lane, ev.OpenShift(clock(), CASHIER))
    ok(lane, ev.Scan(clock(), COLA, D(2)))  # 2 x (2.10 + 0.50) = 5.20
    ok(lane, ev.Scan(clock(), PFAND))  # one empty back: -0.50, due 4.70
    out = ok(lane, ev.Tender(clock(), "card", reference="T3"))
    receipt = next(r.body for r in out.records if r.kind == "sale")["receipt_id"]
    refused = lane.handle(ev.Refund(clock(), receipt, "x", {1: D(1)}, authorization=BOSS))
    assert not isinstance(refused, Outcome) and refused.code == "empties_line"
    # everything back: the two colas with their deposits, 5.20; the empty stays returned
    back = ok(
        lane,
        ev.Refund(clock(), receipt, "all", None, tender="card", reference="T4", authorization=BOSS),
    )
    refund = next(r.body for r in back.records if r.kind == "refund")
    assert refund["total"] == "5.20"
    assert [line["original_index"] for line in refund["lines"]] == [0]


def test_empties_cannot_be_a_return_without_receipt(
    db_path: Path, settings: GatewaySettings
) -> None:
    lane, clock = deposit_lane(db_path, settings), Clock()
    ok(lane, ev.OpenShift(clock(), CASHIER))
    refused = lane.handle(
        ev.ReturnWithoutReceipt(clock(), "PFAND-050", "bottles", authorization=BOSS)
    )
    assert not isinstance(refused, Outcome) and refused.code == "empties_line"


def test_a_store_can_let_cashiers_pay_out_empties(db_path: Path, settings: GatewaySettings) -> None:
    # German stores mostly do: `empties_payout` with the cashier role, no supervisor needed
    lenient = settings.lane.model_copy(
        update={
            "permissions": {
                **settings.lane.permissions,
                "empties_payout": ["cashier", "supervisor", "admin"],
            }
        }
    )
    doc = build_catalog(parse_document(deposit_document()))
    lane, clock = make_lane(db_path, doc, settings.model_copy(update={"lane": lenient})), Clock()
    ok(lane, ev.OpenShift(clock(), CASHIER))
    ok(lane, ev.Scan(clock(), PFAND, D(2)))
    out = ok(lane, ev.Tender(clock(), "cash"))
    body = next(r.body for r in out.records if r.kind == "sale")
    assert body["totals"]["due"] == "-1.00" and body["overrides"] == []
    assert [r.kind for r in out.records].count("override") == 0


def test_paying_out_empties_is_refused_to_a_cashier_in_plain_words(
    db_path: Path, settings: GatewaySettings
) -> None:
    lane, clock = deposit_lane(db_path, settings), Clock()
    ok(lane, ev.OpenShift(clock(), CASHIER))
    ok(lane, ev.Scan(clock(), PFAND))
    refused = lane.handle(ev.Tender(clock(), "cash"))
    assert not isinstance(refused, Outcome)
    assert refused.message.startswith("Paying out empties needs a supervisor")
    amount = lane.handle(ev.Tender(clock(), "cash", D("1.00"), authorization=BOSS))
    assert not isinstance(amount, Outcome) and amount.code == "bad_amount"
