"""Authorising stored-value and points tenders: wallet order, subsidy expiry, group limits to
the cent, the offline policy's ceilings and its supervisor gate, and points earned."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from members_testkit import (
    AFTERNOON,
    ALICE_UID,
    BOB_UID,
    LUNCH,
    Box,
    document,
    line,
    member,
    priced,
)

from gateway.members import (
    Account,
    Authorisation,
    Debit,
    LinkState,
    MemberAccounts,
    MembersError,
    Refusal,
)
from gateway.members.rules import TenderKind

OFFLINE = LinkState(online=False, offline_for=timedelta(minutes=10), unsynced_sales=3)
D = Decimal


def alice(box: Box) -> Account:
    found = box.members.identify(ALICE_UID)
    assert isinstance(found, Account)
    return found


def ok(
    box: Box,
    amount: str,
    at: datetime = LUNCH,
    tender: TenderKind = "stored_value",
    link: LinkState | None = None,
    earlier: tuple[Authorisation, ...] = (),
    who: Account | None = None,
) -> Authorisation:
    got = box.members.authorise(who or alice(box), tender, D(amount), at, link, earlier)
    assert isinstance(got, Authorisation), got
    return got


def no(
    box: Box,
    amount: str,
    at: datetime = LUNCH,
    tender: TenderKind = "stored_value",
    link: LinkState | None = None,
    earlier: tuple[Authorisation, ...] = (),
    who: Account | None = None,
) -> Refusal:
    got = box.members.authorise(who or alice(box), tender, D(amount), at, link, earlier)
    assert isinstance(got, Refusal), got
    return got


def spend(box: Box, sale: str, *auths: Authorisation) -> None:
    box.members.postings(sale, alice(box), auths, 0, auths[0].at).record(box.journal)


# -- wallets ------------------------------------------------------------------------------


def test_subsidy_is_spent_before_cash(box: Box) -> None:
    assert ok(box, "12.00").debits == (Debit("subsidy", D("12.00")),)
    auth = ok(box, "26.00")
    assert auth.debits == (Debit("subsidy", D("20.00")), Debit("cash", D("6.00")))
    assert auth.meal == "lunch" and auth.offline is False


def test_after_the_subsidy_is_used_up_cash_pays(box: Box) -> None:
    spend(box, "S1", ok(box, "20.00"))
    assert ok(box, "5.00").debits == (Debit("cash", D("5.00")),)


def test_expired_subsidy_is_not_spent(box: Box) -> None:
    after = datetime(2026, 12, 1, 12, 0)  # subsidy_expires 2026-11-30
    assert ok(box, "5.00", at=after).debits == (Debit("cash", D("5.00")),)
    last_day = datetime(2026, 11, 30, 12, 0)
    assert ok(box, "5.00", at=last_day).debits == (Debit("subsidy", D("5.00")),)


def test_expired_subsidy_is_named_when_the_balance_falls_short(box: Box) -> None:
    data = document(version=2)
    member(data, "M0001")["wallets"]["cash"] = "3.00"
    box.apply(data)
    refused = no(box, "10.00", at=datetime(2026, 12, 1, 12, 0))
    assert refused.code == "insufficient_balance"
    assert refused.message == (
        "balance covers only 3.00; the subsidy of 20.00 expired on "
        "2026-11-30 — take another payment for the rest"
    )


def test_insufficient_balance_by_one_cent(box: Box) -> None:
    bob = box.members.identify(BOB_UID)
    assert isinstance(bob, Account)
    assert ok(box, "10.00", who=bob).debits == (Debit("cash", D("10.00")),)
    assert no(box, "10.01", who=bob).code == "insufficient_balance"


# -- group limits -------------------------------------------------------------------------


def test_meal_limit_exceeded_by_one_cent_is_refused(box: Box) -> None:
    ok(box, "30.00")
    spend(box, "S1", ok(box, "18.00"))
    ok(box, "12.00")
    refused = no(box, "12.01")
    assert refused.code == "meal_limit"
    assert refused.message == (
        "lunch limit 30.00 reached (12.00 left) — take another payment for the rest"
    )


def test_meal_limit_resets_in_the_next_meal_period(box: Box) -> None:
    spend(box, "S1", ok(box, "30.00"))
    assert no(box, "0.01").code == "meal_limit"
    assert ok(box, "0.01", at=AFTERNOON).meal is None  # between meals only the day counts
    assert ok(box, "30.00", at=datetime(2026, 11, 24, 18, 0)).meal == "dinner"


def test_day_limit_exceeded_by_one_cent_is_refused(box: Box) -> None:
    data = document(version=2)
    member(data, "M0001")["wallets"]["cash"] = "500.00"
    box.apply(data)
    spend(box, "S1", ok(box, "15.00", at=datetime(2026, 11, 24, 8, 0)))
    spend(box, "S2", ok(box, "30.00"))
    spend(box, "S3", ok(box, "5.00", at=AFTERNOON))
    spend(box, "S4", ok(box, "20.00", at=datetime(2026, 11, 24, 18, 0)))
    late = datetime(2026, 11, 24, 21, 0)  # no meal period: only the day limit applies
    ok(box, "10.00", at=late)
    refused = no(box, "10.01", at=late)
    assert refused.code == "day_limit"
    assert refused.message == (
        "daily limit 80.00 reached (10.00 left) — take another payment for the rest"
    )
    assert ok(box, "30.00", at=datetime(2026, 11, 25, 12, 0)).meal == "lunch"  # a new day


def test_split_tenders_in_one_sale_count_toward_the_limits(box: Box) -> None:
    first = ok(box, "25.00")
    assert no(box, "5.01", earlier=(first,)).code == "meal_limit"
    second = ok(box, "5.00", earlier=(first,))
    assert second.debits == (Debit("cash", D("5.00")),)  # the subsidy went to `first`


def test_meal_only_group_refuses_outside_meal_periods(box: Box) -> None:
    account = box.members.identify("M0005")  # its card is blacklisted, its printed id not
    assert isinstance(account, Account)
    refused = no(box, "5.00", at=AFTERNOON, who=account)
    assert refused.code == "outside_meal_period"
    assert "not at 16:00" in refused.message
    assert ok(box, "20.00", who=account).meal == "lunch"
    assert no(box, "20.01", who=account).code == "transaction_limit"


# -- offline policy -----------------------------------------------------------------------


def test_offline_stored_value_within_the_policy_is_allowed_and_marked(box: Box) -> None:
    auth = ok(box, "25.00", link=OFFLINE)
    assert auth.offline is True


def test_offline_per_transaction_ceiling_by_one_cent(box: Box) -> None:
    refused = no(box, "25.01", link=OFFLINE)
    assert refused.code == "offline_transaction_ceiling"
    first = ok(box, "20.00", link=OFFLINE)
    assert no(box, "5.01", link=OFFLINE, earlier=(first,)).code == ("offline_transaction_ceiling")


def test_offline_per_day_ceiling_counts_this_boxs_offline_debits(box: Box) -> None:
    spend(box, "S1", ok(box, "20.00", at=datetime(2026, 11, 24, 10, 0)))  # online: not counted
    spend(box, "S2", ok(box, "15.00", link=OFFLINE, at=datetime(2026, 11, 24, 10, 30)))
    spend(box, "S3", ok(box, "25.00", link=OFFLINE))
    refused = no(box, "0.01", link=OFFLINE, at=AFTERNOON)
    assert refused.code == "offline_day_ceiling"
    assert "(0.00 left)" in refused.message
    assert ok(box, "0.01", at=AFTERNOON).offline is False  # back online: group limits only


def test_stored_value_offline_refused_when_the_policy_says_so(box: Box) -> None:
    data = document(version=2)
    data["offline"]["stored_value"] = False
    box.apply(data)
    refused = no(box, "1.00", link=OFFLINE)
    assert refused.code == "offline_not_allowed"
    assert refused.needs_supervisor is False
    assert ok(box, "1.00").offline is False


def test_too_long_offline_needs_a_supervisor(box: Box) -> None:
    long = LinkState(online=False, offline_for=timedelta(minutes=241))
    refused = no(box, "1.00", link=long)
    assert refused.code == "offline_too_long" and refused.needs_supervisor
    assert ok(box, "1.00", link=LinkState(online=False, offline_for=timedelta(minutes=240)))
    approved = ok(box, "1.00", link=LinkState(False, timedelta(hours=9), 0, supervisor="S07"))
    assert approved.supervisor == "S07"
    again = box.members.authorise(
        alice(box), "stored_value", D("1.00"), LUNCH, long, supervisor="S08"
    )
    assert isinstance(again, Authorisation) and again.supervisor == "S08"


def test_too_many_unsynced_sales_needs_a_supervisor(box: Box) -> None:
    refused = no(box, "1.00", link=LinkState(False, timedelta(0), unsynced_sales=200))
    assert refused.code == "too_many_unsynced" and refused.needs_supervisor
    assert "200 sales not yet sent" in refused.message
    ok(box, "1.00", link=LinkState(False, timedelta(0), unsynced_sales=199))


# -- points -------------------------------------------------------------------------------


def test_points_pay_in_whole_points(box: Box) -> None:
    assert ok(box, "5.00", tender="points").debits == (Debit("points", D(500)),)
    assert ok(box, "0.01", tender="points").debits == (Debit("points", D(1)),)


def test_points_balance_and_step(box: Box) -> None:
    assert ok(box, "12.00", tender="points").debits == (Debit("points", D(1200)),)
    refused = no(box, "12.01", tender="points")
    assert refused.code == "insufficient_points"
    assert refused.message == "1201 points needed, the member has 1200 — take another payment"
    data = document(version=2, redemption={"points": 3, "value": "0.10"})
    box.apply(data)
    step = no(box, "0.05", tender="points")
    assert step.code == "points_step" and "steps of 0.0333" in step.message


def test_points_offline_ceilings(box: Box) -> None:
    data = document(version=2)
    member(data, "M0001")["wallets"]["points"] = 5000
    box.apply(data)
    assert no(box, "10.01", tender="points", link=OFFLINE).code == (
        "offline_points_transaction_ceiling"
    )
    auth = ok(box, "10.00", tender="points", link=OFFLINE)
    box.members.postings("S1", alice(box), [auth], 0, LUNCH).record(box.journal)
    assert no(box, "5.01", tender="points", link=OFFLINE).code == "offline_points_day_ceiling"
    ok(box, "5.00", tender="points", link=OFFLINE)


def test_points_redemption_offline_may_be_switched_off(box: Box) -> None:
    data = document(version=2)
    data["offline"]["points_redemption"] = False
    box.apply(data)
    assert no(box, "1.00", tender="points", link=OFFLINE).code == "offline_not_allowed"


def test_no_redemption_rate_means_points_are_not_a_tender(box: Box) -> None:
    box.apply(document(version=2, redemption=None))
    assert no(box, "1.00", tender="points").code == "no_redemption"


def test_a_tender_that_is_not_a_member_tender_is_an_error(box: Box) -> None:
    with pytest.raises(MembersError, match="'cash' is not a member tender"):
        box.members.authorise(alice(box), "cash", D("1.00"), LUNCH)  # type: ignore[arg-type]


@pytest.mark.parametrize("amount", [D("0"), D("-1.00"), D("1.001"), D("NaN")])
def test_a_bad_amount_from_the_lane_is_an_error(box: Box, amount: Decimal) -> None:
    with pytest.raises(MembersError, match="must be positive"):
        box.members.authorise(alice(box), "stored_value", amount, LUNCH)


# -- points earned ------------------------------------------------------------------------


def test_points_earned_skip_no_points_lines_and_round_down(box: Box) -> None:
    basket = priced(line(0, "12.99"), line(1, "40.00", ("no_points",)), line(2, "7.50"))
    assert box.members.points_earned(alice(box), basket) == 20
    assert box.members.points_earned(alice(box), basket, paid_with_points=D("5.00")) == 15
    assert box.members.points_earned(alice(box), basket, paid_with_points=D("90")) == 0


def test_a_bottle_s_deposit_earns_no_points(box: Box) -> None:
    # a 12.99 line of which 2.00 is deposit (Pfand / 押金): 10.99 earns 10 points, not 12
    bottle = replace(line(0, "12.99"), deposit=D("2.00"), deposit_sku="PFAND")
    assert box.members.points_earned(alice(box), priced(bottle)) == 10


def test_a_group_without_a_points_rule_earns_nothing(box: Box) -> None:
    bob = box.members.identify(BOB_UID)
    assert isinstance(bob, Account)
    assert box.members.points_earned(bob, priced(line(0, "99.00"))) == 0


def test_points_rule_with_several_points_per_step(box: Box) -> None:
    data = document(version=2)
    data["groups"][0]["points"] = {"per": "5.00", "points": 2}
    box.apply(data)
    assert box.members.points_earned(alice(box), priced(line(0, "14.99"))) == 4


def test_the_link_state_can_come_from_sync_instead_of_the_lane(box: Box) -> None:
    offline = MemberAccounts(box.store, link=lambda: LinkState(False, timedelta(hours=5)))
    refused = offline.authorise(alice(box), "stored_value", D("1.00"), LUNCH)
    assert isinstance(refused, Refusal) and refused.code == "offline_too_long"
    assert isinstance(
        offline.authorise(alice(box), "stored_value", D("1.00"), LUNCH, link=LinkState()),
        Authorisation,
    )
