"""The dashboard as the fleet grows (issue 18): a hundred and twenty stores in two groups
on a real HTTP server over head office's database (SQLite and PostgreSQL). The page holds
a roll-up per group and fifty stores at a time, worst first (offline boxes, then backlog,
then open alerts: store-2 has both, store-1 an alert); a group's filter and the next page
are links, and what `/live` pushes is the page the person is on. A regional manager's
roll-up and pages hold its group only."""

from __future__ import annotations

import re

from cloud_testkit import add_web_user, cloud_cli, sign_in_page, signed_in
from playwright.sync_api import Browser, expect

from cloud.db import Database

NORTH = [f"n-{n:03d}" for n in range(70)]
SOUTH = [f"s-{n:03d}" for n in range(50)]


def fleet_of_120(db_url: str) -> None:
    assert cloud_cli("stores", "add", *NORTH, *SOUTH, "--db", db_url)[0] == 0
    assert cloud_cli("groups", "add", "north", *NORTH, "--db", db_url)[0] == 0
    assert cloud_cli("groups", "add", "south", *SOUTH, "--db", db_url)[0] == 0
    db = Database.open(db_url)
    try:
        with db.transaction():
            for store in NORTH + SOUTH:
                offline = store in ("s-049", "n-069")  # last by name: worst first moves them up
                db.execute(
                    "INSERT INTO box_state (store, box, online, last_seen, version) "
                    "VALUES (?, 'box-1', ?, '2026-11-20T14:59:00.000Z', '0.9.0')",
                    (store, not offline),
                )
    finally:
        db.close()


def stores_on(html: str) -> list[str]:
    table = html.split('id="sales"')[1].split("</table>")[0]
    return re.findall(r'<tr><td><a href="/stores/([^"]+)">', table)


def test_the_dashboard_pages_the_fleet_worst_first_and_rolls_it_up_by_group(
    office: str, db_url: str, browser: Browser
) -> None:
    fleet_of_120(db_url)
    add_web_user(db_url, "rita", "regional", "south")
    ada, _ = signed_in(office, "ada")
    first = ada.get("/").text
    shown = stores_on(first)
    assert len(shown) == 50 and shown[:5] == ["store-2", "n-069", "s-049", "store-1", "n-000"]
    assert "page 1 of 3" in first and 'id="groups"' in first
    last = stores_on(ada.get("/?page=3").text)
    assert len(last) == 22 and last[-1] == "s-048"  # 122 stores
    assert stores_on(ada.get("/live?group=south&sort=store&page=1").text) == SOUTH
    assert stores_on(ada.get("/?page=99").text) == last  # past the end: the last page
    assert stores_on(ada.get("/?page=x&sort=nonsense").text) == shown  # the defaults

    rita, _ = signed_in(office, "rita")
    hers = rita.get("/").text
    assert stores_on(hers)[0] == "s-049" and len(stores_on(hers)) == 50
    assert "n-0" not in hers and "store-1" not in hers and "page 1 of 1" in hers

    page = browser.new_page(viewport={"width": 1024, "height": 768})
    try:
        sign_in_page(page, office, "ada", "/")
        expect(page.locator("#sales tbody tr")).to_have_count(50)
        page.locator("#groups").get_by_role("link", name="north").click()
        expect(page.locator("#sales tbody tr").first.locator("td").first).to_have_text("n-069")
        expect(page.locator("#live")).to_have_attribute("data-mode", "sse")  # still pushed
        page.get_by_role("link", name="next").click()
        expect(page.locator("#sales tbody tr")).to_have_count(20)
        expect(page.locator("#live")).to_have_attribute("data-src", re.compile("page=2"))
    finally:
        page.close()
