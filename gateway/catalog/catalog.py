"""The catalog in force, indexed for the lane: code -> product in one dict look-up, and the
promotions that may touch a product found through small indexes instead of a scan.

Immutable: a new document builds a new `Catalog`, swapped in between sales, so a basket in
progress keeps the prices it was rung up with. Pure: no I/O beyond reading a file in
`load_catalog_file`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from gateway.barcodes import plu_key
from gateway.catalog.document import (
    DEPOSIT_FLAG,
    ITEM_PROMOTIONS,
    THRESHOLD_OFFERS,
    BasketThreshold,
    CatalogDocument,
    Category,
    Department,
    MoneyRules,
    PointsMultiplier,
    Product,
    TaxClass,
    ThresholdOffer,
    catalog_key,
    read_document,
)

QuickKeyKind = Literal["item", "weighed", "department"]


@dataclass(frozen=True)
class QuickKey:
    """One key of the quick-key grid: a product without a barcode to scan (a bag, bread,
    fruit to weigh) or a department's open-price key, at its `position` (from 1)."""

    position: int
    sku: str  # the product's sku, or the department's id
    name: str
    kind: QuickKeyKind


@dataclass(frozen=True)
class Catalog:
    document: CatalogDocument
    products: Mapping[str, Product]
    codes: Mapping[str, str]
    tax_classes: Mapping[str, TaxClass]
    categories: Mapping[str, Category]
    lineage: Mapping[str, tuple[str, ...]]
    item_promotions_by_sku: Mapping[str, tuple[Any, ...]]
    item_promotions_by_category: Mapping[str, tuple[Any, ...]]
    item_promotions_all: tuple[Any, ...]
    basket_promotions: tuple[BasketThreshold, ...]
    points_promotions: tuple[PointsMultiplier, ...]
    # 加价购 / 满赠 (`add_on`, `gift`): thresholds that price one item, lowest priority first
    offer_promotions: tuple[ThresholdOffer, ...] = ()
    coupons: frozenset[str] = field(default_factory=frozenset)
    promotions: Mapping[str, Any] = field(default_factory=dict)  # by id
    departments: Mapping[str, Department] = field(default_factory=dict)
    department_products: Mapping[str, Product] = field(default_factory=dict)
    quick_keys: tuple[QuickKey, ...] = ()
    # the deposit products (Pfand / 押金, flagged `deposit`) by sku; empty: no deposits
    deposits: Mapping[str, Product] = field(default_factory=dict)
    # the product search's index (gateway.catalog.search), made at the first search
    search_index: list[Any] = field(default_factory=list, compare=False, repr=False)
    _promotions_cache: dict[str, tuple[Any, ...]] = field(
        default_factory=dict, compare=False, repr=False
    )
    _live_cache: dict[tuple[str, frozenset[str]], tuple[tuple[Any, ...], frozenset[str]]] = field(
        default_factory=dict, compare=False, repr=False
    )

    @property
    def version(self) -> int:
        return self.document.version

    @property
    def money(self) -> MoneyRules:
        return self.document.money

    @property
    def places(self) -> int:
        return self.document.money.decimals

    def lookup(self, keys: Iterable[str]) -> Product | None:
        """The product behind the first key that is known, or None ("unknown item")."""
        for key in keys:
            sku = self.codes.get(key)
            if sku is not None:
                return self.products[sku]
        return None

    def by_sku(self, sku: str) -> Product | None:
        """A product, or the stand-in product of a department (priced only with the unit
        price the cashier keys: see `department`)."""
        found = self.products.get(sku)
        return found if found is not None else self.department_products.get(sku)

    def department(self, sku: str) -> Department | None:
        """The department `sku` stands for, when it is one (an open-price line)."""
        return self.departments.get(sku)

    def product_name(self, sku: str, language: str) -> str | None:
        """The product's name in `language` (its `names`), None when it has none."""
        product = self.products.get(sku)
        return product.names.get(language) if product is not None else None

    def recommended_with(self, sku: str) -> tuple[Product, ...]:
        """The products head office found often bought with `sku`, best first (the
        document's `recommendations`; empty when it has none)."""
        others = self.document.recommendations.get(sku, ())
        return tuple(self.products[other] for other in others if other in self.products)

    def promotion_name(self, promotion: str, language: str) -> str | None:
        """The promotion's name in `language` (its `names`), None when it has none."""
        promo = self.promotions.get(promotion)
        return promo.names.get(language) if promo is not None else None

    def item_promotions_for(self, product: Product) -> tuple[Any, ...]:
        """Item-level promotions that target `product` (schedule and member not checked)."""
        cached = self._promotions_cache.get(product.sku)
        if cached is not None:
            return cached
        found = list(self.item_promotions_by_sku.get(product.sku, ()))
        for cat in self.lineage.get(product.category, (product.category,)):
            found.extend(self.item_promotions_by_category.get(cat, ()))
        found.extend(self.item_promotions_all)
        unique = {id(p): p for p in found}
        result = tuple(sorted(unique.values(), key=lambda p: (p.priority, p.id)))
        self._promotions_cache[product.sku] = result
        return result

    def live_item_promotions(
        self, product: Product, live: frozenset[str]
    ) -> tuple[tuple[Any, ...], frozenset[str]]:
        """Item promotions of `product` among the `live` ids, and their ids: the engine asks
        for every line of every pricing, and the live set changes only with the time of day,
        the member and the coupons, so the answer is remembered per (sku, live set)."""
        key = (product.sku, live)
        found = self._live_cache.get(key)
        if found is None:
            if "no_discount" in product.flags:
                promos: tuple[Any, ...] = ()
            else:
                promos = tuple(p for p in self.item_promotions_for(product) if p.id in live)
            found = (promos, frozenset(p.id for p in promos))
            if len(self._live_cache) > 200_000:
                self._live_cache.clear()
            self._live_cache[key] = found
        return found

    def in_target(self, promo: Any, product: Product) -> bool:
        target = promo.target
        if target.all_items or product.sku in target.skus:
            return True
        lineage = self.lineage.get(product.category, (product.category,))
        return any(cat in target.categories for cat in lineage)

    def price_per_kg(self, product: Product) -> Decimal:
        """Unit price per kilogram for weighed products (unit kg or g)."""
        per = product.price_per if product.unit == "kg" else product.price_per / 1000
        return product.price / per


