"""VAT per rate at the lane (`money.tax_per = "rate"`): the sale records each line's share
of its rate's tax, the receipt's tax summary is the rate's tax rounded once, and refunds
give back each line's own share, so the refunds' tax adds up to the sale's."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from lane_testkit import CASHIER, SUPERVISOR, Clock, make_lane

from gateway.catalog.catalog import Catalog, build_catalog
from gateway.catalog.document import parse_document
from gateway.lane import events as ev
from gateway.lane.events import Outcome
from gateway.lane.machine import Lane
from gateway.receipts.model import from_record
from gateway.receipts.text import render_receipt
from gateway.settings import GatewaySettings

D = Decimal
BOSS = ev.Authorization(SUPERVISOR, "customer return")
DETERGENT = "7612345001357"  # 11.90, VAT 8.1% inclusive


def per_rate(catalog: Catalog) -> Catalog:
    data = json.loads(json.dumps(catalog.document.model_dump(mode="json", by_alias=True)))
    data["money"]["tax_per"] = "rate"
    return build_catalog(parse_document(data))


def ok(lane: Lane, event: ev.Event) -> Outcome:
    answer = lane.handle(event)
    assert isinstance(answer, Outcome), answer
    return answer


def test_three_lines_share_their_rates_tax_and_refunds_return_each_share(
    tmp_path: Path, catalog: Catalog, settings: GatewaySettings
) -> None:
    """Detergent 11.90 scanned three times. Per line 11.90 x 8.1 / 108.1 = 0.8917 -> 0.89
    (2.67 in all); per rate 35.70 x 8.1 / 108.1 = 2.6750 -> 2.68, shared 0.90 / 0.89 /
    0.89 (the cent left over to the first of three equal remainders)."""
    lane = make_lane(tmp_path / "storegate.db", per_rate(catalog), settings)
    clock = Clock()
    ok(lane, ev.OpenShift(clock(), CASHIER))
    for _ in range(3):
        ok(lane, ev.Scan(clock(), DETERGENT))
    sale = ok(lane, ev.Tender(clock(), "card", None, reference="T1")).records[0]
    body = sale.body
    assert [ln["tax"] for ln in body["lines"]] == ["0.90", "0.89", "0.89"]
    assert body["totals"]["total"] == "35.70" and body["totals"]["tax"] == "2.68"
    receipt_text = render_receipt(from_record(sale, names=per_rate(catalog)), 42)
    assert "2.68" in receipt_text and "2.67" not in receipt_text
    receipt = body["receipt_id"]
    first = ok(lane, ev.Refund(clock(), receipt, "one too many", {0: D(1)}, authorization=BOSS))
    refund = next(r.body for r in first.records if r.kind == "refund")
    assert refund["total"] == "11.90"
    assert [ln["tax"] for ln in refund["lines"]] == ["0.90"]
    rest = ok(
        lane,
        ev.Refund(
            clock(), receipt, "all back", None, tender="card", reference="T2", authorization=BOSS
        ),
    )
    last = next(r.body for r in rest.records if r.kind == "refund")
    assert D(last["total"]) == D("23.80")
    assert sum(D(ln["tax"]) for ln in [*refund["lines"], *last["lines"]]) == D("2.68")
