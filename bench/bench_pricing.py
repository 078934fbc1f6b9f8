"""Benchmarks for issue 2: pricing a big basket, loading a big catalog, looking up a barcode;
issue 14: pricing per scan.

Run: .venv/bin/python bench/bench_pricing.py   (about half a minute; --pricing-only: a few
seconds; --scan-only: the per-scan figures alone)

Each figure is printed beside a baseline measured in the same run on the same data, so the
ratio means something on any machine:
- pricing: p99 of `price_basket` for a 200-line basket against a catalog with 50 live
  promotions; baseline = summing the same lines' price x quantity in Decimal;
- catalog load: validate + index + store a 100,000-product document in SQLite; baseline =
  `json.loads` of the same text;
- barcode: p99 of `parse_scan` + catalog look-up (and of the SQLite index probe);
  baseline = a bare dict look-up of the same key;
- per scan (issue 14): `price_scan` of the 1st, 50th and 200th line of that basket, each
  from the memo the scans before it left (as the lane carries it); baseline = a full
  `price_basket` of the same basket, timed alternately in the same run.
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

from biip.checksums import gs1_standard_check_digit

from gateway.barcodes import lookup_key_for_code, parse_scan
from gateway.catalog.catalog import build_catalog
from gateway.catalog.document import loads, parse_document
from gateway.catalog.store import CatalogStore
from gateway.database import open_database
from gateway.pricing import Basket, BasketLine, MemberContext, PricingMemo, price_basket, price_scan
from gateway.settings import BarcodeSettings

AT = datetime(2026, 11, 25, 18, 30)


def ean(n: int) -> str:
    body = f"76{n:010d}"
    return body + str(gs1_standard_check_digit(body))


def make_document(
    products: int, promotions: int, seed: int = 7, thresholds: bool = True
) -> dict[str, Any]:
    """`promotions` live promotions, the last 5 of them spend thresholds (without
    `thresholds`: those 5 left out)."""
    rnd = random.Random(seed)
    categories = [{"id": f"c{i}", "name": f"Category {i}"} for i in range(40)]
    items = []
    for n in range(products):
        weighed = n % 10 == 0
        item: dict[str, Any] = {
            "sku": f"S{n}",
            "name": f"Product {n}",
            "barcodes": [] if weighed else [ean(n)],
            "unit": "kg" if weighed else "each",
            "price": f"{rnd.randint(50, 5000) / 100:.2f}",
            "tax_class": "food" if n % 3 else "std",
            "category": f"c{n % 40}",
        }
        if weighed:
            item["plu"] = str(n % 999999)
        if n % 7 == 0:
            item["member_price"] = f"{Decimal(item['price']) * Decimal('0.9'):.2f}"
        items.append(item)
    promos: list[dict[str, Any]] = []
    kinds = ["percent_off", "amount_off", "fixed_price", "buy_get", "bundle"]
    for i in range(promotions - 5):
        kind = kinds[i % len(kinds)]
        target = (
            {"categories": [f"c{i % 40}"]}
            if i % 2
            else {"skus": [f"S{rnd.randrange(min(products, 400))}" for _ in range(5)]}
        )
        promo: dict[str, Any] = {
            "type": kind,
            "id": f"p{i}",
            "name": f"Promotion {i}",
            "target": target,
            "priority": rnd.randint(1, 100),
        }
        terms: dict[str, dict[str, Any]] = {
            "percent_off": {"percent": "10"},
            "amount_off": {"amount": "0.20"},
            "fixed_price": {"price": "0.99"},
            "buy_get": {"buy": 2, "get": 1},
            "bundle": {"quantity": 3, "price": "5.00"},
        }
        promo.update(terms[kind])
        promos.append(promo)
    for i in range(5 if thresholds else 0):
        promos.append(
            {
                "type": "basket_threshold",
                "id": f"t{i}",
                "name": f"Threshold {i}",
                "stackable": i > 2,
                "tiers": [
                    {"threshold": str(50 * (i + 1)), "amount": str(5 + i)},
                    {"threshold": str(200 * (i + 1)), "amount": str(25 + i)},
                ],
            }
        )
    return {
        "schema": "storegate.catalog/1",
        "version": 1,
        "money": {"currency": "CHF", "decimals": 2, "cash_rounding": {"increment": "0.05"}},
        "tax_classes": [
            {"id": "food", "name": "reduced", "rate": "2.6", "inclusive": True},
            {"id": "std", "name": "standard", "rate": "8.1", "inclusive": True},
        ],
        "categories": categories,
        "products": items,
        "promotions": promos,
    }


def load_average() -> str:
    """The machine's 1-minute load average (other work skews every figure), if known."""
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "unknown"


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def timed(fn: Callable[[], object], rounds: int) -> list[float]:
    out = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def bench_lines(catalog: Any, count: int = 200) -> list[BasketLine]:
    rnd = random.Random(1)
    lines = []
    for _ in range(count):
        sku = f"S{rnd.randrange(400)}"
        product = catalog.products[sku]
        if product.weighed:
            lines.append(BasketLine(sku, weight=Decimal(rnd.randint(100, 2000)) / 1000))
        else:
            lines.append(BasketLine(sku, quantity=Decimal(rnd.randint(1, 3))))
    return lines


