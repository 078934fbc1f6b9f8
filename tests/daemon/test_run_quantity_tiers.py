"""Quantity tiers (2件9折) and 限购 through `gateway run` (issue 21 item 1): a box whose
catalog carries them prices each scan on the control socket, journals the sale, and a
partial refund through the socket pays back what the unit cost in the sale."""

from __future__ import annotations

import json
from pathlib import Path

from daemon_testkit import EXAMPLE_CATALOG, NO_SYNC, Daemon, box_config

from gateway.database import open_database
from gateway.journal import Journal

COLA, JUICE, TEA = "7612345001296", "7612345001302", "7612345001227"  # 2.10, 2.90, 3.30
PROMOTIONS = [
    {
        "type": "quantity_tiers",
        "id": "drinks-tiers",
        "name": "Drinks: 2 -10%, 3 -20%",
        "target": {"categories": ["drinks"]},
        "tiers": [{"min_units": 2, "percent_off": "10"}, {"min_units": 3, "percent_off": "20"}],
    },
    {
        "type": "percent_off",
        "id": "tea-half",
        "name": "Green tea half price, 1 per sale",
        "target": {"skus": ["TEA-GREEN"]},
        "percent": "50",
        "limit_per_sale": 1,
    },
]


def test_tiers_and_a_limit_priced_and_refunded_through_the_box(tmp_path: Path) -> None:
    doc = json.loads(EXAMPLE_CATALOG.read_text())
    doc["promotions"].extend(PROMOTIONS)
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps(doc))
    config = box_config(tmp_path)
    config.write_text(config.read_text().replace(str(EXAMPLE_CATALOG), str(catalog)))
    daemon = Daemon(tmp_path, config, NO_SYNC)
    try:
        assert daemon.key("sign_on", staff="101", pin="472951")["ok"]
        assert daemon.key("scan", code=COLA, quantity="2")["ok"]
        assert daemon.key("scan", code=JUICE)["ok"]
        assert daemon.key("scan", code=TEA, quantity="3")["ok"]
        paid = daemon.key("tender", type="cash", amount="20")
        assert paid["ok"] and paid["state"] == "idle", paid
        sale = _journal(tmp_path, "sale")[0]
        # cola 2.10 x 2 and juice 2.90 are 3 drinks: 20% off each, 0.84 and 0.58 off;
        # tea 3.30 x 3 half price on one unit only: 1.65 off
        assert [line["total"] for line in sale["lines"]] == ["3.36", "2.32", "8.25"]
        assert sale["totals"]["total"] == "13.93"
        # one cola back: 3.36 / 2 = 1.68, what it cost at the 20% the sale reached
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
    (refund,) = _journal(tmp_path, "refund")
    assert [(line["sku"], line["amount"]) for line in refund["lines"]] == [("COLA-15", "1.68")]
    assert refund["total"] == "1.68"


def _journal(directory: Path, kind: str) -> list[dict[str, object]]:
    db = open_database(directory / "storegate.db", readonly=True)
    try:
        return [r.body for r in Journal(db).read(0, 1000) if r.kind == kind]
    finally:
        db.conn.close()
