"""Head office's data mining over baskets: frequent itemsets, association rules, busy hours.

`cloud report affinity` and `cloud report busy` (docs/cloud.md). Pure arithmetic over the
loaded journals (`cloud.sales.load`): no database, no clock. Read-only.

Why a small exact implementation instead of a library: the brief offered mlxtend or
efficient-apriori; a store-day's baskets are thousands of tickets, the itemsets we report
are at most three items, and both libraries compute support and confidence as floats —
ours keeps counts as integers and prints ratios as Decimal rounded half up to 4 places, so
a report is reproducible to the digit and adds no dependency to head office. Apriori's one
idea is kept: an itemset is counted only when every subset is frequent.

Definitions (N = tickets in the period, each ticket's *set* of SKUs; a SKU twice on one
ticket counts once):
  support(X)        = tickets containing all of X / N
  confidence(A → B) = support(A ∪ B) / support(A)
  lift(A → B)       = confidence(A → B) / support(B)
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from itertools import combinations
from typing import Any

from cloud.reports import ZERO, Table, average, skip_notes
from cloud.sales import Loaded
from gateway.lane.records import SaleBody

RATIO = Decimal("0.0001")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Itemset = tuple[str, ...]


@dataclass(frozen=True)
class Rule:
    """A → B with the counts it was computed from (exact) and its ratios."""

    antecedent: Itemset
    consequent: Itemset
    together: int  # tickets with A ∪ B
    with_antecedent: int
    with_consequent: int
    tickets: int

    @property
    def support(self) -> Decimal:
        return _ratio(self.together, self.tickets)

    @property
    def confidence(self) -> Decimal:
        return _ratio(self.together, self.with_antecedent)

    @property
    def lift(self) -> Decimal:
        # (together / with_a) / (with_b / N), in one division so nothing is rounded twice
        return _ratio(self.together * self.tickets, self.with_antecedent * self.with_consequent)


def _ratio(numerator: int, denominator: int) -> Decimal:
    """numerator / denominator to 4 places, half up; 0 when there is nothing to divide."""
    if not denominator:
        return Decimal(0).quantize(RATIO)
    return (Decimal(numerator) / Decimal(denominator)).quantize(RATIO, ROUND_HALF_UP)


def frequent_itemsets(
    baskets: Sequence[frozenset[str]], min_count: int, max_size: int = 3
) -> dict[Itemset, int]:
    """Every itemset (sorted SKUs) on at least `min_count` baskets, up to `max_size` items,
    with its count. Level-wise (Apriori): candidates of size k+1 are counted only when all
    their k-subsets were frequent."""
    counts = Counter(item for basket in baskets for item in basket)
    frequent: dict[Itemset, int] = {(i,): c for i, c in counts.items() if c >= min_count}
    level = set(frequent)
    for size in range(2, max_size + 1):
        items = sorted({i for itemset in level for i in itemset})
        candidates = [
            c
            for c in combinations(items, size)
            if all(sub in level for sub in combinations(c, size - 1))
        ]
        if not candidates:
            break
        tally: Counter[Itemset] = Counter()
        for basket in baskets:
            if len(basket) >= size:
                tally.update(c for c in candidates if basket.issuperset(c))
        level = {c for c, n in tally.items() if n >= min_count}
        frequent.update({c: tally[c] for c in level})
    return frequent


def association_rules(
    baskets: Sequence[frozenset[str]], min_count: int, min_confidence: Decimal
) -> list[Rule]:
    """Rules A → B (A, B disjoint, non-empty) from the frequent itemsets whose confidence
    reaches `min_confidence`; ordered by lift, confidence, support (highest first), then
    by name so equal rules come out in the same order every run."""
    frequent = frequent_itemsets(baskets, min_count)
    rules = []
    for itemset, together in frequent.items():
        for size in range(1, len(itemset)):
            for antecedent in combinations(itemset, size):
                consequent = tuple(i for i in itemset if i not in antecedent)
                rule = Rule(
                    antecedent,
                    consequent,
                    together,
                    frequent[antecedent],
                    frequent[consequent],
                    len(baskets),
                )
                if rule.confidence >= min_confidence:
                    rules.append(rule)
    rules.sort(key=lambda r: (-r.lift, -r.confidence, -r.together, r.antecedent, r.consequent))
    return rules


def baskets_of(loaded: Loaded) -> list[frozenset[str]]:
    """Each sale's set of SKUs (refunds and voids are not baskets)."""
    return [
        frozenset(line.sku for line in entry.body.lines)
        for entry in loaded.entries
        if isinstance(entry.body, SaleBody) and entry.body.lines
    ]


