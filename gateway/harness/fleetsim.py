"""A simulated store day, as the lane would journal it, for tests, benchmarks and demos.

Owns nothing persistent: it builds journal bodies with the lane's own models
(`gateway.lane.records`), so what head office ingests and reports on in tests has exactly
the shape real boxes send. Deterministic for a given seed. Money is Decimal throughout.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from gateway.lane.records import (
    LaneRef,
    LineAdjustment,
    MemberRef,
    NoSaleBody,
    RefundBody,
    RefundLine,
    SaleBody,
    SaleLine,
    ShiftOpenBody,
    StaffRef,
    TaxLine,
    Tender,
    Totals,
    VoidBody,
)
from gateway.money import Rounding, round_money

RATE = Decimal("8.1")


@dataclass(frozen=True)
class Item:
    sku: str
    name: str
    category: str
    price: Decimal


ITEMS = [
    Item(f"SKU{n:04d}", f"item {n}", category, Decimal(price))
    for n, (category, price) in enumerate(
        [
            ("dairy", "1.95"),
            ("dairy", "2.40"),
            ("bakery", "3.20"),
            ("bakery", "0.90"),
            ("produce", "1.10"),
            ("produce", "4.50"),
            ("drinks", "1.50"),
            ("drinks", "12.90"),
            ("household", "6.75"),
            ("household", "23.00"),
            ("snacks", "2.10"),
            ("snacks", "3.35"),
        ]
        * 3
    )
]
CASHIERS = [StaffRef(id=f"c{n}", name=f"Cashier {n}", role="cashier") for n in range(1, 5)]
MEMBERS = [f"M{n:05d}" for n in range(1, 301)]
PROMOTED = {"SKU0002", "SKU0006"}


def _tax(gross: Decimal) -> Decimal:
    return round_money(gross * RATE / (Decimal(100) + RATE), 2, Rounding.HALF_EVEN)


def _line(index: int, item: Item, quantity: int, promotion: str | None) -> SaleLine:
    list_amount = item.price * quantity
    adjustments = []
    amount = list_amount
    if promotion and item.sku in PROMOTED:
        discount = round_money(list_amount * Decimal("0.20"), 2, Rounding.HALF_EVEN)
        adjustments.append(
            LineAdjustment(kind="promotion", amount=-discount, label="20% off", promotion=promotion)
        )
        amount = list_amount - discount
    return SaleLine(
        index=index,
        sku=item.sku,
        name=item.name,
        category=item.category,
        unit="pc",
        quantity=Decimal(quantity),
        unit_price=item.price,
        list_amount=list_amount,
        adjustments=adjustments,
        amount=amount,
        tax_class="std",
        tax_rate=RATE,
        tax_inclusive=True,
        tax=_tax(amount),
        total=amount,
    )


@dataclass
class StoreDay:
    """One box's day of trading: yields (kind, body) in journal order."""

    store: str
    box: str
    day: date
    sales: int
    seed: int = 0
    promotion: str | None = None
    refund_share: float = 0.02
    void_share: float = 0.01
    no_sale_share: float = 0.005

    def records(self) -> Iterator[tuple[str, dict[str, Any]]]:
        rng = random.Random(f"{self.store}/{self.box}/{self.day}/{self.seed}")
        lane = LaneRef(store=self.store, box=self.box)
        shift = f"{self.box}-{self.day}-1"
        opening = datetime.combine(self.day, datetime.min.time()) + timedelta(hours=8)
        cashier = rng.choice(CASHIERS)
        yield (
            "shift_open",
            ShiftOpenBody(
                shift_id=shift,
                lane=lane,
                business_day=str(self.day),
                local_time=opening.isoformat(),
                staff=cashier,
                method="pin",
                opening_float=Decimal("200.00"),
            ).to_body(),
        )
        step = timedelta(hours=12) / max(1, self.sales)
        for n in range(self.sales):
            at = opening + step * n + timedelta(seconds=rng.randint(0, 59))
            staff = rng.choice(CASHIERS)
            sale = self._sale(rng, lane, shift, at, staff, n)
            yield "sale", sale.to_body()
            roll = rng.random()
            if roll < self.refund_share:
                yield "refund", self._refund(rng, lane, shift, at, staff, sale).to_body()
            elif roll < self.refund_share + self.void_share:
                yield (
                    "void",
                    VoidBody(
                        receipt_id=f"{self.box}-V{n}",
                        lane=lane,
                        shift_id=shift,
                        business_day=str(self.day),
                        local_time=at.isoformat(),
                        staff=staff,
                        after_tender=False,
                        lines=list(sale.lines),
                        total=sale.totals.total,
                        reason="customer left",
                    ).to_body(),
                )
            if rng.random() < self.no_sale_share:
                yield (
                    "no_sale",
                    NoSaleBody(
                        lane=lane,
                        shift_id=shift,
                        business_day=str(self.day),
                        local_time=at.isoformat(),
                        staff=staff,
                        reason="change",
                    ).to_body(),
                )

    def _sale(
        self, rng: random.Random, lane: LaneRef, shift: str, at: datetime, staff: StaffRef, n: int
    ) -> SaleBody:
        chosen = rng.sample(ITEMS, rng.randint(1, 4))
        lines = [
            _line(i, item, rng.choice((1, 1, 1, 2, 3)), self.promotion)
            for i, item in enumerate(chosen)
        ]
        total = sum((line.total for line in lines), Decimal("0.00"))
        list_total = sum((line.list_amount for line in lines), Decimal("0.00"))
        tax = sum((line.tax for line in lines), Decimal("0.00"))
        member = MemberRef(id=rng.choice(MEMBERS), group="standard") if rng.random() < 0.4 else None
        promos = sorted({a.promotion for line in lines for a in line.adjustments if a.promotion})
        return SaleBody(
            receipt_id=f"{self.box}-{self.day:%Y%m%d}-{n:05d}",
            lane=lane,
            shift_id=shift,
            business_day=str(self.day),
            local_time=at.isoformat(),
            staff=staff,
            member=member,
            catalog_version=1,
            currency="CHF",
            places=2,
            lines=lines,
            promotions=promos,
            totals=Totals(
                list_total=list_total,
                item_discounts=total - list_total,
                basket_discounts=Decimal("0.00"),
                moling=Decimal("0.00"),
                tax=tax,
                total=total,
                cash_rounding=Decimal("0.00"),
                due=total,
                savings=list_total - total,
            ),
            taxes=[
                TaxLine(
                    tax_class="std",
                    name="VAT 8.1%",
                    rate=RATE,
                    inclusive=True,
                    net=total - tax,
                    tax=tax,
                    gross=total,
                )
            ],
            tenders=[Tender(type="card", amount=total, card="123456******7890")],
            change=Decimal("0.00"),
        )

    def _refund(
        self,
        rng: random.Random,
        lane: LaneRef,
        shift: str,
        at: datetime,
        staff: StaffRef,
        sale: SaleBody,
    ) -> RefundBody:
        line = sale.lines[0]
        return RefundBody(
            refund_id=f"{sale.receipt_id}-R",
            lane=lane,
            shift_id=shift,
            business_day=str(self.day),
            local_time=at.isoformat(),
            staff=staff,
            with_receipt=True,
            original_receipt_id=sale.receipt_id,
            member=sale.member,
            currency="CHF",
            places=2,
            lines=[
                RefundLine(
                    original_index=0,
                    sku=line.sku,
                    name=line.name,
                    category=line.category,
                    quantity=line.quantity,
                    amount=line.total,
                    tax_class="std",
                    tax_rate=RATE,
                    tax_inclusive=True,
                    tax=line.tax,
                )
            ],
            total=line.total,
            taxes=[
                TaxLine(
                    tax_class="std",
                    name="VAT 8.1%",
                    rate=RATE,
                    inclusive=True,
                    net=line.total - line.tax,
                    tax=line.tax,
                    gross=line.total,
                )
            ],
            tenders=[Tender(type="card", amount=line.total)],
            reason="damaged",
        )
