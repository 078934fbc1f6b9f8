"""The cashier hears why a known coupon gives nothing (issue 12, defect 10): the notice
comes from the pricing result, the coupon stays on the sale and applies once it can."""

from __future__ import annotations

from decimal import Decimal

from lane_testkit import CASHIER, Clock

from gateway.lane import events as ev
from gateway.lane.events import Outcome
from gateway.lane.machine import Lane

MILK = "7612345001012"  # 1.75
DETERGENT = "7612345001357"  # 11.90


def ok(lane: Lane, event: ev.Event) -> Outcome:
    answer = lane.handle(event)
    assert isinstance(answer, Outcome), answer
    return answer


def test_a_coupon_below_its_threshold_says_so_and_applies_later(lane: Lane, clock: Clock) -> None:
    ok(lane, ev.OpenShift(clock(), CASHIER))
    ok(lane, ev.Scan(clock(), MILK))
    entered = ok(lane, ev.Coupon(clock(), "welcome5"))  # 5.00 off from 30.00
    assert entered.notices == (
        "Coupon WELCOME5 does not apply: spend 30.00 on qualifying items (this basket: 1.75).",
    )
    ok(lane, ev.Scan(clock(), DETERGENT, Decimal(3)))  # 1.75 + 35.70 = 37.45
    assert lane.sale is not None and lane.sale.priced is not None
    assert lane.sale.priced.total == Decimal("32.45") and lane.sale.priced.notices == ()


def test_a_coupon_that_applies_at_once_says_nothing(lane: Lane, clock: Clock) -> None:
    ok(lane, ev.OpenShift(clock(), CASHIER))
    ok(lane, ev.Scan(clock(), DETERGENT, Decimal(3)))
    assert ok(lane, ev.Coupon(clock(), "WELCOME5")).notices == ()
