"""A quantity on a weighed or price-labelled scan, through `gateway run` and its control
socket: refused with `quantity_on_weighed`, never rung up as one pack (issue 12, defect 8)."""

from __future__ import annotations

from pathlib import Path

from daemon_testkit import NO_SYNC, Daemon, box_config

HAM_LABEL = "2202001009831"  # the example layouts: cooked ham, printed price 9.83
APPLES_LABEL = "2301001012343"  # the example layouts: apples, printed weight 1.234 kg


def test_a_quantity_on_a_label_is_refused_and_one_label_is_rung_up(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path, box_config(tmp_path), NO_SYNC)
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
