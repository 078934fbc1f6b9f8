"""Done-when: a simulated fleet of 50 boxes, each publishing a day of sales through the real
sync service from this one process, ingested exactly once (two workers on one shared
subscription), with the fleet view and the reports showing it — for both databases."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from cloud_testkit import (
    Box,
    RunningIngest,
    assert_exactly_once,
    cloud_cli,
    day_clock,
    report_json,
    while_progressing,
)

from gateway.harness.brokers import Mosquitto
from gateway.harness.fleetsim import StoreDay

STORES, BOXES_PER_STORE, SALES = 10, 5, 300
DAY = date(2026, 11, 23)  # a fixed day: the boxes' journals are stamped with it


@pytest.mark.slow
def test_fifty_boxes_a_day_of_sales_each_ingested_exactly_once(
    tmp_path: Path, db_url: str, broker: Mosquitto, ingest: Callable[..., RunningIngest]
) -> None:
    for _ in range(2):
        ingest()
    boxes: list[Box] = []
    expected: dict[str, Decimal] = {}
    for s in range(1, STORES + 1):
        store = f"store-{s:02d}"
        for b in range(1, BOXES_PER_STORE + 1):
            box = Box(
                tmp_path / store / f"box-{b}",
                broker.port,
                store=store,
                box=f"box-{b}",
                batch_max_records=100,
                window_batches=4,
                poll_interval=0.2,
                journal_clock=day_clock(DAY),
            )
            entries = list(StoreDay(store, box.box, DAY, SALES, seed=b).records())
            box.journal.append_many(entries)
            expected[store] = expected.get(store, Decimal(0)) + sum(
                (Decimal(body["totals"]["total"]) for kind, body in entries if kind == "sale"),
                Decimal(0),
            )
            boxes.append(box)
    try:
        for box in boxes:
            box.start()
        assert while_progressing(
            lambda: all(b.acknowledged() == b.head() for b in boxes),
            lambda: sum(b.acknowledged() for b in boxes),
        ), {
            (b.store, b.box): (b.acknowledged(), b.head())
            for b in boxes
            if b.acknowledged() != b.head()
        }
        for box in boxes:
            assert_exactly_once(db_url, box)
        status, out, err = cloud_cli("fleet", "--db", db_url, "--json")
        assert status == 0, err
        fleet = json.loads(out)
        assert len(fleet) == STORES * BOXES_PER_STORE
        heads = {(b.store, b.box): b.head() for b in boxes}
        assert all(v["online"] for v in fleet)
        assert {(v["store"], v["box"]): v["acknowledged_seq"] for v in fleet} == heads
        day = ["--from", str(DAY), "--to", str(DAY)]
        rows = report_json(db_url, "sales", "--by", "store", *day)["rows"]
        assert {r["store"]: Decimal(r["sales"]) for r in rows} == expected
        assert sum(r["tickets"] for r in rows) == STORES * BOXES_PER_STORE * SALES
    finally:
        for box in boxes:
            box.stop()
