"""The report digest of a lane record: the few figures X/Z reports sum, folded per record.

`digest(kind, body)` is the one function that reads a sale / refund / void / no-sale /
paid-in / paid-out / top-up / shift open / shift close body for reports (the last four feed the
cash drawer's figures: float, cash in and out, count and over/short). The lane book
stores its result in `lane_doc.digest` in the same transaction as the record, so a Z over
20,000 sales sums 20,000 small digests instead of re-parsing every full body; reports fall
back to the body itself where a digest is missing, and a test checks both paths give the
same figures. Pure: no I/O. Amounts stay decimal strings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, TypedDict

from gateway.money import to_minor_units

REPORTED = (
    "sale",
    "refund",
    "void",
    "no_sale",
    "paid_in",
    "paid_out",
    "top_up",
    "top_up_refund",
    "shift_open",
    "shift_close",
)
# of those, the kinds that are the shift's trading (what a Z's record range and "no
# trading that day" count); a shift opened and closed alone is not trading
TRADING = ("sale", "refund", "void", "no_sale", "paid_in", "paid_out", "top_up", "top_up_refund")


def rate_key(tax: Mapping[str, Any]) -> str:
    rate = Decimal(tax["rate"]).normalize()
    return f"{rate:f}%" + ("" if tax["inclusive"] else " excl.")


def _fold(pairs: Iterable[tuple[str, Decimal]], places: int) -> dict[str, int]:
    out: dict[str, int] = {}
    for key, amount in pairs:
        out[key] = out.get(key, 0) + to_minor_units(amount, places)
    return out


def _taxes(rows: Iterable[Mapping[str, Any]], places: int) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for tax in rows:
        sums = out.setdefault(rate_key(tax), [0, 0])
        sums[0] += to_minor_units(tax["gross"], places)
        sums[1] += to_minor_units(tax["tax"], places)
    return out


DIGEST_VERSION = 1  # bump when a digest's keys or meaning change (older ones: recomputed)


class SaleDigest(TypedDict):
    """A sale's figures: `p` places, `t` total, `s` savings, `cur` currency, `lv` voided
    lines, `pe`/`pr` points earned/redeemed, `st` [staff id, name], `tn` per tender, `tx`
    per tax rate [gross, tax], `c` per category; amounts in minor units."""

    v: int
    p: int
    t: int
    s: int
    cur: str
    lv: int
    pe: int
    pr: int
    st: list[str]
    tn: dict[str, int]
    tx: dict[str, list[int]]
    c: dict[str, int]


class RefundDigest(TypedDict):
    """A refund's figures: as a sale's, with `pb`/`pg` points taken back / given back."""

    v: int
    p: int
    t: int
    pb: int
    pg: int
    tn: dict[str, int]
    tx: dict[str, list[int]]
    c: dict[str, int]


class VoidDigest(TypedDict):
    """A voided sale: its total as a decimal string (voids carry no currency places)."""

    v: int
    t: str


class NoSaleDigest(TypedDict):
    v: int


class CashMovementDigest(TypedDict):
    """A paid-in or paid-out: `a` its amount as a decimal string."""

    v: int
    a: str


class TopUpDigest(TypedDict):
    """A top-up or its refund: `a` what was paid (or paid back) and `t` its tender."""

    v: int
    a: str
    t: str


class ShiftOpenDigest(TypedDict):
    """A shift's opening float `f`, as a decimal string."""

    v: int
    f: str


class ShiftCloseDigest(TypedDict):
    """A shift's close: `n` counted and `o` over/short, as decimal strings."""

    v: int
    n: str
    o: str


Digest = (
    SaleDigest
    | RefundDigest
    | VoidDigest
    | NoSaleDigest
    | CashMovementDigest
    | TopUpDigest
    | ShiftOpenDigest
    | ShiftCloseDigest
)


def digest(kind: str, body: Mapping[str, Any]) -> Digest | None:
    """The figures of one record for X/Z, or None for kinds reports do not sum.

    Amounts are integers in minor units (`p` decimals), so reports add ints, not Decimals.
    Stored beside the record with `v` = DIGEST_VERSION; a report meets a digest of another
    version only as NULL (`LaneReader`'s digest query), and folds the body again."""
    if kind == "sale":
        p = body["places"]
        return {
            "v": DIGEST_VERSION,
            "p": p,
            "t": to_minor_units(body["totals"]["total"], p),
            "s": to_minor_units(body["totals"]["savings"], p),
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
            "v": DIGEST_VERSION,
            "p": p,
            "t": to_minor_units(body["total"], p),
            "pb": body.get("points_reversed", 0),
            "pg": body.get("points_returned", 0),
            "tn": _fold(((t["type"], t["amount"]) for t in body["tenders"]), p),
            "tx": _taxes(body["taxes"], p),
            "c": _fold(((line["category"], line["amount"]) for line in body["lines"]), p),
        }
    if kind == "void":
        return {"v": DIGEST_VERSION, "t": body["total"]}
    if kind == "no_sale":
        return {"v": DIGEST_VERSION}
    if kind in ("paid_in", "paid_out"):
        return {"v": DIGEST_VERSION, "a": str(Decimal(body["amount"]))}
    if kind in ("top_up", "top_up_refund"):
        return {"v": DIGEST_VERSION, "a": str(Decimal(body["amount"])), "t": body["tender"]}
    if kind == "shift_open":
        return {"v": DIGEST_VERSION, "f": str(Decimal(body["opening_float"]))}
    if kind == "shift_close":
        return {
            "v": DIGEST_VERSION,
            "n": str(Decimal(body["counted"])),
            "o": str(Decimal(body["over_short"])),
        }
    return None
