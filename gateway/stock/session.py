"""A stock session at the box as a state machine: receiving (进货) or counting (盘点).

Pure: `step(session, given)` takes the open session (or None) and one input and returns a
`Step` — the session after it, the journal records to write (each step as a `stock_step`
record, a finish as the `goods_receipt` or `stock_count` document) and what to tell the
person — or a `Refused` naming why not, which writes nothing. No I/O, no clock: times,
ids, the person and the item (already resolved from the catalog, weighed goods by the
scale's reading) come in on the inputs; the daemon's stock desk (gateway.daemon.stock_desk)
carries the records out. `replay` folds the journalled steps back into the session, so a
session survives a restart exactly as it was.

Rules:
- one session at a time; receiving is one list of items, a count is section by section
  (an item counted in two sections is the sum of both in the finished count);
- quantities are in the stock unit: whole for `each`, kg to 3 places for weighed goods;
- `add` adds to the item's line in the current section, `set` replaces it (a count of 0
  is a count; a received line set to 0 is dropped);
- blind: receiving does not show the ordered quantities, counting does not show the
  running totals (the finished document is the same either way);
- finishing needs at least one line; cancelling writes a step and no document.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError

from gateway.lane.records import LaneRef, StaffRef
from gateway.stock.records import (
    COUNT_KIND,
    RECEIPT_KIND,
    STEP_KIND,
    CountLine,
    GoodsReceiptBody,
    Mode,
    OrderLineRef,
    ReceiptLine,
    StepItem,
    StockCountBody,
    StockStepBody,
)

QTY = Decimal("0.001")
MAX_QTY = Decimal("99999")
MAX_SECTION = 64
Record = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class Refused:
    """Why the step was not taken: `message` for the person, `code` for software."""

    code: str
    message: str


NO_SESSION = Refused(
    "no_session", "No stock session is open: start one (gateway stock receive | count)."
)


@dataclass(frozen=True)
class Line:
    section: str  # "" when receiving
    item: StepItem
    quantity: Decimal
    unit_cost: Decimal | None = None


@dataclass(frozen=True)
class Session:
    id: str
    mode: Mode
    staff: StaffRef
    started_at: str
    business_day: str
    after_seq: int
    blind: bool = False
    full: bool = False  # a count of everything: what is not counted is not there
    purchase_order: str | None = None
    supplier: str | None = None
    delivery_note: str | None = None
    order: tuple[OrderLineRef, ...] = ()
    section: str = ""
    sections: tuple[str, ...] = ()
    lines: tuple[Line, ...] = ()

    def totals(self) -> dict[str, tuple[StepItem, Decimal, Decimal | None]]:
        """Per sku, in the order first met: the item, its quantity over every section, and
        the last unit cost given for it."""
        out: dict[str, tuple[StepItem, Decimal, Decimal | None]] = {}
        for line in self.lines:
            _, before, cost = out.get(line.item.sku, (line.item, Decimal(0), None))
            out[line.item.sku] = (
                line.item,
                before + line.quantity,
                line.unit_cost if line.unit_cost is not None else cost,
            )
        return out


# ---------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Start:
    mode: Mode
    session_id: str
    staff: StaffRef
    local_time: str
    business_day: str
    after_seq: int
    blind: bool = False
    purchase_order: str | None = None
    supplier: str | None = None
    delivery_note: str | None = None
    order_lines: tuple[OrderLineRef, ...] = ()
    section: str | None = None
    full: bool = False


@dataclass(frozen=True)
class Add:
    """An item scanned or keyed: `quantity` more of it (the weight for weighed goods)."""

    item: StepItem
    quantity: Decimal
    local_time: str
    code: str | None = None
    unit_cost: Decimal | None = None
    replace: bool = False  # `set`: the line's quantity becomes `quantity`


@dataclass(frozen=True)
class Section:
    name: str
    local_time: str


@dataclass(frozen=True)
class Finish:
    local_time: str
    by: StaffRef
    lane: LaneRef


@dataclass(frozen=True)
class Cancel:
    local_time: str
    by: StaffRef
    reason: str | None = None


Given = Start | Add | Section | Finish | Cancel


@dataclass(frozen=True)
class Step:
    session: Session | None
    records: tuple[Record, ...]
    said: str
    notices: tuple[str, ...] = field(default=())


# ---------------------------------------------------------------- the machine


def step(session: Session | None, given: Given) -> Step | Refused:
    """The session after `given`, the records to journal and what to say; or Refused."""
    if isinstance(given, Start):
        return _start(session, given)
    if session is None:
        return NO_SESSION
    if isinstance(given, Add):
        return _add(session, given)
    if isinstance(given, Section):
        return _section(session, given)
    if isinstance(given, Finish):
        return _finish(session, given)
    return _cancel(session, given)


def _step_record(session: Session, action: str, local_time: str, **fields: Any) -> Record:
    body = StockStepBody.model_validate(
        {
            "schema": "storegate.lane.stock_step/1",
            "session": session.id,
            "mode": session.mode,
            "action": action,
            "local_time": local_time,
            **fields,
        }
    )
    return STEP_KIND, body.to_body()


def _start(session: Session | None, given: Start) -> Step | Refused:
    if session is not None:
        what = "receiving" if session.mode == "receive" else "a stock count"
        return Refused(
            "session_open",
            f"{what.capitalize()} is open already ({session.id}): finish or cancel it first.",
        )
    if given.mode == "count" and given.purchase_order is not None:
        return Refused("bad_input", "A stock count is not against a purchase order.")
    if given.mode == "receive" and given.full:
        return Refused("bad_input", "Only a stock count can be a full count.")
    section = _section_name(given.section) if given.section else ""
    if isinstance(section, Refused):
        return section
    if given.mode == "receive" and section:
        return Refused("bad_input", "Receiving has no sections; sections are for counts.")
    new = Session(
        id=given.session_id,
        mode=given.mode,
        staff=given.staff,
        started_at=given.local_time,
        business_day=given.business_day,
        after_seq=given.after_seq,
        blind=given.blind,
        full=given.full,
        purchase_order=given.purchase_order,
        supplier=given.supplier,
        delivery_note=given.delivery_note,
        order=given.order_lines,
        section=section,
        sections=(section,) if section else (),
    )
    record = _step_record(
        new,
        "start",
        given.local_time,
        staff=given.staff,
        business_day=given.business_day,
        after_seq=given.after_seq,
        blind=given.blind,
        scope="full" if given.full else None,
        purchase_order=given.purchase_order,
        supplier=given.supplier,
        delivery_note=given.delivery_note,
        order_lines=list(given.order_lines) if given.purchase_order else None,
        section=section or None,
    )
    if given.mode == "receive":
        against = f" against {given.purchase_order}" if given.purchase_order else ""
        said = f"Receiving {new.id}{against}: scan what was delivered."
    else:
        said = f"Stock count {new.id}: scan and count" + (
            f", section {section}." if section else "."
        )
    return Step(new, (record,), said)


def _section_name(name: str) -> str | Refused:
    name = name.strip()
    if not name or len(name) > MAX_SECTION:
        return Refused("bad_input", f"A section is named by 1-{MAX_SECTION} characters.")
    return name


def check_quantity(item: StepItem, quantity: Decimal, *, allow_zero: bool) -> Refused | None:
    """A quantity in the item's stock unit: whole `each`, kg to the gram, within bounds."""
    if not quantity.is_finite() or quantity < 0 or (quantity == 0 and not allow_zero):
        return Refused("bad_quantity", f"Quantity {quantity} of {item.name} must be above 0.")
    if quantity > MAX_QTY:
        return Refused(
            "bad_quantity", f"Quantity {quantity} of {item.name} is more than {MAX_QTY}."
        )
    if item.unit == "each" and quantity != quantity.to_integral_value():
        return Refused(
            "bad_quantity", f"{item.name} is counted each: {quantity} is not a whole number."
        )
    if quantity != quantity.quantize(QTY):
        return Refused("bad_quantity", f"{quantity} kg: weigh to the gram (3 decimals) at most.")
    return None


