"""`gateway quote` with deposits (Pfand / 押金): a bottle's deposit prints on a row of its own
under it, an empties return is a negative line, and `--json` carries both."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "pricing"))

from test_engine_deposits import document  # noqa: E402


def quote(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps(document()))
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", "quote", "--catalog", str(catalog), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )


def test_a_bottle_and_empties(tmp_path: Path) -> None:
    # cola 1.50 x 2 + deposit 0.25 x 2 = 3.50; one empty back -0.25: 3.25
    done = quote(tmp_path, "PLU501*2", "PLU9025")
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert "  Deposit 2 x 0.25" in text and "0.50" in text
    assert "  empties returned" in text
    assert next(ln for ln in text.splitlines() if ln.startswith("TOTAL")).endswith("3.25")


def test_json_carries_the_deposit(tmp_path: Path) -> None:
    done = quote(tmp_path, "--json", "PLU501*2", "PLU9025*3")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    cola, empties = data["lines"]
    assert (cola["deposit"], cola["deposit_sku"], cola["total"]) == ("0.50", "PFAND-025", "3.50")
    assert (empties["total"], data["deposits"], data["empties"]) == ("-0.75", "0.50", "-0.75")
    assert data["total"] == "2.75"
