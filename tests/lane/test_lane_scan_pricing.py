"""The lane prices per scan (`Sale.pricing` carries the last pricing's memo to the next):
through random event sequences on a real lane, the basket the lane holds after every
accepted event is exactly what pricing its lines whole gives (`price_basket`, field for
field), and a refused event leaves the sale, memo and all, as it was."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from lane_testkit import Clock, make_lane
from test_lane_random import random_event

from gateway.lane.events import Refusal
from gateway.lane.machine import Lane
from gateway.pricing import Basket, price_basket


def whole_price_check(lane: Lane) -> bool:
    """The sale's priced basket against pricing its lines whole; True if there was one."""
    sale = lane.sale
    if sale is None or sale.priced is None or sale.priced_at is None:
        return False
    member = sale.member.context if sale.member else None
    expected = price_basket(Basket(sale.lines, sale.priced_at, member, sale.coupons), sale.catalog)
    assert sale.priced == expected
    assert sale.priced.to_json() == expected.to_json()
    assert sale.pricing is not None and sale.pricing.lines == sale.lines
    return True


@pytest.mark.parametrize("seed", range(6))
def test_lane_prices_per_scan_as_whole(tmp_path: Path, catalog, settings, seed: int) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    lane = make_lane(tmp_path / "storegate.db", catalog, settings)
    clock = Clock()
    checked = 0
    for _ in range(150):
        event = random_event(rng, clock, lane)
        before = lane.sale
        answer = lane.handle(event)
        if isinstance(answer, Refusal):
            assert lane.sale is before
            continue
        checked += whole_price_check(lane)
    assert checked > 10
