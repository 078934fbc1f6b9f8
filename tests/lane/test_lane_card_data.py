"""The lane keeps no card data (PCI DSS 3.3.1, 3.5.1): a card number scanned or keyed where
an item was expected is refused without repeating it; one typed into a reference or a
reason is journalled masked (first six, last four). A product whose own code happens to
pass the Luhn check still sells: the catalog is asked first."""

from __future__ import annotations

import json
from decimal import Decimal

from lane_testkit import CASHIER, SUPERVISOR, Clock

from gateway.catalog.catalog import Catalog, build_catalog
from gateway.catalog.document import parse_document
from gateway.lane import events as ev
from gateway.lane.events import Outcome, Refusal
from gateway.lane.machine import Lane

D = Decimal
CHOC = "7612345001234"
PAN = "4000056655665556"
SPACED = "4000 0566 5566 5556"
MASKED = "400005******5556"
TRACK2 = f";{PAN}=2812101987654321?"
LUHN_EAN = "7612345990019"  # a valid EAN-13 that also passes the Luhn check


def ok(lane: Lane, event: ev.Event) -> Outcome:
    answer = lane.handle(event)
    assert isinstance(answer, Outcome), answer
    return answer


def refused(lane: Lane, event: ev.Event, code: str) -> Refusal:
    head = lane.book.journal.state().head_seq
    answer = lane.handle(event)
    assert isinstance(answer, Refusal) and answer.code == code, answer
    assert lane.book.journal.state().head_seq == head
    return answer


def journal_text(lane: Lane) -> str:
    return json.dumps([r.body for r in lane.book.journal.read(0, 10_000)])


def test_a_card_number_or_track_where_an_item_belongs_is_refused_unrepeated(
    lane: Lane, clock: Clock
) -> None:
    ok(lane, ev.OpenShift(clock(), CASHIER, D("100.00")))
    for event in (
        ev.Scan(clock(), PAN),
        ev.Scan(clock(), SPACED),
        ev.Scan(clock(), TRACK2),
        ev.Scan(clock(), f"%B{PAN}^HOLDER/PAT^2812101?"),
        ev.Plu(clock(), PAN),
        ev.ReturnWithoutReceipt(clock(), PAN, "faulty"),
    ):
        answer = refused(lane, event, "payment_card_scanned")
        assert "0566" not in answer.message and "card terminal" in answer.message
    ok(lane, ev.Scan(clock(), CHOC))
    refused(lane, ev.Weighed(clock(), PAN, D("0.5"), True), "payment_card_scanned")
    coupon = refused(lane, ev.Coupon(clock(), SPACED), "unknown_coupon")
    assert "4000 05** **** 5556" in coupon.message
    assert PAN[6:12] not in journal_text(lane)


def test_a_product_whose_code_passes_the_luhn_check_still_sells(
    lane: Lane, clock: Clock, catalog: Catalog
) -> None:
    data = json.loads(json.dumps(catalog.document.model_dump(mode="json", by_alias=True)))
    data["products"][0]["barcodes"] = [LUHN_EAN]
    lane.set_catalog(build_catalog(parse_document(data)))
    ok(lane, ev.OpenShift(clock(), CASHIER, D("100.00")))
    ok(lane, ev.Scan(clock(), LUHN_EAN))
    body = ok(lane, ev.Tender(clock(), "cash", D(10))).records[0].body
    assert body["lines"][0]["code"] == LUHN_EAN


def test_card_numbers_typed_as_references_and_reasons_are_journalled_masked(
    lane: Lane, clock: Clock
) -> None:
    ok(lane, ev.OpenShift(clock(), CASHIER, D("100.00")))
    ok(lane, ev.Scan(clock(), CHOC))
    sale = ok(lane, ev.Tender(clock(), "card", None, reference=SPACED, card=PAN))
    tender = sale.records[0].body["tenders"][0]
    assert (tender["reference"], tender["card"]) == ("4000 05** **** 5556", MASKED)
    ok(lane, ev.Scan(clock(), CHOC))
    ok(
        lane,
        ev.VoidSale(clock(), f"card {PAN} declined", ev.Authorization(SUPERVISOR, f"ok {PAN}")),
    )
    ok(lane, ev.NoSale(clock(), f"card {SPACED}", ev.Authorization(SUPERVISOR, "drawer")))
    receipt = sale.records[0].body["receipt_id"]
    ok(
        lane,
        ev.Refund(clock(), receipt, f"to {PAN}", authorization=ev.Authorization(SUPERVISOR, "x")),
    )
    text = journal_text(lane)
    assert MASKED in text and "card 400005******5556 declined" in text
    for needle in (PAN, "0566 5566", "0566-5566"):
        assert needle not in text
