"""The catalog document: its shape (pydantic models, exported as JSON Schema) and the rules
that span the whole document (references, duplicates, decimals).

A document is accepted whole or refused whole: `validate_document` gathers *every* problem
before refusing, so head office fixes a file in one round trip. Nothing here touches the
database; the catalog in force is replaced only after a document passed.
"""

from __future__ import annotations

import functools
import json
import re
from datetime import datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from gateway.errors import ProblemsError
from gateway.money import ZERO, Rounding, cash_rounding, decimal_places, moling
from gateway.validation import describe_errors

SCHEMA_ID = "storegate.catalog/1"
IDENTIFIER = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# Bounds the totals engine computes exactly (docs/catalog.md, "Bounds"): Decimal works with
# 28 significant digits, and a line multiplies an amount by up to 9999 units (4 digits) or
# a price per kg by up to 1000 kg, then adds tax: 12 integer digits plus the currency's
# places (at most 3) leave room for all of it. A price of 1e9999 or with 27 digits passed
# once and then made every scan of its product fail inside the engine.
MAX_INTEGER_DIGITS = 12
AMOUNT_LIMIT = Decimal(10) ** MAX_INTEGER_DIGITS  # exclusive: at most 999999999999.999
MAX_PERCENT_PLACES = 4  # percentages and tax rates: 8.1, 2.6, 33.3333
MAX_UNITS = 9999  # a set promotion's counts: no line holds more units (engine MAX_QUANTITY)
MAX_VERSION = 2**63 - 1  # stored as a 64-bit integer on the box and at head office
_LIMIT = 10**MAX_INTEGER_DIGITS  # the same, for the JSON Schema
_AMOUNT_TEXT = rf"^[0-9]{{1,{MAX_INTEGER_DIGITS}}}(\.[0-9]{{1,3}})?$"
_PERCENT_TEXT = rf"^[0-9]{{1,3}}(\.[0-9]{{1,{MAX_PERCENT_PLACES}}})?$"


def _decimal_schema(number: dict[str, Any], pattern: str) -> WithJsonSchema:
    """A JSON number or a decimal string, both bounded as the model bounds them (pydantic
    would leave the string form unbounded)."""
    return WithJsonSchema(
        {"anyOf": [{**number, "type": "number"}, {"type": "string", "pattern": pattern}]}
    )


Amount = Annotated[
    Decimal,
    Field(ge=0, lt=AMOUNT_LIMIT, allow_inf_nan=False),
    _decimal_schema({"minimum": 0, "exclusiveMaximum": _LIMIT}, _AMOUNT_TEXT),
]
PositiveAmount = Annotated[
    Decimal,
    Field(gt=0, lt=AMOUNT_LIMIT, allow_inf_nan=False),
    _decimal_schema({"exclusiveMinimum": 0, "exclusiveMaximum": _LIMIT}, _AMOUNT_TEXT),
]
Percent = Annotated[
    Decimal,
    Field(gt=0, le=100, decimal_places=MAX_PERCENT_PLACES, allow_inf_nan=False),
    _decimal_schema({"exclusiveMinimum": 0, "maximum": 100}, _PERCENT_TEXT),
]
Rate = Annotated[
    Decimal,
    Field(ge=0, le=100, decimal_places=MAX_PERCENT_PLACES, allow_inf_nan=False),
    _decimal_schema({"minimum": 0, "maximum": 100}, _PERCENT_TEXT),
]
Units = Annotated[int, Field(ge=1, le=MAX_UNITS)]


class CatalogError(ProblemsError):
    """A catalog document was refused; `problems` lists every one found."""

    def __init__(self, source: str, problems: list[str]) -> None:
        super().__init__(
            source,
            problems,
            headline="catalog refused, {count} (the catalog in force stays in force)",
            fix="correct the document and publish it again; docs/catalog.md describes every field",
        )


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


NAME_LANGUAGE = r"^[a-z]{2,3}$"  # ISO 639 code: en, zh, de, fr
Names = dict[
    Annotated[str, StringConstraints(pattern=NAME_LANGUAGE)],
    Annotated[str, StringConstraints(min_length=1, max_length=120)],
]
NAMES_DESCRIPTION = (
    'the name in other languages, by ISO 639 code: {"en": "Whole milk", "zh": "全脂牛奶"}; '
    "screens and receipts in that language show it, the journal keeps `name`"
)


def _name_or_names(schema: dict[str, Any]) -> None:
    """The JSON Schema says what the validator does: `name`, or `names` to take it from."""
    schema["required"] = [k for k in schema.get("required", []) if k != "name"]
    schema["anyOf"] = [{"required": ["name"]}, {"required": ["names"]}]


