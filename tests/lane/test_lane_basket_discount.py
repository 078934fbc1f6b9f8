"""整单折扣 at the lane: a whole-basket manual discount with a reason, its own permission
or a supervisor's override, journalled in the sale body, kept across suspend / resume and
a restart while paying, and refunded from the discounted line amounts."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

from lane_testkit import CASHIER, SUPERVISOR, Clock, make_lane

from gateway.catalog.catalog import Catalog
from gateway.journal import JournalRecord
from gateway.lane import events as ev
from gateway.lane.events import Outcome, Refusal
from gateway.lane.machine import Lane, State
from gateway.lane.records import RECORD_MODELS, parse_body
from gateway.receipts.model import from_record
from gateway.receipts.text import render_receipt
from gateway.settings import GatewaySettings

D = Decimal
BOSS = ev.Authorization(SUPERVISOR, "regular customer")
MILK = "7612345001012"  # 1.75
RICE = "7612345001166"  # 3.60


def ok(lane: Lane, event: ev.Event) -> Outcome:
    answer = lane.handle(event)
    assert isinstance(answer, Outcome), answer
    return answer


def no(lane: Lane, event: ev.Event, code: str) -> Refusal:
    head = lane.book.journal.state().head_seq
    answer = lane.handle(event)
    assert isinstance(answer, Refusal) and answer.code == code, answer
    assert lane.book.journal.state().head_seq == head  # a refusal journals nothing
    return answer


def records(out: Outcome) -> list[JournalRecord]:
    return [cast(JournalRecord, r) for r in out.records]


def bodies(out: Outcome, kind: str) -> list[dict[str, Any]]:
    return [r.body for r in records(out) if r.kind == kind]


def ring(lane: Lane, clock: Clock, who: ev.Credential = CASHIER) -> None:
    ok(lane, ev.OpenShift(clock(), who))
    ok(lane, ev.Scan(clock(), MILK, D(3)))  # 5.25
    ok(lane, ev.Scan(clock(), RICE))  # 3.60


def ten_percent(clock: Clock, **kw: object) -> ev.BasketDiscount:
    return ev.BasketDiscount(clock(), "damaged packaging", percent=D(10), **kw)  # type: ignore[arg-type]


def test_a_cashier_needs_a_supervisor_and_the_sale_records_who_and_why(
    lane: Lane, clock: Clock
) -> None:
    ring(lane, clock)
    refused = no(lane, ten_percent(clock), "needs_override")
    assert "discount on the whole sale" in refused.message
    out = ok(lane, ten_percent(clock, authorization=BOSS))
    assert out.notices == ("Basket discount 10%: 0.89 off.",)  # 10% of 8.85 = 0.885
    (override,) = bodies(out, "override")
    assert override["action"] == "basket_discount" and override["amount"] == "0.89"
    assert lane.sale is not None and lane.sale.priced is not None
    assert lane.sale.priced.total == D("7.96")
    done = ok(lane, ev.Tender(clock(), "cash", D(10)))
    record = records(done)[0]
    body = record.body
    # 0.89 over 5.25 / 3.60: exact 0.528 / 0.362 -> 0.52 / 0.36, the cent left to milk
    assert [line["total"] for line in body["lines"]] == ["4.72", "3.24"]
    milk_adj = body["lines"][0]["adjustments"]
    assert milk_adj == [
        {
            "kind": "basket",
            "amount": "-0.53",
            "label": "basket discount 10%",
            "promotion": None,
        }
    ]
    assert body["totals"]["total"] == "7.96" and body["totals"]["basket_discounts"] == "0.89"
    assert body["basket_discount"] == {
        "percent": "10",
        "amount": None,
        "discount": "0.89",
        "reason": "damaged packaging",
        "staff": {"id": "101", "name": "Anna", "role": "cashier"},
        "local_time": body["basket_discount"]["local_time"],
        "override": body["overrides"][0],
    }
    assert body["overrides"][0]["action"] == "basket_discount"
    assert body["overrides"][0]["supervisor"]["name"] == "Beat"
    # head office reads the body with the same models (`cloud.sales`: RECORD_MODELS)
    assert parse_body("sale", body).to_body() == body
    assert RECORD_MODELS["sale"].model_validate_json(json.dumps(body)).to_body() == body
    receipt = from_record(record, language="en")
    assert ("basket discount 10%", D("-0.89")) in receipt.basket_adjustments
    chinese = render_receipt(from_record(record, language="zh"), 42)
    assert "整单折扣 10%" in chinese and "-0.89" in chinese


def test_a_supervisor_enters_one_without_an_override(lane: Lane, clock: Clock) -> None:
    ring(lane, clock, SUPERVISOR)
    out = ok(lane, ev.BasketDiscount(clock(), "staff purchase", amount=D("2.00")))
    assert records(out) == []
    body = records(ok(lane, ev.Tender(clock(), "cash", D(10))))[0].body
    assert body["basket_discount"]["amount"] == "2.00"
    assert body["basket_discount"]["staff"]["name"] == "Beat"
    assert body["basket_discount"]["override"] is None and body["overrides"] == []
    assert body["totals"]["total"] == "6.85"


def test_what_is_refused_and_why(lane: Lane, clock: Clock) -> None:
    ok(lane, ev.OpenShift(clock(), CASHIER))
    no(lane, ten_percent(clock, authorization=BOSS), "not_now")  # no sale yet
    ok(lane, ev.Scan(clock(), MILK, D(3)))
    ok(lane, ev.Scan(clock(), RICE))

    def discount(code: str, reason: str = "why", **kw: object) -> str:
        event = ev.BasketDiscount(clock(), reason, authorization=BOSS, **kw)  # type: ignore[arg-type]
        return no(lane, event, code).message

    assert "reason" in discount("needs_reason", " ", percent=D(10))
    assert "more than zero" in discount("bad_discount", percent=D(0))
    assert "more than zero" in discount("bad_discount", amount=D("-1.00"))
    assert "one of the two" in discount("bad_discount")
    assert "one of the two" in discount("bad_discount", percent=D(5), amount=D(1))
    assert "two decimals" in discount("bad_discount", percent=D("12.345"))
    assert "more decimals than the currency" in discount("bad_discount", amount=D("1.234"))
    assert "max_basket_discount_percent" in discount("discount_over_maximum", percent=D(25))
    # an amount off: as much as the supervisor may authorise (Beat: 100.00)
    assert "override limit of 100.00" in discount("over_ceiling", amount=D("150.00"))
    assert lane.sale is not None and lane.sale.discount is None
    ok(lane, ev.Tender(clock(), "card", D("1.00"), reference="T1"))
    assert lane.state is State.TENDERING
    no(lane, ten_percent(clock, authorization=BOSS), "not_now")  # not once payment began


def test_entered_again_it_replaces_the_first_and_can_be_removed(lane: Lane, clock: Clock) -> None:
    ring(lane, clock)
    no(lane, ev.RemoveBasketDiscount(clock()), "no_basket_discount")
    ok(lane, ten_percent(clock, authorization=BOSS))
    again = ok(
        lane, ev.BasketDiscount(clock(), "price match", amount=D("1.00"), authorization=BOSS)
    )
    assert again.notices == ("Basket discount 1.00: 1.00 off.",)
    assert lane.sale is not None and lane.sale.priced is not None
    assert lane.sale.priced.total == D("7.85")
    body = records(ok(lane, ev.Tender(clock(), "cash", D(10))))[0].body
    assert body["basket_discount"]["percent"] is None
    assert body["basket_discount"]["reason"] == "price match"
    assert body["basket_discount"]["override"] == body["overrides"][1]
    assert len(body["overrides"]) == 2  # both overrides happened
    # removed: the next sale's body has no basket_discount key at all (older bodies alike)
    ok(lane, ev.Scan(clock(), MILK))
    ok(lane, ten_percent(clock, authorization=BOSS))
    removed = ok(lane, ev.RemoveBasketDiscount(clock()))
    assert removed.notices == ("Basket discount removed.",)
    plain = records(ok(lane, ev.Tender(clock(), "cash", D(5))))[0].body
    assert "basket_discount" not in plain and plain["totals"]["total"] == "1.75"


def test_suspend_resume_and_a_restart_while_paying_keep_it(
    db_path: Path, catalog: Catalog, settings: GatewaySettings, clock: Clock
) -> None:
    lane = make_lane(db_path, catalog, settings)
    ring(lane, clock)
    ok(lane, ten_percent(clock, authorization=BOSS))
    ok(lane, ev.Suspend(clock()))
    ok(lane, ev.Resume(clock(), "H0001"))
    assert lane.sale is not None and lane.sale.priced is not None
    assert lane.sale.priced.total == D("7.96") and lane.sale.discount is not None
    ok(lane, ev.Tender(clock(), "card", D("2.00"), reference="T1"))
    lane.book.db.conn.close()
    again = make_lane(db_path, catalog, settings)  # the box restarted mid-payment
    assert again.state is State.TENDERING
    body = records(ok(again, ev.Tender(clock(), "cash", D(10))))[0].body
    assert body["totals"]["total"] == "7.96" and body["resumed_from"] == "H0001"
    assert body["basket_discount"]["discount"] == "0.89"
    assert body["basket_discount"]["override"]["supervisor"]["name"] == "Beat"


def test_a_refund_pays_back_the_discounted_amounts(lane: Lane, clock: Clock) -> None:
    ring(lane, clock)
    ok(lane, ten_percent(clock, authorization=BOSS))
    sale = records(ok(lane, ev.Tender(clock(), "cash", D(10))))[0].body
    receipt = sale["receipt_id"]
    boss = ev.Authorization(SUPERVISOR, "customer return")
    rice = ok(lane, ev.Refund(clock(), receipt, "wrong item", {1: D(1)}, authorization=boss))
    (refund,) = bodies(rice, "refund")
    assert refund["total"] == "3.24"  # 3.60 less its 0.36 share of the discount
    one_milk = ok(lane, ev.Refund(clock(), receipt, "sour", {0: D(1)}, authorization=boss))
    (part,) = bodies(one_milk, "refund")
    # 4.72 over its three units, 1.58 / 1.57 / 1.57 (the first unit first): never 1.75
    assert part["total"] == "1.58"
    rest = ok(lane, ev.Refund(clock(), receipt, "all back", None, authorization=boss))
    (last,) = bodies(rest, "refund")
    assert D(refund["total"]) + D(part["total"]) + D(last["total"]) == D("7.96")
