"""The stock-session core (gateway.stock.session): receiving and counting as a pure state
machine, its records, and replay from the journalled steps."""

from __future__ import annotations

from decimal import Decimal

from gateway.lane.records import LaneRef, StaffRef
from gateway.stock.records import COUNT_KIND, RECEIPT_KIND, STEP_KIND, OrderLineRef, StepItem
from gateway.stock.session import (
    Add,
    Cancel,
    Finish,
    Refused,
    Section,
    Session,
    Start,
    Step,
    replay,
    step,
    view,
)

WANG = StaffRef(id="201", name="Wang", role="supervisor")
LANE = LaneRef(store="store-1", box="box-1")
MILK = StepItem(sku="MILK", name="Milk", unit="each")
APPLE = StepItem(sku="APPLE", name="Apples", unit="kg")
T = "2026-12-03T07:40:00"


def run(
    inputs: list[object], session: Session | None = None
) -> tuple[Session | None, list[tuple[str, dict[str, object]]]]:
    records: list[tuple[str, dict[str, object]]] = []
    for given in inputs:
        result = step(session, given)  # type: ignore[arg-type]
        assert isinstance(result, Step), result
        session = result.session
        records += result.records
    return session, records


def start(mode: str = "count", **kw: object) -> Start:
    return Start(
        mode=mode,  # type: ignore[arg-type]
        session_id=f"box-1-{'C' if mode == 'count' else 'GR'}-000001",
        staff=WANG,
        local_time=T,
        business_day="2026-12-03",
        after_seq=41,
        **kw,  # type: ignore[arg-type]
    )


def test_a_count_by_sections_sums_each_item_and_keeps_after_seq() -> None:
    session, records = run(
        [
            start(section="shelf"),
            Add(MILK, Decimal(1), T, code="7612345001012"),
            Add(MILK, Decimal(1), T),
            Add(APPLE, Decimal("2.345"), T),
            Section("backroom", T),
            Add(MILK, Decimal(6), T, replace=True),
            Finish(T, WANG, LANE),
        ]
    )
    assert session is None
    assert [k for k, _ in records] == [STEP_KIND] * 6 + [COUNT_KIND]
    count = records[-1][1]
    assert count["after_seq"] == 41 and count["sections"] == ["shelf", "backroom"]
    assert [(line["sku"], line["counted"]) for line in count["lines"]] == [  # type: ignore[index, union-attr]
        ("MILK", "8.000"),
        ("APPLE", "2.345"),
    ]


def test_refusals_write_nothing() -> None:
    session, _ = run([start()])
    assert isinstance(step(session, Add(MILK, Decimal("1.5"), T)), Refused)
    assert isinstance(step(session, Add(MILK, Decimal(0), T)), Refused)
    assert isinstance(step(session, Add(MILK, Decimal(1), T, unit_cost=Decimal(2))), Refused)
    assert isinstance(step(session, Finish(T, WANG, LANE)), Refused)  # nothing counted
    assert isinstance(step(session, start()), Refused)  # one session at a time
    assert isinstance(step(None, Add(MILK, Decimal(1), T)), Refused)
    receiving, _ = run([start("receive")])
    assert isinstance(step(receiving, Section("shelf", T)), Refused)


def test_receiving_against_an_order_shows_ordered_and_received() -> None:
    order = (OrderLineRef(sku="MILK", name="Milk", unit="each", ordered=Decimal(12)),)
    session, _ = run(
        [
            start("receive", purchase_order="PO-1", order_lines=order, supplier="dairy"),
            Add(MILK, Decimal(10), T, unit_cost=Decimal("0.90")),
        ]
    )
    result = step(session, Add(APPLE, Decimal("1.000"), T))
    assert isinstance(result, Step)
    assert result.notices == ("Apples is not on purchase order PO-1.",)
    shown = view(session)
    assert shown is not None
    assert shown["order"] == [
        {
            "sku": "MILK",
            "name": "Milk",
            "unit": "each",
            "received": "10",
            "ordered": "12",
            "outstanding": "2",
        }
    ]
    done = step(result.session, Finish(T, WANG, LANE))
    assert isinstance(done, Step) and done.records[0][0] == RECEIPT_KIND
    body = done.records[0][1]
    assert body["purchase_order"] == "PO-1" and body["supplier"] == "dairy"
    assert body["lines"][0]["unit_cost"] == "0.90"  # type: ignore[index]
    assert body["lines"][1]["unit_cost"] is None  # type: ignore[index]


def test_blind_hides_what_the_rules_say() -> None:
    order = (OrderLineRef(sku="MILK", name="Milk", unit="each", ordered=Decimal(12)),)
    receiving, _ = run([start("receive", purchase_order="PO-1", order_lines=order, blind=True)])
    shown = view(receiving)
    assert shown is not None and "ordered" not in shown["order"][0]
    counting, _ = run([start(blind=True), Add(MILK, Decimal(3), T)])
    shown = view(counting)
    assert shown is not None and "quantity" not in shown["lines"][0]


def test_replay_gives_back_the_open_session_and_none_after_finish_or_cancel() -> None:
    inputs = [
        start(section="a"),
        Add(MILK, Decimal(2), T),
        Section("b", T),
        Add(APPLE, Decimal("0.5"), T),
    ]
    session, records = run(inputs)  # type: ignore[arg-type]
    unrelated = [("sale", {"receipt_id": "x"}), (STEP_KIND, {"schema": "other"})]
    assert replay(unrelated + records) == session
    _, closing = run([Finish(T, WANG, LANE)], session)
    assert replay(records + closing) is None
    _, cancelled = run([Cancel(T, WANG, "wrong day")], session)
    assert replay(records + cancelled) is None
