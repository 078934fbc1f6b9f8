"""Fixtures for the screens: a lane on a real SQLite file, the simulated devices on real
ptys read by the real drivers, the app on a real HTTP server on a free loopback port, and
Debian's Chromium driven by Playwright. Screenshots go to tests/artifacts/screens/."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from gateway.screens.app import create_app
from gateway.screens.demo import SCALE_CAPACITY, DemoDevices, StepClock, demo_lane, running_devices
from gateway.screens.hub import ScreenHub
from gateway.screens.serve import ScreensServer
from gateway.settings import GatewaySettings, load_settings

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts" / "screens"
expect.set_options(timeout=10_000)  # generous for a CI machine busy with other suites
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@dataclass
class Till:
    hub: ScreenHub
    devices: DemoDevices
    url: str
    settings: GatewaySettings


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                              args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def language() -> str:
    return "en"


@pytest.fixture
def till(tmp_path: Path, language: str) -> Iterator[Till]:
    settings = load_settings(ROOT / "config" / "gateway.example.toml")
    settings.screens.language = language  # type: ignore[assignment]
    lane = demo_lane(tmp_path / "storegate.db", settings)
    hub = ScreenHub(lane, settings.screens, clock=StepClock(datetime(2026, 11, 24, 9, 0)),
                    scale_capacity=SCALE_CAPACITY, store_name=settings.store.name)
    server = ScreensServer(create_app(hub), settings.screens, port=0).start()
    try:
        with running_devices(hub) as devices:
            yield Till(hub, devices, server.url, settings)
    finally:
        server.stop()


def open_page(browser: Browser, url: str, *, width: int = 1280, height: int = 800) -> Page:
    page = browser.new_page(viewport={"width": width, "height": height})
    page.set_default_timeout(10_000)
    page.goto(url)
    page.wait_for_selector("body[data-live]", state="attached")  # the event stream is open
    return page


@pytest.fixture
def cashier(browser: Browser, till: Till) -> Iterator[Page]:
    page = open_page(browser, till.url + "/")
    yield page
    page.close()


@pytest.fixture
def customer(browser: Browser, till: Till) -> Iterator[Page]:
    page = open_page(browser, till.url + "/customer", width=1024, height=600)
    yield page
    page.close()


def shot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path
