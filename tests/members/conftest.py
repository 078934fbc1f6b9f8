"""Fixtures for the members tests: a box on a real SQLite file with a document applied."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from members_testkit import Box, document, open_box


@pytest.fixture
def empty_box(tmp_path: Path) -> Iterator[Box]:
    box = open_box(tmp_path / "storegate.db")
    yield box
    box.db.conn.close()


@pytest.fixture
def box(empty_box: Box) -> Box:
    empty_box.apply(document())
    return empty_box
