"""Deposits (Pfand / 押金) and empties returns (Leergut), hand-computed, then property-tested.

A product's `deposit` names a deposit product (flagged `deposit`); each unit sold adds the
deposit's price to the line's total, taxed at the line's rate (in Germany the Pfand shares
the drink's VAT rate), outside every promotion, threshold, basket discount and 抹零 share.
A deposit product rung up on its own is an empties return: a negative line at its own tax
class. docs/pricing.md "Deposits".
"""

from __future__ import annotations

import copy
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pricing_catalogs import AT, BASE, D, line
from test_engine_reference import POOL, manual_discounts, money_rules
from test_incremental import MEMBER, operations, run

from gateway.catalog.catalog import Catalog, build_catalog
from gateway.catalog.document import CatalogError, parse_document
from gateway.money import ZERO, split_units
from gateway.pricing import Basket, BasketLine, ManualDiscount, PricedBasket, price_basket

DEPOSIT_PRODUCTS: list[dict[str, Any]] = [
    {
        "sku": "PFAND-025",
        "name": "Pfand",
        "names": {"zh": "押金"},
        "plu": "9025",
        "price": "0.25",
        "tax_class": "std",
        "category": "food",
        "flags": ["deposit"],
    },
    {
        "sku": "PFAND-008",
        "name": "Pfand Mehrweg",
        "plu": "9008",
        "price": "0.08",
        "tax_class": "std",
        "category": "food",
        "flags": ["deposit"],
    },
]
BOTTLES: list[dict[str, Any]] = [
    {
        "sku": "COLA",
        "name": "Cola 0.5 l",
        "plu": "501",
        "price": "1.50",
        "tax_class": "std",
        "category": "food",
        "deposit": {"sku": "PFAND-025"},
    },
    {  # net-priced (exclusive tax): the deposit is read net too, and taxed on top
        "sku": "BEER",
        "name": "Beer",
        "price": "1.00",
        "tax_class": "net",
        "category": "food",
        "deposit": {"sku": "PFAND-008"},
    },
]


def document(promotions: list[dict[str, Any]] | None = None, **money: Any) -> dict[str, Any]:
    doc = copy.deepcopy(BASE)
    doc["products"].extend(copy.deepcopy(DEPOSIT_PRODUCTS + BOTTLES))
    doc["promotions"] = promotions or []
    doc["money"].update(money)
    return doc


def deposit_catalog(promotions: list[dict[str, Any]] | None = None, **money: Any) -> Catalog:
    return build_catalog(parse_document(document(promotions, **money)))


def priced(cat: Catalog, *lines: BasketLine, **kw: Any) -> PricedBasket:
    return price_basket(Basket(tuple(lines), AT, **kw), cat)


TWENTY_OFF_ALL = {
    "type": "percent_off",
    "id": "all20",
    "name": "-20%",
    "target": {"all_items": True},
    "percent": "20",
}


def test_a_bottle_carries_its_deposit_per_unit_in_its_total() -> None:
    # cola 1.50 x 2 = 3.00, deposit 0.25 x 2 = 0.50: total 3.50
    # tax std 8.1% inclusive, backed out of the whole line: 3.50 x 8.1 / 108.1 = 0.2622 -> 0.26
    basket = priced(deposit_catalog(), line("COLA", 2))
    (cola,) = basket.lines
    assert (cola.list_amount, cola.deposit, cola.deposit_sku) == (D("3.00"), D("0.50"), "PFAND-025")
    assert (cola.total, cola.tax, basket.total, basket.tax) == (
        D("3.50"),
        D("0.26"),
        D("3.50"),
        D("0.26"),
    )
    assert (basket.deposits, basket.empties, basket.list_total) == (D("0.50"), ZERO, D("3.00"))


def test_a_promotion_discounts_the_bottle_never_the_deposit() -> None:
    # 20% off: 1.50 x 20% = 0.30 a unit, x 2 = 0.60 -> 2.40, plus the deposit 0.50 = 2.90
    basket = priced(deposit_catalog([TWENTY_OFF_ALL]), line("COLA", 2))
    assert [a.amount for a in basket.lines[0].adjustments] == [D("-0.60")]
    assert basket.total == D("2.90")
    assert basket.item_discounts == D("0.60")


def test_a_deposit_does_not_count_towards_a_threshold() -> None:
    spend = {
        "type": "basket_threshold",
        "id": "t350",
        "name": "1 off 3.50",
        "target": {"all_items": True},
        "tiers": [{"threshold": "3.50", "amount": "1.00"}],
    }
    # cola x 2 costs 3.00 (the 0.50 deposit is not spend): 3.00 < 3.50, nothing off
    assert priced(deposit_catalog([spend]), line("COLA", 2)).total == D("3.50")
    # x 3: 4.50 >= 3.50: 1.00 off the cola, the deposit 0.75 on top: 3.50 + 0.75 = 4.25
    assert priced(deposit_catalog([spend]), line("COLA", 3)).total == D("4.25")


