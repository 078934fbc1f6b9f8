"""Recommendations in the browser (issue 18): `/recommend` on a real HTTP server over
head office's database (SQLite and PostgreSQL) holding the stores' ingested sales; the
downloaded catalog compared byte for byte, parsed, with what the real `cloud recommend`
writes from the same catalog and options.

Played as an admin in Chromium: a share above 1 is refused, naming it; the catalog comes
back with its recommendations, the database unchanged. Played as an attacker: a store
manager and an auditor neither open the page nor POST, with or without their CSRF token;
an admin's forged and an anonymous POST fail."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from cloud_testkit import TODAY, cloud_cli, sign_in_page, signed_in
from playwright.sync_api import Browser, expect

from gateway.harness.fleetsim import ITEMS

CATALOG = Path(__file__).parents[2] / "config" / "catalog.example.json"


def catalog(tmp_path: Path) -> Path:
    """The example catalog with the simulated stores' items, as test_cloud_affinity."""
    example = json.loads(CATALOG.read_text())
    example["products"] += [
        {"sku": i.sku, "name": i.name, "barcodes": [], "price": str(i.price),
         "tax_class": "food", "category": i.category}
        for i in ITEMS
    ]  # fmt: skip
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(example, indent=1))
    return path


def test_an_admin_downloads_a_catalog_with_recommendations(
    tmp_path: Path, office: str, db_url: str, browser: Browser
) -> None:
    source = catalog(tmp_path)
    day = str(TODAY)
    page = browser.new_page(viewport={"width": 1024, "height": 768})
    try:
        sign_in_page(page, office, "ada")
        page.get_by_role("link", name="Recommend").click()
        form = page.locator("#recommend")
        form.get_by_label("Catalog file").set_input_files(str(source))
        form.get_by_label("From", exact=True).fill(day)
        form.get_by_label("To", exact=True).fill(day)
        form.get_by_label("Sales of").select_option("store-1")
        form.get_by_label("Least support").fill("2")
        form.get_by_role("button", name="Download the catalog with recommendations").click()
        expect(page.locator("#error")).to_contain_text("'2' is not a share between 0 and 1")
        form.get_by_label("Catalog file").set_input_files(str(source))
        form.get_by_label("Least support").fill("0.03")
        form.get_by_label("Least confidence").fill("0.1")
        form.get_by_label("At most per product").fill("2")
        with page.expect_download() as download:
            form.get_by_role("button", name="Download the catalog with recommendations").click()
        assert download.value.suggested_filename == "catalog-recommended.json"
        got = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    finally:
        page.close()
    out = tmp_path / "cli.json"
    status, said, err = cloud_cli(
        "recommend", str(source), "--out", str(out), "--from", day, "--to", day, "--store",
        "store-1", "--min-support", "0.03", "--min-confidence", "0.1", "--per-product", "2",
        "--db", db_url,
    )  # fmt: skip
    assert status == 0, err
    assert got == json.loads(out.read_text(encoding="utf-8"))
    assert got["recommendations"], said


def test_only_an_admin_makes_recommendations(tmp_path: Path, office: str) -> None:
    files = {"file": ("catalog.json", catalog(tmp_path).read_bytes(), "application/json")}
    for name in ("sam", "otto"):
        client, csrf = signed_in(office, name)
        assert client.get("/recommend").status_code == 403
        assert 'href="/recommend"' not in client.get("/").text
        for data in ({}, {"csrf": csrf}):
            answer = client.post("/recommend", data=data, files=files)
            assert answer.status_code == 403 and answer.headers["content-type"].startswith(
                "text/html"
            )
    ada, _ = signed_in(office, "ada")
    assert ada.post("/recommend", data={}, files=files).status_code == 403  # no CSRF
    anonymous = httpx.Client(base_url=office, follow_redirects=False, timeout=30)
    assert anonymous.post("/recommend", files=files).status_code == 303
