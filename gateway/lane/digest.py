"""The report digest of a lane record: the few figures X/Z reports sum, folded per record.

`digest(kind, body)` is the one function that reads a sale / refund / void / no-sale body
for reports. The lane book stores its result in `lane_doc.digest` in the same transaction
as the record, so a Z over 20,000 sales sums 20,000 small digests instead of re-parsing
every full body; reports fall back to the body itself where a digest is missing, and a test
checks both paths give the same figures. Pure: no I/O. Amounts stay decimal strings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

REPORTED = ("sale", "refund", "void", "no_sale")


def rate_key(tax: Mapping[str, Any]) -> str:
    rate = Decimal(tax["rate"]).normalize()
    return f"{rate:f}%" + ("" if tax["inclusive"] else " excl.")


def _fold(pairs: Iterable[tuple[str, Decimal]]) -> dict[str, str]:
    out: dict[str, Decimal] = {}
    for key, amount in pairs:
        out[key] = out.get(key, Decimal(0)) + amount
    return {k: str(v) for k, v in out.items()}


def _taxes(rows: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    out: dict[str, list[Decimal]] = {}
    for tax in rows:
        gross, amount = out.setdefault(rate_key(tax), [Decimal(0), Decimal(0)])
        out[rate_key(tax)] = [gross + Decimal(tax["gross"]), amount + Decimal(tax["tax"])]
    return {k: [str(g), str(t)] for k, (g, t) in out.items()}


def digest(kind: str, body: Mapping[str, Any]) -> dict[str, Any] | None:
    """The figures of one record for X/Z, or None for kinds reports do not sum."""
    if kind == "sale":
        return {
            "t": body["totals"]["total"], "s": body["totals"]["savings"],
            "cur": body["currency"], "lv": len(body["voided_lines"]),
            "pe": body["points"]["earned"], "pr": body["points"]["redeemed"],
            "st": [body["staff"]["id"], body["staff"]["name"]],
            "tn": _fold((t["type"], Decimal(t["amount"])) for t in body["tenders"]),
            "tx": _taxes(body["taxes"]),
            "c": _fold((line["category"], Decimal(line["total"])) for line in body["lines"]),
        }
    if kind == "refund":
        return {
            "t": body["total"], "pb": body.get("points_reversed", 0),
            "tn": _fold((t["type"], Decimal(t["amount"])) for t in body["tenders"]),
            "tx": _taxes(body["taxes"]),
            "c": _fold((line["category"], Decimal(line["amount"])) for line in body["lines"]),
        }
    if kind == "void":
        return {"t": body["total"]}
    if kind == "no_sale":
        return {}
    return None
