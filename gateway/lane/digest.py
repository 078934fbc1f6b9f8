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

from gateway.money import to_minor_units

REPORTED = ("sale", "refund", "void", "no_sale")


def rate_key(tax: Mapping[str, Any]) -> str:
    rate = Decimal(tax["rate"]).normalize()
    return f"{rate:f}%" + ("" if tax["inclusive"] else " excl.")


units = to_minor_units  # the one minor-units rule (gateway.money)


def _fold(pairs: Iterable[tuple[str, Decimal]], places: int) -> dict[str, int]:
    out: dict[str, int] = {}
    for key, amount in pairs:
        out[key] = out.get(key, 0) + units(amount, places)
    return out


def _taxes(rows: Iterable[Mapping[str, Any]], places: int) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for tax in rows:
        sums = out.setdefault(rate_key(tax), [0, 0])
        sums[0] += units(tax["gross"], places)
        sums[1] += units(tax["tax"], places)
    return out


def digest(kind: str, body: Mapping[str, Any]) -> dict[str, Any] | None:
    """The figures of one record for X/Z, or None for kinds reports do not sum.

    Amounts are integers in minor units (`p` decimals), so reports add ints, not Decimals;
    a void keeps its total as a decimal string (voids carry no currency places)."""
    if kind == "sale":
        p = body["places"]
        return {
            "p": p,
            "t": units(body["totals"]["total"], p),
            "s": units(body["totals"]["savings"], p),
            "cur": body["currency"],
            "lv": len(body["voided_lines"]),
            "pe": body["points"]["earned"],
            "pr": body["points"]["redeemed"],
            "st": [body["staff"]["id"], body["staff"]["name"]],
            "tn": _fold(((t["type"], t["amount"]) for t in body["tenders"]), p),
            "tx": _taxes(body["taxes"], p),
            "c": _fold(((line["category"], line["total"]) for line in body["lines"]), p),
        }
    if kind == "refund":
        p = body["places"]
        return {
            "p": p,
            "t": units(body["total"], p),
            "pb": body.get("points_reversed", 0),
            "pg": body.get("points_returned", 0),
            "tn": _fold(((t["type"], t["amount"]) for t in body["tenders"]), p),
            "tx": _taxes(body["taxes"], p),
            "c": _fold(((line["category"], line["amount"]) for line in body["lines"]), p),
        }
    if kind == "void":
        return {"t": body["total"]}
    if kind == "no_sale":
        return {}
    return None
