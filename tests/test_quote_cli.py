"""`gateway quote` as a technician runs it: a subprocess on the shipped example files."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CATALOG = str(ROOT / "config" / "catalog.example.json")
SETTINGS = str(ROOT / "config" / "gateway.example.toml")
EXPECTED = ROOT / "tests" / "expected" / "quote_many_promotions.txt"

# chocolate 3 for 2 + snacks, yoghurt bundle, member price + member offer, a deli price
# label in the evening discount, a produce weight label, a capped pasta offer, a net-priced
# office item (tax added), a coupon and Swiss cash rounding.
MANY_PROMOTIONS = [
    "7612345001234*2",
    "7612345001241",
    "7612345001258",
    "7612345001050",
    "7612345001067",
    "7612345001081",
    "7612345001012*2",
    "2202001009831",
    "2301001012343",
    "PLU1002@1.234",
    "7612345001142*5",
    "4006381333931*10",
]


def quote(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway.cli",
            "quote",
            "--catalog",
            CATALOG,
            "--config",
            SETTINGS,
            *args,
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )


def test_receipt_for_a_basket_hitting_several_promotions() -> None:
    result = quote(
        "--at", "2026-11-27T18:30", "--member", "M-1001", "--coupon", "WELCOME5", *MANY_PROMOTIONS
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == EXPECTED.read_text()


def test_json_output_carries_every_adjustment() -> None:
    result = quote(
        "--json",
        "--at",
        "2026-11-27T18:30",
        "--member",
        "M-1001",
        "--coupon",
        "WELCOME5",
        *MANY_PROMOTIONS,
    )
    data = json.loads(result.stdout)
    assert data["total"] == "39.32" and data["cash_total"] == "39.30"
    promotions = {p["id"] for p in data["promotions"]}
    assert {
        "choc-3for2",
        "snacks-15",
        "yog-3for2",
        "member-dairy-10",
        "deli-evening",
        "apples-20",
        "pasta-050",
        "office-week",
        "coupon-welcome5",
    } <= promotions
    total = sum(Decimal(line["total"]) for line in data["lines"])
    assert total == Decimal(data["total"])


def test_unknown_and_misread_scans_are_reported_not_raised() -> None:
    result = quote("4006381333931", "4006381333932", "7612345999999", "PLU1001", "PLU77@x")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "4006381333932: misread: check digit is 2, expected 1" in result.stdout.replace(
        "\n", " "
    )
    assert "7612345999999: unknown item" in result.stdout
    assert "PLU77@x: weight 'x' is not a number" in result.stdout
    assert "PLU1001: Apples Gala is sold by weight" in result.stdout.replace("\n", " ")
    assert "Highlighter yellow" in result.stdout  # the good scan is still priced


def test_bad_time_and_bad_catalog_exit_2(tmp_path: Path) -> None:
    result = quote("--at", "yesterday", "4006381333931")
    assert result.returncode == 2 and "--at 'yesterday' is not an ISO-8601 time" in result.stderr
    bad = tmp_path / "c.json"
    bad.write_text('{"schema": "storegate.catalog/1"}')
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "quote", "--catalog", str(bad), "4006381333931"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 2 and "catalog refused" in result.stderr
    assert "money: Field required" in result.stderr


def test_two_yoghurt_sets_each_cost_the_bundle_price() -> None:
    # "Any 3 yoghurts for 2.00" twice: mocha 0.95 x 3 and strawberry 0.85 x 3. Units by
    # price: 0.95 0.95 0.95 | 0.85 0.85 0.85, so set 1 is the mochas (2.85 - 2.00 = 0.85
    # off) and set 2 the strawberries (2.55 - 2.00 = 0.55 off): each line costs 2.00.
    # (Pooled, 1.40 over all six units gave 0.74 / 0.66: lines of 2.11 and 1.89.)
    result = quote("--json", "--at", "2026-11-25T10:00", "7612345001074*3", "7612345001050*3")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert [(line["sku"], line["total"]) for line in data["lines"]] == [
        ("YOG-MOC", "2.00"),
        ("YOG-STR", "2.00"),
    ]
    assert [a["amount"] for line in data["lines"] for a in line["adjustments"]] == [
        "-0.85",
        "-0.55",
    ]


def test_a_quantity_on_a_weighed_or_labelled_scan_is_refused_exit_2() -> None:
    for scan, what in (
        ("PLU1001@0.500*2", "quantity 2 on a weighed item"),
        ("2202001009831*2", "quantity 2 on a price-labelled item"),  # ham, price label
        ("2301001012343*3", "quantity 3 on a weighed item"),  # apples, weight label
    ):
        result = quote("--at", "2026-11-25T10:00", "4006381333931", scan)
        assert result.returncode == 2, (scan, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr and result.stdout == ""
        assert f"scan {scan!r}: {what}" in result.stderr, result.stderr
        assert "rung up one label at a time: scan each label / weigh each item" in result.stderr
        assert "fix: drop the quantity" in result.stderr
    one = quote("--json", "--at", "2026-11-25T10:00", "PLU1001@0.500*1", "2202001009831*1")
    assert one.returncode == 0, one.stderr
    lines = json.loads(one.stdout)["lines"]
    assert [(line["sku"], line["quantity"], line["list_amount"]) for line in lines] == [
        ("APPLE-GALA", "0.500", "1.90"),
        ("DELI-HAM", "1", "9.83"),
    ]


def test_a_known_coupon_that_gives_nothing_says_why() -> None:
    # WELCOME5: 5.00 off from 30.00; milk 1.75 x 2 = 3.50
    result = quote("--at", "2026-11-25T10:00", "--coupon", "WELCOME5", "7612345001012*2")
    assert result.returncode == 0, result.stderr
    said = " ".join(result.stdout.split())
    assert (
        "! coupon WELCOME5 does not apply: spend 30.00 on qualifying items (this basket: 3.50)"
        in said
    ), result.stdout
    data = json.loads(
        quote(
            "--json", "--at", "2026-11-25T10:00", "--coupon", "WELCOME5", "7612345001012*2"
        ).stdout
    )
    assert data["notices"] == [
        "coupon WELCOME5 does not apply: spend 30.00 on qualifying items (this basket: 3.50)"
    ]


def test_a_basket_discount_is_quoted_and_a_bad_one_exits_2() -> None:
    """整单折扣 as the lane prices it: 10% of 8.85 = 0.885 -> 0.89, one row under the lines."""
    result = quote("--discount", "10%", "7612345001012*3", "7612345001166")
    assert result.returncode == 0, result.stderr
    assert "basket discount 10%                  -0.89" in result.stdout
    assert "TOTAL CHF                             7.96" in result.stdout
    as_json = json.loads(quote("--json", "--discount", "2.00", "7612345001166").stdout)
    assert as_json["basket_discounts"] == "2.00" and as_json["total"] == "1.60"
    for bad, why in (("0", "not more than 0"), ("150%", "up to 100"), ("ten", "not a number")):
        refused = quote("--discount", bad, "7612345001166")
        assert refused.returncode == 2 and why in refused.stderr, refused.stderr
        assert "Traceback" not in refused.stderr


DRINK_TIERS = {  # 2件9折 3件8折 on drinks
    "type": "quantity_tiers",
    "id": "drinks-tiers",
    "name": "Drinks: 2 -10%, 3 -20%",
    "target": {"categories": ["drinks"]},
    "tiers": [{"min_units": 2, "percent_off": "10"}, {"min_units": 3, "percent_off": "20"}],
}
TEA_HALF = {  # 限购 1
    "type": "percent_off",
    "id": "tea-half",
    "name": "Green tea half price, 1 per sale",
    "target": {"skus": ["TEA-GREEN"]},
    "percent": "50",
    "limit_per_sale": 1,
}


def _catalog_with(tmp_path: Path, *promotions: dict[str, object]) -> str:
    doc = json.loads(Path(CATALOG).read_text())
    doc["promotions"].extend(promotions)
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(doc))
    return str(path)


def _quote_with(catalog: str, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "gateway.cli", "quote", "--catalog", catalog]
    return subprocess.run(
        [*command, "--config", SETTINGS, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )


def test_quantity_tiers_and_a_limit_per_sale_are_quoted(tmp_path: Path) -> None:
    catalog = _catalog_with(tmp_path, DRINK_TIERS, TEA_HALF)
    scans = ["7612345001296*2", "7612345001302", "7612345001227*3"]
    result = _quote_with(catalog, "--json", "--at", "2026-11-25T10:00", *scans)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    # cola 2.10 x 2 and orange juice 2.90: 3 drinks, 20% off each:
    #   cola 0.42 x 2 = 0.84 off (3.36), juice 0.58 off (2.32)
    # green tea 3.30 x 3, half price on 1 only: 1.65 off, 9.90 - 1.65 = 8.25
    assert [(line["sku"], line["total"]) for line in data["lines"]] == [
        ("COLA-15", "3.36"),
        ("JUICE-OR", "2.32"),
        ("TEA-GREEN", "8.25"),
    ]
    details = [a["detail"] for line in data["lines"] for a in line["adjustments"]]
    assert details == [
        "20% off each from 3 units",
        "20% off each from 3 units",
        "50% off (limit 1 per sale: 1 of 3 units; 2 at the normal price)",
    ]
    assert data["total"] == "13.93"
    receipt = _quote_with(catalog, "--at", "2026-11-25T10:00", *scans)
    assert receipt.returncode == 0, receipt.stderr
    assert "Drinks: 2 -10%, 3 -20%" in receipt.stdout
    assert "13.93" in receipt.stdout


def test_bad_quantity_tiers_refuse_the_catalog_naming_the_promotion(tmp_path: Path) -> None:
    bad = {**DRINK_TIERS, "tiers": [DRINK_TIERS["tiers"][1], DRINK_TIERS["tiers"][0]]}  # type: ignore[index]
    result = _quote_with(_catalog_with(tmp_path, bad), "7612345001296")
    assert result.returncode == 2
    assert "catalog refused" in result.stderr
    assert (
        "promotions[12] (drinks-tiers).tiers: min_units and percent_off must both increase"
        in result.stderr
    )
    assert "Traceback" not in result.stderr
