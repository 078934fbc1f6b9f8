"""The technician page (issue 15, item 4) as `gateway run` serves it, in Chromium, with
simulated devices on real ptys and a network printer simulator on TCP: a technician signs
in with PIN and TOTP, sees the devices, reads the scale, prints a test page the printer
receives, opens the drawer (journalled first), sees a scan in the live events with its
symbology, and runs doctor and the settings check; a cashier, a wrong code, a replayed
code and a test without the session's CSRF token are refused."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import Browser, Page, expect
from screens_testkit import shot

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "daemon"))
from daemon_testkit import EXAMPLE_CONFIG, NO_SYNC, Daemon, box_config

from devices.simulators.printer import NetworkPrinterSimulator
from devices.simulators.scale import ScaleSimulator
from devices.simulators.scanner import SerialScannerSimulator
from gateway.database import open_database
from gateway.journal import Journal

TECH = ("401", "639207")  # staff number and PIN of the technician
CASHIER = ("101", "472951")  # daemon_testkit.add_staff
EAN = "4006381333931"


def wait_until(condition: Callable[[], object], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def add_technician(database: Path) -> str:
    """A technician with a PIN and an enrolled authenticator; returns the TOTP secret."""
    from gateway.lane.staff import StaffDirectory
    from gateway.settings import load_settings

    db = open_database(database)
    staff = StaffDirectory(db, load_settings(EXAMPLE_CONFIG).lane)
    staff.add(TECH[0], "Tess", "technician", pin=TECH[1])
    secret = pyotp.parse_uri(staff.enroll_totp(TECH[0])).secret
    db.conn.close()
    return str(secret)


class Bench:
    """The box under test and its simulated devices."""

    def __init__(self, tmp_path: Path) -> None:
        self.scale = ScaleSimulator("mtsics", weight="0.456", unit="kg", pace=False).start()
        self.scanner = SerialScannerSimulator().start()
        self.printer = NetworkPrinterSimulator().start()
        config = box_config(
            tmp_path,
            f'\n[[devices.scales]]\nname = "deli-scale"\nprotocol = "mtsics"\n'
            f'serial = {{ port = "{self.scale.path}" }}\npoll_interval_s = 0.1\n'
            f'\n[[devices.scanners]]\nname = "front-scanner"\nkind = "serial"\n'
            f'serial = {{ port = "{self.scanner.path}" }}\n'
            f'\n[[devices.printers]]\nname = "receipt"\nuri = "{self.printer.uri}"\n',
        )
        self.secret = add_technician(tmp_path / "storegate.db")
        self.data = tmp_path
        self.daemon = Daemon(tmp_path, config, NO_SYNC)
        self.url = str(self.daemon.status()["screens"]) + "/tech"

    def stop(self) -> None:
        code = self.daemon.stop()
        output = self.daemon.output()
        self.scanner.stop()
        self.scale.stop()
        self.printer.stop()
        assert code == 0, output
        for bad in ("Traceback", "ProgrammingError", "a request from the screens failed"):
            assert bad not in output, output

    def wrong_code(self) -> str:
        totp = pyotp.TOTP(self.secret)
        now = time.time()
        good = {totp.at(now + drift * 30) for drift in (-2, -1, 0, 1, 2)}
        return next(c for c in ("000000", "111111", "222222") if c not in good)


@pytest.fixture
def bench(tmp_path: Path) -> Iterator[Bench]:
    box = Bench(tmp_path)
    try:
        yield box
    finally:
        box.stop()


def sign_in(page: Page, url: str, who: tuple[str, str], code: str) -> None:
    page.goto(url)
    page.fill("input[name=staff_id]", who[0])
    page.fill("input[name=pin]", who[1])
    page.fill("input[name=totp]", code)
    page.click("button[type=submit]")


def box_actions(data: Path) -> list[dict[str, object]]:
    db = open_database(data / "storegate.db", readonly=True)
    try:
        return [dict(r.body) for r in Journal(db).read(0, 1000) if r.kind == "box_action"]
    finally:
        db.conn.close()


def test_a_technician_tests_the_devices_from_the_page(browser: Browser, bench: Bench) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    code = pyotp.TOTP(bench.secret).now()
    sign_in(page, bench.url, TECH, code)
    expect(page.locator("#who")).to_contain_text("Tess (401, technician)")
    expect(page.locator("#devices tr[data-device=deli-scale]")).to_contain_text("scale")
    expect(page.locator("#devices tr[data-device=front-scanner]")).to_contain_text("scanner")
    expect(page.locator("#devices tr[data-device=deli-scale] .state")).to_have_text("connected")

    page.click("#test-scale")
    expect(page.locator("#result .reading[data-device=deli-scale]")).to_contain_text("0.456 kg")
    expect(page.locator("#result")).to_contain_text("priceable: yes")

    page.click("#test-print")
    expect(page.locator("#result")).to_contain_text("receipt: test page printed")
    wait_until(lambda: b"test page asked by Tess (401)" in bench.printer.printed)
    assert b"storegate" in bench.printer.printed

    page.click("#test-drawer")
    expect(page.locator("#result")).to_contain_text("receipt: drawer opened")
    wait_until(lambda: b"\x1bp" in bench.printer.printed)
    (opened,) = [b for b in box_actions(bench.data) if b["action"] == "open_drawer"]
    assert opened["actor"] == {"id": "401", "name": "Tess", "role": "technician"}
    assert opened["via"] == "technician page"

    bench.scanner.scan("]E0" + EAN)
    scan = page.locator("#events tr[data-kind=scan]").first
    expect(scan).to_contain_text(EAN)
    expect(scan.locator(".symbology")).to_have_text("EAN-13/UPC")
    expect(page.locator("#events tr[data-kind=weight]").first).to_contain_text("0.456 kg")

    page.fill("#scan-code", EAN)
    page.click("#test-scan")
    expect(page.locator("#result")).to_contain_text("symbology")
    expect(page.locator("#result")).to_contain_text("nothing was sold")

    page.click("#test-devices")  # udev knows no pty: the scale's port is reported missing
    expect(page.locator("#result")).to_contain_text("scale deli-scale")
    expect(page.locator("#result")).to_contain_text("printer receipt: network printer")
    expect(page.locator("#result")).to_contain_text("Not configured")

    page.click("#test-doctor")
    expect(page.locator("#result tr.finding").first).to_be_visible(timeout=30_000)
    page.click("#test-settings")
    expect(page.locator("#result")).to_contain_text("settings OK")
    expect(page.locator("#log")).to_contain_text("technician page: Tess (401) signed in")
    shot(page, "technician-page")

    # A test without the session's CSRF token (the session cookie alone) is refused.
    refused = page.request.post(
        bench.url + "/test/print", headers={"HX-Request": "true"}, form={"csrf": "forged"}
    )
    assert refused.status == 403
    printed = len(bench.printer.printed)
    no_htmx = page.request.post(
        bench.url + "/test/drawer", form={"csrf": page.input_value("input[name=csrf]")}
    )
    assert no_htmx.status == 403
    assert len(bench.printer.printed) == printed
    assert len([b for b in box_actions(bench.data) if b["action"] == "open_drawer"]) == 1

    # Signing out ends the session: its cookie answers nothing any more.
    page.click("text=Sign out")
    expect(page.locator("#login-error")).to_have_count(0)
    expect(page.locator("input[name=totp]")).to_be_visible()
    assert page.request.get(bench.url + "/part/events").status == 401

    # The code that signed in is not good a second time.
    other = browser.new_context().new_page()
    sign_in(other, bench.url, TECH, code)
    expect(other.locator("#login-error")).to_contain_text("not accepted")
    expect(other.locator("#who")).to_have_count(0)
    context.close()
    other.context.close()


def test_cashiers_wrong_codes_and_outsiders_are_refused(browser: Browser, bench: Bench) -> None:
    page = browser.new_context().new_page()
    sign_in(page, bench.url, CASHIER, pyotp.TOTP(bench.secret).now())
    expect(page.locator("#login-error")).to_contain_text("may not service_devices")
    sign_in(page, bench.url, TECH, bench.wrong_code())
    expect(page.locator("#login-error")).to_contain_text("not accepted")
    expect(page.locator("#who")).to_have_count(0)
    # Nothing is answered before sign-in, and the kiosk's cookie does not open the page.
    assert page.request.get(bench.url + "/part/events").status == 401
    test = page.request.post(bench.url + "/test/scale", headers={"HX-Request": "true"})
    assert test.status == 401
    token = (bench.data / "screens.token").read_text().strip()
    kiosk = page.request.get(bench.url, headers={"Cookie": f"storegate_kiosk={token}"})
    assert "Technician sign-in" in kiosk.text()
    # A login form posted without its CSRF token is refused before the PIN is checked.
    forged = page.request.post(
        bench.url + "/login", form={"staff_id": TECH[0], "pin": TECH[1], "totp": "123456"}
    )
    assert forged.status == 403
    # The page carries the screens' security headers.
    headers = page.request.get(bench.url).headers
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert page.request.get(bench.url, headers={"Host": "evil.example"}).status == 421
    page.context.close()


def test_the_page_over_https(tmp_path: Path) -> None:
    """With a certificate the page is HTTPS only: HSTS, and the session cookie is Secure."""
    import ssl

    import httpx
    from test_screens_https import self_signed

    cert, key = self_signed(tmp_path)
    config = box_config(tmp_path)
    secret = add_technician(tmp_path / "storegate.db")
    env = {**NO_SYNC, "STOREGATE_SCREENS__TLS_CERT": str(cert),
           "STOREGATE_SCREENS__TLS_KEY": str(key)}  # fmt: skip
    daemon = Daemon(tmp_path, config, env)
    try:
        url = str(daemon.status()["screens"])
        assert url.startswith("https://127.0.0.1:")
        trust = ssl.create_default_context(cafile=str(cert))
        with httpx.Client(base_url=url, verify=trust) as client:
            form = client.get("/tech")
            assert form.status_code == 200 and "Technician sign-in" in form.text
            assert form.headers["strict-transport-security"]
            assert "secure" in form.headers["set-cookie"].lower()
            csrf = form.text.split('name="csrf" value="')[1].split('"')[0]
            signed = client.post(
                "/tech/login",
                data={"csrf": csrf, "staff_id": TECH[0], "pin": TECH[1],
                      "totp": pyotp.TOTP(secret).now()},
            )  # fmt: skip
            assert signed.status_code == 303, signed.text
            cookie = signed.headers["set-cookie"].lower()
            assert "storegate_tech=" in cookie and "secure" in cookie and "httponly" in cookie
            assert "path=/tech" in cookie and "samesite=strict" in cookie
            page = client.get("/tech")
            assert "Tess (401, technician)" in page.text
    finally:
        code = daemon.stop()
        assert code == 0, daemon.output()


def test_an_open_page_left_alone_ends_at_the_idle_timeout(browser: Browser, tmp_path: Path) -> None:
    """The page polls its parts every few seconds; that is not activity, so a page left
    open signs its technician out after `session_idle_minutes` (here 3 s)."""
    config = box_config(tmp_path)
    secret = add_technician(tmp_path / "storegate.db")
    env = {**NO_SYNC, "STOREGATE_SCREENS__SESSION_IDLE_MINUTES": "0.05"}
    daemon = Daemon(tmp_path, config, env)
    try:
        url = str(daemon.status()["screens"]) + "/tech"
        page = browser.new_context().new_page()
        sign_in(page, url, TECH, pyotp.TOTP(secret).now())
        expect(page.locator("#who")).to_contain_text("Tess")
        answered = page.wait_for_event(
            "response", lambda r: "/tech/part/" in r.url and r.status == 200, timeout=15_000
        )
        assert answered.ok  # it polls, and is answered, while the session lasts
        ended = page.wait_for_event(
            "response", lambda r: "/tech/part/" in r.url and r.status == 401, timeout=30_000
        )
        assert ended.status == 401
        page.reload()
        expect(page.locator("input[name=totp]")).to_be_visible()
        page.context.close()
    finally:
        code = daemon.stop()
        assert code == 0, daemon.output()
