"""Catalog documents: the example shop, every kind of bad document, and the store in SQLite."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from gateway.catalog.catalog import build_catalog, load_catalog_file
from gateway.catalog.document import CatalogError, json_schema, parse_document, read_document
from gateway.catalog.store import CatalogStore
from gateway.database import open_database

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "config" / "catalog.example.json"


def example() -> dict[str, Any]:
    return json.loads(EXAMPLE.read_text())


def problems_of(doc: dict[str, Any]) -> list[str]:
    with pytest.raises(CatalogError) as caught:
        parse_document(doc)
    return caught.value.problems


def test_example_shop_is_a_realistic_small_shop() -> None:
    catalog = load_catalog_file(EXAMPLE)
    products = catalog.document.products
    assert 55 <= len(products) <= 70
    assert {p.unit for p in products} == {"each", "kg", "g"}
    assert {t.inclusive for t in catalog.document.tax_classes} == {True, False}
    assert len(catalog.document.promotions) >= 5
    assert any(p.category == "deli" for p in products)


def test_shipped_json_schema_matches_the_models() -> None:
    shipped = json.loads((ROOT / "gateway" / "schemas" / "catalog.schema.json").read_text())
    assert shipped == json.loads(json.dumps(json_schema()))


def test_lookup_by_any_gtin_form() -> None:
    catalog = load_catalog_file(EXAMPLE)
    from gateway.barcodes import lookup_key_for_code

    assert catalog.lookup([lookup_key_for_code("4006381333931")]).sku == "PEN-HL"  # type: ignore[union-attr]
    assert catalog.lookup([lookup_key_for_code("04006381333931")]).sku == "PEN-HL"  # type: ignore[union-attr]
    assert catalog.lookup(["PLU:1001"]).sku == "APPLE-GALA"  # type: ignore[union-attr]
    assert catalog.lookup(["nothing"]) is None


def test_a_bad_document_is_refused_with_every_problem() -> None:
    doc = example()
    doc["products"][0]["price"] = "-1.00"
    doc["products"][1]["price"] = "1,20"
    doc["products"][2]["barcodes"] = list(doc["products"][3]["barcodes"])
    doc["products"][4]["tax_class"] = "luxury"
    doc["products"][5]["category"] = "toys"
    doc["products"][6]["price"] = "1.234"
    doc["products"][7]["barcodes"] = ["7612345001011"]  # bad check digit
    doc["promotions"][0]["target"] = {"skus": ["GHOST"]}
    problems = problems_of(doc)
    text = "\n".join(problems)
    assert "products[0] (MILK-1L).price: Input should be greater than or equal to 0" in text
    assert "products[1] (MILK-LF).price" in text
    # the schema errors stop before cross checks; fix them and the rest is reported whole
    doc["products"][0]["price"] = "2.00"
    doc["products"][1]["price"] = "1.20"
    problems = problems_of(doc)
    text = "\n".join(problems)
    assert "duplicate barcode 7612345001043, already used by product BUTTER-250" in text
    assert "unknown tax class 'luxury'" in text
    assert "unknown category 'toys'" in text
    assert "1.234 has more than the currency's 2 decimal places" in text
    assert "7612345001011 can never scan" in text
    assert "unknown product 'GHOST'" in text
    assert len(problems) == 6


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d.pop("money"), "money: Field required"),
        (lambda d: d.update(schema="storegate.catalog/9"), "schema: Input should be"),
        (lambda d: d.update(version=0), "version: Input should be greater than or equal to 1"),
        (lambda d: d["products"][0].update(unit="litre"), "products[0] (MILK-1L).unit"),
        (
            lambda d: d["products"][0].update(colour="red"),
            "products[0] (MILK-1L).colour: unknown field",
        ),
        (lambda d: d["promotions"][0].update(type="lottery"), "promotions[0]"),
        (lambda d: d["products"].append(copy.deepcopy(d["products"][0])), "duplicate sku"),
        (lambda d: d["products"][0].update(member_price="99.00"), "is above the price"),
        (
            lambda d: d["categories"].append({"id": "x", "name": "X", "parent": "nowhere"}),
            "unknown category 'nowhere'",
        ),
        (
            lambda d: d["promotions"].append(
                {
                    "type": "basket_threshold",
                    "id": "t",
                    "name": "t",
                    "tiers": [
                        {"threshold": "100", "amount": "10"},
                        {"threshold": "50", "amount": "5"},
                    ],
                }
            ),
            "thresholds must increase",
        ),
        (
            lambda d: d["promotions"].append(
                {"type": "percent_off", "id": "p", "name": "p", "target": {}, "percent": "150"}
            ),
            "promotions[12] (p).percent",
        ),
        (
            lambda d: d["promotions"].append(
                {
                    "type": "percent_off",
                    "id": "h",
                    "name": "h",
                    "target": {"all_items": True},
                    "percent": "5",
                    "schedule": {"hours": [{"from": "20:00", "to": "02:00"}]},
                }
            ),
            "'to' must be after 'from'",
        ),
    ],
)
def test_each_kind_of_bad_field_is_named(change: Any, expected: str) -> None:
    doc = example()
    change(doc)
    assert expected in "\n".join(problems_of(doc))


def test_broken_json_and_unreadable_files(tmp_path: Path) -> None:
    broken = tmp_path / "c.json"
    broken.write_text('{"schema": ')
    with pytest.raises(CatalogError, match="not valid JSON at line 1"):
        read_document(broken)
    with pytest.raises(CatalogError, match="cannot read"):
        read_document(tmp_path / "missing.json")


def test_store_keeps_the_catalog_in_force_across_bad_and_old_documents(tmp_path: Path) -> None:
    db = open_database(tmp_path / "box.db")
    store = CatalogStore(db)
    assert store.load() is None
    text = EXAMPLE.read_text()
    store.apply_text(text, "v1")
    assert store.version() == 1
    assert store.sku_for_barcode("4006381333931") == "PEN-HL"
    assert store.sku_for_plu("01001") == "APPLE-GALA"
    with pytest.raises(CatalogError, match="not newer"):
        store.apply_text(text, "v1 again")
    bad = example()
    bad["version"] = 2
    bad["products"][0]["tax_class"] = "nope"
    with pytest.raises(CatalogError):
        store.apply_text(json.dumps(bad), "bad v2")
    newer = example()
    newer["version"] = 3
    newer["products"] = newer["products"][:10]
    newer["promotions"] = []
    assert store.load() is not None and store.load().version == 1  # type: ignore[union-attr]
    store.apply_text(json.dumps(newer), "v3")
    reopened = CatalogStore(open_database(tmp_path / "box.db"))
    loaded = reopened.load()
    assert loaded is not None and loaded.version == 3 and len(loaded.products) == 10
    assert reopened.sku_for_barcode("4006381333931") is None


def test_recommendations_name_products_of_the_catalog_and_fit_the_screen() -> None:
    doc = example()
    doc["recommendations"] = {
        "MILK-1L": ["BREAD-BRN", "OIL-OLIVE"],
        "GHOST": ["MILK-1L"],
        "BREAD-BRN": ["BREAD-BRN", "NOPE"],
        "OIL-OLIVE": ["MILK-1L", "MILK-1L"],
        "PEN-HL": ["MILK-1L", "BREAD-BRN", "OIL-OLIVE", "APPLE-GALA"],
    }
    assert problems_of(doc) == [
        "recommendations['GHOST']: unknown product 'GHOST'",
        "recommendations['BREAD-BRN']: unknown product 'NOPE'",
        "recommendations['BREAD-BRN']: a product cannot be recommended with itself",
        "recommendations['OIL-OLIVE']: an item is listed twice",
        "recommendations['PEN-HL']: 4 items, at most 3 are shown",
    ]
    doc["recommendations"] = {"MILK-1L": ["BREAD-BRN", "OIL-OLIVE"]}
    catalog = build_catalog(parse_document(doc))
    assert [p.sku for p in catalog.recommended_with("MILK-1L")] == ["BREAD-BRN", "OIL-OLIVE"]
    assert catalog.recommended_with("BREAD-BRN") == ()
