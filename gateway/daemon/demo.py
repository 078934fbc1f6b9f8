"""`gateway demo`: the README's main job, a scripted shopping day a visitor can watch.

Owns the demo script only. Pricing goes through the same barcode parser, catalog and
totals engine as `gateway quote` and the lane; nothing here computes money itself.
"""

from __future__ import annotations

import argparse
from decimal import Decimal
from pathlib import Path

from gateway.catalog.catalog import load_catalog_file
from gateway.commands.quote import ScanProblem, parse_at, scan_to_line
from gateway.errors import UsageError
from gateway.pricing import Basket, BasketLine, price_basket
from gateway.receipts.text import render_quote
from gateway.settings import load_settings

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_CONFIG = REPO / "config" / "gateway.example.toml"
EXAMPLE_CATALOG = REPO / "config" / "catalog.example.json"

# A morning's baskets: barcodes, weighed PLUs (@kg) and quantities (*n).
SCRIPTED_BASKETS: tuple[tuple[str, ...], ...] = (
    ("7612345001012", "7612345001135*3", "PLU1001@0.456"),
    ("7612345001036", "7612345001111", "PLU2001@0.180", "7612345001128"),
    ("7612345001050*4", "7612345001197", "PLU1002@1.230"),
)


def basket_lines(scans: tuple[str, ...], catalog_path: Path, config_path: Path) -> list[BasketLine]:
    """Turn the script's scans into basket lines; a scan the catalog refuses is a bug here."""
    settings = load_settings(config_path)
    catalog = load_catalog_file(catalog_path)
    lines: list[BasketLine] = []
    for scan in scans:
        line = scan_to_line(scan, catalog, settings)
        if isinstance(line, ScanProblem):
            raise UsageError(f"demo scan {scan!r}: {line.message}", where=str(catalog_path))
        lines.append(line)
    return lines


def run_quote_demo(catalog_path: Path, config_path: Path) -> Decimal:
    """Price every scripted basket and print its receipt; returns the day's total."""
    settings = load_settings(config_path)
    catalog = load_catalog_file(catalog_path)
    at = parse_at("2026-11-27T10:30", settings.store.timezone)
    day_total = Decimal("0")
    for number, scans in enumerate(SCRIPTED_BASKETS, start=1):
        lines = basket_lines(scans, catalog_path, config_path)
        priced = price_basket(Basket(tuple(lines), at, None, ()), catalog)
        print(f"== basket {number}: {' '.join(scans)}")
        print(render_quote(priced, settings.store.receipt_width, settings.store.header), end="")
        day_total += priced.total
    print(f"== {len(SCRIPTED_BASKETS)} baskets, total {day_total}")
    return day_total


def demo_command(args: argparse.Namespace) -> int:
    run_quote_demo(Path(args.catalog), Path(args.config))
    return 0
