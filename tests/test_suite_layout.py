"""The suite's own rule: test modules and their helper modules have unique basenames.

Test folders are not packages, so pytest imports each module by its basename; two
`test_reliability.py` in different folders collide and the whole run stops at collection
(seen only on a fresh clone, where no stale bytecode hides it).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def test_module_basenames_are_unique() -> None:
    names = Counter(p.name for p in TESTS.rglob("*.py") if p.name != "conftest.py")
    assert [name for name, count in names.items() if count > 1] == []
