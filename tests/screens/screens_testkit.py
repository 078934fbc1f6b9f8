"""Helpers for the screens tests: the till under test, browser pages, screenshots, and the
cashier's sign-on by keyboard. (A module of its own name: test modules import it.)"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from gateway.harness.screens_demo import CASHIER, DemoDevices
from gateway.lane.machine import Lane
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


def open_page(browser: Browser, url: str, *, width: int = 1280, height: int = 800) -> Page:
    page = browser.new_page(viewport={"width": width, "height": height})
    page.set_default_timeout(10_000)
    page.goto(url)
    page.wait_for_selector("body[data-live]", state="attached")  # the event stream is open
    return page


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