def test_a_basket_discount_leaves_the_deposit_out() -> None:
    # 10% of what the cola costs (3.00): 0.30 -> 2.70, plus the deposit 0.50 = 3.20
    basket = priced(deposit_catalog(), line("COLA", 2), discount=ManualDiscount(percent=D("10")))
    assert (basket.basket_discounts, basket.total) == (D("0.30"), D("3.20"))


def test_moling_rounds_the_amount_due_and_shares_it_over_the_items_only() -> None:
    # cola 1.50 + deposit 0.25 + milk chocolate 1.90 = 3.65 due; 抹零 to 0.10: 0.05 off,
    # shared over cola 1.50 and chocolate 1.90 (3.40), not the deposit:
    #   exact 0.0220 / 0.0279 -> 0.02 / 0.02, the cent left to the larger remainder (0.79)
    #   cola -0.02 (1.48 + 0.25 = 1.73), chocolate -0.03 (1.87): 3.60
    cat = deposit_catalog(currency="CNY", moling={"increment": "0.10"})
    basket = priced(cat, line("COLA"), line("C1"))
    cola, choc = basket.lines
    assert [a.amount for a in cola.adjustments] == [D("-0.02")]
    assert [a.amount for a in choc.adjustments] == [D("-0.03")]
    assert (cola.total, choc.total, basket.total, basket.moling) == (
        D("1.73"),
        D("1.87"),
        D("3.60"),
        D("-0.05"),
    )


def test_moling_never_takes_more_than_the_items_cost() -> None:
    # 抹零 to 1.00 on chocolate 1.90 + cola 1.50 + deposit 0.25 x 1: 3.65 -> 0.65 off,
    # within the items' 3.40; with gum-sized items it would be capped. Here: only a cola
    # and deposits of empties returned do not move it: cola 1.50 + 0.25 - 0.25 = 1.50,
    # 0.50 off shared over the cola alone: 1.00 + 0.25 deposit - 0.25 empties = 1.00
    cat = deposit_catalog(currency="CNY", moling={"increment": "1.00"})
    basket = priced(cat, line("COLA"), line("PFAND-025"))
    assert basket.total == D("1.00")
    assert basket.lines[1].total == D("-0.25")  # the empties line takes no share


def test_moling_is_capped_at_what_the_items_cost() -> None:
    # a cola overridden to 0.05 + its deposit 0.25 = 0.30 due; 抹零 to 1.00 would take all
    # 0.30 off, but only the cola's 0.05 can be shared: 0.05 off, 0.25 due (the deposit)
    cat = deposit_catalog(currency="CNY", moling={"increment": "1.00"})
    basket = priced(cat, line("COLA", price_override=D("0.05")))
    assert (basket.moling, basket.total, basket.lines[0].total) == (
        D("-0.05"),
        D("0.25"),
        D("0.25"),
    )


def test_net_prices_add_the_tax_of_the_deposit_too() -> None:
    # beer 1.00 net + tax 8.1% = 0.081 -> 0.08; deposit 0.08 net + 0.00648 -> 0.01
    # total 1.00 + 0.08 + 0.08 + 0.01 = 1.17; tax 0.09; the line's deposit (gross) 0.09
    basket = priced(deposit_catalog(), line("BEER"))
    (beer,) = basket.lines
    assert (beer.total, beer.tax, beer.deposit, beer.amount) == (
        D("1.17"),
        D("0.09"),
        D("0.09"),
        D("1.08"),
    )


def test_empties_are_a_negative_line_at_the_deposit_s_own_tax_class() -> None:
    # three empties: -0.25 x 3 = -0.75; tax std backed out: -0.75 x 8.1 / 108.1 = -0.0562 -> -0.06
    basket = priced(deposit_catalog([TWENTY_OFF_ALL]), line("PFAND-025", 3))
    (empties,) = basket.lines
    assert (empties.unit_price, empties.list_amount, empties.total, empties.tax) == (
        D("-0.25"),
        D("-0.75"),
        D("-0.75"),
        D("-0.06"),
    )
    assert empties.adjustments == ()  # no promotion, even one on all items
    assert (basket.total, basket.empties, basket.deposits) == (D("-0.75"), D("-0.75"), ZERO)


def test_empties_lower_what_a_purchase_costs() -> None:
    # cola 1.50 + 0.25 deposit, two empties -0.50: 1.25
    basket = priced(deposit_catalog(), line("COLA"), line("PFAND-025", 2))
    assert basket.total == D("1.25")


