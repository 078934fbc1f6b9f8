"""`gateway quote` on reduced-to-clear stickers, as a technician runs it: a subprocess on
the shipped example files (settings' layouts `29IIIIIPPPPPC` and `27IIIIIIIIRRC`; the
croissant is PLU 501 at 1.40, the brown bread 3.20)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CATALOG = str(ROOT / "config" / "catalog.example.json")
SETTINGS = str(ROOT / "config" / "gateway.example.toml")
COMMAND = [sys.executable, "-m", "gateway.cli", "quote", "--catalog", CATALOG, "--config", SETTINGS]


def quote(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COMMAND, "--at", "2026-11-27T10:00", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )


def test_a_reduced_sticker_is_quoted_at_its_price_with_what_it_was_reduced_from() -> None:
    result = quote("7612345001128", "2900501000708", "2700000501504")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    at = lines.index(next(line for line in lines if line.startswith("Butter croissant")))
    assert lines[at].split() == ["Butter", "croissant", "1.40"]
    assert lines[at + 1].split() == ["reduced", "from", "1.40", "-0.70"]
    assert next(line for line in lines if line.startswith("TOTAL")).split() == [
        "TOTAL",
        "CHF",
        "4.60",
    ]


def test_json_carries_the_reduced_adjustment() -> None:
    result = quote("--json", "2700000501504")
    assert result.returncode == 0, result.stderr
    (line,) = json.loads(result.stdout)["lines"]
    assert (line["list_amount"], line["amount"]) == ("1.40", "0.70")
    assert line["adjustments"] == [
        {
            "kind": "reduced",
            "amount": "-0.70",
            "label": "reduced from 1.40",
            "promotion": None,
            "detail": "50% off",
        }
    ]


def test_a_sticker_above_the_price_or_for_an_unknown_item_is_listed_and_exits_1() -> None:
    result = quote("--json", "2900501001507", "2999999000703")
    assert result.returncode == 1
    problems = json.loads(result.stdout)["problems"]
    assert [p["kind"] for p in problems] == ["reduced_sticker", "unknown"]
    assert "above Butter croissant's price of 1.40" in problems[0]["message"]
