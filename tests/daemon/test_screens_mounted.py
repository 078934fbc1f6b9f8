"""`gateway run` serves the cashier and customer screens, and what the till does shows on
them: a scan keyed through the control socket appears on the cashier page, a key pressed on
the page reaches the lane through the daemon's main loop (and so its journal)."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from pathlib import Path

from daemon_testkit import NO_SYNC, Daemon, box_config

from gateway.screens.access import KIOSK_COOKIE, TOKEN_FILE


def fetch(kiosk: str, url: str, data: dict[str, str] | None = None) -> str:
    """`url` as the kiosk browser opens it: with the kiosk cookie made from its token."""
    body = None if data is None else urllib.parse.urlencode(data).encode()
    headers = {"HX-Request": "true", "Cookie": f"{KIOSK_COOKIE}={kiosk}"}
    request = urllib.request.Request(url, data=body, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as answer:
        return str(answer.read().decode())


def test_screens_follow_the_daemons_lane(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path, box_config(tmp_path), NO_SYNC)
    try:
        url = daemon.status()["screens"]
        kiosk = (tmp_path / TOKEN_FILE).read_text().strip()  # made 0600 by the daemon
        assert isinstance(url, str) and url.startswith("http://127.0.0.1:"), url
        assert "<html" in fetch(kiosk, f"{url}/customer").lower()
        assert daemon.key("sign_on", staff="101", pin="472951", float="100.00")["ok"]
        assert daemon.key("scan", code="4006381333931")["ok"]
        page = fetch(kiosk, f"{url}/")
        assert "Highlighter yellow" in page and "Anna" in page
        fetch(kiosk, f"{url}/action/enter", {"entry": "7612345001012"})  # keyed on the page
        lane = daemon.status()["lane"]
        assert lane["lines"] == 2, json.dumps(lane)  # type: ignore[index]
        head = daemon.status()["journal"]["head_seq"]  # type: ignore[index]
        fetch(kiosk, f"{url}/action/cash", {"entry": "20.00"})
        status = daemon.status()
        assert status["lane"]["state"] == "idle"  # type: ignore[index]
        assert status["journal"]["head_seq"] == head + 1  # type: ignore[index]
        assert "Change" in fetch(kiosk, f"{url}/") or "change" in fetch(kiosk, f"{url}/")
        # The refund-lines dialog reads the receipt through the daemon's main loop.
        from gateway.database import open_database
        from gateway.journal import Journal

        sale = Journal(open_database(tmp_path / "storegate.db", readonly=True)).get(head + 1)
        assert sale is not None and sale.kind == "sale"
        fetch(kiosk, f"{url}/action/refund_lines", {"entry": str(sale.body["receipt_id"])})
        page = fetch(kiosk, f"{url}/")
        assert "Highlighter yellow" in page and "Whole milk 1 l" in page, page
        fetch(kiosk, f"{url}/action/escape", {})
        fetch(kiosk, f"{url}/action/refund_lines", {"entry": "NO-SUCH-RECEIPT"})
        assert "No sale with receipt NO-SUCH-RECEIPT on this till." in fetch(kiosk, f"{url}/")
    finally:
        assert daemon.stop() == 0
    assert "the cashier screens could not start" not in daemon.output()
    assert "a request from the screens failed" not in daemon.output()
