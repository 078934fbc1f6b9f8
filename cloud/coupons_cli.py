"""`cloud coupon serials`: the printed codes of a promotion's serial coupons (docs/cloud.md,
"Serial coupons"), computed from the catalog's secret with `gateway.catalog.serials`.

Argument handling and output only: the codes are `cloud.coupons.serial_table`'s (the
serials page's too), whose shape and check are the box's own module, so head office
prints exactly what the lane accepts.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cloud import render
from cloud.coupons import serial_table

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


def _serials(args: argparse.Namespace) -> int:
    table = serial_table(args.promotion, args.catalog, args.first, args.count)
    if args.out is not None:
        written = render.write_file(table, args.out)
        print(f"{len(table.rows)} codes written to {written}")
    else:
        print(render.csv_text(table), end="")
    return 0
