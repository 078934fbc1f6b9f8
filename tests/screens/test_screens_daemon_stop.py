"""Stopping `gateway run` while the cashier and the customer page are open: a kiosk is
always connected, so every shutdown and restart happens with live event streams. The stop
must be clean (exit 0, no traceback in the log a technician reads), the pages must say the
box is gone, and the same pages must come back by themselves when the daemon is back."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from playwright.sync_api import Browser, Page, expect
from screens_testkit import MILK, daemon_kiosk, open_page

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "daemon"))
from daemon_testkit import NO_SYNC, Daemon, box_config

CASHIER_STAFF = {"staff": "101", "pin": "472951"}
STOP_BOUND_S = 10  # half of TimeoutStopSec in systemd/storegate.service; takes under 1 s
BADGE = "() => getComputedStyle(document.body, '::before').content"  # shown when not live


def stop_cleanly(daemon: Daemon) -> None:
    """SIGTERM; asserts exit 0, well within systemd's stop timeout, and a log without a
    traceback (the stream uvicorn had to cancel used to log "Exception in ASGI
    application" with one)."""
    started = time.monotonic()
    code = daemon.stop()
    took = time.monotonic() - started
    output = daemon.output()
    assert code == 0, output
    assert took < STOP_BOUND_S, f"SIGTERM to exit took {took:.1f} s"
    for bad in ("Traceback", "Exception in ASGI application", "ERROR"):
        assert bad not in output, output


def test_a_stop_with_both_pages_open_is_clean_and_they_reconnect_after_a_restart(
    tmp_path: Path, browser: Browser
) -> None:
    config = box_config(tmp_path)
    daemon: Daemon | None = Daemon(tmp_path, config, NO_SYNC)
    pages: list[Page] = []
    try:
        assert daemon is not None
        url = str(daemon.status()["screens"])
        assert daemon.key("sign_on", **CASHIER_STAFF)["ok"]
        cashier = open_page(browser, daemon_kiosk(url, tmp_path))
        customer_url = daemon_kiosk(url, tmp_path, "/customer")
        customer = open_page(browser, customer_url, width=1024, height=600)
        pages += [cashier, customer]
        expect(cashier.locator("[data-state]")).to_have_attribute("data-state", "idle")

        stopping, daemon = daemon, None
        stop_cleanly(stopping)
        for page in pages:  # each page says the box stopped answering
            page.wait_for_selector("body:not([data-live])", state="attached")
            assert "Till not answering" in page.evaluate(BADGE)

        daemon = Daemon(tmp_path, config, NO_SYNC)
        for page in pages:  # the same pages, not reloaded, follow the new daemon
            page.wait_for_selector("body[data-live]", state="attached", timeout=20_000)
        expect(cashier.locator("[data-state]")).to_have_attribute("data-state", "idle")
        assert [page.evaluate(BADGE) for page in pages] == ["none", "none"]
        assert daemon.key("scan", code=MILK)["ok"]
        expect(cashier.locator("#basket tr[data-line]")).to_have_count(1)
        expect(customer.locator("#current-line .name")).to_contain_text("milk")
        stopping, daemon = daemon, None
        stop_cleanly(stopping)
    finally:
        for page in pages:
            page.close()
        if daemon is not None:
            daemon.stop()
