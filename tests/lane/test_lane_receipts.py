"""Receipts from one model: widths hold for 32/42/48 columns with CJK names (two cells per
character), ESC/POS carries GB18030 text and a QR code with the record's seq and hash."""

from __future__ import annotations

import json
import os
from decimal import Decimal
from pathlib import Path

import pytest
from lane_testkit import CASHIER, Clock, make_lane

from gateway.catalog.catalog import build_catalog
from gateway.catalog.document import parse_document
from gateway.lane import events as ev
from gateway.lane.events import Outcome
from gateway.receipts.escpos import render_escpos
from gateway.receipts.model import from_record
from gateway.receipts.text import cell_width, render_receipt

NAME = "鲜牛奶 全脂 1 升 超长的商品名称用于测试"


@pytest.fixture
def cjk_sale(tmp_path: Path, catalog, settings):
    data = json.loads(json.dumps(catalog.document.model_dump(mode="json", by_alias=True)))
    for product in data["products"]:
        if product["sku"] == "MILK-1L":
            product["name"] = NAME
    lane = make_lane(tmp_path / "storegate.db", build_catalog(parse_document(data)), settings)
    clock = Clock()
    lane.handle(ev.OpenShift(clock(), CASHIER))
    lane.handle(ev.Scan(clock(), "7612345001012", Decimal(2)))
    lane.handle(ev.Scan(clock(), "7612345001234"))
    out = lane.handle(ev.Tender(clock(), "cash", Decimal(50)))
    assert isinstance(out, Outcome)
    return out


@pytest.mark.parametrize("width", [32, 42, 48])
def test_text_receipt_fits_the_paper(cjk_sale: Outcome, width: int) -> None:
    text = render_receipt(cjk_sale.receipt, width)
    lines = text.splitlines()
    assert all(cell_width(line) <= width for line in lines), text
    assert any(line.startswith("鲜牛奶") for line in lines)
    total = next(line for line in lines if line.startswith("TOTAL CHF"))
    assert cell_width(total) == width and total.endswith(
        cjk_sale.records[0].body["totals"]["total"]
    )
    assert "Change" in text and "journal #2" in text


def test_cjk_receipt_matches_the_reviewed_file(cjk_sale: Outcome) -> None:
    text = render_receipt(
        from_record(cjk_sale.records[0], ["鲜果超市 Fresh Mart"], ["谢谢惠顾"]), 32
    )
    path = Path(__file__).parent / "expected" / "cjk-32.txt"
    if os.environ.get("LANE_WRITE_EXPECTED"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def test_escpos_bytes_carry_gb18030_text_and_the_qr(cjk_sale: Outcome) -> None:
    record = cjk_sale.records[0]
    receipt = from_record(record, ["门店 Corner Shop"], ["谢谢"], copy=True)
    data = render_escpos(receipt, 42)
    assert "鲜牛奶".encode("gb18030") in data and "谢谢".encode("gb18030") in data
    assert "*** COPY / 重印 ***".encode("gb18030") in data
    qr = f"storegate:store-1/box-1/{record.body['receipt_id']}/{record.seq}/{record.hash}"
    assert receipt.qr == qr and qr.encode() in data
    assert data.startswith(b"\x1b@") and b"\x1d(k" in data  # init, native QR
