"""Stock at the box, the whole path (issue 17, item 2): head office orders and publishes a
purchase order (signed, on `{root}/{store}/orders`), the box (`gateway run`) receives the
delivery against it with the simulated scanner and scale, sells, takes a stock count
section by section that survives a restart, syncs through Mosquitto to `cloud ingest`, and
head office posts receipt and count to its ledger, an approver applies the count: levels
right to the unit, the order's status moved."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from acceptance_testkit import (
    ANNA,
    BANANA_PLU,
    BEAT,
    BREAD,
    MILK,
    SYNC_ENV,
    Store,
    cloud_cli,
    open_store,
    wait_until,
)
from daemon_testkit import Daemon
from playwright.sync_api import Browser, expect
from screens_testkit import daemon_kiosk, open_page

PIN = BEAT[1] + "\n"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("keys")
    code, _, err = cloud_cli("keys", "generate", "--dir", str(folder), "--key-id", "ho-stock")
    assert code == 0, err
    return folder


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, keys: Path) -> Iterator[Store]:
    public = (keys / "ho-stock.pub").read_text().strip()
    trusted = f'\n[[sync.trusted_keys]]\nkey_id = "ho-stock"\npublic_key = "{public}"\n'
    yield from open_store(tmp_path_factory.mktemp("store"), trusted)


def stock(store: Store, *args: str, pin: bool = False) -> dict[str, Any]:
    """`gateway stock ARGS --json` (the supervisor's PIN on stdin); its answer."""
    extra = ("--staff", BEAT[0], "--pin-stdin") if pin else ()
    done = store.gateway("stock", *args, *extra, "--json", stdin=PIN if pin else None)
    assert done.returncode == 0, f"gateway stock {args}: {done.stderr}{done.stdout}"
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def session(store: Store) -> dict[str, Any]:
    shown: dict[str, Any] = store.status()["stock"]
    return shown


def quantity_of(store: Store, sku: str) -> str | None:
    shown = store.status()["stock"]
    line = next((x for x in (shown or {}).get("lines", []) if x["sku"] == sku), None)
    return None if line is None else str(line.get("quantity"))


def restart(store: Store) -> None:
    assert store.box().stop() == 0
    store.daemon = Daemon(store.box_dir, store.config, SYNC_ENV)
    wait_until(
        "the scanner to be connected again",
        lambda: store.status()["devices"].get("scanner", {}).get("state") == "connected",
        30,
    )


def order_published(store: Store, keys: Path) -> list[dict[str, Any]]:
    """PO-1 (milk and bananas) made at head office and published to the box, unless the box
    holds it already (the module's tests share the store, in any order on any worker)."""
    held: list[dict[str, Any]] = stock(store, "orders")["orders"]
    if held:
        return held
    office = ("--db", store.office_url)
    store.wait_office_has_all()  # head office knows store-1 now
    # head office: two items to order (no sales yet: the minimum is the need), one order
    for args in (
        ("MILK-1L", "--name", "Whole milk 1 l", "--min", "24"),
        ("BANANA", "--name", "Bananas", "--unit", "kg", "--min", "10"),
    ):
        code, _, err = cloud_cli("stock", "item", "store-1", *args, *office)
        assert code == 0, err
    code, out, err = cloud_cli(
        "stock", "po", "create", "--store", "store-1", "--doc", "PO-1", *office
    )
    assert code == 0, err
    code, out, err = cloud_cli(
        "stock", "po", "publish", "PO-1", "--key", str(keys / "ho-stock.pem"),
        "--port", str(store.broker.port), *office,
    )  # fmt: skip
    assert code == 0, err
    assert "published orders version 1 for store-1: PO-1" in out
    orders: list[dict[str, Any]] = wait_until(
        "the box to hold the purchase order",
        lambda: stock(store, "orders")["orders"],
        30,
    )
    return orders


def test_a_delivery_received_and_a_count_taken_reach_the_ledger(store: Store, keys: Path) -> None:
    office = ("--db", store.office_url)
    store.signed_on()
    orders = order_published(store, keys)
    assert [(o["id"], [(x["sku"], x["quantity"]) for x in o["lines"]]) for o in orders] == [
        ("PO-1", [("BANANA", "10"), ("MILK-1L", "24")])
    ]

    # -- receiving at the box, against PO-1 -------------------------------------------------
    started = stock(store, "receive", "--po", "PO-1", "--delivery-note", "DN-77", pin=True)
    receipt_id = started["stock"]["id"]
    refused = store.key("scan", code=MILK)  # the till is not selling meanwhile
    assert refused.get("refused") == "stock_mode", refused
    for n in (1, 2):  # two scans on the real scanner go to the session, not a sale
        store.scanner.scan(MILK)
        wait_until(f"{n} milk received", lambda n=n: quantity_of(store, "MILK-1L") == str(n))
    answer = stock(store, "scan", MILK, "--quantity", "20", "--cost", "0.90")
    assert answer["said"] == "Whole milk 1 l: 22 of 24 ordered."
    store.put_on_scale("scale-kg", "4.250")
    answer = stock(store, "scan", BANANA_PLU, "--cost", "1.60")  # weighed: the scale's kg
    assert answer["said"] == "Bananas: 4.250 kg of 10 kg ordered."
    store.clear_scales()
    order = {row["sku"]: row for row in session(store)["order"]}
    assert (order["MILK-1L"]["ordered"], order["MILK-1L"]["received"]) == ("24", "22")
    assert order["BANANA"]["outstanding"] == "5.750"
    done = stock(store, "finish", pin=True)
    assert done["document"]["receipt_id"] == receipt_id
    assert done["document"]["purchase_order"] == "PO-1"
    assert session(store) is None

    # -- a sale on the till: 2 milk --------------------------------------------------------
    for _ in range(2):
        store.scan(MILK)
    store.ok("tender", type="cash", amount="10.00")

    # -- a stock count: shelf, a restart, backroom ------------------------------------------
    head = store.head()
    started = stock(store, "count", "--section", "shelf", pin=True)
    assert started["stock"]["after_seq"] == head
    store.scanner.scan(MILK)
    wait_until("a milk counted", lambda: quantity_of(store, "MILK-1L") == "1")
    stock(store, "set", MILK, "15")
    store.put_on_scale("scale-kg", "3.900")
    stock(store, "scan", BANANA_PLU)
    store.clear_scales()
    restart(store)  # the session is in the journal: it carries on
    shown = session(store)
    assert shown["id"] == started["stock"]["id"] and shown["section"] == "shelf"
    assert quantity_of(store, "MILK-1L") == "15" and quantity_of(store, "BANANA") == "3.900"
    stock(store, "section", "backroom")
    store.scanner.scan(MILK)
    store.scanner.scan(MILK)
    store.scanner.scan(MILK)
    wait_until("3 more milk counted", lambda: quantity_of(store, "MILK-1L") == "18")
    done = stock(store, "finish", pin=True)
    count = done["document"]
    assert count["sections"] == ["shelf", "backroom"] and count["after_seq"] == head
    assert [(x["sku"], x["counted"]) for x in count["lines"]] == [
        ("MILK-1L", "18.000"),
        ("BANANA", "3.900"),
    ]
    assert store.key("scan", code=MILK).get("ok"), "the till sells again"
    store.ok("void_sale", reason="test", supervisor=BEAT[0], supervisor_pin=BEAT[1])

    # -- head office: synced, posted, levels to the unit ------------------------------------
    store.wait_office_has_all()
    code, out, err = cloud_cli("stock", "post", *office)
    assert code == 0, err
    levels = store.cloud("stock", "report", "onhand")["rows"]  # the count awaits approval
    assert {r["sku"]: r["on hand"] for r in levels} == {"MILK-1L": "20.000", "BANANA": "4.250"}
    code, out, err = cloud_cli("stock", "counts", "--pending", *office)
    assert code == 0 and f"{count['count_id']}  store-1" in out, err
    assert "MILK-1L: expected 20.000, counted 18.000, variance -2.000" in out
    code, out, err = cloud_cli("stock", "approve", count["count_id"], "--by", "carol", *office)
    assert code == 0, err
    levels = store.cloud("stock", "report", "onhand")["rows"]
    assert {r["sku"]: r["on hand"] for r in levels} == {"MILK-1L": "18.000", "BANANA": "3.900"}
    moves = store.cloud("stock", "movements", "--sku", "MILK-1L")["rows"]
    assert [(m["kind"], m["quantity"]) for m in moves] == [
        ("receipt", "22.000"),
        ("sale", "-1.000"),  # one line per scan
        ("sale", "-1.000"),
        ("count", "-2.000"),  # counted 18 of the 20 the ledger held
    ]
    banana = store.cloud("stock", "movements", "--sku", "BANANA")["rows"]
    assert [(m["kind"], m["quantity"]) for m in banana] == [
        ("receipt", "4.250"),
        ("count", "-0.350"),
    ]
    po = store.cloud("stock", "po", "show", "PO-1")
    assert {r["sku"]: r["received"] for r in po["rows"]} == {
        "MILK-1L": "22.000",
        "BANANA": "4.250",
    }
    assert "(partial)" in po["title"]
    code, out, _ = cloud_cli("stock", "post", *office)
    assert "0 movement(s)" in out  # posted once


def refused(store: Store, *args: str, pin: str | None = None) -> str:
    """`gateway stock ARGS` that must fail with exit 1 and a sentence, no traceback."""
    done = store.gateway("stock", *args, stdin=pin)
    assert done.returncode == 1, f"gateway stock {args}: {done.returncode} {done.stdout}"
    assert "Traceback" not in done.stderr
    return done.stderr


def test_the_box_refuses_what_it_cannot_take_and_writes_nothing(store: Store, keys: Path) -> None:
    store.signed_on()
    order_published(store, keys)
    store.void_left_open()
    head = store.head()
    anna = ("--staff", "101", "--pin-stdin")
    assert "may not receive goods or count stock" in refused(store, "count", *anna, pin="472951\n")
    assert "Wrong staff number or PIN" in refused(
        store, "count", "--staff", BEAT[0], "--pin-stdin", pin="000000\n"
    )
    assert "No stock session is open" in refused(store, "scan", MILK)
    store.scan(MILK)  # a sale open at the till
    assert "A sale is open" in refused(store, "count", "--staff", BEAT[0], "--pin-stdin", pin=PIN)
    store.ok("void_sale", reason="test", supervisor=BEAT[0], supervisor_pin=BEAT[1])
    after_sale = store.head()
    assert not [r for r in store.records(head) if r.kind.startswith("stock")]  # no step
    stock(store, "count", "--blind", pin=True)
    assert "Unknown item" in refused(store, "scan", "NO-SUCH-SKU")
    assert "is weighed: put it on the scale" in refused(store, "scan", BANANA_PLU)
    assert "is not a whole number" in refused(store, "scan", MILK, "--quantity", "1.5")
    assert "A count has no unit cost" in refused(store, "scan", MILK, "--cost", "1")
    answer = stock(store, "scan", MILK)
    assert (
        answer["said"] == "Whole milk 1 l: counted."
        and "quantity" not in answer["stock"]["lines"][0]
    )  # blind
    assert "is open already" in refused(store, "receive", "--staff", BEAT[0], "--pin-stdin",
                                        pin=PIN)  # fmt: skip
    stock(store, "cancel", "--reason", "started by mistake", pin=True)
    steps = [r for r in store.records(after_sale) if r.kind.startswith("stock")]
    assert [(r.kind, r.body["action"]) for r in steps] == [
        ("stock_step", "start"),
        ("stock_step", "add"),
        ("stock_step", "cancel"),
    ]
    assert steps[-1].body["reason"] == "started by mistake"
    # a stopped box: status and orders from the file, the rest refused
    assert store.box().stop() == 0
    try:
        done = store.gateway("stock", "status")
        assert done.returncode == 0 and "no stock session is open" in done.stdout
        done = store.gateway("stock", "orders", "--json")
        assert done.returncode == 0 and json.loads(done.stdout)["orders"][0]["id"] == "PO-1"
        assert "the daemon is not running" in refused(store, "scan", MILK)
    finally:
        store.daemon = Daemon(store.box_dir, store.config, SYNC_ENV)


def test_the_cashier_screen_says_what_each_stock_scan_counted(
    store: Store, browser: Browser
) -> None:
    store.signed_on()
    store.void_left_open()
    page = open_page(browser, daemon_kiosk(str(store.status()["screens"]), store.box_dir))
    try:
        expect(page.locator("[data-state]")).to_have_attribute("data-state", "idle")
        stock(store, "count", "--section", "aisle-3", pin=True)
        store.scanner.scan(MILK)
        expect(page.locator(".message.notice")).to_contain_text(
            "Whole milk 1 l: 1 (section aisle-3, all sections together)."
        )
        store.scanner.scan(BANANA_PLU)  # no weight on the scale: said, not counted
        expect(page.locator(".message.refusal")).to_contain_text("is weighed: put it on")
        stock(store, "cancel", pin=True)
    finally:
        page.close()


def supervisor(page: Any, prompt: str, who: tuple[str, str] = BEAT) -> None:
    """The stock dialog's staff number and PIN, typed, then Enter: no mouse."""
    dialog = page.locator(f'[data-prompt="{prompt}"]')
    dialog.locator("input[name=staff_id]").fill(who[0])
    dialog.locator("input[name=pin]").fill(who[1])
    dialog.locator("input[name=pin]").press("Enter")


def test_a_count_taken_from_the_cashier_page(store: Store, browser: Browser) -> None:
    """Ctrl+F10 at 1024x768: a count of section shelf by the supervisor; a scan on the
    scanner, 3*bread typed and bananas on the scale (F3) go to it and show; Ctrl+F10
    moves to the next section;
    Ctrl+F11 finishes it: the stock_count record holds both, the till sells again."""
    store.signed_on()
    store.void_left_open()
    head = store.head()
    page = open_page(
        browser,
        daemon_kiosk(str(store.status()["screens"]), store.box_dir),
        width=1024,
        height=768,
    )
    try:
        page.keyboard.type("shelf")
        page.keyboard.press("Control+F10")
        dialog = page.locator('[data-prompt="stock_start"]')
        expect(dialog.locator("input[name=section]")).to_have_value("shelf")
        expect(dialog.locator("input[name=mode]")).to_have_value("count")
        expect(dialog.locator("input[name=staff_id]")).to_be_focused()
        page.keyboard.type(BEAT[0])  # keyboard only: number, Tab, PIN, Enter
        page.keyboard.press("Tab")
        page.keyboard.type(BEAT[1])
        page.keyboard.press("Enter")
        expect(page.locator("[data-state]")).to_have_attribute("data-state", "stock")
        expect(page.locator("#stock-section")).to_have_text("shelf")
        store.scanner.scan(MILK)
        names, counted = page.locator(".stock-lines td.name"), page.locator(".stock-lines td.qty")
        expect(names).to_have_text(["Whole milk 1 l"])
        expect(counted).to_have_text(["1"])
        page.keyboard.type(f"3*{BREAD}")
        page.keyboard.press("Enter")
        expect(names).to_have_text(["Whole milk 1 l", "Brown bread 500 g"])
        expect(counted).to_have_text(["1", "3"])
        assert store.key("scan", code=MILK).get("refused") == "stock_mode"
        page.keyboard.type("backroom")
        page.keyboard.press("Control+F10")
        section = page.locator('[data-prompt="stock_section"]')
        expect(section.locator("input[name=name]")).to_have_value("backroom")
        section.locator("input[name=name]").press("Enter")
        expect(page.locator("#stock-section")).to_have_text("backroom")
        store.scanner.scan(MILK)
        expect(counted).to_have_text(["2", "3"])
        store.put_on_scale("scale-kg", "3.900")
        page.keyboard.type(BANANA_PLU)
        page.keyboard.press("F3")  # weighed: the scale's stable reading
        expect(counted).to_have_text(["2", "3", "3.900 kg"])
        store.clear_scales()
        fits = page.evaluate(
            "document.documentElement.scrollWidth <= 1024 && "
            "document.documentElement.scrollHeight <= 768"
        )
        assert fits, "the stock mode fits the 1024x768 till"
        page.keyboard.press("Control+F11")
        supervisor(page, "stock_finish")
        expect(page.locator("[data-state]")).to_have_attribute("data-state", "idle")
        expect(page.locator("[data-prompt]")).to_have_count(0)
    finally:
        page.close()
    (count,) = [r.body for r in store.records(head) if r.kind == "stock_count"]
    assert count["sections"] == ["shelf", "backroom"]
    assert count["staff"]["id"] == BEAT[0] and count["finished_by"]["id"] == BEAT[0]
    assert sorted((x["sku"], x["counted"]) for x in count["lines"]) == [
        ("BANANA", "3.900"),
        ("BREAD-BRN", "3.000"),
        ("MILK-1L", "2.000"),
    ]
    assert session(store) is None
    assert store.key("scan", code=MILK).get("ok"), "the till sells again"
    store.ok("void_sale", reason="test", supervisor=BEAT[0], supervisor_pin=BEAT[1])


def test_a_cashier_cannot_start_a_count_from_the_page(store: Store, browser: Browser) -> None:
    """A cashier's own number and PIN in the stock dialog: refused inside it, the PIN
    cleared, nothing journalled, the till still selling."""
    store.signed_on()
    store.void_left_open()
    head = store.head()
    page = open_page(browser, daemon_kiosk(str(store.status()["screens"]), store.box_dir))
    try:
        page.keyboard.press("Control+F10")
        supervisor(page, "stock_start", (ANNA["staff"], ANNA["pin"]))
        dialog = page.locator('[data-prompt="stock_start"]')
        expect(dialog.locator("#prompt-alert")).to_contain_text(
            "may not receive goods or count stock"
        )
        expect(dialog.locator("input[name=staff_id]")).to_have_value(ANNA["staff"])
        expect(dialog.locator("input[name=pin]")).to_have_value("")
        page.keyboard.press("Escape")
        expect(page.locator("[data-prompt]")).to_have_count(0)
        expect(page.locator("[data-state]")).to_have_attribute("data-state", "idle")
    finally:
        page.close()
    assert not [r for r in store.records(head) if r.kind.startswith("stock")]
    assert session(store) is None


def test_receiving_against_an_order_from_the_cashier_page(
    store: Store, keys: Path, browser: Browser
) -> None:
    """Ctrl+F10 lists PO-1's lines (ordered / received / outstanding); receiving against
    it shows each line's progress instead of the basket; Ctrl+F12 cancels it with a reason,
    no document, and the till is back."""
    store.signed_on()
    store.void_left_open()
    order_published(store, keys)
    head = store.head()
    page = open_page(browser, daemon_kiosk(str(store.status()["screens"]), store.box_dir))
    try:
        page.keyboard.type("PO-1")  # an order of the box on the entry line: receiving it
        page.keyboard.press("Control+F10")
        dialog = page.locator('[data-prompt="stock_start"]')
        expect(dialog.locator("table.figures")).to_contain_text("PO-1 · Whole milk 1 l")
        expect(dialog.locator("input[name=mode]")).to_have_value("receive")
        expect(dialog.locator("input[name=po]")).to_have_value("PO-1")
        dialog.locator("input[name=delivery_note]").fill("DN-9")
        supervisor(page, "stock_start")
        expect(page.locator("#stock-po")).to_have_text("PO-1")
        milk = page.locator(".stock-order tr.line", has_text="Whole milk 1 l")
        store.scanner.scan(MILK)
        expect(milk.locator("td.received")).to_have_text("1")
        page.keyboard.type("mistake")
        page.keyboard.press("Control+F12")
        supervisor(page, "stock_cancel")
        expect(page.locator("[data-state]")).to_have_attribute("data-state", "idle")
    finally:
        page.close()
    steps = [r.body for r in store.records(head) if r.kind.startswith("stock")]
    assert [b["action"] for b in steps] == ["start", "add", "cancel"]
    assert steps[0]["purchase_order"] == "PO-1" and steps[0]["delivery_note"] == "DN-9"
    assert steps[-1]["reason"] == "mistake"
    assert not [r for r in store.records(head) if r.kind == "goods_receipt"]
