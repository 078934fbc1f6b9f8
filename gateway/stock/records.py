"""The journal bodies of stock work at the box, as pydantic models (docs/stock.md).

`goods_receipt` and `stock_count` are the finished documents head office posts to its
stock ledger (cloud/stock.py), keyed by the journal line so they move stock once;
`stock_step` is one step of a session in progress (started, an item added or set, a
section begun, cancelled), journalled so that a session survives a restart: the daemon
folds the steps of the open session back into its state (`gateway.stock.session.replay`).
Head office stores the steps with the rest of the journal and reads nothing from them.

Rules as for the lane's bodies (gateway/lane/records.py): quantities and costs are
decimal strings, unknown keys are refused, `staff` is the authenticated person. Pure data.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from gateway.lane.records import Body, LaneRef, Money, Qty, StaffRef

StockUnit = Literal["each", "kg"]
Mode = Literal["receive", "count"]
StepAction = Literal["start", "add", "set", "section", "cancel"]

STEP_KIND = "stock_step"
RECEIPT_KIND = "goods_receipt"
COUNT_KIND = "stock_count"
STOCK_KINDS = (STEP_KIND, RECEIPT_KIND, COUNT_KIND)


class ReceiptLine(Body):
    """One item received: its quantity in the stock unit (kg for weighed goods)."""

    index: int = Field(ge=0)
    sku: str
    name: str
    unit: StockUnit
    quantity: Qty
    unit_cost: Money | None = None  # null: head office takes the order line's, else the average


class GoodsReceiptBody(Body):
    """A delivery received at the box (进货), free or against a purchase order."""

    schema_: Literal["storegate.lane.goods_receipt/1"] = Field(
        "storegate.lane.goods_receipt/1", alias="schema"
    )
    receipt_id: str
    lane: LaneRef
    business_day: str
    local_time: str
    started_at: str
    staff: StaffRef
    finished_by: StaffRef
    purchase_order: str | None = None
    supplier: str | None = None
    delivery_note: str | None = None
    blind: bool = False
    lines: list[ReceiptLine]


class CountLine(Body):
    """One item counted: the sum over the sections it was counted in."""

    index: int = Field(ge=0)
    sku: str
    name: str
    unit: StockUnit
    counted: Qty


class StockCountBody(Body):
    """A stock count taken at the box (盘点). `after_seq` is the box's last journal seq
    when the count started: head office judges the count against its ledger as it stood
    after that record, so the sales during the count are accounted for."""

    schema_: Literal["storegate.lane.stock_count/1"] = Field(
        "storegate.lane.stock_count/1", alias="schema"
    )
    count_id: str
    lane: LaneRef
    business_day: str
    local_time: str
    started_at: str
    staff: StaffRef
    finished_by: StaffRef
    scope: Literal["partial", "full"] = "partial"
    after_seq: int = Field(ge=0)
    blind: bool = False
    sections: list[str]
    lines: list[CountLine]


class OrderLineRef(Body):
    """A purchase order's line as the session received it from head office."""

    sku: str
    name: str
    unit: StockUnit
    ordered: Qty
    unit_cost: Money | None = None


class StepItem(Body):
    """An item as a step resolved it from the catalog (so replay needs no catalog)."""

    sku: str
    name: str
    unit: StockUnit


class StockStepBody(Body):
    """One step of the open stock session; the fields each action carries are set."""

    schema_: Literal["storegate.lane.stock_step/1"] = Field(
        "storegate.lane.stock_step/1", alias="schema"
    )
    session: str
    mode: Mode
    action: StepAction
    local_time: str
    staff: StaffRef | None = None  # start, cancel: who did it
    # start
    business_day: str | None = None
    after_seq: int | None = None
    blind: bool | None = None
    scope: Literal["partial", "full"] | None = None
    purchase_order: str | None = None
    supplier: str | None = None
    delivery_note: str | None = None
    order_lines: list[OrderLineRef] | None = None
    # add / set
    item: StepItem | None = None
    quantity: Qty | None = None
    unit_cost: Money | None = None
    code: str | None = None  # what was scanned or keyed
    # add / set / section
    section: str | None = None
    # cancel
    reason: str | None = None
