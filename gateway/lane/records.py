"""The bodies of every journal record the lane writes, as pydantic models.

One shape per record kind, shared by three readers: the lane builds and checks bodies with
these before appending, receipts and X/Z reports read them back, and head office validates
and reports from the very same models (sales by store/day/hour/category/cashier, top items,
basket size, refunds and voids, promotion effect, member RFM). So a body carries everything
those reports need without a second look-up: names, categories, tax rates, who and when.

Rules every body follows:
- money is a `Decimal`, written to JSON as a string ("12.50"), never a float;
- a member is named by the store-issued member id only; a payment card appears at most as
  first six + last four digits (`MaskedPan`), never in full, never with track data;
- unknown keys are refused (`extra="forbid"`), so a typo never passes silently;
- `schema` names the body's version; a change old readers cannot ignore bumps it;
- `staff` is who did it (the authenticated person: a LAN tablet's, or the till's signed-on
  cashier); `operator` the till's cashier when that is someone else, and absent otherwise
  (so a body of one person's action is byte for byte what it was before `operator` existed).

The members engineer owns `member_balance` bodies (gateway/members); this module does not
define them. Pure data: no I/O, no clock, no SQLite.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

Money = Annotated[Decimal, Field(allow_inf_nan=False), PlainSerializer(str, return_type=str)]
Qty = Annotated[Decimal, Field(allow_inf_nan=False), PlainSerializer(str, return_type=str)]
Rate = Annotated[Decimal, Field(ge=0, le=100), PlainSerializer(str, return_type=str)]
MaskedPan = Annotated[str, Field(pattern=r"^[0-9]{0,6}\*{2,13}[0-9]{0,4}$", max_length=19)]

Role = Literal["cashier", "supervisor", "technician", "admin"]
TenderType = Literal["cash", "card", "mobile", "voucher", "points", "stored_value"]
AdjustmentKind = Literal["member_price", "promotion", "basket", "moling", "override", "reduced"]
OverrideAction = Literal[
    "refund",
    "empties_payout",
    "return_without_receipt",
    "void_line",
    "void_sale",
    "void_after_tender",
    "price_override",
    "basket_discount",
    "no_sale",
    "close_shift_with_difference",
    "approve_offline",
    "paid_out",
    "paid_in",
    "open_price",
    "open_price_over_ceiling",
    "confirm_age",
    "top_up",
    "refund_top_up",
]


# keys added later: absent, not null, when unset (so older bodies stay byte for byte)
OMITTED_WHEN_NONE = frozenset(
    {
        "operator",
        "member_coupons",  # sale: the member's personal coupons still to redeem (issue 21)
        "redeemed_coupons",  # sale: the member's personal coupons still to redeem (issue 21)
        "language",  # shift_open: the cashier's chosen language (issue 14, item 7)
        # shift_close and z_report: the cash movements and the count (issue 14, item 5)
        "paid_in",
        "paid_out",
        "denominations",
        "paid_ins",
        "paid_outs",
        "top_ups",
        "top_up",
        "top_up_cash",
        "opening_floats",
        "cash_sales",
        "cash_refunds",
        "expected_cash",
        "counted",
        "over_short",
        "shifts_closed",
        # z_report: wallet payments per provider and any in doubt (issue 16)
        "by_provider",
        "in_doubt",
        # sale lines and sales: open-price lines and the age check (issue 14, items 3, 4)
        "open_price",
        "age_check",
        # sales of a member whose card was read: the wallets after it (issue 20, item 7)
        "stored_value_balance",
        # sales with a whole-basket manual discount (整单折扣, issue 21 item 1)
        "basket_discount",
        # line adjustments of a promotion with a limit per member: its units (issue 21)
        "units",
    }
)


class Body(BaseModel):
    """Base of every lane body: frozen, strict about unknown keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def to_body(self) -> dict[str, Any]:
        """Plain JSON data for `Journal.append` (amounts as strings). Keys added after a
        body shipped (`OMITTED_WHEN_NONE`) are left out when unset, so a reader that
        predates them still reads every record that does not use them."""
        unset = {k for k in OMITTED_WHEN_NONE if k in type(self).model_fields}
        unset = {k for k in unset if getattr(self, k) is None}
        return self.model_dump(mode="json", by_alias=True, exclude=unset or None)


class StaffRef(Body):
    """Who acted: id and name as in the staff table at the time, and the role they held."""

    id: str
    name: str
    role: Role


