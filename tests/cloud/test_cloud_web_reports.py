"""Reports in head office's pages (issue 18, item 6): the figures, CSV and xlsx are the
CLI's own (`cloud report ... --json / --out`), with a totals row and quantities by unit; a
store manager asking for another store's report by any URL gets 404. Played in Chromium
and over HTTP against `cloud web` on a real server (conftest's `office` and `browser`)."""

from __future__ import annotations

from pathlib import Path

from cloud_testkit import TODAY, WEEK_BEFORE, cloud_cli, report_json, sign_in_page, signed_in
from playwright.sync_api import Browser, expect


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
