"""A quantity on a weighed or price-labelled scan, through `gateway run` and its control
socket: refused with `quantity_on_weighed`, never rung up as one pack (issue 12, defect 8)."""

from __future__ import annotations

import json
from pathlib import Path

from daemon_testkit import EXAMPLE_CATALOG, NO_SYNC, Daemon, box_config

HAM_LABEL = "2202001009831"  # the example layouts: cooked ham, printed price 9.83
APPLES_LABEL = "2301001012343"  # the example layouts: apples, printed weight 1.234 kg


def without_hourly_promotions(directory: Path) -> Path:
    """The example catalog less its promotions of some hours (the deli's 30 % after 18:00):
    the daemon prices by its own clock, and the figures here must not depend on the hour."""
    catalog = json.loads(Path(EXAMPLE_CATALOG).read_text(encoding="utf-8"))
    catalog["promotions"] = [
        p for p in catalog["promotions"] if "hours" not in p.get("schedule", {})
    ]
    path = directory / "catalog.json"
    path.write_text(json.dumps(catalog, ensure_ascii=False), encoding="utf-8")
    return path


def test_a_quantity_on_a_label_is_refused_and_one_label_is_rung_up(tmp_path: Path) -> None:
    config = box_config(tmp_path)
    catalog = without_hourly_promotions(tmp_path)
    config.write_text(config.read_text().replace(str(EXAMPLE_CATALOG), str(catalog)))
    daemon = Daemon(tmp_path, config, NO_SYNC)
    try:
        assert daemon.key("sign_on", staff="101", pin="472951")["ok"]
        for label in (HAM_LABEL, APPLES_LABEL):
            refused = daemon.key("scan", code=label, quantity="2")
            assert refused["refused"] == "quantity_on_weighed", refused
            assert "one label at a time" in str(refused["error"]), refused
        assert daemon.status()["lane"]["state"] == "idle"  # type: ignore[index]
        one = daemon.key("scan", code=HAM_LABEL, quantity="1")
        assert one["ok"] and one["lane"]["total"] == "9.83", one  # type: ignore[index]
        paid = daemon.key("tender", type="cash", amount="10")
        assert paid["ok"] and paid["state"] == "idle", paid
    finally:
        assert daemon.stop() == 0, daemon.output()
