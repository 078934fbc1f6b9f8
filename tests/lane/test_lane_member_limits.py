"""限购 per member at the lane: a member's units of a promotion with `limit_per_member`
are counted over their sales at this box (`lane_member_units`, written with the sale and
refund records), read when the member is identified, and kept across a restart of the
lane on the same file (docs/pricing.md, step 2)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from lane_testkit import ALICE, CASHIER, CATALOG, SUPERVISOR, Clock, make_lane

from gateway.catalog.catalog import build_catalog
from gateway.catalog.document import parse_document
from gateway.lane import events as ev
from gateway.lane.events import Outcome
from gateway.lane.machine import Lane
from gateway.settings import GatewaySettings

D = Decimal
BOSS = ev.Authorization(SUPERVISOR, "customer return")
COLA = "7612345001296"  # 2.10
WEEKLY_COLA = {  # members: cola half price, 2 a week each
    "type": "percent_off",
    "id": "cola-week",
    "name": "Members: cola -50%, 2 a week",
    "target": {"skus": ["COLA-15"]},
    "percent": "50",
    "member_only": True,
    "limit_per_member": 2,
    "schedule": {"valid_from": "2026-11-23T00:00", "valid_until": "2026-11-30T00:00"},
}


def ok(lane: Lane, event: ev.Event) -> Outcome:
    answer = lane.handle(event)
    assert isinstance(answer, Outcome), answer
    return answer


def limited_lane(db_path: Path, settings: GatewaySettings) -> Lane:
    doc = json.loads(CATALOG.read_text())
    doc["promotions"].append(WEEKLY_COLA)
    return make_lane(db_path, build_catalog(parse_document(doc)), settings)


def cola_sale(lane: Lane, clock: Clock, units: int, member: bool = True) -> dict[str, object]:
    if member:
        ok(lane, ev.MemberCard(clock(), ALICE))
    ok(lane, ev.Scan(clock(), COLA, D(units)))
    out = ok(lane, ev.Tender(clock(), "card", None, reference="T1"))
    return out.records[0].body


def cola_line(body: dict[str, object]) -> dict[str, object]:
    lines = body["lines"]
    assert isinstance(lines, list)
    return lines[0]  # type: ignore[no-any-return]


def test_a_week_of_a_member_limit_across_sales_refunds_and_a_restart(
    db_path: Path, settings: GatewaySettings
) -> None:
    lane, clock = limited_lane(db_path, settings), Clock()
    ok(lane, ev.OpenShift(clock(), CASHIER))
    # a member buys 2 colas with the promotion: 2 x 1.05 off
    first = cola_sale(lane, clock, 2)
    assert cola_line(first)["total"] == "2.10"
    (adjustment,) = cola_line(first)["adjustments"]  # type: ignore[misc]
    assert adjustment["promotion"] == "cola-week" and adjustment["units"] == 2
    # the same week, a second sale: nothing left, all 3 at the normal price
    second = cola_sale(lane, clock, 3)
    assert cola_line(second)["total"] == "6.30" and cola_line(second)["adjustments"] == []
    # no member identified: a member-only promotion does not apply at all
    assert cola_line(cola_sale(lane, clock, 1, member=False))["total"] == "2.10"
    # one of the first sale's colas comes back: its unit goes back to the member's count
    ok(lane, ev.Refund(clock(), first["receipt_id"], "dented", {0: D(1)}, authorization=BOSS))
    # a restart of the lane on the same file keeps the count: 1 unit left of 2
    lane = limited_lane(db_path, settings)
    ok(lane, ev.MemberCard(clock(), ALICE))
    ok(lane, ev.Scan(clock(), COLA, D(3)))
    assert lane.sale is not None and lane.sale.priced is not None
    (shown,) = lane.sale.priced.lines[0].adjustments
    assert shown.detail == (
        "50% off (limit 2 per member, 1 taken before: 1 of 3 units; 2 at the normal price)"
    )
    third = ok(lane, ev.Tender(clock(), "card", None, reference="T1")).records[0].body
    (adjustment,) = cola_line(third)["adjustments"]  # type: ignore[misc]
    assert adjustment["units"] == 1 and adjustment["amount"] == "-1.05"
    assert cola_line(third)["total"] == "5.25"  # 6.30 - 1.05
    # the counts as the lane reads them: 2 at the first sale's time less 1 given back, 1 now
    assert [n for _, _, n in lane.book.member_units("M0001")] == [1, 1]
    # the refund of the whole third sale gives its unit back too
    ok(lane, ev.Refund(clock(), third["receipt_id"], "all back", None, authorization=BOSS))
    assert [n for _, _, n in lane.book.member_units("M0001")] == [1]


def test_a_sale_without_a_member_limit_writes_no_counts(
    db_path: Path, settings: GatewaySettings
) -> None:
    lane, clock = limited_lane(db_path, settings), Clock()
    ok(lane, ev.OpenShift(clock(), CASHIER))
    ok(lane, ev.MemberCard(clock(), ALICE))
    ok(lane, ev.Scan(clock(), "7612345001302"))  # orange juice: not limited
    ok(lane, ev.Tender(clock(), "card", None, reference="T1"))
    assert lane.book.member_units("M0001") == ()