def department_product(dept: Department) -> Product:
    """The product a department's open-price lines are priced as: its tax class, category
    and flags, no barcode or PLU (nothing scans or keys it), and a catalog price of 0 (the
    lane always gives the unit price the cashier typed)."""
    return Product(
        sku=dept.id,
        name=dept.name,
        price=Decimal(0),
        tax_class=dept.tax_class,
        category=dept.category,
        flags=list(dept.flags),
    )


def quick_keys(doc: CatalogDocument) -> tuple[QuickKey, ...]:
    """The quick-key grid in position order."""
    keys = [
        QuickKey(p.quick_key, p.sku, p.name, "weighed" if p.weighed else "item")
        for p in doc.products
        if p.quick_key is not None
    ]
    keys += [
        QuickKey(d.quick_key, d.id, d.name, "department")
        for d in doc.departments
        if d.quick_key is not None
    ]
    return tuple(sorted(keys, key=lambda k: k.position))


def build_catalog(doc: CatalogDocument) -> Catalog:
    """Index a validated document (see `document.parse_document`). A department is in
    `by_sku` as its stand-in (`department_product`) so the engine prices its lines, and in
    no code index nor in `products`: it is sold only through its open-price key."""
    products = {p.sku: p for p in doc.products}
    codes: dict[str, str] = {}
    for product in doc.products:
        for code in product.barcodes:
            codes[catalog_key(code)] = product.sku
        if product.plu is not None:
            codes[plu_key(product.plu)] = product.sku
        codes.setdefault(f"SKU:{product.sku}", product.sku)
    categories = {c.id: c for c in doc.categories}
    by_sku: dict[str, list[Any]] = {}
    by_cat: dict[str, list[Any]] = {}
    every: list[Any] = []
    basket: list[BasketThreshold] = []
    points: list[PointsMultiplier] = []
    offers: list[ThresholdOffer] = []
    for promo in doc.promotions:
        if isinstance(promo, THRESHOLD_OFFERS):
            offers.append(promo)
            continue
        if isinstance(promo, BasketThreshold):
            basket.append(promo)
            continue
        if isinstance(promo, PointsMultiplier):
            points.append(promo)
            continue
        assert isinstance(promo, ITEM_PROMOTIONS)
        if promo.target.all_items:
            every.append(promo)
        for sku in promo.target.skus:
            by_sku.setdefault(sku, []).append(promo)
        for cat in promo.target.categories:
            by_cat.setdefault(cat, []).append(promo)
    return Catalog(
        document=doc,
        products=products,
        codes=codes,
        tax_classes={t.id: t for t in doc.tax_classes},
        categories=categories,
        lineage={c: _lineage(c, categories) for c in categories},
        item_promotions_by_sku={k: tuple(v) for k, v in by_sku.items()},
        item_promotions_by_category={k: tuple(v) for k, v in by_cat.items()},
        item_promotions_all=tuple(every),
        basket_promotions=tuple(sorted(basket, key=lambda p: (p.priority, p.id))),
        points_promotions=tuple(points),
        offer_promotions=tuple(sorted(offers, key=lambda p: (p.priority, p.id))),
        coupons=frozenset(p.coupon for p in doc.promotions if p.coupon),
        promotions={p.id: p for p in doc.promotions},
        departments={d.id: d for d in doc.departments},
        department_products={d.id: department_product(d) for d in doc.departments},
        quick_keys=quick_keys(doc),
        deposits={p.sku: p for p in doc.products if DEPOSIT_FLAG in p.flags},
    )


def _lineage(category: str, categories: Mapping[str, Category]) -> tuple[str, ...]:
    chain: list[str] = []
    current: str | None = category
    while current is not None and current not in chain:
        chain.append(current)
        parent = categories.get(current)
        current = parent.parent if parent is not None else None
    return tuple(chain)


def load_catalog_file(path: str | Path) -> Catalog:
    return build_catalog(read_document(path))
