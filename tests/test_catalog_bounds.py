"""Amounts and counts the totals engine cannot compute are refused at every way in (issue
12, defect 15): `gateway catalog check`, `gateway catalog load` and `cloud publish catalog`
exit 2 naming the product (or promotion) and the field, and nothing is loaded or sent.
Before, a price of 1e9999 passed all three and then every scan of that product failed."""

from __future__ import annotations

import copy
import json
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = json.loads((ROOT / "config" / "catalog.example.json").read_text())
TWENTY_SEVEN_DIGITS = "1" * 27 + ".00"

Change = Callable[[dict[str, Any]], None]


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


def bad_catalog(tmp_path: Path, change: Change) -> Path:
    doc = copy.deepcopy(EXAMPLE)
    change(doc)
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(doc))
    return path


def _promotion(doc: dict[str, Any], promo_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(p for p in doc["promotions"] if p["id"] == promo_id)
    return found


CASES: list[tuple[Change, str]] = [
    (lambda d: d["products"][0].update(price="1e9999"), "products[0] (MILK-1L).price"),
    (lambda d: d["products"][1].update(price=TWENTY_SEVEN_DIGITS), "products[1] (MILK-LF).price"),
    (
        lambda d: d["products"][2].update(member_price="1E+30"),
        "products[2] (BUTTER-250).member_price",
    ),
    (lambda d: d["products"][40].update(price_per="1e-20"), "price_per"),
    (
        lambda d: _promotion(d, "spend-50-100")["tiers"][0].update(threshold=TWENTY_SEVEN_DIGITS),
        "(spend-50-100).tiers[0].threshold",
    ),
    (
        lambda d: _promotion(d, "snacks-15").update(percent="15.000000000000000000001"),
        "(snacks-15).percent",
    ),
    (lambda d: _promotion(d, "yog-3for2").update(quantity=10**20), "(yog-3for2).quantity"),
    (lambda d: d.update(version=2**64), "version"),
]


@pytest.mark.parametrize(("change", "named"), CASES)
def test_catalog_check_refuses_what_the_engine_cannot_compute(
    tmp_path: Path, change: Change, named: str
) -> None:
    result = run("-m", "gateway.cli", "catalog", "check", str(bad_catalog(tmp_path, change)))
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "catalog refused" in result.stderr
    assert named in result.stderr, result.stderr


def test_the_bound_is_said_in_words_and_the_largest_amount_passes(tmp_path: Path) -> None:
    refused = run("-m", "gateway.cli", "catalog", "check", str(bad_catalog(tmp_path, CASES[0][0])))
    assert (
        "products[0] (MILK-1L).price: more than 12 integer digits (amounts stay below 1000000000000"
    ) in refused.stderr
    largest = bad_catalog(tmp_path, lambda d: d["products"][0].update(price="999999999999.99"))
    assert run("-m", "gateway.cli", "catalog", "check", str(largest)).returncode == 0


def test_catalog_load_refuses_it_and_keeps_the_catalog_in_force(tmp_path: Path) -> None:
    db = tmp_path / "box.db"
    example = str(ROOT / "config" / "catalog.example.json")
    good = run("-m", "gateway.cli", "catalog", "load", example, "--db", str(db))
    assert good.returncode == 0, good.stderr
    bad = bad_catalog(
        tmp_path, lambda d: (d.update(version=2), d["products"][0].update(price="1e9999"))
    )
    result = run("-m", "gateway.cli", "catalog", "load", str(bad), "--db", str(db))
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "products[0] (MILK-1L).price" in result.stderr and "Traceback" not in result.stderr
    shown = run("-m", "gateway.cli", "catalog", "show", "--db", str(db))
    assert shown.stdout.startswith("version 1 "), shown.stdout


def test_cloud_publish_refuses_it_before_anything_is_sent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'office.db'}"
    assert run("-m", "cloud.cli", "db", "upgrade", "--db", url).returncode == 0
    keys = run(
        "-m",
        "cloud.cli",
        "keys",
        "generate",
        "--dir",
        str(tmp_path / "keys"),
        "--key-id",
        "ho-test",
    )
    assert keys.returncode == 0, keys.stderr
    with socket.socket() as probe:  # a port nobody listens on: nothing may be sent anyway
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    bad = bad_catalog(tmp_path, CASES[1][0])
    result = run(
        "-m",
        "cloud.cli",
        "publish",
        "catalog",
        str(bad),
        "--store",
        "store-1",
        "--db",
        url,
        "--port",
        str(port),
        "--key",
        str(tmp_path / "keys" / "ho-test.pem"),
    )
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "products[1] (MILK-LF).price" in result.stderr and "Traceback" not in result.stderr
