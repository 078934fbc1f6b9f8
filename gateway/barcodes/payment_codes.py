"""Wallet payment codes (付款码): the one-time codes a customer's WeChat Pay, Alipay or
UnionPay app shows, scanned at the till.

Recognised by their documented shapes so that a scanned code is never taken for an item,
counted as an unknown barcode, logged, journalled or sent in full: it is a bearer token
that moves the customer's money until it expires. Pure: text in, a scheme out.

Shapes (the providers' merchant documentation for code payments):
- WeChat Pay 付款码: 18 digits beginning 10, 11, 12, 13, 14 or 15;
- Alipay 付款码: 16 to 24 digits beginning 25 to 30;
- UnionPay QR payment code (银联二维码付款码): 19 digits beginning 62.
"""

from __future__ import annotations

from typing import Literal

PaymentScheme = Literal["wechat", "alipay", "unionpay"]
SCHEME_NAMES: dict[PaymentScheme, str] = {
    "wechat": "WeChat Pay",
    "alipay": "Alipay",
    "unionpay": "UnionPay",
}


def payment_scheme(code: str) -> PaymentScheme | None:
    """The wallet whose payment code `code` is (None: not a payment code)."""
    text = code.strip()
    if not text.isdigit():
        return None
    head = int(text[:2])
    if len(text) == 18 and 10 <= head <= 15:
        return "wechat"
    if 16 <= len(text) <= 24 and 25 <= head <= 30:
        return "alipay"
    if len(text) == 19 and text.startswith("62"):
        return "unionpay"
    return None


def mask_payment_code(code: str) -> str:
    """What a record or a log line may show of a payment code: its first and last four."""
    text = code.strip()
    return f"{text[:4]}…{text[-4:]}"