def _add(session: Session, given: Add) -> Step | Refused:
    bad = check_quantity(given.item, given.quantity, allow_zero=given.replace)
    if bad is not None:
        return bad
    if given.unit_cost is not None:
        if session.mode == "count":
            return Refused("bad_input", "A count has no unit cost: leave cost out.")
        if not given.unit_cost.is_finite() or given.unit_cost < 0:
            return Refused("bad_input", f"Unit cost {given.unit_cost} must be 0 or more.")
    lines = list(session.lines)
    where = next(
        (
            i
            for i, line in enumerate(lines)
            if line.section == session.section and line.item.sku == given.item.sku
        ),
        None,
    )
    before = lines[where].quantity if where is not None else Decimal(0)
    cost = given.unit_cost
    if where is not None and cost is None:
        cost = lines[where].unit_cost
    quantity = given.quantity if given.replace else before + given.quantity
    if quantity > MAX_QTY:
        return Refused("bad_quantity", f"{given.item.name}: more than {MAX_QTY} in one line.")
    line = Line(session.section, given.item, quantity, cost)
    if where is None:
        lines.append(line)
    elif quantity == 0 and session.mode == "receive":
        del lines[where]
    else:
        lines[where] = line
    after = replace(session, lines=tuple(lines))
    record = _step_record(
        session,
        "set" if given.replace else "add",
        given.local_time,
        item=given.item,
        quantity=given.quantity,
        unit_cost=given.unit_cost,
        code=given.code,
        section=session.section or None,
    )
    return Step(after, (record,), _said_item(after, given.item), _notices(after, given.item))


