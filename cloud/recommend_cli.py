"""`cloud recommend`: put "often bought with" into a catalog document before publishing.

The rules are `cloud report affinity`'s (cloud.affinity), over the period's sales of one
store or of every store; the catalog file itself is not changed: the result is written to
`--out` and published with `cloud publish catalog` like any catalog, so `--preview` and a
staged rollout apply to it too (docs/cloud.md, "Recommendations").
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gateway.errors import UsageError

ArgAdder = Callable[[argparse.ArgumentParser], None]
PER_PRODUCT = 3  # gateway.catalog.document.MAX_RECOMMENDATIONS: what the screen shows


def register(sub: Any, db_arg: ArgAdder, broker_args: ArgAdder) -> None:
    from cloud.reports_cli import MIN_CONFIDENCE, MIN_SUPPORT

    recommend = sub.add_parser(
        "recommend",
        help="write 'often bought with' into a catalog document from the sales",
        description="Compute association rules over the period's baskets (as `cloud report "
        "affinity`) and write CATALOG with its `recommendations` set to --out, for `cloud "
        "publish catalog`; the customer screen shows them beside the item just scanned.",
    )
    recommend.add_argument("catalog", type=Path, help="the catalog document to start from")
    recommend.add_argument("--out", type=Path, required=True, help="where to write the result")
    recommend.add_argument("--from", dest="first", help="first business day (YYYY-MM-DD)")
    recommend.add_argument("--to", dest="last", help="last business day (YYYY-MM-DD)")
    recommend.add_argument("--store", help="only this store's sales (default: every store)")
    recommend.add_argument(
        "--min-support", default=MIN_SUPPORT, help=f"least share of tickets (default {MIN_SUPPORT})"
    )
    recommend.add_argument(
        "--min-confidence",
        default=MIN_CONFIDENCE,
        help=f"least confidence of a rule (default {MIN_CONFIDENCE})",
    )
    recommend.add_argument(
        "--per-product",
        type=int,
        default=PER_PRODUCT,
        help=f"at most this many per product, 1-{PER_PRODUCT} (default {PER_PRODUCT})",
    )
    db_arg(recommend)
    recommend.set_defaults(func=_recommend)


def _recommend(args: argparse.Namespace) -> int:
    from cloud import affinity
    from cloud.db import Database
    from cloud.publish import check_document, read_document
    from cloud.reports_cli import share_arg
    from cloud.sales import Period, load
    from cloud.schema import require_current

    if not 1 <= args.per_product <= PER_PRODUCT:
        raise UsageError(
            f"--per-product {args.per_product} is outside 1-{PER_PRODUCT}",
            where="cloud recommend --per-product",
            fix=f"the customer screen shows at most {PER_PRODUCT}",
        )
    if args.out.resolve() == args.catalog.resolve():
        raise UsageError(
            "--out is the catalog file itself",
            where="cloud recommend --out",
            fix="write to a new file and publish that; the source stays as it is",
        )
    min_support = share_arg(args.min_support, "--min-support")
    min_confidence = share_arg(args.min_confidence, "--min-confidence")
    period = Period.parse(args.first, args.last)
    document = read_document("catalog", args.catalog)
    check_document("catalog", document, str(args.catalog))
    db = Database.open(args.db)
    try:
        require_current(db)
        loaded = load(db, period, args.store)
    finally:
        db.close()
    document, tickets, rules = affinity.recommended_catalog(
        document,
        loaded,
        min_support=min_support,
        min_confidence=min_confidence,
        per_product=args.per_product,
    )
    check_document("catalog", document, str(args.out))
    args.out.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", "utf-8")
    shown = document["recommendations"]
    print(
        f"{tickets} tickets, {rules} rules: recommendations for {len(shown)} "
        f"products written to {args.out}; publish it with `cloud publish catalog {args.out} "
        "--store STORE` (or --group)"
    )
    if not shown:
        print("no rule reaches the thresholds; lower --min-support/--min-confidence")
    return 0
