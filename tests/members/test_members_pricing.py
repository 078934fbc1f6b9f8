"""Members with the real pricing engine: the pricing context gives member prices only to
groups eligible for them, and points are earned on what the engine priced."""

from __future__ import annotations

from decimal import Decimal

from members_testkit import ALICE_UID, BOB_UID, LUNCH, Box

from gateway.catalog.catalog import build_catalog
from gateway.catalog.document import parse_document as parse_catalog
from gateway.members import Account
from gateway.pricing.basket import Basket, BasketLine
from gateway.pricing.engine import price_basket

CATALOG = {
    "schema": "storegate.catalog/1",
    "version": 1,
    "money": {"currency": "CNY", "decimals": 2},
    "tax_classes": [{"id": "std", "name": "VAT 13%", "rate": "13", "inclusive": True}],
    "categories": [{"id": "food", "name": "Food"}],
    "products": [
        {
            "sku": "RICE",
            "name": "Rice bowl",
            "price": "12.00",
            "member_price": "9.50",
            "tax_class": "std",
            "category": "food",
        },
        {
            "sku": "CIGS",
            "name": "Cigarettes",
            "price": "25.00",
            "tax_class": "std",
            "category": "food",
            "flags": ["no_points"],
        },
    ],
}


def account(box: Box, read: str) -> Account:
    found = box.members.identify(read)
    assert isinstance(found, Account)
    return found


def test_member_prices_and_points_through_the_engine(box: Box) -> None:
    catalog = build_catalog(parse_catalog(CATALOG))
    lines = (BasketLine("RICE", Decimal(2)), BasketLine("CIGS"))
    alice = account(box, ALICE_UID)
    priced = price_basket(Basket(lines, LUNCH, member=box.members.pricing_context(alice)), catalog)
    assert priced.lines[0].total == Decimal("19.00")  # member price 9.50 x 2
    assert priced.member == "M0001"
    assert box.members.points_earned(alice, priced) == 19  # cigarettes earn nothing

    bob = account(box, BOB_UID)  # retail group: no member prices
    assert box.members.pricing_context(bob) is None
    plain = price_basket(Basket(lines, LUNCH, member=box.members.pricing_context(bob)), catalog)
    assert plain.lines[0].total == Decimal("24.00")


def test_points_multipliers_on_a_member_day(box: Box) -> None:
    """会员日双倍积分: on the member day a member earns double points on food, a week of
    triple points on everything beats it (the highest counts, not 2 x 3), no_points lines
    still earn nothing, other days and non-members earn as usual; prices do not change."""
    day = LUNCH.strftime("%a").lower()  # the test's lunch falls on this weekday
    other = "mon" if day != "mon" else "tue"
    doc = {
        **CATALOG,
        "promotions": [
            {
                "type": "points_multiplier",
                "id": "member-day",
                "name": "Member day: double points on food",
                "target": {"categories": ["food"]},
                "multiplier": 2,
                "schedule": {"days": [day]},
            },
            {
                "type": "points_multiplier",
                "id": "triple-week",
                "name": "Triple points",
                "multiplier": 3,
                "schedule": {"days": [other]},
            },
        ],
    }
    catalog = build_catalog(parse_catalog(doc))
    lines = (BasketLine("RICE", Decimal(2)), BasketLine("CIGS"))
    alice = account(box, ALICE_UID)
    context = box.members.pricing_context(alice)
    priced = price_basket(Basket(lines, LUNCH, member=context), catalog)
    assert [line.points_multiplier for line in priced.lines] == [2, 2]
    assert priced.lines[0].total == Decimal("19.00") and priced.total == Decimal("44.00")
    assert box.members.points_earned(alice, priced) == 38  # 19.00 twice; cigarettes none
    # what was paid with points is taken off once, not doubled
    assert box.members.points_earned(alice, priced, Decimal("4.00")) == 34
    # on the triple-points day everything counts three times, food too (3 beats 2)
    doc["promotions"][1]["schedule"] = {"days": [day]}  # type: ignore[index]
    triple = price_basket(Basket(lines, LUNCH, member=context), build_catalog(parse_catalog(doc)))
    assert [line.points_multiplier for line in triple.lines] == [3, 3]
    assert box.members.points_earned(alice, triple) == 57
    # another day, and a basket without a member: no multiplier
    doc["promotions"] = [{**doc["promotions"][0], "schedule": {"days": [other]}}]  # type: ignore[index]
    usual = price_basket(Basket(lines, LUNCH, member=context), build_catalog(parse_catalog(doc)))
    assert [line.points_multiplier for line in usual.lines] == [1, 1]
    assert box.members.points_earned(alice, usual) == 19
    anonymous = price_basket(Basket(lines, LUNCH), catalog)
    assert [line.points_multiplier for line in anonymous.lines] == [1, 1]


def test_a_points_multiplier_refuses_money_options() -> None:
    import pytest

    from gateway.catalog.document import CatalogError

    promo = {
        "type": "points_multiplier",
        "id": "x2",
        "name": "x2",
        "multiplier": 2,
        "coupon": "DOUBLE",
    }
    with pytest.raises(CatalogError, match=r"promotions\[0\] \(x2\).coupon: a points_multiplier"):
        parse_catalog({**CATALOG, "promotions": [promo]})
    with pytest.raises(CatalogError, match="multiplier"):
        parse_catalog({**CATALOG, "promotions": [{**promo, "coupon": None, "multiplier": 1}]})