def bench_pricing() -> None:
    document = make_document(2000, 50)
    catalog = build_catalog(parse_document(document))
    lines = bench_lines(catalog)
    basket = Basket(tuple(lines), AT, MemberContext("M1"))
    priced = price_basket(basket, catalog)
    applied = len(priced.promotions)

    def baseline() -> Decimal:
        total = Decimal(0)
        for line in lines:
            product = catalog.products[line.sku]
            total += product.price * (line.weight or line.quantity)
        return total

    for _ in range(20):
        price_basket(basket, catalog)
    engine = timed(lambda: price_basket(basket, catalog), 500)
    base = timed(baseline, 500)
    p99, base_p99 = percentile(engine, 0.99), percentile(base, 0.99)
    print(
        f"price 200-line basket, 50 live promotions ({applied} applied): "
        f"p50 {statistics.median(engine) * 1e3:.3f} ms, p99 {p99 * 1e3:.3f} ms "
        f"(target < 2 ms: {'PASS' if p99 < 0.002 else 'FAIL'}); "
        f"baseline Decimal sum p99 {base_p99 * 1e3:.3f} ms, ratio {p99 / base_p99:.1f}x"
    )
    # the engine learns what each product's lines need once per catalog and set of live
    # promotions; the first pricing after a new catalog (or a schedule change) pays for it
    first = []
    for _ in range(5):
        fresh = build_catalog(parse_document(document))
        first.extend(timed(partial(price_basket, basket, fresh), 1))
    print(
        f"  first pricing with a new catalog: median {statistics.median(first) * 1e3:.3f} ms (of 5)"
    )


def bench_scan(thresholds: bool = True, rounds: int = 1000) -> None:
    """The scan of the 1st, 50th and 200th line, priced from the memo the scans before left
    (`price_scan`, as the lane does), against a full `price_basket` of the same basket in
    the same run: the two timed alternately, so other work on the machine hits both. Without
    `thresholds`: the same catalog less its 5 spend thresholds (45 live promotions)."""
    catalog = build_catalog(parse_document(make_document(2000, 50, thresholds=thresholds)))
    lines = bench_lines(catalog)
    member = MemberContext("M1")
    memos: dict[int, PricingMemo | None] = {}
    memo: PricingMemo | None = None
    for n in range(len(lines) + 1):  # ring the basket up scan by scan, as the lane does
        memos[n] = memo
        if n:
            _, memo = price_scan(Basket(tuple(lines[:n]), AT, member), catalog, memo)
    print(
        "per scan, 50 live promotions (5 of them thresholds)"
        if thresholds
        else "per scan, the same catalog without its thresholds (45 live promotions)"
    )
    for n in (1, 50, 200):
        basket = Basket(tuple(lines[:n]), AT, member)
        before = memos[n - 1]
        scan = partial(price_scan, basket, catalog, before)
        full = partial(price_basket, basket, catalog)
        assert scan()[0] == full()  # the same result, field for field
        for _ in range(20):
            scan(), full()
        scans, fulls = [], []
        for _ in range(rounds):
            scans.extend(timed(scan, 1))
            fulls.extend(timed(full, 1))
        p99, full_p99 = percentile(scans, 0.99), percentile(fulls, 0.99)
        p50, full_p50 = statistics.median(scans), statistics.median(fulls)
        best, full_best = min(scans), min(fulls)
        target = f" (target < 0.5 ms: {'PASS' if p99 < 0.0005 else 'FAIL'})" if n == 200 else ""
        print(
            f"  scan of line {n}: price_scan p50 {p50 * 1e3:.3f} ms, p99 {p99 * 1e3:.3f} ms"
            f"{target}, best {best * 1e3:.3f} ms; full price_basket p50 {full_p50 * 1e3:.3f} ms, "
            f"p99 {full_p99 * 1e3:.3f} ms, best {full_best * 1e3:.3f} ms; ratio p50 "
            f"{p50 / full_p50:.2f}, p99 {p99 / full_p99:.2f}, best {best / full_best:.2f}"
        )


