"""Random event sequences against the lane (seeded, so a failure replays): whatever is fed,
a refusal leaves the lane unchanged, accepted events only move along the table, every
completed sale is paid exactly (change only in cash) and the journal always verifies."""

from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path

import pytest
from lane_testkit import ALICE, CASHIER, SUPERVISOR, Clock, make_lane

from gateway.journal import verify_journal
from gateway.lane import events as ev
from gateway.lane.events import Outcome, Refusal
from gateway.lane.machine import TABLE, Lane
from gateway.lane.records import parse_body

D = Decimal
CODES = [
    "7612345001234",
    "7612345001012",
    "4006381333931",
    "7612345001050",
    "0000000000000",
    "7612345001235",
    "2202001004607",
]
BOSS = ev.Authorization(SUPERVISOR, "ok")


def random_event(rng: random.Random, clock: Clock, lane: Lane) -> ev.Event:
    at = clock()
    receipts = [
        r.body["receipt_id"] for r in lane.book.journal.read(0, 500) if r.kind == "sale"
    ] or ["box-1-000001"]
    auth = BOSS if rng.random() < 0.5 else None
    makers = [
        lambda: ev.OpenShift(at, CASHIER),
        lambda: ev.Scan(at, rng.choice(CODES), D(rng.randint(0, 3))),
        lambda: ev.Plu(at, rng.choice(["501", "1001", "9", "77"])),
        lambda: ev.Weighed(
            at,
            rng.choice(["1001", "2002", "501"]),
            D(rng.randint(-5, 3000)) / 1000,
            rng.random() < 0.8,
        ),
        lambda: ev.ChangeQuantity(at, rng.randint(-1, 3), D(rng.randint(0, 4)), auth),
        lambda: ev.VoidLine(at, rng.randint(0, 3), auth),
        lambda: ev.PriceOverride(
            at, rng.randint(0, 2), D(rng.randint(0, 500)) / rng.choice([100, 1000]), auth
        ),
        lambda: ev.VoidSale(at, rng.choice(["", "left"]), auth),
        lambda: ev.MemberCard(at, rng.choice([ALICE, "04FFFFFFFFFFFF"])),
        lambda: ev.Coupon(at, rng.choice(["WELCOME5", "NOPE"])),
        lambda: ev.Tender(
            at,
            rng.choice(["cash", "card", "mobile", "voucher", "points", "stored_value"]),
            rng.choice([None, D(rng.randint(0, 3000)) / 100]),
            reference=rng.choice([None, "R1"]),
            card="4111111111111111",
        ),
        lambda: ev.Suspend(at),
        lambda: ev.Resume(at, rng.choice(["H0001", "H0002"])),
        lambda: ev.Refund(
            at,
            rng.choice(receipts),
            rng.choice(["", "x"]),
            rng.choice([None, {0: D(1)}, {1: D(2)}]),
            authorization=auth,
        ),
        lambda: ev.ReturnWithoutReceipt(at, "501", "x", authorization=auth),
        lambda: ev.NoSale(at, "x", auth),
        lambda: ev.CloseShift(at, D(rng.randint(0, 50000)) / 100, authorization=auth),
    ]
    weights = [2, 12, 3, 3, 2, 2, 1, 1, 2, 1, 8, 1, 1, 2, 1, 1, 1]
    return rng.choices(makers, weights)[0]()


def stored(lane: Lane) -> dict[str, list[tuple[object, ...]]]:
    """Every row the box keeps, but the PIN-attempt counts a refusal may change (that
    count is what makes a lockout): a refused event must leave all of it as it was."""
    conn = lane.book.conn
    names = [
        n
        for (n,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
    ]
    out = {
        n: sorted(conn.execute(f'SELECT * FROM "{n}"'), key=repr)
        for n in names
        if n != "lane_staff"
    }
    out["lane_staff"] = sorted(
        conn.execute("SELECT id, name, role, card, pin_hash, active FROM lane_staff"), key=repr
    )
    return out


@pytest.mark.parametrize("seed", range(12))
def test_random_events_keep_the_lane_consistent(
    tmp_path: Path, catalog, settings, seed: int
) -> None:
    rng = random.Random(seed)
    lane = make_lane(tmp_path / "storegate.db", catalog, settings)
    clock = Clock()
    for _ in range(120):
        event = random_event(rng, clock, lane)
        before = (lane.state, lane.shift, lane.sale, lane.book.journal.state().head_seq)
        tables = stored(lane)
        answer = lane.handle(event)
        if isinstance(answer, Refusal):
            assert answer.message and answer.code
            assert (lane.state, lane.shift, lane.sale, lane.book.journal.state().head_seq) == before
            assert stored(lane) == tables, f"{event} was refused but wrote"
            continue
        assert isinstance(answer, Outcome)
        assert lane.state in TABLE[before[0]][type(event)].leads_to
        for record in answer.records:
            if record.kind == "sale":
                check_sale(record.body)
    assert verify_journal(lane.book.db).ok
    for record in lane.book.journal.read(0, 5000):
        if record.kind != "member_balance":
            parse_body(record.kind, record.body)


def check_sale(body: dict) -> None:
    totals = body["totals"]
    paid = sum(D(t["amount"]) for t in body["tenders"])
    assert paid == D(totals["due"]) == D(totals["total"]) + D(totals["cash_rounding"])
    for tender in body["tenders"]:
        if tender["type"] != "cash":
            assert tender["change"] is None and tender["given"] is None
    assert D(body["change"]) == sum(D(t["change"] or 0) for t in body["tenders"])
    assert sum(D(line["total"]) for line in body["lines"]) == D(totals["total"])
