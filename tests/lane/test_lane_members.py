"""Members at the lane, through gateway.members: cards, member prices, stored value and
points as tenders, limits, and balance changes committed with the sale."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from lane_testkit import ALICE, CAROL, CASHIER, LOST, SUPERVISOR, Clock

from gateway.journal import verify_journal
from gateway.lane import events as ev
from gateway.lane.events import Outcome, Refusal
from gateway.lane.machine import Lane

D = Decimal
WINE = "7612345001326"  # 12.50, no_discount


def ok(lane: Lane, event: ev.Event) -> Outcome:
    answer = lane.handle(event)
    assert isinstance(answer, Outcome), answer
    return answer


def test_blocked_and_blacklisted_cards_are_refused(lane: Lane, clock: Clock) -> None:
    ok(lane, ev.OpenShift(clock(), CASHIER))
    for card, code in ((CAROL, "blocked"), (LOST, "blacklisted")):
        answer = lane.handle(ev.MemberCard(clock(), card))
        assert isinstance(answer, Refusal) and answer.code == code, answer
        assert lane.sale is None
    unknown = lane.handle(ev.MemberCard(clock(), "04FFFFFFFFFFFF"))
    assert isinstance(unknown, Refusal) and unknown.code == "unknown_card"


def test_member_price_and_points_earned(lane: Lane, clock: Clock) -> None:
    ok(lane, ev.OpenShift(clock(), CASHIER))
    ok(lane, ev.MemberCard(clock(), ALICE))
    ok(lane, ev.Scan(clock(), "7612345001012"))  # milk 1.75, member 1.60, dairy -10 %
    line = lane.sale.priced.lines[0]
    assert line.adjustments[0].kind == "member_price"
    out = ok(lane, ev.Tender(clock(), "cash", D(5)))
    sale = out.records[0].body
    assert sale["member"] == {"id": "M0001", "group": "canteen"}
    assert sale["points"]["earned"] == 1 and sale["points"]["balance"] == 1201
    assert [r.kind for r in out.records] == ["sale", "member_balance"]
    assert out.records[1].body["sale"] == sale["receipt_id"]
    assert out.records[1].seq == out.records[0].seq + 1


def test_stored_value_limit_exceeded_by_one_cent_is_refused(lane: Lane) -> None:
    clock = Clock(datetime(2026, 11, 24, 12, 0))
    ok(lane, ev.OpenShift(clock(), CASHIER))
    ok(lane, ev.MemberCard(clock(), ALICE))
    ok(lane, ev.Scan(clock(), WINE, D(3)))  # 37.50
    head = lane.book.journal.state().head_seq
    over = lane.handle(ev.Tender(clock(), "stored_value", D("30.01")))
    assert isinstance(over, Refusal) and "30.00" in over.message, over
    assert lane.book.journal.state().head_seq == head and lane.sale.tenders == ()
    ok(lane, ev.Tender(clock(), "stored_value", D("30.00")))
    out = ok(lane, ev.Tender(clock(), "card", None, reference="T9"))
    kinds = [r.kind for r in out.records]
    assert kinds == ["sale", "member_balance", "member_balance", "member_balance"]
    wallets = {(r.body["wallet"], r.body["delta"]) for r in out.records[1:]}
    assert ("subsidy", "-20.00") in wallets and ("cash", "-10.00") in wallets
    assert verify_journal(lane.book.db).ok


def test_points_pay_part_of_a_sale(lane: Lane, clock: Clock) -> None:
    ok(lane, ev.OpenShift(clock(), CASHIER))
    ok(lane, ev.MemberCard(clock(), ALICE))
    ok(lane, ev.Scan(clock(), WINE))
    ok(lane, ev.Tender(clock(), "points", D("5.00")))  # 500 points
    out = ok(lane, ev.Tender(clock(), "cash", D(10)))
    sale = out.records[0].body
    assert sale["points"]["redeemed"] == 500
    assert [t["type"] for t in sale["tenders"]] == ["points", "cash"]


def test_refunds_take_back_earned_points_and_return_stored_value(lane: Lane) -> None:
    clock = Clock(datetime(2026, 11, 24, 12, 0))
    boss = ev.Authorization(SUPERVISOR, "return")
    ok(lane, ev.OpenShift(clock(), CASHIER))
    ok(lane, ev.MemberCard(clock(), ALICE))
    ok(lane, ev.Scan(clock(), WINE, D(2)))  # 25.00: 25 points
    ok(lane, ev.Tender(clock(), "stored_value", D("24.00")))  # 20 subsidy + 4 cash
    sale = ok(lane, ev.Tender(clock(), "cash", D(1))).records[0].body
    assert sale["points"]["earned"] == 25
    receipt = sale["receipt_id"]
    too_much = lane.handle(
        ev.Refund(clock(), receipt, "x", None, tender="stored_value", authorization=boss)
    )
    assert isinstance(too_much, Refusal) and too_much.code == "wallet_refund", too_much
    half = ok(
        lane,
        ev.Refund(
            clock(), receipt, "one bottle", {0: D(1)}, tender="stored_value", authorization=boss
        ),
    )
    kinds = [r.kind for r in half.records]
    assert kinds[:2] == ["override", "refund"] and set(kinds[2:]) == {"member_balance"}
    refund = half.records[1].body
    assert refund["points_reversed"] == 12 and refund["total"] == "12.50"
    changes = {(r.body["wallet"], r.body["delta"]) for r in half.records[2:]}
    assert changes == {("points", "-12"), ("cash", "4.00"), ("subsidy", "8.50")}
    rest = ok(lane, ev.Refund(clock(), receipt, "other bottle", None, authorization=boss))
    points = [r.body for r in rest.records if r.kind == "member_balance"]
    assert [(b["wallet"], b["delta"]) for b in points] == [("points", "-13")]
    assert rest.records[1].body["points_reversed"] == 13
    no_points = lane.handle(ev.Refund(clock(), receipt, "x", None, tender="points"))
    assert isinstance(no_points, Refusal) and no_points.code == "no_points_payout"
    assert verify_journal(lane.book.db).ok


def test_offline_past_the_policy_a_supervisor_approves_the_member_tender(lane: Lane) -> None:
    from datetime import timedelta

    from lane_testkit import members_document

    from gateway.lane.members import RoomMembers
    from gateway.members import LinkState, MemberAccounts, MemberStore, parse_document

    store = MemberStore(lane.book.db, "box-1")
    doc = members_document()
    doc["version"] = 2
    doc["offline"] = {"stored_value": True, "max_offline_minutes": 60}
    store.apply_document(parse_document(doc), datetime(2026, 11, 24, 7))
    offline = LinkState(online=False, offline_for=timedelta(hours=2))
    lane.members = RoomMembers(MemberAccounts(store), link=lambda: offline)
    clock = Clock(datetime(2026, 11, 24, 12, 0))
    ok(lane, ev.OpenShift(clock(), CASHIER))
    ok(lane, ev.MemberCard(clock(), ALICE))
    ok(lane, ev.Scan(clock(), WINE))
    asked = lane.handle(ev.Tender(clock(), "stored_value", D("5.00")))
    assert isinstance(asked, Refusal) and asked.needs_supervisor, asked
    approved = ok(
        lane,
        ev.Tender(
            clock(),
            "stored_value",
            D("5.00"),
            authorization=ev.Authorization(SUPERVISOR, "link down"),
        ),
    )
    assert [r.kind for r in approved.records] == ["override"]  # with the tender it approved
    done = ok(lane, ev.Tender(clock(), "cash", D(10)))
    sale = done.records[0].body
    assert sale["overrides"][0]["action"] == "approve_offline"
    records = lane.book.journal.read(0, 50)
    assert [r.kind for r in records][:2] == ["shift_open", "override"]
    balance = [r.body for r in records if r.kind == "member_balance"]
    assert balance and all(b["offline"] for b in balance if b["reason"] == "spend")


def test_a_keyed_member_id_pays_nothing_but_one_a_reader_gave_does(
    lane: Lane, clock: Clock
) -> None:
    """Issue 13, #9: the member id is printed on receipts; typed, it earns points only. A
    card reader that gives the member id (a magstripe member card) is the card itself."""
    ok(lane, ev.OpenShift(clock(), CASHIER))
    ok(lane, ev.MemberCard(clock(), "M0001"))
    ok(lane, ev.Scan(clock(), WINE))
    for kind in ("stored_value", "points"):
        typed = lane.handle(ev.Tender(clock(), kind, D("1.00")))
        assert isinstance(typed, Refusal) and typed.code == "needs_member_card", typed
    ok(lane, ev.Suspend(clock()))
    resumed = ok(lane, ev.Resume(clock(), "H0001"))
    assert resumed.state == "in_sale"
    again = lane.handle(ev.Tender(clock(), "stored_value", D("1.00")))
    assert isinstance(again, Refusal) and again.code == "needs_member_card", again
    ok(lane, ev.Tender(clock(), "cash", D(20)))

    ok(lane, ev.MemberCard(clock(), "M0001", source="reader"))
    ok(lane, ev.Scan(clock(), WINE))
    ok(lane, ev.Suspend(clock()))
    ok(lane, ev.Resume(clock(), "H0002"))  # the card read is kept with the suspended sale
    ok(lane, ev.Tender(clock(), "stored_value", D("1.00")))


def test_double_points_on_the_member_day_are_earned_and_taken_back_on_refund(
    db_path, catalog, settings
) -> None:  # type: ignore[no-untyped-def]
    """A points multiplier (会员日双倍积分) through the lane: the member's sale earns double
    points on the promoted item (its priced line says x2); a full refund takes the
    doubled points back."""
    import json

    from lane_testkit import make_lane

    from gateway.catalog.catalog import build_catalog
    from gateway.catalog.document import parse_document

    data = json.loads(json.dumps(catalog.document.model_dump(mode="json", by_alias=True)))
    wine = [p["sku"] for p in data["products"] if WINE in p.get("barcodes", [])]
    data["promotions"].append(
        {
            "type": "points_multiplier",
            "id": "wine-x2",
            "name": "Double points on wine",
            "target": {"skus": wine},
            "multiplier": 2,
            "schedule": {"days": ["tue"]},
        }
    )
    lane = make_lane(db_path, build_catalog(parse_document(data)), settings)
    clock = Clock(datetime(2026, 11, 24, 12, 0))  # a Tuesday
    boss = ev.Authorization(SUPERVISOR, "return")
    ok(lane, ev.OpenShift(clock(), CASHIER))
    ok(lane, ev.MemberCard(clock(), ALICE))
    ok(lane, ev.Scan(clock(), WINE, D(2)))  # 25.00: 25 points, doubled
    assert [line.points_multiplier for line in lane.sale.priced.lines] == [2]
    sale = ok(lane, ev.Tender(clock(), "cash", D(30))).records[0].body
    assert sale["points"]["earned"] == 50
    back = ok(lane, ev.Refund(clock(), sale["receipt_id"], "x", None, authorization=boss))
    (refund,) = [r.body for r in back.records if r.kind == "refund"]
    assert refund["points_reversed"] == 50
    assert verify_journal(lane.book.db).ok
