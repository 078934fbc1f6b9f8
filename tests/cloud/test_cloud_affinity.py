"""`cloud report affinity` / `busy`: rules hand-checked on five baskets, and both reports
through the real command over journals stored at head office."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

from cloud_testkit import cloud_cli, journal_of_days, store_journal_directly

from cloud.affinity import association_rules, frequent_itemsets
from gateway.harness.fleetsim import StoreDay

BASKETS = [
    frozenset(s.split())
    for s in ("bread milk", "bread milk eggs", "bread eggs", "milk beer", "bread milk beer")
]


def test_itemsets_and_rules_by_hand() -> None:
    # bread 4/5, milk 4/5, eggs 2/5, beer 2/5; bread+milk 3, bread+eggs 2, milk+beer 2,
    # every triple once (below a count of 2)
    frequent = frequent_itemsets(BASKETS, min_count=2)
    assert frequent == {
        ("bread",): 4,
        ("milk",): 4,
        ("eggs",): 2,
        ("beer",): 2,
        ("bread", "milk"): 3,
        ("bread", "eggs"): 2,
        ("beer", "milk"): 2,
    }
    rules = {(r.antecedent, r.consequent): r for r in association_rules(BASKETS, 2, Decimal("0.5"))}
    eggs_bread = rules[(("eggs",), ("bread",))]
    # support 2/5; confidence 2/2; lift 1 / (4/5) = 1.25
    assert (eggs_bread.support, eggs_bread.confidence, eggs_bread.lift) == (
        Decimal("0.4000"),
        Decimal("1.0000"),
        Decimal("1.2500"),
    )
    bread_milk = rules[(("bread",), ("milk",))]
    # 3/5, 3/4, (3/4)/(4/5) = 0.9375
    assert (bread_milk.support, bread_milk.confidence, bread_milk.lift) == (
        Decimal("0.6000"),
        Decimal("0.7500"),
        Decimal("0.9375"),
    )
    # bread → eggs has confidence 2/4 = 0.5: kept at 0.5, dropped above it
    assert (("bread",), ("eggs",)) in rules
    assert (("bread",), ("eggs",)) not in {
        (r.antecedent, r.consequent) for r in association_rules(BASKETS, 2, Decimal("0.51"))
    }
    ordered = association_rules(BASKETS, 2, Decimal("0.5"))
    assert [r.lift for r in ordered] == sorted((r.lift for r in ordered), reverse=True)


def test_affinity_and_busy_through_the_command(tmp_path: Path, db_url: str) -> None:
    day = date(2026, 3, 2)  # a Monday
    days = [StoreDay("store-1", "box-1", day, 60)]
    journal = journal_of_days(tmp_path / "box.db", days)
    store_journal_directly(db_url, "store-1", "box-1", journal)
    sales = [body for kind, body in days[0].records() if kind == "sale"]

    status, out, err = cloud_cli(
        "report", "affinity", "--db", db_url, "--store", "store-1", "--json",
        "--min-support", "0.05", "--min-confidence", "0.1",
    )  # fmt: skip
    assert status == 0, err
    table = json.loads(out)
    assert str(len(sales)) in table["title"]
    for row in table["rows"]:
        assert Decimal("0.05") <= Decimal(row["support"]) <= 1
        assert Decimal(row["confidence"]) >= Decimal("0.1")

    status, out, err = cloud_cli("report", "busy", "--db", db_url, "--json")
    assert status == 0, err
    rows = json.loads(out)["rows"]
    assert {r["weekday"] for r in rows} == {"mon"}
    assert sum(r["tickets"] for r in rows) == len(sales)
    assert sum(Decimal(r["sales"]) for r in rows) == sum(
        Decimal(b["totals"]["total"]) for b in sales
    )
    status, out, err = cloud_cli("report", "busy", "--by", "month", "--db", db_url, "--json")
    assert status == 0, err
    assert [r["month"] for r in json.loads(out)["rows"]] == ["2026-03"]

    status, out, err = cloud_cli("report", "affinity", "--db", db_url, "--min-support", "2")
    assert status == 2 and "between 0 and 1" in err and "Traceback" not in err
