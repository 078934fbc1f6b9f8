"""Wallet settlement statements (对账单) and their reconciliation with the boxes' journals.

Owns reading a provider's statement file into `StatementLine`s and matching them with the
journal's `payment` records (gateway/payments: each wallet payment's and refund's state
changes) per store and day. Pure: text in, lines and a `Table` out; `cloud.payments_cli`
does the files and the database.

Formats, as the providers document their downloadable statements:
- WeChat Pay `downloadbill` (bill_type ALL): a header line `交易时间,公众账号ID,商户号,...`,
  one line per transaction whose every field starts with a backtick (`` `SUCCESS``), then a
  summary header `总交易单数,...` and its line. 交易状态 SUCCESS is a payment, REFUND a
  refund (微信退款单号, 商户退款单号, 退款金额), REVOKED a payment reversed (no money moved).
- Alipay 账务明细/业务明细 (trade details): comment lines beginning `#`, a header line
  `支付宝交易号,商户订单号,业务类型,...`, one line per transaction; 业务类型 交易 is a
  payment, 退款 a refund (退款批次号/请求号 = our refund number; its amount may be written
  negative). UTF-8 (with or without BOM) or GB18030, as Alipay exports it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from cloud.db import Database
from cloud.reports import Table
from gateway.errors import ProblemsError, UsageError

Provider = Literal["wechat", "alipay"]
WECHAT_HEADER = "交易时间"
ALIPAY_HEADER = "支付宝交易号"


@dataclass(frozen=True)
class StatementLine:
    provider: str
    business_day: str
    kind: Literal["payment", "refund"]
    transaction_id: str  # the provider's payment transaction
    out_trade_no: str  # our order number
    refund_no: str  # our refund number ("" for a payment)
    amount: Decimal


class StatementError(ProblemsError):
    def __init__(self, source: str, problems: list[str]) -> None:
        super().__init__(
            source,
            problems,
            headline="not a settlement statement this command reads ({count})",
            fix="download the statement again from the provider's merchant platform "
            "(WeChat Pay: 交易账单 ALL; Alipay: 业务明细) and pass --provider to match it",
        )


def decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise UnicodeDecodeError("utf-8", data, 0, 1, "neither UTF-8 nor GB18030")


def parse(provider: Provider, text: str, source: str) -> list[StatementLine]:
    return _wechat(text, source) if provider == "wechat" else _alipay(text, source)


def read_statement(provider: str, data: bytes, source: str) -> list[StatementLine]:
    """A statement file's bytes as the provider exports it (UTF-8 or GB18030), read into
    its payment and refund lines (`cloud payments import` and the payments page)."""
    if provider not in ("wechat", "alipay"):
        raise UsageError(f"no provider {provider!r}", where="provider", fix="wechat or alipay")
    try:
        text = decode(data)
    except UnicodeDecodeError:
        raise UsageError(
            f"{source} is neither UTF-8 nor GB18030 text",
            where="cloud payments import",
            fix="pass the statement CSV as the provider exports it",
        ) from None
    chosen: Provider = "wechat" if provider == "wechat" else "alipay"
    return parse(chosen, text, source)


def store_lines(db: Database, store: str, lines: list[StatementLine], source: str, now: str) -> int:
    """Keep a statement's lines for `store`, each line once however often the file is
    imported; how many were new."""
    added = 0
    with db.transaction():
        for line in lines:
            key = (line.provider, store, line.kind, line.out_trade_no, line.refund_no)
            if db.one(
                "SELECT 1 FROM settlement_line WHERE provider = ? AND store = ? AND kind = ? "
                "AND out_trade_no = ? AND refund_no = ?",
                key,
            ):
                continue
            db.execute(
                "INSERT INTO settlement_line (provider, store, business_day, kind, "
                "transaction_id, out_trade_no, refund_no, amount, source, imported_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    line.provider,
                    store,
                    line.business_day,
                    line.kind,
                    line.transaction_id,
                    line.out_trade_no,
                    line.refund_no,
                    str(line.amount),
                    source,
                    now,
                ),
            )
            added += 1
    return added


def _amount(value: str, where: str, problems: list[str]) -> Decimal:
    try:
        amount = Decimal(value.strip().lstrip("`").replace(",", ""))
    except InvalidOperation:
        problems.append(f"{where}: {value!r} is not an amount")
        return Decimal(0)
    if not amount.is_finite():
        problems.append(f"{where}: {value!r} is not an amount")
        return Decimal(0)
    return amount


def _wechat(text: str, source: str) -> list[StatementLine]:
    rows = list(csv.reader(io.StringIO(text)))
    start = next((i for i, r in enumerate(rows) if r and r[0].strip() == WECHAT_HEADER), None)
    if start is None:
        raise StatementError(source, [f"no header line beginning {WECHAT_HEADER}"])
    header = [h.strip() for h in rows[start]]
    need = ("交易时间", "微信订单号", "商户订单号", "交易状态", "应结订单金额")
    missing = [n for n in (*need, "商户退款单号", "退款金额") if n not in header]
    if missing:
        raise StatementError(source, [f"line {start + 1}: no column {', '.join(missing)}"])
    at = {name: header.index(name) for name in header}
    lines: list[StatementLine] = []
    problems: list[str] = []
    for number, row in enumerate(rows[start + 1 :], start=start + 2):
        if not row or row[0].strip() == "总交易单数":
            break
        if len(row) < len(header):
            problems.append(f"line {number}: {len(row)} fields, the header has {len(header)}")
            continue
        cell = {name: row[i].strip().lstrip("`") for name, i in at.items()}
        where = f"line {number}"
        day = cell["交易时间"][:10]
        state = cell["交易状态"]
        if state == "SUCCESS":
            amount = _amount(cell["应结订单金额"], where, problems)
            kind: Literal["payment", "refund"] = "payment"
            refund_no = ""
        elif state == "REFUND":
            amount = abs(_amount(cell["退款金额"], where, problems))
            kind, refund_no = "refund", cell["商户退款单号"]
        elif state == "REVOKED":
            continue  # reversed: no money moved
        else:
            problems.append(f"{where}: 交易状态 {state!r} is not SUCCESS, REFUND or REVOKED")
            continue
        lines.append(
            StatementLine(
                "wechat", day, kind, cell["微信订单号"], cell["商户订单号"], refund_no, amount
            )
        )
    if problems:
        raise StatementError(source, problems)
    return lines


def _alipay(text: str, source: str) -> list[StatementLine]:
    rows = [r for r in csv.reader(io.StringIO(text)) if r and not r[0].startswith("#")]
    if not rows or rows[0][0].strip() != ALIPAY_HEADER:
        raise StatementError(source, [f"no header line beginning {ALIPAY_HEADER}"])
    header = [h.strip() for h in rows[0]]
    need = (
        "支付宝交易号",
        "商户订单号",
        "业务类型",
        "完成时间",
        "订单金额（元）",
        "退款批次号/请求号",
    )
    missing = [n for n in need if n not in header]
    if missing:
        raise StatementError(source, [f"the header has no column {', '.join(missing)}"])
    at = {name: header.index(name) for name in header}
    lines: list[StatementLine] = []
    problems: list[str] = []
    for number, row in enumerate(rows[1:], start=2):
        if len(row) < len(header):
            problems.append(f"data line {number}: {len(row)} fields, the header has {len(header)}")
            continue
        cell = {name: row[i].strip() for name, i in at.items()}
        where = f"data line {number}"
        amount = abs(_amount(cell["订单金额（元）"], where, problems))
        kind_text = cell["业务类型"]
        if kind_text == "交易":
            kind: Literal["payment", "refund"] = "payment"
            refund_no = ""
        elif kind_text == "退款":
            kind, refund_no = "refund", cell["退款批次号/请求号"]
        else:
            problems.append(f"{where}: 业务类型 {kind_text!r} is not 交易 or 退款")
            continue
        lines.append(
            StatementLine(
                "alipay",
                cell["完成时间"][:10],
                kind,
                cell["支付宝交易号"],
                cell["商户订单号"],
                refund_no,
                amount,
            )
        )
    if problems:
        raise StatementError(source, problems)
    return lines


# -- reconciliation ---------------------------------------------------------------------------


@dataclass(frozen=True)
class JournalPayment:
    """A wallet payment or refund as its last `payment` record left it."""

    store: str
    box: str
    business_day: str
    provider: str
    kind: str
    state: str
    amount: Decimal
    out_trade_no: str  # a refund: its refund number
    transaction_id: str
    refund_of: str
    reason: str


def last_states(records: Iterable[tuple[str, str, dict[str, Any]]]) -> list[JournalPayment]:
    """(store, box, body) of `payment` records in journal order -> each one's last state."""
    last: dict[tuple[str, str, str], tuple[str, str, dict[str, Any]]] = {}
    for store, box, body in records:
        last[(store, box, body["payment_id"])] = (store, box, body)
    out = []
    for store, box, body in last.values():
        out.append(
            JournalPayment(
                store=store,
                box=box,
                business_day=str(body.get("business_day", "")),
                provider=body["provider"],
                kind=body.get("kind", "payment"),
                state=body["state"],
                amount=Decimal(body["amount"]),
                out_trade_no=body["out_trade_no"],
                transaction_id=body.get("transaction_id", ""),
                refund_of=body.get("refund_of", ""),
                reason=body.get("reason", ""),
            )
        )
    return out


