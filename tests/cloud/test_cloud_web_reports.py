"""Reports in head office's pages (issue 18, item 6): the figures, CSV and xlsx are the
CLI's own (`cloud report ... --json / --out`), with a totals row and quantities by unit; a
store manager asking for another store's report by any URL gets 404. Played in Chromium
and over HTTP against `cloud web` on a real server (conftest's `office` and `browser`)."""

from __future__ import annotations

import argparse
import io
import json
import re
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urljoin

import pytest
from cloud_testkit import (
    ARTIFACTS,
    TODAY,
    WEEK_BEFORE,
    add_web_user,
    alert_id,
    cloud_cli,
    report_json,
    sign_in_page,
    signed_in,
    store_days,
)
from playwright.sync_api import Browser, Page, expect

from cloud import render
from cloud.cli import COMMAND_MODULES
from cloud.db import Database
from cloud.web import report_page
from cloud.web.accounts import Account
from gateway.cli import build_parser
from gateway.harness.fleetsim import ITEMS, StoreDay


def test_the_page_report_is_the_cli_report_with_totals_and_files(
    office: str, db_url: str, tmp_path: Path, browser: Browser
) -> None:
    period = ["--from", str(WEEK_BEFORE), "--to", str(TODAY)]
    expected = report_json(db_url, "sales", "--by", "store", *period)
    rows = expected["rows"]
    assert isinstance(rows, list)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        sign_in_page(page, office, "ada")
        page.get_by_role("link", name="Reports").click()
        page.get_by_label("Report", exact=True).select_option("sales")
        page.get_by_label("From", exact=True).fill(str(WEEK_BEFORE))
        page.get_by_label("To", exact=True).fill(str(TODAY))
        page.get_by_label("Group by").select_option("store")
        page.get_by_role("button", name="Show").click()
        body = page.locator("#report tbody tr")
        expect(body).to_have_count(len(rows))
        for n, row in enumerate(rows):
            expect(body.nth(n).locator("td").nth(5)).to_have_text(row["net"])
        total = sum(int(r["tickets"]) for r in rows)
        expect(page.locator("#report tfoot td").nth(1)).to_have_text(str(total))
        expect(page.locator("#quantities tbody tr").first).to_be_visible()
        with page.expect_download() as got:
            page.get_by_role("link", name="CSV").click()
        csv_path = tmp_path / "page.csv"
        got.value.save_as(csv_path)
        status, _, err = cloud_cli(
            "report",
            "sales",
            "--by",
            "store",
            *period,
            "--db",
            db_url,
            "--out",
            str(tmp_path / "cli.csv"),
        )
        assert status == 0, err
        assert csv_path.read_bytes().startswith(b"\xef\xbb\xbf")
        assert csv_path.read_bytes() == (tmp_path / "cli.csv").read_bytes()
        chart = page.locator("img.chart")
        expect(chart).to_be_visible()
        assert page.evaluate("document.querySelector('img.chart').naturalWidth") > 100
    finally:
        page.close()
    client, _ = signed_in(office, "ada")
    xlsx = client.get("/reports/report.xlsx", params={"report": "items", "from": str(TODAY)})
    assert xlsx.status_code == 200 and xlsx.content.startswith(b"PK")


def test_a_store_manager_reads_only_their_store_s_reports(office: str, db_url: str) -> None:
    client, _ = signed_in(office, "sam")
    mine = client.get("/reports", params={"report": "sales", "by": "day"})
    assert mine.status_code == 200 and "store-1" in mine.text and "store-2" not in mine.text
    for kind in ("sales", "items", "basket", "refunds", "cash", "rfm", "payments"):
        for url in (
            "/reports",
            "/reports/report.csv",
            "/reports/report.xlsx",
            "/reports/chart.png",
        ):
            answer = client.get(url, params={"report": kind, "store": "store-2"})
            assert answer.status_code == 404, (kind, url)
    assert client.get("/reports", params={"report": "nonsense"}).status_code == 400
    assert client.get("/reports", params={"report": "sales", "by": "week"}).status_code == 400


