"""`cloud coupon serials` (docs/cloud.md, "Serial coupons"): the codes head office prints
are the ones the lane accepts, from the catalog's secret; bad input exits 2 saying what,
where and how to fix it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from cloud.cli import main
from gateway.catalog.document import read_document
from gateway.catalog.serials import read_serial

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from test_catalog_serials import XMAS, catalog_with


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(catalog_with(XMAS)), encoding="utf-8")
    return path


def test_the_codes_to_print_as_csv_with_a_bom(
    catalog: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "xmas.csv"
    argv = ["coupon", "serials", "xmas-5", "--catalog", str(catalog), "--from", "122"]
    assert main([*argv, "--count", "3", "--out", str(out)]) == 0
    assert "3 codes written to" in capsys.readouterr().out
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    lines = raw.decode("utf-8-sig").splitlines()
    assert lines[0] == "serial,code"
    assert lines[2] == "123,XMAS-000123-E11C"  # worked out by hand (tests/test_catalog_serials)
    promotions = read_document(catalog).promotions
    assert all(read_serial(line.split(",")[1], promotions) for line in lines[1:])

    assert main([*argv, "--count", "2"]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == [
        "122," + lines[1].split(",")[1],
        "123,XMAS-000123-E11C",
    ]


@pytest.mark.parametrize(
    ("args", "what", "fix"),
    [
        (["nope"], "no promotion nope in the catalog", "here: xmas-5"),
        (["coupon-welcome5"], "takes no serial coupons", "add serials"),
        (["xmas-5", "--from", "0"], "out of range", "serials run from 1 to 999999"),
        (["xmas-5", "--from", "999999", "--count", "2"], "out of range", "--count at least 1"),
        (["xmas-5", "--out", "codes.txt"], "cannot write codes.txt", "end the file name in .csv"),
    ],
)
def test_bad_input_exits_2_with_what_where_fix(
    catalog: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    what: str,
    fix: str,
) -> None:
    assert main(["coupon", "serials", *args[:1], "--catalog", str(catalog), *args[1:]]) == 2
    err = capsys.readouterr().err
    assert what in err and fix in err, err
    assert "Traceback" not in err


def test_a_catalog_that_is_not_there(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "none.json"
    assert main(["coupon", "serials", "xmas-5", "--catalog", str(missing)]) == 2
    err = capsys.readouterr().err
    assert "cannot read the file" in err and "Traceback" not in err