def _said_item(session: Session, item: StepItem) -> str:
    total = session.totals().get(item.sku)
    quantity = total[1] if total else Decimal(0)
    if session.mode == "count" and session.blind:
        return f"{item.name}: counted."
    unit = " kg" if item.unit == "kg" else ""
    said = f"{item.name}: {_plain(quantity)}{unit}"
    ordered = _ordered(session, item.sku)
    if ordered is not None and not session.blind:
        said += f" of {_plain(ordered)}{unit} ordered"
    if session.section:
        said += f" (section {session.section}, all sections together)"
    return said + "."


def _notices(session: Session, item: StepItem) -> tuple[str, ...]:
    if session.mode != "receive" or session.purchase_order is None:
        return ()
    ordered = _ordered(session, item.sku)
    if ordered is None:
        return (f"{item.name} is not on purchase order {session.purchase_order}.",)
    total = session.totals().get(item.sku)
    if total is not None and total[1] > ordered and not session.blind:
        return (f"{item.name}: more received than ordered.",)
    return ()


def _ordered(session: Session, sku: str) -> Decimal | None:
    found = [line.ordered for line in session.order if line.sku == sku]
    return sum(found, Decimal(0)) if found else None


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f") if value == value.to_integral_value() else str(value)


def _section(session: Session, given: Section) -> Step | Refused:
    if session.mode != "count":
        return Refused("bad_input", "Receiving has no sections; sections are for counts.")
    name = _section_name(given.name)
    if isinstance(name, Refused):
        return name
    sections = session.sections if name in session.sections else (*session.sections, name)
    after = replace(session, section=name, sections=sections)
    record = _step_record(session, "section", given.local_time, section=name)
    return Step(after, (record,), f"Counting section {name}.")


def _finish(session: Session, given: Finish) -> Step | Refused:
    totals = session.totals()
    if not totals:
        what = "received" if session.mode == "receive" else "counted"
        return Refused(
            "nothing_recorded", f"Nothing is {what} in {session.id}: scan items, or cancel it."
        )
    common = {
        "lane": given.lane,
        "business_day": session.business_day,
        "local_time": given.local_time,
        "started_at": session.started_at,
        "staff": session.staff,
        "finished_by": given.by,
        "blind": session.blind,
    }
    if session.mode == "receive":
        lines = [
            ReceiptLine(
                index=n,
                sku=item.sku,
                name=item.name,
                unit=item.unit,
                quantity=quantity.quantize(QTY, ROUND_HALF_UP),
                unit_cost=cost,
            )
            for n, (item, quantity, cost) in enumerate(totals.values())
        ]
        receipt = GoodsReceiptBody.model_validate(
            {
                **common,
                "schema": "storegate.lane.goods_receipt/1",
                "receipt_id": session.id,
                "purchase_order": session.purchase_order,
                "supplier": session.supplier,
                "delivery_note": session.delivery_note,
                "lines": lines,
            }
        )
        said = f"Receipt {session.id}: {len(lines)} item(s) received."
        return Step(None, ((RECEIPT_KIND, receipt.to_body()),), said)
    counted = [
        CountLine(
            index=n,
            sku=item.sku,
            name=item.name,
            unit=item.unit,
            counted=quantity.quantize(QTY, ROUND_HALF_UP),
        )
        for n, (item, quantity, _) in enumerate(totals.values())
    ]
    count = StockCountBody.model_validate(
        {
            **common,
            "schema": "storegate.lane.stock_count/1",
            "count_id": session.id,
            "scope": "full" if session.full else "partial",
            "after_seq": session.after_seq,
            "sections": list(session.sections),
            "lines": counted,
        }
    )
    said = f"Count {session.id}: {len(counted)} item(s) counted."
    return Step(None, ((COUNT_KIND, count.to_body()),), said)


