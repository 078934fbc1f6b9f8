"""The whole path for stock: a box's journal sent over a real Mosquitto by the box's own
sync service, stored by `cloud ingest`, whose worker posts the sales and refunds to the
stock ledger by itself; `cloud stock` then shows the levels (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from cloud_testkit import Box, RunningIngest, day_clock, eventually
from stock_testkit import Sold, ok, refund_body, sale_body

from cloud.db import Database
from gateway.harness.brokers import Mosquitto

DAY = date(2026, 11, 23)


def _posted_seq(db_url: str) -> int:
    db = Database.open(db_url)
    try:
        row = db.one("SELECT posted_seq FROM stock_posting WHERE store = 'store-1'")
    finally:
        db.close()
    return int(row[0]) if row else 0


def test_ingest_posts_a_boxs_sales_to_the_stock_ledger(
    tmp_path: Path,
    db_url: str,
    broker: Mosquitto,
    ingest: Callable[..., RunningIngest],
    capsys: pytest.CaptureFixture[str],
) -> None:
    db = ("--db", db_url)
    ok(capsys, "stock", "item", "store-1", "PORK", "--unit", "kg", *db)
    ok(
        capsys, "stock", "receive", *db, "--store", "store-1", "--doc", "GR-1", "--by", "dora",
        "--at", "2026-11-23T06:00Z", "--item", "PORK", "10", "30.00", "--item", "EGGS", "60",
        "0.80",
    )  # fmt: skip
    ingest(stock_post_interval=0.3)
    box = Box(tmp_path / "box", broker.port, journal_clock=day_clock(DAY))
    box.journal.append_many(
        [
            ("sale", sale_body("store-1", "box-1", "R1", DAY, [
                Sold("PORK", unit="g", weight="0.485"), Sold("EGGS", "12")])),
            ("sale", sale_body("store-1", "box-1", "R2", DAY, [Sold("EGGS", "6")])),
            ("refund", refund_body("store-1", "box-1", "RF1", DAY, "PORK", "1", "0.485")),
        ]
    )  # fmt: skip
    box.start()
    try:
        assert eventually(lambda: _posted_seq(db_url) == 3, 60), "ingest did not post"
    finally:
        box.stop()
    rows = json.loads(ok(capsys, "stock", "report", "onhand", *db, "--json"))["rows"]
    # pork priced per g is stocked in kg: 10 - 0.485 + 0.485; eggs 60 - 12 - 6
    assert [(r["sku"], r["on hand"], r["value"]) for r in rows] == [
        ("EGGS", "42.000", "33.60"),
        ("PORK", "10.000", "300.00"),
    ]
    out = ok(capsys, "stock", "movements", *db, "--sku", "PORK", "--csv")
    assert "sale,-0.485,kg" in out and "refund,0.485,kg" in out
