"""整单折扣 through `gateway run`'s control socket (issue 21 item 1): a cashier's discount
refused without a supervisor, authorised with one, bad values refused with a sentence; the
journalled sale carries who, why and the override, and `gateway receipt` prints it with
整单折扣 for a cashier who works in Chinese."""

from __future__ import annotations

import subprocess
from pathlib import Path

from daemon_testkit import GATEWAY, NO_SYNC, Daemon, box_config

from gateway.database import open_database
from gateway.journal import Journal

MILK = "7612345001012"  # 1.75
RICE = "7612345001166"  # 3.60


def test_a_basket_discount_on_the_control_socket(tmp_path: Path) -> None:
    config = box_config(tmp_path)
    daemon = Daemon(tmp_path, config, NO_SYNC)
    try:
        assert daemon.key("sign_on", staff="101", pin="472951", language="zh")["ok"]
        assert daemon.key("scan", code=MILK, quantity="3")["ok"]
        assert daemon.key("scan", code=RICE)["ok"]
        asked = daemon.key("discount", percent="10", reason="damaged packaging")
        assert asked["refused"] == "needs_override", asked
        both = daemon.key("discount", percent="10", amount="1", reason="x")
        assert both["ok"] is False and "one of the two" in str(both["error"]), both
        negative = daemon.key("discount", amount="-1", reason="x")
        assert negative["ok"] is False and "negative" in str(negative["error"]), negative
        too_much = daemon.key(
            "discount", percent="30", reason="x", supervisor="201", supervisor_pin="836104"
        )
        assert too_much["refused"] == "discount_over_maximum", too_much
        given = daemon.key(
            "discount",
            percent="10",
            reason="damaged packaging",
            supervisor="201",
            supervisor_pin="836104",
        )
        assert given["ok"] and "Basket discount 10%: 0.89 off." in str(given["notices"]), given
        paid = daemon.key("tender", type="cash", amount="10")
        assert paid["ok"] and paid["state"] == "idle", paid
        seq = int(paid["records"][0])  # type: ignore[index]
    finally:
        assert daemon.stop() == 0, daemon.output()
    db = open_database(tmp_path / "storegate.db", readonly=True)
    try:
        (sale,) = [r for r in Journal(db).read(0, 100) if r.kind == "sale"]
    finally:
        db.conn.close()
    discount = sale.body["basket_discount"]
    assert (discount["percent"], discount["discount"], discount["reason"]) == (
        "10",
        "0.89",
        "damaged packaging",
    )
    assert discount["staff"]["id"] == "101" and discount["override"]["supervisor"]["id"] == "201"
    assert sale.body["totals"]["total"] == "7.96"
    printed = subprocess.run(
        [str(GATEWAY), "receipt", str(seq), "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert printed.returncode == 0, printed.stderr
    (row,) = [line for line in printed.stdout.splitlines() if "整单折扣" in line]
    assert "整单折扣 10%" in row and row.endswith("-0.89"), printed.stdout