class MemberRef(Body):
    """The member on a sale: store-issued member id and group (never a payment card)."""

    id: str
    group: str | None = None


class CouponOfferRef(Body):
    """A personal coupon the member still holds after the sale (printed on the receipt)."""

    code: str
    campaign: str
    until: str | None = Field(None, description="YYYY-MM-DD, its last local day")


class LaneRef(Body):
    """Where: store and box (one box drives one lane)."""

    store: str
    box: str


class LineAdjustment(Body):
    """One change to a line's amount (negative for a discount), with the promotion behind it."""

    kind: AdjustmentKind
    amount: Money
    label: str
    promotion: str | None = None
    units: int | None = Field(
        None,
        ge=0,
        description="限购 per member: how many of the line's units the promotion covered "
        "(what the member's count took; a refund gives them back)",
    )


class OpenPriceRef(Body):
    """A line sold at a price the cashier keyed (a department's open-price key): which
    department, its ceiling then, and who keyed it."""

    department: str
    ceiling: Money
    staff: StaffRef


class AgeCheck(Body):
    """The customer's age was confirmed for this sale's age-restricted items: by whom,
    when, and the birth date it stood for (born on or before `born_by`)."""

    staff: StaffRef
    operator: StaffRef | None = Field(
        None, description="the till's signed-on cashier, when someone else confirmed"
    )
    local_time: str
    minimum_age: int
    born_by: str = Field(description="YYYY-MM-DD: the latest birth date that is old enough")


