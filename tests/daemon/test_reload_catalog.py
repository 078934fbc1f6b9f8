"""SIGHUP with a catalog file that is newer but invalid: refused with an alert and a log
line naming the catalog's own error; the catalog in force keeps pricing (issue 12, #18)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from daemon_testkit import EXAMPLE_CATALOG, NO_SYNC, Daemon, box_config


def wait_for_output(daemon: Daemon, text: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while text not in daemon.output():
        assert time.monotonic() < deadline, daemon.output()[-3000:]
        time.sleep(0.05)


def test_sighup_with_a_newer_invalid_catalog_alerts_and_keeps_the_old_one(tmp_path: Path) -> None:
    catalog_file = tmp_path / "catalog.json"
    catalog = json.loads(EXAMPLE_CATALOG.read_text())
    catalog_file.write_text(json.dumps(catalog))
    config = box_config(tmp_path)
    config.write_text(
        config.read_text().replace(f'catalog = "{EXAMPLE_CATALOG}"', f'catalog = "{catalog_file}"')
    )
    daemon = Daemon(tmp_path, config, NO_SYNC)
    try:
        assert daemon.key("sign_on", staff="101", pin="472951")["ok"]
        catalog["version"] = 2
        for product in catalog["products"]:
            if product["sku"] == "MILK-1L":
                product["price"] = "one franc"
        catalog_file.write_text(json.dumps(catalog))
        daemon.process.send_signal(1)  # SIGHUP
        wait_for_output(daemon, "settings reloaded")
        alerts = daemon.status()["alerts"]
        catalog_alerts = [a for a in alerts if a["source"] == "catalog"]  # type: ignore[index]
        assert len(catalog_alerts) == 1, alerts
        message = str(catalog_alerts[0]["message"])  # type: ignore[index]
        assert "version 2 refused" in message and "(version 1) stays" in message, message
        assert "price" in message and "one franc" in message, message
        assert "catalog" in daemon.output() and "one franc" in daemon.output()
        sale = daemon.key("scan", code="7612345001012")
        assert sale["ok"] and sale["lane"]["total"] == "1.75", sale  # type: ignore[index]

    finally:
        assert daemon.stop() == 0, daemon.output()