def test_the_page_offers_every_cli_report_with_the_cli_s_groupings() -> None:
    cli = build_parser("cloud", "storegate head office.", COMMAND_MODULES)

    def choices(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        found: dict[str, argparse.ArgumentParser] = sub.choices
        return found

    offered: dict[str, tuple[str, ...]] = {}
    for kind, parser in choices(choices(cli)["report"]).items():
        by = next((a for a in parser._actions if "--by" in a.option_strings), None)
        offered[kind] = tuple(by.choices or ()) if by else ()
        assert by is None or by.default == offered[kind][0], kind  # the default comes first
    # ... and every `cloud stock report`, as stock-REPORT
    stock = choices(choices(cli)["stock"])["report"]
    which = next(a for a in stock._actions if a.dest == "report")
    by = next(a for a in stock._actions if "--by" in a.option_strings)
    for kind in which.choices or ():
        offered[report_page.STOCK + kind] = tuple(by.choices or ()) if kind == "shrink" else ()
    assert offered == report_page.KINDS


def _table_cells(page: Page) -> list[list[str]]:
    rows = page.locator("#report tbody tr")
    return [rows.nth(n).locator("td").all_inner_texts() for n in range(rows.count())]


def _cli_cells(table: dict[str, Any]) -> list[list[str]]:
    return [[str(v) for v in row.values()] for row in table["rows"]]


def _xlsx_cells(data: bytes) -> list[list[object]]:
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(data)).active
    assert sheet is not None
    return [[(c.value, c.number_format) for c in row] for row in sheet.iter_rows()]


def _cli_files(db_url: str, folder: Path, *args: str) -> dict[str, bytes]:
    files = {}
    for suffix in (".csv", ".xlsx"):
        path = folder / f"cli{suffix}"
        status, _, err = cloud_cli("report", *args, "--db", db_url, "--out", str(path))
        assert status == 0, err
        files[suffix] = path.read_bytes()
    return files


def _page_files(page: Page) -> dict[str, bytes]:
    """The CSV and xlsx behind the page's download links, fetched in the signed-in browser."""
    files = {}
    for name, suffix in (("CSV", ".csv"), ("xlsx", ".xlsx")):
        href = page.get_by_role("link", name=name, exact=True).get_attribute("href")
        assert href is not None
        answer = page.request.get(urljoin(page.url, href))
        assert answer.status == 200, answer.text()
        files[suffix] = answer.body()
    return files


