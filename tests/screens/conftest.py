"""Fixtures for the screens: a lane on a real SQLite file, the simulated devices on real
ptys read by the real drivers, the app on a real HTTP server on a free loopback port, and
Debian's Chromium driven by Playwright. Screenshots go to tests/artifacts/screens/."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from screens_testkit import CHROMIUM_ARGS, ROOT, Till, open_page

from gateway.harness.screens_demo import SCALE_CAPACITIES, StepClock, demo_lane, running_devices
from gateway.screens.access import TOKEN_FILE, kiosk_token
from gateway.screens.app import create_app
from gateway.screens.hub import ScreenHub
from gateway.screens.requests import LocalLane
from gateway.screens.serve import ScreensServer
from gateway.settings import GatewaySettings, load_settings


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Per module, not per session: while Playwright's sync API is open it keeps an event
    loop running on the main thread, and later folders' tests call asyncio.run()."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def language() -> str:
    return "en"


@pytest.fixture
def tune() -> Callable[[GatewaySettings], None]:
    """Changes a test module makes to the example settings of its till (none here)."""
    return lambda settings: None


@pytest.fixture
def till(tmp_path: Path, language: str, tune: Callable[[GatewaySettings], None]) -> Iterator[Till]:
    settings = load_settings(ROOT / "config" / "gateway.example.toml")
    settings.screens.language = language  # type: ignore[assignment]
    tune(settings)
    lane = demo_lane(tmp_path / "storegate.db", settings)
    hub = ScreenHub(
        LocalLane(lane),
        settings.screens,
        clock=StepClock(datetime(2026, 11, 24, 9, 0)),
        scale_capacity=SCALE_CAPACITIES,
        store_name=settings.store.name,
        lane_name=settings.store.box,
    )
    token = kiosk_token(tmp_path / TOKEN_FILE)
    server = ScreensServer(create_app(hub, kiosk_token=token), settings.screens, port=0).start()
    try:
        with running_devices(hub) as devices:
            yield Till(hub, devices, server.url, settings, lane, token)
    finally:
        server.stop()


@pytest.fixture
def cashier(browser: Browser, till: Till) -> Iterator[Page]:
    page = open_page(browser, till.kiosk("/"))
    yield page
    page.close()


@pytest.fixture
def customer(browser: Browser, till: Till) -> Iterator[Page]:
    page = open_page(browser, till.kiosk("/customer"), width=1024, height=600)
    yield page
    page.close()
