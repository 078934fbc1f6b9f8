"""Often bought with, the whole path (issue 21, item 3): sales rung up at the box reach
head office through Mosquitto and `cloud ingest`; `cloud recommend` turns their baskets into
the catalog's `recommendations`; `cloud publish catalog` sends it signed; the box applies it
and the customer screen, in Chromium, names what goes with the item just scanned (and not
what is already in the basket)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from acceptance_testkit import (
    BREAD,
    MILK,
    OIL,
    Store,
    cloud_cli,
    open_store,
    wait_until,
)
from playwright.sync_api import Browser, expect
from screens_testkit import daemon_kiosk, open_page


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("keys")
    code, _, err = cloud_cli("keys", "generate", "--dir", str(folder), "--key-id", "ho-recs")
    assert code == 0, err
    return folder


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, keys: Path) -> Iterator[Store]:
    public = (keys / "ho-recs.pub").read_text().strip()
    trusted = f'\n[[sync.trusted_keys]]\nkey_id = "ho-recs"\npublic_key = "{public}"\n'
    yield from open_store(tmp_path_factory.mktemp("store"), trusted)


def catalog_applied(store: Store, version: int) -> bool:
    rows = store.office(
        "SELECT body FROM box_event WHERE kind = 'document.applied' AND store = 'store-1'"
    )
    return any(
        json.loads(body).get("kind") == "catalog" and json.loads(body).get("version") == version
        for (body,) in rows
    )


def test_baskets_at_the_box_become_recommendations_on_the_customer_screen(
    store: Store, keys: Path, browser: Browser, tmp_path: Path
) -> None:
    store.signed_on()
    # five tickets: milk and bread three times, milk and oil once, oil alone once
    for codes in ((MILK, BREAD), (MILK, BREAD), (BREAD, MILK), (MILK, OIL), (OIL,)):
        for code in codes:
            store.scan(code)
        store.ok("tender", type="cash")
    store.wait_office_has_all()
    office = ("--db", store.office_url)
    recommended = tmp_path / "catalog-recommended.json"
    code, out, err = cloud_cli(
        "recommend", str(store.workdir / "catalog.json"), "--out", str(recommended),
        "--min-support", "0.2", "--min-confidence", "0.5", *office,
    )  # fmt: skip
    assert code == 0, err
    assert "5 tickets" in out and "recommendations for 3 products" in out, out
    # milk -> bread (3 of 4 milk tickets), bread -> milk (3 of 3), oil -> milk (1 of 2);
    # milk -> oil has a confidence of 1/4 and stays out
    assert json.loads(recommended.read_text())["recommendations"] == {
        "BREAD-BRN": ["MILK-1L"],
        "MILK-1L": ["BREAD-BRN"],
        "OIL-OLIVE": ["MILK-1L"],
    }
    code, out, err = cloud_cli(
        "publish", "catalog", str(recommended), "--store", "store-1",
        "--key", str(keys / "ho-recs.pem"), "--port", str(store.broker.port), *office,
    )  # fmt: skip
    assert code == 0, err
    version = int(out.split("published catalog version ")[1].split()[0])
    wait_until("the box to apply the catalog", lambda: catalog_applied(store, version), 30)

    page = open_page(
        browser, daemon_kiosk(str(store.status()["screens"]), store.box_dir, "/customer")
    )
    try:
        store.scan(OIL)
        expect(page.locator("#recommended")).to_contain_text("Whole milk 1 l")
        store.scan(MILK)  # milk is in the basket now: bread is named, milk no longer
        expect(page.locator("#recommended")).to_contain_text("Brown bread 500 g")
        store.scan(BREAD)  # bread's only recommendation is milk, already in the basket
        expect(page.locator("#current-line")).to_contain_text("Brown bread 500 g")
        expect(page.locator("#recommended")).to_have_count(0)
    finally:
        page.close()
        store.ok("tender", type="cash")
