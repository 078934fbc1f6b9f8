"""The member dividend in the browser (issue 18): `/dividend` on a real HTTP server over
head office's database (SQLite and PostgreSQL) holding two stores' ingested sales; the dry
run's payouts compared with the real `cloud dividend run --dry-run`, and the runs listed
as the real `cloud dividend list` lists them.

Played as an admin in Chromium: a pool that is no amount is refused, naming it; a dry run
of store-1's day shows the CLI's payouts and records nothing; paying it records the run
once, audited, and its CSV downloads as the very file `cloud dividend run --out` writes;
paying it again is refused in the CLI's words; a run made with the CLI is listed. Played as
an attacker: a store manager reads nothing of it; nobody but an admin with the form's CSRF
token pays."""

from __future__ import annotations

import json
from pathlib import Path

from cloud_testkit import TODAY, cloud_cli, sign_in_page, signed_in
from playwright.sync_api import Browser, expect

from cloud.db import Database
from gateway.harness.fleetsim import MEMBERS


def roster(db_url: str) -> None:
    """store-1's members as its last published members document named them (the
    roster `cloud publish members` keeps; published here without a broker)."""
    db = Database.open(db_url)
    try:
        with db.transaction():
            db.executemany(
                "INSERT INTO member_roster (store, member, version) VALUES (?, ?, 1)",
                [("store-1", m) for m in MEMBERS],
            )
    finally:
        db.close()


def test_an_admin_dry_runs_a_dividend_and_reads_the_runs(
    tmp_path: Path, office: str, db_url: str, browser: Browser
) -> None:
    roster(db_url)
    day = str(TODAY)
    page = browser.new_page(viewport={"width": 1024, "height": 768})
    try:
        sign_in_page(page, office, "ada")
        page.get_by_role("link", name="Dividend").click()
        expect(page.locator("#runs tbody")).to_have_text("No dividend run yet.")
        form = page.locator("#dry-run")
        form.get_by_label("From", exact=True).fill(day)
        form.get_by_label("To", exact=True).fill(day)
        form.get_by_label("Store").select_option("store-1")
        form.get_by_label("Pool").fill("lots")
        form.get_by_role("button", name="Compute the payouts").click()
        expect(page.locator("#error")).to_contain_text("pool 'lots' is not an amount")
        form.get_by_label("Pool").fill("100.00")
        form.get_by_role("button", name="Compute the payouts").click()
        status, out, err = cloud_cli(
            "dividend", "run", "--db", db_url, "--from", day, "--to", day, "--store",
            "store-1", "--pool", "100.00", "--dry-run",
        )  # fmt: skip
        assert status == 0, err
        *lines, summary = out.strip().splitlines()
        expect(page.locator("#said")).to_have_text(summary)
        rows = page.locator("#payouts tbody tr")
        expect(rows).to_have_count(len(lines))
        assert len(lines) > 1
        shown = [
            f"{c[0]}  {c[1]}  weighted spend {c[2]}  dividend {c[3]}"
            for c in (rows.nth(n).locator("td").all_inner_texts() for n in range(len(lines)))
        ]
        assert shown == lines
        assert "no dividend run yet" in cloud_cli("dividend", "list", "--db", db_url)[1]

        label = f"{day} .. {day}"
        page.get_by_role("button", name="Pay this dividend").click()
        paid = sum(float(line.rsplit(" ", 1)[1]) for line in lines)
        expect(page.locator("#paid")).to_contain_text(
            f"dividend {label}: {paid:.2f} shared among {len(lines)} members"
        )
        with page.expect_download() as downloading:
            page.locator("#paid").get_by_role("link", name="download its CSV").click()
        web_csv = Path(downloading.value.path()).read_bytes()
        status, _, err = cloud_cli(
            "dividend", "run", "--db", db_url, "--from", day, "--to", day, "--store", "store-1",
            "--pool", "100.00", "--period", "again", "--out", str(tmp_path / "cli.csv"),
        )  # fmt: skip
        assert status == 0, err
        cli_csv = (tmp_path / "cli.csv").read_bytes()
        assert len(cli_csv.splitlines()) == len(lines) + 1
        assert web_csv.replace(label.encode(), b"again") == cli_csv
        otto, _ = signed_in(office, "otto")  # an auditor downloads the CLI's run as it wrote it
        assert (
            otto.get("/dividend/csv", params={"period": "again", "scope": "store-1"}).content
            == cli_csv
        )
        audited = [json.loads(str(d[0])) for d in rows_of(db_url, "SELECT detail FROM web_audit "
                   "WHERE action = 'dividend.run' AND account = 'ada'")]  # fmt: skip
        assert [(d["period"], d["scope"], d["pool"]) for d in audited] == [
            (label, "store-1", "100.00")
        ]

        form.get_by_label("Pool").fill("100.00")
        form.get_by_role("button", name="Compute the payouts").click()
        page.get_by_role("button", name="Pay this dividend").click()
        status, _, refused = cloud_cli(
            "dividend", "run", "--db", db_url, "--from", day, "--to", day, "--store", "store-1",
            "--pool", "100.00", "--out", str(tmp_path / "twice.csv"),
        )  # fmt: skip
        assert status != 0 and "was already run at" in refused
        words = refused.split(": ", 1)[1].split("\n")[0]  # the CLI's, after its `where`
        expect(page.locator("#error")).to_contain_text(words)
        assert len(rows_of(db_url, "SELECT 1 FROM web_audit WHERE action = 'dividend.run'")) == 1

        status, _, err = cloud_cli(
            "dividend", "run", "--db", db_url, "--from", day, "--to", day, "--pool", "50.00",
            "--out", str(tmp_path / "paid.csv"),
        )  # fmt: skip
        assert status == 0, err
        page.reload()
        cells = page.locator("#runs tbody tr").last.locator("td").all_inner_texts()
        assert cells[:3] == [f"{day} .. {day}", "all stores", "50.00"]
        listed = cloud_cli("dividend", "list", "--db", db_url)[1]
        assert f"{day} .. {day}  all stores  pool 50.00  {cells[3]} members" in listed
    finally:
        page.close()


