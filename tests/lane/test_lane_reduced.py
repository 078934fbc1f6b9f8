"""Reduced-to-clear stickers at the lane: the sticker's price, exactly, on a line that says
what it was reduced from; refused when it cannot be sold so; journalled, refunded at what
was paid, and printed in English and Chinese (docs/barcodes.md, docs/pricing.md).

The example settings read `29IIIIIPPPPPC` (PLU + new price) and `27IIIIIIIIRRC` (PLU +
percent off) as reduced stickers; the example catalog's croissant is PLU 501 at 1.40.
Check digits worked out with the GS1 mod-10 rule (biip), not by the code under test.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from lane_testkit import CASHIER, SUPERVISOR, Clock, make_lane

from gateway.catalog.catalog import Catalog
from gateway.lane import events as ev
from gateway.lane.events import Outcome, Refusal
from gateway.lane.machine import Lane
from gateway.receipts.model import from_record
from gateway.receipts.text import render_receipt
from gateway.settings import GatewaySettings

D = Decimal
BOSS = ev.Authorization(SUPERVISOR, "customer return")
CROISSANT_AT_070 = "2900501000708"  # 29 00501 00070 8
CROISSANT_HALF_OFF = "2700000501504"  # 27 00000501 50 4
CROISSANT_AT_150 = "2900501001507"  # above the catalog's 1.40
NO_SUCH_PLU = "2999999000703"  # PLU 99999 is not in the catalog
BREAD = "7612345001128"  # 3.20


def ok(lane: Lane, event: ev.Event) -> Outcome:
    answer = lane.handle(event)
    assert isinstance(answer, Outcome), answer
    return answer


def refused(lane: Lane, event: ev.Event) -> Refusal:
    answer = lane.handle(event)
    assert isinstance(answer, Refusal), answer
    return answer


def test_a_reduced_sale_and_a_partial_refund_pay_what_was_paid(
    db_path: Path, catalog: Catalog, settings: GatewaySettings
) -> None:
    lane, clock = make_lane(db_path, catalog, settings), Clock()
    ok(lane, ev.OpenShift(clock(), CASHIER))
    ok(lane, ev.Scan(clock(), BREAD))
    ok(lane, ev.Scan(clock(), CROISSANT_AT_070))
    ok(lane, ev.Scan(clock(), CROISSANT_HALF_OFF))
    assert lane.sale is not None and lane.sale.priced is not None
    lines = lane.sale.priced.lines
    assert [ln.total for ln in lines] == [D("3.20"), D("0.70"), D("0.70")]
    assert [(a.kind, a.label, a.amount) for a in lines[1].adjustments] == [
        ("reduced", "reduced from 1.40", D("-0.70"))
    ]
    assert lines[2].adjustments[0].detail == "50% off"
    # a reduced line is one item at its sticker's price: no quantity, no override
    assert refused(lane, ev.ChangeQuantity(clock(), 1, D(2))).code == "reduced_line"
    sale = ok(lane, ev.Tender(clock(), "cash", D("10.00")))
    body = next(r for r in sale.records if r.kind == "sale")
    assert body.body["totals"]["total"] == "4.60"
    assert [a["kind"] for a in body.body["lines"][1]["adjustments"]] == ["reduced"]
    assert body.body["lines"][1]["code"] == CROISSANT_AT_070
    receipt_id = body.body["receipt_id"]
    # the reduced croissant back: what was paid for it, 0.70, not its catalog price
    back = ok(lane, ev.Refund(clock(), receipt_id, "stale", {1: D(1)}, authorization=BOSS))
    refund = next(r.body for r in back.records if r.kind == "refund")
    assert refund["lines"][0]["amount"] == "0.70" and refund["total"] == "0.70"
    # the receipt says it was reduced, in English and in Chinese
    english = render_receipt(from_record(body), 42)
    assert "Reduced from 1.40" in english and "-0.70" in english
    chinese = render_receipt(from_record(body, language="zh"), 42)
    assert "特价处理 原价 1.40" in chinese


def test_stickers_that_cannot_be_sold_are_refused_with_a_reason(
    db_path: Path, catalog: Catalog, settings: GatewaySettings
) -> None:
    lane, clock = make_lane(db_path, catalog, settings), Clock()
    ok(lane, ev.OpenShift(clock(), CASHIER))
    above = refused(lane, ev.Scan(clock(), CROISSANT_AT_150))
    assert above.code == "reduced_sticker"
    assert "1.50 is above Butter croissant's price of 1.40" in above.message
    assert refused(lane, ev.Scan(clock(), NO_SUCH_PLU)).code == "unknown_item"
    assert refused(lane, ev.Scan(clock(), CROISSANT_AT_070, D(2))).code == "reduced_sticker"
    assert refused(lane, ev.Scan(clock(), "2900501000709")).code == "misread"  # check digit
    assert lane.sale is None or not lane.sale.lines


def test_a_gs1_databar_markdown_label_with_the_switch(
    db_path: Path, catalog: Catalog, settings: GatewaySettings
) -> None:
    """`[barcodes] gs1_price_is_reduced`: (01)GTIN(3922)price is a reduced sticker keyed by
    the product's GTIN (the brown bread, 3.20)."""
    barcodes = settings.barcodes.model_copy(update={"gs1_price_is_reduced": True})
    switched = settings.model_copy(update={"barcodes": barcodes})
    lane, clock = make_lane(db_path, catalog, switched), Clock()
    ok(lane, ev.OpenShift(clock(), CASHIER))
    above = refused(lane, ev.Scan(clock(), "(01)07612345001128(3922)350"))
    assert above.code == "reduced_sticker" and "price of 3.20" in above.message
    ok(lane, ev.Scan(clock(), "]e00107612345001128392200150"))
    assert lane.sale is not None and lane.sale.priced is not None
    (line,) = lane.sale.priced.lines
    assert line.total == D("1.50")
    assert [(a.kind, a.label) for a in line.adjustments] == [("reduced", "reduced from 3.20")]


def test_a_suspended_sale_keeps_its_reduced_lines(
    db_path: Path, catalog: Catalog, settings: GatewaySettings
) -> None:
    lane, clock = make_lane(db_path, catalog, settings), Clock()
    ok(lane, ev.OpenShift(clock(), CASHIER))
    ok(lane, ev.Scan(clock(), CROISSANT_AT_070))
    ok(lane, ev.Scan(clock(), CROISSANT_HALF_OFF))
    ok(lane, ev.Suspend(clock()))
    ok(lane, ev.Resume(clock(), "H0001"))
    assert lane.sale is not None and lane.sale.priced is not None
    assert [ln.total for ln in lane.sale.priced.lines] == [D("0.70"), D("0.70")]
    assert [a.detail for ln in lane.sale.priced.lines for a in ln.adjustments] == [
        "sticker price 0.70",
        "50% off",
    ]
