"""`gateway quote --member` on a catalog with a 限购 per member: a subprocess, as a
technician checks a weekly member offer before it goes live; a member limit on a
promotion that is not member-only refused with its reason (docs/pricing.md step 2)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "config" / "catalog.example.json"
SETTINGS = str(ROOT / "config" / "gateway.example.toml")
COLA = "7612345001296"  # COLA-15, 2.10
WEEKLY_COLA: dict[str, Any] = {
    "type": "percent_off",
    "id": "cola-week",
    "name": "Members: cola -50%, 2 a week",
    "target": {"skus": ["COLA-15"]},
    "percent": "50",
    "member_only": True,
    "limit_per_member": 2,
    "schedule": {"valid_from": "2026-11-23T00:00", "valid_until": "2026-11-30T00:00"},
}


def catalog_with(tmp_path: Path, promotion: dict[str, Any]) -> str:
    document = json.loads(EXAMPLE.read_text())
    document["promotions"].append(promotion)
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(document))
    return str(path)


def gateway(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )


def test_a_member_quote_takes_the_limit_and_no_member_takes_nothing(tmp_path: Path) -> None:
    catalog = catalog_with(tmp_path, WEEKLY_COLA)
    base = ("quote", "--catalog", catalog, "--config", SETTINGS, "--at", "2026-11-25T10:00")
    result = gateway(*base, "--member", "M0001", "--json", f"{COLA}*3")
    assert result.returncode == 0, result.stderr
    (line,) = json.loads(result.stdout)["lines"]
    (adjustment,) = line["adjustments"]
    # 2 of 3 at half price: 6.30 - 2 x 1.05 = 4.20; a quote knows no earlier sales
    assert adjustment["units"] == 2 and adjustment["amount"] == "-2.10"
    assert adjustment["detail"] == (
        "50% off (limit 2 per member, 0 taken before: 2 of 3 units; 1 at the normal price)"
    )
    assert line["total"] == "4.20"
    text = gateway(*base, "--member", "M0001", f"{COLA}*3")
    assert text.returncode == 0 and "Members: cola -50%, 2 a week" in text.stdout, text.stdout
    nobody = gateway(*base, "--json", f"{COLA}*3")
    assert json.loads(nobody.stdout)["lines"][0]["adjustments"] == []
    # the week after: the promotion is over
    after = gateway(*base[:-1], "2026-11-30T10:00", "--member", "M0001", "--json", f"{COLA}*3")
    assert json.loads(after.stdout)["lines"][0]["adjustments"] == []


def test_a_member_limit_without_member_only_is_refused(tmp_path: Path) -> None:
    catalog = catalog_with(tmp_path, {**WEEKLY_COLA, "member_only": False})
    result = gateway("catalog", "check", catalog)
    assert result.returncode == 2, result.stdout
    said = result.stdout + result.stderr
    assert "(cola-week): limit_per_member counts a member's units, so the promotion" in said
    assert 'add "member_only": true, or use limit_per_sale' in said
    assert "Traceback" not in said
    quoted = gateway("quote", "--catalog", catalog, "--config", SETTINGS, COLA)
    assert quoted.returncode == 2 and "limit_per_member" in quoted.stderr + quoted.stdout
