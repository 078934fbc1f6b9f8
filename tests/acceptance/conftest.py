"""Fixtures of the acceptance layer: one store per module (broker, head office, box and its
devices) shared by the scenarios, and one Chromium for the cashier page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from acceptance_testkit import Store, open_store
from playwright.sync_api import Browser, sync_playwright
from screens_testkit import CHROMIUM_ARGS


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    yield from open_store(tmp_path_factory.mktemp("store"))


@pytest.fixture
def till(store: Store) -> Store:
    """The store with Anna signed on, no sale open, every scale at zero."""
    store.signed_on()
    store.void_left_open()
    assert store.lane()["state"] == "idle", store.lane()
    store.clear_scales()
    return store


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Per module, as in tests/screens: Playwright's sync API keeps an event loop open."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.hookimpl(tryfirst=True)  # before xdist's worker names the groups from the marks
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """One store per module: under `pytest-xdist --dist loadgroup` keep a module's
    scenarios on one worker (under plain `load` each worker builds its own store)."""
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).parent == here:
            item.add_marker(pytest.mark.xdist_group(Path(str(item.fspath)).stem))