def _cancel(session: Session, given: Cancel) -> Step:
    record = _step_record(
        session, "cancel", given.local_time, staff=given.by, reason=given.reason or None
    )
    return Step(None, (record,), f"{session.id} cancelled: nothing was recorded.")


# ---------------------------------------------------------------- views and replay


def view(session: Session | None) -> dict[str, Any] | None:
    """What a person sees of the open session (blind hides as the rules say)."""
    if session is None:
        return None
    hide_totals = session.mode == "count" and session.blind
    lines = []
    for item, quantity, cost in session.totals().values():
        line: dict[str, Any] = {"sku": item.sku, "name": item.name, "unit": item.unit}
        if not hide_totals:
            line["quantity"] = str(quantity)
        if cost is not None:
            line["unit_cost"] = str(cost)
        lines.append(line)
    shown: dict[str, Any] = {
        "id": session.id,
        "mode": session.mode,
        "staff": session.staff.model_dump(),
        "started_at": session.started_at,
        "business_day": session.business_day,
        "blind": session.blind,
        "lines": lines,
    }
    if session.mode == "count":
        shown.update(
            after_seq=session.after_seq,
            scope="full" if session.full else "partial",
            section=session.section,
            sections=list(session.sections),
        )
    if session.purchase_order is not None:
        received = {sku: q for sku, (_, q, _) in session.totals().items()}
        order = []
        for ordered in session.order:
            row: dict[str, Any] = {"sku": ordered.sku, "name": ordered.name, "unit": ordered.unit}
            row["received"] = str(received.get(ordered.sku, Decimal(0)))
            if not session.blind:
                row["ordered"] = str(ordered.ordered)
                row["outstanding"] = str(
                    max(Decimal(0), ordered.ordered - received.get(ordered.sku, Decimal(0)))
                )
            order.append(row)
        shown.update(purchase_order=session.purchase_order, order=order)
    if session.supplier is not None:
        shown["supplier"] = session.supplier
    return shown


def replay(records: list[tuple[str, dict[str, Any]]]) -> Session | None:
    """The open session after these journal records (kind, body), oldest first: the steps
    of stock sessions and their finished documents; a record that does not fit (another
    version's, a step of a session already closed) is passed over."""
    session: Session | None = None
    for kind, body in records:
        if kind in (RECEIPT_KIND, COUNT_KIND):
            done = body.get("receipt_id") or body.get("count_id")
            if session is not None and done == session.id:
                session = None
            continue
        if kind != STEP_KIND:
            continue
        given = _given(body, session)
        if given is None:
            continue
        result = step(session, given)
        if isinstance(result, Step):
            session = result.session
    return session


def _given(body: dict[str, Any], session: Session | None) -> Given | None:
    try:
        parsed = StockStepBody.model_validate(body)
    except (ValidationError, InvalidOperation):
        return None
    if parsed.action == "start":
        if parsed.staff is None or parsed.business_day is None or parsed.after_seq is None:
            return None
        return Start(
            mode=parsed.mode,
            session_id=parsed.session,
            staff=parsed.staff,
            local_time=parsed.local_time,
            business_day=parsed.business_day,
            after_seq=parsed.after_seq,
            blind=bool(parsed.blind),
            purchase_order=parsed.purchase_order,
            supplier=parsed.supplier,
            delivery_note=parsed.delivery_note,
            order_lines=tuple(parsed.order_lines or ()),
            section=parsed.section,
            full=parsed.scope == "full",
        )
    if session is None or parsed.session != session.id:
        return None
    if parsed.action in ("add", "set"):
        if parsed.item is None or parsed.quantity is None:
            return None
        return Add(
            parsed.item,
            parsed.quantity,
            parsed.local_time,
            code=parsed.code,
            unit_cost=parsed.unit_cost,
            replace=parsed.action == "set",
        )
    if parsed.action == "section":
        return Section(parsed.section or "", parsed.local_time)
    if parsed.staff is None:
        return None
    return Cancel(parsed.local_time, parsed.staff, parsed.reason)


def parse_decimal(text: str, what: str) -> Decimal | Refused:
    """A keyed quantity or cost as a Decimal, or Refused naming it."""
    try:
        value = Decimal(str(text).strip())
    except InvalidOperation:
        return Refused("bad_input", f"{what} {str(text)[:20]!r} is not a number.")
    if not value.is_finite():
        return Refused("bad_input", f"{what} must be a number.")
    return value
