"""The "done when" test: a scripted day at one lane on a real SQLite file.

Shift open by PIN, 50 sales (members, weighed items, labels, coupons, split tenders), a
suspended and resumed sale, a refund with a supervisor override, a no-sale, a blind shift
close, the Z report (and a second Z refused). Then: the journal verifies, a tampered copy
does not (naming the altered record), and the text receipts match the reviewed files in
tests/lane/expected/ (regenerate with LANE_WRITE_EXPECTED=1, then READ them before commit).
"""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
from decimal import Decimal
from pathlib import Path

from lane_testkit import ALICE, CASHIER_PIN, SUPERVISOR, Clock, make_lane

from gateway.database import open_database
from gateway.journal import Journal, verify_journal
from gateway.lane import events as ev
from gateway.lane.events import Outcome, Refusal
from gateway.lane.machine import Lane, State
from gateway.lane.records import parse_body
from gateway.receipts.escpos import render_escpos
from gateway.receipts.model import from_record
from gateway.receipts.text import render_receipt
from gateway.reports import close_day, day_report, from_bodies

D = Decimal
EXPECTED = Path(__file__).parent / "expected"
DAY = "2026-11-24"
EACH = [
    "7612345001012",
    "7612345001050",
    "7612345001067",
    "7612345001128",
    "7612345001142",
    "7612345001234",
    "7612345001241",
    "7612345001265",
    "7612345001289",
    "7612345001319",
    "7612345001357",
    "4006381333931",
    "7612345001210",
    "7612345001203",
    "76123450",
]
WEIGHED = ["1001", "1002", "1003", "1010", "2001", "2003"]
LABELS = ["2202001004607", "2301001004560"]  # ham label 4.60, apples label 0.456 kg


def ok(lane: Lane, event: ev.Event) -> Outcome:
    answer = lane.handle(event)
    assert isinstance(answer, Outcome), (event, answer)
    return answer


def ring_up(lane: Lane, clock: Clock, rng: random.Random, n: int) -> None:
    if n % 4 == 0:
        ok(lane, ev.MemberCard(clock(), ALICE))
    for _ in range(rng.randint(1, 6)):
        roll = rng.random()
        if roll < 0.65:
            ok(lane, ev.Scan(clock(), rng.choice(EACH), D(rng.randint(1, 3))))
        elif roll < 0.9:
            grams = D(rng.randint(120, 1500)) / 1000
            ok(lane, ev.Weighed(clock(), rng.choice(WEIGHED), grams, stable=True))
        else:
            ok(lane, ev.Scan(clock(), rng.choice(LABELS)))
    if n % 7 == 3:
        answer = lane.handle(ev.Coupon(clock(), "WELCOME5"))
        assert isinstance(answer, Outcome)


def pay(lane: Lane, clock: Clock, n: int) -> Outcome:
    total = lane.sale.priced.total
    if n % 3 == 0:
        return ok(
            lane,
            ev.Tender(clock(), "card", None, reference=f"AUTH{n:04d}", card="5500000000000004"),
        )
    if n % 5 == 1 and total > 2:
        ok(lane, ev.Tender(clock(), "mobile", D("2.00"), reference=f"MP{n:04d}"))
    if n % 8 == 4 and total > 1:
        ok(lane, ev.Tender(clock(), "stored_value", D("1.00")))
    given = (total + 5).to_integral_value()
    return ok(lane, ev.Tender(clock(), "cash", given))


def run_day(lane: Lane, clock: Clock) -> dict[str, object]:
    rng = random.Random(20261124)
    seen: dict[str, object] = {}
    ok(lane, ev.OpenShift(clock(), CASHIER_PIN, D("150.00")))
    for n in range(50):
        ring_up(lane, clock, rng, n)
        if n == 10:
            held = ok(lane, ev.Suspend(clock()))
            assert held.notices == ("Sale suspended as H0001.",)
            ok(lane, ev.Scan(clock(), "7612345001388"))  # the next customer: a newspaper
            seen["between"] = ok(lane, ev.Tender(clock(), "cash", D(5))).records[0]
            ok(lane, ev.Resume(clock(), "H0001"))
        out = pay(lane, clock, n)
        seen.setdefault("first", out.records[0])
        if n == 12:
            seen["member"] = out.records[0]
        if n == 20:
            seen["refunded"] = out.records[0]
    original = seen["refunded"].body  # type: ignore[attr-defined]
    refused = lane.handle(ev.Refund(clock(), original["receipt_id"], "damaged", {0: D(1)}))
    assert isinstance(refused, Refusal) and refused.code == "needs_override"
    refund = ok(
        lane,
        ev.Refund(
            clock(),
            original["receipt_id"],
            "damaged",
            {0: D(1)},
            authorization=ev.Authorization(SUPERVISOR, "damaged goods"),
        ),
    )
    seen["refund"] = next(r for r in refund.records if r.kind == "refund")
    drawer = ok(
        lane,
        ev.NoSale(clock(), "change for the till next door", ev.Authorization(SUPERVISOR, "change")),
    )
    assert drawer.open_drawer and [r.kind for r in drawer.records] == ["override", "no_sale"]
    seen["close"] = ok(lane, ev.CloseShift(clock(), D("1000.00"), blind=True)).records[0]
    return seen


