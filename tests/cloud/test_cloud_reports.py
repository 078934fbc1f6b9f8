"""Reports and the member dividend run over journals stored by head office."""

from __future__ import annotations

import csv
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from cloud_testkit import cloud_cli, journal_of_days, store_journal_directly

from cloud.db import Database
from cloud.dividend import DividendError, allocate
from cloud.publish import record_roster
from gateway.harness.fleetsim import MEMBERS, StoreDay

BEFORE, DURING = date(2026, 11, 22), date(2026, 11, 23)  # fixed days: never the calendar's
BOXES = [("store-1", "box-1"), ("store-1", "box-2"), ("store-2", "box-1")]


@pytest.fixture
def sold(tmp_path: Path, db_url: str) -> dict[str, list[tuple[str, dict]]]:
    """Two days of trading on three boxes, stored at head office; returns the bodies."""
    bodies: dict[str, list[tuple[str, dict]]] = {}
    for store, box in BOXES:
        days = [StoreDay(store, box, BEFORE, 80), StoreDay(store, box, DURING, 80, promotion="P1")]
        journal = journal_of_days(tmp_path / f"{store}-{box}.db", days)
        entries = [entry for day in days for entry in day.records()]
        store_journal_directly(db_url, store, box, journal)
        bodies[f"{store}/{box}"] = entries
    return bodies


def _report(db_url: str, *args: str) -> dict:
    status, out, err = cloud_cli("report", *args, "--db", db_url, "--json")
    assert status == 0, err
    return dict(json.loads(out))


def test_sales_by_day_and_store_add_up_to_the_tickets(
    db_url: str, sold: dict[str, list[tuple[str, dict]]]
) -> None:
    expected = {str(BEFORE): Decimal(0), str(DURING): Decimal(0)}
    refunds = Decimal(0)
    for entries in sold.values():
        for kind, body in entries:
            if kind == "sale":
                expected[body["business_day"]] += Decimal(body["totals"]["total"])
            elif kind == "refund":
                refunds += Decimal(body["total"])
    by_day = _report(db_url, "sales", "--by", "day")
    assert {r["day"]: Decimal(r["sales"]) for r in by_day["rows"]} == expected
    assert sum(Decimal(r["refunds"]) for r in by_day["rows"]) == refunds
    by_store = _report(db_url, "sales", "--by", "store", "--from", str(DURING), "--to", str(DURING))
    assert [r["store"] for r in by_store["rows"]] == ["store-1", "store-2"]
    assert sum(Decimal(r["sales"]) for r in by_store["rows"]) == expected[str(DURING)]
    assert sum(r["tickets"] for r in by_store["rows"]) == 3 * 80
    by_category = _report(db_url, "sales", "--by", "category")
    assert sum(Decimal(r["sales"]) for r in by_category["rows"]) == sum(expected.values())
    for by in ("hour", "cashier", "box"):
        table = _report(db_url, "sales", "--by", by)
        assert sum(Decimal(r["sales"]) for r in table["rows"]) == sum(expected.values())


def test_items_basket_refunds_promotion_and_rfm(
    tmp_path: Path, db_url: str, sold: dict[str, list[tuple[str, dict]]]
) -> None:
    top = _report(db_url, "items", "--limit", "3")["rows"]
    assert len(top) == 3 and Decimal(top[0]["sales"]) >= Decimal(top[1]["sales"])
    slow = _report(db_url, "items", "--slow", "--limit", "3")["rows"]
    assert Decimal(slow[0]["quantity"]) <= Decimal(slow[-1]["quantity"])
    basket = _report(db_url, "basket", "--by", "store")["rows"]
    for row in basket:
        assert Decimal(row["average ticket"]) == (Decimal(row["sales"]) / row["tickets"]).quantize(
            Decimal("0.01")
        )
    refunds = _report(db_url, "refunds", "--by", "store")["rows"]
    assert sum(r["refunds"] for r in refunds) == sum(
        1 for e in sold.values() for k, _ in e if k == "refund"
    )
    promo = _report(
        db_url, "promotion", "--promotion", "P1", "--from", str(DURING), "--to", str(DURING)
    )["rows"]
    assert {r["sku"] for r in promo} == {"SKU0002", "SKU0006", "all promoted"}
    rfm = _report(db_url, "rfm", "--segments")["rows"]
    assert sum(r["members"] for r in rfm) > 50
    status, out, err = cloud_cli(
        "report",
        "sales",
        "--by",
        "category",
        "--db",
        db_url,
        "--csv",
        "--chart",
        str(tmp_path / "category.png"),
    )
    assert status == 0, err
    assert out.splitlines()[0] == "category,tickets,items,sales,refunds,net"
    assert (tmp_path / "category.png").read_bytes()[:4] == b"\x89PNG"
    status, out, _ = cloud_cli(
        "report", "sales", "--by", "hour", "--db", db_url, "--chart", str(tmp_path / "hour.svg")
    )
    assert status == 0 and "Sales by hour" in out
    assert b"<svg" in (tmp_path / "hour.svg").read_bytes()


