"""What the Chinese screen says of wallet payments (the lane's notices, the refusals)."""

from __future__ import annotations

import pytest

from gateway.i18n import REFUSALS_ZH, notice_text


@pytest.mark.parametrize(
    ("english", "chinese"),
    [
        ("Waiting for WeChat Pay: 12.50", "等待顾客微信支付确认：12.50"),
        ("Waiting for Alipay: 3.50", "等待顾客支付宝确认：3.50"),
        ("Refunding 1.75 to WeChat Pay.", "正在退款 1.75 到微信支付。"),
        ("Refunding 1.75 to Alipay.", "正在退款 1.75 到支付宝。"),
        (
            "Refunding 1.75 to the card: the customer presents it at the terminal.",
            "正在退款 1.75 到银行卡：请顾客在刷卡机上出示银行卡。",
        ),
    ],
)
def test_wallet_notices_in_chinese(english: str, chinese: str) -> None:
    assert notice_text("zh", english) == chinese


def test_wallet_refusals_have_chinese() -> None:
    for code in ("payment_pending", "payment_declined", "payment_revoked", "refund_over_payment"):
        assert REFUSALS_ZH[code]


def test_the_technicians_feed_keeps_a_payment_code_masked() -> None:
    from datetime import UTC, datetime

    from devices.events import ScanEvent
    from gateway.daemon.device_feed import DeviceFeed

    feed = DeviceFeed()
    at = datetime(2026, 12, 2, tzinfo=UTC)
    entry = feed.add(ScanEvent("scanner", "134567890123456789", "QR Code", "]Q1", at))
    assert entry is not None and entry.code == "1345…6789"
    assert "134567890123456789" not in repr(entry)
    item = feed.add(ScanEvent("scanner", "7612345001012", "EAN-13/UPC", "]E0", at))
    assert item is not None and item.code == "7612345001012"
