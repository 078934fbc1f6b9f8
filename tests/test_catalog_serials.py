"""Serial coupons' codes and the catalog's `serials` (docs/pricing.md, "Serial coupons"):
the check is HMAC-SHA256 truncated, held here against values worked out by hand with
`printf XMAS-000123 | openssl dgst -sha256 -hmac xmas-secret-2026-abcdef`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gateway.catalog.document import CatalogError, parse_document
from gateway.catalog.serials import (
    SerialCoupon,
    SerialProblem,
    coupon_opens,
    read_serial,
    serial_check,
    serial_code,
)

ROOT = Path(__file__).resolve().parents[1]
SECRET = "xmas-secret-2026-abcdef"
XMAS: dict[str, Any] = {
    "type": "basket_threshold",
    "id": "xmas-5",
    "name": "Christmas coupon: 5.00 off 30",
    "serials": {"prefix": "XMAS", "secret": SECRET},
    "tiers": [{"threshold": "30", "amount": "5.00"}],
    "stackable": True,
    "priority": 200,
}


def catalog_with(*promotions: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ROOT / "config" / "catalog.example.json").read_text())
    data["promotions"] += list(promotions)
    return data


def test_the_check_is_hmac_sha256_of_prefix_and_serial_truncated() -> None:
    # openssl: e11cbc9f…, 05f21e4d…, 3f806c7d…
    assert serial_check("XMAS", SECRET, 123) == "E11C"
    assert serial_code("XMAS", SECRET, 123) == "XMAS-000123-E11C"
    assert serial_code("xmas", SECRET, 1) == "XMAS-000001-05F2"
    assert serial_code("XMAS", SECRET, 2) == "XMAS-000002-3F80"
    assert serial_code("XMAS", "another-secret-of-16", 123) != "XMAS-000123-E11C"
    with pytest.raises(ValueError):
        serial_code("XMAS", SECRET, 0)


def test_an_entered_code_is_read_as_a_serial_of_its_prefix() -> None:
    doc = parse_document(catalog_with(XMAS))
    found = read_serial(" xmas-000123-e11c ", doc.promotions)
    assert found == SerialCoupon("xmas-5", 123, "XMAS-000123-E11C", None)
    forged = read_serial("XMAS-000123-E11D", doc.promotions)
    assert isinstance(forged, SerialProblem)
    assert "check does not match" in forged.message and "xmas-5" in forged.message
    typo = read_serial("XMAS-00123-E11C", doc.promotions)
    assert isinstance(typo, SerialProblem)
    assert "like XMAS-000123-E11C" in typo.message
    zero = read_serial("XMAS-000000-" + serial_check("XMAS", SECRET, 0), doc.promotions)
    assert isinstance(zero, SerialProblem)  # serials start at 1
    assert read_serial("WELCOME5", doc.promotions) is None  # an ordinary coupon code
    assert read_serial("XMASX-000123-E11C", doc.promotions) is None


def test_a_serial_promotion_is_opened_by_an_accepted_code_of_its_prefix_only() -> None:
    doc = parse_document(catalog_with(XMAS))
    promo = next(p for p in doc.promotions if p.id == "xmas-5")
    assert coupon_opens(promo, {"XMAS-000123-E11C"})
    assert not coupon_opens(promo, {"WELCOME5"})
    assert not coupon_opens(promo, set())
    welcome = next(p for p in doc.promotions if p.coupon == "WELCOME5")
    assert not coupon_opens(welcome, {"XMAS-000123-E11C"})


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"coupon": "XMAS"}, "either one `coupon` code or `serials`, not both"),
        ({"serials": {"prefix": "xmas", "secret": SECRET}}, "serials.prefix"),
        ({"serials": {"prefix": "XMAS", "secret": "short"}}, "serials.secret"),
        ({"serials": {"prefix": "XMAS", "secret": SECRET, "per_member": 0}}, "per_member"),
    ],
)
def test_the_catalog_refuses_bad_serials(change: dict[str, Any], problem: str) -> None:
    with pytest.raises(CatalogError) as caught:
        parse_document(catalog_with({**XMAS, **change}))
    assert problem in str(caught.value)


def test_one_prefix_one_promotion() -> None:
    other = {**XMAS, "id": "xmas-10"}
    with pytest.raises(CatalogError) as caught:
        parse_document(catalog_with(XMAS, other))
    assert "XMAS is already the prefix of xmas-5's serials" in str(caught.value)