def test_dividend_run_is_exact_to_the_cent_and_paid_once(
    tmp_path: Path, db_url: str, sold: dict[str, list[tuple[str, dict]]]
) -> None:
    args = (
        "dividend",
        "run",
        "--db",
        db_url,
        "--from",
        str(BEFORE),
        "--to",
        str(DURING),
        "--pool",
        "1000.00",
        "--weight",
        "household=0.5",
        "--period",
        "2026-W47",
    )
    db = Database.open(db_url)
    try:  # each store's members list, as `cloud publish members` records it
        for store in ("store-1", "store-2"):
            record_roster(db, store, 1, {"members": [{"id": m} for m in MEMBERS]})
    finally:
        db.close()
    status, out, err = cloud_cli(*args, "--out", str(tmp_path / "dividend.csv"))
    assert status == 0, err
    assert "1000.00 shared among" in out
    with (tmp_path / "dividend.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert sum(Decimal(r["dividend"]) for r in rows) == Decimal("1000.00")
    assert all(Decimal(r["dividend"]).as_tuple().exponent == -2 for r in rows)
    status, _, err = cloud_cli(*args, "--out", str(tmp_path / "again.csv"))
    assert status != 0 and "already run" in err
    assert not (tmp_path / "again.csv").exists()


def test_largest_remainder_allocation() -> None:
    payouts = allocate(
        Decimal("0.10"), {("s", "b"): Decimal(1), ("s", "a"): Decimal(1), ("s", "c"): Decimal(1)}
    )
    assert [(p.member, p.amount) for p in payouts] == [
        ("a", Decimal("0.04")),
        ("b", Decimal("0.03")),
        ("c", Decimal("0.03")),
    ]
    payouts = allocate(Decimal("100.00"), {("s", "x"): Decimal("2"), ("s", "y"): Decimal("1")})
    assert [p.amount for p in payouts] == [Decimal("66.67"), Decimal("33.33")]
    # equal remainders go to the larger spend, then the smaller member id. By hand: 2 cents
    # over 1 : 3 are 0.5 and 1.5 cents, floors 0 + 1, the cent left (remainders 0.5 each)
    # to "b", the larger spend; 1 cent over 1 : 1 goes to "a"; 1 cent over 1.5 : 1.5 : 3
    # (half-weighted spends) is 0.25 + 0.25 + 0.5: to "c", the largest remainder
    assert [
        (p.member, p.amount)
        for p in allocate(Decimal("0.02"), {("s", "a"): Decimal(1), ("s", "b"): Decimal(3)})
    ] == [("a", Decimal("0.00")), ("b", Decimal("0.02"))]
    assert [
        (p.member, p.amount)
        for p in allocate(Decimal("0.01"), {("s", "b"): Decimal(1), ("s", "a"): Decimal(1)})
    ] == [("a", Decimal("0.01")), ("b", Decimal("0.00"))]
    assert [
        (p.member, p.amount)
        for p in allocate(
            Decimal("0.01"),
            {("s", "b"): Decimal("1.5"), ("s", "a"): Decimal("1.5"), ("s", "c"): Decimal(3)},
        )
    ] == [("a", Decimal("0.00")), ("b", Decimal("0.00")), ("c", Decimal("0.01"))]
    with pytest.raises(DividendError):
        allocate(Decimal("1.00"), {})
