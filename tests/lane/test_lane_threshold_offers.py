"""加价购 and 满赠 at the lane: the gift and the add-on are rung up like any item and priced
down once the spend is reached (docs/pricing.md step 2b), the sale records it on their
lines, the receipt says which line is a gift (in the cashier's language), and partial
refunds pay back what each line was paid — the offer is not taken back (docs/pricing.md
"Refunds")."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

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
DETERGENT = "7612345001357"  # 11.90, household, VAT 8.1% inclusive
TOOTHPASTE = "7612345001340"  # 3.20, household
TEA = "7612345001227"  # 3.30, pantry
OFFERS: list[dict[str, Any]] = [
    {
        "type": "gift",
        "id": "gift-toothpaste",
        "name": "Toothpaste free from 30.00 household",
        "names": {"zh": "家居满30赠牙膏"},
        "target": {"categories": ["household"]},
        "threshold": "30.00",
        "item": "TOOTHP",
    },
    {
        "type": "add_on",
        "id": "tea-for-1",
        "name": "Green tea for 1.00 from 20.00",
        "threshold": "20.00",
        "item": "TEA-GREEN",
        "price": "1.00",
    },
]


def offers_catalog(catalog: Catalog) -> Catalog:
    data = json.loads(json.dumps(catalog.document.model_dump(mode="json", by_alias=True)))
    data["promotions"].extend(OFFERS)
    return build_catalog(parse_document(data))


def ok(lane: Lane, event: ev.Event) -> Outcome:
    answer = lane.handle(event)
    assert isinstance(answer, Outcome), answer
    return answer


def test_gift_and_add_on_sold_then_refunded_in_parts(
    tmp_path: Path, catalog: Catalog, settings: GatewaySettings
) -> None:
    """Detergent 3 x 11.90 = 35.70 (household: the gift's spend, 35.70 >= 30.00; the
    toothpaste itself does not count), toothpaste 3.20 free, green tea 2 x 3.30 = 6.60 with
    one at 1.00 (the add-on's spend, all items but the tea: 35.70 + 3.20 = 38.90 >= 20.00):
    6.60 - 2.30 = 4.30. Total 35.70 + 0.00 + 4.30 = 40.00 (below the 满减's 50: the
    thresholds count the lines after the offers, 40.00)."""
    cat = offers_catalog(catalog)
    lane = make_lane(tmp_path / "storegate.db", cat, settings)
    clock = Clock()
    ok(lane, ev.OpenShift(clock(), CASHIER))
    ok(lane, ev.Scan(clock(), DETERGENT, D(3)))
    ok(lane, ev.Scan(clock(), TOOTHPASTE))
    ok(lane, ev.Scan(clock(), TEA, D(2)))
    out = ok(lane, ev.Tender(clock(), "card", None, reference="T1"))
    sale = out.records[0]
    body = sale.body
    assert body["totals"]["total"] == "40.00"
    detergent, toothpaste, tea = body["lines"]
    assert detergent["total"] == "35.70" and detergent["adjustments"] == []
    [gift] = toothpaste["adjustments"]
    assert (gift["kind"], gift["amount"], gift["promotion"]) == (
        "promotion",
        "-3.20",
        "gift-toothpaste",
    )
    assert gift["label"] == "gift: Toothpaste free from 30.00 household"
    assert toothpaste["total"] == "0.00"
    [add_on] = tea["adjustments"]
    assert (add_on["amount"], add_on["label"]) == ("-2.30", "add-on: Green tea for 1.00 from 20.00")
    assert tea["total"] == "4.30"
    # the receipt says which line is the gift, in English and in Chinese
    english = render_receipt(from_record(sale, names=cat), 42)
    assert "  gift: Toothpaste free" in english  # (clipped to the paper)
    assert "  add-on: Green tea for 1.00" in english
    chinese = render_receipt(from_record(sale, language="zh", names=cat), 42)
    assert "  赠品: 家居满30赠牙膏" in chinese
    assert "  加价购: Green tea for 1.00" in chinese  # no Chinese name: the name priced

    receipt = body["receipt_id"]
    # one detergent back: 35.70 over 3 units is 11.90 each; the gift stays free
    first = ok(lane, ev.Refund(clock(), receipt, "one too many", {0: D(1)}, authorization=BOSS))
    refund = next(r.body for r in first.records if r.kind == "refund")
    assert refund["total"] == "11.90"
    # one tea back: the line's 4.30 over its two units, 2.15 / 2.15 (the add-on is not
    # re-priced: each unit gives back what the line paid for it)
    second = ok(lane, ev.Refund(clock(), receipt, "changed mind", {2: D(1)}, authorization=BOSS))
    assert next(r.body for r in second.records if r.kind == "refund")["total"] == "2.15"
    # the rest: exactly what was paid, 40.00 in all; the free toothpaste gives back 0.00
    rest = ok(
        lane,
        ev.Refund(
            clock(), receipt, "all back", None, tender="card", reference="T2", authorization=BOSS
        ),
    )
    last = next(r.body for r in rest.records if r.kind == "refund")
    assert D(last["total"]) == D("40.00") - D("11.90") - D("2.15")
    back = {line["original_index"]: D(line["amount"]) for line in last["lines"]}
    assert back == {0: D("23.80"), 1: D("0.00"), 2: D("2.15")}


def test_below_the_threshold_the_gift_costs_its_price(
    tmp_path: Path, catalog: Catalog, settings: GatewaySettings
) -> None:
    """Detergent 2 x 11.90 = 23.80 < 30.00: the toothpaste costs 3.20; the tea's add-on
    (23.80 + 3.20 = 27.00 >= 20.00) still applies."""
    lane = make_lane(tmp_path / "storegate.db", offers_catalog(catalog), settings)
    clock = Clock()
    ok(lane, ev.OpenShift(clock(), CASHIER))
    ok(lane, ev.Scan(clock(), DETERGENT, D(2)))
    ok(lane, ev.Scan(clock(), TOOTHPASTE))
    ok(lane, ev.Scan(clock(), TEA))
    body = ok(lane, ev.Tender(clock(), "card", None, reference="T1")).records[0].body
    assert [line["total"] for line in body["lines"]] == ["23.80", "3.20", "1.00"]
