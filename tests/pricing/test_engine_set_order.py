"""Found by the scan-order property once quantity tiers joined its pool: a set promotion
took its unit from whichever of two equal lines came first, and what it left of a line
is rounded with the line's other units (a percent of 1.90 x 2 on one line is 1.27, on two
lines 0.63 + 0.63), so the order of scanning moved the total by a cent."""

from __future__ import annotations

import random
from decimal import Decimal

from pricing_catalogs import AT, catalog

from gateway.pricing import Basket, BasketLine, price_basket

PROMOTIONS = [
    {
        "type": "buy_get",
        "id": "half2",
        "name": "2nd half",
        "target": {"categories": ["food"]},
        "buy": 1,
        "get": 1,
        "percent": "50",
        "max_discount": "3.00",
    },
    {
        "type": "percent_off",
        "id": "p33",
        "name": "a third off chocolate",
        "target": {"categories": ["choc"]},
        "percent": "33.3333",
    },
]


def test_a_set_takes_from_the_line_with_more_units_whatever_the_scan_order() -> None:
    """Juice 2.00 x 5 and milk chocolate 1.90 as 1 + 2 units: 2nd half pairs the six most
    expensive food units — five juices and one chocolate, taken from the two-unit line —
    and the two chocolates left take a third off on their own lines: 0.63 + 0.63."""
    cat = catalog(PROMOTIONS)
    lines = [BasketLine("A", quantity=Decimal(1)) for _ in range(5)]
    lines += [BasketLine("C1", quantity=Decimal(1)), BasketLine("C1", quantity=Decimal(2))]
    rnd = random.Random(7)
    totals = set()
    for _ in range(40):
        rnd.shuffle(lines)
        priced = price_basket(Basket(tuple(lines), AT), cat)
        totals.add(priced.total)
        two = next(ln for ln in priced.lines if ln.sku == "C1" and ln.quantity == 2)
        assert {a.promotion for a in two.adjustments} == {"half2", "p33"}
    assert totals == {Decimal("11.49")}
