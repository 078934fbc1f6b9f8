"""The catalog's departments (open-price keys with a ceiling), quick keys, and the product
search by name, PLU and pinyin initials (issue 14, item 3)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from gateway.catalog.catalog import QuickKey, build_catalog
from gateway.catalog.document import CatalogError, parse_document
from gateway.catalog.search import initials, search

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = json.loads((ROOT / "config" / "catalog.example.json").read_text())


def doc(change: Any = None) -> dict[str, Any]:
    data = copy.deepcopy(EXAMPLE)
    if change is not None:
        change(data)
    return data


def test_quick_keys_and_departments_of_the_example() -> None:
    catalog = build_catalog(parse_document(doc()))
    assert [(k.position, k.sku, k.kind) for k in catalog.quick_keys] == [
        (1, "BAG-PAPER", "item"),
        (2, "CROISS", "item"),
        (3, "BREAD-BRN", "item"),
        (4, "APPLE-GALA", "weighed"),
        (5, "BANANA", "weighed"),
        (6, "TOMATO", "weighed"),
        (7, "NEWSP", "item"),
        (8, "DEPT-BAKERY", "department"),
        (9, "DEPT-FLOWERS", "department"),
    ]
    assert isinstance(catalog.quick_keys[0], QuickKey)
    bakery = catalog.department("DEPT-BAKERY")
    assert bakery is not None and str(bakery.ceiling) == "30.00"
    # a department is priced through its stand-in product, and found by no code
    assert catalog.by_sku("DEPT-BAKERY") is not None
    assert "DEPT-BAKERY" not in catalog.products
    assert catalog.lookup(["SKU:DEPT-BAKERY"]) is None
    assert len(catalog.products) == 64
    alcohol = catalog.by_sku("DEPT-ALCOHOL")
    assert alcohol is not None and "age_restricted" in alcohol.flags


def _refused(change: Any) -> list[str]:
    with pytest.raises(CatalogError) as caught:
        parse_document(doc(change))
    return caught.value.problems


def test_bad_departments_and_quick_keys_are_all_named() -> None:
    def change(d: dict[str, Any]) -> None:
        d["departments"].append(
            {
                "id": "MILK-1L",
                "name": "Clash",
                "tax_class": "luxury",
                "category": "nowhere",
                "ceiling": "1.005",
                "quick_key": 1,
            }
        )
        d["departments"].append(dict(d["departments"][0]))

    problems = _refused(change)
    assert "departments[3] (MILK-1L).tax_class: unknown tax class 'luxury'" in problems
    assert "departments[3] (MILK-1L).category: unknown category 'nowhere'" in problems
    assert "departments[3] (MILK-1L).id: 'MILK-1L' is already a product's sku" in problems
    assert any(
        "ceiling: 1.005 has more than the currency's 2 decimal places" in p for p in problems
    )
    assert "departments[4].id: duplicate id 'DEPT-BAKERY'" in problems
    assert any("quick_key: position 1 is already products[39] (BAG-PAPER)'s" in p for p in problems)
    assert (
        "departments[4] (DEPT-BAKERY).quick_key: position 8 is already "
        "departments[0] (DEPT-BAKERY)'s"
    ) in problems


def test_schema_bounds_of_a_department() -> None:
    def change(d: dict[str, Any]) -> None:
        d["departments"][0]["ceiling"] = "0"
        d["products"][0]["quick_key"] = 49

    problems = _refused(change)
    assert any(p.startswith("departments[0] (DEPT-BAKERY).ceiling") for p in problems)
    assert any(p.startswith("products[0] (MILK-1L).quick_key") for p in problems)


def chinese() -> Any:
    def change(d: dict[str, Any]) -> None:
        for sku, name, plu in [
            ("CN-COKE", "可口可乐 330ml", "301"),
            ("CN-NOODLE", "重庆小面", "302"),
            ("CN-BREAD", "全麦面包", "3021"),
        ]:
            d["products"].append(
                {
                    "sku": sku,
                    "name": name,
                    "plu": plu,
                    "price": "3.00",
                    "tax_class": "food",
                    "category": "pantry",
                }
            )

    return build_catalog(parse_document(doc(change)))


def test_pinyin_initials_read_phrases_whole() -> None:
    assert initials("可口可乐 330ml") == "kkkl3"
    assert initials("重庆小面") == "cqxm"  # 重 as in 重庆, not zhong
    assert initials("Coca 可乐 Zero") == "cklz"


@pytest.mark.parametrize(
    ("query", "first"),
    [
        ("kkkl", "CN-COKE"),
        ("KKKL", "CN-COKE"),
        ("cqxm", "CN-NOODLE"),
        ("qmmb", "CN-BREAD"),
        ("可乐", "CN-COKE"),
        ("302", "CN-NOODLE"),  # the exact PLU before the PLU that starts with it
        ("gruyere", "CHEESE-GRU"),  # accents folded
        ("yog van", "YOG-VAN"),  # every word must match
        ("501", "CROISS"),
    ],
)
def test_search_by_name_plu_and_initials(query: str, first: str) -> None:
    found = search(chinese(), query)
    assert found and found[0].sku == first, [p.sku for p in found]


def test_search_ranks_plu_prefixes_and_limits() -> None:
    catalog = chinese()
    assert [p.sku for p in search(catalog, "302")][:2] == ["CN-NOODLE", "CN-BREAD"]
    assert len(search(catalog, "e", limit=5)) == 5
    assert search(catalog, "   ") == ()
    assert search(catalog, "no such thing") == ()
    assert all(p.sku in catalog.products for p in search(catalog, "bakery"))  # no stand-ins
