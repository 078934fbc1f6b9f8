"""Settlement statements in the browser (issue 18): `/payments` on a real HTTP server over
head office's database (SQLite and PostgreSQL); the lines kept read back with the real
`cloud payments import` (importing the same file again adds nothing) and the matching
compared with the real `cloud report payments`.

Played as an admin in Chromium: a file that is no statement is refused, naming why,
nothing kept; a WeChat Pay statement is imported and its days' matching shown. Played as
an attacker: a store manager and an auditor neither open the page nor import, with and
without their CSRF token; an admin's forged and an anonymous POST fail."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from cloud_testkit import ARTIFACTS, cloud_cli, sign_in_page, signed_in
from playwright.sync_api import Browser, expect

from cloud.db import Database

STATEMENT = (
    "交易时间,微信订单号,商户订单号,交易状态,应结订单金额,商户退款单号,退款金额\n"
    "`2026-11-19 12:00:00,`4200000001,`box-1-000001,`SUCCESS,`12.50,`0,`0.00\n"
    "`2026-11-19 12:05:00,`4200000001,`box-1-000001,`REFUND,`0.00,`r-1,`3.00\n"
    "总交易单数,总交易额\n2,12.50\n"
)


def kept(db_url: str) -> int:
    db = Database.open(db_url)
    try:
        row = db.one("SELECT count(*) FROM settlement_line")
    finally:
        db.close()
    return 0 if row is None else int(row[0])


def audit(db_url: str) -> list[tuple[str, str, dict[str, Any]]]:
    db = Database.open(db_url)
    try:
        rows = db.query("SELECT account, action, detail FROM web_audit ORDER BY id")
    finally:
        db.close()
    return [(str(a), str(b), json.loads(c)) for a, b, c in rows]


def test_an_admin_imports_a_statement_and_reads_its_matching(
    tmp_path: Path, office: str, db_url: str, browser: Browser
) -> None:
    (tmp_path / "bill.csv").write_text("date,amount\n2026-11-19,1.75\n")
    (tmp_path / "wechat-bill.csv").write_text(STATEMENT)
    page = browser.new_page(viewport={"width": 1024, "height": 768})
    try:
        sign_in_page(page, office, "ada")
        page.get_by_role("link", name="Statements").click()
        form = page.locator("#import")
        form.get_by_label("Provider").select_option("wechat")
        form.get_by_label("Store").select_option("store-1")
        form.get_by_label("Statement file").set_input_files(str(tmp_path / "bill.csv"))
        form.get_by_role("button", name="Import and match").click()
        expect(page.locator("#error")).to_contain_text("no header line beginning 交易时间")
        assert kept(db_url) == 0

        form.get_by_label("Statement file").set_input_files(str(tmp_path / "wechat-bill.csv"))
        form.get_by_label("show the matched payments too").check()
        form.get_by_role("button", name="Import and match").click()
        expect(page.locator("#done")).to_have_text(
            "wechat-bill.csv: 2 wechat lines for store store-1 (2 new, 0 already imported); "
            "matched for 2026-11-19 – 2026-11-19 below."
        )
        status, out, err = cloud_cli(
            "report", "payments", "--store", "store-1", "--from", "2026-11-19", "--to",
            "2026-11-19", "--all", "--json", "--db", db_url,
        )  # fmt: skip
        assert status == 0, err
        report = json.loads(out)
        rows = page.locator("#matching tbody tr")
        expect(rows).to_have_count(len(report["rows"]))
        assert len(report["rows"]) == 2
        for n, expected in enumerate(report["rows"]):
            cells = rows.nth(n).locator("td").all_inner_texts()
            assert cells == [str(expected[c]) for c in report["columns"]], (cells, expected)
        expect(page.locator("#matching")).to_contain_text("not in journal")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "payments.png"), full_page=True)
    finally:
        page.close()
    status, out, err = cloud_cli(
        "payments", "import", str(tmp_path / "wechat-bill.csv"), "--provider", "wechat",
        "--store", "store-1", "--db", db_url,
    )  # fmt: skip
    assert status == 0 and "(0 new, 2 already imported)" in out, (out, err)
    assert kept(db_url) == 2
    imported = [
        d for who, action, d in audit(db_url) if (who, action) == ("ada", "payments.import")
    ]
    assert imported == [
        {"provider": "wechat", "store": "store-1", "file": "wechat-bill.csv", "lines": 2, "new": 2}
    ]


def test_only_an_admin_imports_a_statement(office: str, db_url: str) -> None:
    files = {"file": ("wechat-bill.csv", STATEMENT.encode(), "text/csv")}
    data = {"provider": "wechat", "store": "store-1"}
    for name in ("sam", "otto"):
        client, csrf = signed_in(office, name)
        assert client.get("/payments").status_code == 403
        assert 'href="/payments"' not in client.get("/").text
        for form in (data, {**data, "csrf": csrf}):
            assert client.post("/payments", data=form, files=files).status_code == 403
    ada, _ = signed_in(office, "ada")
    assert ada.post("/payments", data=data, files=files).status_code == 403  # no CSRF
    anonymous = httpx.Client(base_url=office, follow_redirects=False, timeout=30)
    assert anonymous.post("/payments", data=data, files=files).status_code == 303
    assert kept(db_url) == 0
