"""A member id typed at the till pays nothing from the member's wallets (issue 13, #9).

The member id is printed on every receipt, so anyone who kept one could key it and spend
that member's stored value or points. Played through `gateway run` and its control socket as
the cashier would: the typed id is refused for stored value and points (`needs_member_card`)
and nothing is debited, the same sale still earns the member their points, and the card's
UID (what the card reader gives) pays from the wallet as before."""

from __future__ import annotations

from pathlib import Path

from ops_testkit import ALICE_UID, journal_bodies, member_till

WINE = "7612345001326"  # 12.50 in the example catalog


def test_a_typed_member_id_earns_points_but_pays_nothing_from_the_wallets(tmp_path: Path) -> None:
    with member_till(tmp_path) as (_, daemon):
        # The attacker keys the member id from a receipt.
        typed = daemon.key("member", card="M0001")
        assert typed["ok"], typed
        assert daemon.key("scan", code=WINE)["ok"]  # 12.50
        stolen = daemon.key("tender", type="stored_value", amount="10.00")
        assert stolen.get("refused") == "needs_member_card", stolen
        assert "card" in str(stolen["error"]).lower()
        points = daemon.key("tender", type="points", amount="1.00")
        assert points.get("refused") == "needs_member_card", points
        paid = daemon.key("tender", type="cash", amount="20")
        assert paid["ok"] and paid["state"] == "idle", paid

        # The card itself (its UID, as the reader gives it) pays from the wallet.
        assert daemon.key("member", card=ALICE_UID)["ok"]
        assert daemon.key("scan", code=WINE)["ok"]
        wallet = daemon.key("tender", type="stored_value", amount="10.00")
        assert wallet["ok"], wallet
        assert daemon.key("tender", type="points", amount="2.50")["ok"]
    changes = [
        (b["sale"][-6:], b["reason"], b["wallet"], b["delta"])
        for b in journal_bodies(tmp_path / "storegate.db", "member_balance")
    ]
    assert changes == [
        ("000001", "earn", "points", "12"),
        ("000002", "spend", "cash", "-10.00"),
        ("000002", "redeem", "points", "-250"),
        ("000002", "earn", "points", "10"),
    ], changes
