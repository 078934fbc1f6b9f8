"""`cloud report affinity` / `busy`: rules hand-checked on five baskets, and both reports
through the real command over journals stored at head office."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

from cloud_testkit import cloud_cli, journal_of_days, store_journal_directly

from cloud.affinity import association_rules, frequent_itemsets, recommendations
from gateway.catalog.document import parse_document
from gateway.harness.fleetsim import ITEMS, StoreDay

EXAMPLE_CATALOG = Path(__file__).parents[2] / "config" / "catalog.example.json"

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


def test_recommendations_by_hand() -> None:
    # the rules at confidence >= 0.5, in their order: lift 1.25 beer->milk, eggs->bread
    # (confidence 1), bread->eggs, milk->beer (0.5); lift 0.9375 bread->milk, milk->bread
    rules = association_rules(BASKETS, 2, Decimal("0.5"))
    every = {"bread", "milk", "eggs", "beer"}
    assert recommendations(rules, every, 3) == {
        "beer": ["milk"],
        "bread": ["eggs", "milk"],
        "eggs": ["bread"],
        "milk": ["beer", "bread"],
    }
    assert recommendations(rules, every, 1) == {
        "beer": ["milk"],
        "bread": ["eggs"],
        "eggs": ["bread"],
        "milk": ["beer"],
    }
    # eggs no longer in the catalog: neither recommended nor given recommendations
    assert recommendations(rules, every - {"eggs"}, 3) == {
        "beer": ["milk"],
        "bread": ["milk"],
        "milk": ["beer", "bread"],
    }
    # a rule with two items on a side ({a, b} -> c) is not an "often bought with" of one
    # product: only the pairs count, in name order when their ratios tie
    triples = association_rules([frozenset("abc")] * 3, 2, Decimal("0.5"))
    assert recommendations(triples, "abc", 3) == {"a": ["b", "c"], "b": ["a", "c"], "c": ["a", "b"]}


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


def test_cloud_recommend_writes_a_catalog_the_box_accepts(tmp_path: Path, db_url: str) -> None:
    days = [StoreDay("store-1", "box-1", date(2026, 3, 2), 60)]
    store_journal_directly(db_url, "store-1", "box-1", journal_of_days(tmp_path / "box.db", days))
    example = json.loads(EXAMPLE_CATALOG.read_text())
    example["products"] += [
        {"sku": i.sku, "name": i.name, "barcodes": [], "price": str(i.price),
         "tax_class": "food", "category": i.category}
        for i in ITEMS
    ]  # fmt: skip
    source = json.dumps(example, indent=1).encode()
    catalog, out_file = tmp_path / "catalog.json", tmp_path / "out.json"
    catalog.write_bytes(source)
    status, out, err = cloud_cli(
        "recommend", str(catalog), "--out", str(out_file), "--db", db_url,
        "--min-support", "0.03", "--min-confidence", "0.1", "--per-product", "2",
    )  # fmt: skip
    assert status == 0, err
    written = json.loads(out_file.read_text())
    document = parse_document(written, "out")  # what the box checks when it arrives
    skus = {p.sku for p in document.products}
    assert document.recommendations, out
    for sku, others in document.recommendations.items():
        assert sku in skus and set(others) <= skus and 1 <= len(others) <= 2
    assert f"recommendations for {len(document.recommendations)} products" in out
    assert catalog.read_bytes() == source  # the source is never changed
    # everything else of the document is as it was
    assert {k: v for k, v in written.items() if k != "recommendations"} == json.loads(
        source, parse_float=str
    )

    for args, expected in (
        (("--out", str(catalog)), "--out is the catalog file itself"),
        (("--out", str(out_file), "--per-product", "4"), "outside 1-3"),
        (("--out", str(out_file), "--min-confidence", "0"), "between 0 and 1"),
        (("--out", str(out_file), "--from", "2026-03-05", "--to", "2026-03-01"), "before"),
    ):
        status, out, err = cloud_cli("recommend", str(catalog), *args, "--db", db_url)
        assert status == 2 and expected in err and "Traceback" not in err, err
    assert catalog.read_bytes() == source
    broken = tmp_path / "broken.json"
    broken.write_text('{"schema": "storegate.catalog/1"}')
    status, out, err = cloud_cli("recommend", str(broken), "--out", str(out_file), "--db", db_url)
    assert status != 0 and "version" in err and "Traceback" not in err, err
