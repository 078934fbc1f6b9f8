"""Refunds from the original allocation, and returns without a receipt."""

from __future__ import annotations

from decimal import Decimal

from lane_testkit import CASHIER, SUPERVISOR, Clock, make_lane

from gateway.lane import events as ev
from gateway.lane.events import Outcome, Refusal
from gateway.lane.machine import Lane

D = Decimal
BOSS = ev.Authorization(SUPERVISOR, "customer return")
YOG = "7612345001050"  # 0.85, "any 3 yoghurts for 2.00"
PASTA = "7612345001142"  # 1.95, 0.50 off


def ok(lane: Lane, event: ev.Event) -> Outcome:
    answer = lane.handle(event)
    assert isinstance(answer, Outcome), answer
    return answer


def no(lane: Lane, event: ev.Event, code: str) -> Refusal:
    head = lane.book.journal.state().head_seq
    answer = lane.handle(event)
    assert isinstance(answer, Refusal) and answer.code == code, answer
    assert lane.book.journal.state().head_seq == head
    return answer


def sold(lane: Lane, clock: Clock) -> dict:
    """A sale whose discounts need allocating: a 3-for-2.00 bundle and a 30.00 coupon."""
    ok(lane, ev.OpenShift(clock(), CASHIER))
    ok(lane, ev.Scan(clock(), YOG, D(3)))
    ok(lane, ev.Scan(clock(), PASTA, D(2)))
    ok(lane, ev.Scan(clock(), "7612345001357", D(3)))  # detergent 3 x 11.90
    ok(lane, ev.Coupon(clock(), "WELCOME5"))
    body = ok(lane, ev.Tender(clock(), "card", None, reference="T1")).records[0].body
    assert any(a["kind"] == "basket" for a in body["lines"][0]["adjustments"])
    return body


def test_partial_refunds_add_up_to_exactly_what_was_paid(lane: Lane, clock: Clock) -> None:
    sale = sold(lane, clock)
    receipt = sale["receipt_id"]
    first = ok(lane, ev.Refund(clock(), receipt, "too many", {0: D(1)}, authorization=BOSS))
    rest = ok(
        lane,
        ev.Refund(
            clock(), receipt, "all back", None, tender="card", reference="T2", authorization=BOSS
        ),
    )
    refunds = [r.body for out in (first, rest) for r in out.records if r.kind == "refund"]
    assert sum(D(r["total"]) for r in refunds) == D(sale["totals"]["total"])
    per_line: dict[int, D] = {}
    for r in refunds:
        for line in r["lines"]:
            per_line[line["original_index"]] = per_line.get(line["original_index"], D(0)) + D(
                line["amount"]
            )
    assert per_line == {i: D(line["total"]) for i, line in enumerate(sale["lines"])}
    assert refunds[0]["original_seq"] == lane.book.by_receipt(receipt).seq
    assert rest.records[-1].body["tenders"][0]["type"] == "card"


def test_refund_of_a_refunded_line_and_beyond_quantity_are_refused(
    lane: Lane, clock: Clock
) -> None:
    receipt = sold(lane, clock)["receipt_id"]
    no(lane, ev.Refund(clock(), receipt, "x", {1: D(3)}, authorization=BOSS), "beyond_quantity")
    ok(lane, ev.Refund(clock(), receipt, "x", {1: D(1)}, authorization=BOSS))
    no(lane, ev.Refund(clock(), receipt, "x", {1: D(2)}, authorization=BOSS), "beyond_quantity")
    ok(lane, ev.Refund(clock(), receipt, "x", {1: D(1)}, authorization=BOSS))
    no(lane, ev.Refund(clock(), receipt, "x", {1: D(1)}, authorization=BOSS), "already_refunded")
    no(lane, ev.Refund(clock(), receipt, "x", {9: D(1)}, authorization=BOSS), "no_such_line")
    no(lane, ev.Refund(clock(), "box-1-999999", "x", None, authorization=BOSS), "unknown_receipt")
    no(lane, ev.Refund(clock(), receipt, "x", {0: D(1)}), "needs_override")


