"""The lane keeps the cashier's language and stays language-free: a supervisor who signs on
in Chinese gets every document of the shift in Chinese (sale, refund; the catalog's
Chinese names), the journal keeps the catalog's `name`, the shift reopens in Chinese after
a restart, and the day's Z report prints in the box's default unless asked otherwise."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from lane_testkit import SUPERVISOR, Clock, make_lane

from gateway.catalog.catalog import Catalog, build_catalog
from gateway.catalog.document import parse_document
from gateway.journal import JournalRecord
from gateway.lane import events as ev
from gateway.lane.book import LaneBook
from gateway.lane.events import Outcome, Refusal
from gateway.receipts.model import from_record
from gateway.receipts.text import render_receipt
from gateway.reports import close_day
from gateway.settings import GatewaySettings

MILK = "7612345001012"


def chinese(catalog: Catalog) -> Catalog:
    data = json.loads(json.dumps(catalog.document.model_dump(mode="json", by_alias=True)))
    for product in data["products"]:
        if product["sku"] == "MILK-1L":
            product["names"] = {"zh": "全脂牛奶 1升"}
    return build_catalog(parse_document(data))


def test_a_chinese_shift_prints_chinese_sales_and_refunds_and_the_journal_keeps_name(
    tmp_path: Path, catalog: Catalog, settings: GatewaySettings
) -> None:
    lane = make_lane(tmp_path / "storegate.db", chinese(catalog), settings)
    clock = Clock()
    refused = lane.handle(ev.OpenShift(clock(), SUPERVISOR, language="xx"))
    assert isinstance(refused, Refusal) and refused.code == "bad_language"
    assert lane.book.journal.read(0, 10) == []  # a refused sign-on wrote nothing

    assert isinstance(lane.handle(ev.OpenShift(clock(), SUPERVISOR, language="zh")), Outcome)
    lane.handle(ev.Scan(clock(), MILK, Decimal(2)))
    sale = lane.handle(ev.Tender(clock(), "cash", Decimal(5)))
    assert isinstance(sale, Outcome) and sale.receipt is not None
    text = render_receipt(sale.receipt, 42)
    for word in (
        "购物小票",
        "收银员：Beat",
        "全脂牛奶 1升",
        "合计 CHF",
        "现金",
        "找零",
        "税",
        "日志 #",
    ):
        assert word in text, (word, text)
    assert "TOTAL" not in text and "Change" not in text
    assert isinstance(sale.document, JournalRecord)
    assert sale.document.body["lines"][0]["name"] == "Whole milk 1 l"  # the journal's

    receipt_id = sale.document.body["receipt_id"] if sale.document else ""
    refund = lane.handle(ev.Refund(clock(), receipt_id, "坏了"))
    assert isinstance(refund, Outcome) and refund.receipt is not None, refund
    text = render_receipt(refund.receipt, 42)
    for word in ("退货单", f"原小票 {receipt_id}", "原因：坏了", "全脂牛奶 1升", "退货 2"):
        assert word in text, (word, text)

    again = make_lane(tmp_path / "storegate.db", chinese(catalog), settings)  # a restart
    assert again.shift is not None and again.shift.language == "zh"
    close = again.handle(ev.CloseShift(clock(), Decimal("0")))
    assert isinstance(close, Outcome), close
    assert isinstance(again.book, LaneBook)  # the lane's owner closes the day with it
    z = close_day(
        again.book,
        again.staff,
        settings.lane,
        again.lane_ref,
        clock().date().isoformat(),
        clock(),
        SUPERVISOR,
        again.new_id,
    )
    assert not isinstance(z, Refusal)
    english = render_receipt(from_record(z, (), (), language=settings.screens.language), 42)
    assert "Z REPORT 0001 (CHF)" in english and "Net sales" in english
    zh = render_receipt(from_record(z, (), (), language="zh"), 42)
    for word in ("日结报表 Z0001（CHF）", "营业日", "净销售额", "-- 按支付方式", "退货"):
        assert word in zh, (word, zh)
