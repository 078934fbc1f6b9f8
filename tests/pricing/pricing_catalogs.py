"""Small catalog documents built in code, so each test shows the prices it relies on."""

from __future__ import annotations

import copy
from datetime import datetime
from decimal import Decimal
from typing import Any

from gateway.catalog.catalog import Catalog, build_catalog
from gateway.catalog.document import parse_document
from gateway.pricing import (
    Basket,
    BasketLine,
    ManualDiscount,
    MemberContext,
    PricedBasket,
    price_basket,
)

AT = datetime(2026, 11, 25, 10, 0)  # a Wednesday morning

BASE: dict[str, Any] = {
    "schema": "storegate.catalog/1",
    "version": 1,
    "money": {"currency": "CHF", "decimals": 2},
    "tax_classes": [
        {"id": "food", "name": "reduced", "rate": "2.6", "inclusive": True},
        {"id": "std", "name": "standard", "rate": "8.1", "inclusive": True},
        {"id": "net", "name": "standard, net prices", "rate": "8.1", "inclusive": False},
    ],
    "categories": [
        {"id": "food", "name": "Food"},
        {"id": "choc", "name": "Chocolate", "parent": "food"},
        {"id": "yog", "name": "Yoghurt", "parent": "food"},
        {"id": "produce", "name": "Produce"},
        {"id": "office", "name": "Office"},
    ],
    "products": [
        {
            "sku": "A",
            "name": "Apple juice",
            "barcodes": ["4006381333931"],
            "price": "2.00",
            "tax_class": "food",
            "category": "food",
        },
        {
            "sku": "B",
            "name": "Bread",
            "price": "3.00",
            "tax_class": "food",
            "category": "food",
            "member_price": "2.50",
            "plu": "12",
        },
        {
            "sku": "C1",
            "name": "Milk chocolate",
            "price": "1.90",
            "tax_class": "food",
            "category": "choc",
        },
        {
            "sku": "C2",
            "name": "Dark chocolate",
            "price": "2.20",
            "tax_class": "food",
            "category": "choc",
        },
        {"sku": "Y1", "name": "Yoghurt", "price": "0.85", "tax_class": "food", "category": "yog"},
        {
            "sku": "Y2",
            "name": "Yoghurt mocha",
            "price": "0.95",
            "tax_class": "food",
            "category": "yog",
        },
        {
            "sku": "APPLE",
            "name": "Apples",
            "unit": "kg",
            "price": "3.80",
            "plu": "1001",
            "tax_class": "food",
            "category": "produce",
        },
        {
            "sku": "CHERRY",
            "name": "Cherries",
            "unit": "g",
            "price": "1.50",
            "price_per": "100",
            "plu": "1011",
            "tax_class": "food",
            "category": "produce",
        },
        {"sku": "PEN", "name": "Pen", "price": "1.20", "tax_class": "net", "category": "office"},
        {
            "sku": "WINE",
            "name": "Wine",
            "price": "12.50",
            "tax_class": "std",
            "category": "food",
            "flags": ["no_discount"],
        },
    ],
    "promotions": [],
}


def catalog(promotions: list[dict[str, Any]] | None = None, **money: Any) -> Catalog:
    doc = copy.deepcopy(BASE)
    doc["promotions"] = promotions or []
    doc["money"].update(money)
    return build_catalog(parse_document(doc))


def line(sku: str, qty: int | str = 1, **kw: Any) -> BasketLine:
    return BasketLine(sku, quantity=Decimal(qty), **kw)


def price(
    cat: Catalog,
    *lines: BasketLine,
    at: datetime = AT,
    member: str | None = None,
    coupons: tuple[str, ...] = (),
    discount: ManualDiscount | None = None,
) -> PricedBasket:
    ctx = MemberContext(member) if member else None
    return price_basket(Basket(tuple(lines), at, ctx, coupons, discount), cat)


def D(text: str) -> Decimal:
    return Decimal(text)
