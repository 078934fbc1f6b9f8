"""限购 per member (`limit_per_member`), hand-computed.

A member takes a member-only promotion on at most N units over its schedule's window,
counted over their sales at this box (`MemberContext.taken`: what the lane read when the
member was identified). Units beyond what the member has left pay the normal price, the
line says why, and the adjustment says how many units the promotion covered (`units`:
what the member's count takes). docs/pricing.md, step 2.
"""

from __future__ import annotations

from typing import Any

import pytest
from pricing_catalogs import AT, BASE, D, catalog, line

from gateway.catalog.document import CatalogError, parse_document
from gateway.pricing import Basket, MemberContext, price_basket
from gateway.pricing.engine import member_taken
from gateway.pricing.incremental import price_scan

EGGS: dict[str, Any] = {  # apple juice (A, 2.00) half price for members, 2 a week each
    "type": "percent_off",
    "id": "week-a",
    "name": "Members: apple juice -50%, 2 a week",
    "target": {"skus": ["A"]},
    "percent": "50",
    "member_only": True,
    "limit_per_member": 2,
    "schedule": {"valid_from": "2026-11-23T00:00", "valid_until": "2026-11-30T00:00"},
}


def priced(promos: list[dict[str, Any]], *lines: Any, member: MemberContext | None) -> Any:
    return price_basket(Basket(tuple(lines), AT, member), catalog(promos))


def test_a_member_takes_the_promotion_on_n_units_the_others_pay_the_normal_price() -> None:
    # 3 x 2.00 at 50% off, 2 of them: 2 x 1.00 = 2.00 off -> 6.00 - 2.00 = 4.00
    basket = priced([EGGS], line("A", 3), member=MemberContext("M1"))
    (juice,) = basket.lines
    (adjustment,) = juice.adjustments
    assert adjustment.amount == D("-2.00")
    assert adjustment.units == 2
    assert adjustment.detail == (
        "50% off (limit 2 per member, 0 taken before: 2 of 3 units; 1 at the normal price)"
    )
    assert basket.total == D("4.00")


def test_what_the_member_took_before_in_the_window_counts() -> None:
    took_one = MemberContext("M1", taken=(("week-a", "2026-11-24T09:00:00", 1),))
    (juice,) = priced([EGGS], line("A", 3), member=took_one).lines
    assert juice.discount == D("1.00")  # one unit left: 2.00 x 50%
    assert juice.adjustments[0].units == 1
    assert "limit 2 per member, 1 taken before: 1 of 3 units" in juice.adjustments[0].detail
    took_two = MemberContext("M1", taken=(("week-a", "2026-11-24T09:00:00", 2),))
    assert priced([EGGS], line("A", 3), member=took_two).lines[0].adjustments == ()


def test_only_the_window_counts_and_a_refund_gives_units_back() -> None:
    rows = (
        ("week-a", "2026-11-16T09:00:00", 2),  # last week's: another window
        ("week-a", "2026-11-30T00:00:00", 2),  # at valid_until: outside (exclusive)
        ("other", "2026-11-24T09:00:00", 2),  # another promotion
        ("week-a", "2026-11-23T00:00:00", 2),  # at valid_from: inside
        ("week-a", "2026-11-23T00:00:00", -1),  # a refund of that sale gave one back
    )
    member = MemberContext("M1", taken=rows)
    promo = catalog([EGGS]).document.promotions[0]
    assert member_taken(promo, member) == 1
    assert priced([EGGS], line("A", 2), member=member).lines[0].discount == D("1.00")


def test_no_member_no_promotion() -> None:
    # member-only: without a member identified it is not live at all
    assert priced([EGGS], line("A", 3), member=None).lines[0].adjustments == ()


def test_lines_share_what_the_member_has_left_and_scan_order_does_not_matter() -> None:
    member = MemberContext("M1", taken=(("week-a", "2026-11-24T09:00:00", 1),))
    one = priced([EGGS], line("A"), line("B"), line("A", 2), member=member)
    other = priced([EGGS], line("A", 2), line("B"), line("A"), member=member)
    assert one.total == other.total
    covered = [a.units for ln in one.lines for a in ln.adjustments if a.units is not None]
    assert covered == [1]


def test_with_a_limit_per_sale_the_smaller_binds() -> None:
    both = {**EGGS, "limit_per_member": 5, "limit_per_sale": 2}
    (juice,) = priced([both], line("A", 4), member=MemberContext("M1")).lines
    assert juice.adjustments[0].units == 2
    assert "(limit 2 per sale: 2 of 4 units" in juice.adjustments[0].detail
    took = MemberContext("M1", taken=(("week-a", "2026-11-24T09:00:00", 4),))
    (juice,) = priced([both], line("A", 4), member=took).lines
    assert juice.adjustments[0].units == 1
    assert "(limit 5 per member, 4 taken before: 1 of 4 units" in juice.adjustments[0].detail


def test_pricing_per_scan_uses_a_memo_only_with_the_same_counts() -> None:
    cat = catalog([EGGS])
    fresh = Basket((line("A", 2),), AT, MemberContext("M1"))
    _, memo = price_scan(fresh, cat)
    took = Basket((line("A", 2),), AT, MemberContext("M1", taken=(("week-a", "2026-11-24", 2),)))
    again, _ = price_scan(took, cat, memo)
    assert again == price_basket(took, cat)
    assert again.lines[0].adjustments == ()


def test_the_adjustment_says_its_units_in_json_only_for_a_member_limit() -> None:
    cat = catalog([EGGS, {**EGGS, "id": "b", "target": {"skus": ["B"]}, "limit_per_member": None}])
    basket = price_basket(Basket((line("A"), line("B")), AT, MemberContext("M1")), cat)
    juice, bread = basket.to_json()["lines"]
    assert juice["adjustments"][0]["units"] == 1
    assert "units" not in bread["adjustments"][0]


def _refused(promo: dict[str, Any]) -> str:
    with pytest.raises(CatalogError) as caught:
        parse_document({**BASE, "promotions": [promo]})
    return str(caught.value)


def test_a_member_limit_needs_member_only() -> None:
    said = _refused({**EGGS, "member_only": False})
    assert "promotions[0] (week-a)" in said
    assert "limit_per_member counts a member's units, so the promotion must be member_only" in said
    assert "promotions[0] (week-a).limit_per_member" in _refused({**EGGS, "limit_per_member": 0})
    bundle = {
        "type": "bundle",
        "id": "y3",
        "name": "3 for 2.00",
        "target": {"categories": ["yog"]},
        "quantity": 3,
        "price": "2.00",
        "member_only": True,
        "limit_per_member": 1,
    }
    assert "y3).limit_per_member: unknown field (a limit per sale or per member is for" in (
        _refused(bundle)
    )
