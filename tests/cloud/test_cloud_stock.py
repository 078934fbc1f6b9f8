"""The stock ledger at head office (docs/stock.md), on SQLite and PostgreSQL.

Boxes' journals are fed to head office's storage through the checks ingest applies
(`store_journal_directly`: IngestStore with the real payload models), then `cloud stock ...`
runs through the `cloud` command's main. Every figure asserted here is computed by hand
in the comments. Fixed days and `--at` instants: nothing reads the calendar.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cloud_testkit import store_journal_directly
from openpyxl import load_workbook
from stock_testkit import BoxJournal, Sold, cloud, ok, refund_body, sale_body

from cloud.db import Database
from cloud.schema import upgrade
from cloud.stock import Position, apply_movement, moving_average
from cloud.stock_plan import demand, order_quantity
from cloud.stock_rules import days_of_cover

D = date(2026, 11, 23)  # a Monday
D1 = Decimal


# ---------------------------------------------------------------- the rules, by hand


def test_moving_average_cost_hand_computed() -> None:
    # first receipt: the average is its cost
    assert moving_average(Position(), D1(10), D1("2.00")) == D1("2.0000")
    # 6 on hand at 2.00, 6 in at 2.50: (12 + 15) / 12 = 2.25
    assert moving_average(Position(D1(6), D1(2)), D1(6), D1("2.50")) == D1("2.2500")
    # 3 at 1.00 onto 3 at 1.00 + 4 at 2.00 ... : 3 on hand at 1.0000, 4 in at 2.00:
    # (3 + 8) / 7 = 1.571428... -> 1.5714 (4 places, half up)
    assert moving_average(Position(D1(3), D1(1)), D1(4), D1("2.00")) == D1("1.5714")
    # negative stock: the average restarts at the incoming cost
    assert moving_average(Position(D1(-2), D1("9.99")), D1(5), D1("3.00")) == D1("3.0000")
    # out at the average, which stays: 4 out of 12 at 2.25 = -9.00
    after, cost, value = apply_movement(Position(D1(12), D1("2.25")), "sale", D1(-4))
    assert (after, cost, value) == (Position(D1(8), D1("2.25")), D1("2.25"), D1("-9.00"))
    # a weighed loss: 0.750 kg at 3.4783 = 2.608725 -> -2.61
    assert apply_movement(Position(D1("5.75"), D1("3.4783")), "loss", D1("-0.750"))[2] == D1(
        "-2.61"
    )


def test_reorder_rules_are_weekday_aware_and_in_whole_packs() -> None:
    velocity = [D1(2)] * 5 + [D1(8), D1(2)]  # Saturdays sell 8, other days 2
    monday = date(2026, 11, 30)
    assert demand(velocity, monday, 7) == D1(20)  # 6 x 2 + 8
    assert demand(velocity, monday, 2) == D1(4)  # Monday, Tuesday
    assert demand(velocity, monday + timedelta(days=4), 2) == D1(10)  # Friday, Saturday
    assert order_quantity(D1(14), D1(6)) == D1(18)
    assert order_quantity(D1(12), D1(6)) == D1(12)
    assert order_quantity(D1("-4"), D1(6)) == D1(0)
    assert order_quantity(D1("1.2"), D1("0.5")) == D1("1.5")
    assert days_of_cover(D1(10), D1(80) / 28) == D1("3.5")
    assert days_of_cover(D1(10), D1(0)) is None


# ---------------------------------------------------------------- the ledger end to end


def _ingest(db_url: str, box: BoxJournal, store: str = "store-1", name: str = "box-1") -> None:
    store_journal_directly(db_url, store, name, box.journal)


def _json(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, str]]:
    return list(json.loads(ok(capsys, *args, "--json"))["rows"])


def test_ledger_from_journal_and_documents(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db = ("--db", db_url)
    at = ("--at", "2026-11-23T07:00Z", "--by", "alice")
    ok(capsys, "stock", "item", "store-1", "APPLE", "--unit", "kg", "--name", "苹果", *db)
    ok(
        capsys,
        "stock", "receive", *db, "--store", "store-1", "--doc", "GR-1", *at,
        "--item", "MILK", "10", "2.00", "--item", "APPLE", "5", "3.20",
    )  # fmt: skip
    box = BoxJournal(tmp_path / "box-1.db")
    box.add(
        D,
        [
            ("sale", sale_body("store-1", "box-1", "R1", D, [
                Sold("MILK", "3"), Sold("APPLE", unit="kg", weight="1.250")])),
            ("void", {"not": "a stock movement"}),
            ("sale", {"receipt": 7, "schema": "storegate.lane.sale/99"}),  # a newer body
            ("sale", sale_body("store-1", "box-1", "R2", D, [
                Sold("MILK", "2"), Sold("APPLE", unit="kg", weight=None)])),
            ("refund", refund_body("store-1", "box-1", "RF1", D, "MILK", "1")),
            ("refund", refund_body("store-1", "box-1", "RF2", D, "APPLE", "1")),  # a label
        ],
    )  # fmt: skip
    _ingest(db_url, box)
    out = ok(capsys, "stock", "post", *db)
    # 2 sales (4 lines) + 2 refund lines; the label-priced apples have no weight
    assert "posted 5 journal record(s) of 1 box(es): 6 movement(s)" in out
    assert "2 weighed line(s) sold or refunded by price label without weight" in out
    assert "1 record(s) whose body this version cannot read (skipped)" in out
    # posting again, and the same journal delivered again, move nothing
    _ingest(db_url, box)
    assert ": 0 movement(s)" in ok(capsys, "stock", "post", *db)

    levels = {r["sku"]: r for r in _json(capsys, "stock", "report", "onhand", *db)}
    assert levels["MILK"]["on hand"] == "6.000"  # 10 - 3 - 2 + 1
    assert levels["APPLE"]["on hand"] == "3.750"  # 5 - 1.250 kg
    assert levels["APPLE"]["unit"] == "kg"
    trail = _json(capsys, "stock", "movements", *db, "--sku", "MILK")
    assert [(m["kind"], m["quantity"], m["document"]) for m in trail] == [
        ("receipt", "10.000", "GR-1"),
        ("sale", "-3.000", "R1"),
        ("sale", "-2.000", "R2"),
        ("refund", "1.000", "RF1"),
    ]
    assert trail[1]["source"] == "box-1 seq 1 line 0" and trail[1]["by"] == "c1"
    assert trail[2]["source"] == "box-1 seq 4 line 0"  # after the void and the newer body
    assert trail[3]["value"] == "2.00"  # back in at the average 2.0000

    # moving average: 6 on hand at 2.00, 6 in at 2.50 -> 2.2500; 3 in at 1.00 -> 2.0000
    for doc, qty, cost in (("GR-2", "6", "2.50"), ("GR-3", "3", "1.00")):
        ok(
            capsys, "stock", "receive", *db, "--store", "store-1", "--doc", doc, *at,
            "--item", "MILK", qty, cost,
        )  # fmt: skip
    # apples: 3.750 kg at 3.20 + 2 kg at 4.00 = 20.00 / 5.75 = 3.478260... -> 3.4783
    ok(
        capsys, "stock", "receive", *db, "--store", "store-1", "--doc", "GR-4", *at,
        "--item", "APPLE", "2", "4.00",
    )  # fmt: skip
    ok(
        capsys, "stock", "transfer", *db, "--from-store", "store-1", "--to-store", "store-2",
        "--doc", "T-1", *at, "--item", "MILK", "5",
    )  # fmt: skip
    ok(
        capsys, "stock", "loss", *db, "--store", "store-1", "--doc", "L-1", *at,
        "--reason", "damaged", "--item", "APPLE", "0.750",
    )  # fmt: skip
    out = ok(
        capsys, "stock", "count", *db, "--store", "store-1", "--doc", "C-1", *at,
        "--item", "MILK", "9",
    )  # fmt: skip
    assert "MILK: expected 10.000, counted 9, variance -1.000" in out

    rows = _json(capsys, "stock", "report", "onhand", *db)
    assert [(r["store"], r["sku"], r["on hand"], r["avg cost"], r["value"]) for r in rows] == [
        ("store-1", "APPLE", "5.000", "3.4783", "17.39"),  # 5 x 3.4783 = 17.3915
        ("store-1", "MILK", "9.000", "2.0000", "18.00"),
        ("store-2", "MILK", "5.000", "2.0000", "10.00"),  # in at the sender's average
    ]
    variance = _json(capsys, "stock", "report", "variance", *db, "--from", str(D), "--to", str(D))
    columns = ("sku", "expected", "counted", "variance", "value")
    assert [tuple(v[c] for c in columns) for v in variance] == [
        ("MILK", "10.000", "9.000", "-1.000", "-2.00")
    ]
    shrink = _json(capsys, "stock", "report", "shrink", *db, "--from", str(D), "--to", str(D))
    # losses 2.61 (0.75 kg x 3.4783), counts -2.00: shrink 4.61; cost of sales:
    # milk 3 + 2 - 1 = 4 x 2.00 = 8.00, apples 1.25 kg x 3.20 = 4.00 -> 12.00; 38.42 %
    assert shrink[0] == {
        "store": "store-1",
        "losses": "2.61",
        "by reason": "damaged 2.61",
        "count adjustments": "-2.00",
        "shrink": "4.61",
        "cost of sales": "12.00",
        "shrink %": "38.42",
    }
    # a weighed item new to the receiving store arrives in kg, named, at the sender's cost
    ok(
        capsys, "stock", "transfer", *db, "--from-store", "store-1", "--to-store", "store-2",
        "--doc", "T-2", *at, "--item", "APPLE", "0.5",
    )  # fmt: skip
    second = _json(capsys, "stock", "report", "onhand", *db, "--store", "store-2")
    assert [(r["sku"], r["name"], r["unit"], r["on hand"], r["avg cost"]) for r in second] == [
        ("APPLE", "name of APPLE", "kg", "0.500", "3.4783"),  # as its sales name it
        ("MILK", "name of MILK", "each", "5.000", "2.0000"),
    ]
    assert "every position is what its movements give" in ok(capsys, "stock", "verify", *db)

    # a document is recorded once; bad input is a clear error with no traceback
    status, _, err = cloud(
        capsys, "stock", "loss", *db, "--store", "store-1", "--doc", "L-1", *at,
        "--reason", "expired", "--item", "MILK", "1",
    )  # fmt: skip
    assert status == 1 and "document L-1 is already recorded (loss for store-1, by alice" in err
    status, _, err = cloud(
        capsys, "stock", "receive", *db, "--store", "store-1", "--doc", "GR-9", *at,
        "--item", "MILK", "two", "1.00",
    )  # fmt: skip
    assert status == 2 and "'two' is not a quantity" in err and "Traceback" not in err
    status, _, err = cloud(
        capsys, "stock", "loss", *db, "--store", "store-1", "--doc", "L-9", *at,
        "--reason", "damaged", "--item", "MILK", "1.5",
    )  # fmt: skip
    assert status == 2 and "MILK is counted each: 1.5 is not a whole number" in err


def _bread_journal(tmp_path: Path, db_url: str) -> None:
    """Four weeks before Monday 2026-11-30: 8 loaves every Saturday, 2 every other day
    (4 x 8 + 24 x 2 = 80 sold), on one box."""
    box = BoxJournal(tmp_path / "bread.db")
    first = date(2026, 11, 2)
    for n in range(28):
        day = first + timedelta(days=n)
        qty = "8" if day.weekday() == 5 else "2"
        box.add(day, [("sale", sale_body("store-1", "box-1", f"B{n}", day, [Sold("BREAD", qty)]))])
    _ingest(db_url, box)


def test_reorder_purchase_order_and_exports(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db = ("--db", db_url)
    ok(
        capsys, "stock", "receive", *db, "--store", "store-1", "--doc", "GR-1",
        "--at", "2026-11-01T06:00Z", "--by", "bob", "--item", "BREAD", "90", "1.20",
    )  # fmt: skip
    _bread_journal(tmp_path, db_url)
    ok(
        capsys, "stock", "item", "store-1", "BREAD", "--lead-days", "2", "--order-days", "5",
        "--pack", "6", "--min", "4", "--supplier", "bakery", *db,
    )  # fmt: skip
    day = ("--day", "2026-11-30")
    rows = _json(capsys, "stock", "reorder", *db, "--store", "store-1", *day)
    # on hand 90 - 80 = 10; demand over 2 + 5 days from Monday = 6 x 2 + 8 = 20;
    # need 20 + 4 (min) - 10 = 14 -> 3 packs of 6 = 18, at 1.20 = 21.60
    assert rows == [
        {
            "store": "store-1", "sku": "BREAD", "name": "name of BREAD", "unit": "each",
            "on hand": "10.000", "on order": "0", "per day": "2.857", "demand": "20.000",
            "min": "4.000", "need": "14.000", "pack": "6.000", "order": "18.000",
            "unit cost": "1.2000", "value": "21.60",
        }
    ]  # fmt: skip
    out = ok(
        capsys, "stock", "po", "create", *db, "--store", "store-1", "--doc", "PO-1", *day,
        "--by", "carol", "--at", "2026-11-30T06:00Z", "--supplier", "bakery",
    )  # fmt: skip
    assert "BREAD: 18.000" in out
    # on order now: nothing more to suggest
    again = _json(capsys, "stock", "reorder", *db, "--store", "store-1", *day, "--all")
    assert (again[0]["on order"], again[0]["need"], again[0]["order"]) == ("18.000", "-4.000", "0")
    ok(
        capsys, "stock", "receive", *db, "--store", "store-1", "--doc", "GR-2", "--po", "PO-1",
        "--at", "2026-12-02T06:00Z", "--by", "bob", "--item", "BREAD", "12", "1.20",
    )  # fmt: skip
    csv_path, xlsx_path = tmp_path / "po.csv", tmp_path / "po.xlsx"
    order = _json(capsys, "stock", "po", "show", "PO-1", *db, "--out", str(csv_path))
    assert (order[0]["ordered"], order[0]["received"], order[0]["outstanding"]) == (
        "18.000",
        "12.000",
        "6.000",
    )
    assert "partial" in ok(capsys, "stock", "po", "list", *db)
    raw = csv_path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    header = raw[3:].decode("utf-8").splitlines()[0]
    assert header == "order,store,day,supplier,sku,name,ordered,received,outstanding,unit cost"
    ok(
        capsys,
        "stock",
        "reorder",
        *db,
        "--store",
        "store-1",
        *day,
        "--all",
        "--out",
        str(xlsx_path),
    )
    sheet = load_workbook(xlsx_path).active
    assert sheet is not None
    cells = [[c.value for c in row] for row in sheet.iter_rows()]
    assert cells[0][0] == "Reorder suggestions for 2026-11-30"
    assert cells[1][:3] == ["store", "sku", "name"] and cells[1][11] == "order"
    # 22 on hand, 6 on order: need 20 + 4 - 22 - 6 = -4: order 0, as numbers
    assert cells[2][1] == "BREAD" and cells[2][4] == 22 and cells[2][9] == -4
    assert cells[2][11] == 0 and cells[2][12] == 1.2
    # receiving the rest closes the order; a further receipt against it is refused
    ok(
        capsys, "stock", "receive", *db, "--store", "store-1", "--doc", "GR-3", "--po", "PO-1",
        "--at", "2026-12-03T06:00Z", "--by", "bob", "--item", "BREAD", "6", "1.20",
    )  # fmt: skip
    status, _, err = cloud(
        capsys, "stock", "receive", *db, "--store", "store-1", "--doc", "GR-4", "--po", "PO-1",
        "--by", "bob", "--item", "BREAD", "6", "1.20",
    )  # fmt: skip
    assert status == 1 and "fully received already" in err

    # mid-window: 90 in on Nov 1, Nov 2..15 sold two Saturdays x 8 + 12 days x 2 = 40
    mid = _json(capsys, "stock", "report", "onhand", *db, "--as-of", "2026-11-15")
    assert [(r["on hand"], r["value"]) for r in mid] == [("50.000", "60.00")]
    chart = tmp_path / "value.png"
    ok(capsys, "stock", "report", "onhand", *db, "--chart", str(chart), "--chart-column", "value")
    assert chart.read_bytes()[:4] == b"\x89PNG"
    turnover = _json(
        capsys, "stock", "report", "turnover", *db, "--from", "2026-11-02", "--to", "2026-11-29"
    )
    # cost of sales 80 x 1.20 = 96.00; opening (end of Nov 1) 90 x 1.20 = 108.00, closing
    # 10 x 1.20 = 12.00; average 60.00; turnover 1.60; 28 days / 1.60 = 17.5 days of stock
    assert {k: turnover[0][k] for k in ("cost of sales", "opening value", "closing value")} == {
        "cost of sales": "96.00",
        "opening value": "108.00",
        "closing value": "12.00",
    }
    assert (turnover[0]["turnover"], turnover[0]["days of stock"]) == ("1.60", "17.5")
    slow = _json(
        capsys, "stock", "report", "slow", *db, "--from", "2026-12-01", "--to", "2026-12-03"
    )
    assert [(r["sku"], r["on hand"], r["sold"], r["last sale"]) for r in slow] == [
        ("BREAD", "28.000", "0", "2026-11-29")
    ]


def _alerts(
    capsys: pytest.CaptureFixture[str], db_url: str, kind: str, *, every: bool = False
) -> list[dict[str, Any]]:
    """`cloud alerts --json` of this kind: the open ones (neither acknowledged nor
    cleared), or with `every` also the acknowledged and cleared ones."""
    listed = json.loads(ok(capsys, "alerts", "--db", db_url, "--json", *["--all"] * every))
    return [a for a in listed if a["kind"] == kind]


def test_stock_alerts_raise_once_and_clear(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db = ("--db", db_url)
    ok(
        capsys, "stock", "receive", *db, "--store", "store-1", "--doc", "GR-1",
        "--at", "2026-11-01T06:00Z", "--by", "bob", "--item", "BREAD", "90", "1.20",
    )  # fmt: skip
    _bread_journal(tmp_path, db_url)
    box = BoxJournal(tmp_path / "other.db")
    day = date(2026, 11, 29)
    box.add(day, [("sale", sale_body("store-1", "box-2", "X1", day, [Sold("GUM", "3")]))])
    _ingest(db_url, box, name="box-2")
    ok(capsys, "stock", "item", "store-1", "BREAD", "--min-cover-days", "7", *db)
    check = ("stock", "check", *db, "--at", "2026-11-30T06:00Z")
    out = ok(capsys, *check)
    # BREAD: 10 on hand, 80 sold in the 28 days to Nov 29 -> 3.5 days of cover (< 7);
    # GUM: sold 3 never received -> -3; no shrink (no losses, no counts)
    assert "2 condition(s) holding, 2 alert(s) raised, 0 cleared" in out
    assert [a["message"] for a in _alerts(capsys, db_url, "stock.low")] == [
        "store-1 BREAD name of BREAD: 10.000 each on hand, 3.5 days of cover, under 7"
    ]
    (negative,) = _alerts(capsys, db_url, "stock.negative")
    assert negative["severity"] == "error" and negative["message"].startswith(
        "store-1 GUM name of GUM: stock is negative (-3.000 each)"
    )
    assert "0 alert(s) raised" in ok(capsys, *check)  # the same conditions: no new alert
    # a person acknowledges the low-stock alert: it stays acknowledged by them while low
    low_id = _alerts(capsys, db_url, "stock.low")[0]["id"]
    ok(capsys, "alerts", "ack", str(low_id), "--by", "erin", *db)
    assert "0 alert(s) raised" in ok(capsys, *check)

    for doc, sku, qty in (("GR-2", "BREAD", "30"), ("GR-3", "GUM", "5")):
        ok(
            capsys, "stock", "receive", *db, "--store", "store-1", "--doc", doc,
            "--by", "bob", "--at", "2026-11-30T07:00Z", "--item", sku, qty, "0.50",
        )  # fmt: skip
    # 40 loaves: 14.0 days of cover; GUM at 2: both conditions end
    assert "0 condition(s) holding, 0 alert(s) raised" in ok(
        capsys, "stock", "check", *db, "--at", "2026-11-30T08:00Z"
    )
    assert _alerts(capsys, db_url, "stock.negative") == []  # cleared out of the listing
    assert len(_alerts(capsys, db_url, "stock.negative", every=True)) == 1
    assert [a["acknowledged_by"] for a in _alerts(capsys, db_url, "stock.low", every=True)] == [
        "erin"  # a person's acknowledgement keeps their name
    ]
    # low again (a min above 40): a new episode, a new alert, though erin acknowledged one
    ok(capsys, "stock", "item", "store-1", "BREAD", "--min", "50", *db)
    assert "1 alert(s) raised" in ok(capsys, "stock", "check", *db, "--at", "2026-11-30T08:30Z")
    assert [a["id"] > low_id for a in _alerts(capsys, db_url, "stock.low")] == [True]
    assert len(_alerts(capsys, db_url, "stock.low", every=True)) == 2
    ok(capsys, "stock", "item", "store-1", "BREAD", "--min", "0", *db)
    assert "1 cleared" in ok(capsys, "stock", "check", *db, "--at", "2026-11-30T08:45Z")
    # shrink: 10 loaves lost at the average now, (10 x 1.20 + 30 x 0.50) / 40 = 0.675
    # (movements are costed in the order they are recorded), 6.75 against the 96.00 cost
    # of the 80 loaves sold = 7.03 % > 2 %
    ok(
        capsys, "stock", "loss", *db, "--store", "store-1", "--doc", "L-1", "--by", "bob",
        "--at", "2026-11-29T20:00Z", "--day", "2026-11-29", "--reason", "expired",
        "--item", "BREAD", "10",
    )  # fmt: skip
    assert "1 alert(s) raised" in ok(capsys, "stock", "check", *db, "--at", "2026-11-30T09:00Z")
    (shrink,) = _alerts(capsys, db_url, "stock.shrink")
    message = shrink["message"]
    assert "shrink 6.75 in the 28 days to 2026-11-29" in message
    assert "7.03% of cost of sales" in message
    # with a threshold above it, the shrink alert clears
    assert "1 cleared" in ok(
        capsys, "stock", "check", *db, "--at", "2026-11-30T10:00Z", "--shrink-rate", "0.2"
    )
    listed = ok(capsys, "alerts", *db)
    assert "stock." not in listed  # every stock alert cleared out of the default listing


def test_posting_from_two_workers_at_once_moves_each_line_once(tmp_path: Path, db_url: str) -> None:
    import threading

    from cloud import stock

    _bread_journal(tmp_path, db_url)
    errors: list[BaseException] = []

    def post() -> None:
        office = Database.open(db_url)
        try:
            for _ in range(3):
                stock.post_journal(office, "2026-11-30T06:00:00.000Z")
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            office.close()

    workers = [threading.Thread(target=post) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert not errors
    office = Database.open(db_url)
    try:
        moved = stock.movements(office, sku="BREAD")
        assert len(moved) == 28 and sum(m.quantity for m in moved) == D1(-80)
        assert stock.verify(office) == []
    finally:
        office.close()


def test_posting_one_store_runs_beside_another_stores_but_not_beside_a_document(
    tmp_path: Path, pg_server_database: str
) -> None:
    """PostgreSQL's stock lock is per store for posting (bench/bench_stock.py --scale
    --post-workers 2): store-2 posts while a transaction posting store-1 is open; store-1
    and head office's documents (a transfer moves two stores) wait. A wait that should not
    happen fails on `lock_timeout` instead of hanging the test."""
    import psycopg
    from cloud_testkit import fresh_pg_url

    from cloud import stock

    url = fresh_pg_url(pg_server_database)
    office = Database.open(url)
    upgrade(office)
    office.close()
    day = date(2026, 11, 2)
    for store in ("store-1", "store-2"):
        box = BoxJournal(tmp_path / f"{store}.db")
        box.add(day, [("sale", sale_body(store, "box-1", f"{store}-1", day, [Sold("BREAD", "3")]))])
        _ingest(url, box, store)
    now = "2026-11-30T06:00:00.000Z"
    holder, other = Database.open(url), Database.open(url)
    try:
        with stock.writing(holder, now, "store-1"):
            other.execute("SET lock_timeout = '20s'")
            other.conn.commit()
            assert stock.post_journal(other, now, "store-2").movements == 1
            other.execute("SET lock_timeout = '100ms'")
            other.conn.commit()
            with pytest.raises(psycopg.errors.LockNotAvailable):
                stock.post_journal(other, now, "store-1")
            with pytest.raises(psycopg.errors.LockNotAvailable), stock.writing(other, now):
                pass
        assert stock.post_journal(other, now).movements == 1  # store-1, once released
        held = {(lv.store, lv.sku): lv.on_hand for lv in stock.levels(other)}
        assert held == {("store-1", "BREAD"): Decimal(-3), ("store-2", "BREAD"): Decimal(-3)}
        assert stock.verify(other) == []
    finally:
        holder.close()
        other.close()


def test_the_real_lanes_weighed_and_counted_lines_move_in_their_units(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Sales rung up on the lane itself (the example catalog: apples per kg, chocolate
    each), journalled, ingested, posted: the apples move their scale weight in kg."""
    from datetime import datetime

    from gateway.harness.screens_demo import StepClock, demo_lane
    from gateway.journal.store import Journal
    from gateway.lane import events as ev
    from gateway.lane.events import Credential, Outcome
    from gateway.settings import load_settings

    repo = Path(__file__).resolve().parents[2]
    lane = demo_lane(tmp_path / "lane.db", load_settings(repo / "config" / "gateway.example.toml"))
    clock = StepClock(datetime(2026, 11, 24, 9, 0))
    for event in (
        ev.OpenShift(clock(), Credential(card="CARD-ANNA"), D1("100.00")),
        ev.Weighed(clock(), "1001", D1("0.456"), stable=True),
        ev.Scan(clock(), "7612345001234", D1(2)),
        ev.Tender(clock(), "cash", D1("50.00")),
        ev.Weighed(clock(), "1001", D1("1.204"), stable=True),
        ev.Tender(clock(), "card", None, reference="T-1"),
    ):
        assert isinstance(lane.handle(event), Outcome), event
    store_journal_directly(db_url, "store-1", "box-1", Journal(lane.book.db))
    ok(capsys, "stock", "item", "store-1", "APPLE-GALA", "--unit", "kg", "--db", db_url)
    assert ": 3 movement(s)" in ok(capsys, "stock", "post", "--db", db_url)
    rows = {r["sku"]: r for r in _json(capsys, "stock", "report", "onhand", "--db", db_url)}
    assert (rows["APPLE-GALA"]["unit"], rows["APPLE-GALA"]["on hand"]) == ("kg", "-1.660")
    assert (rows["CHOC-MILK"]["unit"], rows["CHOC-MILK"]["on hand"]) == ("each", "-2.000")


def test_posting_with_a_budget_leaves_the_rest_for_the_next_pass(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cloud import stock

    _bread_journal(tmp_path, db_url)  # 28 sales, seqs 1..28
    monkeypatch.setattr(stock, "POST_CHUNK", 10)
    office = Database.open(db_url)
    try:
        passes = [stock.post_journal(office, "2026-11-30T06:00:00.000Z", budget=1)]
        while passes[-1].more:
            passes.append(stock.post_journal(office, "2026-11-30T06:00:00.000Z", budget=1))
        assert [p.movements for p in passes] == [10, 10, 8]
        assert stock.post_journal(office, "2026-11-30T06:00:00.000Z", budget=1).movements == 0
    finally:
        office.close()
