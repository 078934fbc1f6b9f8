"""The lane's transition table and sale events against a real SQLite file: each refusal
names why and leaves the lane (state, sale, journal head) exactly as it was."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from lane_testkit import CASHIER, SUPERVISOR, Clock

from gateway.catalog.catalog import build_catalog
from gateway.catalog.document import parse_document
from gateway.lane import events as ev
from gateway.lane.events import Outcome, Refusal
from gateway.lane.machine import TABLE, Lane, State

D = Decimal
CHOC = "7612345001234"  # Milk chocolate 1.90, food 2.6 %
PEN = "4006381333931"  # Highlighter 1.20, office 8.1 % exclusive


def snapshot(lane: Lane) -> tuple[object, ...]:
    return (lane.state, lane.shift, lane.sale, lane.book.journal.state().head_seq)


def refused(lane: Lane, event: ev.Event, code: str) -> Refusal:
    before = snapshot(lane)
    answer = lane.handle(event)
    assert isinstance(answer, Refusal), answer
    assert answer.code == code, answer
    assert answer.message.endswith((".", "!")) and not answer.message[0].islower()
    assert snapshot(lane) == before
    return answer


def ok(lane: Lane, event: ev.Event) -> Outcome:
    answer = lane.handle(event)
    assert isinstance(answer, Outcome), answer
    return answer


def open_lane(lane: Lane, clock: Clock) -> None:
    ok(lane, ev.OpenShift(clock(), CASHIER, D("100.00")))


def test_every_state_refuses_what_its_table_does_not_list(lane: Lane, clock: Clock) -> None:
    refused(lane, ev.Scan(clock(), CHOC), "not_now")
    refused(lane, ev.Tender(clock(), "cash"), "not_now")
    open_lane(lane, clock)
    assert lane.state is State.IDLE
    refused(lane, ev.Tender(clock(), "cash"), "not_now")
    refused(lane, ev.OpenShift(clock(), CASHIER), "not_now")
    ok(lane, ev.Scan(clock(), CHOC))
    refused(lane, ev.CloseShift(clock(), D(0)), "not_now")  # no close with a sale open
    refused(lane, ev.NoSale(clock(), "change"), "not_now")
    ok(lane, ev.Tender(clock(), "card", D("1.00"), reference="T-1"))
    assert lane.state is State.TENDERING
    refused(lane, ev.Scan(clock(), CHOC), "not_now")
    refused(lane, ev.Suspend(clock()), "not_now")
    assert set(TABLE[State.TENDERING]) == {ev.Tender, ev.WalletPayment, ev.VoidSale}


def test_scan_misread_and_unknown_item_are_refused(lane: Lane, clock: Clock) -> None:
    open_lane(lane, clock)
    refused(lane, ev.Scan(clock(), "7612345001235"), "misread")  # wrong check digit
    refused(lane, ev.Scan(clock(), "4006381333948"), "unknown_item")  # valid, not stocked
    refused(lane, ev.Plu(clock(), "1001"), "needs_weight")  # apples by weight
    refused(lane, ev.Scan(clock(), CHOC, D("0.5")), "bad_quantity")


def test_weighed_item_needs_a_stable_positive_in_range_weight(lane: Lane, clock: Clock) -> None:
    open_lane(lane, clock)
    refused(lane, ev.Weighed(clock(), "1001", D("0.456"), stable=False), "scale_unstable")
    refused(lane, ev.Weighed(clock(), "1001", D("0"), stable=True), "scale_empty")
    refused(lane, ev.Weighed(clock(), "1001", None, stable=True), "scale_empty")
    refused(lane, ev.Weighed(clock(), "1001", D("31"), stable=True), "scale_over")
    refused(lane, ev.Weighed(clock(), "501", D("0.2"), stable=True), "not_weighed")
    ok(lane, ev.Weighed(clock(), "1001", D("0.456"), stable=True))
    line = lane.sale.priced.lines[0]
    assert (line.sku, line.weight, line.list_amount) == ("APPLE-GALA", D("0.456"), D("1.73"))


def test_tender_less_than_due_keeps_the_sale_open_then_cash_gives_change(
    lane: Lane, clock: Clock
) -> None:
    open_lane(lane, clock)
    for _ in range(3):
        ok(lane, ev.Scan(clock(), CHOC))  # 3 for 2: 3.80
    ok(lane, ev.Scan(clock(), PEN))  # 1.20 + 8.1 % = 1.30 (office week -10 %: 1.08+0.09)
    total = lane.sale.priced.total
    first = ok(lane, ev.Tender(clock(), "cash", D("2.00")))
    assert first.state == "tendering" and first.records == ()
    assert lane.sale.paid == D("2.00")
    done = ok(lane, ev.Tender(clock(), "cash", D("10.00")))
    assert done.state == "idle" and done.open_drawer
    body = done.records[0].body
    assert done.records[0].kind == "sale"
    due = D(body["totals"]["due"])
    assert due - total == D(body["totals"]["cash_rounding"])
    assert (due * 20) == (due * 20).to_integral_value()  # cash paid in 0.05 steps
    assert D(body["change"]) == D("12.00") - due
    assert [t["type"] for t in body["tenders"]] == ["cash", "cash"]


def test_change_is_given_only_on_cash(lane: Lane, clock: Clock) -> None:
    open_lane(lane, clock)
    ok(lane, ev.Scan(clock(), CHOC))
    for kind in ("card", "mobile", "voucher"):
        refused(lane, ev.Tender(clock(), kind, D("2.00"), reference="R"), "no_change")
    refused(lane, ev.Tender(clock(), "card", D("1.00")), "needs_reference")
    refused(lane, ev.Tender(clock(), "cash", D("0")), "bad_amount")
    refused(lane, ev.Tender(clock(), "cash", D("1.005")), "bad_amount")
    refused(lane, ev.Tender(clock(), "points", D("1.00")), "needs_member")


def test_split_tender_card_masks_the_number_and_charges_exactly(lane: Lane, clock: Clock) -> None:
    open_lane(lane, clock)
    ok(lane, ev.Scan(clock(), CHOC))
    ok(lane, ev.Scan(clock(), PEN))
    ok(lane, ev.Tender(clock(), "voucher", D("1.00"), reference="V-778"))
    done = ok(
        lane, ev.Tender(clock(), "card", None, reference="AUTH-9", card="4111 1111 1111 1111")
    )
    body = done.records[0].body
    assert not done.open_drawer  # no cash: the drawer stays shut
    card = body["tenders"][1]
    assert card["card"] == "411111******1111"
    assert "4111111111111111" not in json.dumps(body)
    assert D(card["amount"]) + D("1.00") == D(body["totals"]["total"])  # no cash rounding
    assert body["totals"]["cash_rounding"] == "0.00" and body["change"] == "0.00"


def test_a_refused_price_override_leaves_no_override_record(lane: Lane, clock: Clock) -> None:
    """Issue 12 defect 4: the supervisor authorised it, then the price could not be
    computed (three decimals in a two-decimal currency). The step was refused, so the
    override never happened: before the lane returned its writes, it was journalled."""
    open_lane(lane, clock)
    ok(lane, ev.Scan(clock(), PEN))
    boss = ev.Authorization(SUPERVISOR, "damaged")
    answer = refused(lane, ev.PriceOverride(clock(), 0, D("0.505"), boss), "bad_price")
    assert answer.message == "0.505 has more decimals than the currency."
    assert [r.kind for r in lane.book.journal.read(0, 50)] == ["shift_open"]
    accepted = ok(lane, ev.PriceOverride(clock(), 0, D("0.50"), boss))
    assert [r.kind for r in accepted.records] == ["override"]
    assert [r.kind for r in lane.book.journal.read(0, 50)] == ["shift_open", "override"]


def test_quantity_void_and_price_override_rules(lane: Lane, clock: Clock) -> None:
    open_lane(lane, clock)
    ok(lane, ev.Scan(clock(), PEN))
    ok(lane, ev.ChangeQuantity(clock(), 0, D(3)))
    assert lane.sale.lines[0].quantity == 3
    refused(lane, ev.ChangeQuantity(clock(), 5, D(1)), "no_such_line")
    refused(lane, ev.PriceOverride(clock(), 0, D("0.50")), "needs_override")
    refused(
        lane,
        ev.PriceOverride(clock(), 0, D("0.50"), ev.Authorization(CASHIER, "x")),
        "not_permitted",
    )
    ok(lane, ev.PriceOverride(clock(), 0, D("0.50"), ev.Authorization(SUPERVISOR, "damaged")))
    assert lane.sale.priced.lines[0].unit_price == D("0.50")
    ok(lane, ev.Scan(clock(), CHOC))
    ok(lane, ev.VoidLine(clock(), 1))
    done = ok(lane, ev.Tender(clock(), "cash", D("5")))
    body = done.records[-1].body
    kinds = [r.kind for r in lane.book.journal.read(0, 50)]
    assert kinds == ["shift_open", "override", "sale"]  # the override journalled when given
    assert body["overrides"][0]["supervisor"]["name"] == "Beat"
    assert body["lines"][0]["override"] == body["overrides"][0]["id"]
    assert [v["sku"] for v in body["voided_lines"]] == ["CHOC-MILK"]


def test_suspend_and_resume_across_a_restart(
    db_path: Path, catalog, settings, clock: Clock
) -> None:
    from lane_testkit import make_lane

    lane = make_lane(db_path, catalog, settings)
    open_lane(lane, clock)
    ok(lane, ev.Scan(clock(), CHOC))
    ok(lane, ev.Coupon(clock(), "welcome5"))
    held = ok(lane, ev.Suspend(clock()))
    assert lane.state is State.IDLE and held.notices == ("Sale suspended as H0001.",)
    lane.book.db.conn.close()
    again = make_lane(db_path, catalog, settings)  # the box restarted
    assert again.state is State.IDLE and again.shift is not None
    refused(again, ev.Resume(clock(), "H0009"), "no_such_suspension")
    ok(again, ev.Resume(clock(), "H0001"))
    assert [line.sku for line in again.sale.lines] == ["CHOC-MILK"]
    assert again.sale.coupons == ("WELCOME5",)
    body = ok(again, ev.Tender(clock(), "cash", D(5))).records[0].body
    assert body["resumed_from"] == "H0001"
    assert again.book.suspended_ids() == []


def test_void_sale_before_and_after_tender(lane: Lane, clock: Clock) -> None:
    open_lane(lane, clock)
    ok(lane, ev.Scan(clock(), CHOC))
    refused(lane, ev.VoidSale(clock(), " "), "needs_reason")
    voided = ok(lane, ev.VoidSale(clock(), "customer left"))
    assert voided.records[0].kind == "void" and voided.records[0].body["after_tender"] is False
    ok(lane, ev.Scan(clock(), CHOC))
    ok(lane, ev.Tender(clock(), "card", D("1.00"), reference="T"))
    refused(lane, ev.VoidSale(clock(), "card declined later"), "needs_override")
    out = ok(
        lane,
        ev.VoidSale(
            clock(), "card declined later", ev.Authorization(SUPERVISOR, "terminal reversal")
        ),
    )
    assert [r.kind for r in out.records] == ["override", "void"]
    assert out.records[1].body["tenders_reversed"][0]["amount"] == "1.00"


def test_new_catalog_waits_for_the_sale_in_progress(lane: Lane, clock: Clock, catalog) -> None:
    data = json.loads(json.dumps(catalog.document.model_dump(mode="json", by_alias=True)))
    data["version"] = 2
    for product in data["products"]:
        if product["sku"] == "CHOC-MILK":
            product["price"] = "9.90"
    newer = build_catalog(parse_document(data))
    open_lane(lane, clock)
    ok(lane, ev.Scan(clock(), CHOC))
    lane.set_catalog(newer)
    ok(lane, ev.Scan(clock(), PEN))
    assert lane.sale.priced.lines[0].unit_price == D("1.90")
    body = ok(lane, ev.Tender(clock(), "cash", D(10))).records[0].body
    assert body["catalog_version"] == 1
    ok(lane, ev.Scan(clock(), CHOC))
    assert lane.sale.priced.lines[0].unit_price == D("9.90")
    assert lane.sale.priced.catalog_version == 2


def test_close_shift_counts_the_drawer(lane: Lane, clock: Clock) -> None:
    open_lane(lane, clock)
    ok(lane, ev.Scan(clock(), CHOC))
    ok(lane, ev.Tender(clock(), "cash", D(5)))  # 1.61 (snacks -15 %), 1.60 in cash
    refused(lane, ev.CloseShift(clock(), D("-1")), "bad_count")
    out = ok(lane, ev.CloseShift(clock(), D("101.50"), blind=True))
    body = out.records[0].body
    assert (body["expected"], body["over_short"], body["blind"]) == ("101.60", "-0.10", True)
    assert lane.state is State.CLOSED and lane.shift is None
    assert lane.book.open_shift() is None


def test_a_weight_reading_from_the_scale_driver(lane: Lane, clock: Clock) -> None:
    from devices.events import WeightReading, WeightStatus

    open_lane(lane, clock)
    moving = WeightReading("scale", D("0.456"), "kg", WeightStatus.MOTION, b"", clock.now)
    refused(lane, ev.Weighed.from_reading(clock(), "1001", moving), "scale_unstable")
    grams = WeightReading("scale", D("456"), "g", WeightStatus.STABLE, b"", clock.now)
    ok(lane, ev.Weighed.from_reading(clock(), "1001", grams))
    assert lane.sale.lines[0].weight == D("0.456")


def test_counts_are_blind_unless_the_settings_say_otherwise(
    db_path: Path, catalog, settings, clock: Clock
) -> None:
    from lane_testkit import make_lane

    lane = make_lane(db_path, catalog, settings)
    open_lane(lane, clock)
    ok(lane, ev.Scan(clock(), CHOC))
    ok(lane, ev.Tender(clock(), "cash", D(5)))
    assert isinstance(lane.expected_drawer(), Refusal)
    x = lane.x_report()
    assert (x.sales, x.cash_sales) == (1, D("1.60"))
    lane.book.db.conn.close()
    open_counts = settings.model_copy(
        update={"lane": settings.lane.model_copy(update={"blind_count": False})}
    )
    again = make_lane(db_path, catalog, open_counts)
    assert again.expected_drawer() == D("101.60")
    body = ok(again, ev.CloseShift(clock(), D("101.60"))).records[0].body
    assert body["blind"] is False and body["over_short"] == "0.00"


def test_shift_handover_carries_the_counted_drawer_over(
    db_path: Path, catalog, settings, clock: Clock
) -> None:
    from lane_testkit import SUPERVISOR_PIN, make_lane

    handover = settings.model_copy(
        update={"lane": settings.lane.model_copy(update={"carry_over_drawer": True})}
    )
    lane = make_lane(db_path, catalog, handover)
    first = ok(lane, ev.OpenShift(clock(), CASHIER))
    assert first.records[0].body["opening_float"] == str(settings.lane.opening_float)
    ok(lane, ev.Scan(clock(), CHOC))
    ok(lane, ev.Tender(clock(), "cash", D(5)))
    ok(lane, ev.CloseShift(clock(), D("151.55")))
    second = ok(lane, ev.OpenShift(clock(), SUPERVISOR_PIN))
    body = second.records[0].body
    assert (body["opening_float"], body["staff"]["name"], body["method"]) == (
        "151.55",
        "Beat",
        "pin",
    )


def test_a_card_tender_keeps_at_most_six_and_four_digits(lane: Lane, clock: Clock) -> None:
    """The card reader hands the lane an already masked number (411111******1111): it is
    kept as it is; a full number typed in is masked; a short one keeps its last four."""
    open_lane(lane, clock)
    cards = {
        "411111******1111": "411111******1111",
        "4111111111111111": "411111******1111",
        "4111111111": "******1111",
        "1234": "**1234",
    }
    for given, kept in cards.items():
        ok(lane, ev.Scan(clock(), PEN))
        done = ok(lane, ev.Tender(clock(), "card", None, reference="T-9", card=given))
        assert done.records[-1].body["tenders"][0]["card"] == kept, given
