"""`gateway quote` on a catalog with 加价购 and 满赠: a subprocess, as a technician runs it
to check a poster's offer before it goes live; a bad offer refused with its reason."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "config" / "catalog.example.json"
SETTINGS = str(ROOT / "config" / "gateway.example.toml")
OFFERS: list[dict[str, Any]] = [
    {
        "type": "gift",
        "id": "gift-toothpaste",
        "name": "Toothpaste free",
        "target": {"categories": ["household"]},
        "threshold": "30.00",
        "item": "TOOTHP",
    },
    {
        "type": "add_on",
        "id": "tea-for-1",
        "name": "Tea for 1.00",
        "threshold": "20.00",
        "item": "TEA-GREEN",
        "price": "1.00",
        "quantity": 2,
    },
]


def catalog_with(tmp_path: Path, promotions: list[dict[str, Any]]) -> str:
    document = json.loads(EXAMPLE.read_text())
    document["promotions"].extend(promotions)
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(document))
    return str(path)


def quote(catalog: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway.cli",
            "quote",
            "--catalog",
            catalog,
            "--config",
            SETTINGS,
            *args,
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )


def test_quote_prices_the_gift_and_the_add_on(tmp_path: Path) -> None:
    """Detergent 3 x 11.90 = 35.70 (household >= 30.00, the toothpaste left out): the
    toothpaste 3.20 is free; all items but the tea, 35.70 + 3.20 = 38.90 >= 20.00: two of
    three teas at 1.00, 2 x (3.30 - 1.00) = 4.60 off, tea line 9.90 - 4.60 = 5.30. Total
    35.70 + 0.00 + 5.30 = 41.00, below the 满减's 50 (counted after the offers: 41.00)."""
    catalog = catalog_with(tmp_path, OFFERS)
    scans = ["7612345001357*3", "7612345001340", "7612345001227*3"]
    result = quote(catalog, "--at", "2026-11-25T10:00", *scans)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "  gift: Toothpaste free" in text and "-3.20" in text, text
    assert "  add-on: Tea for 1.00" in text and "-4.60" in text, text
    as_json = quote(catalog, "--at", "2026-11-25T10:00", "--json", *scans)
    priced = json.loads(as_json.stdout)
    assert priced["total"] == "41.00"
    assert [line["total"] for line in priced["lines"]] == ["35.70", "0.00", "5.30"]
    summary = {p["id"]: p for p in priced["promotions"]}
    assert summary["gift-toothpaste"]["spend"] == "35.70"
    assert summary["tea-for-1"]["spend"] == "38.90"
    assert summary["tea-for-1"]["discount"] == "4.60"
    below = json.loads(quote(catalog, "--json", "7612345001357*2", "7612345001340").stdout)
    assert [line["total"] for line in below["lines"]] == ["23.80", "3.20"]  # 23.80 < 30.00


def test_quote_refuses_a_catalog_with_a_bad_offer(tmp_path: Path) -> None:
    bad = {**OFFERS[1], "price": "3.30"}
    result = quote(catalog_with(tmp_path, [bad]), "7612345001227")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "promotions[12] (tea-for-1).price: 3.30 is not below the price of TEA-GREEN" in (
        result.stderr
    ), result.stderr
