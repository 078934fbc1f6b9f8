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
