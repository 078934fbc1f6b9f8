"""`money.tax_per = "rate"`: VAT rounded once per rate on the basket, shared back to the
lines by largest remainder (docs/pricing.md step 4). Hand-computed cases, the rule as a
property over random baskets, and `gateway quote` as a technician runs it."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pricing_catalogs import BASE, D, catalog, line, price

from gateway.catalog.document import CatalogError

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = str(ROOT / "config" / "gateway.example.toml")


def test_exclusive_tax_per_rate_is_rounded_once_and_shared() -> None:
    """Three pens of 1.20 net at 8.1%, one line each. Per line: 1.20 x 8.1% = 0.0972 ->
    0.10, three times 0.30. Per rate: 3.60 x 8.1% = 0.2916 -> 0.29, shared over three
    equal lines: 0.09 each (0.27) and the two cents left to the first two: 0.10 / 0.10 /
    0.09. The basket is 3.89 instead of 3.90."""
    per_line = price(catalog(), line("PEN"), line("PEN"), line("PEN"))
    assert [ln.tax for ln in per_line.lines] == [D("0.10")] * 3 and per_line.total == D("3.90")
    basket = price(catalog(tax_per="rate"), line("PEN"), line("PEN"), line("PEN"))
    assert [ln.tax for ln in basket.lines] == [D("0.10"), D("0.10"), D("0.09")]
    assert [ln.total for ln in basket.lines] == [D("1.30"), D("1.30"), D("1.29")]
    assert basket.total == D("3.89") and basket.tax == D("0.29")
    (summary,) = basket.taxes
    assert (summary.net, summary.tax, summary.gross) == (D("3.60"), D("0.29"), D("3.89"))


def test_inclusive_tax_per_rate_is_backed_out_of_the_rates_gross() -> None:
    """Three breads of 3.00 at 2.6% inclusive and a wine of 12.50 at 8.1%. Per line:
    3.00 x 2.6 / 102.6 = 0.0760 -> 0.08, three times 0.24; the wine 0.9366 -> 0.94. Per
    rate: 9.00 x 2.6 / 102.6 = 0.2281 -> 0.23 (0.08 / 0.08 / 0.07); the wine alone is its
    rate's only line, 0.94. Totals do not move: the tax is inside the prices."""
    lines = (line("B"), line("B"), line("B"), line("WINE"))
    per_line = price(catalog(), *lines)
    basket = price(catalog(tax_per="rate"), *lines)
    assert per_line.tax == D("1.18") and basket.tax == D("1.17")
    assert [ln.tax for ln in basket.lines] == [D("0.08"), D("0.08"), D("0.07"), D("0.94")]
    assert basket.total == per_line.total == D("21.50")
    assert [(t.tax_class, t.tax) for t in basket.taxes] == [("food", D("0.23")), ("std", D("0.94"))]


def test_moling_then_tax_per_rate_on_the_new_totals() -> None:
    """CNY, 抹零 to 1.00: bread 3 x 3.00 and a pen 1.20 net (+0.10) = 10.30 -> 10.00, the
    0.30 shared over 9.00 / 1.30 (0.26 / 0.04). The breads' rate: 8.74 x 2.6 / 102.6 =
    0.2215 -> 0.22; the pen, 抹零'd, has its tax backed out of 1.26: 1.26 x 8.1 / 108.1 =
    0.0944 -> 0.09."""
    basket = price(
        catalog(currency="CNY", moling={"increment": "1.00"}, tax_per="rate"),
        line("B", 3),
        line("PEN"),
    )
    assert basket.total == D("10.00") and basket.moling == D("-0.30")
    bread, pen = basket.lines
    assert (bread.total, bread.tax) == (D("8.74"), D("0.22"))
    assert (pen.total, pen.tax, pen.amount) == (D("1.26"), D("0.09"), D("1.17"))


def test_an_unknown_tax_per_is_refused_with_the_choices() -> None:
    with pytest.raises(CatalogError) as refused:
        catalog(tax_per="basket")
    assert "tax_per" in str(refused.value) and "'line' or 'rate'" in str(refused.value)


SKUS = ["A", "B", "PEN", "WINE"]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(SKUS), st.integers(1, 7)), min_size=1, max_size=20))
def test_each_rates_tax_is_its_gross_or_net_rounded_once(picks: list[tuple[str, int]]) -> None:
    """Without 抹零 every rate's tax is its lines' gross (inclusive) or net (exclusive)
    rounded half up once, the lines' shares add up to it, and no line's share is more
    than a cent from its proportion of it (pens 1.20, 1.20 and 8.40 at 8.1%: 0.8748 ->
    0.87, shares 0.10 / 0.10 / 0.67 against 0.0967 / 0.0967 / 0.6767)."""
    cat = catalog(tax_per="rate")
    basket = price(cat, *(line(sku, qty) for sku, qty in picks))
    cent = Decimal("0.01")
    for summary in basket.taxes:
        rate = summary.rate
        of_rate = [ln for ln in basket.lines if ln.tax_class == summary.tax_class]
        if cat.tax_classes[summary.tax_class].inclusive:
            exact = [ln.total * rate / (100 + rate) for ln in of_rate]
        else:
            exact = [ln.amount * rate / 100 for ln in of_rate]
        assert summary.tax == sum(exact, Decimal(0)).quantize(cent, ROUND_HALF_UP)
        assert sum((ln.tax for ln in of_rate), Decimal(0)) == summary.tax
        whole = sum(exact, Decimal(0))
        if whole:  # each share within a cent of its proportion of the rounded tax
            parts = [summary.tax * e / whole for e in exact]
            assert all(abs(ln.tax - p) < cent for ln, p in zip(of_rate, parts, strict=True))
    assert basket.total == sum((ln.total for ln in basket.lines), Decimal(0))


def quote(catalog: Path) -> list[str]:
    cli = [sys.executable, "-m", "gateway.cli", "quote"]
    return [*cli, "--catalog", str(catalog), "--config", SETTINGS]


def test_gateway_quote_prints_the_rates_tax(tmp_path: Path) -> None:
    document = copy.deepcopy(BASE)
    document["money"]["tax_per"] = "rate"
    pen = next(p for p in document["products"] if p["sku"] == "PEN")
    pen["plu"] = "77"  # (the pricing catalogs' pen has no code to scan)
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(document))
    done = subprocess.run(
        [*quote(path), "--json", "77", "77", "77"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    quoted = json.loads(done.stdout)
    assert quoted["total"] == "3.89" and quoted["tax"] == "0.29"
    document["money"]["tax_per"] = "receipt"
    path.write_text(json.dumps(document))
    bad = subprocess.run(
        [*quote(path), "77"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    assert "tax_per" in bad.stderr