def test_refund_above_the_supervisors_ceiling_is_refused(lane: Lane, clock: Clock) -> None:
    ok(lane, ev.OpenShift(clock(), CASHIER))
    ok(lane, ev.Scan(clock(), "7612345001326", D(9)))  # wine 9 x 12.50 = 112.50
    receipt = ok(lane, ev.Tender(clock(), "cash", D(120))).records[0].body["receipt_id"]
    no(lane, ev.Refund(clock(), receipt, "x", None, authorization=BOSS), "over_ceiling")
    ok(lane, ev.Refund(clock(), receipt, "x", {0: D(8)}, authorization=BOSS))  # 100.00


def test_weighed_lines_are_refunded_whole(lane: Lane, clock: Clock) -> None:
    ok(lane, ev.OpenShift(clock(), CASHIER))
    ok(lane, ev.Weighed(clock(), "2001", D("0.250"), stable=True))
    receipt = ok(lane, ev.Tender(clock(), "cash", D(20))).records[0].body
    no(
        lane,
        ev.Refund(clock(), receipt["receipt_id"], "x", {0: D("0.1")}, authorization=BOSS),
        "whole_line_only",
    )
    out = ok(
        lane, ev.Refund(clock(), receipt["receipt_id"], "x", {0: D("0.250")}, authorization=BOSS)
    )
    body = out.records[-1].body
    assert body["lines"][0]["amount"] == receipt["lines"][0]["total"]
    assert body["lines"][0]["weight"] == "0.250"


def test_return_without_receipt_is_its_own_permission(
    db_path, catalog, settings, clock: Clock
) -> None:
    strict = settings.lane.model_copy(
        update={"permissions": {**settings.lane.permissions, "return_without_receipt": ["admin"]}}
    )
    lane = make_lane(db_path, catalog, settings.model_copy(update={"lane": strict}))
    ok(lane, ev.OpenShift(clock(), CASHIER))
    no(
        lane,
        ev.ReturnWithoutReceipt(clock(), "501", "no receipt", authorization=BOSS),
        "not_permitted",
    )
    admin = ev.Authorization(ev.Credential(card="CARD-CHEN"), "goodwill")
    no(
        lane,
        ev.ReturnWithoutReceipt(
            clock(), "501", "no receipt", tender="stored_value", authorization=admin
        ),
        "no_member_to_credit",
    )
    out = ok(lane, ev.ReturnWithoutReceipt(clock(), "501", "no receipt", D(2), authorization=admin))
    body = out.records[-1].body
    assert body["with_receipt"] is False and body["total"] == "2.80"
    assert out.records[0].kind == "override"
    assert out.records[0].body["action"] == "return_without_receipt"
    no(
        lane,
        ev.ReturnWithoutReceipt(clock(), "1001", "apples", authorization=admin),
        "needs_receipt",
    )


def test_moling_is_refunded_in_proportion_from_the_stored_allocation(
    db_path, catalog, settings, clock: Clock
) -> None:
    """抹零 (dropping the fen) is allocated to lines at sale time; refunds read it back."""
    import json

    from gateway.catalog.catalog import build_catalog
    from gateway.catalog.document import parse_document

    data = json.loads(json.dumps(catalog.document.model_dump(mode="json", by_alias=True)))
    data["money"] = {"currency": "CNY", "decimals": 2, "moling": {"increment": "0.10"}}
    lane = make_lane(db_path, build_catalog(parse_document(data)), settings)
    ok(lane, ev.OpenShift(clock(), CASHIER))
    ok(lane, ev.Scan(clock(), "7612345001012", D(3)))  # 3 x 1.75
    ok(lane, ev.Scan(clock(), "7612345001166"))  # 3.60
    ok(lane, ev.Weighed(clock(), "1003", D("0.517"), stable=True))  # 4.60/kg: 2.38
    sale = ok(lane, ev.Tender(clock(), "cash", D(20))).records[0].body
    assert D(sale["totals"]["moling"]) < 0 and sale["totals"]["cash_rounding"] == "0.00"
    assert D(sale["totals"]["total"]) % D("0.10") == 0
    receipt = sale["receipt_id"]
    pieces = [
        ok(lane, ev.Refund(clock(), receipt, "x", {0: D(1)}, authorization=BOSS)),
        ok(lane, ev.Refund(clock(), receipt, "x", None, authorization=BOSS)),
    ]
    refunded = sum(D(r.body["total"]) for out in pieces for r in out.records if r.kind == "refund")
    assert refunded == D(sale["totals"]["total"])


