"""Cash management at the lane (issue 14, item 5): the opening float, paid-in and paid-out
with their reason and permission, the count by denomination at close, and the drawer's
figures on X and Z. Real SQLite file, real staff with scrypt PINs; every refusal is checked
to have written nothing."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from lane_testkit import CASHIER, SUPERVISOR, SUPERVISOR_PIN, Clock

from gateway.lane import drawer
from gateway.lane import events as ev
from gateway.lane.events import Outcome, Refusal
from gateway.lane.machine import Lane
from gateway.lane.records import parse_body
from gateway.receipts.model import from_record
from gateway.receipts.text import render_receipt
from gateway.reports import close_day, compute, from_bodies, render_report, x_report

D = Decimal
CHOC = "7612345001234"  # Milk chocolate: 1.61 after the snacks promotion, 1.60 in cash
BOSS = ev.Authorization(SUPERVISOR, "supplier paid")
DAY = "2026-11-24"


def written(lane: Lane) -> int:
    return lane.book.journal.state().head_seq


def refused(lane: Lane, event: ev.Event, code: str) -> Refusal:
    head, state = written(lane), (lane.state, lane.shift)
    answer = lane.handle(event)
    assert isinstance(answer, Refusal) and answer.code == code, answer
    assert answer.message.endswith(".") and not answer.message[0].islower(), answer.message
    assert (written(lane), lane.state, lane.shift) == (head, *state)
    return answer


def ok(lane: Lane, event: ev.Event) -> Outcome:
    answer = lane.handle(event)
    assert isinstance(answer, Outcome), answer
    return answer


def kinds(outcome: Outcome) -> list[str]:
    return [r.kind for r in outcome.records]  # type: ignore[attr-defined]


def test_the_drawer_rules_are_named_and_exact() -> None:
    assert drawer.expected_cash(D("100.00"), D("1.60"), D("1.60"), D("20.00"), D("30.00")) == D(
        "90.00"
    )
    assert drawer.over_short(D("88.00"), D("90.00")) == D("-2.00")
    assert drawer.over_short(D("90.50"), D("90.00")) == D("0.50")
    assert drawer.count_total("CHF", ((D("50"), 1), (D("20"), 2), (D("0.05"), 3))) == D("90.15")
    assert drawer.count_total("chf", ()) == 0
    for bad, says in (
        (((D("3"), 1),), "not a CHF note or coin"),
        (((D("1"), 1), (D("1"), 2)), "counted twice"),
        (((D("1"), -1),), "whole number of pieces"),
    ):
        with pytest.raises(drawer.CountError, match=says):
            drawer.count_total("CHF", bad)
    with pytest.raises(drawer.CountError, match="one total"):
        drawer.count_total("XAF", ((D("500"), 1),))
    assert drawer.net_of(D("1228.61"), D("31.11")) == D("1197.50")
    assert (drawer.signed(D("1.50")), drawer.signed(D("-2.00")), drawer.signed(D("0.00"))) == (
        "+1.50",
        "-2.00",
        "0.00",
    )
    assert [drawer.over_short_word(D(n)) for n in ("1", "-1", "0")] == ["over", "short", "even"]
    assert drawer.count_fields("CHF", {"d_50": "2", "d_0.05": " 4 ", "d_20": ""}) == (
        (D("50"), 2),
        (D("0.05"), 4),
    )
    with pytest.raises(drawer.CountError, match="whole number"):
        drawer.count_fields("CHF", {"d_10": "1.5"})
    for currency, values in drawer.DENOMINATIONS.items():
        assert list(values) == sorted(values, reverse=True) and len(set(values)) == len(values)
        assert drawer.denominations(currency.lower()) == values


def test_the_float_given_at_sign_on_is_the_drawer_s_start(lane: Lane, clock: Clock) -> None:
    refused(lane, ev.OpenShift(clock(), CASHIER, D("-5")), "bad_float")
    out = ok(lane, ev.OpenShift(clock(), CASHIER, D("80.00")))
    assert out.records[0].body["opening_float"] == "80.00"  # type: ignore[attr-defined]
    x = lane.x_report()
    assert isinstance(x, type(x_report(lane.book, "none")))
    assert (x.shifts_opened, x.opening_floats, x.expected_cash) == (1, D("80.00"), D("80.00"))


def test_a_paid_in_is_journalled_with_who_and_why(lane: Lane, clock: Clock) -> None:
    ok(lane, ev.OpenShift(clock(), CASHIER, D("100.00")))
    refused(lane, ev.PaidIn(clock(), D("20.00"), "  "), "needs_reason")
    refused(lane, ev.PaidIn(clock(), D("0"), "bank"), "bad_amount")
    refused(lane, ev.PaidIn(clock(), D("-1"), "bank"), "bad_amount")
    refused(lane, ev.PaidIn(clock(), D("1.005"), "bank"), "bad_amount")
    out = ok(lane, ev.PaidIn(clock(), D("20"), " change from the bank "))
    assert kinds(out) == ["paid_in"] and out.open_drawer and out.receipt is not None
    record = out.document
    assert record is out.records[0]
    body = record.body  # type: ignore[attr-defined]
    assert body["schema"] == "storegate.lane.paid_in/1"
    assert (body["amount"], body["reason"], body["currency"]) == (
        "20.00",
        "change from the bank",
        "CHF",
    )
    assert body["staff"] == {"id": "101", "name": "Anna", "role": "cashier"}
    assert "operator" not in body and body["override"] is None
    assert parse_body("paid_in", body).to_body() == body
    text = render_receipt(out.receipt, 42)  # type: ignore[arg-type]
    assert "PAID IN" in text and "change from the bank" in text and "20.00" in text
    assert lane.state.value == "idle"


def test_a_paid_out_needs_a_permitted_role_a_reason_and_the_cash(lane: Lane, clock: Clock) -> None:
    ok(lane, ev.OpenShift(clock(), CASHIER, D("100.00")))
    refused(lane, ev.PaidOut(clock(), D("30.00"), "milk man"), "needs_override")
    refused(lane, ev.PaidOut(clock(), D("30.00"), ""), "needs_reason")
    refused(
        lane,
        ev.PaidOut(clock(), D("30.00"), "milk man", ev.Authorization(CASHIER, "me")),
        "not_permitted",
    )
    wrong_pin = ev.Authorization(ev.Credential(staff_id="201", pin="000000"), "milk man")
    assert refused(lane, ev.PaidOut(clock(), D("30.00"), "x", wrong_pin), "wrong_pin")
    # the drawer holds 100.00: no paid-out takes more, whoever authorises it (and no PIN
    # is looked at for an amount that cannot be paid)
    refused(lane, ev.PaidOut(clock(), D("100.01"), "safe drop", BOSS), "drawer_short")
    ok(lane, ev.PaidIn(clock(), D("100.00"), "change from the bank"))
    refused(lane, ev.PaidOut(clock(), D("150.00"), "safe drop", BOSS), "over_ceiling")  # 100
    out = ok(lane, ev.PaidOut(clock(), D("30.00"), "milk man", BOSS))
    assert kinds(out) == ["override", "paid_out"] and out.open_drawer
    override, paid = (r.body for r in out.records)  # type: ignore[attr-defined]
    assert (override["action"], override["amount"], override["supervisor"]["name"]) == (
        "paid_out",
        "30.00",
        "Beat",
    )
    assert paid["schema"] == "storegate.lane.paid_out/1"
    assert (paid["staff"]["name"], paid["amount"], paid["reason"]) == ("Anna", "30.00", "milk man")
    assert paid["override"]["supervisor"]["name"] == "Beat"
    assert out.document is out.records[1]
    slip = render_receipt(out.receipt, 42)  # type: ignore[arg-type]
    assert "PAID OUT" in slip and "Received by:" in slip and "Thank you" not in slip
    assert any(r.startswith("Authorised by") and r.endswith("Beat") for r in slip.splitlines())
    # a supervisor logged in on a tablet pays out herself: her permission, her name, and
    # the till's cashier beside her
    mine = ok(lane, ev.PaidOut(clock(), D("70.00"), "cash drop to the safe", actor="201"))
    body = mine.records[0].body  # type: ignore[attr-defined]
    assert kinds(mine) == ["paid_out"] and body["override"] is None
    assert (body["staff"]["name"], body["operator"]["name"]) == ("Beat", "Anna")
    x = lane.x_report()
    assert not isinstance(x, Refusal)
    assert (x.paid_ins, x.paid_in, x.paid_outs, x.paid_out) == (1, D("100.00"), 2, D("100.00"))
    assert x.expected_cash == D("100.00")
    refused(lane, ev.PaidOut(clock(), D("100.05"), "safe drop", actor="201"), "drawer_short")


def failed_pins(lane: Lane, staff_id: str) -> int:
    row = lane.book.conn.execute(
        "SELECT failed_pins FROM lane_staff WHERE id = ?", (staff_id,)
    ).fetchone()
    return int(row[0])


def test_a_wrong_amount_or_count_costs_no_pin_attempt(lane: Lane, clock: Clock) -> None:
    ok(lane, ev.OpenShift(clock(), CASHIER, D("100.00")))
    wrong = ev.Authorization(ev.Credential(staff_id="201", pin="000000"), "x")
    refused(lane, ev.PaidOut(clock(), D("500.00"), "safe drop", wrong), "drawer_short")
    refused(lane, ev.PaidOut(clock(), D("5.00"), "", wrong), "needs_reason")
    refused(lane, ev.PaidIn(clock(), D("0"), "bank", wrong), "bad_amount")
    count = ((D("50"), 1),)
    refused(
        lane,
        ev.CloseShift(clock(), D("60"), authorization=wrong, denominations=count),
        "count_mismatch",
    )
    assert failed_pins(lane, "201") == 0
    refused(lane, ev.PaidOut(clock(), D("5.00"), "milk man", wrong), "wrong_pin")
    assert failed_pins(lane, "201") == 1  # only a check that looked at the PIN counts it


def test_a_paid_out_in_a_sale_is_refused(lane: Lane, clock: Clock) -> None:
    ok(lane, ev.OpenShift(clock(), CASHIER, D("100.00")))
    ok(lane, ev.Scan(clock(), CHOC))
    refused(lane, ev.PaidOut(clock(), D("1.00"), "x", BOSS), "not_now")
    refused(lane, ev.PaidIn(clock(), D("1.00"), "x"), "not_now")


def shift_with_cash(lane: Lane, clock: Clock) -> str:
    """Float 100.00, a cash sale (1.60 in cash), its cash refund (1.60), paid in 20.00, paid
    out 30.00: expected cash 90.00."""
    ok(lane, ev.OpenShift(clock(), CASHIER, D("100.00")))
    ok(lane, ev.Scan(clock(), CHOC))
    ok(lane, ev.Scan(clock(), CHOC))
    sale = ok(lane, ev.Tender(clock(), "cash", D(10))).document
    receipt = sale.body["receipt_id"]  # type: ignore[attr-defined]
    returned = ev.Authorization(SUPERVISOR, "melted")
    ok(lane, ev.Refund(clock(), receipt, "melted", {0: D(1)}, authorization=returned))
    ok(lane, ev.PaidIn(clock(), D("20.00"), "change from the bank"))
    ok(lane, ev.PaidOut(clock(), D("30.00"), "milk man", BOSS))
    assert lane.shift is not None
    return lane.shift.shift_id


def test_expected_cash_is_float_plus_sales_minus_refunds_plus_in_minus_out(
    lane: Lane, clock: Clock
) -> None:
    shift_id = shift_with_cash(lane, clock)
    x = lane.x_report()
    assert not isinstance(x, Refusal)
    assert (x.cash_sales, x.cash_refunds) == (D("3.20"), D("1.60"))
    assert x.expected_cash == D("100.00") + D("3.20") - D("1.60") + D("20.00") - D("30.00")
    assert x.expected_cash == D("91.60")
    out = ok(lane, ev.CloseShift(clock(), D("89.60")))
    close = out.records[0].body  # type: ignore[attr-defined]
    assert (close["expected"], close["counted"], close["over_short"]) == ("91.60", "89.60", "-2.00")
    assert (close["paid_in"], close["paid_out"]) == ("20.00", "30.00")
    assert "denominations" not in close
    assert out.notices == ("Drawer short: -2.00 (expected 91.60, counted 89.60).",)
    closed = x_report(lane.book, shift_id)  # the X of the closed shift shows its count
    assert (closed.shifts_closed, closed.counted, closed.over_short) == (1, D("89.60"), D("-2.00"))
    assert closed.first_seq == x.first_seq and closed.last_seq == x.last_seq  # no trading


def test_a_count_by_denomination_must_add_up(lane: Lane, clock: Clock) -> None:
    ok(lane, ev.OpenShift(clock(), CASHIER, D("50.00")))
    notes = ((D("20"), 2), (D("5"), 1), (D("2"), 2), (D("0.50"), 1), (D("0.10"), 0))
    refused(lane, ev.CloseShift(clock(), D("50.00"), denominations=notes), "count_mismatch")
    refused(
        lane,
        ev.CloseShift(clock(), D("3.00"), denominations=((D("3"), 1),)),
        "bad_denomination",
    )
    refused(
        lane,
        ev.CloseShift(clock(), D("2.00"), denominations=((D("1"), 1), (D("1"), 1))),
        "bad_denomination",
    )
    refused(lane, ev.CloseShift(clock(), D("49.505")), "bad_count")  # CHF has 2 decimals
    out = ok(lane, ev.CloseShift(clock(), D("49.5"), denominations=notes))
    close = out.records[0].body  # type: ignore[attr-defined]
    assert close["denominations"] == [
        {"value": "20", "pieces": 2, "amount": "40.00"},
        {"value": "5", "pieces": 1, "amount": "5.00"},
        {"value": "2", "pieces": 2, "amount": "4.00"},
        {"value": "0.50", "pieces": 1, "amount": "0.50"},
    ]
    assert (close["counted"], close["over_short"]) == ("49.50", "-0.50")  # to the cent
    assert (close["paid_in"], close["paid_out"]) == ("0.00", "0.00")
    assert parse_body("shift_close", close).to_body() == close


def test_x_and_z_carry_the_drawer_and_tax_per_rate(lane: Lane, clock: Clock) -> None:
    shift_id = shift_with_cash(lane, clock)
    ok(lane, ev.CloseShift(clock(), D("92.10")))
    # the same figures from the stored digests and from the bodies
    stored = compute(lane.book.day_digests(DAY))
    assert stored.to_json() == from_bodies(lane.book.bodies(day=DAY)).to_json()
    assert (stored.expected_cash, stored.counted, stored.over_short) == (
        D("91.60"),
        D("92.10"),
        D("0.50"),
    )
    at = datetime(2026, 11, 24, 18, 5, 7)
    text = render_report(f"X REPORT shift {shift_id}", x_report(lane.book, shift_id), 48, at=at)
    assert "Printed" in text and "2026-11-24 18:05:07" in text
    for label, value in (
        ("Opening floats", "100.00"),
        ("Paid in", "1  20.00"),
        ("Paid out", "1  30.00"),
        ("Expected cash", "91.60"),
        ("Counted", "92.10"),
        ("Over/short", "+0.50"),
    ):
        assert any(line.startswith(label) and line.endswith(value) for line in text.splitlines())
    taxes = [line for line in text.splitlines() if line.startswith("  2.6%")]
    assert [line.split()[1:] for line in taxes] == [["1.57", "0.04", "1.61"]]  # net tax gross
    z = close_day(
        lane.book,
        lane.staff,
        lane.settings.lane,
        lane.lane_ref,
        DAY,
        at,
        SUPERVISOR_PIN,
        lambda: "z-1",
    )
    assert not isinstance(z, Refusal)
    body = z.body
    assert {k: body[k] for k in ("opening_floats", "paid_in", "paid_out", "expected_cash")} == {
        "opening_floats": "100.00",
        "paid_in": "20.00",
        "paid_out": "30.00",
        "expected_cash": "91.60",
    }
    assert (body["paid_ins"], body["paid_outs"], body["shifts_closed"]) == (1, 1, 1)
    assert (body["counted"], body["over_short"]) == ("92.10", "0.50")
    assert parse_body("z_report", body).to_body() == body
    printed = render_receipt(from_record(z, (), ()), 48)
    assert "Over/short" in printed and "+0.50" in printed and "net  tax  gross" in printed


def test_a_z_written_before_the_drawer_figures_still_reads() -> None:
    old = {
        "z_number": 1,
        "lane": {"store": "s", "box": "b"},
        "business_day": DAY,
        "local_time": "2026-11-24T20:00:00",
        "staff": {"id": "201", "name": "Beat", "role": "supervisor"},
        "first_seq": 1,
        "last_seq": 2,
        "currency": "CHF",
        "sales": 0,
        "gross": "0.00",
        "discounts": "0.00",
        "refunds": 0,
        "refunds_amount": "0.00",
        "net": "0.00",
        "voids": 0,
        "voids_amount": "0.00",
        "line_voids": 0,
        "no_sales": 0,
        "points_issued": 0,
        "points_redeemed": 0,
        "by_tender": [],
        "by_tax": [],
        "by_category": [],
        "by_cashier": [],
    }
    parsed = parse_body("z_report", old)
    assert {**old, "points_reversed": 0, "points_returned": 0} == parsed.to_body()
