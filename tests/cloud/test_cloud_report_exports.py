"""Reports as a shop's office uses them (issue 18, item 6): RFM per store's member with
fair tie scores and as of today by default, files a spreadsheet opens as they are (CSV with
a UTF-8 BOM, xlsx), and charts that draw Chinese names instead of empty boxes."""

from __future__ import annotations

import csv
import io
import json
import warnings
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from cloud_testkit import cloud_cli, journal_of_days, store_journal_directly

from cloud import render
from cloud.reports import Table, _quintiles
from gateway.harness.fleetsim import StoreDay

DAY = date(2026, 11, 2)


@pytest.fixture
def two_stores(tmp_path: Path, db_url: str) -> str:
    """A day of trading in two stores whose member ids overlap (ids are per store)."""
    for store in ("store-1", "store-2"):
        journal = journal_of_days(tmp_path / f"{store}.db", [StoreDay(store, "box-1", DAY, 400)])
        store_journal_directly(db_url, store, "box-1", journal)
    return db_url


def rfm_rows(db_url: str, *args: str) -> list[dict[str, object]]:
    status, out, err = cloud_cli("report", "rfm", "--db", db_url, "--json", *args)
    assert status == 0, err
    return list(json.loads(out)["rows"])


def test_ties_share_the_score_of_their_mid_point() -> None:
    def scores(values: dict[str, int]) -> dict[str, int]:
        keyed = {("s", m): Decimal(v) for m, v in values.items()}
        return {m: s for (_, m), s in _quintiles(keyed).items()}

    assert scores({"a": 1, "b": 1, "c": 1, "d": 1}) == {"a": 3, "b": 3, "c": 3, "d": 3}
    assert scores({"a": 1, "b": 2, "c": 3, "d": 4, "e": 5}) == {
        "a": 1,
        "b": 2,
        "c": 3,
        "d": 4,
        "e": 5,
    }
    # ranks 0-1, 2-3, 4 of five: mid-points 1, 3 and 4.5 -> quintiles 2, 4 and 5
    assert scores({"a": 1, "b": 1, "c": 5, "d": 5, "e": 9}) == {
        "a": 2,
        "b": 2,
        "c": 4,
        "d": 4,
        "e": 5,
    }
    assert scores({"z": 7}) == {"z": 3}  # one member is neither best nor worst


def test_rfm_keeps_each_stores_members_apart(two_stores: str) -> None:
    rows = rfm_rows(two_stores, "--as-of", "2026-11-30")
    keys = [(r["store"], r["member"]) for r in rows]
    assert len(keys) == len(set(keys))
    shared = {m for s, m in keys if s == "store-1"} & {m for s, m in keys if s == "store-2"}
    assert shared, "the simulated stores share member ids"
    for member in shared:
        mine = [r for r in rows if r["member"] == member]
        assert {r["store"] for r in mine} == {"store-1", "store-2"}
    assert all(r["recency days"] == 28 for r in rows)
    # Every member bought on the same day: a tie, scored in the middle, not at the bottom.
    assert {r["R"] for r in rows} == {3}


def test_rfm_is_as_of_the_periods_end_when_it_is_past(two_stores: str) -> None:
    rows = rfm_rows(two_stores, "--to", "2026-11-10")
    assert {r["recency days"] for r in rows} == {8}
    status, _, err = cloud_cli("report", "rfm", "--db", two_stores, "--as-of", "30.11.2026")
    assert status == 2 and "--as-of" in err and "Traceback" not in err, err


def test_a_report_written_for_a_spreadsheet(two_stores: str, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    status, out, err = cloud_cli("report", "sales", "--by", "store", "--db", two_stores, "--json")
    assert status == 0, err
    expected = json.loads(out)["rows"]
    paths = {ext: tmp_path / f"sales.{ext}" for ext in ("csv", "xlsx")}
    for path in paths.values():
        args = ("report", "sales", "--by", "store", "--db", two_stores, "--out", str(path))
        status, _, err = cloud_cli(*args)
        assert status == 0, err
    raw = paths["csv"].read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert [r["sales"] for r in rows] == [r["sales"] for r in expected]
    sheet = load_workbook(paths["xlsx"]).active
    assert sheet is not None
    values = list(sheet.iter_rows(values_only=True))
    columns = list(values[1])
    at = columns.index("sales")
    table = [row for row in values[2:] if row[0] in {r[columns[0]] for r in expected}]
    assert [Decimal(str(row[at])) for row in table] == [Decimal(r["sales"]) for r in expected]
    status, _, err = cloud_cli(
        "report", "sales", "--db", two_stores, "--out", str(tmp_path / "sales.ods")
    )
    assert status == 2 and ".csv or .xlsx" in err and "Traceback" not in err, err


def test_a_chart_draws_chinese_names(tmp_path: Path) -> None:
    table = Table("销售 by item", ["item", "sales"])
    table.rows += [["牛奶", Decimal("12.50")], ["面包", Decimal("3.20")], ["苹果 kg", Decimal("8")]]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Glyph 29275 missing from font(s) DejaVu Sans"
        path = render.chart(table, tmp_path / "items.png")
    assert path.stat().st_size > 1000
    assert render.use_cjk_font() in render.CJK_FONTS


def test_a_chart_has_a_bar_per_row_named_by_its_text_cells(tmp_path: Path) -> None:
    table = Table("Busy hours", ["weekday", "hour", "tickets", "sales"])
    table.rows += [["fri", "08:00", 7, Decimal("115.55")], ["fri", "09:00", 5, Decimal("102.15")]]
    labels = [render.row_label(table, row) for row in table.rows]
    assert labels == ["fri / 08:00", "fri / 09:00"]  # not one "fri" bar hiding the other
    assert render.chart(table, tmp_path / "busy.png").stat().st_size > 1000