COLUMNS = [
    "store",
    "day",
    "provider",
    "kind",
    "our number",
    "transaction",
    "journal",
    "journal amount",
    "statement amount",
    "status",
]


def reconcile(
    journal: Sequence[JournalPayment],
    statement: Sequence[tuple[str, StatementLine]],
    *,
    everything: bool = False,
) -> Table:
    """Each journal payment against the statement lines of its store (`statement` is
    (store, line)). Status: `matched`; `refunded` (a refund the statement confirms);
    `in doubt` (pending or in doubt at the box: always listed); `not in statement` (paid at
    the box, absent from an imported statement of that provider, store and day); `no
    statement` (none imported for that day); `amount differs`; `not in journal` (the
    provider has money the boxes never recorded as paid). Matched rows only with
    `everything`."""
    by_key: dict[tuple[str, str, str, str], StatementLine] = {}
    covered: set[tuple[str, str, str]] = set()
    for store, given in statement:
        number = given.refund_no if given.kind == "refund" else given.out_trade_no
        by_key[(store, given.provider, given.kind, number)] = given
        covered.add((store, given.provider, given.business_day))
    table = Table("Wallet payments against the providers' statements", list(COLUMNS))
    seen: set[tuple[str, str, str, str]] = set()
    for p in sorted(journal, key=lambda p: (p.store, p.business_day, p.provider, p.out_trade_no)):
        key = (p.store, p.provider, p.kind, p.out_trade_no)
        line = by_key.get(key)
        if line is not None:
            seen.add(key)
        status = _status(p, line, (p.store, p.provider, p.business_day) in covered)
        if status is None or (status == "matched" and not everything):
            continue
        table.rows.append(
            [
                p.store,
                p.business_day,
                p.provider,
                p.kind,
                p.out_trade_no,
                p.transaction_id or (line.transaction_id if line else ""),
                p.state + (f" ({p.reason})" if p.state != "paid" and p.reason else ""),
                p.amount,
                line.amount if line is not None else "",
                status,
            ]
        )
    for key, left in sorted(by_key.items()):
        if key in seen:
            continue
        table.rows.append(
            [
                key[0],
                left.business_day,
                left.provider,
                left.kind,
                key[3],
                left.transaction_id,
                "",
                "",
                left.amount,
                "not in journal",
            ]
        )
    return table


def _status(p: JournalPayment, line: StatementLine | None, covered: bool) -> str | None:
    if p.state in ("pending", "in_doubt"):
        return "in doubt"
    if p.state != "paid":
        return None if line is None else "charged, not paid at box"  # declined/revoked here
    if line is None:
        return "not in statement" if covered else "no statement"
    if line.amount != p.amount:
        return "amount differs"
    return "refunded" if p.kind == "refund" else "matched"