def without_unset_lines(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Lines of a body with the later keys (`OMITTED_WHEN_NONE`) left out when unset, as
    `Body.to_body` does for a body's own keys."""
    out = [
        {k: v for k, v in line.items() if v is not None or k not in OMITTED_WHEN_NONE}
        for line in lines
    ]
    for line in out:
        if "adjustments" in line:
            line["adjustments"] = without_unset_lines(line["adjustments"])
    return out


class SaleLine(Body):
    """A priced line exactly as the totals engine allocated it (refunds read these amounts)."""

    index: int = Field(ge=0)
    sku: str
    name: str
    category: str
    unit: str
    quantity: Qty
    weight: Qty | None = None
    unit_price: Money
    list_amount: Money
    adjustments: list[LineAdjustment] = Field(default_factory=list)
    amount: Money
    tax_class: str
    tax_rate: Rate
    tax_inclusive: bool
    tax: Money
    total: Money
    code: str | None = None
    override: str | None = Field(None, description="id of the override record, if any")
    open_price: OpenPriceRef | None = Field(
        None, description="keyed at a department's open-price key, and by whom"
    )
    # deposits (Pfand / 押金): what the line's deposit adds to its total, and the deposit
    # product; absent on lines without one, so older bodies stay byte for byte
    deposit: Money | None = Field(None, exclude_if=lambda v: v is None)
    deposit_sku: str | None = Field(None, exclude_if=lambda v: v is None)


class TaxLine(Body):
    tax_class: str
    name: str
    rate: Rate
    inclusive: bool
    net: Money
    tax: Money
    gross: Money


class Totals(Body):
    """The sale's figures. `due` is what the tenders settled (total, or cash_total when
    any cash was given and cash rounding applies)."""

    list_total: Money
    item_discounts: Money
    basket_discounts: Money
    moling: Money
    tax: Money
    total: Money
    cash_rounding: Money
    due: Money
    savings: Money


class Tender(Body):
    """One payment. `given` and `change` are for cash only (change is never given on other
    tenders); external tenders carry the terminal's or voucher's `reference`."""

    type: TenderType
    amount: Money = Field(description="what this tender paid toward the sale")
    given: Money | None = None
    change: Money | None = None
    reference: str | None = None
    card: MaskedPan | None = None


class Points(Body):
    earned: int = 0
    redeemed: int = 0
    balance: int | None = None


class OverrideRef(Body):
    """An override as referenced from the record it authorised."""

    id: str
    action: OverrideAction
    supervisor: StaffRef
    reason: str


class BasketDiscountRef(Body):
    """整单折扣: the whole-basket manual discount on a sale, as it was entered (`percent`
    or `amount`, exactly one), what it took off in all, why, who entered it and when, and
    the supervisor's override when one authorised it. Each line's share is that line's
    `basket` adjustment without a promotion, so a refund pays back the discounted amount."""

    percent: Rate | None = None
    amount: Money | None = None
    discount: Money | None = Field(
        None, description="what it took off the sale in all (set when the sale completes)"
    )
    reason: str
    staff: StaffRef
    local_time: str
    override: OverrideRef | None = None


class SaleBody(Body):
    """`sale`: a completed sale."""

    schema_: Literal["storegate.lane.sale/1"] = Field("storegate.lane.sale/1", alias="schema")
    receipt_id: str
    lane: LaneRef
    shift_id: str
    business_day: str = Field(description="YYYY-MM-DD the sale counts toward (store-local)")
    local_time: str = Field(description="store-local wall time, ISO-8601 without offset")
    staff: StaffRef
    operator: StaffRef | None = Field(
        None, description="the till's signed-on cashier, when someone else did it"
    )
    member: MemberRef | None = None
    catalog_version: int
    currency: str
    places: int
    lines: list[SaleLine]
    voided_lines: list[SaleLine] = Field(
        default_factory=list, description="lines rung up then voided before completion"
    )
    coupons: list[str] = Field(default_factory=list)
    promotions: list[str] = Field(default_factory=list, description="promotion ids applied")
    redeemed_coupons: list[str] | None = Field(
        None,
        description="the member's personal coupons (campaign ids) this sale redeemed: spent "
        "once and for all (absent when none)",
    )
    member_coupons: list[CouponOfferRef] | None = Field(
        None, description="the member's personal coupons still to redeem after the sale"
    )
    totals: Totals
    taxes: list[TaxLine]
    tenders: list[Tender]
    change: Money
    points: Points = Field(default_factory=Points)
    stored_value_balance: Money | None = Field(
        None,
        description="the member's subsidy + cash wallets after the sale, when their card "
        "was read (absent otherwise)",
    )
    overrides: list[OverrideRef] = Field(default_factory=list)
    resumed_from: str | None = Field(None, description="id of the suspension it resumed")
    age_check: AgeCheck | None = Field(
        None, description="who confirmed the customer's age, for age-restricted items"
    )
    basket_discount: BasketDiscountRef | None = Field(
        None, description="a whole-basket manual discount (整单折扣), when one was given"
    )

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    def to_body(self) -> dict[str, Any]:
        body = super().to_body()
        body["lines"] = without_unset_lines(body["lines"])
        body["voided_lines"] = without_unset_lines(body["voided_lines"])
        if body.get("age_check") and body["age_check"].get("operator") is None:
            body["age_check"].pop("operator", None)
        return body


class RefundLine(Body):
    """A refunded part of an original line: amounts from the original allocation."""

    original_index: int = Field(ge=0)
    sku: str
    name: str
    category: str
    quantity: Qty
    weight: Qty | None = None
    amount: Money = Field(description="refunded, positive; the original line's share")
    tax_class: str
    tax_rate: Rate
    tax_inclusive: bool
    tax: Money


class RefundBody(Body):
    """`refund`: money back, against an earlier receipt or (separately permitted) without."""

    schema_: Literal["storegate.lane.refund/1"] = Field("storegate.lane.refund/1", alias="schema")
    refund_id: str
    lane: LaneRef
    shift_id: str
    business_day: str
    local_time: str
    staff: StaffRef
    operator: StaffRef | None = Field(
        None, description="the till's signed-on cashier, when someone else did it"
    )
    with_receipt: bool
    original_receipt_id: str | None = None
    original_seq: int | None = None
    member: MemberRef | None = None
    currency: str
    places: int
    lines: list[RefundLine]
    total: Money
    taxes: list[TaxLine]
    tenders: list[Tender] = Field(
        description="how it was paid back: a `points` tender is "
        "the money the sale's points paid, given back as points"
    )
    points_reversed: int = Field(0, description="earned points taken back")
    points_returned: int = Field(0, description="redeemed points given back as points")
    points_balance: int | None = Field(
        None, description="the member's points balance after this refund, when points moved"
    )
    reason: str
    override: OverrideRef | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class VoidBody(Body):
    """`void`: a whole sale abandoned before completion (kept for loss prevention)."""

    receipt_id: str
    lane: LaneRef
    shift_id: str
    business_day: str
    local_time: str
    staff: StaffRef
    operator: StaffRef | None = Field(
        None, description="the till's signed-on cashier, when someone else did it"
    )
    after_tender: bool
    lines: list[SaleLine]
    total: Money
    tenders_reversed: list[Tender] = Field(default_factory=list)
    reason: str
    override: OverrideRef | None = None

    def to_body(self) -> dict[str, Any]:
        body = super().to_body()
        body["lines"] = without_unset_lines(body["lines"])
        return body


class NoSaleBody(Body):
    """`no_sale`: the drawer opened with no sale."""

    lane: LaneRef
    shift_id: str
    business_day: str
    local_time: str
    staff: StaffRef
    operator: StaffRef | None = Field(
        None, description="the till's signed-on cashier, when someone else did it"
    )
    reason: str
    override: OverrideRef | None = None


class ShiftOpenBody(Body):
    """`shift_open`: a cashier signed on with an opening float."""

    shift_id: str
    lane: LaneRef
    business_day: str
    local_time: str
    staff: StaffRef
    method: Literal["card", "pin"]
    opening_float: Money
    language: str | None = Field(
        None,
        description="the language the cashier chose for the shift's screens and receipts; "
        "absent: the box's default ([screens] language)",
    )


class ShiftDocument(Body):
    """What a till's document of a shift that is not a sale says first: where, in which
    shift and day, when, who did it (and the till's cashier when that was someone else),
    in which currency."""

    lane: LaneRef
    shift_id: str
    business_day: str
    local_time: str
    staff: StaffRef
    operator: StaffRef | None = Field(
        None, description="the till's signed-on cashier, when someone else did it"
    )
    currency: str
    places: int


class CashMovementBody(ShiftDocument):
    """What `paid_in` and `paid_out` share: cash into or out of the drawer that is not a
    sale or a refund, with why, who did it and who authorised it."""

    movement_id: str
    amount: Money = Field(description="positive: the cash that went in (paid_in) or out")
    reason: str
    override: OverrideRef | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class PaidInBody(CashMovementBody):
    """`paid_in`: cash put into the drawer (change from the bank, a float top-up)."""

    schema_: Literal["storegate.lane.paid_in/1"] = Field("storegate.lane.paid_in/1", alias="schema")


class PaidOutBody(CashMovementBody):
    """`paid_out`: cash taken out of the drawer (a supplier paid, a cash drop to the safe)."""

    schema_: Literal["storegate.lane.paid_out/1"] = Field(
        "storegate.lane.paid_out/1", alias="schema"
    )


class TopUpBody(ShiftDocument):
    """`top_up`: a member's cash wallet topped up at the till (充值): what was paid, by which
    tender, the store's bonus on top, and the wallet after it. The wallet change itself is
    its `member_balance` record, committed with this one."""

    schema_: Literal["storegate.lane.top_up/1"] = Field("storegate.lane.top_up/1", alias="schema")
    top_up_id: str
    member: str = Field(description="the store-issued member id (never a card number)")
    amount: Money = Field(description="what the customer paid")
    bonus: Money = Field(description="put on the wallet on top, by the store's rules")
    tender: Literal["cash", "card"]
    reference: str | None = Field(None, description="the card terminal's reference")
    balance: Money = Field(description="the cash wallet after it")
    override: OverrideRef | None = None


class TopUpRefundBody(ShiftDocument):
    """`top_up_refund`: a top-up paid back by its own tender and taken off the wallet with
    its bonus (`taken`), with who authorised it and why."""

    schema_: Literal["storegate.lane.top_up_refund/1"] = Field(
        "storegate.lane.top_up_refund/1", alias="schema"
    )
    refund_id: str
    top_up_id: str
    member: str
    amount: Money = Field(description="paid back to the customer")
    taken: Money = Field(description="taken off the wallet: the amount and its bonus")
    tender: Literal["cash", "card"]
    reason: str
    balance: Money = Field(description="the cash wallet after it")
    override: OverrideRef | None = None


class DenominationCount(Body):
    """One note or coin of a drawer count: its value, how many, and value x pieces."""

    value: Money
    pieces: int = Field(ge=0)
    amount: Money


class ShiftCloseBody(Body):
    """`shift_close`: the count of the drawer and what the journal says should be in it."""

    shift_id: str
    lane: LaneRef
    business_day: str
    local_time: str
    staff: StaffRef
    operator: StaffRef | None = Field(
        None, description="the till's signed-on cashier, when someone else did it"
    )
    blind: bool = Field(description="the cashier counted without seeing the expected amount")
    opening_float: Money
    cash_sales: Money
    cash_refunds: Money
    expected: Money
    counted: Money
    over_short: Money = Field(description="counted - expected: negative means short")
    sales: int
    refunds: int
    paid_in: Money | None = Field(None, description="paid into the drawer (absent: none)")
    paid_out: Money | None = Field(None, description="paid out of the drawer (absent: none)")
    denominations: list[DenominationCount] | None = Field(
        None, description="the count per note and coin, when counted so"
    )


class OverrideBody(Body):
    """`override`: a supervisor authorised one operation, up to their ceiling."""

    override_id: str
    lane: LaneRef
    shift_id: str | None
    local_time: str
    action: OverrideAction
    supervisor: StaffRef
    cashier: StaffRef | None = Field(description="who asked for it (the actor)")
    operator: StaffRef | None = Field(
        None, description="the till's signed-on cashier, when someone else asked"
    )
    method: Literal["card", "pin"]
    amount: Money | None = None
    ceiling: Money | None = None
    reason: str
    receipt_id: str | None = None


class Breakdown(Body):
    """One row of a report breakdown (tender, tax rate, category, cashier)."""

    key: str
    name: str = ""
    count: int
    amount: Money
    average: Money | None = None
    tax: Money | None = None


class PaymentInDoubt(Body):
    """A wallet payment neither paid nor settled otherwise, as a Z report lists it."""

    payment_id: str
    provider: str
    amount: Money
    state: str
    reason: str = ""


class ZReportBody(Body):
    """`z_report`: the day's close (日结); `z_number` is the box's running Z counter."""

    z_number: int = Field(ge=1)
    lane: LaneRef
    business_day: str
    local_time: str
    staff: StaffRef
    first_seq: int
    last_seq: int
    currency: str
    sales: int
    gross: Money
    discounts: Money
    refunds: int
    refunds_amount: Money
    net: Money
    voids: int
    voids_amount: Money
    line_voids: int
    no_sales: int
    points_issued: int
    points_redeemed: int
    points_reversed: int = Field(0, description="earned points taken back by refunds")
    points_returned: int = Field(0, description="redeemed points given back by refunds")
    # The drawer (added later: absent on Z records written before them)
    opening_floats: Money | None = Field(None, description="opening floats of the shifts")
    cash_sales: Money | None = None
    cash_refunds: Money | None = None
    paid_ins: int | None = None
    paid_in: Money | None = None
    paid_outs: int | None = None
    paid_out: Money | None = None
    top_ups: int | None = Field(None, description="member top-ups less those paid back")
    top_up: Money | None = Field(None, description="their amount, by any tender")
    top_up_cash: Money | None = Field(None, description="the cash of them in the drawer")
    expected_cash: Money | None = Field(
        None, description="floats + cash sales - cash refunds + paid in - paid out + cash top-ups"
    )
    shifts_closed: int | None = None
    counted: Money | None = Field(None, description="the closed shifts' counts")
    over_short: Money | None = Field(None, description="the closed shifts' over/short")
    by_tender: list[Breakdown]
    by_tax: list[Breakdown]
    by_category: list[Breakdown]
    by_cashier: list[Breakdown]
    by_provider: list[Breakdown] | None = Field(
        None, description="wallet payments paid, per provider (absent: none that day)"
    )
    in_doubt: list[PaymentInDoubt] | None = Field(
        None, description="wallet payments still in doubt at the close (absent: none)"
    )


RECORD_MODELS: dict[str, type[Body]] = {
    "sale": SaleBody,
    "refund": RefundBody,
    "void": VoidBody,
    "no_sale": NoSaleBody,
    "paid_in": PaidInBody,
    "paid_out": PaidOutBody,
    "top_up": TopUpBody,
    "top_up_refund": TopUpRefundBody,
    "shift_open": ShiftOpenBody,
    "shift_close": ShiftCloseBody,
    "override": OverrideBody,
    "z_report": ZReportBody,
}


def parse_body(kind: str, body: dict[str, Any]) -> Body:
    """Validate a journal body of a lane kind (a pydantic ValidationError names the key)."""
    model = RECORD_MODELS.get(kind)
    if model is None:
        raise KeyError(f"{kind!r} is not a lane record kind")
    return model.model_validate(body)


def json_schemas() -> dict[str, dict[str, Any]]:
    """JSON Schema of every lane body, by kind (for head office and other languages)."""
    return {
        kind: model.model_json_schema(by_alias=True, mode="serialization")
        for kind, model in RECORD_MODELS.items()
    }
