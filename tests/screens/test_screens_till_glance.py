"""The till at a glance in `gateway run` (issue 14, item 2), in Chromium, with the TCP
receipt printer simulator: the status bar (store, lane, cashier, date and clock, sync),
the printer in the device panel, a receipt that did not print as a banner with its
one-key reprint (Ctrl+P) through the daemon's printer thread, the same key printing
the last receipt again as a copy (COPY / 重印 in the printer's bytes), the page saying
within 2 s that a hung daemon does not answer and taking no input meanwhile; and
`gateway receipt NUMBER --print` with and without the running daemon."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from screens_testkit import MILK, WINE, daemon_kiosk, open_page, shot

from devices.simulators.printer import NetworkPrinterSimulator
from gateway.daemon.requests import BadRequest, parse_request
from gateway.harness.brokers import Mosquitto
from gateway.settings import load_settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "daemon"))
from daemon_testkit import GATEWAY, NO_SYNC, Daemon, box_config, write_config
from ops_testkit import FAST_SYNC, head_office_online, synced_box_config, wait_until

CASHIER_STAFF = {"staff": "101", "pin": "472951"}
COPY = b"*** COPY / "  # the copy mark, "*** COPY / 重印 ***" (gateway.i18n r_copy)
CHONGYIN = "重印".encode("gb18030")  # a CJK printer's Chinese mode (devices.printer.encode_text)
GONE_BOUND_S = 2.0  # issue 14: "within 2 seconds"


def printer_config(tmp_path: Path, printer: NetworkPrinterSimulator) -> Path:
    # cjk: the copy mark's 重印 prints in GB18030 (a printer without it prints "?")
    return box_config(
        tmp_path,
        f'\n[[devices.printers]]\nname = "receipt"\nuri = "{printer.uri}"\ncjk = true\n',
    )


def sell(daemon: Daemon, code: str = MILK) -> None:
    assert daemon.key("scan", code=code)["ok"]
    assert daemon.key("tender", type="cash", amount="50")["ok"]


def test_status_bar_unprinted_banner_and_one_key_reprints(tmp_path: Path, browser: Browser) -> None:
    printer = NetworkPrinterSimulator().start()
    config = printer_config(tmp_path, printer)
    settings = load_settings(config)
    daemon = Daemon(tmp_path, config, NO_SYNC)
    try:
        url = str(daemon.status()["screens"])
        assert daemon.key("sign_on", **CASHIER_STAFF)["ok"]
        page = open_page(browser, daemon_kiosk(url, tmp_path), width=1280, height=1024)
        expect(page.locator("#st-store")).to_have_text(settings.store.name)
        expect(page.locator("#st-lane")).to_have_text(f"Lane {settings.store.box}")
        expect(page.locator("#st-cashier")).to_contain_text("Anna")
        expect(page.locator("#st-date")).to_have_text(re.compile(r"^\d{4}-\d\d-\d\d$"))
        expect(page.locator("#st-time")).to_have_text(re.compile(r"^\d\d:\d\d$"))
        expect(page.locator("#st-sync")).to_have_text("No sync")

        sell(daemon)  # printed: the printer is in the device panel, ready
        wait_until(lambda: b"box-1-000001" in printer.printed, 20, "the first receipt")
        panel = page.locator('#devices [data-device="receipt"]')
        expect(panel).to_contain_text("ready")

        printer.flags.add("paper_out")
        sell(daemon, WINE)
        banner = page.locator("#unprinted")
        expect(banner).to_contain_text("Receipt box-1-000002 did not print")
        expect(banner).to_contain_text("Ctrl+P")
        expect(panel).to_have_class("bad")
        shot(page, "cashier-unprinted")
        assert b"box-1-000002" not in printer.printed

        printer.flags.clear()
        page.keyboard.press("Control+p")  # one key: the receipt that did not print
        wait_until(lambda: b"box-1-000002" in printer.printed, 20, "the reprint")
        expect(banner).to_have_count(0)
        expect(panel).to_contain_text("ready")
        reprinted = bytes(printer.printed)
        assert COPY not in reprinted  # the customer never had it: the receipt itself

        page.keyboard.press("Control+p")  # no banner: the last receipt, as a copy
        wait_until(lambda: COPY in printer.printed, 20, "the copy")
        copy = bytes(printer.printed)[len(reprinted) :]
        assert CHONGYIN in copy and b"box-1-000002" in copy, copy
        expect(page.locator(".message.notice")).to_have_text("Printing again: box-1-000002")
        page.close()
    finally:
        assert daemon.stop() == 0, daemon.output()[-3000:]
        printer.stop()


def test_a_hung_daemon_is_said_within_2_s_and_the_page_takes_no_input(
    tmp_path: Path, browser: Browser
) -> None:
    config = box_config(tmp_path)
    daemon = Daemon(tmp_path, config, NO_SYNC)
    try:
        url = str(daemon.status()["screens"])
        assert daemon.key("sign_on", **CASHIER_STAFF)["ok"]
        page = open_page(browser, daemon_kiosk(url, tmp_path))
        expect(page.locator("[data-state]")).to_have_attribute("data-state", "idle")
        stopped = time.monotonic()
        daemon.process.send_signal(signal.SIGSTOP)  # hangs: its streams stay open, silent
        try:
            page.wait_for_selector("body:not([data-live])", state="attached", timeout=5000)
            took = time.monotonic() - stopped
            assert took < GONE_BOUND_S, f"the page said so after {took:.2f} s"
            expect(page.locator("#entry")).to_be_disabled()
            page.keyboard.type(MILK)
            page.keyboard.press("Enter")
            page.keyboard.press("F12")
        finally:
            daemon.process.send_signal(signal.SIGCONT)
        page.wait_for_selector("body[data-live]", state="attached", timeout=10_000)
        expect(page.locator("#entry")).to_be_enabled()
        expect(page.locator("[data-prompt]")).to_have_count(0)  # F12 was not sent
        lane = daemon.status()["lane"]
        assert lane["state"] == "idle", lane  # type: ignore[index]
        page.close()
    finally:
        assert daemon.stop() == 0, daemon.output()[-3000:]


def test_the_sync_light_follows_the_link_and_counts_what_waits(
    tmp_path: Path, browser: Browser
) -> None:
    broker = Mosquitto(tmp_path / "broker").start()
    daemon: Daemon | None = None
    try:
        head_office_online(broker.port)
        daemon = Daemon(tmp_path, synced_box_config(tmp_path, broker), FAST_SYNC)
        url = str(daemon.status()["screens"])
        page = open_page(browser, daemon_kiosk(url, tmp_path))
        light = page.locator("#st-sync")
        expect(light).to_have_attribute("data-online", "true", timeout=20_000)
        expect(light).to_have_text(re.compile(r"^Online"))
        broker.kill()  # the link is gone: offline, and what the till keeps meanwhile
        expect(light).to_have_attribute("data-online", "false", timeout=20_000)
        assert daemon.key("sign_on", **CASHIER_STAFF)["ok"]
        sell(daemon)
        expect(light).to_have_text(re.compile(r"^Offline · [1-9]\d* to send$"))
        expect(light).to_have_class("sync offline")
        backlog = daemon.status()["journal"]["backlog"]  # type: ignore[index]
        expect(light).to_have_attribute("data-backlog", str(backlog))
        page.close()
    finally:
        if daemon is not None:
            assert daemon.stop() == 0, daemon.output()[-3000:]
        broker.kill()


def receipt_command(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(GATEWAY), "receipt", *args, "--config", str(config)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_gateway_receipt_takes_the_slip_number_and_prints_a_copy(tmp_path: Path) -> None:
    printer = NetworkPrinterSimulator().start()
    config = printer_config(tmp_path, printer)
    daemon: Daemon | None = Daemon(tmp_path, config, NO_SYNC)
    try:
        assert daemon is not None
        assert daemon.key("sign_on", **CASHIER_STAFF)["ok"]
        sell(daemon)
        wait_until(lambda: b"box-1-000001" in printer.printed, 20, "the receipt")
        before = len(printer.printed)
        # the running daemon prints it: its printer thread is the one talking to printers
        done = receipt_command(config, "box-1-000001", "--print")
        assert done.returncode == 0, done.stderr
        assert "*** COPY / 重印 ***" in done.stdout
        wait_until(lambda: COPY in printer.printed[before:], 20, "the daemon's copy")
        copy = bytes(printer.printed[before:])
        assert CHONGYIN in copy and b"box-1-000001" in copy
        assert "box-1-000001" in daemon.output()  # through the daemon, not beside it
        stopping, daemon = daemon, None
        assert stopping.stop() == 0

        before = len(printer.printed)  # no daemon: straight to the printer
        seq = receipt_command(config, "1", "--print")
        assert seq.returncode == 0, seq.stderr
        wait_until(lambda: COPY in printer.printed[before:], 20, "the direct copy")
        assert CHONGYIN in bytes(printer.printed[before:])

        unknown = receipt_command(config, "box-1-999999", "--print")
        assert unknown.returncode == 2, unknown
        assert "no receipt 'box-1-999999'" in unknown.stderr and "Traceback" not in unknown.stderr
        (tmp_path / "bare").mkdir()
        bare = write_config(tmp_path / "bare")  # no printer configured: said, exit 2
        db = str(tmp_path / "storegate.db")
        none = receipt_command(bare, "1", "--print", "--db", db)
        assert none.returncode == 2 and "no receipt printer is configured" in none.stderr, none
        with pytest.raises(BadRequest, match="seq must be the journal record number"):
            parse_request({"command": "reprint", "seq": "box-1-000001"})
    finally:
        if daemon is not None:
            daemon.stop()
        printer.stop()