NAMED = ConfigDict(extra="forbid", frozen=True, json_schema_extra=_name_or_names)


def _name_from_names(data: Any) -> Any:
    """`name` left out: the `names` entry in English, else the first one (backward
    compatible: a document with `name` only reads as before)."""
    if isinstance(data, dict) and not data.get("name") and isinstance(data.get("names"), dict):
        names = data["names"]
        first = names.get("en") or next(iter(names.values()), None)
        if isinstance(first, str):
            return {**data, "name": first}
    return data


class CashRoundingRule(Model):
    """Cash only: a card is charged the exact total."""

    increment: PositiveAmount = Field(
        decimal_places=3, description="e.g. 0.05 (Switzerland), 0.10 (New Zealand)"
    )
    rule: Rounding = Rounding.HALF_UP


class MolingRule(Model):
    """抹零: drop small change from the amount due, always rounding down."""

    increment: Literal["0.10", "1.00", "1"] = Field(description="0.10 drops the fen, 1.00 the jiao")
    cap: PositiveAmount | None = Field(
        None, description="the most it takes off one sale, e.g. 0.50 (none: up to the increment)"
    )
    cash_only: bool = Field(
        False,
        description="only a cash payment gets it (a card or wallet pays the exact total), "
        "like cash rounding; false: it comes off the total and is shared over the lines",
    )

    @property
    def step(self) -> Decimal:
        return Decimal(self.increment)

    def off(self, total: Decimal) -> Decimal:
        """What it takes off `total` (zero or negative)."""
        return moling(total, self.step, self.cap)


class MoneyRules(Model):
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. CHF, CNY")
    decimals: int = Field(2, ge=0, le=3)
    weighed_rounding: Rounding = Field(
        Rounding.HALF_UP, description="rounding of unit price x weight to the minor unit"
    )
    tax_rounding: Rounding = Field(Rounding.HALF_UP, description="rounding of each line's tax")
    tax_per: Literal["line", "rate"] = Field(
        "line",
        description="line: each line's tax rounded on its own; rate: each tax rate's tax "
        "rounded once, on the basket's lines of that rate, and shared back over them by "
        "largest remainder (VAT per rate on the receipt, where the country wants it)",
    )
    cash_rounding: CashRoundingRule | None = None
    moling: MolingRule | None = None

    @model_validator(mode="after")
    def _one_cash_adjustment(self) -> MoneyRules:
        if self.cash_rounding is not None and self.moling is not None and self.moling.cash_only:
            raise ValueError(
                "cash_rounding and a cash_only moling both adjust what cash pays: keep one "
                "(drop cash_rounding, or set moling.cash_only to false)"
            )
        return self

    def moling_off(self, total: Decimal) -> Decimal:
        """抹零 that comes off `total` whatever pays it (zero when there is none, or when
        it is for cash only)."""
        if self.moling is None or self.moling.cash_only:
            return ZERO
        return self.moling.off(total)

    def cash_adjustment(self, due: Decimal) -> Decimal:
        """What a cash payment of `due` adds to it: cash rounding, or 抹零 for cash only
        (zero or negative for 抹零); zero when neither is set. The lane's cash tender, a
        cash refund and the priced basket's `cash_rounding` all take it from here."""
        if self.cash_rounding is not None:
            return cash_rounding(due, self.cash_rounding.increment, self.cash_rounding.rule)
        if self.moling is not None and self.moling.cash_only:
            return self.moling.off(due)
        return ZERO


class TaxClass(Model):
    id: str = Field(pattern=IDENTIFIER)
    name: str = Field(min_length=1)
    rate: Rate = Field(description="percent, e.g. 8.1")
    inclusive: bool = Field(description="true: shelf prices include the tax (B2C in CH/EU/CN)")


class Category(Model):
    id: str = Field(pattern=IDENTIFIER)
    name: str = Field(min_length=1)
    parent: str | None = None


ProductFlag = Literal["no_discount", "no_points", "age_restricted", "deposit"]
MAX_QUICK_KEYS = 48  # the cashier's quick-key grid: 8 columns x 6 rows at most
QuickKey = Annotated[
    int | None,
    Field(
        ge=1,
        le=MAX_QUICK_KEYS,
        description="position on the cashier's quick-key grid (1 is top left); "
        "unique across products and departments",
    ),
]


