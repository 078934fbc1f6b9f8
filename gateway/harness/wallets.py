"""Wallet provider simulators: one local HTTP server speaking WeChat Pay v2's code-payment
XML (`/pay/micropay`, `/pay/orderquery`, `/secapi/pay/reverse`) and Alipay's open gateway
(`/gateway.do`: `alipay.trade.pay`, `.query`, `.cancel`), checking each request's
signature with the merchant's key as the providers do, and signing its answers.

Outcomes are scripted per payment (`script(outcome)` sets what the next payments do):
- `paid`: charged at once;
- `password`: the customer must confirm on the phone (USERPAYING / 10003); charged at
  the `confirm_after`-th query;
- `declined`: refused (NOTENOUGH / ACQ.BUYER_BALANCE_NOT_ENOUGH), nothing charged;
- `never`: waits for the customer forever (until revoked);
- `late`: waits, and the customer confirms just as the revoke arrives: charged, then given
  back by the revoke;
- `error_after_charge`: charged, but the answer is a system error (the box must query);
- `hold`: charged, and the answer is held until `release()` (a daemon killed meanwhile
  never gets it).

Refunds (WeChat `/secapi/pay/refund`, `/pay/refundquery`; Alipay `alipay.trade.refund`,
`alipay.trade.fastpay.refund.query`) give back at most what the order took; a refund number
asked for again is answered with the refund already made (never a second one).

The `ledger` keeps, per order number, what was charged and given back, so a test can check
that nothing is charged twice and that the journal agrees. Test and demo harness only: the
box never imports it.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from gateway.payments import alipay, wechat

OUTCOMES = ("paid", "password", "declined", "never", "late", "error_after_charge", "hold")


@dataclass
class Order:
    provider: str
    out_trade_no: str
    amount: Decimal
    outcome: str
    code_tail: str
    state: str = "waiting"  # waiting | paid | declined | closed
    queries: int = 0
    charges: int = 0
    refunds: int = 0
    transaction_id: str = ""
    pays: int = 0  # pay requests seen for this order (a repeat must not charge again)
    refunded: Decimal = Decimal(0)  # given back by refunds (not by a revoke)


@dataclass
class Refund:
    out_refund_no: str
    out_trade_no: str
    amount: Decimal
    refund_id: str
    requests: int = 1  # refund requests seen with this number (a repeat refunds once)


@dataclass
class WalletSimulator:
    """Both providers on one local port (`url`); start with `start()`, end with `stop()`."""

    wechat_key: str = "0123456789abcdef0123456789abcdef"
    wechat_sign_type: str = "HMAC-SHA256"
    confirm_after: int = 2
    answer_key: str | None = None  # sign answers with another key (a forged answer)
    outcome: str = "paid"
    ledger: dict[str, Order] = field(default_factory=dict)
    refunds: dict[str, Refund] = field(default_factory=dict)
    refuse_refunds: bool = False  # the provider refuses every refund (e.g. too late)
    reply_delay: float = 0.0  # seconds each answer takes (a slow provider)
    requests: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)  # requests whose signature failed

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self.seen = threading.Condition(self.lock)
        self.released = threading.Event()
        self.alipay_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.app_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.server: ThreadingHTTPServer | None = None
        self.numbers = 0

    # -- the harness side ----------------------------------------------------------------

    def start(self) -> None:
        simulator = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                status, answer, kind = simulator.answer(self.path, body)
                if simulator.reply_delay:
                    time.sleep(simulator.reply_delay)  # the provider's latency, not a sync
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                try:
                    self.wfile.write(answer)
                except (BrokenPipeError, ConnectionResetError):
                    return  # the box was killed while its answer was held

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.released.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def script(self, outcome: str) -> None:
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome {outcome!r} is not one of {', '.join(OUTCOMES)}")
        self.outcome = outcome

    def release(self) -> None:
        """Let a held answer go (`hold`)."""
        self.released.set()

    def hold_next(self) -> None:
        """The next payments are charged and their answers held until `release()`."""
        self.released.clear()
        self.script("hold")

    def wait_for(self, what: str, times: int = 1, timeout: float = 20.0) -> None:
        """Until the simulator has seen `times` requests `what` (e.g. 'wechat micropay')."""
        with self.seen:
            if not self.seen.wait_for(lambda: self.requests.count(what) >= times, timeout):
                raise TimeoutError(f"the simulator saw fewer than {times} {what} in {timeout} s")

    def write_keys(self, directory: Path) -> tuple[Path, Path]:
        """The application's private key and Alipay's public key as PEM files (the box's
        `[payments.alipay]` files)."""
        private = directory / "alipay-app-private.pem"
        public = directory / "alipay-public.pem"
        private.write_bytes(
            self.app_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        public.write_bytes(
            self.alipay_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        private.chmod(0o600)
        return private, public

    def charged_twice(self) -> list[str]:
        with self.lock:
            return [o.out_trade_no for o in self.ledger.values() if o.charges > 1]

    def net_charged(self, out_trade_no: str) -> Decimal:
        with self.lock:
            order = self.ledger.get(out_trade_no)
            if order is None:
                return Decimal(0)
            return order.amount * (order.charges - order.refunds) - order.refunded

    def statement(self, provider: str, day: str) -> str:
        """The provider's settlement statement of `day` for what this simulator did, in the
        documented layout (WeChat Pay downloadbill ALL; Alipay 业务明细), as `cloud
        payments import` reads it."""
        with self.lock:
            orders = [o for o in self.ledger.values() if o.provider == provider and o.charges]
            refunds = [
                (r, self.ledger[r.out_trade_no])
                for r in self.refunds.values()
                if self.ledger[r.out_trade_no].provider == provider
            ]
        if provider == "wechat":
            return _wechat_bill(orders, refunds, day)
        return _alipay_bill(orders, refunds, day)

    # -- the provider side -----------------------------------------------------------------

    def _saw(self, what: str) -> None:
        with self.seen:
            self.requests.append(what)
            self.seen.notify_all()

    def answer(self, path: str, body: bytes) -> tuple[int, bytes, str]:
        if path == "/gateway.do":
            return 200, self._alipay(body).encode(), "application/json; charset=utf-8"
        return 200, self._wechat(path, body), "text/xml; charset=utf-8"

    def _charge(self, order: Order) -> None:
        if order.state != "paid":
            order.state = "paid"
            order.charges += 1
            self.numbers += 1
            prefix = "4200" if order.provider == "wechat" else "2026"
            order.transaction_id = f"{prefix}{self.numbers:024d}"

    def _pay(self, provider: str, number: str, amount: Decimal, code: str) -> Order:
        """The order after a pay request (a repeat of one seen changes nothing)."""
        with self.lock:
            order = self.ledger.get(number)
            if order is None:
                order = Order(provider, number, amount, self.outcome, code[-4:])
                self.ledger[number] = order
                if order.outcome in ("paid", "error_after_charge", "hold"):
                    self._charge(order)
                elif order.outcome == "declined":
                    order.state = "declined"
            order.pays += 1
        return order

    def _query(self, number: str) -> Order | None:
        with self.lock:
            order = self.ledger.get(number)
            if order is None:
                return None
            order.queries += 1
            if (
                order.outcome == "password"
                and order.state == "waiting"
                and order.queries >= self.confirm_after
            ):
                self._charge(order)
            return order

    def _revoke(self, number: str) -> Order | None:
        with self.lock:
            order = self.ledger.get(number)
            if order is None:
                return None
            if order.outcome == "late" and order.state == "waiting":
                self._charge(order)  # the customer confirmed just now
            if order.state == "paid":
                order.refunds += 1
            order.state = "closed"
            return order

    def _refund(self, number: str, out_refund_no: str, amount: Decimal) -> Refund | str:
        """The refund after a refund request (one seen before is not made again), or why
        it is refused."""
        with self.lock:
            known = self.refunds.get(out_refund_no)
            if known is not None:
                known.requests += 1
                return known
            order = self.ledger.get(number)
            if self.refuse_refunds:
                return "TRADE_OVERDUE"
            if order is None or order.state != "paid":
                return "ORDERNOTEXIST"
            if order.refunded + amount > order.amount:
                return "INVALID_REQUEST"
            order.refunded += amount
            self.numbers += 1
            refund = Refund(out_refund_no, number, amount, f"5030{self.numbers:024d}")
            self.refunds[out_refund_no] = refund
            return refund

    def refunded_twice(self) -> list[str]:
        """Refund numbers asked for more than once (each was refunded once)."""
        with self.lock:
            return [r.out_refund_no for r in self.refunds.values() if r.requests > 1]

    # WeChat Pay ------------------------------------------------------------------------

    def _wechat_answer(self, fields: dict[str, str]) -> bytes:
        fields = {"return_code": "SUCCESS", "return_msg": "OK", "nonce_str": "sim", **fields}
        key = self.answer_key or self.wechat_key
        fields["sign"] = wechat.sign(fields, key, self.wechat_sign_type)
        return wechat.to_xml(fields)

    def _wechat(self, path: str, body: bytes) -> bytes:
        try:
            fields = wechat.from_xml(body)
        except Exception:  # a simulator answers whatever it is sent
            return wechat.to_xml({"return_code": "FAIL", "return_msg": "XML format error"})
        if not wechat.signed(fields, self.wechat_key, fields.get("sign_type", "MD5")):
            self.rejected.append(path)
            return wechat.to_xml({"return_code": "FAIL", "return_msg": "签名错误"})
        number = fields.get("out_trade_no", "")
        if path == "/pay/micropay":
            order = self._pay(
                "wechat", number, Decimal(fields["total_fee"]) / 100, fields["auth_code"]
            )
            if order.outcome == "hold" and order.pays == 1:
                self._saw("wechat micropay")
                self.released.wait(60)
            else:
                self._saw("wechat micropay")
            if order.pays > 1 and order.state == "paid":
                return self._wechat_answer({"result_code": "FAIL", "err_code": "ORDERPAID"})
            if order.state == "paid" and order.outcome != "error_after_charge":
                return self._wechat_answer(
                    {"result_code": "SUCCESS", "transaction_id": order.transaction_id}
                )
            if order.state == "declined":
                return self._wechat_answer(
                    {"result_code": "FAIL", "err_code": "NOTENOUGH", "err_code_des": "余额不足"}
                )
            if order.outcome == "error_after_charge":
                return self._wechat_answer({"result_code": "FAIL", "err_code": "SYSTEMERROR"})
            return self._wechat_answer({"result_code": "FAIL", "err_code": "USERPAYING"})
        if path == "/pay/orderquery":
            self._saw("wechat orderquery")
            found = self._query(number)
            if found is None:
                return self._wechat_answer({"result_code": "FAIL", "err_code": "ORDERNOTEXIST"})
            state = {
                "paid": "SUCCESS",
                "waiting": "USERPAYING",
                "declined": "PAYERROR",
                "closed": "REVOKED",
            }[found.state]
            extra = {"transaction_id": found.transaction_id} if found.transaction_id else {}
            return self._wechat_answer({"result_code": "SUCCESS", "trade_state": state, **extra})
        if path == "/secapi/pay/reverse":
            self._saw("wechat reverse")
            self._revoke(number)
            return self._wechat_answer({"result_code": "SUCCESS", "recall": "N"})
        if path == "/secapi/pay/refund":
            self._saw("wechat refund")
            made = self._refund(
                number, fields["out_refund_no"], Decimal(fields["refund_fee"]) / 100
            )
            if isinstance(made, str):
                return self._wechat_answer({"result_code": "FAIL", "err_code": made})
            return self._wechat_answer({"result_code": "SUCCESS", "refund_id": made.refund_id})
        if path == "/pay/refundquery":
            self._saw("wechat refundquery")
            with self.lock:
                known = self.refunds.get(fields.get("out_refund_no", ""))
            if known is None:
                return self._wechat_answer({"result_code": "FAIL", "err_code": "REFUNDNOTEXIST"})
            return self._wechat_answer(
                {
                    "result_code": "SUCCESS",
                    "refund_count": "1",
                    "refund_status_0": "SUCCESS",
                    "refund_id_0": known.refund_id,
                    "out_refund_no_0": known.out_refund_no,
                }
            )
        return wechat.to_xml({"return_code": "FAIL", "return_msg": f"no such API {path}"})

    # Alipay ----------------------------------------------------------------------------

    def _alipay_answer(self, method: str, response: dict[str, str]) -> str:
        text = json.dumps(response, separators=(",", ":"), ensure_ascii=False)
        signature = alipay.rsa2_sign(text, self.alipay_key)
        return f'{{"{alipay.response_key(method)}":{text},"sign":"{signature}"}}'

    def _alipay(self, body: bytes) -> str:
        fields = dict(parse_qsl(body.decode()))
        method = fields.get("method", "")
        if not alipay.rsa2_verify(
            alipay.sign_text(fields), fields.get("sign", ""), self.app_key.public_key()
        ):
            self.rejected.append(method)
            return self._alipay_answer(
                method,
                {"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-signature"},
            )
        biz = json.loads(fields.get("biz_content", "{}"))
        number = biz.get("out_trade_no", "")
        ok = {"code": "10000", "msg": "Success", "out_trade_no": number}
        if method == "alipay.trade.pay":
            order = self._pay("alipay", number, Decimal(biz["total_amount"]), biz["auth_code"])
            self._saw("alipay pay")
            if order.outcome == "hold" and order.pays == 1:
                self.released.wait(60)
            if order.state == "paid" and order.outcome != "error_after_charge":
                return self._alipay_answer(method, {**ok, "trade_no": order.transaction_id})
            if order.state == "declined":
                return self._alipay_answer(
                    method,
                    {
                        "code": "40004",
                        "msg": "Business Failed",
                        "sub_code": "ACQ.BUYER_BALANCE_NOT_ENOUGH",
                        "sub_msg": "买家余额不足",
                    },
                )
            if order.outcome == "error_after_charge":
                return self._alipay_answer(
                    method, {"code": "20000", "msg": "Service Currently Unavailable"}
                )
            return self._alipay_answer(
                method, {"code": "10003", "msg": "等待用户付款", "out_trade_no": number}
            )
        if method == "alipay.trade.query":
            self._saw("alipay query")
            found = self._query(number)
            if found is None:
                return self._alipay_answer(
                    method,
                    {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_NOT_EXIST"},
                )
            status = {
                "paid": "TRADE_SUCCESS",
                "waiting": "WAIT_BUYER_PAY",
                "declined": "TRADE_CLOSED",
                "closed": "TRADE_CLOSED",
            }[found.state]
            return self._alipay_answer(
                method, {**ok, "trade_status": status, "trade_no": found.transaction_id}
            )
        if method == "alipay.trade.cancel":
            self._saw("alipay cancel")
            found = self._revoke(number)
            action = "refund" if found is not None and found.refunds else "close"
            return self._alipay_answer(method, {**ok, "retry_flag": "N", "action": action})
        if method == "alipay.trade.refund":
            self._saw("alipay refund")
            made = self._refund(number, biz["out_request_no"], Decimal(biz["refund_amount"]))
            if isinstance(made, str):
                return self._alipay_answer(
                    method, {"code": "40004", "msg": "Business Failed", "sub_code": f"ACQ.{made}"}
                )
            return self._alipay_answer(
                method, {**ok, "fund_change": "N" if made.requests > 1 else "Y"}
            )
        if method == "alipay.trade.fastpay.refund.query":
            self._saw("alipay refund query")
            with self.lock:
                known = self.refunds.get(biz.get("out_request_no", ""))
            if known is None:
                return self._alipay_answer(method, ok)
            return self._alipay_answer(
                method,
                {**ok, "refund_amount": str(known.amount), "refund_status": "REFUND_SUCCESS"},
            )
        return self._alipay_answer(method, {"code": "40004", "msg": "no such method"})


WECHAT_BILL_HEADER = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,"
    "交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,"
    "充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,"
    "费率备注"
)


def _wechat_bill(orders: list[Order], refunds: list[tuple[Refund, Order]], day: str) -> str:
    def row(order: Order, state: str, amount: Decimal, refund: Refund | None) -> str:
        cells = [
            f"{day} 12:00:00", "wx2421b1c4370ec43b", "10000100", "0", "",
            order.transaction_id, order.out_trade_no, "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
            "MICROPAY", state, "CFT", "CNY", f"{order.amount:.2f}", "0.00",
            refund.refund_id if refund else "0", refund.out_refund_no if refund else "0",
            f"{amount:.2f}" if refund else "0.00", "0.00", "ORIGINAL" if refund else "",
            "SUCCESS" if refund else "", "storegate sale", "", "0.00", "0.60%",
            f"{order.amount:.2f}", f"{amount:.2f}" if refund else "0.00", "",
        ]  # fmt: skip
        return ",".join(f"`{c}" for c in cells)

    lines = [WECHAT_BILL_HEADER]
    for order in orders:
        revoked = order.state == "closed" and order.refunds
        lines.append(row(order, "REVOKED" if revoked else "SUCCESS", order.amount, None))
    for refund, order in refunds:
        lines.append(row(order, "REFUND", refund.amount, refund))
    total = sum((o.amount for o in orders), Decimal(0))
    back = sum((r.amount for r, _ in refunds), Decimal(0))
    lines.append(
        "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"
    )
    lines.append(f"`{len(orders)},`{total:.2f},`{back:.2f},`0.00,`0.00,`{total:.2f},`{back:.2f}")
    return "\n".join(lines) + "\n"


ALIPAY_BILL_HEADER = (
    "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,"
    "对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,"
    "商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,"
    "退款批次号/请求号,服务费（元）,分润（元）,备注"
)


def _alipay_bill(orders: list[Order], refunds: list[tuple[Refund, Order]], day: str) -> str:
    def row(order: Order, kind: str, amount: Decimal, refund_no: str) -> str:
        cells = [
            order.transaction_id, order.out_trade_no, kind, "storegate sale",
            f"{day} 12:00:00", f"{day} 12:00:01", "", "", "", "", "cus***@example.com",
            f"{amount:.2f}", f"{amount:.2f}", "0.00", "0.00", "0.00", "0.00", "0.00", "",
            "0.00", "0.00", refund_no, "0.00", "0.00", "",
        ]  # fmt: skip
        return ",".join(cells)

    lines = [
        "#支付宝业务明细查询",
        "#账号：[20880000000000000156]",
        f"#起始日期：[{day} 00:00:00]   终止日期：[{day} 23:59:59]",
        "#-----------------------------------------业务明细列表----------------------------------------",
        ALIPAY_BILL_HEADER,
    ]
    for order in orders:
        if not (order.state == "closed" and order.refunds):
            lines.append(row(order, "交易", order.amount, ""))
    for refund, order in refunds:
        lines.append(row(order, "退款", -refund.amount, refund.out_refund_no))
    lines.append(
        "#-----------------------------------------业务明细列表结束------------------------------------"
    )
    return "\n".join(lines) + "\n"
