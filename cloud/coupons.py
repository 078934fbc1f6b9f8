"""Serial coupons at head office: the printed codes of a catalog promotion's serials
(docs/cloud.md, "Serial coupons"), computed from the catalog's secret with the box's own
`gateway.catalog.serials`, so what is printed is what the lane accepts. `cloud coupon
serials` and the coupons page both make their batches here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cloud.reports import Table
from gateway.catalog.document import read_document
from gateway.catalog.serials import MAX_SERIAL, serial_code
from gateway.errors import UsageError


def serial_table(
    promotion: str, catalog: Path, first: int, count: int, source: str | None = None
) -> Table:
    """The codes as a table (serial, code), or a UsageError saying what to change;
    `source` names the catalog in errors (default: its path)."""
    doc = read_document(catalog)
    name = source or str(catalog)
    promo = next((p for p in doc.promotions if p.id == promotion), None)
    if promo is None:
        known = ", ".join(p.id for p in doc.promotions if p.serials is not None) or "none"
        raise UsageError(
            f"no promotion {promotion} in the catalog",
            where=name,
            fix=f"give the id of a promotion with serials (here: {known})",
        )
    if promo.serials is None:
        raise UsageError(
            f"promotion {promotion} takes no serial coupons",
            where=f"{name}: promotion {promotion}",
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
