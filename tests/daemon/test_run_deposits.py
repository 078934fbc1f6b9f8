"""Deposits (Pfand / 押金) through `gateway run` (issue 21 item 1): a bottle's deposit priced
on its line, empties scanned back on the control socket, an empties-only basket paid out
in cash with a supervisor (`empties_payout`), and a refund of a bottle paying its
deposit back."""

from __future__ import annotations

import json
from pathlib import Path

from daemon_testkit import EXAMPLE_CATALOG, NO_SYNC, Daemon, box_config

from gateway.database import open_database
from gateway.journal import Journal

COLA = "7612345001296"  # Cola 1.5 l, 2.10
PFAND = "7612345009995"  # the deposit 0.50: scanned alone, an empty bottle back
DEPOSIT = {
    "sku": "PFAND-050",
    "name": "Pfand",
    "names": {"zh": "押金"},
    "barcodes": [PFAND],
    "price": "0.50",
    "tax_class": "food",
    "category": "drinks",
    "flags": ["deposit"],
}


def test_deposits_and_empties_through_the_box(tmp_path: Path) -> None:
    doc = json.loads(EXAMPLE_CATALOG.read_text())
    doc["products"].append(DEPOSIT)
    for product in doc["products"]:
        if product["sku"] == "COLA-15":
            product["deposit"] = {"sku": "PFAND-050"}
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps(doc))
    config = box_config(tmp_path)
    config.write_text(config.read_text().replace(str(EXAMPLE_CATALOG), str(catalog)))
    daemon = Daemon(tmp_path, config, NO_SYNC)
    try:
        assert daemon.key("sign_on", staff="101", pin="472951")["ok"]
        assert daemon.key("scan", code=COLA, quantity="2")["ok"]
        assert daemon.key("scan", code=PFAND)["ok"]
        # 2 x (2.10 + 0.50) = 5.20, one empty back -0.50: 4.70
        paid = daemon.key("tender", type="cash", amount="5")
        assert paid["ok"] and paid["state"] == "idle", paid
        # only empties: -1.50 paid out; the cashier alone may not, a supervisor may
        assert daemon.key("scan", code=PFAND, quantity="3")["ok"]
        refused = daemon.key("tender", type="cash")
        assert not refused["ok"] and refused["refused"] == "needs_override", refused
        payout = daemon.key(
            "tender", type="cash", supervisor="201", supervisor_pin="836104", reason="empties"
        )
        assert payout["ok"] and payout["state"] == "idle", payout
        sale = _journal(tmp_path, "sale")[0]
        back = daemon.key(
            "refund",
            receipt=str(sale["receipt_id"]),
            reason="one too many",
            lines="1:1",
            supervisor="201",
            supervisor_pin="836104",
        )
        assert back["ok"], back
    finally:
        assert daemon.stop() == 0, daemon.output()
    first, empties = _journal(tmp_path, "sale")
    assert [(line["sku"], line["total"]) for line in first["lines"]] == [
        ("COLA-15", "5.20"),
        ("PFAND-050", "-0.50"),
    ]
    assert first["lines"][0]["deposit"] == "1.00"
    assert first["totals"]["total"] == "4.70"
    assert empties["totals"]["total"] == "-1.50"
    assert [(t["type"], t["amount"]) for t in empties["tenders"]] == [("cash", "-1.50")]
    assert empties["overrides"], "the supervisor's approval is referenced from the sale"
    (refund,) = _journal(tmp_path, "refund")
    # one cola back: 5.20 / 2 = 2.60, its 0.50 deposit with it
    assert [(line["sku"], line["amount"]) for line in refund["lines"]] == [("COLA-15", "2.60")]


def _journal(directory: Path, kind: str) -> list[dict[str, object]]:
    db = open_database(directory / "storegate.db", readonly=True)
    try:
        return [r.body for r in Journal(db).read(0, 1000) if r.kind == kind]
    finally:
        db.conn.close()
