"""Stock in the page (issues 17 and 18): `/stock` on a real HTTP server over head office's
database (SQLite and PostgreSQL), the box's count made by the box's own session core,
posted by the real `cloud stock post`, the results read back through `cloud stock` and
the audit log.

Played in Chromium by store-1's manager: receive a delivery (a repeated document number
refused as the CLI refuses it), see the level move, set the item's minimum, approve the
count a box sent. Then the reorder suggestions become a purchase order, shown, downloaded
and published to the store's retained orders topic. Played as an attacker over httpx: no
session, no CSRF token, an auditor, another store's manager, by every URL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from cloud_testkit import (
    ARTIFACTS,
    ROOT,
    TODAY,
    add_web_user,
    cloud_cli,
    retained,
    serving_office,
    sign_in_page,
    signed_in,
    store_journal_directly,
)
from playwright.sync_api import Browser, expect
from stock_testkit import BoxJournal

from cloud.db import Database
from cloud.ingest import BrokerOptions
from cloud.publish import load_key
from cloud.web.publish_page import Publisher
from gateway.harness.brokers import Mosquitto
from gateway.lane.records import LaneRef, StaffRef
from gateway.stock.records import StepItem
from gateway.stock.session import Add, Finish, Start, Step, step

BEAT = StaffRef(id="201", name="Beat", role="supervisor")
MILK = StepItem(sku="WS-MILK", name="Milk 1l", unit="each")
COUNT = "store-1-box-2-C-000001"  # as a box numbers it: its store, box, C, seq


def audit(db_url: str) -> list[tuple[str, str, dict[str, Any]]]:
    db = Database.open(db_url)
    try:
        rows = db.query("SELECT account, action, detail FROM web_audit ORDER BY id")
    finally:
        db.close()
    return [(str(a), str(b), json.loads(c)) for a, b, c in rows]


def on_hand(db_url: str) -> dict[tuple[str, str], str]:
    status, out, err = cloud_cli("stock", "report", "onhand", "--json", "--db", db_url)
    assert status == 0, err
    return {(r["store"], r["sku"]): r["on hand"] for r in json.loads(out)["rows"]}


def box_count(
    tmp_path: Path, db_url: str, counted: int, store: str = "store-1", number: str = COUNT
) -> None:
    """Box STORE/box-2 counts WS-MILK (its session core's records), head office posts it."""
    records: list[tuple[str, dict[str, Any]]] = []
    state = None
    at = "2026-11-20T14:00:00"
    for given in (
        Start("count", number, BEAT, at, str(TODAY), 0),
        Add(MILK, Decimal(counted), at),
        Finish(at, BEAT, LaneRef(store=store, box="box-2")),
    ):
        result = step(state, given)
        assert isinstance(result, Step), result
        state, records = result.session, records + list(result.records)
    box = BoxJournal(tmp_path / f"{store}-box-2.db")
    box.add(TODAY, records)
    store_journal_directly(db_url, store, "box-2", box.journal)
    assert cloud_cli("stock", "post", "--db", db_url)[0] == 0


@pytest.fixture
def office(tmp_path: Path, db_url: str, broker: Mosquitto) -> Iterator[str]:
    """Stores store-1 and store-2 (group south: store-2), an admin, store-1's manager sam,
    an auditor and south's regional manager rita; served with head office's key."""
    status, _, err = cloud_cli(
        "keys", "generate", "--dir", str(tmp_path / "keys"), "--key-id", "ho-test"
    )
    assert status == 0, err
    db = ("--db", db_url)
    assert cloud_cli("stores", "add", "store-1", "store-2", *db)[0] == 0
    assert cloud_cli("groups", "add", "south", "store-2", *db)[0] == 0
    for name, role, scope in (
        ("ada", "admin", None),
        ("sam", "store", "store-1"),
        ("otto", "auditor", None),
        ("rita", "regional", "south"),
    ):
        add_web_user(db_url, name, role, scope)
    key = load_key(tmp_path / "keys" / "ho-test.pem")
    publisher = Publisher(BrokerOptions(port=broker.port), ROOT, key)
    with serving_office(db_url, publisher=publisher) as base:
        yield base


def test_a_store_manager_receives_sees_the_level_and_approves_a_count(
    office: str, db_url: str, browser: Browser, tmp_path: Path
) -> None:
    page = browser.new_page(viewport={"width": 1024, "height": 768})
    try:
        sign_in_page(page, office, "sam")
        page.get_by_role("link", name="Stock").first.click()
        expect(page.locator("#levels")).to_contain_text("No item")

        # A goods receipt of two lines; a bad quantity is refused naming the line.
        page.get_by_role("link", name="Goods receipt").click()
        page.get_by_label("Document number").fill("GR-1")
        page.get_by_label("sku of line 1").fill("WS-MILK")
        page.get_by_label("quantity of line 1").fill("ten")
        page.get_by_label("unit cost of line 1").fill("0.80")
        page.get_by_role("button", name="Record the document").click()
        expect(page.locator("#error")).to_contain_text("line #1 (WS-MILK ten 0.80)")
        expect(page.get_by_label("Document number")).to_have_value("GR-1")
        page.get_by_label("quantity of line 1").fill("10")
        page.get_by_label("sku of line 2").fill("WS-BREAD")
        page.get_by_label("quantity of line 2").fill("4")
        page.get_by_label("unit cost of line 2").fill("1.25")
        page.get_by_role("button", name="Record the document").click()
        expect(page.locator("#movements tbody tr")).to_have_count(2)
        expect(page.locator("#movements")).to_contain_text("receipt")

        # The same number again is refused, as `cloud stock receive` refuses it.
        page.goto(office + "/stock/receive")
        page.get_by_label("Document number").fill("GR-1")
        page.get_by_label("sku of line 1").fill("WS-MILK")
        page.get_by_label("quantity of line 1").fill("1")
        page.get_by_label("unit cost of line 1").fill("0.80")
        page.get_by_role("button", name="Record the document").click()
        expect(page.locator("#error")).to_contain_text("document GR-1 is already recorded")

        # The level moved; search finds it; its minimum is set in its settings.
        page.get_by_role("link", name="Levels").click()
        page.get_by_label("Search sku or name").fill("milk")
        page.get_by_role("button", name="Show").click()
        row = page.locator('#levels tr[data-sku="WS-MILK"]')
        expect(row.locator(".on-hand")).to_have_text("10.000")
        expect(page.locator("#levels tbody tr")).to_have_count(1)
        row.get_by_role("link", name="settings").click()
        page.get_by_label("Minimum level").fill("12")
        page.get_by_label("Lead days").fill("-1")
        page.get_by_role("button", name="Save the settings").click()
        expect(page.locator("#error")).to_contain_text("lead days -1 is negative")
        page.get_by_label("Lead days").fill("2")
        page.get_by_label("Supplier").fill("Dairy Co")
        page.get_by_role("button", name="Save the settings").click()
        expect(page.get_by_label("Minimum level")).to_have_value("12.000")

        # A box counts 8: the count waits; approved, the level is 8.
        box_count(tmp_path, db_url, 8)
        page.get_by_role("link", name="Counts").click()
        page.get_by_role("link", name=COUNT).click()
        expect(page.locator('#variance tr[data-sku="WS-MILK"]')).to_contain_text("-2.000")
        page.screenshot(path=str(ARTIFACTS / "stock-count.png"), full_page=True)
        page.get_by_role("button", name="Approve the count").click()
        expect(page.locator("#count-status")).to_have_text("approved")
        expect(page.get_by_role("button", name="Approve the count")).to_have_count(0)
    finally:
        page.close()
    assert on_hand(db_url) == {("store-1", "WS-MILK"): "8.000", ("store-1", "WS-BREAD"): "4.000"}
    _, out, _ = cloud_cli("stock", "counts", "--db", db_url)
    assert f"{COUNT}  store-1" in out and "approved" in out
    _, out, _ = cloud_cli("stock", "movements", "--json", "--db", db_url)
    by = {(r["kind"], r["document"]): r["by"] for r in json.loads(out)["rows"]}
    assert by[("receipt", "GR-1")] == "sam" and by[("count", COUNT)] == "sam"
    actions = [(who, action) for who, action, _ in audit(db_url) if action.startswith("stock.")]
    assert actions == [
        ("sam", "stock.receive"),
        ("sam", "stock.item"),
        ("sam", "stock.count.approve"),
    ]


def test_reorder_becomes_a_purchase_order_shown_downloaded_and_published(
    office: str, db_url: str, broker: Mosquitto
) -> None:
    client, csrf = signed_in(office, "sam")
    db = ("--db", db_url)
    item = ("stock", "item", "store-1", "WS-MILK", "--min", "12", "--pack", "6")
    assert cloud_cli(*item, *db)[0] == 0
    receive = ("stock", "receive", "--doc", "GR-5", "--store", "store-1", "--by", "setup")
    assert cloud_cli(*receive, "--item", "WS-MILK", "2", "0.80", *db)[0] == 0

    # The stock reports are on /reports, as `cloud stock report` builds them.
    query = {"report": "stock-onhand", "store": "store-1", "from": str(TODAY)}
    onhand = client.get("/reports", params=query)
    assert onhand.status_code == 200 and "Stock on hand" in onhand.text
    assert "store-1: stock value 1.60" in onhand.text
    shrink = client.get("/reports", params={**query, "report": "stock-shrink", "by": "item"})
    assert shrink.status_code == 200 and "Shrink" in shrink.text
    download = client.get("/reports/report.csv", params=query)
    assert download.content.startswith(b"\xef\xbb\xbf") and b"WS-MILK" in download.content
    reorder = client.get("/stock/reorder", params={"store": "store-1", "day": str(TODAY)})
    assert reorder.status_code == 200 and "WS-MILK" in reorder.text
    form = {"csrf": csrf, "store": "store-1", "day": str(TODAY), "doc": "PO-1"}
    made = client.post("/stock/po", data=form)
    assert made.status_code == 303 and made.headers["location"] == "/stock/po/PO-1"
    again = client.post("/stock/po", data=form)
    # PO-1 now covers the need: a second order has nothing to order, as the CLI says
    assert again.status_code == 400 and "nothing to order for store-1" in again.text
    shown = client.get("/stock/po/PO-1")
    assert shown.status_code == 200 and "WS-MILK" in shown.text
    csv = client.get("/stock/po/PO-1/order.csv")
    assert csv.content.startswith(b"\xef\xbb\xbf") and b"WS-MILK" in csv.content
    xlsx = client.get("/stock/po/PO-1/order.xlsx")
    assert xlsx.content[:2] == b"PK"
    _, out, _ = cloud_cli("stock", "po", "show", "PO-1", "--json", *db)
    [line] = json.loads(out)["rows"]
    assert (line["sku"], line["ordered"]) == ("WS-MILK", "12.000")  # 12 - 2, packs of 6
    sent = client.post("/stock/po/PO-1/publish", data={"csrf": csrf})
    assert sent.status_code == 303, sent.text
    message = retained(broker.port, f"{ROOT}/store-1/orders")
    assert message is not None and "PO-1" in json.dumps(message)
    assert "PO-1" in client.get("/stock/po").text

    # A transfer to store-2 and a loss with its reason, as forms of lines.
    line = {"csrf": csrf, "store": "store-1", "sku": "WS-MILK", "qty": "1"}
    moved = client.post("/stock/transfer", data={**line, "doc": "T-1", "to_store": "store-2"})
    assert moved.status_code == 303, moved.text
    lost = {**line, "doc": "L-1", "reason": "expired", "note": "past its date"}
    assert client.post("/stock/loss", data=lost).status_code == 303
    bad = client.post("/stock/loss", data={**lost, "doc": "L-2", "reason": "lost"})
    assert bad.status_code == 400 and "unknown loss reason" in bad.text
    assert on_hand(db_url) == {("store-1", "WS-MILK"): "0.000", ("store-2", "WS-MILK"): "1.000"}
    trail = [(a, d.get("doc") or d.get("order")) for _, a, d in audit(db_url) if "stock" in a]
    assert trail == [
        ("stock.po.create", "PO-1"),
        ("stock.po.publish", "PO-1"),
        ("stock.transfer", "T-1"),
        ("stock.loss", "L-1"),
    ]


def test_no_one_changes_stock_they_may_not(office: str, db_url: str, tmp_path: Path) -> None:
    db = ("--db", db_url)
    receive = ("stock", "receive", "--doc", "GR-2", "--by", "setup", *db)
    assert cloud_cli(*receive, "--store", "store-2", "--item", "WS-MILK", "5", "1.00")[0] == 0
    box_count(tmp_path, db_url, 3)
    # store-2's box-2, of a release that numbered without the store: its own count
    box_count(tmp_path, db_url, 4, store="store-2", number="box-2-C-000001")
    theirs = "/stock/counts/store-2-box-2-C-000001"
    line = {"sku": "WS-MILK", "qty": "1", "cost": "1.00"}
    posts: list[tuple[str, dict[str, str]]] = [
        ("/stock/receive", {"doc": "GR-9", "store": "store-1", **line}),
        ("/stock/transfer", {"doc": "T-9", "store": "store-1", "to_store": "store-2", **line}),
        ("/stock/loss", {"doc": "L-9", "store": "store-1", "reason": "damaged", **line}),
        ("/stock/item", {"store": "store-1", "sku": "WS-MILK", "min_level": "3"}),
        (f"/stock/counts/{COUNT}/approve", {}),
        (f"/stock/counts/{COUNT}/reject", {}),
        ("/stock/po", {"doc": "PO-9", "store": "store-1", "day": str(TODAY)}),
    ]
    before = on_hand(db_url)

    # No session: sent to sign in; no CSRF token: refused.
    anonymous = httpx.Client(base_url=office, follow_redirects=False, timeout=30)
    for path in ("/stock", "/stock/counts", f"/stock/counts/{COUNT}", "/stock/po"):
        assert anonymous.get(path).status_code == 303
    sam, sam_csrf = signed_in(office, "sam")
    for path, form in posts:
        assert anonymous.post(path, data={"csrf": sam_csrf, **form}).status_code == 303
        assert sam.post(path, data=form).status_code == 403, path

    # An auditor reads everything and changes nothing.
    otto, otto_csrf = signed_in(office, "otto")
    assert otto.get("/stock", params={"store": "store-1"}).status_code == 200
    assert otto.get(f"/stock/counts/{COUNT}").status_code == 200
    assert otto.get("/stock/receive").status_code == 403
    for path, form in posts:
        assert otto.post(path, data={"csrf": otto_csrf, **form}).status_code == 403, path

    # South's regional manager: store-1 does not exist for it, by any URL.
    rita, rita_csrf = signed_in(office, "rita")
    for path in (
        "/stock?store=store-1",
        "/stock/item?store=store-1&sku=WS-MILK",
        f"/stock/counts/{COUNT}",
        "/stock/movements?store=store-1",
        "/stock/movements/movements.csv?store=store-1",
        "/stock/reorder?store=store-1",
        "/reports?report=stock-onhand&store=store-1",
    ):
        assert rita.get(path).status_code == 404, path
    listed = rita.get("/stock/counts").text
    assert COUNT not in listed and "store-2-box-2-C-000001" in listed
    assert rita.get(theirs).status_code == 200
    for path, form in posts:
        assert rita.post(path, data={"csrf": rita_csrf, **form}).status_code == 404, path
    # ... and store-2's goods do not leave for store-1 on a transfer it may make.
    sent = {"csrf": rita_csrf, "doc": "T-1", "store": "store-2", "to_store": "nowhere", **line}
    refused = rita.post("/stock/transfer", data=sent)
    assert refused.status_code == 400 and "no store &#39;nowhere&#39;" in refused.text

    # Store-1's manager never sees store-2.
    assert sam.get("/stock", params={"store": "store-2"}).status_code == 404
    assert sam.get(theirs).status_code == 404
    assert sam.post(f"{theirs}/approve", data={"csrf": sam_csrf}).status_code == 404
    assert "box-2-C-000001" not in sam.get("/stock/counts").text.replace(COUNT, "")
    assert "store-2" not in sam.get("/stock/movements").text
    assert (
        sam.post(
            "/stock/loss", data={"csrf": sam_csrf, "doc": "L-1", "store": "store-2", **line}
        ).status_code
        == 404
    )
    assert on_hand(db_url) == before
    assert [a for _, a, _ in audit(db_url) if a.startswith("stock.")] == []
    _, out, _ = cloud_cli("stock", "counts", "--pending", *db)
    assert COUNT in out and "store-2-box-2-C-000001  store-2" in out and "2 count(s)" in out
