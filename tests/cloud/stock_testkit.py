"""Helpers for the stock tests: lane sale/refund bodies built with the lane's own models,
box journals stamped at their own days, and `cloud` run in-process through its main."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cloud_testkit import day_clock

from cloud.cli import main
from gateway.database import open_database
from gateway.journal.store import Journal
from gateway.lane.records import (
    LaneRef,
    RefundBody,
    RefundLine,
    SaleBody,
    SaleLine,
    StaffRef,
    Tender,
    Totals,
)

CASHIER = StaffRef(id="c1", name="Cashier 1", role="cashier")
Z = Decimal("0.00")


@dataclass(frozen=True)
class Sold:
    """One line rung up: `unit` as the catalog has it (each, kg, g); weighed lines carry
    their weight (None: a price-embedded label without weight)."""

    sku: str
    quantity: str = "1"
    unit: str = "each"
    weight: str | None = None
    amount: str = "1.00"


def sale_body(store: str, box: str, receipt: str, day: date, lines: list[Sold]) -> dict[str, Any]:
    sale_lines = [
        SaleLine(
            index=i,
            sku=s.sku,
            name=f"name of {s.sku}",
            category="grocery",
            unit=s.unit,
            quantity=Decimal(s.weight or s.quantity),
            weight=None if s.weight is None else Decimal(s.weight),
            unit_price=Decimal(s.amount),
            list_amount=Decimal(s.amount),
            amount=Decimal(s.amount),
            tax_class="std",
            tax_rate=Decimal("0"),
            tax_inclusive=True,
            tax=Z,
            total=Decimal(s.amount),
        )
        for i, s in enumerate(lines)
    ]
    total = sum((line.total for line in sale_lines), Z)
    return SaleBody(
        receipt_id=receipt,
        lane=LaneRef(store=store, box=box),
        shift_id="s1",
        business_day=str(day),
        local_time=f"{day}T12:00:00",
        staff=CASHIER,
        catalog_version=1,
        currency="CNY",
        places=2,
        lines=sale_lines,
        totals=Totals(
            list_total=total,
            item_discounts=Z,
            basket_discounts=Z,
            moling=Z,
            tax=Z,
            total=total,
            cash_rounding=Z,
            due=total,
            savings=Z,
        ),
        taxes=[],
        tenders=[Tender(type="cash", amount=total, given=total, change=Z)],
        change=Z,
    ).to_body()


def refund_body(
    store: str, box: str, refund: str, day: date, sku: str, quantity: str, weight: str | None = None
) -> dict[str, Any]:
    return RefundBody(
        refund_id=refund,
        lane=LaneRef(store=store, box=box),
        shift_id="s1",
        business_day=str(day),
        local_time=f"{day}T13:00:00",
        staff=CASHIER,
        with_receipt=False,
        currency="CNY",
        places=2,
        lines=[
            RefundLine(
                original_index=0,
                sku=sku,
                name=f"name of {sku}",
                category="grocery",
                quantity=Decimal(weight or quantity),
                weight=None if weight is None else Decimal(weight),
                amount=Decimal("1.00"),
                tax_class="std",
                tax_rate=Decimal("0"),
                tax_inclusive=True,
                tax=Z,
            )
        ],
        total=Decimal("1.00"),
        taxes=[],
        tenders=[Tender(type="cash", amount=Decimal("1.00"))],
        reason="customer changed mind",
    ).to_body()


class BoxJournal:
    """A box's own journal file; each day's records stamped at that day's noon UTC."""

    def __init__(self, path: Path) -> None:
        self.db = open_database(path)
        self.journal = Journal(self.db)

    def add(self, day: date, records: list[tuple[str, dict[str, Any]]]) -> None:
        Journal(self.db, clock=day_clock(day)).append_many(records)


def cloud(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`cloud ARGS...` through its real main, in this process; (status, stdout, stderr)."""
    capsys.readouterr()
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def ok(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    status, out, err = cloud(capsys, *args)
    assert status == 0, f"cloud {' '.join(args)} -> {status}: {err}"
    return out
