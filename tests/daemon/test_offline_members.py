"""The members room's offline policy applies in `gateway run` while the broker is down
(issue 12, #7): the box's real link (sync) reaches the policy of docs/members.md and the
balance records say `offline: true`."""

from __future__ import annotations

from pathlib import Path

from ops_testkit import ALICE_UID, journal_bodies, member_till, wait_until

WINE = "7612345001326"  # 12.50 in the example catalog


def test_member_tenders_follow_the_offline_policy_while_the_broker_is_down(tmp_path: Path) -> None:
    with member_till(tmp_path) as (broker, daemon):
        # Online: 30.00 of stored value in one sale is above the offline ceiling, and fine.
        assert daemon.key("member", card=ALICE_UID)["ok"]
        assert daemon.key("scan", code=WINE, quantity="3")["ok"]  # 37.50
        online = daemon.key("tender", type="stored_value", amount="30.00")
        assert online["ok"], online
        assert daemon.key("tender", type="cash", amount="10")["ok"]

        broker.kill()
        wait_until(
            lambda: daemon.status()["sync"]["connection"] != "connected",  # type: ignore[index]
            15,
            "the box to notice the broker is gone",
        )

        assert daemon.key("member", card=ALICE_UID)["ok"]
        assert daemon.key("scan", code=WINE, quantity="3")["ok"]
        over = daemon.key("tender", type="stored_value", amount="30.00")
        assert over.get("refused") == "offline_transaction_ceiling", over
        assert "25.00" in str(over["error"])
        points = daemon.key("tender", type="points", amount="5.00")
        assert points.get("refused") == "offline_not_allowed", points
        within = daemon.key("tender", type="stored_value", amount="20.00")
        assert within["ok"], within
        paid = daemon.key("tender", type="cash", amount="20")
        assert paid["ok"] and paid["state"] == "idle", paid
    spends = [
        b
        for b in journal_bodies(tmp_path / "storegate.db", "member_balance")
        if b["reason"] == "spend"
    ]
    assert [(b["delta"], b["offline"]) for b in spends] == [("-30.00", False), ("-20.00", True)], (
        spends
    )
    earned = [
        b
        for b in journal_bodies(tmp_path / "storegate.db", "member_balance")
        if b["reason"] == "earn"
    ]
    assert [b["offline"] for b in earned] == [False, True], earned
