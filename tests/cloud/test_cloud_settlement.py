"""Reconciliation rules on their own (`cloud.settlement.reconcile`): each status."""

from __future__ import annotations

from decimal import Decimal

from cloud.settlement import JournalPayment, StatementLine, reconcile

DAY = "2026-12-02"


def paid(number: str, amount: str = "1.75", state: str = "paid", day: str = DAY) -> JournalPayment:
    return JournalPayment(
        "store-1", "box-1", day, "wechat", "payment", state, Decimal(amount), number,
        f"t-{number}", "", "" if state == "paid" else "a reason",
    )  # fmt: skip


def line(number: str, amount: str = "1.75", day: str = DAY) -> tuple[str, StatementLine]:
    return "store-1", StatementLine(
        "wechat", day, "payment", f"t-{number}", number, "", Decimal(amount)
    )


def test_each_status() -> None:
    journal = [
        paid("a"),  # matched
        paid("b", "2.00"),  # amount differs
        paid("c"),  # not in statement (the day has a statement)
        paid("d", day="2026-12-01"),  # no statement that day
        paid("e", state="in_doubt"),
        paid("f", state="revoked"),  # revoked here, charged there
        paid("g", state="declined"),  # declined, and the provider agrees: not listed
    ]
    statement = [line("a"), line("b"), line("f"), line("z")]
    table = reconcile(journal, statement)
    status = {row[4]: row[-1] for row in table.rows}
    assert status == {
        "b": "amount differs",
        "c": "not in statement",
        "d": "no statement",
        "e": "in doubt",
        "f": "charged, not paid at box",
        "z": "not in journal",
    }
    assert {row[4]: row[-1] for row in reconcile(journal, statement, everything=True).rows}[
        "a"
    ] == "matched"