def test_an_override_on_empties_is_refused() -> None:
    from gateway.pricing import PricingError

    with pytest.raises(PricingError, match="is a deposit"):
        priced(deposit_catalog(), line("PFAND-025", price_override=D("1.00")))


def test_returning_a_bottle_returns_its_deposit() -> None:
    # cola x 3 at 20% off: 1.20 x 3 = 3.60, + 0.75 deposit = 4.35: each unit 1.45 back
    basket = priced(deposit_catalog([TWENTY_OFF_ALL]), line("COLA", 3))
    assert split_units(basket.lines[0].total, 3, 2) == [D("1.45")] * 3


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["products"][-2].update(deposit={"sku": "NOSUCH"}), "NOSUCH"),
        (lambda d: d["products"][-2].update(deposit={"sku": "A"}), "not flagged deposit"),
        (
            lambda d: d["products"][6].update(deposit={"sku": "PFAND-025"}),
            "only items sold each carry a deposit",
        ),
        (lambda d: d["products"][-4].update(unit="kg"), "a deposit is sold each"),
        (lambda d: d["products"][-4].update(member_price="0.10"), "a deposit has no member price"),
        (lambda d: d["products"][-4].update(price="0"), "a deposit must be more than 0"),
    ],
)
def test_bad_deposits_are_explained(change: Any, message: str) -> None:
    doc = document()
    change(doc)
    with pytest.raises(CatalogError) as refused:
        parse_document(doc)
    assert any(message in problem for problem in refused.value.problems)


def test_a_deposit_product_takes_no_discount_and_earns_no_points() -> None:
    assert set(deposit_catalog().products["PFAND-025"].flags) == {
        "deposit",
        "no_discount",
        "no_points",
    }


# -- properties ---------------------------------------------------------------------------

SKUS = ["A", "B", "C1", "C2", "Y1", "PEN", "WINE", "COLA", "BEER", "PFAND-025", "PFAND-008"]
deposit_lines = st.builds(
    lambda sku, n: BasketLine(sku, quantity=Decimal(n)), st.sampled_from(SKUS), st.integers(1, 6)
)
POOL_HERE = [
    p
    for p in POOL
    if p["type"]
    in ("percent_off", "amount_off", "fixed_price", "buy_get", "bundle", "basket_threshold")
]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.sampled_from(POOL_HERE), unique_by=lambda p: p["id"], max_size=6),
    money_rules,
    st.lists(deposit_lines, max_size=8),
    manual_discounts,
    st.booleans(),
)
def test_deposit_invariants(promos, money, lines, discount, member) -> None:  # type: ignore[no-untyped-def]
    try:
        cat = deposit_catalog(promos, **money)
    except CatalogError:
        return  # a pool promotion naming a product this catalog lacks
    basket = priced(cat, *lines, discount=discount, member=MEMBER if member else None)
    places = cat.places
    assert sum((x.total for x in basket.lines), ZERO) == basket.total
    assert sum((t.gross for t in basket.taxes), ZERO) == basket.total
    for x in basket.lines:
        empties = "deposit" in x.flags
        if empties:
            assert x.total <= 0 and x.adjustments == () and x.deposit == 0
        else:
            assert x.total >= 0, x
            assert x.total - x.deposit >= 0
        if x.deposit_sku is not None:
            # the deposit is the deposit's price x units (plus its tax for net prices)
            unit = cat.products[x.deposit_sku].price
            if x.tax_inclusive:
                assert x.deposit == unit * x.quantity
            # refunding every unit returns the line, deposit included
            assert sum(split_units(x.total, int(x.quantity), places), ZERO) == x.total
    assert basket.deposits == sum((x.deposit for x in basket.lines), ZERO)
    assert basket.empties == sum((x.total for x in basket.lines if "deposit" in x.flags), ZERO)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.sampled_from(POOL_HERE), unique_by=lambda p: p["id"], max_size=6),
    money_rules,
    st.booleans(),
    operations(deposit_lines),
)
def test_scan_by_scan_same_as_whole_basket_with_deposits(promos, money, member, ops) -> None:  # type: ignore[no-untyped-def]
    try:
        cat = deposit_catalog(promos, **money)
    except CatalogError:
        return
    run(cat, Basket((), AT, MEMBER if member else None), ops)


def test_a_basket_without_bottles_is_priced_as_before() -> None:
    plain = build_catalog(parse_document(copy.deepcopy(BASE)))
    lines = (line("A", 2), line("C1"))
    before = price_basket(Basket(lines, AT), plain)
    after = price_basket(Basket(lines, AT), deposit_catalog())
    assert replace(after, catalog_version=before.catalog_version) == before
