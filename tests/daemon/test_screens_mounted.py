"""`gateway run` serves the cashier and customer screens, and what the till does shows on
them: a scan keyed through the control socket appears on the cashier page, a key pressed on
the page reaches the lane through the daemon's main loop (and so its journal)."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from pathlib import Path

from daemon_testkit import NO_SYNC, Daemon, box_config


def fetch(url: str, data: dict[str, str] | None = None) -> str:
    body = None if data is None else urllib.parse.urlencode(data).encode()
    request = urllib.request.Request(url, data=body, headers={"HX-Request": "true"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return str(answer.read().decode())


def test_screens_follow_the_daemons_lane(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path, box_config(tmp_path), NO_SYNC)
    try:
        url = daemon.status()["screens"]
        assert isinstance(url, str) and url.startswith("http://127.0.0.1:"), url
        assert "<html" in fetch(f"{url}/customer").lower()
        assert daemon.key("sign_on", staff="101", pin="472951", float="100.00")["ok"]
        assert daemon.key("scan", code="4006381333931")["ok"]
        page = fetch(f"{url}/")
        assert "Highlighter yellow" in page and "Anna" in page
        fetch(f"{url}/action/enter", {"entry": "7612345001012"})  # keyed on the page
        lane = daemon.status()["lane"]
        assert lane["lines"] == 2, json.dumps(lane)  # type: ignore[index]
        head = daemon.status()["journal"]["head_seq"]  # type: ignore[index]
        fetch(f"{url}/action/cash", {"entry": "20.00"})
        status = daemon.status()
        assert status["lane"]["state"] == "idle"  # type: ignore[index]
        assert status["journal"]["head_seq"] == head + 1  # type: ignore[index]
        assert "Change" in fetch(f"{url}/") or "change" in fetch(f"{url}/")
        # The refund-lines dialog reads the receipt through the daemon's main loop.
        from gateway.database import open_database
        from gateway.journal import Journal

        sale = Journal(open_database(tmp_path / "storegate.db", readonly=True)).get(head + 1)
        assert sale is not None and sale.kind == "sale"
        fetch(f"{url}/action/refund_lines", {"entry": str(sale.body["receipt_id"])})
        page = fetch(f"{url}/")
        assert "Highlighter yellow" in page and "Whole milk 1 l" in page, page
        fetch(f"{url}/action/escape", {})
        fetch(f"{url}/action/refund_lines", {"entry": "NO-SUCH-RECEIPT"})
        assert "No sale with receipt NO-SUCH-RECEIPT on this till." in fetch(f"{url}/")
    finally:
        assert daemon.stop() == 0
    assert "the cashier screens could not start" not in daemon.output()
    assert "a request from the screens failed" not in daemon.output()
