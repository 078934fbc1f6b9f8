"""The refusal codes are one closed list, and docs/lane.md lists exactly that list."""

from __future__ import annotations

import re
from pathlib import Path

from gateway.refusals import REFUSAL_CODES

ROOT = Path(__file__).resolve().parents[2]


def documented_codes() -> set[str]:
    text = (ROOT / "docs" / "lane.md").read_text()
    section = text.split("## Refusal codes", 1)[1].split("\n## ", 1)[0]
    listed = section.split("By room:", 1)[1]
    return set(re.findall(r"`([a-z_]+)`", listed))


def test_docs_list_every_refusal_code_and_no_other() -> None:
    assert documented_codes() == REFUSAL_CODES


def test_every_code_in_the_list_is_used_by_the_box() -> None:
    """A code nobody answers with is a stale entry: the list stays what the box says."""
    sources = "\n".join(
        p.read_text() for p in (ROOT / "gateway").rglob("*.py") if p.name != "refusals.py"
    )
    unused = {code for code in REFUSAL_CODES if f'"{code}"' not in sources}
    assert not unused
