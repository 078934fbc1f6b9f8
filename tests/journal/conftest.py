"""Fixtures for the journal tests: a real SQLite file in tmp_path, injected clock and ids."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlite_utils
from journal_testkit import SteppingClock, counting_ids

from gateway.database import open_database
from gateway.journal import Journal


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "storegate.db"


@pytest.fixture
def db(db_path: Path) -> Iterator[sqlite_utils.Database]:
    database = open_database(db_path)
    yield database
    database.conn.close()


@pytest.fixture
def clock() -> SteppingClock:
    return SteppingClock()


@pytest.fixture
def journal(db: sqlite_utils.Database, clock: SteppingClock) -> Journal:
    return Journal(db, clock=clock, new_id=counting_ids())
