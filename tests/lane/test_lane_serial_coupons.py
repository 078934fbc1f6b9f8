"""Serial coupons at the lane (issue 21 item 1; docs/pricing.md, "Serial coupons"): a
printed code whose check holds goes on the sale and prices as a coupon; a forged or
mistyped one is refused (`bad_serial`); a redeemed one is refused (`coupon_used`), also by
the box opened again on its file (the use is written in the sale's transaction); with
`per_member` a member is needed and may redeem at most that many."""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from lane_testkit import ALICE, CASHIER, Clock, make_lane

from gateway.catalog.catalog import Catalog, build_catalog
from gateway.catalog.document import parse_document
from gateway.catalog.serials import serial_code
from gateway.lane import events as ev
from gateway.lane.events import Outcome, Refusal
from gateway.lane.machine import Lane
from gateway.settings import GatewaySettings

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from test_catalog_serials import SECRET, XMAS, catalog_with

DETERGENT = "7612345001357"  # 11.90; three of them pass the threshold of 30
MILK = "7612345001012"
VIP: dict[str, Any] = {
    **XMAS,
    "id": "vip-5",
    "serials": {"prefix": "VIP", "secret": "vip-secret-2026-0123", "per_member": 2},
}


def vip(n: int) -> str:
    return serial_code("VIP", "vip-secret-2026-0123", n)


def xmas(n: int) -> str:
    return serial_code("XMAS", SECRET, n)


@pytest.fixture
def catalog() -> Catalog:
    return build_catalog(parse_document(catalog_with(XMAS, VIP)))


def ok(lane: Lane, event: ev.Event) -> Outcome:
    answer = lane.handle(event)
    assert isinstance(answer, Outcome), answer
    return answer


def refused(lane: Lane, event: ev.Event, code: str) -> Refusal:
    answer = lane.handle(event)
    assert isinstance(answer, Refusal) and answer.code == code, answer
    return answer


def sell_with(lane: Lane, clock: Clock, code: str, member: str | None = None) -> dict[str, Any]:
    if member is not None:
        ok(lane, ev.MemberCard(clock(), member))
    ok(lane, ev.Scan(clock(), DETERGENT, Decimal(3)))
    ok(lane, ev.Coupon(clock(), code.lower()))
    assert lane.sale is not None and lane.sale.priced is not None
    assert lane.sale.priced.total == Decimal("30.70")  # 35.70 less 5.00
    return dict(ok(lane, ev.Tender(clock(), "cash", Decimal(40))).records[0].body)


def test_a_serial_is_redeemed_once_even_after_a_restart(
    lane: Lane, clock: Clock, db_path: Path, catalog: Catalog, settings: GatewaySettings
) -> None:
    ok(lane, ev.OpenShift(clock(), CASHIER))
    body = sell_with(lane, clock, xmas(123))
    assert body["coupons"] == ["XMAS-000123-E11C"]
    assert "xmas-5" in body["promotions"]

    ok(lane, ev.Scan(clock(), DETERGENT, Decimal(3)))
    used = refused(lane, ev.Coupon(clock(), xmas(123)), "coupon_used")
    assert used.message == "Coupon XMAS-000123-E11C was already redeemed."
    ok(lane, ev.Coupon(clock(), xmas(124)))  # another serial of the same promotion
    ok(lane, ev.Tender(clock(), "cash", Decimal(40)))

    again = make_lane(db_path, catalog, settings)  # the box started again on its file
    ok(again, ev.Scan(clock(), MILK))
    refused(again, ev.Coupon(clock(), xmas(123)), "coupon_used")
    refused(again, ev.Coupon(clock(), xmas(124)), "coupon_used")