def bench_catalog_load(workdir: Path) -> None:
    text = json.dumps(make_document(100_000, 50))
    start = time.perf_counter()
    json.loads(text)
    bare = time.perf_counter() - start
    start = time.perf_counter()
    doc = parse_document(loads(text, "bench"), "bench")
    validated = time.perf_counter() - start
    store = CatalogStore(open_database(workdir / "load.db"))
    start = time.perf_counter()
    store.apply(doc, text, "bench")
    stored = time.perf_counter() - start
    total = validated + stored
    print(
        f"load 100,000-product catalog ({len(text) / 1e6:.1f} MB): validate {validated:.2f} s "
        f"+ index and store in SQLite {stored:.2f} s = {total:.2f} s "
        f"(target < 3 s: {'PASS' if total < 3 else 'FAIL'}); "
        f"baseline json.loads {bare:.2f} s, ratio {total / bare:.1f}x"
    )
    bench_lookup(store, build_catalog(doc))


def bench_lookup(store: CatalogStore, catalog: Any) -> None:
    rnd = random.Random(3)
    codes = [ean(rnd.randrange(100_000)) for _ in range(20_000)]
    codes = [c for c in codes if lookup_key_for_code(c) in catalog.codes]
    settings = BarcodeSettings()
    keys = {c: lookup_key_for_code(c) for c in codes}

    def scan_samples(fn: Callable[[str], object]) -> list[float]:
        out = []
        for code in codes:
            start = time.perf_counter()
            fn(code)
            out.append(time.perf_counter() - start)
        return out

    def via_engine(code: str) -> object:
        parsed = parse_scan(code, settings)
        return catalog.lookup(parsed.lookup_keys)  # type: ignore[union-attr]

    memory = scan_samples(via_engine)
    sqlite = scan_samples(lambda code: store.sku_for_code(keys[code]))
    bare = scan_samples(lambda code: catalog.codes.get(keys[code]))
    p99m, p99s, p99b = (percentile(s, 0.99) * 1e6 for s in (memory, sqlite, bare))
    print(
        f"barcode scan -> product ({len(codes)} scans, 100k catalog): parse + look-up p99 "
        f"{p99m:.1f} us (target < 50 us: {'PASS' if p99m < 50 else 'FAIL'}); SQLite index "
        f"probe p99 {p99s:.1f} us; baseline dict look-up p99 {p99b:.2f} us, "
        f"ratio {p99m / p99b:.0f}x"
    )


def main() -> int:
    print(f"python {sys.version.split()[0]}, load average {load_average()}")
    if "--scan-only" in sys.argv[1:]:
        bench_scan()
        bench_scan(thresholds=False)
        print(f"load average {load_average()}")
        return 0
    bench_pricing()
    bench_scan()
    bench_scan(thresholds=False)
    print(f"load average {load_average()}")
    if "--pricing-only" not in sys.argv[1:]:
        with tempfile.TemporaryDirectory() as tmp:
            bench_catalog_load(Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