def names_of(loaded: Loaded) -> dict[str, str]:
    return {
        line.sku: line.name
        for entry in loaded.entries
        if isinstance(entry.body, SaleBody)
        for line in entry.body.lines
    }


def min_count_for(tickets: int, min_support: Decimal) -> int:
    """The least number of tickets an itemset needs for `min_support` (at least 1)."""
    return max(1, int((min_support * tickets).to_integral_value(rounding=ROUND_CEILING)))


def affinity(loaded: Loaded, *, min_support: Decimal, min_confidence: Decimal, limit: int) -> Table:
    """The association rules of the period's baskets, as a report table."""
    baskets = baskets_of(loaded)
    names = names_of(loaded)
    rules = association_rules(baskets, min_count_for(len(baskets), min_support), min_confidence)
    table = Table(
        f"Items bought together ({len(baskets)} tickets, support >= {min_support}, "
        f"confidence >= {min_confidence})",
        ["if bought", "also bought", "tickets together", "support", "confidence", "lift"],
        notes=skip_notes(loaded),
    )
    for rule in rules[:limit]:
        table.rows.append(
            [
                _label(rule.antecedent, names),
                _label(rule.consequent, names),
                rule.together,
                rule.support,
                rule.confidence,
                rule.lift,
            ]
        )
    if not rules:
        table.notes.append("no rule reaches the thresholds; lower --min-support/--min-confidence")
    return table


def _label(itemset: Iterable[str], names: dict[str, str]) -> str:
    return " + ".join(f"{sku} {names.get(sku, '')}".strip() for sku in itemset)


def busy(loaded: Loaded, by: str) -> Table:
    """Tickets, sales and average ticket per weekday × hour (`by="hour"`) or per month
    (`by="month"`), from the sales' store-local time and business day."""
    acc: dict[tuple[str, ...], list[Decimal]] = defaultdict(lambda: [Decimal(0), ZERO])
    for entry in loaded.entries:
        body = entry.body
        if not isinstance(body, SaleBody):
            continue
        if by == "month":
            key: tuple[str, ...] = (body.business_day[:7],)
        else:
            day = date.fromisoformat(body.business_day)
            key = (f"{day.isoweekday()} {WEEKDAYS[day.weekday()]}", body.local_time[11:13])
        acc[key][0] += 1
        acc[key][1] += body.totals.total
    head = ["month"] if by == "month" else ["weekday", "hour"]
    title = "Sales by month" if by == "month" else "Busy hours: sales by weekday and hour"
    table = Table(title, [*head, "tickets", "sales", "average ticket"], notes=skip_notes(loaded))
    for key in sorted(acc):
        tickets, sales = acc[key]
        label = list(key) if by == "month" else [key[0][2:], f"{key[1]}:00"]
        table.rows.append([*label, int(tickets), sales, average(sales, int(tickets))])
    return table


def recommendations(
    rules: Sequence[Rule], known: Iterable[str], per_product: int
) -> dict[str, list[str]]:
    """Often bought with: for each product, the consequents of its one-item rules A → B
    in the rules' own order (lift, confidence, support), up to `per_product`, keeping only
    products of `known` (the catalog being published: a product no longer sold is never
    shown). Products with none are left out; keys sorted so the document is the same for
    the same sales."""
    catalog = set(known)
    found: dict[str, list[str]] = defaultdict(list)
    for rule in rules:
        if len(rule.antecedent) != 1 or len(rule.consequent) != 1:
            continue
        (sku,), (other,) = rule.antecedent, rule.consequent
        if sku in catalog and other in catalog and len(found[sku]) < per_product:
            found[sku].append(other)
    return {sku: found[sku] for sku in sorted(found) if found[sku]}


def recommended_catalog(
    document: dict[str, Any],
    loaded: Loaded,
    *,
    min_support: Decimal,
    min_confidence: Decimal,
    per_product: int,
) -> tuple[dict[str, Any], int, int]:
    """A copy of a catalog document with its `recommendations` set from the association
    rules of `loaded`'s baskets (`cloud recommend` and the recommendations page); with
    how many tickets and rules there were."""
    baskets = baskets_of(loaded)
    rules = association_rules(baskets, min_count_for(len(baskets), min_support), min_confidence)
    skus = [product["sku"] for product in document.get("products", [])]
    made = {**document, "recommendations": recommendations(rules, skus, per_product)}
    return made, len(baskets), len(rules)