def test_affinity_and_busy_in_the_page_are_the_cli_s(
    office: str, db_url: str, tmp_path: Path, browser: Browser
) -> None:
    period = ["--from", str(WEEK_BEFORE), "--to", str(TODAY)]
    shares = ["--min-support", "0.03", "--min-confidence", "0.1", "--limit", "12"]
    affinity = report_json(db_url, "affinity", "--store", "store-1", *period, *shares)
    assert affinity["rows"], "the fixture's baskets give rules at these thresholds"
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        sign_in_page(page, office, "ada")
        page.get_by_role("link", name="Reports").click()
        page.get_by_label("Report", exact=True).select_option("affinity")
        page.get_by_label("From", exact=True).fill(str(WEEK_BEFORE))
        page.get_by_label("To", exact=True).fill(str(TODAY))
        page.get_by_label("Store", exact=True).select_option("store-1")
        page.get_by_label("Affinity: least support").fill("0.03")
        page.get_by_label("Affinity: least confidence").fill("0.1")
        page.get_by_label("How many").fill("12")
        page.get_by_role("button", name="Show").click()
        expect(page.locator("#report tbody tr")).to_have_count(len(affinity["rows"]))
        assert page.locator("#report thead th").all_inner_texts() == affinity["columns"]
        assert _table_cells(page) == _cli_cells(affinity)
        expect(page.get_by_role("heading", name=affinity["title"])).to_be_visible()
        expect(page.locator("#report tfoot")).to_have_count(0)  # rules overlap: no sum
        expect(page.locator("img.chart")).to_be_visible()
        got, cli = (
            _page_files(page),
            _cli_files(db_url, tmp_path, "affinity", "--store", "store-1", *period, *shares),
        )
        assert got[".csv"] == cli[".csv"] and got[".csv"].startswith(b"\xef\xbb\xbf")
        assert _xlsx_cells(got[".xlsx"]) == _xlsx_cells(cli[".xlsx"])

        for by in ("month", "hour"):
            busy = report_json(db_url, "busy", "--by", by, "--store", "store-1", *period)
            page.get_by_label("Report", exact=True).select_option("busy")
            page.get_by_label("Group by").select_option(by)
            page.get_by_role("button", name="Show").click()
            expect(page.get_by_role("heading", name=busy["title"])).to_be_visible()
            assert _table_cells(page) == _cli_cells(busy), by
            total = sum(int(r["tickets"]) for r in busy["rows"])
            expect(page.locator("#report tfoot td").nth(len(busy["columns"]) - 3)).to_have_text(
                str(total)
            )
            got = _page_files(page)
            cli = _cli_files(db_url, tmp_path, "busy", "--by", by, "--store", "store-1", *period)
            assert got[".csv"] == cli[".csv"], by
            assert _xlsx_cells(got[".xlsx"]) == _xlsx_cells(cli[".xlsx"]), by
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "reports-busy.png"), full_page=True)
    finally:
        page.close()
    client, _ = signed_in(office, "ada")
    wrong = client.get("/reports", params={"report": "affinity", "min_support": "5%"})
    assert wrong.status_code == 400 and "--min-support" in wrong.text
    assert client.get("/reports", params={"report": "busy", "by": "week"}).status_code == 400


MINING = {"min_support": "0.01", "min_confidence": "0.1", "limit": "10"}
EVERY_OPTION = {**MINING, "promotion": "P1"}  # a promotion report needs its id
REPORT_URLS = ("/reports", "/reports/report.csv", "/reports/report.xlsx", "/reports/chart.png")
# store-3's items renamed to Chinese (SKU0000 牛奶, ...): what its charts must draw
CHINESE = (
    "牛奶",
    "酸奶",
    "面包",
    "馒头",
    "苹果",
    "香蕉",
    "可乐",
    "白酒",
    "纸巾",
    "洗衣液",
    "薯片",
    "饼干",
)
CHINESE_NAMES = {
    item.sku: CHINESE[n % len(CHINESE)] + (f" {n // len(CHINESE) + 1}" if n >= len(CHINESE) else "")
    for n, item in enumerate(ITEMS)
}


@pytest.fixture
def north(office: str, db_url: str, tmp_path: Path) -> str:
    """A third store trading under Chinese item names, group `north` (store-1 and store-3)
    and its regional manager rita; the office's address."""
    day = StoreDay("store-3", "box-1", TODAY, 150)
    store_days(db_url, tmp_path, "store-3", "box-1", [day], CHINESE_NAMES)
    assert cloud_cli("stores", "add", "store-3", "--db", db_url)[0] == 0
    status, _, err = cloud_cli("groups", "add", "north", "store-1", "store-3", "--db", db_url)
    assert status == 0, err
    add_web_user(db_url, "rita", "regional", "north")
    return office


def test_an_auditor_reads_every_report_and_changes_nothing(office: str, db_url: str) -> None:
    auditor, csrf = signed_in(office, "otto")
    every = auditor.get("/reports", params={"report": "sales", "by": "store"})
    assert every.status_code == 200 and "store-1" in every.text and "store-2" in every.text
    for kind in report_page.KINDS:
        for url in REPORT_URLS:
            params = {"report": kind, "store": "store-2", **EVERY_OPTION}
            answer = auditor.get(url, params=params)
            # a report with no figure to draw answers 400 for its chart (it says so)
            drawable = answer.status_code == 200 or "no numeric column" in answer.text
            assert drawable if url.endswith(".png") else answer.status_code == 200, (kind, url)
            assert auditor.post(url, params=params, data={"csrf": csrf}).status_code == 405
    assert auditor.get("/reports", params={"report": "affinity", **MINING}).status_code == 200
    open_alert = alert_id(db_url, "store-2")
    assert auditor.post(f"/alerts/{open_alert}/ack", data={"csrf": csrf}).status_code == 403
    status, out, err = cloud_cli("alerts", "--db", db_url, "--json")
    assert status == 0, err
    assert open_alert in [a["id"] for a in json.loads(out)]  # still open
    db = Database.open(db_url)
    try:
        done = {str(r[0]) for r in db.query("SELECT action FROM web_audit WHERE account = 'otto'")}
    finally:
        db.close()
    assert done == {"sign_in"}


