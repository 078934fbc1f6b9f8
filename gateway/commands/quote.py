"""`gateway quote`: price a basket offline from the command line.

For technicians and head office previewing prices and promotions: the same barcode parser,
catalog and totals engine the lane uses, with no database and no devices. Scans that
cannot be priced are listed in the output and make the exit status 1; the rest is priced.
A quantity on a weighed or price-labelled scan (`PLU1001@0.5*2`, `<label>*2`) refuses the
whole quote with exit status 2: such an item is rung up one label at a time.
"""

from __future__ import annotations

import argparse
import json
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from gateway.barcodes import Misread, parse_scan
from gateway.catalog.catalog import Catalog, load_catalog_file
from gateway.catalog.document import Product
from gateway.errors import UsageError
from gateway.pricing import (
    Basket,
    BasketLine,
    ManualDiscount,
    MemberContext,
    PricedBasket,
    price_basket,
    quantity_on_weighed_error,
)
from gateway.pricing.reduced import Reduction, reduction_problem
from gateway.receipts.text import render_quote
from gateway.settings import GatewaySettings, load_settings

SCAN_SYNTAX = re.compile(r"^(?P<code>[^@*]+)(?:@(?P<weight>[^@*]+))?(?:\*(?P<qty>[^@*]+))?$")


def register(sub: Any) -> None:
    quote = sub.add_parser(
        "quote",
        help="price a basket offline (no database, no devices)",
        description="Price scans against a catalog document. A SCAN is a barcode or PLU, "
        "optionally with @KG for a weighed item and *N for a quantity: "
        "4006381333931  2012345000007  PLU1001@0.456  4006381333931*3",
    )
    quote.add_argument("--catalog", required=True, metavar="FILE", help="catalog document (JSON)")
    quote.add_argument("--config", metavar="PATH", help="settings (label layouts, time zone)")
    quote.add_argument(
        "--at",
        metavar="ISO-TIME",
        help="price as at this store-local time, e.g. 2026-11-27T18:30 (default now)",
    )
    quote.add_argument("--member", metavar="ID", help="price for this member (member prices)")
    quote.add_argument(
        "--coupon",
        action="append",
        default=[],
        metavar="CODE",
        help="a coupon entered at the lane (repeatable)",
    )
    quote.add_argument(
        "--discount",
        metavar="10%|5.00",
        help="a discount on the whole basket (整单折扣), a percent or an amount off, as a "
        "supervisor enters it at the lane",
    )
    quote.add_argument("--json", action="store_true", help="print the full priced basket as JSON")
    quote.add_argument("scans", nargs="+", metavar="SCAN", help="barcodes or PLUs, as scanned")
    quote.set_defaults(func=_quote)


@dataclass(frozen=True)
class ScanProblem:
    scan: str
    kind: str  # "misread", "unknown", "needs_weight", "bad_input", "reduced_sticker"
    message: str


def _quote(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    catalog = load_catalog_file(args.catalog)
    at = parse_at(args.at, settings.store.timezone)
    lines: list[BasketLine] = []
    problems: list[ScanProblem] = []
    for scan in args.scans:
        line = scan_to_line(scan, catalog, settings)
        if isinstance(line, ScanProblem):
            problems.append(line)
        else:
            lines.append(line)
    member = MemberContext(args.member) if args.member else None
    discount = parse_discount(args.discount)
    basket = Basket(tuple(lines), at, member, tuple(args.coupon), discount)
    priced = price_basket(basket, catalog)
    if args.json:
        print(json.dumps(_json(priced, problems, at), indent=2, ensure_ascii=False))
    else:
        print(
            render_quote(
                priced,
                settings.store.receipt_width,
                settings.store.header,
                problems=[f"{p.scan}: {p.message}" for p in problems],
            ),
            end="",
        )
    return 1 if problems else 0


def parse_discount(text: str | None) -> ManualDiscount | None:
    """`--discount`: `10%` (a percent, more than 0, at most 100) or `5.00` (an amount)."""
    if text is None:
        return None
    raw = text.strip()
    fix = "write a percent like 10% or an amount like 5.00, more than zero"
    try:
        value = Decimal(raw.rstrip("%").strip())
        if raw.endswith("%"):
            return ManualDiscount(percent=value, reason="quote")
        return ManualDiscount(amount=value, reason="quote")
    except (InvalidOperation, ValueError) as exc:
        why = str(exc) if isinstance(exc, ValueError) and str(exc) else "not a number"
        raise UsageError(f"--discount {text!r}: {why}", fix=fix) from None


def parse_at(text: str | None, timezone: str) -> datetime:
    zone = ZoneInfo(timezone)
    if text is None:
        return datetime.now(zone).replace(tzinfo=None)
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"--at {text!r} is not an ISO-8601 time",
            fix="write it like 2026-11-27T18:30 (store-local) or with an offset, "
            "2026-11-27T18:30+01:00",
        ) from None
    return at.astimezone(zone).replace(tzinfo=None) if at.tzinfo else at