def rows_of(db_url: str, query: str) -> list[tuple[object, ...]]:
    db = Database.open(db_url)
    try:
        return db.query(query)
    finally:
        db.close()


def test_only_an_admin_with_the_form_pays_a_dividend(office: str, db_url: str) -> None:
    roster(db_url)
    day = str(TODAY)
    fields = {"from": day, "to": day, "store": "store-1", "pool": "10.00"}
    for name in ("sam", "otto"):
        client, csrf = signed_in(office, name)
        assert client.post("/dividend/run", data={**fields, "csrf": csrf}).status_code == 403
    ada, csrf = signed_in(office, "ada")
    assert ada.post("/dividend/run", data=fields).status_code == 403
    assert ada.post("/dividend/run", data={**fields, "csrf": "forged"}).status_code == 403
    anonymous = signed_in(office, "sam")[0]
    anonymous.cookies.clear()
    assert anonymous.post("/dividend/run", data=fields).status_code in (303, 403)
    assert anonymous.get("/dividend/csv?period=x&scope=*").status_code == 303
    bad = ada.post("/dividend/run", data={**fields, "csrf": csrf, "credit": "gold"})
    assert bad.status_code == 400 and "unknown wallet &#39;gold&#39;" in bad.text
    assert rows_of(db_url, "SELECT 1 FROM dividend_run") == []
    assert ada.get("/dividend/csv", params={"period": "x", "scope": "*"}).status_code == 404
    assert ada.post("/dividend/run", data={**fields, "csrf": csrf}).status_code == 200
    again = ada.post("/dividend/run", data={**fields, "csrf": csrf, "pool": "20.00"})
    assert again.status_code == 409 and "was already run at" in again.text
    assert len(rows_of(db_url, "SELECT 1 FROM dividend_run")) == 1
    sam = signed_in(office, "sam")[0]
    label = f"{day} .. {day}"
    assert sam.get("/dividend/csv", params={"period": label, "scope": "store-1"}).status_code == 403


def test_a_store_manager_reads_no_dividend(office: str) -> None:
    sam, _ = signed_in(office, "sam")
    assert sam.get("/dividend").status_code == 403
    assert sam.get("/dividend?from=2026-11-20&to=2026-11-20&pool=1").status_code == 403
    assert 'href="/dividend"' not in sam.get("/").text
    otto, _ = signed_in(office, "otto")
    assert otto.get("/dividend").status_code == 200
