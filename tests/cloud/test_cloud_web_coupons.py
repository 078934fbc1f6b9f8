"""Serial coupons in the page (issue 18): `/coupons` on a real HTTP server, the catalog
uploaded, the batch downloaded in Chromium and compared with what the real `cloud coupon
serials` prints for the same catalog (codes the lane accepts); an unknown promotion is
refused naming it; the secret is never in a page or the audit log. Over httpx: no other
role makes codes (403), nor a POST without the CSRF token or a session."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import httpx
from cloud_testkit import cloud_cli, sign_in_page, signed_in
from playwright.sync_api import Browser, expect

from cloud.db import Database

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from test_catalog_serials import SECRET, XMAS, catalog_with


def write_catalog(tmp_path: Path) -> Path:
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(catalog_with(XMAS)), encoding="utf-8")
    return path


def test_an_admin_downloads_a_batch_of_serial_codes(
    tmp_path: Path, office: str, db_url: str, browser: Browser
) -> None:
    catalog = write_catalog(tmp_path)
    page = browser.new_page(viewport={"width": 1024, "height": 768}, accept_downloads=True)
    try:
        sign_in_page(page, office, "ada")
        page.get_by_role("link", name="Coupons").click()
        form = page.locator("#serials")
        form.get_by_label("Catalog").set_input_files(str(catalog))
        form.get_by_label("Promotion id").fill("xmas-6")
        form.get_by_role("button", name="Download the codes (CSV)").click()
        expect(page.locator("#error")).to_contain_text("no promotion xmas-6 in the catalog")
        expect(page.locator("#error")).to_contain_text("here: xmas-5")
        assert SECRET not in page.content()
        form.get_by_label("Catalog").set_input_files(str(catalog))
        form.get_by_label("Promotion id").fill("xmas-5")
        form.get_by_label("First serial").fill("122")
        form.get_by_label("How many").fill("3")
        with page.expect_download() as info:
            form.get_by_role("button", name="Download the codes (CSV)").click()
        download = info.value
        assert download.suggested_filename == "serials-xmas-5-122-124.csv"
        raw = Path(download.path()).read_bytes()
    finally:
        page.close()
    assert raw.startswith(b"\xef\xbb\xbf")
    args = ("coupon", "serials", "xmas-5", "--catalog", str(catalog), "--from", "122")
    status, out, err = cloud_cli(*args, "--count", "3")
    assert status == 0, err
    assert raw.decode("utf-8-sig").splitlines() == out.splitlines()
    assert "123,XMAS-000123-E11C" in out.splitlines()
    db = Database.open(db_url)
    try:
        rows = db.query("SELECT account, detail FROM web_audit WHERE action = 'coupon.serials'")
    finally:
        db.close()
    assert [(str(a), json.loads(d)) for a, d in rows] == [
        ("ada", {"promotion": "xmas-5", "first": 122, "count": 3, "catalog": "catalog.json"})
    ]
    assert SECRET not in str(rows)


def test_only_an_admin_makes_serial_codes(tmp_path: Path, office: str) -> None:
    catalog = write_catalog(tmp_path).read_bytes()
    files = {"catalog": ("catalog.json", catalog, "application/json")}
    data = {"promotion": "xmas-5", "first": "1", "count": "5"}
    for name in ("sam", "otto"):
        client, csrf = signed_in(office, name)
        assert client.get("/coupons").status_code == 403
        answer = client.post("/coupons/serials", data={**data, "csrf": csrf}, files=files)
        assert answer.status_code == 403 and "XMAS-" not in answer.text
    admin, csrf = signed_in(office, "ada")
    assert admin.post("/coupons/serials", data=data, files=files).status_code == 403
    too_many = {**data, "count": "100001", "csrf": csrf}
    answer = admin.post("/coupons/serials", data=too_many, files=files)
    assert answer.status_code == 400 and "at most 100000 a batch" in answer.text
    anonymous = httpx.Client(base_url=office, follow_redirects=False, timeout=30)
    assert anonymous.post("/coupons/serials", data=data, files=files).status_code == 303
