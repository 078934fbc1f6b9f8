"""Helpers for the screens tests: the till under test, browser pages, screenshots, and the
cashier's sign-on by keyboard. (A module of its own name: test modules import it.)"""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
from playwright.sync_api import Browser, Page, expect

from gateway.harness.screens_demo import CASHIER, DemoDevices
from gateway.lane.machine import Lane
from gateway.screens.access import KIOSK_COOKIE, TOKEN_FILE, kiosk_link
from gateway.screens.hub import ScreenHub
from gateway.settings import GatewaySettings

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts" / "screens"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
MILK = "7612345001012"  # Whole milk 1 l, 1.75; member price 1.60
WINE = "7612345001326"  # Red wine Merlot 75 cl, 12.50

expect.set_options(timeout=10_000)  # generous for a CI machine busy with other suites


@dataclass
class Till:
    hub: ScreenHub
    devices: DemoDevices
    url: str
    settings: GatewaySettings
    lane: Lane  # the hub reaches it only through its owner, LocalLane; tests read it here
    kiosk_token: str  # the kiosk's credential: pages and requests carry it (see `kiosk`)

    def kiosk(self, page: str = "/") -> str:
        """The kiosk link to `page`: what the box's own browser is started with."""
        return kiosk_link(self.url, self.kiosk_token, page)

    @property
    def cookies(self) -> dict[str, str]:
        """The kiosk's cookie, for an HTTP client standing in for the kiosk browser."""
        return {KIOSK_COOKIE: self.kiosk_token}


def daemon_kiosk(url: str, data_dir: Path, page: str = "/") -> str:
    """The kiosk link of a `gateway run` whose data is in `data_dir` (its 0600 token file)."""
    return kiosk_link(url, (data_dir / TOKEN_FILE).read_text().strip(), page)


def open_page(browser: Browser, url: str, *, width: int = 1280, height: int = 800) -> Page:
    page = browser.new_page(viewport={"width": width, "height": height})
    page.set_default_timeout(10_000)
    page.goto(url)
    wait_live(page)
    return page


def wait_live(page: Page) -> None:
    """Until the page's event stream is open: a page that has just (re)loaded takes no keys
    before that (live.js), as a cashier sees by its "not answering" look."""
    page.wait_for_selector("body[data-live]", state="attached")


def shot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def pole(label: str, value: str) -> str:
    """A pole display line: the label, then the value flush right in 20 columns."""
    return label + value.rjust(20 - len(label))


def sign_on(page: Page, who: tuple[str, str] = CASHIER) -> None:
    """F12 opens the sign-on dialog; number, Tab, PIN, Enter: no mouse."""
    page.keyboard.press("F12")
    dialog = page.locator('[data-prompt="sign_on"]')
    expect(dialog).to_be_visible()
    page.keyboard.type(who[0])
    page.keyboard.press("Tab")
    page.keyboard.type(who[1])
    page.keyboard.press("Enter")
    expect(page.locator("[data-state]")).to_have_attribute("data-state", "idle")


def asgi(
    app: object,
    client_host: str,
    method: str,
    path: str,
    cookies: dict[str, str] | None = None,
    **kw: object,
) -> httpx.Response:
    """One request to the app as if from `client_host` (a tablet on the shop's LAN)."""

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=(client_host, 40000))  # type: ignore[arg-type]
        async with httpx.AsyncClient(
            transport=transport, base_url="http://127.0.0.1", cookies=cookies
        ) as client:
            return await client.request(method, path, **kw)  # type: ignore[arg-type]

    with ThreadPoolExecutor(1) as pool:  # Playwright's loop runs on this thread
        return pool.submit(asyncio.run, go()).result()


def csrf_of(page: httpx.Response) -> dict[str, str]:
    """The login form's CSRF token, as the form field and as its cookie."""
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token is not None, page.text
    return {"csrf": token.group(1)}
