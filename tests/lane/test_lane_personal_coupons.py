"""Personal coupons of head-office campaigns at the lane (issue 21, item 4): a code some
member holds is accepted only from that member, once; the redemption is the sale record's
`redeemed_coupons`, kept by the members room in the sale's own transaction, so a second
use is refused, also by a box opened again on the same file."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

from lane_testkit import ALICE, CASHIER, Clock, make_lane, members_document

from gateway.catalog.catalog import Catalog
from gateway.lane import events as ev
from gateway.lane.events import Outcome, Refusal
from gateway.lane.machine import Lane
from gateway.lane.members import OfferedCoupon
from gateway.members import MemberStore, parse_document
from gateway.receipts.model import from_record
from gateway.settings import GatewaySettings

DETERGENT = "7612345001357"  # 11.90; three of them pass WELCOME5's threshold of 30
MILK = "7612345001012"


def ok(lane: Lane, event: ev.Event) -> Outcome:
    answer = lane.handle(event)
    assert isinstance(answer, Outcome), answer
    return answer


def refused(lane: Lane, event: ev.Event, code: str) -> Refusal:
    answer = lane.handle(event)
    assert isinstance(answer, Refusal) and answer.code == code, answer
    return answer


def with_coupon(lane: Lane) -> None:
    """Head office's next document: Alice holds WELCOME5 from campaign `winback`."""
    data = members_document()
    data["version"] = 2
    data["members"][0]["coupons"] = [
        {"code": "WELCOME5", "campaign": "winback", "until": "2026-12-31"}
    ]
    store = lane.members.accounts.store  # type: ignore[attr-defined]
    assert isinstance(store, MemberStore)
    store.apply_document(parse_document(data), datetime(2026, 11, 24, 7))


def test_a_personal_coupon_is_its_holders_and_is_redeemed_once(
    lane: Lane, clock: Clock, db_path: Path, catalog: Catalog, settings: GatewaySettings
) -> None:
    with_coupon(lane)
    ok(lane, ev.OpenShift(clock(), CASHIER))
    ok(lane, ev.Scan(clock(), DETERGENT, Decimal(3)))
    no_member = refused(lane, ev.Coupon(clock(), "welcome5"), "coupon_not_yours")
    assert "identify the member first" in no_member.message
    ok(lane, ev.MemberCard(clock(), ALICE))
    assert lane.sale is not None and lane.sale.member is not None
    assert lane.sale.member.coupons == (
        OfferedCoupon("winback", "WELCOME5", datetime(2026, 12, 31).date()),
    )
    ok(lane, ev.Coupon(clock(), "welcome5"))
    assert lane.sale.priced is not None and lane.sale.priced.total == Decimal("30.70")
    sale = ok(lane, ev.Tender(clock(), "cash", Decimal(40))).records[0]
    assert sale.body["redeemed_coupons"] == ["winback"]
    assert "member_coupons" not in sale.body
    assert sale.body["coupons"] == ["WELCOME5"]

    ok(lane, ev.MemberCard(clock(), ALICE))
    assert lane.sale is not None and lane.sale.member is not None
    assert lane.sale.member.coupons == ()
    used = refused(lane, ev.Coupon(clock(), "WELCOME5"), "coupon_used")
    assert "already redeemed" in used.message
    ok(lane, ev.Scan(clock(), MILK))
    ok(lane, ev.Tender(clock(), "cash", Decimal(5)))

    again = make_lane(db_path, catalog, settings)  # the box started again on its file
    ok(again, ev.MemberCard(clock(), ALICE))
    refused(again, ev.Coupon(clock(), "WELCOME5"), "coupon_used")


def test_another_member_may_not_use_it_and_the_receipt_names_it_until_used(
    lane: Lane, clock: Clock
) -> None:
    with_coupon(lane)
    ok(lane, ev.OpenShift(clock(), CASHIER))
    ok(lane, ev.MemberCard(clock(), "M0004"))  # Dan, by his printed member id
    refused(lane, ev.Coupon(clock(), "WELCOME5"), "coupon_not_yours")
    ok(lane, ev.Scan(clock(), MILK))
    ok(lane, ev.Tender(clock(), "cash", Decimal(5)))

    ok(lane, ev.MemberCard(clock(), ALICE))
    ok(lane, ev.Scan(clock(), MILK))
    ok(lane, ev.Coupon(clock(), "WELCOME5"))  # gives nothing below 30: not spent
    record = ok(lane, ev.Tender(clock(), "cash", Decimal(5))).records[0]
    assert "redeemed_coupons" not in record.body
    assert record.body["member_coupons"] == [
        {"code": "WELCOME5", "campaign": "winback", "until": "2026-12-31"}
    ]
    assert "Your coupon WELCOME5 until 2026-12-31" in from_record(record).points
    assert (
        from_record(record, language="zh").points[-1] == "您的优惠券 WELCOME5，有效期至 2026-12-31"
    )