# -- deposits (Pfand / 押金) ------------------------------------------------------------------
DEPOSIT_FLAG = "deposit"
"""A product flagged `deposit` is a deposit (Pfand 0.25, 押金 1.00): bottles carry it
(`Product.deposit`), and scanning it alone is an empties return (Leergut), a negative line.
It takes no discount and earns no points: the flags `no_discount` and `no_points` are
added to it."""


class DepositRef(Model):
    """The deposit a product carries per unit sold: the deposit product's sku."""

    sku: str = Field(pattern=IDENTIFIER, description="a product flagged `deposit`")


def _deposit_flags(data: Any) -> Any:
    """A deposit product takes no discount and earns no points, whatever else it says."""
    if isinstance(data, dict) and DEPOSIT_FLAG in (data.get("flags") or ()):
        flags = list(data["flags"])
        flags += [f for f in ("no_discount", "no_points") if f not in flags]
        data = {**data, "flags": flags}
    return data


def _check_deposits(doc: CatalogDocument, places: int, problems: list[str]) -> None:
    """A product's `deposit` names a deposit product; deposits go on items sold each; a
    deposit product is sold each at a price above 0 and carries no deposit of its own."""
    by_sku = {p.sku: p for p in doc.products}
    for i, product in enumerate(doc.products):
        where = f"products[{i}] ({product.sku})"
        if DEPOSIT_FLAG in product.flags:
            if product.unit != "each":
                problems.append(f"{where}.unit: a deposit is sold each, not by {product.unit}")
            if product.price <= 0:
                problems.append(f"{where}.price: a deposit must be more than 0")
            if product.member_price is not None:
                problems.append(f"{where}.member_price: a deposit has no member price")
            if product.deposit is not None:
                problems.append(f"{where}.deposit: a deposit product carries no deposit itself")
            continue
        if product.deposit is None:
            continue
        target = by_sku.get(product.deposit.sku)
        if target is None or DEPOSIT_FLAG not in target.flags:
            what = "no product" if target is None else "a product not flagged deposit"
            problems.append(
                f"{where}.deposit.sku: {product.deposit.sku!r} is {what}; add a product "
                f'with "flags": ["deposit"] and its price (Pfand 0.25) and name it here'
            )
        if product.unit != "each":
            problems.append(
                f"{where}.deposit: only items sold each carry a deposit (this one is sold by "
                f"{product.unit})"
            )


class Product(Model):
    model_config = NAMED

    sku: str = Field(pattern=IDENTIFIER)
    name: str = Field(min_length=1, max_length=120, description="may be left out given `names`")
    names: Names = Field(default_factory=dict, description=NAMES_DESCRIPTION)
    barcodes: list[str] = Field(default_factory=list)
    plu: str | None = Field(None, pattern=r"^[0-9]{1,6}$")
    unit: Literal["each", "kg", "g"] = "each"
    price: Amount = Field(description="price per `price_per` units of `unit`")
    price_per: PositiveAmount = Field(
        Decimal(1), decimal_places=3, description="e.g. 100 with unit g: per 100 g"
    )
    tax_class: str
    category: str
    member_price: Amount | None = None
    flags: list[ProductFlag] = Field(default_factory=list)
    quick_key: QuickKey = None
    deposit: DepositRef | None = Field(
        None, description="the deposit (Pfand / 押金) each unit sold carries: a deposit product"
    )

    @field_validator("barcodes")
    @classmethod
    def _barcodes_text(cls, value: list[str]) -> list[str]:
        for code in value:
            if not code or len(code) > 80 or not code.isprintable() or code != code.strip():
                raise ValueError(f"barcode {code!r} must be 1-80 printable characters")
        return value

    @model_validator(mode="before")
    @classmethod
    def _name(cls, data: Any) -> Any:
        return _deposit_flags(_name_from_names(data))

    @property
    def weighed(self) -> bool:
        return self.unit != "each"


class Department(Model):
    """An open-price key: goods with no barcode and no product of their own (a bunch of
    flowers, a cake from the counter) are sold at a price the cashier types, booked to
    this department's tax class and category. `ceiling` is the highest unit price a
    cashier may type; above it the lane wants a supervisor (docs/lane.md)."""

    id: str = Field(pattern=IDENTIFIER, description="unique, and no product's sku")
    name: str = Field(min_length=1, max_length=120)
    tax_class: str
    category: str
    ceiling: PositiveAmount = Field(description="highest unit price a cashier may key")
    flags: list[ProductFlag] = Field(default_factory=list)
    quick_key: QuickKey = None


class Target(Model):
    """Which items a promotion concerns; empty lists with all_items false match nothing."""

    skus: list[str] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)
    all_items: bool = False


