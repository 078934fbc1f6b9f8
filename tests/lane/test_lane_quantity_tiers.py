"""Quantity tiers (2件9折) and 限购 at the lane: priced scan by scan, journalled with
their details, and refunded from what each unit cost in the sale (docs/pricing.md)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from lane_testkit import CASHIER, CATALOG, SUPERVISOR, Clock, make_lane

from gateway.catalog.catalog import build_catalog
from gateway.catalog.document import parse_document
from gateway.lane import events as ev
from gateway.lane.events import Outcome
from gateway.lane.machine import Lane
from gateway.settings import GatewaySettings

D = Decimal
BOSS = ev.Authorization(SUPERVISOR, "customer return")
COLA, JUICE, TEA = "7612345001296", "7612345001302", "7612345001227"  # 2.10, 2.90, 3.30
PROMOTIONS = [
    {
        "type": "quantity_tiers",
        "id": "drinks-tiers",
        "name": "Drinks: 2 -10%, 3 -20%",
        "target": {"categories": ["drinks"]},
        "tiers": [{"min_units": 2, "percent_off": "10"}, {"min_units": 3, "percent_off": "20"}],
    },
    {
        "type": "percent_off",
        "id": "tea-half",
        "name": "Green tea half price, 1 per sale",
        "target": {"skus": ["TEA-GREEN"]},
        "percent": "50",
        "limit_per_sale": 1,
    },
]


def ok(lane: Lane, event: ev.Event) -> Outcome:
    answer = lane.handle(event)
    assert isinstance(answer, Outcome), answer
    return answer


def tiered_lane(db_path: Path, settings: GatewaySettings) -> Lane:
    doc = json.loads(CATALOG.read_text())
    doc["promotions"].extend(PROMOTIONS)
    return make_lane(db_path, build_catalog(parse_document(doc)), settings)


def test_tiers_move_scan_by_scan_and_a_partial_refund_pays_what_units_cost(
    db_path: Path, settings: GatewaySettings
) -> None:
    lane, clock = tiered_lane(db_path, settings), Clock()
    ok(lane, ev.OpenShift(clock(), CASHIER))
    ok(lane, ev.Scan(clock(), COLA))
    assert lane.sale is not None and lane.sale.priced is not None
    assert lane.sale.priced.total == D("2.10")  # one drink: no tier
    ok(lane, ev.Scan(clock(), JUICE))
    # two drinks: 10% each, 2.10 - 0.21 + 2.90 - 0.29 = 4.50
    assert lane.sale.priced.total == D("4.50")
    ok(lane, ev.Scan(clock(), COLA))
    # three drinks: 20% each: cola 2.10 - 0.42 = 1.68, juice 2.90 - 0.58 = 2.32
    assert [ln.total for ln in lane.sale.priced.lines] == [D("1.68"), D("2.32"), D("1.68")]
    ok(lane, ev.Scan(clock(), TEA, D(3)))  # 3 x 3.30, half price on one: 9.90 - 1.65 = 8.25
    # what the cashier screen and a quote show of each line (the journal keeps the amounts,
    # labels and promotion ids: a line's details are the pricing's)
    details = [a.detail for ln in lane.sale.priced.lines for a in ln.adjustments]
    assert details == ["20% off each from 3 units"] * 3 + [
        "50% off (limit 1 per sale: 1 of 3 units; 2 at the normal price)"
    ]
    body = ok(lane, ev.Tender(clock(), "card", None, reference="T1")).records[0].body
    assert [line["total"] for line in body["lines"]] == ["1.68", "2.32", "1.68", "8.25"]
    assert [a["promotion"] for line in body["lines"] for a in line["adjustments"]] == [
        "drinks-tiers"
    ] * 3 + ["tea-half"]
    assert D(body["totals"]["total"]) == D("13.93")
    receipt = body["receipt_id"]
    # one cola back: what it cost in the sale, 1.68 (20% off), though the two drinks kept
    # would have been 10% off alone
    first = ok(lane, ev.Refund(clock(), receipt, "one back", {0: D(1)}, authorization=BOSS))
    refund = next(r.body for r in first.records if r.kind == "refund")
    assert refund["lines"][0]["amount"] == "1.68"
    # one tea back: the line's total over its units, 8.25 / 3 = 2.75 (its units alike)
    second = ok(lane, ev.Refund(clock(), receipt, "tea", {3: D(1)}, authorization=BOSS))
    refund = next(r.body for r in second.records if r.kind == "refund")
    assert refund["lines"][0]["amount"] == "2.75"
    # the rest: everything comes to exactly what was paid
    rest = ok(
        lane,
        ev.Refund(clock(), receipt, "all", None, tender="card", reference="T2", authorization=BOSS),
    )
    refunds = [r.body for out in (first, second, rest) for r in out.records if r.kind == "refund"]
    assert sum(D(r["total"]) for r in refunds) == D("13.93")
