"""Properties over any interleaving of sales, re-posted sales, replayed journal batches and
new members documents: nothing is credited or debited twice, a balance is always the
document's plus this box's unconfirmed changes, and no wallet goes below zero."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from members_testkit import BOX, Box, document, member, open_box

from gateway.members import Account, Authorisation, BalancePosting, LinkState
from gateway.members.rules import TenderKind

START = {"points": Decimal(300), "subsidy": Decimal("20.00"), "cash": Decimal("15.00")}
TIMES = [
    datetime(2026, 11, 24, 8, 0),
    datetime(2026, 11, 24, 12, 0),
    datetime(2026, 11, 24, 16, 0),
    datetime(2026, 11, 25, 12, 0),
]

sale_action = st.tuples(
    st.just("sale"),
    st.integers(0, 5),
    st.integers(1, 3000),
    st.sampled_from(["stored_value", "points"]),
    st.booleans(),
    st.integers(0, len(TIMES) - 1),
)
doc_action = st.tuples(st.just("doc"), st.floats(0, 1))
replay_action = st.tuples(st.just("replay"), st.integers(0, 5))
actions = st.lists(st.one_of(sale_action, doc_action, replay_action), max_size=14)


@dataclass
class HeadOffice:
    """What head office knows: the box's records it received, folded into its balances."""

    version: int = 1
    watermark: int = 0
    sales: dict[int, tuple[list[Authorisation], int, datetime, BalancePosting]] = field(
        default_factory=dict
    )


def start_document(version: int, watermark: int, balances: dict[str, Decimal]) -> dict:
    data = document(version=version, included_through={BOX: watermark})
    member(data, "M0001")["wallets"] = {
        "points": int(balances["points"]),
        "subsidy": str(balances["subsidy"]),
        "cash": str(balances["cash"]),
    }
    return data


def folded(box: Box, upto: int | None = None) -> dict[str, Decimal]:
    """Start balances plus every distinct member_balance delta in the journal up to a seq."""
    totals = dict(START)
    seen: set[str] = set()
    for record in box.journal.read(0, 10_000):
        if record.kind != "member_balance" or (upto is not None and record.seq > upto):
            continue
        assert record.id not in seen
        seen.add(record.id)
        totals[record.body["wallet"]] += Decimal(record.body["delta"])
    return totals


def do_sale(
    box: Box,
    office: HeadOffice,
    number: int,
    cents: int,
    tender: TenderKind,
    online: bool,
    when: datetime,
) -> None:
    account = box.members.identify("M0001")
    assert isinstance(account, Account)
    if number in office.sales:  # the lane re-posts a sale it already completed
        auths, earned, at, _ = office.sales[number]
    else:
        link = LinkState(online=online, offline_for=timedelta(minutes=5))
        amount = Decimal(cents) / 100
        got = box.members.authorise(account, tender, amount, when, link)
        auths = [got] if isinstance(got, Authorisation) else []
        earned, at = cents // 100, when
    posting = box.members.postings(f"S{number}", account, auths, earned, at)
    box.journal.append_many(
        [("sale", {"n": number}, f"S{number}"), *posting.entries], also=posting.also
    )
    office.sales.setdefault(number, (auths, earned, at, posting))


def check(box: Box) -> None:
    now = box.store.balances("M0001")
    expected = folded(box)
    assert (Decimal(now.points), now.subsidy, now.cash) == (
        expected["points"],
        expected["subsidy"],
        expected["cash"],
    )
    assert now.points >= 0 and now.subsidy >= 0 and now.cash >= 0
    rows = box.db.conn.execute("SELECT count(*) FROM member_change").fetchone()[0]
    records = sum(1 for r in box.journal.read(0, 10_000) if r.kind == "member_balance")
    assert rows == records


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(actions)
def test_no_interleaving_double_counts_or_overdraws(steps: list[tuple]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        box = open_box(Path(tmp) / "box.db")
        try:
            office = HeadOffice()
            box.apply(start_document(1, 0, START))
            for step in steps:
                if step[0] == "sale":
                    do_sale(box, office, *step[1:5], TIMES[step[5]])
                elif step[0] == "doc":
                    head = box.journal.state().head_seq
                    office.watermark += int((head - office.watermark) * step[1])
                    office.version += 1
                    box.apply(
                        start_document(
                            office.version, office.watermark, folded(box, office.watermark)
                        )
                    )
                elif step[1] in office.sales:
                    posting = office.sales[step[1]][3]
                    posting.record(box.journal)
                check(box)
        finally:
            box.db.conn.close()
