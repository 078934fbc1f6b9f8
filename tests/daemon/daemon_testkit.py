"""Shared helpers for the daemon room's tests: the venv's commands, the example files."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
GATEWAY = VENV_BIN / "gateway"
CLOUD = VENV_BIN / "cloud"
EXAMPLE_CONFIG = ROOT / "config" / "gateway.example.toml"
EXAMPLE_CATALOG = ROOT / "config" / "catalog.example.json"


def write_config(directory: Path, extra: str = "") -> Path:
    """The example settings with data in `directory` (and `extra` TOML appended)."""
    text = EXAMPLE_CONFIG.read_text().replace(
        'data_dir = "/var/lib/storegate"', f'data_dir = "{directory}"')
    config = directory / "gateway.toml"
    config.write_text(text + extra)
    return config


def append_records(database: Path, count: int, kind: str = "sale") -> None:
    """Real journal appends through the journal room's API."""
    from gateway.database import open_database
    from gateway.journal import Journal

    journal = Journal(open_database(database))
    for _ in range(count):
        journal.append(kind, {"total": "1.00"})
