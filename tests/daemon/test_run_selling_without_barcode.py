"""Items without a barcode and the age check through `gateway run`'s control socket
(issue 14, items 3 and 4): a picked item merged with a scan, an open price refused above
its ceiling and authorised by a supervisor, a tender refused until the age is confirmed;
the sale record names who keyed and who confirmed. Bad values are refused with a sentence."""

from __future__ import annotations

from pathlib import Path

from daemon_testkit import NO_SYNC, Daemon, box_config

from gateway.database import open_database
from gateway.journal import Journal

WINE = "7612345001326"
MILK = "7612345001012"
ENV = {**NO_SYNC, "STOREGATE_LANE__AGE_CHECK": "true", "STOREGATE_LANE__MERGE_REPEATS": "true"}


def test_open_price_pick_merge_and_age_check_on_the_control_socket(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path, box_config(tmp_path), ENV)
    try:
        assert daemon.key("sign_on", staff="101", pin="472951")["ok"]
        assert daemon.key("scan", code=MILK)["ok"]
        picked = daemon.key("pick", sku="MILK-1L", quantity="2")
        assert picked["ok"], picked
        over = daemon.key("open_price", department="DEPT-FLOWERS", price="95")
        assert over["refused"] == "needs_override" and "80.00" in str(over["error"]), over
        authorised = daemon.key(
            "open_price",
            department="DEPT-FLOWERS",
            price="95",
            supervisor="201",
            supervisor_pin="836104",
            reason="wedding bouquet",
        )
        assert authorised["ok"], authorised
        bad = daemon.key("open_price", department="DEPT-FLOWERS")
        assert bad["ok"] is False and "needs the price" in str(bad["error"]), bad
        asked = daemon.key("scan", code=WINE)
        assert asked["ok"] and "Age check" in str(asked["notices"]), asked
        refused = daemon.key("tender", type="cash")
        assert refused["refused"] == "needs_age_check", refused
        assert daemon.key("confirm_age")["ok"]
        paid = daemon.key("tender", type="cash", amount="200")
        assert paid["ok"] and paid["state"] == "idle", paid
    finally:
        assert daemon.stop() == 0, daemon.output()
    db = open_database(tmp_path / "storegate.db", readonly=True)
    try:
        (sale,) = [r for r in Journal(db).read(0, 100) if r.kind == "sale"]
    finally:
        db.conn.close()
    lines = sale.body["lines"]
    assert [(line["sku"], line["quantity"]) for line in lines] == [
        ("MILK-1L", "3"),
        ("DEPT-FLOWERS", "1"),
        ("WINE-RED", "1"),
    ]
    assert lines[1]["open_price"]["staff"]["id"] == "101"
    assert sale.body["overrides"][0]["action"] == "open_price_over_ceiling"
    assert sale.body["age_check"]["staff"]["id"] == "101"