def test_a_regional_manager_reads_their_group_s_stores_only(north: str, db_url: str) -> None:
    rita, _ = signed_in(north, "rita")
    first = rita.get("/reports", params={"report": "busy"})
    assert first.status_code == 200
    options = re.findall(r'<option value="(store-\d)"', first.text)
    assert options == ["store-1", "store-3"] and "every store" not in first.text
    assert 'value="store-1" selected' in first.text  # their first store by default
    third = rita.get("/reports", params={"report": "affinity", "store": "store-3", **MINING})
    assert third.status_code == 200 and any(name in third.text for name in CHINESE)
    for kind in report_page.KINDS:
        for url in REPORT_URLS:
            for store in ("store-2", "store-9"):
                params = {"report": kind, "store": store, **EVERY_OPTION}
                answer = rita.get(url, params=params)
                assert answer.status_code == 404, (kind, url, store)
                assert "store-2" not in answer.text
    sam, _ = signed_in(north, "sam")
    answer = sam.get("/reports", params={"report": "affinity", "store": "store-3", **MINING})
    assert answer.status_code == 404  # in sam's region, not sam's store


def test_a_chart_of_chinese_names_is_drawn_in_a_cjk_font(
    north: str, db_url: str, browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fontTools.ttLib import TTFont
    from matplotlib import font_manager, rc_context

    params = {"report": "affinity", "from": str(TODAY), "store": "store-3", **MINING}
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        sign_in_page(page, north, "rita")
        page.goto(f"{north}/reports?{urlencode(params)}")
        chart = page.locator("img.chart")
        expect(chart).to_be_visible()
        assert page.evaluate("document.querySelector('img.chart').naturalWidth") > 100
        src = chart.get_attribute("src")
        assert src is not None
        answer = page.request.get(urljoin(page.url, src))
        assert answer.status == 200 and answer.headers["content-type"] == "image/png"
        drawn = answer.body()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "reports-affinity-chinese.png"), full_page=True)
    finally:
        page.close()

    db = Database.open(db_url)
    try:
        view = report_page.build(
            db, Account("rita", "regional", "north"), report_page.parse_request(params, TODAY)
        )
    finally:
        db.close()
    assert view is not None
    labels = "".join(str(row[0]) for row in view.table.rows)
    chinese = {ch for ch in labels if ord(ch) > 0x2E80}
    assert chinese, labels
    # The same drawing in this process, with matplotlib's "Glyph missing" warning an error.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert report_page.file_of(view.table, ".png") == drawn
    # The font cloud.render picks has every one of those glyphs...
    font = render.use_cjk_font()
    assert font in render.CJK_FONTS
    path = font_manager.findfont(
        font_manager.FontProperties(family=font), fallback_to_default=False
    )
    cmap = TTFont(path, fontNumber=0).getBestCmap()
    assert all(ord(ch) in cmap for ch in chinese)
    # ...and a machine without one draws empty boxes (tofu), which is not what the page sent.
    monkeypatch.setattr(render, "CJK_FONTS", ())
    with (
        rc_context({"font.family": "sans-serif", "font.sans-serif": ["DejaVu Sans"]}),
        warnings.catch_warnings(record=True) as seen,
    ):
        warnings.simplefilter("always")
        tofu = report_page.file_of(view.table, ".png")
    assert any("missing from font" in str(w.message) for w in seen)
    assert tofu != drawn