class HourWindow(Model):
    start: time = Field(alias="from")
    end: time = Field(alias="to")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Schedule(Model):
    """When a promotion is live, in the store's local time."""

    valid_from: datetime | None = None
    valid_until: datetime | None = None
    days: list[Weekday] = Field(default_factory=list, description="empty: every day")
    hours: list[HourWindow] = Field(default_factory=list, description="empty: all day")

    @field_validator("valid_from", "valid_until")
    @classmethod
    def _local_time(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            raise ValueError(
                "write schedule times in the store's local time without an offset "
                "(e.g. 2026-12-01T00:00), as shelf labels and posters show them"
            )
        return value


class SerialCoupons(Model):
    """Printed coupons each usable once, `PREFIX-000123-7F3A` (docs/pricing.md, "Serial
    coupons"): the promotion applies only with one of them, checked at the lane."""

    prefix: str = Field(
        pattern=r"^[A-Z0-9]{2,12}$",
        description="what every code starts with, upper-case letters and digits (XMAS)",
    )
    secret: str = Field(
        min_length=16,
        description="the key of the codes' check (HMAC-SHA256); head office keeps it, the "
        "catalog carries it to the store's boxes only",
    )
    per_member: int | None = Field(
        None, ge=1, description="at most this many of these serials per member (a member required)"
    )


class PromotionBase(Model):
    model_config = NAMED

    id: str = Field(pattern=IDENTIFIER)
    name: str = Field(min_length=1, description="may be left out given `names`")
    names: Names = Field(default_factory=dict, description=NAMES_DESCRIPTION)
    priority: int = Field(100, description="lower applies first and wins ties")
    exclusive: bool = Field(
        False, description="items given this promotion take no other promotion or basket discount"
    )
    member_only: bool = False
    coupon: str | None = Field(None, pattern=r"^[A-Za-z0-9_-]{1,32}$")
    serials: SerialCoupons | None = Field(
        None, description="instead of `coupon`: printed serial coupons, each usable once"
    )
    max_discount: Amount | None = Field(
        None, description="cap on this promotion's discount per sale"
    )
    schedule: Schedule = Field(default_factory=Schedule)

    @model_validator(mode="before")
    @classmethod
    def _name(cls, data: Any) -> Any:
        return _name_from_names(data)


class UnitPromotionBase(PromotionBase):
    """A promotion given unit by unit (each unit its own discount), which may be limited."""

    limit_per_sale: Units | None = Field(
        None,
        description="限购: only the first N units of one sale that take this promotion get it "
        "(in the order they were rung up); the others pay the normal price",
    )
    limit_per_member: Units | None = Field(
        None,
        description="限购 per member: a member takes this promotion on at most N units over "
        "its schedule's valid_from to valid_until, counted over their sales at this box "
        "(refunds give units back); the others pay the normal price. Needs member_only",
    )

    @model_validator(mode="after")
    def _member_limit_needs_member_only(self) -> Self:
        if self.limit_per_member is not None and not self.member_only:
            raise ValueError(
                "limit_per_member counts a member's units, so the promotion must be "
                'member_only: add "member_only": true, or use limit_per_sale'
            )
        return self


class PercentOff(UnitPromotionBase):
    type: Literal["percent_off"]
    target: Target
    percent: Percent


class AmountOff(UnitPromotionBase):
    type: Literal["amount_off"]
    target: Target
    amount: PositiveAmount = Field(description="off each unit (each kg for weighed items)")


class FixedPrice(UnitPromotionBase):
    type: Literal["fixed_price"]
    target: Target
    price: Amount = Field(description="price of each unit (each kg for weighed items)")


class UnitsTier(Model):
    min_units: Units = Field(description="eligible units in the sale from which this tier applies")
    percent_off: Percent = Field(description="off every eligible unit once the tier is reached")


class QuantityTiers(UnitPromotionBase):
    """2件9折, 3件8折: once a sale holds `min_units` units the promotion targets (items sold
    each, counted over all their lines), every one of them is `percent_off` cheaper; the
    highest tier reached applies to all of them."""

    type: Literal["quantity_tiers"]
    target: Target
    tiers: list[UnitsTier] = Field(
        min_length=1, description="min_units and percent_off both increasing strictly"
    )


class BuyGet(PromotionBase):
    """Buy X get Y across a product group: 3 for 2 is buy 2 get 1 at 100 percent off."""

    type: Literal["buy_get"]
    target: Target
    buy: Units
    get: Units
    percent: Percent = Field(Decimal(100), description="off each 'get' item (the cheapest)")


class Bundle(PromotionBase):
    """N items of a group for a fixed price (mix and match: any 3 yoghurts for 2.00)."""

    type: Literal["bundle"]
    target: Target
    quantity: int = Field(ge=2, le=MAX_UNITS)
    price: Amount


class Tier(Model):
    threshold: PositiveAmount
    amount: PositiveAmount | None = None
    percent: Percent | None = None

    @model_validator(mode="after")
    def _one_of(self) -> Tier:
        if (self.amount is None) == (self.percent is None):
            raise ValueError("a tier gives either `amount` or `percent` off, not both or neither")
        return self


class BasketThreshold(PromotionBase):
    """满减: spend at least a threshold, get money off; the highest tier reached applies."""

    type: Literal["basket_threshold"]
    target: Target = Field(default_factory=lambda: Target(all_items=True))
    tiers: list[Tier] = Field(min_length=1)
    repeat: bool = Field(
        False, description="every full threshold counts (每满100减10); one tier only"
    )
    stackable: bool = Field(False, description="combines with other basket promotions")


class PointsMultiplier(PromotionBase):
    """会员日双倍积分: a member earns `multiplier` times the points on the lines it targets
    (a member day, a category's week). It changes no price: pricing marks each line with
    its multiplier (`PricedLine.points_multiplier`, the highest live one) and the member's
    points are worked out from that. Members only by nature; no coupon, no cap, not
    exclusive (refused: they say nothing about points)."""

    type: Literal["points_multiplier"]
    target: Target = Field(default_factory=lambda: Target(all_items=True))
    multiplier: int = Field(ge=2, le=10, description="2: double points")


# -- threshold offers: 加价购 (add_on) and 满赠 (gift) ------------------------------------------


class ThresholdOfferBase(PromotionBase):
    """A threshold that makes one item cheaper instead of taking money off the basket: when
    what the target lines cost after item promotions (counted as thresholds count it, the
    offer's own `item` left out) reaches `threshold`, up to `quantity` units of `item` in
    the basket cost the offer's price (docs/pricing.md step 2b)."""

    target: Target = Field(
        default_factory=lambda: Target(all_items=True),
        description="what counts toward the threshold (the offer's own item never does)",
    )
    threshold: PositiveAmount = Field(description="spend that unlocks the offer")
    item: str = Field(pattern=IDENTIFIER, description="sku of the item the offer prices")
    quantity: Units = Field(1, description="how many units of `item` at most, per sale")


class AddOn(ThresholdOfferBase):
    """加价购: spend `threshold`, then buy up to `quantity` units of `item` for `price` each."""

    type: Literal["add_on"]
    price: Amount = Field(description="what each add-on unit costs (below the item's price)")


class Gift(ThresholdOfferBase):
    """满赠: spend `threshold`, and up to `quantity` units of `item` are free. The gift is
    rung up like any item (scanned, or keyed by PLU); the offer makes it cost nothing."""

    type: Literal["gift"]


ThresholdOffer = AddOn | Gift
THRESHOLD_OFFERS = (AddOn, Gift)


Promotion = Annotated[
    PercentOff
    | AmountOff
    | FixedPrice
    | QuantityTiers
    | BuyGet
    | Bundle
    | BasketThreshold
    | PointsMultiplier
    | AddOn
    | Gift,
    Field(discriminator="type"),
]
ITEM_PROMOTIONS = (PercentOff, AmountOff, FixedPrice, QuantityTiers, BuyGet, Bundle)


class CatalogDocument(Model):
    schema_: Literal["storegate.catalog/1"] = Field(alias="schema")
    version: int = Field(ge=1, le=MAX_VERSION, description="must increase with every publication")
    issued_at: datetime | None = None
    money: MoneyRules
    tax_classes: list[TaxClass] = Field(min_length=1)
    categories: list[Category] = Field(min_length=1)
    products: list[Product]
    departments: list[Department] = Field(
        default_factory=list, description="open-price keys (docs/catalog.md)"
    )
    promotions: list[Promotion] = Field(default_factory=list)
    recommendations: dict[str, list[str]] = Field(
        default_factory=dict,
        description="sku -> up to 3 skus often bought with it (head office's association "
        "rules, `cloud recommend`), shown on the customer screen",
    )

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


ITEM_TYPE_TAGS = frozenset(
    {
        "percent_off",
        "amount_off",
        "fixed_price",
        "quantity_tiers",
        "buy_get",
        "bundle",
        "basket_threshold",
        "points_multiplier",
        "add_on",
        "gift",
    }
)
"""pydantic's discriminator branch names: they appear in error locations, not in files."""


def parse_document(data: Any, source: str = "catalog") -> CatalogDocument:
    """Validate parsed JSON into a document, or raise CatalogError listing every problem."""
    try:
        doc = CatalogDocument.model_validate(data)
    except ValidationError as exc:
        problems = describe_errors(exc, skip=ITEM_TYPE_TAGS)
        raise CatalogError(source, [_named(problem, data) for problem in problems]) from None
    problems = cross_check(doc)
    if problems:
        raise CatalogError(source, problems)
    return doc


_ITEM_AT = re.compile(r"^(products|promotions|departments)\[(\d+)\]")
_TOO_BIG = f"Input should be less than {AMOUNT_LIMIT}"


def _named(problem: str, data: Any) -> str:
    """`products[3].price: …` -> `products[3] (MILK-1L).price: …`, as `cross_check` writes
    it, so the technician finds the product; the magnitude bound said in our words."""
    problem = problem.replace(
        _TOO_BIG,
        f"more than {MAX_INTEGER_DIGITS} integer digits (amounts stay below "
        f"{AMOUNT_LIMIT}, what the totals engine computes exactly)",
    )
    if problem.endswith((".limit_per_sale: unknown field", ".limit_per_member: unknown field")):
        problem += (
            " (a limit per sale or per member is for promotions given unit by unit: percent_off, "
            "amount_off, fixed_price, quantity_tiers; leave it out here)"
        )
    match = _ITEM_AT.match(problem)
    items = data.get(match[1]) if match and isinstance(data, dict) else None
    if match is None or not isinstance(items, list) or int(match[2]) >= len(items):
        return problem
    item = items[int(match[2])]
    key = "sku" if match[1] == "products" else "id"
    name = item.get(key) if isinstance(item, dict) else None
    if not isinstance(name, str):
        return problem
    return f"{match[0]} ({name}){problem[match.end() :]}"


def read_document(path: str | Path) -> CatalogDocument:
    """Read and validate a catalog document file (money read as Decimal, never float)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogError(str(path), [f"cannot read the file: {exc.strerror}"]) from None
    except UnicodeDecodeError:
        raise CatalogError(str(path), ["the file is not UTF-8 text"]) from None
    return parse_document(loads(text, str(path)), str(path))


def loads(text: str, source: str) -> Any:
    try:
        return json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise CatalogError(
            source, [f"not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"]
        ) from None


def cross_check(doc: CatalogDocument) -> list[str]:
    """Rules that span the document: references, duplicates, decimals of the currency."""
    from gateway.barcodes import plu_key

    problems: list[str] = []
    places = doc.money.decimals
    taxes = _unique(doc.tax_classes, "id", "tax_classes", problems)
    categories = _unique(doc.categories, "id", "categories", problems)
    skus = _unique(doc.products, "sku", "products", problems)
    for i, cat in enumerate(doc.categories):
        if cat.parent is not None and cat.parent not in categories:
            problems.append(f"categories[{i}].parent: unknown category {cat.parent!r}")
    codes: dict[str, str] = {}
    for i, product in enumerate(doc.products):
        where = f"products[{i}] ({product.sku})"
        if product.tax_class not in taxes:
            problems.append(
                f"{where}.tax_class: unknown tax class {product.tax_class!r} "
                f"(known: {', '.join(sorted(taxes))})"
            )
        if product.category not in categories:
            problems.append(f"{where}.category: unknown category {product.category!r}")
        for field in ("price", "member_price"):
            _decimals(getattr(product, field), places, f"{where}.{field}", problems)
        if product.member_price is not None and product.member_price > product.price:
            problems.append(
                f"{where}.member_price: {product.member_price} is above the price {product.price}"
            )
        for code in product.barcodes:
            misread = _unscannable(code)
            if misread:
                problems.append(f"{where}.barcodes: {code} can never scan: {misread}")
        keys = [(catalog_key(c), f"barcode {c}") for c in product.barcodes]
        if product.plu is not None:
            keys.append((plu_key(product.plu), f"PLU {product.plu}"))
        for key, label in keys:
            owner = codes.setdefault(key, product.sku)
            if owner != product.sku:
                problems.append(f"{where}: duplicate {label}, already used by product {owner}")
    _check_departments(doc, taxes, categories, skus, places, problems)
    _check_deposits(doc, places, problems)
    for i, promo in enumerate(doc.promotions):
        _check_promotion(promo, f"promotions[{i}] ({promo.id})", skus, categories, places, problems)
    _unique(doc.promotions, "id", "promotions", problems)
    _check_serials(doc, problems)
    for i, promo in enumerate(doc.promotions):
        if isinstance(promo, THRESHOLD_OFFERS):
            _check_threshold_offer(promo, f"promotions[{i}] ({promo.id})", doc, places, problems)
    _check_recommendations(doc.recommendations, skus, problems)
    return problems


def _check_serials(doc: CatalogDocument, problems: list[str]) -> None:
    """Serial coupons: not beside a `coupon` code, not on points, one prefix one promotion."""
    prefixes: dict[str, str] = {}
    for i, promo in enumerate(doc.promotions):
        if promo.serials is None:
            continue
        where = f"promotions[{i}] ({promo.id}).serials"
        if promo.coupon is not None:
            problems.append(
                f"{where}: a promotion takes either one `coupon` code or `serials`, not both: "
                "leave one out"
            )
        if isinstance(promo, PointsMultiplier):
            problems.append(f"{where}: a points_multiplier takes no coupon: leave serials out")
        owner = prefixes.setdefault(promo.serials.prefix, promo.id)
        if owner != promo.id:
            problems.append(
                f"{where}.prefix: {promo.serials.prefix} is already the prefix of {owner}'s "
                "serials: give each promotion its own prefix"
            )


MAX_RECOMMENDATIONS = 3
"""What the customer screen has room for beside the line just scanned."""


def _check_recommendations(
    recommendations: dict[str, list[str]], skus: set[str], problems: list[str]
) -> None:
    """Each key and each recommended item a product of this catalog, at most
    MAX_RECOMMENDATIONS per product, none twice and never the product itself."""
    for sku, others in recommendations.items():
        where = f"recommendations[{sku!r}]"
        if sku not in skus:
            problems.append(f"{where}: unknown product {sku!r}")
        if len(others) > MAX_RECOMMENDATIONS:
            problems.append(
                f"{where}: {len(others)} items, at most {MAX_RECOMMENDATIONS} are shown"
            )
        for other in others:
            if other not in skus:
                problems.append(f"{where}: unknown product {other!r}")
        if sku in others:
            problems.append(f"{where}: a product cannot be recommended with itself")
        if len(set(others)) != len(others):
            problems.append(f"{where}: an item is listed twice")


@functools.lru_cache(maxsize=1 << 18)
def catalog_key(code: str) -> str:
    """`lookup_key_for_code`, remembered: validation and indexing of a 100,000-product
    document would otherwise normalise every barcode twice."""
    from gateway.barcodes import lookup_key_for_code

    return lookup_key_for_code(code)


def _unscannable(code: str) -> str | None:
    """Why a GTIN-shaped barcode (8, 12, 13 or 14 digits) would always be a misread."""
    from biip.checksums import gs1_standard_check_digit

    if not (code.isdigit() and len(code) in (8, 12, 13, 14)):
        return None
    if len(code) < 14 and catalog_key(code) != code:
        return None  # normalised to a GTIN-14, so its check digit (EAN or UPC-E) held
    expected = gs1_standard_check_digit(code[:-1])
    if int(code[-1]) == expected:
        return None
    return f"check digit is {code[-1]}, expected {expected}"


def _unique(items: list[Any], field: str, where: str, problems: list[str]) -> set[str]:
    seen: set[str] = set()
    for i, item in enumerate(items):
        key = getattr(item, field)
        if key in seen:
            problems.append(f"{where}[{i}].{field}: duplicate {field} {key!r}")
        seen.add(key)
    return seen


def _decimals(value: Decimal | None, places: int, where: str, problems: list[str]) -> None:
    if value is not None and decimal_places(value) > places:
        problems.append(f"{where}: {value} has more than the currency's {places} decimal places")


def _check_departments(
    doc: CatalogDocument,
    taxes: set[str],
    categories: set[str],
    skus: set[str],
    places: int,
    problems: list[str],
) -> None:
    """Departments' references and ids, and the quick-key grid: one item per position."""
    _unique(doc.departments, "id", "departments", problems)
    for i, dept in enumerate(doc.departments):
        where = f"departments[{i}] ({dept.id})"
        if dept.tax_class not in taxes:
            problems.append(f"{where}.tax_class: unknown tax class {dept.tax_class!r}")
        if dept.category not in categories:
            problems.append(f"{where}.category: unknown category {dept.category!r}")
        if dept.id in skus:
            problems.append(f"{where}.id: {dept.id!r} is already a product's sku")
        _decimals(dept.ceiling, places, f"{where}.ceiling", problems)
    keys: dict[int, str] = {}
    items = [(f"products[{i}] ({p.sku})", p.quick_key) for i, p in enumerate(doc.products)]
    items += [(f"departments[{i}] ({d.id})", d.quick_key) for i, d in enumerate(doc.departments)]
    for name, position in items:
        if position is None:
            continue
        owner = keys.setdefault(position, name)
        if owner != name:
            problems.append(f"{name}.quick_key: position {position} is already {owner}'s")


def _check_promotion(
    promo: Any,
    where: str,
    skus: set[str],
    categories: set[str],
    places: int,
    problems: list[str],
) -> None:
    target: Target = promo.target
    for sku in target.skus:
        if sku not in skus:
            problems.append(f"{where}.target.skus: unknown product {sku!r}")
    for cat in target.categories:
        if cat not in categories:
            problems.append(f"{where}.target.categories: unknown category {cat!r}")
    if not (target.skus or target.categories or target.all_items):
        problems.append(f"{where}.target: names no products, categories or all_items")
    for field in ("amount", "price", "max_discount"):
        _decimals(getattr(promo, field, None), places, f"{where}.{field}", problems)
    sched = promo.schedule
    if sched.valid_from and sched.valid_until and sched.valid_until <= sched.valid_from:
        problems.append(f"{where}.schedule: valid_until is not after valid_from")
    for j, window in enumerate(sched.hours):
        if window.end <= window.start:
            problems.append(
                f"{where}.schedule.hours[{j}]: 'to' must be after 'from' "
                "(split a window that crosses midnight in two)"
            )
    if isinstance(promo, PointsMultiplier):
        for said, field in (
            (promo.coupon is not None, "coupon"),
            (promo.max_discount is not None, "max_discount"),
            (promo.exclusive, "exclusive"),
        ):
            if said:
                problems.append(
                    f"{where}.{field}: a points_multiplier gives points, not money: "
                    f"leave {field} out"
                )
    if isinstance(promo, QuantityTiers):
        counts = [t.min_units for t in promo.tiers]
        percents = [t.percent_off for t in promo.tiers]
        if counts != sorted(set(counts)) or percents != sorted(set(percents)):
            problems.append(
                f"{where}.tiers: min_units and percent_off must both increase strictly "
                f"from tier to tier (got min_units {', '.join(map(str, counts))}; "
                f"percent_off {', '.join(f'{p:f}' for p in percents)}): write the tiers "
                "from the fewest units up, each giving more off"
            )
    if isinstance(promo, BasketThreshold):
        thresholds = [t.threshold for t in promo.tiers]
        if thresholds != sorted(set(thresholds)):
            problems.append(f"{where}.tiers: thresholds must increase strictly")
        if promo.repeat and len(promo.tiers) != 1:
            problems.append(f"{where}: a repeating threshold (每满) takes exactly one tier")
        for j, tier in enumerate(promo.tiers):
            _decimals(tier.amount, places, f"{where}.tiers[{j}].amount", problems)
            _decimals(tier.threshold, places, f"{where}.tiers[{j}].threshold", problems)
            if tier.amount is not None and tier.amount > tier.threshold:
                problems.append(
                    f"{where}.tiers[{j}]: gives more off ({tier.amount}) than the "
                    f"threshold ({tier.threshold})"
                )


def _check_threshold_offer(
    promo: ThresholdOffer, where: str, doc: CatalogDocument, places: int, problems: list[str]
) -> None:
    """An add-on or a gift prices one product sold each, that takes discounts; an add-on's
    price is below that product's price (else it would give nothing, or cost more)."""
    _decimals(promo.threshold, places, f"{where}.threshold", problems)
    product = next((p for p in doc.products if p.sku == promo.item), None)
    if product is None:
        problems.append(f"{where}.item: unknown product {promo.item!r}")
        return
    if product.weighed:
        problems.append(
            f"{where}.item: {promo.item} is sold by weight; an offer prices whole units "
            "(pick a product sold each)"
        )
    if "no_discount" in product.flags:
        problems.append(
            f"{where}.item: {promo.item} is flagged no_discount, so no offer may price it "
            "(drop the flag or pick another item)"
        )
    if isinstance(promo, AddOn) and promo.price >= product.price:
        problems.append(
            f"{where}.price: {promo.price} is not below the price of {promo.item} "
            f"({product.price}); an add-on price must be lower"
        )


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the document, as shipped in gateway/schemas/catalog.schema.json."""
    schema = CatalogDocument.model_json_schema(by_alias=True, mode="validation")
    schema["$id"] = "https://storegate.example/schemas/catalog-1.json"
    schema["title"] = "storegate catalog document"
    return schema
