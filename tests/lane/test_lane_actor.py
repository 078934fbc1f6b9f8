"""Who acts (issue 13 item 2): an event's `actor` is checked against their own role and
journalled as `staff`, with the till's signed-on cashier beside as `operator`; an event
without one is the signed-on cashier's, and its records carry no `operator` at all."""

from __future__ import annotations

from decimal import Decimal

from lane_testkit import CASHIER, SUPERVISOR, SUPERVISOR_PIN, Clock

from gateway.journal import JournalRecord
from gateway.lane import events as ev
from gateway.lane.events import Outcome, Refusal
from gateway.lane.machine import Lane
from gateway.lane.records import parse_body

MILK = "7612345001012"
ANNA = {"id": "101", "name": "Anna", "role": "cashier"}
BEAT = {"id": "201", "name": "Beat", "role": "supervisor"}


def journal(lane: Lane, kind: str) -> list[JournalRecord]:
    return [r for r in lane.book.journal.read(0, 1000) if r.kind == kind]


def sell(lane: Lane, clock: Clock, actor: str | None = None) -> Outcome:
    assert isinstance(lane.handle(ev.Scan(clock(), MILK, actor=actor)), Outcome)
    paid = lane.handle(ev.Tender(clock(), "cash", Decimal(5), actor=actor))
    assert isinstance(paid, Outcome)
    return paid


def test_a_cashier_acting_under_a_supervisors_shift_needs_an_override(
    lane: Lane, clock: Clock
) -> None:
    assert isinstance(lane.handle(ev.OpenShift(clock(), SUPERVISOR)), Outcome)
    sell(lane, clock)  # box-1-000001, the till's own
    head = lane.book.journal.state().head_seq
    refused = [
        lane.handle(ev.NoSale(clock(), "change", actor="101")),
        lane.handle(ev.Refund(clock(), "box-1-000001", "changed mind", actor="101")),
    ]
    assert [r.code for r in refused if isinstance(r, Refusal)] == ["needs_override"] * 2
    assert lane.book.journal.state().head_seq == head  # nothing written
    approved = ev.Authorization(SUPERVISOR_PIN, "change")
    assert isinstance(lane.handle(ev.NoSale(clock(), "change", approved, actor="101")), Outcome)
    (override,) = journal(lane, "override")
    assert (override.body["cashier"], override.body["operator"]) == (ANNA, BEAT)
    assert override.body["supervisor"] == BEAT
    (drawer,) = journal(lane, "no_sale")
    assert (drawer.body["staff"], drawer.body["operator"]) == (ANNA, BEAT)


def test_records_name_the_actor_and_the_tills_cashier_beside(lane: Lane, clock: Clock) -> None:
    assert isinstance(lane.handle(ev.OpenShift(clock(), CASHIER)), Outcome)
    sell(lane, clock)  # Anna's own sale
    sell(lane, clock, actor="201")  # completed from Beat's tablet
    sell(lane, clock, actor="101")  # Anna on a tablet: still her own, no operator
    assert isinstance(
        lane.handle(ev.Refund(clock(), "box-1-000001", "faulty", actor="201")), Outcome
    )
    assert isinstance(lane.handle(ev.Scan(clock(), MILK)), Outcome)
    assert isinstance(lane.handle(ev.VoidSale(clock(), "left", actor="201")), Outcome)
    assert isinstance(lane.handle(ev.CloseShift(clock(), Decimal(150), actor="201")), Outcome)

    own, tablet, own_tablet = journal(lane, "sale")
    assert own.body["staff"] == ANNA and "operator" not in own.body
    assert (tablet.body["staff"], tablet.body["operator"]) == (BEAT, ANNA)
    assert own_tablet.body["staff"] == ANNA and "operator" not in own_tablet.body
    for kind in ("refund", "void", "shift_close"):
        (record,) = journal(lane, kind)
        assert (record.body["staff"], record.body["operator"]) == (BEAT, ANNA), kind
        assert record.body.get("override") is None  # Beat's own role allowed each
    for record in lane.book.journal.read(0, 1000):
        if record.kind != "shift_open":
            parsed = parse_body(record.kind, dict(record.body))
            assert parsed.to_body() == record.body  # the same bytes back, operator or not


def test_an_actor_not_on_the_staff_is_refused_before_anything(lane: Lane, clock: Clock) -> None:
    assert isinstance(lane.handle(ev.OpenShift(clock(), SUPERVISOR)), Outcome)
    head = lane.book.journal.state().head_seq
    for event in (
        ev.Scan(clock(), MILK, actor="999"),
        ev.NoSale(clock(), "change", actor="999"),
    ):
        answer = lane.handle(event)
        assert isinstance(answer, Refusal) and answer.code == "unknown_staff", answer
    assert lane.book.journal.state().head_seq == head and lane.sale is None
