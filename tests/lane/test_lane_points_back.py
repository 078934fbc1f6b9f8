"""A refund gives redeemed points back as points, in proportion to the part of the sale
refunded so far, and pays only the rest in money: never points as cash, never more points
than were redeemed, and a re-sync never credits them twice. Real SQLite throughout."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st
from lane_testkit import ALICE, CASHIER, SUPERVISOR, Clock, members_document

from gateway.journal import verify_journal
from gateway.lane import events as ev
from gateway.lane.events import Outcome, Refusal
from gateway.lane.machine import Lane
from gateway.lane.members import NoMembers, RoomMembers
from gateway.lane.proportion import (
    amount_in_proportion,
    points_back,
    points_in_proportion,
)
from gateway.members import LinkState, MemberAccounts, MemberStore, parse_document
from gateway.receipts.text import render_receipt
from gateway.reports import close_day, from_bodies

D = Decimal
WINE = "7612345001326"  # 12.50, no_discount
MILK = "7612345001012"  # 1.75, member price 1.60, dairy -10 %
BOSS = ev.Authorization(SUPERVISOR, "customer return")


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


def points_now(lane: Lane) -> int:
    return MemberStore(lane.book.db, "box-1").balances("M0001").points


def paid_with_points(
    lane: Lane, clock: Clock, bottles: int, points: str | None, rest: str = "cash", item: str = WINE
) -> dict:
    """Alice buys wine, pays `points` (money; None: all) with points, the rest with `rest`."""
    if lane.shift is None:
        ok(lane, ev.OpenShift(clock(), CASHIER))
    ok(lane, ev.MemberCard(clock(), ALICE))
    ok(lane, ev.Scan(clock(), item, D(bottles)))
    last = ok(lane, ev.Tender(clock(), "points", None if points is None else D(points)))
    if last.records:
        return last.records[0].body
    return ok(lane, ev.Tender(clock(), rest, None)).records[0].body


def refund_body(out: Outcome) -> dict:
    return next(r.body for r in out.records if r.kind == "refund")


def balance_changes(out: Outcome) -> list[tuple[str, str, str]]:
    return [
        (r.body["reason"], r.body["wallet"], r.body["delta"])
        for r in out.records
        if r.kind == "member_balance"
    ]


def test_full_refund_gives_back_exactly_the_points_redeemed(lane: Lane, clock: Clock) -> None:
    sale = paid_with_points(lane, clock, 2, "5.00")  # 25.00: 500 points + 20.00 cash
    assert sale["points"] == {"earned": 20, "redeemed": 500, "balance": 720}
    assert points_now(lane) == 720
    out = ok(lane, ev.Refund(clock(), sale["receipt_id"], "corked", authorization=BOSS))
    body = refund_body(out)
    assert body["total"] == "25.00"
    assert [(t["type"], t["amount"]) for t in body["tenders"]] == [
        ("points", "5.00"),
        ("cash", "20.00"),
    ]
    assert body["points_returned"] == 500 and body["points_reversed"] == 20
    assert body["points_balance"] == 1200 == points_now(lane)
    assert sorted(balance_changes(out)) == [
        ("earn_reversal", "points", "-20"),
        ("redeem_reversal", "points", "500"),
    ]
    refund_id = body["refund_id"]
    ids = {r.id for r in out.records if r.kind == "member_balance"}
    assert f"{refund_id}/reverse/{sale['receipt_id']}/t1/points" in ids
    assert out.notices == (
        "Give back cash 20.00.",
        "500 points go back to member M0001 (balance 1200).",
    )
    assert out.open_drawer
    text = render_receipt(out.receipt, 42)
    assert "Points given back: 500" in text and "Points balance: 1200" in text
    assert "Points taken back: 20" in text
    assert verify_journal(lane.book.db).ok


def test_two_partial_refunds_add_up_to_the_points_redeemed(lane: Lane, clock: Clock) -> None:
    sale = paid_with_points(lane, clock, 3, "3.34")  # 37.50: 334 points + 34.16 cash
    assert sale["points"]["redeemed"] == 334 and sale["points"]["earned"] == 34
    receipt = sale["receipt_id"]
    one = refund_body(
        ok(
            lane,
            ev.Refund(
                clock(),
                receipt,
                "one",
                {0: D(1)},
                tender="card",
                reference="T1",
                authorization=BOSS,
            ),
        )
    )
    # a third of the sale: floor(334/3) = 111 points, 3.34/3 = 1.11 of the money
    assert one["points_returned"] == 111 and one["points_reversed"] == 11
    assert [(t["type"], t["amount"]) for t in one["tenders"]] == [
        ("points", "1.11"),
        ("card", "11.39"),
    ]
    two = refund_body(
        ok(
            lane,
            ev.Refund(
                clock(),
                receipt,
                "two",
                {0: D(2)},
                tender="card",
                reference="T2",
                authorization=BOSS,
            ),
        )
    )
    assert two["points_returned"] == 334 - 111 and two["points_reversed"] == 34 - 11
    assert [(t["type"], t["amount"]) for t in two["tenders"]] == [
        ("points", "2.23"),
        ("card", "22.77"),
    ]
    assert points_now(lane) == 1200
    paid = [D(t["amount"]) for r in (one, two) for t in r["tenders"] if t["type"] == "points"]
    assert sum(paid) == D("3.34")
    no(lane, ev.Refund(clock(), receipt, "again", authorization=BOSS), "already_refunded")


def test_the_rest_goes_back_by_the_original_tenders_rules(lane: Lane) -> None:
    clock = Clock(datetime(2026, 11, 24, 12, 0))  # lunch
    sale = paid_with_points(lane, clock, 1, "2.50", rest="stored_value")  # 250 + 10.00 SV
    assert [t["type"] for t in sale["tenders"]] == ["points", "stored_value"]
    out = ok(
        lane, ev.Refund(clock(), sale["receipt_id"], "x", tender="stored_value", authorization=BOSS)
    )
    body = refund_body(out)
    assert [(t["type"], t["amount"]) for t in body["tenders"]] == [
        ("points", "2.50"),
        ("stored_value", "10.00"),
    ]
    assert sorted(balance_changes(out)) == [
        ("earn_reversal", "points", "-10"),
        ("redeem_reversal", "points", "250"),
        ("spend_reversal", "subsidy", "10.00"),
    ]
    assert not out.open_drawer
    balances = MemberStore(lane.book.db, "box-1").balances("M0001")
    assert (balances.points, balances.subsidy, balances.cash) == (1200, D("20.00"), D("50.00"))


def test_a_sale_paid_only_with_points_pays_nothing_back_in_money(lane: Lane, clock: Clock) -> None:
    sale = paid_with_points(lane, clock, 1, None, item=MILK)  # all in points
    redeemed = sale["points"]["redeemed"]
    assert redeemed > 0 and [t["type"] for t in sale["tenders"]] == ["points"]
    out = ok(lane, ev.Refund(clock(), sale["receipt_id"], "x", authorization=BOSS))
    body = refund_body(out)
    assert [(t["type"], t["amount"]) for t in body["tenders"]] == [
        ("points", sale["totals"]["total"])
    ]
    assert body["points_returned"] == redeemed and not out.open_drawer
    assert out.notices == (
        f"{redeemed} points go back to member M0001 (balance 1200), nothing in money.",
    )
    second = paid_with_points(lane, clock, 1, None, item=MILK)
    chosen = ok(
        lane, ev.Refund(clock(), second["receipt_id"], "x", tender="points", authorization=BOSS)
    )  # "points" is fine when all is points
    assert refund_body(chosen)["points_returned"] == redeemed


def test_points_are_not_a_payout_for_money_paid(lane: Lane, clock: Clock) -> None:
    sale = paid_with_points(lane, clock, 2, "5.00")
    refused = no(
        lane,
        ev.Refund(clock(), sale["receipt_id"], "x", tender="points", authorization=BOSS),
        "no_points_payout",
    )
    assert refused.message == (
        "Only 500 points go back as points (the part paid with "
        "points): pay back the other 20.00 in cash, to the card or "
        "to stored value."
    )
    cash_sale = ok(lane, ev.Scan(clock(), WINE))
    assert cash_sale.records == ()
    plain = ok(lane, ev.Tender(clock(), "cash", None)).records[0].body
    refused = no(
        lane,
        ev.Refund(clock(), plain["receipt_id"], "x", tender="points", authorization=BOSS),
        "no_points_payout",
    )
    assert "not paid with points" in refused.message
    no(
        lane,
        ev.ReturnWithoutReceipt(clock(), "501", "x", tender="points", authorization=BOSS),
        "no_points_payout",
    )


def test_points_that_cannot_go_back_are_never_paid_in_cash(lane: Lane, clock: Clock) -> None:
    sale = paid_with_points(lane, clock, 2, "5.00")
    service = lane.members
    lane.members = NoMembers()  # the scheme was switched off at this till
    refused = no(
        lane, ev.Refund(clock(), sale["receipt_id"], "x", authorization=BOSS), "points_back"
    )
    assert refused.message.startswith(
        "The 500 points paid with this sale go back only as "
        "points, never in cash, and cannot go back now: this "
        "till takes no member cards now — "
    )
    lane.members = service
    doc = members_document()
    doc["version"] = 2
    doc["members"] = [m for m in doc["members"] if m["id"] != "M0001"]
    MemberStore(lane.book.db, "box-1").apply_document(
        parse_document(doc), datetime(2026, 11, 24, 10)
    )
    refused = no(
        lane,
        ev.Refund(
            clock(), sale["receipt_id"], "x", tender="card", reference="T1", authorization=BOSS
        ),
        "points_back",
    )
    assert "not in the members list" in refused.message and "never in cash" in refused.message
    assert lane.book.refunded(sale["receipt_id"]) == {}


def test_points_go_back_to_an_account_whose_card_was_lost_since(lane: Lane, clock: Clock) -> None:
    sale = paid_with_points(lane, clock, 2, "5.00")
    doc = members_document()
    doc["version"] = 2
    doc["members"][0].update(status="lost", status_since="2026-11-24")
    doc["blacklist"]["version"] = 2
    doc["blacklist"]["cards"].append(
        {"card": doc["members"][0]["cards"][0], "since": "2026-11-24", "reason": "lost"}
    )
    store = MemberStore(lane.book.db, "box-1")
    store.apply_document(parse_document(doc), datetime(2026, 11, 24, 10))
    out = ok(lane, ev.Refund(clock(), sale["receipt_id"], "x", authorization=BOSS))
    assert refund_body(out)["points_returned"] == 500
    assert out.notices[-1] == (
        "Member M0001 is lost: the 500 points go back to the account, not to the card."
    )
    assert store.balances("M0001").points == 1200
    card = lane.handle(ev.MemberCard(clock(), ALICE))  # the lost card cannot spend them
    assert isinstance(card, Refusal) and card.code == "blacklisted"


def test_offline_the_points_go_back_even_where_redemption_is_off(lane: Lane, clock: Clock) -> None:
    sale = paid_with_points(lane, clock, 2, "5.00")
    store = MemberStore(lane.book.db, "box-1")
    doc = members_document()
    doc["version"] = 2
    doc["offline"] = {"stored_value": False, "points_redemption": False}
    store.apply_document(parse_document(doc), datetime(2026, 11, 24, 10))
    down = LinkState(online=False, offline_for=timedelta(hours=9), unsynced_sales=500)
    lane.members = RoomMembers(MemberAccounts(store, link=lambda: down), link=lambda: down)
    out = ok(lane, ev.Refund(clock(), sale["receipt_id"], "x", authorization=BOSS))
    assert refund_body(out)["points_returned"] == 500 and store.balances("M0001").points == 1200
    # the reversal keeps the original's day and offline flag (it restores that budget)
    given = [
        r.body
        for r in out.records
        if r.kind == "member_balance" and r.body["reason"] == "redeem_reversal"
    ]
    assert [(b["day"], b["offline"]) for b in given] == [("2026-11-24", False)]


def test_a_replayed_refund_and_a_new_members_document_credit_once(lane: Lane, clock: Clock) -> None:
    sale = paid_with_points(lane, clock, 2, "5.00")
    out = ok(lane, ev.Refund(clock(), sale["receipt_id"], "x", authorization=BOSS))
    refund_id = refund_body(out)["refund_id"]
    journal = lane.book.journal
    head = journal.state().head_seq
    originals = [
        r.body
        for r in journal.read(0, 100)
        if r.kind == "member_balance" and r.body["sale"] == sale["receipt_id"]
    ]
    again = lane.members.reverse(
        refund_id, originals, Fraction(1), D(0), datetime(2026, 11, 24, 9, 30), points_back=500
    )
    assert [b for _, b, _ in again.entries] == [
        r.body for r in out.records if r.kind == "member_balance"
    ]
    journal.append_many([(k, dict(b), i) for k, b, i in again.entries], also=again.also)
    assert journal.state().head_seq == head and points_now(lane) == 1200
    # head office folds the box's changes in and says so: nothing is counted twice
    doc = members_document()
    doc["version"] = 2
    doc["included_through"] = {"box-1": head}
    store = MemberStore(lane.book.db, "box-1")
    store.apply_document(parse_document(doc), datetime(2026, 11, 24, 10))
    assert store.balances("M0001").points == 1200
    assert store.pending_count() == 0


def test_x_and_z_count_the_points_given_back(lane: Lane, clock: Clock) -> None:
    sale = paid_with_points(lane, clock, 2, "5.00")
    ok(lane, ev.Refund(clock(), sale["receipt_id"], "x", {0: D(1)}, authorization=BOSS))
    x = lane.x_report()
    assert (x.points_redeemed, x.points_returned, x.points_reversed) == (500, 250, 10)
    assert {r.key: r.amount for r in x.breakdowns()["by_tender"]}["points"] == D("2.50")
    records = lane.book.journal.read(0, 100)  # the shift so far: the X's records
    assert from_bodies((r.seq, r.kind, r.body) for r in records).to_json() == x.to_json()
    ok(lane, ev.CloseShift(clock(), D("10.00"), authorization=BOSS))
    day = "2026-11-24"
    z = close_day(
        lane.book,
        lane.staff,
        lane.settings.lane,
        lane.lane_ref,
        day,
        clock(),
        SUPERVISOR,
        lane.new_id,
    )
    assert not isinstance(z, Refusal)
    assert z.body["points_returned"] == 250
    assert ("Points given back", "250") in lane.receipt_for(z).rows


# -- the two running-total rules, on their own -------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    redeemed=st.integers(1, 100_000),
    total=st.integers(1, 1_000_000),
    paid_part=st.fractions(min_value=0, max_value=1, max_denominator=1000),
    refunded=st.lists(st.integers(0, 1_000_000), max_size=6),
    finish=st.booleans(),
)
def test_successive_refunds_never_give_back_more_than_was_redeemed(
    redeemed: int, total: int, paid_part: Fraction, refunded: list[int], finish: bool
) -> None:
    """Any run of partial refunds (cumulative amounts in cents of a sale of `total` cents,
    of which the points paid `paid` cents)."""
    paid_cents = max(1, int(total * paid_part))
    total = max(total, paid_cents)
    paid = D(paid_cents).scaleb(-2)
    running = sorted(min(r, total) for r in refunded) + ([total] if finish else [])
    before, cents = Fraction(0), 0
    points, money = 0, D(0)
    for after_cents in running:
        after = Fraction(after_cents, total)
        part = points_back(redeemed, paid, 2, before, after)
        # never negative, and never more than the refund itself (the money part >= 0)
        assert 0 <= part.amount <= D(after_cents - cents).scaleb(-2) and part.points >= 0
        points, money = points + part.points, money + part.amount
        before, cents = after, after_cents
        assert points == points_in_proportion(redeemed, after) <= redeemed
        assert money == amount_in_proportion(paid, after, 2) <= paid
        # the points never run ahead of the money they stand for
        assert D(points) * paid / redeemed <= money + D("0.005")
    if finish:
        assert (points, money) == (redeemed, paid)


def test_thirds_lag_by_less_than_a_point_and_end_exact() -> None:
    """The example in docs/lane.md: 334 points paid 3.34, given back a third at a time."""
    thirds = [Fraction(0), Fraction(1, 3), Fraction(2, 3), Fraction(1)]
    parts = [points_back(334, D("3.34"), 2, a, b) for a, b in pairwise(thirds)]
    assert [(p.points, p.amount) for p in parts] == [
        (111, D("1.11")),
        (111, D("1.12")),
        (112, D("1.11")),
    ]