def expect(name: str, text: str) -> None:
    path = EXPECTED / name
    if os.environ.get("LANE_WRITE_EXPECTED"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from the reviewed file"


def test_a_day_at_one_lane(tmp_path: Path, catalog, settings) -> None:
    db_path = tmp_path / "storegate.db"
    lane = make_lane(db_path, catalog, settings)
    clock = Clock()
    seen = run_day(lane, clock)
    assert lane.state is State.CLOSED

    z = close_day(
        lane.book, lane.staff, settings.lane, lane.lane_ref, DAY, clock(), SUPERVISOR, lane.new_id
    )
    assert not isinstance(z, Refusal)
    again = close_day(
        lane.book, lane.staff, settings.lane, lane.lane_ref, DAY, clock(), SUPERVISOR, lane.new_id
    )
    assert isinstance(again, Refusal) and again.code == "z_done"

    records = lane.book.journal.read(0, 10_000)
    kinds = [r.kind for r in records]
    assert kinds.count("sale") == 51 and kinds.count("refund") == 1
    assert kinds.count("no_sale") == 1 and kinds.count("z_report") == 1
    assert kinds.count("member_balance") >= 13
    for record in records:
        if record.kind != "member_balance":
            parse_body(record.kind, record.body)  # every body fits its model

    sales = [r.body for r in records if r.kind == "sale"]
    refund = seen["refund"].body  # type: ignore[attr-defined]
    assert z.body["z_number"] == 1 and z.body["sales"] == 51
    assert D(z.body["gross"]) == sum(D(s["totals"]["total"]) for s in sales)
    assert D(z.body["net"]) == D(z.body["gross"]) - D(refund["total"])
    assert z.body["no_sales"] == 1 and z.body["refunds"] == 1
    tendered = sum(D(t["amount"]) for t in z.body["by_tender"])
    rounding = sum(D(s["totals"]["cash_rounding"]) for s in sales)
    refund_paid = sum(D(t["amount"]) for t in refund["tenders"])
    assert tendered == D(z.body["gross"]) + rounding - refund_paid
    assert sum(D(c["amount"]) for c in z.body["by_category"]) == D(z.body["net"])
    assert z.body["by_cashier"][0]["count"] == 51
    assert z.body["points_issued"] > 0
    assert z.body["points_reversed"] == refund["points_reversed"] > 0
    close = seen["close"].body  # type: ignore[attr-defined]
    assert (
        D(close["expected"])
        == D("150.00")
        + sum(D(t["amount"]) for s in sales for t in s["tenders"] if t["type"] == "cash")
        - refund_paid
    )
    from_digests = day_report(lane.book, DAY).to_json()
    assert from_digests["sales"] == 51
    assert from_bodies((r.seq, r.kind, r.body) for r in records).to_json() == from_digests
    stored = {seq: d for seq, d in lane.book.conn.execute("SELECT seq, digest FROM lane_doc")}
    # a digest of another version (older or newer code wrote it) is never summed: the
    # report folds that record's body again, so a wrong digest of version 0 changes nothing
    lane.book.conn.execute(
        "UPDATE lane_doc SET digest = json_set(digest, '$.v', 0, '$.t', 999999) "
        "WHERE kind = 'sale' AND seq % 2 = 0"
    )
    assert day_report(lane.book, DAY).to_json() == from_digests
    # digests written before versions existed carry no `v`: they are version 1 and summed
    lane.book.conn.executemany(
        "UPDATE lane_doc SET digest = json_remove(?, '$.v') WHERE seq = ?",
        [(d, seq) for seq, d in stored.items() if d is not None],
    )
    assert day_report(lane.book, DAY).to_json() == from_digests
    lane.book.conn.execute("UPDATE lane_doc SET digest = NULL")  # as before migration 5
    assert day_report(lane.book, DAY).to_json() == from_digests

    assert verify_journal(lane.book.db).ok
    width = settings.store.receipt_width
    header, footer = settings.store.header, settings.store.footer
    for name in ("first", "member", "refund", "between"):
        record = seen[name]
        expect(f"day-{name}.txt", render_receipt(from_record(record, header, footer), width))
    expect(
        "day-member-32.txt",
        render_receipt(from_record(seen["member"], header, footer, copy=True), 32),
    )
    expect("day-z.txt", render_receipt(from_record(z, header, ()), 48))
    escpos = render_escpos(from_record(seen["first"], header, footer), width)
    assert escpos.startswith(b"\x1b@") and escpos.endswith(b"\x1dV\x00")
    assert seen["first"].hash.encode() in escpos  # type: ignore[attr-defined]

    lane.book.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    tampered = tmp_path / "tampered.db"
    shutil.copy(db_path, tampered)
    victim = next(r for r in records if r.kind == "sale" and r.seq > 20)
    conn = sqlite3.connect(tampered)
    conn.execute("DROP TRIGGER journal_record_never_updated")
    conn.execute(
        "UPDATE journal_record SET body = replace(body, ?, ?) WHERE seq = ?",
        (f'"total":"{victim.body["totals"]["total"]}"', '"total":"0.05"', victim.seq),
    )
    conn.commit()
    conn.close()
    report = verify_journal(open_database(tampered, readonly=True))
    assert not report.ok and report.first_bad_seq == victim.seq
    assert Journal(open_database(db_path, readonly=True)).get(victim.seq) == victim