def test_cash_only_moling_leaves_the_fen_out_of_cash_and_only_cash(
    db_path, catalog, settings, clock: Clock
) -> None:
    """抹零 for cash only, capped: cash pays the total less the jiao (at most 0.50), a card
    the exact total; the lines keep their exact amounts, and a cash refund of the whole
    sale pays back what the cash paid."""
    import json

    from gateway.catalog.catalog import build_catalog
    from gateway.catalog.document import parse_document

    data = json.loads(json.dumps(catalog.document.model_dump(mode="json", by_alias=True)))
    data["money"] = {
        "currency": "CNY",
        "decimals": 2,
        "moling": {"increment": "1.00", "cap": "0.50", "cash_only": True},
    }
    lane = make_lane(db_path, build_catalog(parse_document(data)), settings)
    ok(lane, ev.OpenShift(clock(), CASHIER))

    def ring() -> None:
        ok(lane, ev.Scan(clock(), "7612345001012", D(3)))  # 3 x 1.75 = 5.25
        ok(lane, ev.Scan(clock(), "7612345001166"))  # 3.60: 8.85, the jiao would be 0.85

    ring()
    cash = ok(lane, ev.Tender(clock(), "cash", D(20))).records[0].body
    assert cash["totals"]["total"] == "8.85" and cash["totals"]["moling"] == "0"
    assert cash["totals"]["cash_rounding"] == "-0.50"  # capped at 0.50
    assert [t["amount"] for t in cash["tenders"]] == ["8.35"] and cash["change"] == "11.65"
    assert all(a["kind"] != "moling" for ln in cash["lines"] for a in ln["adjustments"])
    ring()
    card = ok(lane, ev.Tender(clock(), "card", None, reference="T9")).records[0].body
    assert card["totals"]["cash_rounding"] == "0.00"
    assert [t["amount"] for t in card["tenders"]] == ["8.85"]
    back = ok(lane, ev.Refund(clock(), cash["receipt_id"], "x", None, authorization=BOSS))
    (refund,) = [r.body for r in back.records if r.kind == "refund"]
    assert refund["total"] == "8.85" and [t["amount"] for t in refund["tenders"]] == ["8.35"]


def test_returning_one_item_of_one_of_two_sets_pays_back_what_that_set_cost(
    lane: Lane, clock: Clock
) -> None:
    # "Any 3 yoghurts for 2.00" twice: mocha 0.95 x 3 is one set (0.85 off), strawberry
    # 0.85 x 3 the other (0.55 off); each line costs 2.00, so one mocha back is 2.00 / 3 =
    # 0.67 (largest remainder: 0.67 / 0.67 / 0.66). Pooled, the mocha line cost 2.11 and
    # one mocha paid back 0.71.
    ok(lane, ev.OpenShift(clock(), CASHIER))
    ok(lane, ev.Scan(clock(), "7612345001074", D(3)))  # mocha
    ok(lane, ev.Scan(clock(), YOG, D(3)))  # strawberry
    body = ok(lane, ev.Tender(clock(), "card", None, reference="T1")).records[0].body
    assert [line["total"] for line in body["lines"]] == ["2.00", "2.00"]
    back = ok(
        lane, ev.Refund(clock(), body["receipt_id"], "one too many", {0: D(1)}, authorization=BOSS)
    )
    (refund,) = [r.body for r in back.records if r.kind == "refund"]
    assert refund["total"] == "0.67" and refund["lines"][0]["amount"] == "0.67"
