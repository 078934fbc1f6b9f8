"""Serial coupons through `gateway run` (issue 21 item 1; docs/pricing.md, "Serial
coupons"): a printed code entered on the control socket prices the sale; a forged one is
refused; the redeemed one is refused on the next sale and by the box started again."""

from __future__ import annotations

import json
from pathlib import Path

from daemon_testkit import EXAMPLE_CATALOG, NO_SYNC, Daemon, box_config

from gateway.catalog.serials import serial_code
from gateway.database import open_database
from gateway.journal import Journal

DETERGENT = "7612345001357"  # 11.90; three pass the threshold of 30
SECRET = "xmas-secret-2026-abcdef"
XMAS = {
    "type": "basket_threshold",
    "id": "xmas-5",
    "name": "Christmas coupon: 5.00 off 30",
    "serials": {"prefix": "XMAS", "secret": SECRET},
    "tiers": [{"threshold": "30", "amount": "5.00"}],
    "stackable": True,
}
CODE = serial_code("XMAS", SECRET, 123)


def test_a_serial_through_the_box_is_redeemed_once(tmp_path: Path) -> None:
    doc = json.loads(EXAMPLE_CATALOG.read_text())
    doc["promotions"].append(XMAS)
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps(doc))
    config = box_config(tmp_path)
    config.write_text(config.read_text().replace(str(EXAMPLE_CATALOG), str(catalog)))
    daemon = Daemon(tmp_path, config, NO_SYNC)
    try:
        assert daemon.key("sign_on", staff="101", pin="472951")["ok"]
        assert daemon.key("scan", code=DETERGENT, quantity="3")["ok"]
        forged = daemon.key("coupon", code="XMAS-000123-0000")
        assert not forged.get("ok") and "bad_serial" in json.dumps(forged), forged
        assert daemon.key("coupon", code=CODE)["ok"]
        paid = daemon.key("tender", type="cash", amount="40")
        assert paid["ok"] and paid["state"] == "idle", paid
        assert daemon.key("scan", code=DETERGENT, quantity="3")["ok"]
        used = daemon.key("coupon", code=CODE)
        assert not used.get("ok") and "coupon_used" in json.dumps(used), used
        assert daemon.key("tender", type="cash", amount="40")["ok"]
    finally:
        assert daemon.stop() == 0, daemon.output()
    (sale, _) = _journal(tmp_path, "sale")
    assert sale["coupons"] == [CODE] and "xmas-5" in sale["promotions"]
    assert sale["totals"]["total"] == "30.70"

    again = Daemon(tmp_path, config, NO_SYNC)  # started again on its files: Anna still on
    try:
        assert again.key("scan", code=DETERGENT)["ok"]
        after = again.key("coupon", code=CODE)
        assert not after.get("ok") and "coupon_used" in json.dumps(after), after
    finally:
        assert again.stop() == 0, again.output()


def _journal(directory: Path, kind: str) -> list[dict[str, object]]:
    db = open_database(directory / "storegate.db", readonly=True)
    try:
        return [r.body for r in Journal(db).read(0, 1000) if r.kind == kind]
    finally:
        db.conn.close()
