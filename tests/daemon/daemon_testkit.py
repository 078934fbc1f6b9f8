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
