"""Fixtures for lane tests (helpers live in lane_testkit)."""

from __future__ import annotations

from pathlib import Path

import pytest
from lane_testkit import CATALOG, SETTINGS, Clock, make_lane

from gateway.catalog.catalog import Catalog, load_catalog_file
from gateway.lane.machine import Lane
from gateway.settings import GatewaySettings, load_settings


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog_file(CATALOG)


@pytest.fixture(scope="session")
def settings() -> GatewaySettings:
    return load_settings(SETTINGS)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "storegate.db"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def lane(db_path: Path, catalog: Catalog, settings: GatewaySettings) -> Lane:
    return make_lane(db_path, catalog, settings)
