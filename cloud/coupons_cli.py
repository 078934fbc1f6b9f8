"""`cloud coupon serials`: the printed codes of a promotion's serial coupons (docs/cloud.md,
"Serial coupons"), computed from the catalog's secret with `gateway.catalog.serials`.

Argument handling and output only; the codes' shape and check are the box's own module,
so head office prints exactly what the lane accepts.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cloud import render
from cloud.reports import Table
from gateway.catalog.document import read_document
from gateway.catalog.serials import MAX_SERIAL, serial_code
from gateway.errors import UsageError

ArgAdder = Callable[[argparse.ArgumentParser], None]


def register(sub: Any, db_arg: ArgAdder, broker_args: ArgAdder) -> None:
    top = sub.add_parser(
        "coupon",
        help="serial coupons: the codes to print for a promotion",
        description="Serial coupons (a catalog promotion's `serials`): each printed code "
        "is usable once; its check comes from the promotion's secret in the catalog.",
    )
    acts = top.add_subparsers(dest="coupon_command", metavar="ACTION", required=True)
    serials = acts.add_parser(
        "serials", help="the codes of serials FROM to FROM+COUNT-1 of a promotion"
    )
    serials.add_argument("promotion", metavar="PROMO_ID", help="the promotion's id")
    serials.add_argument(
        "--catalog", required=True, type=Path, help="the catalog file that holds its secret"
    )
    serials.add_argument("--from", dest="first", type=int, default=1, help="first serial (1)")
    serials.add_argument("--count", type=int, default=100, help="how many codes (100)")
    serials.add_argument(
        "--out", type=Path, help="write a .csv (UTF-8 with a BOM) or .xlsx file instead"
    )
    serials.set_defaults(func=_serials)


def serial_table(promotion: str, catalog: Path, first: int, count: int) -> Table:
    """The codes as a table (serial, code), or a UsageError saying what to change."""
    doc = read_document(catalog)
    promo = next((p for p in doc.promotions if p.id == promotion), None)
    if promo is None:
        known = ", ".join(p.id for p in doc.promotions if p.serials is not None) or "none"
        raise UsageError(
            f"no promotion {promotion} in the catalog",
            where=str(catalog),
            fix=f"give the id of a promotion with serials (here: {known})",
        )
    if promo.serials is None:
        raise UsageError(
            f"promotion {promotion} takes no serial coupons",
            where=f"{catalog}: promotion {promotion}",
            fix="add serials: {prefix, secret} to it in the catalog, or give another id",
        )
    if first < 1 or count < 1 or first + count - 1 > MAX_SERIAL:
        raise UsageError(
            f"serials {first} to {first + count - 1} are out of range",
            where="--from / --count",
            fix=f"serials run from 1 to {MAX_SERIAL}: --from at least 1, --count at least 1",
        )
    prefix, secret = promo.serials.prefix, promo.serials.secret
    rows: list[list[Any]] = [
        [n, serial_code(prefix, secret, n)] for n in range(first, first + count)
    ]
    return Table(f"Serial coupons of {promotion}", ["serial", "code"], rows)


def _serials(args: argparse.Namespace) -> int:
    table = serial_table(args.promotion, args.catalog, args.first, args.count)
    if args.out is not None:
        written = render.write_file(table, args.out)
        print(f"{len(table.rows)} codes written to {written}")
    else:
        print(render.csv_text(table), end="")
    return 0
