"""Selling what has no barcode, on the cashier screen: what the search dialog, the quick-key
grid and the open-price dialog list, as requests the lane's owner runs (they read the
catalog in force, which only the owner's thread may reach) and the choices they show.

Owns the reading of the catalog for these dialogs; the lane decides on what is picked
(`Pick`, `OpenPrice`). Pure apart from the requests' `run`, which only reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from gateway.catalog.search import search
from gateway.screens.requests import LanePort

ChoiceKind = Literal["item", "weighed", "department"]


@dataclass(frozen=True)
class Choice:
    """One button of a dialog's list: `value` is the product's sku or the department's id;
    `number` what the cashier may type for it; `detail` a price or a PLU."""

    number: int
    value: str
    label: str
    kind: ChoiceKind
    detail: str = ""


def _price(amount: object, unit: str) -> str:
    return f"{amount}/{unit}" if unit != "each" else str(amount)


@dataclass(frozen=True)
class ProductSearch:
    """Products matching `query` (name, PLU, pinyin initials), best first."""

    query: str

    def run(self, lane: LanePort) -> tuple[Choice, ...]:
        found = search(lane.catalog, self.query)
        return tuple(
            Choice(
                n,
                p.sku,
                p.name,
                "weighed" if p.weighed else "item",
                (f"PLU {p.plu} · " if p.plu else "") + _price(p.price, p.unit),
            )
            for n, p in enumerate(found, start=1)
        )


@dataclass(frozen=True)
class QuickKeyList:
    """The catalog's quick-key grid, numbered by position."""

    def run(self, lane: LanePort) -> tuple[Choice, ...]:
        choices = []
        for key in lane.catalog.quick_keys:
            product = lane.catalog.by_sku(key.sku)
            department = lane.catalog.department(key.sku)
            detail = ""
            if department is not None:
                detail = f"≤ {department.ceiling}"
            elif product is not None:
                detail = _price(product.price, product.unit)
            choices.append(Choice(key.position, key.sku, key.name, key.kind, detail))
        return tuple(choices)


@dataclass(frozen=True)
class DepartmentList:
    """The catalog's departments (open-price keys), numbered in catalog order."""

    def run(self, lane: LanePort) -> tuple[Choice, ...]:
        return tuple(
            Choice(n, d.id, d.name, "department", f"≤ {d.ceiling}")
            for n, d in enumerate(lane.catalog.departments.values(), start=1)
        )


def chosen(choices: tuple[Choice, ...], typed: str) -> Choice | None:
    """The choice a cashier named: by its number, or by its sku / department id."""
    text = typed.strip()
    if not text:
        return None
    for choice in choices:
        if (text.isdigit() and int(text) == choice.number) or text.upper() == choice.value.upper():
            return choice
    return None
