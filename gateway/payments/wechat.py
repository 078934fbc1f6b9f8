"""WeChat Pay v2 code payment (付款码支付) as a thin adapter over its documented API.

Documented at pay.weixin.qq.com/wiki/doc/api/micropay.php: `POST /pay/micropay` (chapter
9_10), `/pay/orderquery` (9_2), `/secapi/pay/reverse` (9_11, client certificate),
`/secapi/pay/refund` (9_4), `/pay/refundquery` (9_5). Requests and answers are flat
`<xml>` documents; each is signed: the non-empty fields but `sign`, sorted by name, joined
`k=v&...`, then `&key=KEY`, MD5 (or HMAC-SHA256 keyed with KEY), upper-case hex. An
answer whose signature does not match is no answer.

The signing and the XML are pure functions (`sign`, `to_xml`, `from_xml`), shared with the
simulator; `WeChatPay` is the HTTP edge (httpx).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping

import httpx

from gateway.payments.machine import Answer, Call, NoAnswer, Payment
from gateway.payments.providers import minor_units
from gateway.payments.settings import WeChatPaySettings


def sign(fields: Mapping[str, str], key: str, sign_type: str = "MD5") -> str:
    """The documented signature of `fields` (签名算法)."""
    text = "&".join(f"{k}={v}" for k, v in sorted(fields.items()) if v != "" and k != "sign")
    text += f"&key={key}"
    if sign_type == "HMAC-SHA256":
        digest = hmac.new(key.encode(), text.encode(), hashlib.sha256).hexdigest()
    else:
        digest = hashlib.md5(text.encode()).hexdigest()  # the provider's rule, not ours to choose
    return digest.upper()


def signed(fields: Mapping[str, str], key: str, sign_type: str) -> bool:
    given = fields.get("sign", "")
    return bool(given) and hmac.compare_digest(given, sign(fields, key, sign_type))


def to_xml(fields: Mapping[str, str]) -> bytes:
    root = ElementTree.Element("xml")
    for name, value in fields.items():
        ElementTree.SubElement(root, name).text = value
    text: bytes = ElementTree.tostring(root, encoding="utf-8")
    return text


def from_xml(data: bytes) -> dict[str, str]:
    """A flat `<xml>` answer as fields (no DTD or entity is accepted)."""
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise ValueError("an XML document with a DTD is refused")
    root = ElementTree.fromstring(data)  # no DTD: checked above
    return {child.tag: (child.text or "") for child in root}


class WeChatPay:
    """The four calls against `settings.url` (a simulator's in tests)."""

    name = "wechat"

    def __init__(self, settings: WeChatPaySettings, timeout_s: float) -> None:
        assert settings.key is not None
        self.settings = settings
        self.key = settings.key.get_secret_value()
        cert = None
        if settings.cert_file is not None and settings.key_file is not None:
            cert = (str(settings.cert_file), str(settings.key_file))
        self.client = httpx.Client(base_url=settings.url, timeout=timeout_s, cert=cert)

    def _call(self, path: str, fields: dict[str, str], call: Call) -> dict[str, str] | NoAnswer:
        body = {
            "appid": self.settings.appid,
            "mch_id": self.settings.mch_id,
            "nonce_str": secrets.token_hex(16),
            "sign_type": self.settings.sign_type,
            **fields,
        }
        body["sign"] = sign(body, self.key, self.settings.sign_type)
        try:
            response = self.client.post(path, content=to_xml(body))
            answer = from_xml(response.content)
        except (httpx.HTTPError, ValueError, ElementTree.ParseError) as exc:
            return NoAnswer(call, f"WeChat Pay did not answer: {exc}")
        if answer.get("return_code") != "SUCCESS":
            return answer  # a refused request carries no signature
        if not signed(answer, self.key, self.settings.sign_type):
            return NoAnswer(call, "WeChat Pay's answer is not signed with the merchant key")
        return answer

    def pay(self, payment: Payment, code: str) -> Answer | NoAnswer:
        answer = self._call(
            "/pay/micropay",
            {
                "body": "storegate sale",
                "out_trade_no": payment.out_trade_no,
                "total_fee": str(minor_units(payment.amount)),
                "fee_type": payment.currency,
                "spbill_create_ip": "127.0.0.1",
                "auth_code": code,
            },
            "pay",
        )
        if isinstance(answer, NoAnswer):
            return answer
        if answer.get("return_code") != "SUCCESS":
            return Answer("pay", "declined", reason=answer.get("return_msg", "refused"))
        if answer.get("result_code") == "SUCCESS":
            return Answer("pay", "paid", transaction_id=answer.get("transaction_id"))
        error = answer.get("err_code", "")
        if error in ("USERPAYING", "ORDERPAID"):
            return Answer("pay", "waiting")
        if error in ("SYSTEMERROR", "BANKERROR", ""):
            return NoAnswer("pay", f"WeChat Pay: {error or 'no result'}")
        return Answer("pay", "declined", reason=f"{error}: {answer.get('err_code_des', '')}")

    def query(self, payment: Payment) -> Answer | NoAnswer:
        answer = self._call("/pay/orderquery", {"out_trade_no": payment.out_trade_no}, "query")
        if isinstance(answer, NoAnswer):
            return answer
        if answer.get("return_code") != "SUCCESS":
            return NoAnswer("query", f"WeChat Pay refused the query: {answer.get('return_msg')}")
        if answer.get("result_code") != "SUCCESS":
            if answer.get("err_code") == "ORDERNOTEXIST":
                return Answer("query", "revoked", reason="WeChat Pay has no such order")
            return NoAnswer("query", f"WeChat Pay: {answer.get('err_code')}")
        state = answer.get("trade_state", "")
        if state == "SUCCESS":
            return Answer("query", "paid", transaction_id=answer.get("transaction_id"))
        if state in ("USERPAYING", "NOTPAY"):
            return Answer("query", "waiting")
        if state in ("CLOSED", "REVOKED", "REFUND"):
            return Answer("query", "revoked", reason=f"WeChat Pay: {state}")
        if state == "PAYERROR":
            return Answer("query", "declined", reason=answer.get("trade_state_desc", state))
        return NoAnswer("query", f"WeChat Pay: trade_state {state!r}")

    def revoke(self, payment: Payment) -> Answer | NoAnswer:
        answer = self._call("/secapi/pay/reverse", {"out_trade_no": payment.out_trade_no}, "revoke")
        if isinstance(answer, NoAnswer):
            return answer
        if answer.get("return_code") == "SUCCESS" and answer.get("result_code") == "SUCCESS":
            if answer.get("recall") == "Y":
                return NoAnswer("revoke", "WeChat Pay asks to call reverse again")
            return Answer("revoke", "revoked", reason=payment.reason or "revoked")
        return NoAnswer(
            "revoke",
            f"WeChat Pay did not revoke: {answer.get('err_code') or answer.get('return_msg')}",
        )

    def refund(self, refund: Payment) -> Answer | NoAnswer:
        assert refund.refund_of is not None and refund.original_amount is not None
        answer = self._call(
            "/secapi/pay/refund",
            {
                "out_trade_no": refund.refund_of,
                "out_refund_no": refund.out_trade_no,
                "total_fee": str(minor_units(refund.original_amount)),
                "refund_fee": str(minor_units(refund.amount)),
                "refund_fee_type": refund.currency,
            },
            "pay",
        )
        if isinstance(answer, NoAnswer):
            return answer
        if answer.get("return_code") != "SUCCESS":
            return Answer("pay", "declined", reason=answer.get("return_msg", "refused"))
        if answer.get("result_code") == "SUCCESS":
            return Answer("pay", "waiting")  # accepted: WeChat Pay refunds asynchronously
        error = answer.get("err_code", "")
        if error in ("SYSTEMERROR", "BIZERR_NEED_RETRY", "FREQUENCY_LIMITED", ""):
            return NoAnswer("pay", f"WeChat Pay: {error or 'no result'}")
        return Answer("pay", "declined", reason=f"{error}: {answer.get('err_code_des', '')}")

    def refund_query(self, refund: Payment) -> Answer | NoAnswer:
        answer = self._call("/pay/refundquery", {"out_refund_no": refund.out_trade_no}, "query")
        if isinstance(answer, NoAnswer):
            return answer
        if answer.get("return_code") != "SUCCESS":
            return NoAnswer("query", f"WeChat Pay refused the query: {answer.get('return_msg')}")
        if answer.get("result_code") != "SUCCESS":
            if answer.get("err_code") == "REFUNDNOTEXIST":
                return Answer("query", "unpaid", reason="WeChat Pay has no such refund")
            return NoAnswer("query", f"WeChat Pay: {answer.get('err_code')}")
        status = answer.get("refund_status_0", "")
        if status == "SUCCESS":
            return Answer("query", "paid", transaction_id=answer.get("refund_id_0"))
        if status == "PROCESSING":
            return Answer("query", "waiting")
        if status in ("REFUNDCLOSE", "CHANGE"):
            return Answer("query", "declined", reason=f"WeChat Pay: refund {status}")
        return NoAnswer("query", f"WeChat Pay: refund_status {status!r}")
