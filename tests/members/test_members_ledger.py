"""Balance changes as journal records: one per wallet change with its own id, appended with
the sale in one transaction, never applied twice, kept across a new members document until
head office says it folded them in, and reversed for refunds."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from members_testkit import ALICE_UID, BOX, LUNCH, Box, document, line, member, priced

from gateway.journal import RecordIdConflict, verify_journal
from gateway.members import (
    KIND,
    Account,
    Authorisation,
    BalancePosting,
    LinkState,
    MembersDocumentError,
    MembersError,
)
from gateway.members.sink import MembersSink
from gateway.members.store import Balances
from gateway.sync.errors import DocumentRefused

D = Decimal


def alice(box: Box) -> Account:
    found = box.members.identify(ALICE_UID)
    assert isinstance(found, Account)
    return found


def authorise(
    box: Box, amount: str, tender: str = "stored_value", at: datetime = LUNCH
) -> Authorisation:
    got = box.members.authorise(alice(box), tender, D(amount), at)  # type: ignore[arg-type]
    assert isinstance(got, Authorisation), got
    return got


def sell(box: Box, sale_id: str, amount: str, earned: int = 0) -> BalancePosting:
    """A sale paid with stored value, journalled with its balance changes in one go."""
    posting = box.members.postings(sale_id, alice(box), [authorise(box, amount)], earned, LUNCH)
    box.journal.append_many(
        [("sale", {"id": sale_id, "total": amount}, sale_id), *posting.entries], also=posting.also
    )
    return posting


def balances(box: Box) -> Balances:
    return box.store.balances("M0001")


def test_a_sale_writes_one_record_per_wallet_change_keyed_by_change_id(box: Box) -> None:
    sell(box, "S1", "26.00", earned=26)
    records = box.journal.read(0, 10)
    assert [(r.kind, r.id) for r in records] == [
        ("sale", "S1"),
        (KIND, "S1/t1/subsidy"),
        (KIND, "S1/t1/cash"),
        (KIND, "S1/earn/points"),
    ]
    subsidy = records[1].body
    assert subsidy["delta"] == "-20.00" and subsidy["before"] == "20.00"
    assert subsidy["after"] == "0.00" and subsidy["reason"] == "spend"
    assert subsidy["meal"] == "lunch" and subsidy["day"] == "2026-11-24"
    assert subsidy["members_version"] == 1 and subsidy["card"] == "**********E680"
    assert records[3].body["delta"] == "26" and records[3].body["after"] == "1226"
    assert balances(box) == Balances(1226, D("0.00"), D("44.00"))
    assert verify_journal(box.db).ok


def test_re_appending_the_same_change_ids_changes_nothing(box: Box) -> None:
    posting = sell(box, "S1", "26.00", earned=26)
    box.journal.append_many(list(posting.entries), also=posting.also)
    posting.record(box.journal)
    with box.db.conn:  # the `also` itself skips ids it already holds
        posting.also(box.db.conn)
    assert balances(box) == Balances(1226, D("0.00"), D("44.00"))
    assert box.journal.state().head_seq == 4
    count = box.db.conn.execute("SELECT count(*) FROM member_change").fetchone()[0]
    assert count == 3


def test_posting_a_recorded_sale_again_gives_the_recorded_entries(box: Box) -> None:
    first = sell(box, "S1", "10.00", earned=10)
    again = box.members.postings("S1", alice(box), [authorise(box, "10.00")], 10, LUNCH)
    assert again.entries == first.entries  # not recomputed from the new balances
    box.journal.append_many(
        [("sale", {"id": "S1", "total": "10.00"}, "S1"), *again.entries], also=again.also
    )
    assert balances(box) == Balances(1210, D("10.00"), D("50.00"))


def test_reusing_a_change_id_for_other_changes_is_refused(box: Box) -> None:
    sell(box, "S1", "10.00")
    with pytest.raises(MembersError, match="already recorded"):
        box.members.postings("S1", alice(box), [authorise(box, "20.00")], 0, LUNCH)
    other = box.members.postings("S9", alice(box), [authorise(box, "1.00")], 0, LUNCH)
    tampered = [(KIND, {**other.entries[0][1], "delta": "-2.00"}, "S1/t1/subsidy")]
    with pytest.raises(RecordIdConflict):
        box.journal.append_many(tampered)


def test_a_failed_sale_transaction_leaves_the_balances_untouched(box: Box) -> None:
    posting = box.members.postings("S1", alice(box), [authorise(box, "10.00")], 0, LUNCH)

    def lane_fails(conn: sqlite3.Connection) -> None:
        posting.also(conn)
        raise RuntimeError("printer on fire")

    with pytest.raises(RuntimeError):
        box.journal.append_many([("sale", {"id": "S1"}, "S1"), *posting.entries], also=lane_fails)
    assert balances(box) == Balances(1200, D("20.00"), D("50.00"))
    assert box.journal.state().head_seq == 0


def test_a_change_written_outside_the_journal_is_refused(box: Box) -> None:
    posting = box.members.postings("S1", alice(box), [authorise(box, "10.00")], 0, LUNCH)
    with pytest.raises(MembersError, match="no journal record"), box.db.conn:
        posting.also(box.db.conn)


def test_a_new_document_keeps_this_boxs_unconfirmed_debits(box: Box) -> None:
    sell(box, "S1", "26.00")
    box.apply(document(version=2))  # head office has not seen S1 yet: same balances
    assert balances(box) == Balances(1200, D("0.00"), D("44.00"))
    assert alice(box).cash == D("44.00")
    assert box.store.pending_count() == 2


def test_a_document_that_folded_the_changes_in_confirms_them(box: Box) -> None:
    sell(box, "S1", "26.00")  # seq 1..3
    sell(box, "S2", "4.00")  # seq 4..5: cash only
    data = document(version=2, included_through={BOX: 3, "box-2": 99})
    member(data, "M0001")["wallets"].update(subsidy="0.00", cash="41.00")  # S1 + 3.00 at box-2
    applied = box.apply(data)
    assert (applied.confirmed, applied.pending) == (2, 1)
    assert balances(box) == Balances(1200, D("0.00"), D("37.00"))  # 41.00 - S2's 4.00
    data = document(version=3, included_through={BOX: 5})
    member(data, "M0001")["wallets"].update(subsidy="0.00", cash="37.00")
    assert box.apply(data).pending == 0
    assert balances(box) == Balances(1200, D("0.00"), D("37.00"))


def test_another_boxs_watermark_confirms_nothing_here(box: Box) -> None:
    sell(box, "S1", "5.00")
    box.apply(document(version=2, included_through={"box-2": 10_000}))
    assert balances(box).subsidy == D("15.00")


def test_spending_counters_survive_a_new_document(box: Box) -> None:
    sell(box, "S1", "30.00")
    data = document(version=2, included_through={BOX: 2})
    member(data, "M0001")["wallets"].update(subsidy="0.00", cash="40.00")
    box.apply(data)
    refused = box.members.authorise(alice(box), "stored_value", D("0.01"), LUNCH)
    assert not isinstance(refused, Authorisation) and refused.code == "meal_limit"


def test_balances_survive_a_restart(box: Box) -> None:
    sell(box, "S1", "26.00", earned=26)
    reopened = box.reopen()
    try:
        assert reopened.store.balances("M0001") == Balances(1226, D("0.00"), D("44.00"))
    finally:
        reopened.db.conn.close()
        box.db = reopened.db


def originals(box: Box, sale_id: str) -> list[dict[str, Any]]:
    return [
        r.body for r in box.journal.read(0, 100) if r.kind == KIND and r.body["sale"] == sale_id
    ]


def test_a_refund_gives_back_to_the_wallets_and_takes_earned_points(box: Box) -> None:
    sell(box, "S1", "26.00", earned=26)
    posting = box.members.reverse("R1", originals(box, "S1"), datetime(2026, 11, 24, 15, 0))
    posting.record(box.journal)
    assert balances(box) == Balances(1200, D("20.00"), D("50.00"))
    reasons = {b["reason"] for b in originals(box, "R1")}
    assert reasons == {"spend_reversal", "earn_reversal"}
    posting.record(box.journal)  # again: nothing more
    assert balances(box) == Balances(1200, D("20.00"), D("50.00"))
    again = box.members.authorise(alice(box), "stored_value", D("30.00"), LUNCH)
    assert isinstance(again, Authorisation)  # the reversal restored lunch's budget


def test_a_partial_refund_reverses_only_the_part(box: Box) -> None:
    sell(box, "S1", "26.00")
    box.members.reverse(
        "R1", originals(box, "S1"), LUNCH, parts={"S1/t1/cash": D("6.00"), "S1/t1/subsidy": D("0")}
    ).record(box.journal)
    assert balances(box) == Balances(1200, D("0.00"), D("50.00"))
    with pytest.raises(MembersError, match=r"0\.00 of 6\.00 is left"):
        box.members.reverse("R2", originals(box, "S1"), LUNCH, parts={"S1/t1/cash": D("0.01")})
    rest = box.members.reverse("R2", originals(box, "S1"), LUNCH)  # whatever is left
    assert [c.delta for c in rest.changes] == [D("20.00")]
    rest.record(box.journal)
    assert balances(box) == Balances(1200, D("20.00"), D("50.00"))
    assert box.members.reverse("R3", originals(box, "S1"), LUNCH).entries == ()
    again = box.members.reverse(
        "R1", originals(box, "S1"), LUNCH, parts={"S1/t1/cash": D("6.00"), "S1/t1/subsidy": D("0")}
    )
    assert [e[2] for e in again.entries] == ["R1/reverse/S1/t1/cash"]  # re-post: recorded one
    again.record(box.journal)
    assert balances(box) == Balances(1200, D("20.00"), D("50.00"))


def test_earned_points_taken_back_never_below_zero(box: Box) -> None:
    data = document(version=2)
    member(data, "M0001")["wallets"]["points"] = 0
    box.apply(data)
    box.members.postings("S1", alice(box), [], 30, LUNCH).record(box.journal)
    spend = authorise(box, "0.25", tender="points")
    box.members.postings("S2", alice(box), [spend], 0, LUNCH).record(box.journal)
    box.members.reverse("R1", originals(box, "S1"), LUNCH).record(box.journal)
    assert balances(box).points == 0
    assert originals(box, "R1")[0]["delta"] == "-5"


def test_only_original_changes_can_be_reversed(box: Box) -> None:
    sell(box, "S1", "5.00")
    box.members.reverse("R1", originals(box, "S1"), LUNCH).record(box.journal)
    with pytest.raises(MembersError, match="cannot be reversed"):
        box.members.reverse("R2", originals(box, "R1"), LUNCH)


def test_an_authorisation_of_another_member_is_refused(box: Box) -> None:
    bob = box.members.identify("M0002")
    assert isinstance(bob, Account)
    with pytest.raises(MembersError, match="authorisation for member M0001"):
        box.members.postings("S1", bob, [authorise(box, "1.00")], 0, LUNCH)


def test_points_earned_from_a_priced_basket_end_up_in_the_balance(box: Box) -> None:
    basket = priced(line(0, "9.99"), line(1, "5.00", ("no_points",)), line(2, "10.50"))
    earned = box.members.points_earned(alice(box), basket)
    box.members.postings("S1", alice(box), [], earned, LUNCH).record(box.journal)
    assert balances(box).points == 1220


def test_the_sync_sink_applies_and_refuses_documents(box: Box) -> None:
    sink = MembersSink(box.store, now=lambda: datetime(2026, 11, 24, 7, 0))
    data = document(version=2)
    member(data, "M0002")["wallets"]["cash"] = "99.00"
    sink.apply("members", 2, data)
    assert box.store.balances("M0002").cash == D("99.00")
    with pytest.raises(DocumentRefused, match="envelope says version 4"):
        sink.apply("members", 4, document(version=3))
    with pytest.raises(DocumentRefused, match="not newer"):
        sink.apply("members", 2, document(version=2))
    broken = document(version=5)
    broken["groups"] = []
    with pytest.raises(DocumentRefused, match="groups"):
        sink.apply("members", 5, broken)
    assert sink.apply_blacklist({"version": 7, "cards": [{"card": "M0002"}]}) is True
    with pytest.raises(DocumentRefused):
        sink.apply_blacklist({"version": "x"})
    assert box.store.document() is not None and box.store.document().version == 2  # type: ignore[union-attr]


def test_a_supervisors_offline_approval_is_in_the_record(box: Box) -> None:
    late = LinkState(online=False, offline_for=timedelta(hours=6))
    auth = box.members.authorise(
        alice(box), "stored_value", D("3.00"), LUNCH, late, supervisor="S07"
    )
    assert isinstance(auth, Authorisation)
    box.members.postings("S1", alice(box), [auth], 0, LUNCH).record(box.journal)
    body = originals(box, "S1")[0]
    assert (body["offline"], body["supervisor"]) == (True, "S07")


def test_a_watermark_that_goes_back_or_past_the_journal_is_refused(box: Box) -> None:
    sell(box, "S1", "5.00")  # seq 1..2 (sale + subsidy)
    box.apply(document(version=2, included_through={BOX: 2}))
    with pytest.raises(MembersDocumentError, match="below 2 in force"):
        box.apply(document(version=3, included_through={BOX: 1}))
    with pytest.raises(MembersDocumentError, match="beyond this box's journal head 2"):
        box.apply(document(version=3, included_through={BOX: 3}))
    assert box.store.document().version == 2  # type: ignore[union-attr]


def test_points_earned_in_an_offline_sale_are_marked_offline(box: Box) -> None:
    offline = LinkState(online=False, offline_for=timedelta(minutes=3))
    auth = box.members.authorise(alice(box), "stored_value", D("3.00"), LUNCH, offline)
    assert isinstance(auth, Authorisation)
    box.members.postings("S1", alice(box), [auth], 3, LUNCH).record(box.journal)
    assert [b["offline"] for b in originals(box, "S1")] == [True, True]
    box.members.postings("S2", alice(box), [], 3, LUNCH).record(box.journal)
    assert [b["offline"] for b in originals(box, "S2")] == [False]