def test_a_forged_or_mistyped_serial_is_refused_naming_the_problem(
    lane: Lane, clock: Clock
) -> None:
    ok(lane, ev.OpenShift(clock(), CASHIER))
    ok(lane, ev.Scan(clock(), DETERGENT, Decimal(3)))
    forged = refused(lane, ev.Coupon(clock(), "XMAS-000123-0000"), "bad_serial")
    assert "its check does not match" in forged.message
    typo = refused(lane, ev.Coupon(clock(), "XMAS-123-E11C"), "bad_serial")
    assert "type it as printed" in typo.message
    refused(lane, ev.Coupon(clock(), "NOEL-000123-E11C"), "unknown_coupon")
    ok(lane, ev.Coupon(clock(), xmas(1)))
    twice = refused(lane, ev.Coupon(clock(), xmas(2)), "coupon_twice")
    assert "one a sale" in twice.message
    assert lane.sale is not None and lane.sale.coupons == ("XMAS-000001-05F2",)


def test_a_serial_that_gives_nothing_is_not_spent(lane: Lane, clock: Clock) -> None:
    ok(lane, ev.OpenShift(clock(), CASHIER))
    ok(lane, ev.Scan(clock(), MILK))
    notice = ok(lane, ev.Coupon(clock(), xmas(7)))
    assert any("spend 30.00" in n for n in notice.notices), notice.notices
    ok(lane, ev.Tender(clock(), "cash", Decimal(5)))
    sell_with(lane, clock, xmas(7))  # still the customer's


def test_per_member_needs_a_member_and_counts_their_serials(
    lane: Lane, clock: Clock, db_path: Path, catalog: Catalog, settings: GatewaySettings
) -> None:
    ok(lane, ev.OpenShift(clock(), CASHIER))
    ok(lane, ev.Scan(clock(), DETERGENT, Decimal(3)))
    anonymous = refused(lane, ev.Coupon(clock(), vip(1)), "needs_member")
    assert "identify the member first" in anonymous.message
    ok(lane, ev.Tender(clock(), "cash", Decimal(40)))

    first = sell_with(lane, clock, vip(1), member=ALICE)
    assert first["member"]["id"] and first["coupons"] == [vip(1)]
    sell_with(lane, clock, vip(2), member=ALICE)
    ok(lane, ev.MemberCard(clock(), ALICE))
    limit = refused(lane, ev.Coupon(clock(), vip(3)), "serial_limit")
    assert "at most 2 per member" in limit.message
    ok(lane, ev.Scan(clock(), MILK))
    ok(lane, ev.Tender(clock(), "cash", Decimal(5)))

    again = make_lane(db_path, catalog, settings)
    ok(again, ev.MemberCard(clock(), ALICE))
    refused(again, ev.Coupon(clock(), vip(3)), "serial_limit")
    ok(again, ev.Scan(clock(), MILK))
    ok(again, ev.Tender(clock(), "cash", Decimal(5)))
    sell_with(again, clock, vip(3), member="M0004")  # another member has their own 2


def test_the_use_is_in_the_sales_transaction(lane: Lane, clock: Clock, db_path: Path) -> None:
    """The row that spends the serial exists exactly when the sale record does."""
    ok(lane, ev.OpenShift(clock(), CASHIER))
    body = sell_with(lane, clock, xmas(9))
    store = lane.members.accounts.store  # type: ignore[attr-defined]
    assert store.serial_redeemed("xmas-5", 9) == body["receipt_id"]
    assert store.serial_redeemed("xmas-5", 10) is None


def test_a_serial_redeemed_while_its_sale_was_suspended_comes_off_it(
    lane: Lane, clock: Clock
) -> None:
    ok(lane, ev.OpenShift(clock(), CASHIER))
    ok(lane, ev.Scan(clock(), DETERGENT, Decimal(3)))
    ok(lane, ev.Coupon(clock(), xmas(5)))
    ok(lane, ev.Suspend(clock()))
    sell_with(lane, clock, xmas(5))  # the same printed code, on another sale
    back = ok(lane, ev.Resume(clock(), "H0001"))
    assert "Coupon XMAS-000005-" in back.notices[1] and "already redeemed" in back.notices[1]
    assert lane.sale is not None and lane.sale.coupons == ()
    assert lane.sale.priced is not None and lane.sale.priced.total == Decimal("35.70")
