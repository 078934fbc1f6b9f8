"""Selling what has no barcode (issue 14, items 3 and 4) at the lane: open-price lines of a
department with its ceiling and permissions, items picked on the screen, repeated scans
merged into one line, and the age check of age-restricted items, each journalled with
who did it."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from lane_testkit import CASHIER, SUPERVISOR, Clock, make_lane

from gateway.catalog.catalog import Catalog
from gateway.lane import events as ev
from gateway.lane.events import Outcome, Refusal
from gateway.lane.machine import Lane
from gateway.lane.sale import born_by
from gateway.settings import GatewaySettings

WINE = "7612345001326"  # age_restricted
MILK = "7612345001012"


def ok(lane: Lane, event: ev.Event) -> Outcome:
    answer = lane.handle(event)
    assert isinstance(answer, Outcome), answer
    return answer


def refused(lane: Lane, event: ev.Event, code: str) -> Refusal:
    answer = lane.handle(event)
    assert isinstance(answer, Refusal), answer
    assert answer.code == code, answer
    return answer


def sale_body(outcome: Outcome) -> dict:  # type: ignore[type-arg]
    record = outcome.document
    assert record is not None and record.kind == "sale"  # type: ignore[attr-defined]
    return dict(record.body)  # type: ignore[attr-defined]


@pytest.fixture
def strict(settings: GatewaySettings) -> GatewaySettings:
    """The example settings with the age check on and repeated scans merged."""
    lane = settings.lane.model_copy(update={"age_check": True, "merge_repeats": True})
    return settings.model_copy(update={"lane": lane})


@pytest.fixture
def till(db_path: Path, catalog: Catalog, strict: GatewaySettings, clock: Clock) -> Lane:
    lane = make_lane(db_path, catalog, strict)
    ok(lane, ev.OpenShift(clock(), CASHIER))
    return lane


# -- open price ------------------------------------------------------------------------


def test_an_open_price_line_is_journalled_with_who_keyed_it(till: Lane, clock: Clock) -> None:
    ok(till, ev.OpenPrice(clock(), "DEPT-BAKERY", Decimal("4.50"), Decimal(2)))
    assert till.sale is not None and till.sale.priced is not None
    line = till.sale.priced.lines[0]
    assert (line.name, line.unit_price, line.total) == (
        "Bakery counter",
        Decimal("4.50"),
        Decimal("9.00"),
    )
    assert line.tax_class == "food" and line.category == "bakery"
    body = sale_body(ok(till, ev.Tender(clock(), "cash", Decimal("10.00"))))
    keyed = body["lines"][0]["open_price"]
    assert keyed == {
        "department": "DEPT-BAKERY",
        "ceiling": "30.00",
        "staff": {"id": "101", "name": "Anna", "role": "cashier"},
    }
    assert body["totals"]["total"] == "9.00" and body["change"] == "1.00"


def test_above_the_ceiling_a_supervisor_authorises_and_is_journalled(
    till: Lane, clock: Clock
) -> None:
    refusal = refused(
        till, ev.OpenPrice(clock(), "DEPT-BAKERY", Decimal("30.05")), "needs_override"
    )
    assert "ceiling of 30.00" in refusal.message
    assert till.sale is None  # refused: nothing rung up, nothing written
    approval = ev.Authorization(SUPERVISOR, "wedding cake")
    answer = ok(
        till, ev.OpenPrice(clock(), "DEPT-BAKERY", Decimal("85.00"), authorization=approval)
    )
    [override] = [r for r in answer.records if r.kind == "override"]  # type: ignore[attr-defined]
    assert override.body["action"] == "open_price_over_ceiling"  # type: ignore[attr-defined]
    assert override.body["supervisor"]["id"] == "201"  # type: ignore[attr-defined]
    assert override.body["amount"] == "85.00"  # type: ignore[attr-defined]
    body = sale_body(ok(till, ev.Tender(clock(), "cash")))
    assert body["overrides"][0]["action"] == "open_price_over_ceiling"
    assert body["lines"][0]["open_price"]["staff"]["id"] == "101"  # the cashier keyed it


def test_the_supervisors_own_ceiling_still_bounds_an_open_price(till: Lane, clock: Clock) -> None:
    approval = ev.Authorization(SUPERVISOR, "cake")  # Beat's ceiling is 100.00
    refused(
        till,
        ev.OpenPrice(clock(), "DEPT-BAKERY", Decimal("60.00"), Decimal(2), authorization=approval),
        "over_ceiling",
    )


def test_open_price_permission_is_a_setting(
    db_path: Path, catalog: Catalog, strict: GatewaySettings, clock: Clock
) -> None:
    rules = strict.lane.model_copy(
        update={"permissions": {**strict.lane.permissions, "open_price": ["supervisor"]}}
    )
    lane = make_lane(db_path, catalog, strict.model_copy(update={"lane": rules}))
    ok(lane, ev.OpenShift(clock(), CASHIER))
    refused(lane, ev.OpenPrice(clock(), "DEPT-FLOWERS", Decimal("12.00")), "needs_override")
    approval = ev.Authorization(SUPERVISOR, "bouquet")
    ok(lane, ev.OpenPrice(clock(), "DEPT-FLOWERS", Decimal("12.00"), authorization=approval))


@pytest.mark.parametrize(
    ("department", "price", "quantity", "code"),
    [
        ("DEPT-NOPE", "1.00", "1", "unknown_department"),
        ("DEPT-BAKERY", "0", "1", "bad_price"),
        ("DEPT-BAKERY", "-2.00", "1", "bad_price"),
        ("DEPT-BAKERY", "1.005", "1", "bad_price"),
        ("DEPT-BAKERY", "1.00", "0", "bad_quantity"),
        ("DEPT-BAKERY", "1.00", "1.5", "bad_quantity"),
    ],
)
def test_bad_open_prices_are_refused(
    till: Lane, clock: Clock, department: str, price: str, quantity: str, code: str
) -> None:
    refused(till, ev.OpenPrice(clock(), department, Decimal(price), Decimal(quantity)), code)
    assert till.sale is None


def test_a_department_cannot_be_scanned_keyed_or_overridden(till: Lane, clock: Clock) -> None:
    refused(till, ev.Plu(clock(), "DEPT-BAKERY"), "unknown_item")
    refused(till, ev.Pick(clock(), "DEPT-BAKERY"), "open_price_item")
    ok(till, ev.OpenPrice(clock(), "DEPT-BAKERY", Decimal("3.00")))
    approval = ev.Authorization(SUPERVISOR, "typo")
    refused(
        till,
        ev.PriceOverride(clock(), 0, Decimal("1.00"), authorization=approval),
        "open_price_line",
    )


def test_a_voided_open_price_line_keeps_who_keyed_it(till: Lane, clock: Clock) -> None:
    ok(till, ev.OpenPrice(clock(), "DEPT-FLOWERS", Decimal("15.00")))
    ok(till, ev.Scan(clock(), MILK))
    ok(till, ev.OpenPrice(clock(), "DEPT-BAKERY", Decimal("2.00")))
    ok(till, ev.VoidLine(clock(), 0))
    body = sale_body(ok(till, ev.Tender(clock(), "cash")))
    assert [line.get("open_price", {}).get("department") for line in body["lines"]] == [
        None,
        "DEPT-BAKERY",
    ]
    assert "open_price" not in body["lines"][0]  # absent, not null, on a line not keyed
    assert body["voided_lines"][0]["open_price"]["department"] == "DEPT-FLOWERS"


def test_an_open_price_line_survives_suspend_and_resume(till: Lane, clock: Clock) -> None:
    ok(till, ev.OpenPrice(clock(), "DEPT-FLOWERS", Decimal("15.00")))
    held = ok(till, ev.Suspend(clock()))
    suspension = held.notices[0].split()[-1].rstrip(".")
    ok(till, ev.Resume(clock(), suspension))
    body = sale_body(ok(till, ev.Tender(clock(), "cash")))
    assert body["lines"][0]["open_price"]["department"] == "DEPT-FLOWERS"
    assert body["totals"]["total"] == "15.00"


# -- picking on the screen, merging repeats --------------------------------------------


def test_picked_items_ring_up_by_sku(till: Lane, clock: Clock) -> None:
    ok(till, ev.Pick(clock(), "BAG-PAPER", Decimal(2)))
    refused(till, ev.Pick(clock(), "APPLE-GALA"), "needs_weight")
    weighed = ev.Weighed(clock(), "APPLE-GALA", Decimal("0.500"), True)
    ok(till, ev.Pick(clock(), "APPLE-GALA", weighed=weighed))
    moving = ev.Weighed(clock(), "APPLE-GALA", None, False)
    refused(till, ev.Pick(clock(), "APPLE-GALA", weighed=moving), "scale_unstable")
    refused(till, ev.Pick(clock(), "GHOST"), "unknown_item")
    assert till.sale is not None and till.sale.priced is not None
    assert [(line.sku, line.list_amount) for line in till.sale.priced.lines] == [
        ("BAG-PAPER", Decimal("0.60")),
        ("APPLE-GALA", Decimal("1.90")),
    ]


def test_repeated_scans_merge_into_one_line(till: Lane, clock: Clock) -> None:
    ok(till, ev.Scan(clock(), MILK))
    ok(till, ev.Plu(clock(), "9"))  # a paper bag between
    ok(till, ev.Scan(clock(), MILK))
    ok(till, ev.Scan(clock(), MILK, Decimal(3)))
    ok(till, ev.Pick(clock(), "BAG-PAPER"))
    weighed = ev.Weighed(clock(), "1001", Decimal("0.400"), True)
    ok(till, weighed)
    ok(till, ev.Weighed(clock(), "1001", Decimal("0.600"), True))  # weighed: lines of their own
    ok(till, ev.OpenPrice(clock(), "DEPT-BAKERY", Decimal("1.00")))
    ok(till, ev.OpenPrice(clock(), "DEPT-BAKERY", Decimal("1.00")))  # keyed: its own line
    assert till.sale is not None
    assert [(line.sku, line.quantity) for line in till.sale.lines] == [
        ("MILK-1L", Decimal(5)),
        ("BAG-PAPER", Decimal(2)),
        ("APPLE-GALA", Decimal(1)),
        ("APPLE-GALA", Decimal(1)),
        ("DEPT-BAKERY", Decimal(1)),
        ("DEPT-BAKERY", Decimal(1)),
    ]
    body = sale_body(ok(till, ev.Tender(clock(), "cash")))
    assert body["lines"][0]["quantity"] == "5" and body["lines"][0]["total"] == "8.75"


def test_a_merge_past_the_line_limit_is_refused(till: Lane, clock: Clock) -> None:
    ok(till, ev.Scan(clock(), MILK, Decimal(9999)))
    refused(till, ev.Scan(clock(), MILK), "bad_quantity")
    assert till.sale is not None and till.sale.lines[0].quantity == 9999


def test_an_overridden_line_is_not_merged_into(till: Lane, clock: Clock) -> None:
    ok(till, ev.Scan(clock(), MILK))
    approval = ev.Authorization(SUPERVISOR, "dented")
    ok(till, ev.PriceOverride(clock(), 0, Decimal("1.00"), authorization=approval))
    ok(till, ev.Scan(clock(), MILK))
    assert till.sale is not None and len(till.sale.lines) == 2


def test_without_the_setting_every_scan_is_a_line(lane: Lane, clock: Clock) -> None:
    ok(lane, ev.OpenShift(clock(), CASHIER))
    ok(lane, ev.Scan(clock(), MILK))
    ok(lane, ev.Scan(clock(), MILK))
    assert lane.sale is not None and len(lane.sale.lines) == 2


# -- age-restricted items --------------------------------------------------------------


def test_an_age_restricted_item_asks_once_and_blocks_tender_until_confirmed(
    till: Lane, clock: Clock
) -> None:
    first = ok(till, ev.Scan(clock(), WINE))
    assert first.notices == ("Age check: is the customer born on or before 2008-11-24?",)
    assert ok(till, ev.Scan(clock(), "7612345001319")).notices == ()  # beer: asked already
    refusal = refused(till, ev.Tender(clock(), "cash"), "needs_age_check")
    assert "born on or before 2008-11-24" in refusal.message
    assert till.state.value == "in_sale" and not till.sale.tenders  # type: ignore[union-attr]
    confirmed = ok(till, ev.ConfirmAge(clock()))
    assert confirmed.notices == ("Age confirmed by Anna.",) and confirmed.records == ()
    refused(till, ev.ConfirmAge(clock()), "age_confirmed")
    body = sale_body(ok(till, ev.Tender(clock(), "cash")))
    assert body["age_check"] == {
        "staff": {"id": "101", "name": "Anna", "role": "cashier"},
        "local_time": "2026-11-24T09:01:40",
        "minimum_age": 18,
        "born_by": "2008-11-24",
    }


def test_voiding_the_restricted_items_lets_the_sale_be_paid(till: Lane, clock: Clock) -> None:
    ok(till, ev.Scan(clock(), MILK))
    ok(till, ev.Scan(clock(), WINE))
    refused(till, ev.Tender(clock(), "cash"), "needs_age_check")
    ok(till, ev.VoidLine(clock(), 1))
    body = sale_body(ok(till, ev.Tender(clock(), "cash")))
    assert "age_check" not in body  # nothing was confirmed: the key is absent


def test_nothing_restricted_needs_no_confirmation(till: Lane, clock: Clock) -> None:
    ok(till, ev.Scan(clock(), MILK))
    refused(till, ev.ConfirmAge(clock()), "no_age_check")
    ok(till, ev.Tender(clock(), "cash"))


def test_a_restricted_department_asks_too(till: Lane, clock: Clock) -> None:
    answer = ok(till, ev.OpenPrice(clock(), "DEPT-ALCOHOL", Decimal("9.90")))
    assert answer.notices[0].startswith("Age check")
    refused(till, ev.Tender(clock(), "card", reference="T1"), "needs_age_check")


def test_a_tablet_confirms_the_age_as_its_own_person(till: Lane, clock: Clock) -> None:
    ok(till, ev.Scan(clock(), WINE))
    ok(till, ev.ConfirmAge(clock(), actor="201"))
    body = sale_body(ok(till, ev.Tender(clock(), "cash")))
    assert body["age_check"]["staff"]["id"] == "201"
    assert body["age_check"]["operator"]["id"] == "101"


def test_the_confirmation_survives_a_suspension(till: Lane, clock: Clock) -> None:
    ok(till, ev.Scan(clock(), WINE))
    ok(till, ev.ConfirmAge(clock()))
    held = ok(till, ev.Suspend(clock()))
    ok(till, ev.Resume(clock(), held.notices[0].split()[-1].rstrip(".")))
    assert sale_body(ok(till, ev.Tender(clock(), "cash")))["age_check"]["staff"]["id"] == "101"


def test_with_the_check_off_nothing_is_asked(lane: Lane, clock: Clock) -> None:
    ok(lane, ev.OpenShift(clock(), CASHIER))
    assert ok(lane, ev.Scan(clock(), WINE)).notices == ()
    ok(lane, ev.Tender(clock(), "cash"))


def test_born_by_counts_whole_years() -> None:
    from datetime import date

    assert born_by(date(2026, 11, 24), 18) == date(2008, 11, 24)
    assert born_by(date(2028, 2, 29), 18) == date(2010, 2, 28)
