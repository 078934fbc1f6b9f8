"""Purchase orders head office pushes to a store (docs/stock.md, "Purchase orders at the
box"): the `orders` document and the box's copy of it.

The document is signed and retained on `{root}/{store}/orders` like the catalog and is
checked by the downlink the same way (gateway.sync.downlink); it holds every order of
the store still to be received (`open` or `partial`) and replaces the set before it. The
box keeps it in `stock_order` (one row per order) so receiving against an order works
offline and after a restart. `OrderStore` writes only when the daemon's main loop (the
one writer) applies a document; `cloud stock po publish` builds it with the same model.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, ValidationError

from gateway.errors import StoregateError
from gateway.stock.records import OrderLineRef
from gateway.validation import first_problems

Qty = Annotated[Decimal, Field(allow_inf_nan=False, ge=0), PlainSerializer(str, return_type=str)]


class OrdersRefused(StoregateError):
    """An orders document the box cannot take (the orders in force stay)."""


class OrderLine(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sku: str = Field(min_length=1, max_length=64)
    name: str = Field(max_length=120)
    unit: Literal["each", "kg"] = "each"
    quantity: Qty
    received: Qty = Decimal(0)  # what head office already booked against the line
    unit_cost: Qty | None = None


class PurchaseOrder(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=64)
    status: Literal["open", "partial"] = "open"
    supplier: str | None = None
    business_day: str
    lines: list[OrderLine] = Field(min_length=1)

    def refs(self) -> tuple[OrderLineRef, ...]:
        """The lines as a receiving session holds them: what is still to come."""
        return tuple(
            OrderLineRef(
                sku=line.sku,
                name=line.name,
                unit=line.unit,
                ordered=max(Decimal(0), line.quantity - line.received),
                unit_cost=line.unit_cost,
            )
            for line in self.lines
        )


class OrdersDocument(BaseModel):
    """`storegate.orders/1`: every order of `store` still to be received."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_: Literal["storegate.orders/1"] = Field("storegate.orders/1", alias="schema")
    version: int = Field(ge=1)
    store: str
    issued_at: str
    orders: list[PurchaseOrder]


def parse_orders(document: dict[str, Any], source: str) -> OrdersDocument:
    """The document as the model, or OrdersRefused naming the first problems."""
    try:
        parsed = OrdersDocument.model_validate(document)
    except ValidationError as exc:
        problems = first_problems(exc)
        raise OrdersRefused(
            f"orders document refused: {problems}",
            where=source,
            fix="head office builds it with `cloud stock po publish`",
        ) from None
    ids = [order.id for order in parsed.orders]
    if len(set(ids)) != len(ids):
        raise OrdersRefused("an order appears twice in the orders document", where=source)
    return parsed


class OrderStore:
    """The purchase orders in force on this box (table `stock_order`)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def apply(self, document: OrdersDocument, applied_at: datetime) -> None:
        """Replace the orders in force with the document's, in one transaction."""
        with self.conn:
            self.conn.execute("DELETE FROM stock_order")
            self.conn.executemany(
                "INSERT INTO stock_order (id, version, body, applied_at) VALUES (?, ?, ?, ?)",
                [
                    (
                        order.id,
                        document.version,
                        json.dumps(order.model_dump(mode="json"), ensure_ascii=False),
                        applied_at.isoformat(),
                    )
                    for order in document.orders
                ],
            )

    def get(self, order_id: str) -> PurchaseOrder | None:
        row = self.conn.execute("SELECT body FROM stock_order WHERE id = ?", (order_id,)).fetchone()
        return None if row is None else PurchaseOrder.model_validate_json(row[0])

    def all(self) -> list[PurchaseOrder]:
        rows = self.conn.execute("SELECT body FROM stock_order ORDER BY id").fetchall()
        return [PurchaseOrder.model_validate_json(row[0]) for row in rows]
