"""加价购 and 满赠 through `gateway run`'s control socket: a catalog with a gift and an
add-on, the gift and the add-on rung up like any item and priced down once the spend is
reached, the sale journalled with them on their lines, a partial refund of the detergent
that made the gift's threshold paying back what it was paid (the gift stays free), and
`gateway receipt` printing the gift's line for a cashier who works in Chinese."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from daemon_testkit import EXAMPLE_CATALOG, GATEWAY, NO_SYNC, Daemon, box_config

from gateway.database import open_database
from gateway.journal import Journal, JournalRecord

DETERGENT = "7612345001357"  # 11.90, household
TOOTHPASTE = "7612345001340"  # 3.20, household: the gift
TEA = "7612345001227"  # 3.30: the add-on
SUPERVISOR = {"supervisor": "201", "supervisor_pin": "836104"}
OFFERS = [
    {
        "type": "gift",
        "id": "gift-toothpaste",
        "name": "Toothpaste free from 30.00",
        "names": {"zh": "满30赠牙膏"},
        "target": {"categories": ["household"]},
        "threshold": "30.00",
        "item": "TOOTHP",
    },
    {
        "type": "add_on",
        "id": "tea-for-1",
        "name": "Tea for 1.00",
        "threshold": "20.00",
        "item": "TEA-GREEN",
        "price": "1.00",
    },
]


def offers_config(directory: Path) -> Path:
    """The example settings with the example catalog plus the two offers."""
    document = json.loads(EXAMPLE_CATALOG.read_text())
    document["promotions"].extend(OFFERS)
    catalog = directory / "catalog.json"
    catalog.write_text(json.dumps(document))
    config = box_config(directory)
    config.write_text(config.read_text().replace(str(EXAMPLE_CATALOG), str(catalog)))
    return config


def journalled(directory: Path, kind: str) -> list[JournalRecord]:
    db = open_database(directory / "storegate.db", readonly=True)
    try:
        return [r for r in Journal(db).read(0, 100) if r.kind == kind]
    finally:
        db.conn.close()


def test_gift_and_add_on_sold_and_partly_refunded_through_the_daemon(tmp_path: Path) -> None:
    """Detergent 3 x 11.90 = 35.70 >= 30.00 (household, the toothpaste left out): the
    toothpaste is free; all but the tea, 35.70 + 3.20 = 38.90 >= 20.00: one tea at 1.00
    (3.30 - 1.00 = 2.30 off). Total 35.70 + 0.00 + 1.00 = 36.70; one detergent back
    is 35.70 / 3 = 11.90."""
    config = offers_config(tmp_path)
    daemon = Daemon(tmp_path, config, NO_SYNC)
    try:
        assert daemon.key("sign_on", staff="101", pin="472951", language="zh")["ok"]
        assert daemon.key("scan", code=DETERGENT, quantity="3")["ok"]
        assert daemon.key("scan", code=TOOTHPASTE)["ok"]
        assert daemon.key("scan", code=TEA)["ok"]
        paid = daemon.key("tender", type="cash", amount="40")
        assert paid["ok"] and paid["state"] == "idle", paid
        seq = int(paid["records"][0])  # type: ignore[index]
        (sale,) = journalled(tmp_path, "sale")
        refunded = daemon.key(
            "refund",
            receipt=sale.body["receipt_id"],
            reason="one too many",
            lines="1:1",
            **SUPERVISOR,
        )
        assert refunded["ok"], refunded
    finally:
        assert daemon.stop() == 0, daemon.output()
    body = sale.body
    assert body["totals"]["total"] == "36.70"
    toothpaste, tea = body["lines"][1], body["lines"][2]
    assert [(a["label"], a["amount"]) for a in toothpaste["adjustments"]] == [
        ("gift: Toothpaste free from 30.00", "-3.20")
    ]
    assert [(a["label"], a["amount"]) for a in tea["adjustments"]] == [
        ("add-on: Tea for 1.00", "-2.30")
    ]
    (refund,) = journalled(tmp_path, "refund")
    assert refund.body["total"] == "11.90"
    printed = subprocess.run(
        [str(GATEWAY), "receipt", str(seq), "--config", str(config), "--language", "zh"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert printed.returncode == 0, printed.stderr
    (row,) = [line for line in printed.stdout.splitlines() if "赠品" in line]
    assert "赠品: 满30赠牙膏" in row and row.endswith("-3.20"), printed.stdout
