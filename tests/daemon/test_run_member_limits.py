"""限购 per member through `gateway run` (issue 21 item 1): a member's units of a
`limit_per_member` promotion are counted over their sales at the box, in the same
transaction as the sale, kept across a restart of the daemon on the same file, and a
refund through the control socket gives a unit back (docs/pricing.md, step 2)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from daemon_testkit import EXAMPLE_CATALOG, NO_SYNC, Daemon, box_config
from ops_testkit import ALICE_UID, journal_bodies, members_document

from gateway.database import open_database
from gateway.members import MemberStore
from gateway.members.document import parse_document

COLA = "7612345001296"  # COLA-15, 2.10
WEEKLY_COLA = {  # no schedule: the window is every sale at this box
    "type": "percent_off",
    "id": "cola-members",
    "name": "Members: cola -50%, 2 each",
    "target": {"skus": ["COLA-15"]},
    "percent": "50",
    "member_only": True,
    "limit_per_member": 2,
}


def _load_members(database: Path) -> None:
    """The test kit's members document, with member pricing for the group: member-only
    promotions are for members whose group has it."""
    document = members_document()
    document["groups"][0]["member_prices"] = True
    db = open_database(database)
    MemberStore(db, "box-1").apply_document(parse_document(document), datetime(2026, 11, 24, 6, 0))
    db.conn.close()


def _sale(daemon: Daemon, colas: int) -> None:
    assert daemon.key("member", card=ALICE_UID)["ok"]
    assert daemon.key("scan", code=COLA, quantity=str(colas))["ok"]
    paid = daemon.key("tender", type="cash", amount="20")
    assert paid["ok"] and paid["state"] == "idle", paid


def test_a_member_limit_counted_over_sales_a_restart_and_a_refund(tmp_path: Path) -> None:
    doc = json.loads(EXAMPLE_CATALOG.read_text())
    doc["promotions"].append(WEEKLY_COLA)
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps(doc))
    config = box_config(tmp_path)
    config.write_text(config.read_text().replace(str(EXAMPLE_CATALOG), str(catalog)))
    _load_members(tmp_path / "storegate.db")
    daemon = Daemon(tmp_path, config, NO_SYNC)
    try:
        assert daemon.key("sign_on", staff="101", pin="472951")["ok"]
        _sale(daemon, 2)  # both at half price: 2 x 1.05
        _sale(daemon, 1)  # nothing left: 2.10
    finally:
        assert daemon.stop() == 0, daemon.output()
    daemon = Daemon(tmp_path, config, NO_SYNC)  # the same file: the counts stay
    try:
        _sale(daemon, 1)  # the shift is still open, Anna signed on; still nothing left: 2.10
        first = journal_bodies(tmp_path / "storegate.db", "sale")[0]
        back = daemon.key(
            "refund",
            receipt=str(first["receipt_id"]),
            reason="dented",
            lines="1:1",
            supervisor="201",
            supervisor_pin="836104",
        )
        assert back["ok"], back
        _sale(daemon, 2)  # the unit given back: one at half price, one at 2.10
    finally:
        assert daemon.stop() == 0, daemon.output()
    sales = journal_bodies(tmp_path / "storegate.db", "sale")
    assert [s["lines"][0]["total"] for s in sales] == ["2.10", "2.10", "2.10", "3.15"]
    assert [
        [(a["promotion"], a.get("units")) for a in s["lines"][0]["adjustments"]] for s in sales
    ] == [[("cola-members", 2)], [], [], [("cola-members", 1)]]
