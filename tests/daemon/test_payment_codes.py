"""A customer's wallet payment code scanned at the till (issue 16, item 1, as far as it goes
without a provider): recognised by its shape, never an item, never an unknown barcode,
and kept nowhere — not in the journal, the database, the log or head office's events.
Played through `gateway run` and its control socket."""

from __future__ import annotations

from pathlib import Path

import pytest
from daemon_testkit import NO_SYNC, Daemon, box_config

from gateway.barcodes.payment_codes import mask_payment_code, payment_scheme

WECHAT = "134567890123456789"  # 18 digits from 13
ALIPAY = "28765432109876543210"  # 20 digits from 28
UNIONPAY = "6234567890123456789"  # 19 digits from 62


@pytest.mark.parametrize(
    ("code", "scheme"),
    [
        (WECHAT, "wechat"),
        ("104567890123456789", "wechat"),
        ("164567890123456789", None),  # 16 is not a WeChat Pay prefix
        ("13456789012345678", None),  # 17 digits
        (ALIPAY, "alipay"),
        ("2512345678901234", "alipay"),  # 16 digits
        ("301234567890123456789012", "alipay"),  # 24 digits
        ("3012345678901234567890123", None),  # 25 digits
        (UNIONPAY, "unionpay"),
        ("7612345001012", None),  # an EAN-13
        ("13456789012345678a", None),
    ],
)
def test_payment_code_shapes(code: str, scheme: str | None) -> None:
    assert payment_scheme(code) == scheme
    assert mask_payment_code(WECHAT) == "1345…6789"


def test_a_scanned_payment_code_is_refused_and_kept_nowhere(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path, box_config(tmp_path), NO_SYNC)
    try:
        assert daemon.key("sign_on", staff="101", pin="472951")["ok"]
        assert daemon.key("scan", code="7612345001012")["ok"]
        for code, name in ((WECHAT, "WeChat Pay"), (ALIPAY, "Alipay"), (UNIONPAY, "UnionPay")) * 2:
            refused = daemon.key("scan", code=code)
            assert refused["refused"] == "payment_code_scanned", refused
            assert name in str(refused["error"]) and code not in str(refused)
        rules = [a["rule"] for a in daemon.status()["anomalies"]]  # type: ignore[index]
        assert "unknown_barcode_burst" not in rules  # six refusals, none an unknown item
        paid = daemon.key("tender", type="cash", amount="5")
        assert paid["ok"] and paid["state"] == "idle", paid
    finally:
        assert daemon.stop() == 0, daemon.output()
    for path in tmp_path.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for code in (WECHAT, ALIPAY, UNIONPAY):
                assert code.encode() not in data, path
