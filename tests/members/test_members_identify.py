"""Identifying a member by card: who is accepted, who is refused and why, the pricing
context, the versioned blacklist, and that no card number is ever kept in full."""

from __future__ import annotations

from decimal import Decimal

import pytest
from members_testkit import (
    ALICE_UID,
    BOB_UID,
    CAROL_UID,
    DAVE_UID,
    LOST_UID,
    LUNCH,
    VISA_PAN,
    Box,
    document,
    member,
    uid_key,
)

from gateway.members import Account, MembersDocumentError, Refusal, mask_card
from gateway.members.document import Blacklist, BlacklistEntry
from gateway.pricing.basket import MemberContext


def accepted(box: Box, read: str) -> Account:
    found = box.members.identify(read)
    assert isinstance(found, Account), found
    return found


def refusal(box: Box, read: str) -> Refusal:
    found = box.members.identify(read)
    assert isinstance(found, Refusal), found
    return found


@pytest.mark.parametrize("read", [ALICE_UID, "04a2b3c4d5e680", " 04-A2-B3-C4-D5-E6-80 "])
def test_a_card_uid_is_found_however_the_reader_spells_it(box: Box, read: str) -> None:
    alice = accepted(box, read)
    assert (alice.id, alice.name, alice.group.id) == ("M0001", "Alice", "canteen")
    assert (alice.points, alice.subsidy, alice.cash) == (1200, Decimal("20.00"), Decimal("50.00"))
    assert alice.card_ref == "**********E680"


def test_a_store_issued_member_id_is_accepted_and_shown_whole(box: Box) -> None:
    bob = accepted(box, "M0002")
    assert bob.id == "M0002"
    assert bob.card_ref == "M0002"


def test_blocked_account_is_refused_with_a_sentence(box: Box) -> None:
    refused = refusal(box, CAROL_UID)
    assert refused.code == "blocked"
    assert refused.message == (
        "member account blocked on 2026-11-01 — keep the card, call a supervisor"
    )


def test_lost_status_is_refused_with_the_date(box: Box) -> None:
    refused = refusal(box, DAVE_UID)
    assert refused.code == "lost"
    assert refused.message == "card reported lost on 2026-11-20 — keep the card, call a supervisor"


def test_blacklisted_card_is_refused_even_though_its_member_is_active(box: Box) -> None:
    assert box.store.member("M0005") is not None
    refused = refusal(box, LOST_UID)
    assert refused.code == "blacklisted"
    assert "reported lost on 2026-11-22" in refused.message


def test_unknown_card_is_refused(box: Box) -> None:
    refused = refusal(box, "04FFFFFFFFFFFF")
    assert refused.code == "unknown_card"
    assert "not known to this store" in refused.message
    assert refusal(box, "").code == "unknown_card"


def test_a_payment_card_is_refused_and_never_stored(box: Box) -> None:
    assert refusal(box, VISA_PAN).code == "payment_card"
    assert refusal(box, "4111 1111 1111 1111").code == "payment_card"
    box.db.conn.execute("PRAGMA wal_checkpoint(FULL)")
    raw = box.path.read_bytes()
    assert VISA_PAN.encode() not in raw
    assert b"04A2B3C4D5E680" not in raw  # UIDs are kept as salted hashes only


def test_masking_keeps_at_most_six_and_four_of_a_payment_card() -> None:
    assert mask_card(VISA_PAN) == "411111******1111"
    assert mask_card("04A2B3C4") == "****B3C4"
    assert mask_card("123") == "***"


def test_before_any_document_every_card_is_refused(empty_box: Box) -> None:
    refused = refusal(empty_box, ALICE_UID)
    assert refused.code == "no_members"


def test_pricing_context_follows_the_groups_member_price_eligibility(box: Box) -> None:
    alice = accepted(box, ALICE_UID)
    assert box.members.pricing_context(alice) == MemberContext("M0001", "canteen", "Alice")
    assert box.members.pricing_context(accepted(box, BOB_UID)) is None


def test_a_newer_blacklist_pushed_alone_blocks_a_card_at_once(box: Box) -> None:
    accepted(box, ALICE_UID)
    newer = Blacklist(version=4, cards=[BlacklistEntry(card=uid_key(ALICE_UID), reason="stolen")])
    assert box.store.apply_blacklist(newer) is True
    refused = refusal(box, ALICE_UID)
    assert refused.code == "blacklisted" and "reported stolen" in refused.message
    assert box.store.blacklist_version() == 4
    assert accepted(box, LOST_UID).id == "M0005"  # v4 no longer lists it


def test_an_older_blacklist_never_replaces_a_newer_one(box: Box) -> None:
    assert box.store.apply_blacklist(Blacklist(version=2, cards=[])) is False
    assert refusal(box, LOST_UID).code == "blacklisted"
    box.store.apply_blacklist(Blacklist(version=9, cards=[BlacklistEntry(card="M0002")]))
    box.apply(document(version=2))  # carries blacklist v3: older than v9 in force
    assert box.store.blacklist_version() == 9
    assert refusal(box, "M0002").code == "blacklisted"
    assert accepted(box, LOST_UID).id == "M0005"


def test_an_older_or_same_document_is_refused_and_the_one_in_force_stays(box: Box) -> None:
    data = document(version=1)
    member(data, "M0001")["wallets"]["cash"] = "999.00"
    with pytest.raises(MembersDocumentError, match="not newer than 1"):
        box.apply(data)
    assert accepted(box, ALICE_UID).cash == Decimal("50.00")


def test_a_new_salt_with_an_older_blacklist_is_refused(box: Box) -> None:
    box.store.apply_blacklist(Blacklist(version=5, cards=[]))
    data = document(version=2, card_hashing={"salt": "ab" * 16})
    with pytest.raises(MembersDocumentError, match="salt changed"):
        box.apply(data)


def test_identify_status_changes_with_the_next_document(box: Box) -> None:
    data = document(version=2)
    member(data, "M0003")["status"] = "active"
    member(data, "M0001")["status"] = "blocked"
    box.apply(data)
    assert accepted(box, CAROL_UID).id == "M0003"
    assert refusal(box, ALICE_UID).code == "blocked"
    assert refusal(box, "M0001").message.startswith("member account blocked —")


def test_authorise_rechecks_status_after_identify(box: Box) -> None:
    alice = accepted(box, ALICE_UID)
    data = document(version=2)
    member(data, "M0001")["status"] = "lost"
    box.apply(data)
    refused = box.members.authorise(alice, "stored_value", Decimal("1.00"), LUNCH)
    assert isinstance(refused, Refusal) and refused.code == "lost"