def scan_to_line(
    scan: str, catalog: Catalog, settings: GatewaySettings
) -> BasketLine | ScanProblem:
    match = SCAN_SYNTAX.match(scan)
    if match is None:
        return ScanProblem(scan, "bad_input", "write a scan as CODE, CODE@KG or CODE*N")
    parsed = parse_scan(match["code"], settings.barcodes)
    if isinstance(parsed, Misread):
        return ScanProblem(scan, "misread", f"misread: {parsed.reason}")
    try:
        weight = _decimal(match["weight"], "weight") if match["weight"] else parsed.weight
        qty = _decimal(match["qty"], "quantity") if match["qty"] else Decimal(parsed.count or 1)
    except ValueError as exc:
        return ScanProblem(scan, "bad_input", str(exc))
    product = catalog.lookup(parsed.lookup_keys)
    if product is None:
        return ScanProblem(
            scan,
            "unknown",
            "unknown item (not in catalog "
            f"v{catalog.version}; keys tried: {', '.join(parsed.lookup_keys)})",
        )
    if parsed.reduced_price is not None or parsed.reduced_percent is not None:
        return _reduced_line(
            scan, product, Reduction(parsed.reduced_price, parsed.reduced_percent), qty, parsed.raw
        )
    if weight is not None and (weight <= 0 or weight > 1000):
        return ScanProblem(
            scan, "bad_input", f"weight {weight} kg must be above 0 and at most 1000"
        )
    if product.weighed and weight is None and parsed.price is None:
        return ScanProblem(
            scan, "needs_weight", f"{product.name} is sold by weight: add @KG, e.g. {scan}@0.350"
        )
    if match["qty"] and (
        refused := quantity_on_weighed_error(qty, weight, parsed.price, f"scan {scan!r}")
    ):
        raise refused  # never priced once and the quantity dropped (exit status 2)
    if weight is not None or parsed.price is not None:
        qty = Decimal(1)  # priced by its weight or printed price: one line, one item
    elif qty != qty.to_integral_value() or not 1 <= qty <= 9999:
        return ScanProblem(scan, "bad_input", f"quantity {qty} must be a whole number 1-9999")
    return BasketLine(
        product.sku, quantity=qty, weight=weight, label_price=parsed.price, code=parsed.raw
    )


def _reduced_line(
    scan: str, product: Product, reduction: Reduction, qty: Decimal, code: str
) -> BasketLine | ScanProblem:
    """A reduced-to-clear sticker: one item at the sticker's price, or listed as refused
    as the lane refuses it (`reduced_sticker`)."""
    if problem := reduction_problem(product, reduction, qty):
        return ScanProblem(scan, "reduced_sticker", f"reduced sticker refused: {problem}")
    return BasketLine(product.sku, reduced=reduction, code=code)


def _decimal(text: str, what: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{what} {text!r} is not a number") from None
    if not value.is_finite():
        raise ValueError(f"{what} {text!r} is not a number")
    return value


def _json(priced: PricedBasket, problems: list[ScanProblem], at: datetime) -> dict[str, Any]:
    data = priced.to_json()
    data["priced_at"] = at.isoformat()
    data["problems"] = [p.__dict__ for p in problems]
    return data
