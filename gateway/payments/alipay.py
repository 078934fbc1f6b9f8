"""Alipay face-to-face code payment (当面付 条码支付) as a thin adapter over its documented
open API.

Documented at opendocs.alipay.com: `alipay.trade.pay` with `scene=bar_code`,
`alipay.trade.query`, `alipay.trade.cancel`, `alipay.trade.refund` and
`alipay.trade.fastpay.refund.query`, all `POST`ed as form
fields to the gateway with `biz_content` as JSON. RSA2 signing: the fields but `sign`,
sorted by name, joined `k=v&...` (values not URL-encoded), SHA256withRSA (PKCS#1 v1.5)
with the application's private key, base64. An answer is JSON `{"<method with _>_response":
{...}, "sign": "..."}` whose signature is over the exact text of the response object, checked
with Alipay's public key; an answer whose signature does not check is no answer.

The signing is pure (`sign_text`, `rsa2_sign`, `rsa2_verify`, `response_text`), shared with
the simulator; `Alipay` is the HTTP edge (httpx).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from gateway.payments.machine import Answer, Call, NoAnswer, Payment
from gateway.payments.settings import AlipaySettings


def sign_text(fields: Mapping[str, str]) -> str:
    return "&".join(f"{k}={v}" for k, v in sorted(fields.items()) if v != "" and k != "sign")


def rsa2_sign(text: str, key: rsa.RSAPrivateKey) -> str:
    return base64.b64encode(key.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()


def rsa2_verify(text: str, signature: str, key: rsa.RSAPublicKey) -> bool:
    try:
        key.verify(base64.b64decode(signature), text.encode(), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


def response_key(method: str) -> str:
    return method.replace(".", "_") + "_response"


def response_text(body: str, method: str) -> str | None:
    """The exact text of the response object (what Alipay signed), or None."""
    marker = f'"{response_key(method)}":'
    start = body.find(marker)
    if start < 0:
        return None
    start += len(marker)
    while start < len(body) and body[start] == " ":
        start += 1
    try:
        _, end = json.JSONDecoder().raw_decode(body, start)
    except json.JSONDecodeError:
        return None
    return body[start:end]


def load_private(path: Path) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"{path} is not an RSA private key")
    return key


def load_public(path: Path) -> rsa.RSAPublicKey:
    key = serialization.load_pem_public_key(path.read_bytes())
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError(f"{path} is not an RSA public key")
    return key


class Alipay:
    """The calls against `settings.url` (a simulator's in tests)."""

    name = "alipay"

    def __init__(self, settings: AlipaySettings, timeout_s: float) -> None:
        assert settings.private_key_file and settings.alipay_public_key_file
        self.settings = settings
        self.private = load_private(settings.private_key_file)
        self.public = load_public(settings.alipay_public_key_file)
        self.client = httpx.Client(timeout=timeout_s)

    def _call(self, method: str, biz: dict[str, str], call: Call) -> dict[str, Any] | NoAnswer:
        fields = {
            "app_id": self.settings.app_id,
            "method": method,
            "format": "JSON",
            "charset": "utf-8",
            "sign_type": "RSA2",
            "timestamp": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            "version": "1.0",
            "biz_content": json.dumps(biz, separators=(",", ":"), ensure_ascii=False),
        }
        fields["sign"] = rsa2_sign(sign_text(fields), self.private)
        try:
            response = self.client.post(self.settings.url, data=fields)
            body = response.text
            document = json.loads(body)
        except (httpx.HTTPError, ValueError) as exc:
            return NoAnswer(call, f"Alipay did not answer: {exc}")
        text = response_text(body, method)
        signature = document.get("sign", "") if isinstance(document, dict) else ""
        if text is None or not rsa2_verify(text, signature, self.public):
            return NoAnswer(call, "Alipay's answer does not carry Alipay's signature")
        answer: dict[str, Any] = document[response_key(method)]
        return answer

    def pay(self, payment: Payment, code: str) -> Answer | NoAnswer:
        answer = self._call(
            "alipay.trade.pay",
            {
                "out_trade_no": payment.out_trade_no,
                "scene": "bar_code",
                "auth_code": code,
                "subject": "storegate sale",
                "total_amount": str(payment.amount),
                "trans_currency": payment.currency,
            },
            "pay",
        )
        if isinstance(answer, NoAnswer):
            return answer
        match answer.get("code"):
            case "10000":
                return Answer("pay", "paid", transaction_id=answer.get("trade_no"))
            case "10003":
                return Answer("pay", "waiting")
            case "20000":
                return NoAnswer("pay", f"Alipay: {answer.get('sub_msg', 'service unavailable')}")
        return Answer(
            "pay", "declined", reason=f"{answer.get('sub_code')}: {answer.get('sub_msg', '')}"
        )

    def query(self, payment: Payment) -> Answer | NoAnswer:
        answer = self._call("alipay.trade.query", {"out_trade_no": payment.out_trade_no}, "query")
        if isinstance(answer, NoAnswer):
            return answer
        if answer.get("code") != "10000":
            if answer.get("sub_code") == "ACQ.TRADE_NOT_EXIST":
                return Answer("query", "revoked", reason="Alipay has no such order")
            return NoAnswer("query", f"Alipay: {answer.get('sub_code') or answer.get('code')}")
        status = answer.get("trade_status", "")
        if status in ("TRADE_SUCCESS", "TRADE_FINISHED"):
            return Answer("query", "paid", transaction_id=answer.get("trade_no"))
        if status == "WAIT_BUYER_PAY":
            return Answer("query", "waiting")
        if status == "TRADE_CLOSED":
            return Answer("query", "revoked", reason="Alipay: TRADE_CLOSED")
        return NoAnswer("query", f"Alipay: trade_status {status!r}")

    def revoke(self, payment: Payment) -> Answer | NoAnswer:
        answer = self._call("alipay.trade.cancel", {"out_trade_no": payment.out_trade_no}, "revoke")
        if isinstance(answer, NoAnswer):
            return answer
        if answer.get("code") == "10000" and answer.get("retry_flag") != "Y":
            return Answer("revoke", "revoked", reason=payment.reason or "revoked")
        return NoAnswer("revoke", f"Alipay did not cancel: {answer.get('sub_code', '')}")

    def refund(self, refund: Payment) -> Answer | NoAnswer:
        assert refund.refund_of is not None
        answer = self._call(
            "alipay.trade.refund",
            {
                "out_trade_no": refund.refund_of,
                "refund_amount": str(refund.amount),
                "out_request_no": refund.out_trade_no,
                "refund_reason": "storegate refund",
            },
            "pay",
        )
        if isinstance(answer, NoAnswer):
            return answer
        if answer.get("code") == "10000":
            if answer.get("fund_change") == "Y":
                return Answer("pay", "paid", transaction_id=refund.out_trade_no)
            return Answer("pay", "waiting")  # accepted; the query says when it is done
        if answer.get("code") == "20000":
            return NoAnswer("pay", f"Alipay: {answer.get('sub_msg', 'service unavailable')}")
        return Answer(
            "pay", "declined", reason=f"{answer.get('sub_code')}: {answer.get('sub_msg', '')}"
        )

    def refund_query(self, refund: Payment) -> Answer | NoAnswer:
        assert refund.refund_of is not None
        answer = self._call(
            "alipay.trade.fastpay.refund.query",
            {"out_trade_no": refund.refund_of, "out_request_no": refund.out_trade_no},
            "query",
        )
        if isinstance(answer, NoAnswer):
            return answer
        if answer.get("code") != "10000":
            return NoAnswer("query", f"Alipay: {answer.get('sub_code') or answer.get('code')}")
        if answer.get("refund_status") == "REFUND_SUCCESS":
            return Answer("query", "paid", transaction_id=refund.out_trade_no)
        if not answer.get("refund_amount"):
            return Answer("query", "unpaid", reason="Alipay has no such refund")
        return Answer("query", "waiting")
