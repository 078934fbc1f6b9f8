"""The sale in progress: ringing up, member, coupons, tender, completion, suspend, void.

Owns the `Sale` value (immutable: every change makes a new one, so a refused event leaves
the old one in place) and the handlers of the events that change it. Completion builds the
`sale` body from the totals engine's priced basket (every line with its cent-exact
allocated amounts, which refunds later read back) and commits it, with the member's
balance changes, as the step's intended batch: the lane commits it in one journal
transaction after the step was accepted, before any receipt exists. Decides nothing about
which events are legal when (that is `machine.TABLE`). No I/O of its own, and no writes:
the handlers see the lane as a read-only `LaneContext`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from gateway.barcodes import Misread, ScannedCode, parse_scan
from gateway.cardsafe import mask_card_data, mask_card_number
from gateway.catalog.document import Product
from gateway.catalog.serials import SerialCoupon, SerialProblem, read_serial
from gateway.errors import StoregateError
from gateway.lane import events as ev
from gateway.lane.book import Batch
from gateway.lane.events import Refusal
from gateway.lane.items import card_code_refusal, find_product, whole_quantity
from gateway.lane.members import MemberAccount, OfferedCoupon, sentence
from gateway.lane.records import (
    AgeCheck,
    BasketDiscountRef,
    CouponOfferRef,
    LineAdjustment,
    MemberRef,
    OpenPriceRef,
    OverrideRef,
    Points,
    SaleBody,
    SaleLine,
    TaxLine,
    Totals,
    VoidBody,
)
from gateway.lane.records import Tender as TenderRecord
from gateway.lane.state import LaneContext, Permit, Sale, State, Step, sale_override_ref
from gateway.money import ZERO, quantum
from gateway.pricing import Basket, BasketLine, ManualDiscount, PricedBasket
from gateway.pricing.basket import quantity_on_weighed_error
from gateway.pricing.incremental import price_scan
from gateway.pricing.reduced import Reduction, reduction_problem
from gateway.pricing.result import PricedLine

EXTERNAL = ("card", "mobile", "voucher")
MEMBER_TENDERS = ("points", "stored_value")


def _open(lane: LaneContext) -> Sale:
    """The sale in progress (the table routes these events only when there is one)."""
    assert lane.sale is not None, "no sale in progress"
    return lane.sale


def current(lane: LaneContext, at: datetime) -> Sale:
    return lane.sale if lane.sale is not None else Sale(started=at, catalog=lane.catalog)


def reprice(sale: Sale, at: datetime) -> Sale | Refusal:
    """Price the basket with the sale's own catalog (a new catalog waits for the next sale),
    re-using the last pricing's work for the lines that did not change (the same result as
    pricing it whole: `gateway.pricing.incremental`)."""
    member = sale.member.context if sale.member else None
    d = sale.discount
    discount = None if d is None else ManualDiscount(d.percent, d.amount, d.reason)
    basket = Basket(sale.lines, at, member, sale.coupons, discount)
    try:
        priced, memo = price_scan(basket, sale.catalog, sale.pricing)
    except StoregateError as exc:
        return Refusal("cannot_price", sentence(exc.what))
    return replace(sale, priced=priced, priced_at=at, pricing=memo)


def _in_sale(
    lane: LaneContext,
    sale: Sale | Refusal,
    notices: tuple[str, ...] = (),
    batch: Batch | None = None,
) -> Step | Refusal:
    if isinstance(sale, Refusal):
        return sale
    return lane.with_sale(State.IN_SALE, sale, notices=notices, batch=batch)


# -- ringing up ------------------------------------------------------------------------


def _add(lane: LaneContext, event: ev.Event, line: BasketLine) -> Step | Refusal:
    at = event.at
    sale = current(lane, at)
    permit = lane.permit("sell", event, None)
    if isinstance(permit, Refusal):
        return permit
    lines = _with_line(lane, sale, line)
    if isinstance(lines, Refusal):
        return lines
    after = replace(sale, lines=lines)
    return _in_sale(lane, reprice(after, at), _age_notice(lane, sale, after, at))


def _mergeable(line: BasketLine) -> bool:
    """A counted line at the catalog's price: one more of it is the same line."""
    return (
        line.weight is None
        and line.label_price is None
        and line.price_override is None
        and line.open_price is None
        and line.reduced is None
    )


def _with_line(lane: LaneContext, sale: Sale, line: BasketLine) -> tuple[BasketLine, ...] | Refusal:
    """The sale's lines with `line` rung up: a new line, or (setting `lane.merge_repeats`)
    counted into the latest line of the same item, when both are counted lines at the
    catalog's price."""
    if lane.settings.lane.merge_repeats and _mergeable(line):
        for index in range(len(sale.lines) - 1, -1, -1):
            old = sale.lines[index]
            if old.sku == line.sku and _mergeable(old):
                if bad := whole_quantity(old.quantity + line.quantity):
                    return bad
                lines = list(sale.lines)
                lines[index] = replace(old, quantity=old.quantity + line.quantity)
                return tuple(lines)
    return (*sale.lines, line)


# -- age-restricted items --------------------------------------------------------------


def born_by(today: date, years: int) -> date:
    """The latest birth date of someone `years` old on `today` (born on 29 February: the
    birthday is 28 February in a year without one)."""
    try:
        return today.replace(year=today.year - years)
    except ValueError:
        return today.replace(year=today.year - years, day=28)


def _age_notice(lane: LaneContext, before: Sale, after: Sale, at: datetime) -> tuple[str, ...]:
    """The lane asks once: when the first age-restricted item of an unconfirmed sale is
    rung up."""
    rules = lane.settings.lane
    if not rules.age_check or before.needs_age_check or not after.needs_age_check:
        return ()
    born = born_by(at.date(), rules.minimum_age).isoformat()
    return (f"Age check: is the customer born on or before {born}?",)


def confirm_age(lane: LaneContext, event: ev.ConfirmAge) -> Step | Refusal:
    """The cashier confirms the customer's age once per sale; the sale record keeps who
    did and when (`AgeCheck`)."""
    sale = _open(lane)
    if sale.age_check is not None:
        return Refusal(
            "age_confirmed",
            f"The customer's age is already confirmed for this sale "
            f"(by {sale.age_check.staff.name}).",
        )
    if not sale.age_restricted:
        return Refusal("no_age_check", "Nothing on this sale is age-restricted.")
    permit = lane.permit("confirm_age", event, event.authorization)
    if isinstance(permit, Refusal):
        return permit
    batch = Batch()
    overrides = (*sale.overrides, *_override(lane, permit, event.at, batch))
    acting, years = lane.acting(event), lane.settings.lane.minimum_age
    check = AgeCheck(
        staff=acting.staff,
        operator=acting.operator_ref,
        local_time=event.at.isoformat(timespec="seconds"),
        minimum_age=years,
        born_by=born_by(event.at.date(), years).isoformat(),
    )
    return _in_sale(
        lane,
        replace(sale, age_check=check, overrides=overrides),
        (f"Age confirmed by {acting.person.name}.",),
        batch=batch,
    )


def _age_refusal(lane: LaneContext, sale: Sale, at: datetime) -> Refusal | None:
    """No payment while age-restricted items wait for the customer's age."""
    rules = lane.settings.lane
    if not rules.age_check or not sale.needs_age_check:
        return None
    born = born_by(at.date(), rules.minimum_age).isoformat()
    return Refusal(
        "needs_age_check",
        f"Confirm the customer's age first (born on or before {born}), "
        "or void the age-restricted items.",
    )


# -- items without a barcode -----------------------------------------------------------


def pick(lane: LaneContext, event: ev.Pick) -> Step | Refusal:
    """An item chosen on the screen (search, quick key) by its sku."""
    sale = current(lane, event.at)
    department = sale.catalog.department(event.sku)
    if department is not None:
        return Refusal("open_price_item", f"{department.name} is an open-price key: key the price.")
    product = sale.catalog.products.get(event.sku)
    if product is None:
        return Refusal("unknown_item", f"No item {event.sku} in the catalog in force.")
    if product.weighed:
        if event.weighed is None:
            return Refusal(
                "needs_weight", f"{product.name} is sold by weight: weigh it on the scale."
            )
        return _weighed_item(lane, event, product.sku, event.weighed)
    if bad := whole_quantity(event.quantity):
        return bad
    return _add(lane, event, BasketLine(product.sku, quantity=event.quantity))


def open_price(lane: LaneContext, event: ev.OpenPrice) -> Step | Refusal:
    """A department's open-price key: the unit price the cashier keyed, up to the
    department's ceiling by the `open_price` permission; above it by
    `open_price_over_ceiling` (a supervisor's, by default). The line records who keyed it."""
    sale = current(lane, event.at)
    department = sale.catalog.department(event.department.strip())
    if department is None:
        known = ", ".join(sorted(sale.catalog.departments)) or "none in this catalog"
        return Refusal(
            "unknown_department", f"No department {event.department!r} (known: {known})."
        )
    price, places = event.unit_price, sale.catalog.places
    if not price.is_finite() or price <= 0:
        return Refusal("bad_price", "Key the item's price: more than zero.")
    if price != round(price, places):
        return Refusal("bad_price", f"{price} has more decimals than the currency.")
    price = price.quantize(quantum(places))  # 45 keyed is 45.00, as the catalog writes it
    if bad := whole_quantity(event.quantity):
        return bad
    amount = price * event.quantity
    over = price > department.ceiling
    action = "open_price_over_ceiling" if over else "open_price"
    acting = lane.acting(event)
    if (
        over
        and event.authorization is None
        and not lane.settings.lane.allows(acting.person.role, action)
    ):
        return Refusal(
            "needs_override",
            f"{price} is above the {department.name} ceiling of {department.ceiling}: "
            "a supervisor must authorise it (scan a supervisor card or enter a supervisor PIN).",
        )
    permit = lane.permit(action, event, event.authorization, amount=amount)
    if isinstance(permit, Refusal):
        return permit
    selling = lane.permit("sell", event, None)
    if isinstance(selling, Refusal):
        return selling
    batch = Batch()
    overrides = (*sale.overrides, *_override(lane, permit, event.at, batch))
    keyed = OpenPriceRef(department=department.id, ceiling=department.ceiling, staff=acting.staff)
    line = BasketLine(department.id, quantity=event.quantity, open_price=price)
    after = replace(
        sale,
        lines=(*sale.lines, line),
        overrides=overrides,
        line_open_prices=(*sale.line_open_prices, (len(sale.lines), keyed)),
    )
    return _in_sale(
        lane, reprice(after, event.at), _age_notice(lane, sale, after, event.at), batch=batch
    )


def scan(lane: LaneContext, event: ev.Scan) -> Step | Refusal:
    sale = current(lane, event.at)
    parsed = parse_scan(event.raw, lane.settings.barcodes)
    product = None if isinstance(parsed, Misread) else sale.catalog.lookup(parsed.lookup_keys)
    if product is None and (card := card_code_refusal(event.raw)):
        return card
    if isinstance(parsed, Misread):
        return Refusal(
            "misread", f"Barcode not read ({parsed.reason}). Scan it again or key the number."
        )
    if product is None:
        return Refusal(
            "unknown_item",
            "Unknown item: it is not in the catalog. Put it aside and call a supervisor.",
        )
    if parsed.reduced_price is not None or parsed.reduced_percent is not None:
        return _reduced_sticker(lane, event, product, parsed)
    if product.weighed and parsed.weight is None and parsed.price is None:
        return Refusal("needs_weight", f"{product.name} is sold by weight: weigh it on the scale.")
    if quantity_on_weighed_error(event.quantity, parsed.weight, parsed.price, parsed.raw):
        return Refusal(
            "quantity_on_weighed",
            f"{product.name} is rung up one label at a time: "
            "scan each label (or weigh each item) once, without a quantity.",
        )
    quantity = Decimal(parsed.count or 1) * event.quantity
    if parsed.weight is None and parsed.price is None and (bad := whole_quantity(quantity)):
        return bad
    return _add(
        lane,
        event,
        BasketLine(
            product.sku,
            quantity=quantity,
            weight=parsed.weight,
            label_price=parsed.price,
            code=parsed.raw,
        ),
    )


def _reduced_sticker(
    lane: LaneContext, event: ev.Scan, product: Product, parsed: ScannedCode
) -> Step | Refusal:
    """A reduced-to-clear sticker (docs/barcodes.md): one item at the sticker's price, or
    refused (`reduced_sticker`) when it may not be sold so — above the catalog price, on a
    weighed item, with a quantity."""
    reduction = Reduction(parsed.reduced_price, parsed.reduced_percent)
    if problem := reduction_problem(product, reduction, event.quantity):
        return Refusal("reduced_sticker", f"Reduced sticker refused: {problem}.")
    return _add(lane, event, BasketLine(product.sku, reduced=reduction, code=parsed.raw))


def plu(lane: LaneContext, event: ev.Plu) -> Step | Refusal:
    sale = current(lane, event.at)
    product = find_product(sale.catalog, event.code)
    if product is None:
        return card_code_refusal(event.code) or Refusal(
            "unknown_item", f"No item with PLU {event.code}."
        )
    if product.weighed:
        return Refusal("needs_weight", f"{product.name} is sold by weight: weigh it on the scale.")
    if bad := whole_quantity(event.quantity):
        return bad
    return _add(lane, event, BasketLine(product.sku, quantity=event.quantity))


def weight_refusal(weight: Decimal | None, stable: bool, capacity: Decimal) -> Refusal | None:
    """Only a stable, positive, in-range weight may price an item."""
    if not stable:
        return Refusal("scale_unstable", "The scale is still moving: wait until it settles.")
    if weight is None or weight <= 0:
        return Refusal("scale_empty", "Put the item on the scale.")
    if weight > capacity:
        return Refusal("scale_over", f"{weight} kg is over the scale's {capacity} kg.")
    return None


def weighed(lane: LaneContext, event: ev.Weighed) -> Step | Refusal:
    sale = current(lane, event.at)
    product = find_product(sale.catalog, event.code)
    if product is None:
        return card_code_refusal(event.code) or Refusal(
            "unknown_item", f"No item with PLU {event.code}."
        )
    if not product.weighed:
        return Refusal("not_weighed", f"{product.name} is sold by the piece, not by weight.")
    return _weighed_item(lane, event, product.sku, event)


def _weighed_item(
    lane: LaneContext, event: ev.Event, sku: str, reading: ev.Weighed
) -> Step | Refusal:
    """A weighed product with the scale's reading: only a stable, positive, in-range one."""
    if reading.scale_says:
        return Refusal("scale_not_priceable", f"The scale cannot price this: {reading.scale_says}.")
    if bad := weight_refusal(reading.weight, reading.stable, reading.capacity):
        return bad
    return _add(lane, event, BasketLine(sku, weight=reading.weight))


def _line(sale: Sale, index: int) -> Refusal | None:
    if not 0 <= index < len(sale.lines):
        return Refusal("no_such_line", f"There is no line {index + 1}.")
    return None


_REDUCED_LINE = (
    "A reduced item is one item at its sticker's price: void the line and scan each sticker."
)


def change_quantity(lane: LaneContext, event: ev.ChangeQuantity) -> Step | Refusal:
    sale = _open(lane)
    if (bad := _line(sale, event.line)) or (bad := whole_quantity(event.quantity)):
        return bad
    old = sale.lines[event.line]
    if old.reduced is not None:
        return Refusal("reduced_line", _REDUCED_LINE)
    if old.weight is not None or old.label_price is not None:
        return Refusal(
            "weighed_line",
            "A weighed or labelled item cannot change quantity: void the line and weigh again.",
        )
    overrides, batch = sale.overrides, Batch()
    if event.quantity < old.quantity:
        permit = lane.permit("void_line", event, event.authorization)
        if isinstance(permit, Refusal):
            return permit
        overrides = (*overrides, *_override(lane, permit, event.at, batch))
    lines = list(sale.lines)
    lines[event.line] = replace(old, quantity=event.quantity)
    return _in_sale(
        lane, reprice(replace(sale, lines=tuple(lines), overrides=overrides), event.at), batch=batch
    )


def _override(
    lane: LaneContext, permit: Permit, at: datetime, batch: Batch
) -> tuple[OverrideRef, ...]:
    """An override inside a sale is journalled with the step that used it (it happened even
    if the sale is later voided; never if that step is refused) and referenced from the
    sale body."""
    lane.add_override(batch, permit, at.date().isoformat())
    ref = sale_override_ref(permit.override)
    return () if ref is None else (ref,)


def void_line(lane: LaneContext, event: ev.VoidLine) -> Step | Refusal:
    sale = _open(lane)
    if bad := _line(sale, event.line):
        return bad
    permit = lane.permit("void_line", event, event.authorization)
    if isinstance(permit, Refusal):
        return permit
    assert sale.priced is not None
    voided = sale_line(sale.priced.lines[event.line], None, dict(sale.line_open_prices))
    lines = sale.lines[: event.line] + sale.lines[event.line + 1 :]
    batch = Batch()
    overrides = (*sale.overrides, *_override(lane, permit, event.at, batch))
    shifted = _without_line(sale.line_overrides, event.line)
    keyed = _without_line(sale.line_open_prices, event.line)
    return _in_sale(
        lane,
        reprice(
            replace(
                sale,
                lines=lines,
                voided=(*sale.voided, voided),
                overrides=overrides,
                line_overrides=shifted,
                line_open_prices=keyed,
            ),
            event.at,
        ),
        batch=batch,
    )


T = TypeVar("T")


def _without_line(links: tuple[tuple[int, T], ...], line: int) -> tuple[tuple[int, T], ...]:
    """Per-line links (overrides, open prices) once `line` is voided: the later lines
    move up by one."""
    return tuple((i if i < line else i - 1, v) for i, v in links if i != line)


def price_override(lane: LaneContext, event: ev.PriceOverride) -> Step | Refusal:
    sale = _open(lane)
    if bad := _line(sale, event.line):
        return bad
    if event.unit_price < 0:
        return Refusal("bad_price", "A price cannot be negative.")
    if event.unit_price != round(event.unit_price, sale.catalog.places):
        return Refusal("bad_price", f"{event.unit_price} has more decimals than the currency.")
    old = sale.lines[event.line]
    if old.reduced is not None:
        return Refusal("reduced_line", _REDUCED_LINE)
    if old.open_price is not None:
        return Refusal(
            "open_price_line",
            "An open-price line has the price that was keyed: void it and key it again.",
        )
    permit = lane.permit(
        "price_override",
        event,
        event.authorization,
        amount=event.unit_price * (old.quantity or 1),
    )
    if isinstance(permit, Refusal):
        return permit
    lines = list(sale.lines)
    lines[event.line] = replace(old, price_override=event.unit_price)
    batch = Batch()
    refs = _override(lane, permit, event.at, batch)
    links = sale.line_overrides + tuple((event.line, r.id) for r in refs)
    return _in_sale(
        lane,
        reprice(
            replace(
                sale, lines=tuple(lines), line_overrides=links, overrides=(*sale.overrides, *refs)
            ),
            event.at,
        ),
        batch=batch,
    )


def basket_discount(lane: LaneContext, event: ev.BasketDiscount) -> Step | Refusal:
    """整单折扣: a percent or an amount off the whole sale, with a reason; the
    `basket_discount` permission or a supervisor's override, bounded by
    `[lane] max_basket_discount_percent` (a percent) and the supervisor's ceiling (what it
    takes off). Entered again, it replaces the one before (the sale keeps both overrides)."""
    sale = _open(lane)
    bad = _discount_refusal(lane, sale, event)
    if bad is not None:
        return bad
    acting = lane.acting(event)
    entered = BasketDiscountRef(
        percent=event.percent,
        amount=event.amount,
        reason=event.reason.strip(),
        staff=acting.staff,
        local_time=event.at.isoformat(timespec="seconds"),
    )
    priced = reprice(replace(sale, discount=entered), event.at)
    if isinstance(priced, Refusal):
        return priced
    assert priced.priced is not None
    # what a supervisor answers for: an amount as entered (the most it can take off), a
    # percent as what it takes off the sale as it stands
    covers = event.amount if event.amount is not None else manual_discount(priced.priced)
    permit = lane.permit("basket_discount", event, event.authorization, amount=covers)
    if isinstance(permit, Refusal):
        return permit
    batch = Batch()
    refs = _override(lane, permit, event.at, batch)
    entered = entered.model_copy(update={"override": refs[0] if refs else None})
    after = replace(priced, discount=entered, overrides=(*sale.overrides, *refs))
    what = f"{event.percent}%" if event.percent is not None else f"{event.amount}"
    return _in_sale(
        lane,
        after,
        (f"Basket discount {what}: {manual_discount(priced.priced)} off.",),
        batch=batch,
    )


def _discount_refusal(lane: LaneContext, sale: Sale, event: ev.BasketDiscount) -> Refusal | None:
    """What is wrong with a basket discount as typed, before anyone is asked to allow it."""
    percent, amount = event.percent, event.amount
    how = "Enter the discount as a percent (10%) or an amount (5.00)"
    if (percent is None) == (amount is None):
        return Refusal("bad_discount", f"{how}, one of the two.")
    value = percent if percent is not None else amount
    assert value is not None
    if not value.is_finite() or value <= 0:
        return Refusal(
            "bad_discount",
            f"A discount must be more than zero ({value}); to take the discount off the "
            "sale, remove it.",
        )
    if percent is not None:
        most = lane.settings.lane.max_basket_discount_percent
        if percent != round(percent, 2):
            return Refusal("bad_discount", f"{percent}%: a percent has at most two decimals.")
        if percent > most:
            return Refusal(
                "discount_over_maximum",
                f"{percent}% is above the largest basket discount of {most}% "
                "([lane] max_basket_discount_percent).",
            )
    elif amount is not None and amount != round(amount, sale.catalog.places):
        return Refusal("bad_discount", f"{amount} has more decimals than the currency.")
    if not event.reason.strip():
        return Refusal("needs_reason", "Enter the reason for the basket discount.")
    return None


def manual_discount(priced: PricedBasket) -> Decimal:
    """What the whole-basket manual discount takes off `priced`: the lines' `basket`
    adjustments that name no promotion (a threshold's always names one)."""
    return -sum(
        (
            a.amount
            for line in priced.lines
            for a in line.adjustments
            if a.kind == "basket" and a.promotion is None
        ),
        ZERO,
    )


def remove_basket_discount(lane: LaneContext, event: ev.RemoveBasketDiscount) -> Step | Refusal:
    """The basket discount off the sale again: it only raises the total, so the `sell`
    permission is enough."""
    sale = _open(lane)
    if sale.discount is None:
        return Refusal("no_basket_discount", "There is no basket discount on this sale.")
    permit = lane.permit("sell", event, None)
    if isinstance(permit, Refusal):
        return permit
    return _in_sale(
        lane, reprice(replace(sale, discount=None), event.at), ("Basket discount removed.",)
    )


def member(lane: LaneContext, event: ev.MemberCard) -> Step | Refusal:
    sale = current(lane, event.at)
    if sale.member is not None:
        return Refusal("member_set", f"Member {sale.member.id} is already on this sale.")
    account = lane.members.identify(event.card_id, event.at)
    if isinstance(account, Refusal):
        return account
    if event.source == "reader":
        account = replace(account, card_present=True)
    account = with_member_units(lane, account)
    name = account.name or account.id
    return _in_sale(lane, reprice(replace(sale, member=account), event.at), (f"Member {name}.",))


def with_member_units(lane: LaneContext, account: MemberAccount) -> MemberAccount:
    """The member with what they took of promotions with a limit per member (限购) at this
    box, for pricing to count (`MemberContext.taken`); read when they are identified."""
    if account.context is None:  # no member pricing for their group: nothing to count
        return account
    taken = lane.book.member_units(account.id)
    return replace(account, context=replace(account.context, taken=taken)) if taken else account


def member_units(priced: PricedBasket) -> dict[str, int]:
    """Units each promotion with a limit per member covered in a priced basket."""
    out: dict[str, int] = {}
    for line in priced.lines:
        for a in line.adjustments:
            if a.units is not None and a.promotion is not None:
                out[a.promotion] = out.get(a.promotion, 0) + a.units
    return out


def local_time(at: datetime) -> str:
    """The store-local wall time as promotion schedules are compared with it."""
    return at.replace(tzinfo=None).isoformat(timespec="seconds")


def coupon(lane: LaneContext, event: ev.Coupon) -> Step | Refusal:
    sale = current(lane, event.at)
    code = event.code.strip().upper()
    serial = read_serial(code, sale.catalog.document.promotions)
    if serial is not None:
        refused = _serial_refusal(lane, sale, serial)
        if refused is not None:
            return refused
    elif code not in sale.catalog.coupons:
        return Refusal("unknown_coupon", f"Coupon {mask_card_data(event.code)} is not valid here.")
    if code in sale.coupons:
        return Refusal("coupon_twice", f"Coupon {code} is already on this sale.")
    personal = lane.members.personal_coupon(code, sale.member, event.at)
    if personal is not None:
        return personal
    with_coupon = reprice(replace(sale, coupons=(*sale.coupons, code)), event.at)
    priced = None if isinstance(with_coupon, Refusal) else with_coupon.priced
    # the pricing result says why a coupon gives nothing (threshold, items, time window)
    notices = tuple(f"{n[:1].upper()}{n[1:]}." for n in (priced.notices if priced else ()))
    return _in_sale(lane, with_coupon, notices)


def _serial_refusal(
    lane: LaneContext, sale: Sale, serial: SerialCoupon | SerialProblem
) -> Refusal | None:
    """A serial coupon (docs/pricing.md, "Serial coupons"): its check, one per promotion
    and sale, then what the members room knows of its uses."""
    if isinstance(serial, SerialProblem):
        return Refusal("bad_serial", serial.message)
    for other in sale.coupons:
        taken = read_serial(other, sale.catalog.document.promotions)
        if isinstance(taken, SerialCoupon) and taken.promotion == serial.promotion:
            return Refusal(
                "coupon_twice",
                f"Coupon {taken.code} of {serial.promotion} is already on this sale: one a sale.",
            )
    return lane.members.serial_coupon(serial, sale.member)


def _serials_still_valid(lane: LaneContext, sale: Sale) -> tuple[Sale, tuple[str, ...]]:
    """A resumed sale without the serial coupons redeemed meanwhile (on another sale), and
    a sentence for each one it lost."""
    kept: list[str] = []
    dropped: list[str] = []
    for code in sale.coupons:
        serial = read_serial(code, sale.catalog.document.promotions)
        refused = (
            lane.members.serial_coupon(serial, sale.member)
            if isinstance(serial, SerialCoupon)
            else None
        )
        if refused is None:
            kept.append(code)
        else:
            dropped.append(f"Coupon {code} taken off the sale: {refused.message}")
    return (replace(sale, coupons=tuple(kept)) if dropped else sale), tuple(dropped)


def _redeemed_serials(sale: Sale, priced: PricedBasket) -> tuple[SerialCoupon, ...]:
    """The serial coupons on this sale that gave something (one that gave nothing is not
    spent: the customer keeps it)."""
    applied = {a.promotion for line in priced.lines for a in line.adjustments if a.promotion}
    found = (read_serial(c, sale.catalog.document.promotions) for c in sale.coupons)
    return tuple(s for s in found if isinstance(s, SerialCoupon) and s.promotion in applied)


# -- tender and completion -------------------------------------------------------------


def tender(lane: LaneContext, event: ev.Tender) -> Step | Refusal:
    sale = _open(lane)
    if not sale.lines:
        return Refusal("empty_sale", "Nothing to pay: scan an item first.")
    if refused := _age_refusal(lane, sale, event.at):
        return refused
    started = sale.tenders or lane.state is State.TENDERING  # a wallet payment started it
    if not started and not _same_minute(sale.priced_at, event.at):
        priced = reprice(sale, event.at)  # prices are fixed when payment starts
        if isinstance(priced, Refusal):
            return priced
        sale = priced
    assert sale.priced is not None
    if sale.priced.total < 0:
        return empties_payout(lane, sale, event)
    remaining = sale.priced.total - sale.paid
    taken = _take(lane, sale, event, remaining)
    if isinstance(taken, Refusal):
        return taken
    tender, settles, authorisation, approvals, batch = taken
    sale = replace(
        sale,
        tenders=(*sale.tenders, tender),
        authorisations=sale.authorisations + ((authorisation,) if authorisation else ()),
        overrides=(*sale.overrides, *approvals),
    )
    if not settles:
        assert sale.priced is not None
        left = sale.priced.total - sale.paid
        return lane.with_sale(
            State.TENDERING, sale, notices=(f"Still to pay: {left}",), batch=batch
        )
    return complete(lane, sale, event, batch)


def wallet_payment(lane: LaneContext, event: ev.WalletPayment) -> Step | Refusal:
    """A scanned wallet payment code starts payment: the same checks and pricing as a first
    tender, then the sale waits in `tendering` (kept, so a restart brings it back) for the
    provider's answer, which the daemon turns into a `mobile` tender."""
    sale = _open(lane)
    if not sale.lines:
        return Refusal("empty_sale", "Nothing to pay: scan an item first.")
    if refused := _age_refusal(lane, sale, event.at):
        return refused
    started = sale.tenders or lane.state is State.TENDERING
    if not started and not _same_minute(sale.priced_at, event.at):
        priced = reprice(sale, event.at)  # prices are fixed when payment starts
        if isinstance(priced, Refusal):
            return priced
        sale = priced
    assert sale.priced is not None
    if sale.priced.total < 0:
        return Refusal("empties_payout_cash", EMPTIES_CASH_ONLY)
    remaining = sale.priced.total - sale.paid
    return lane.with_sale(
        State.TENDERING, sale, notices=(f"Waiting for {event.provider}: {remaining}",)
    )


# -- empties paid out (Leergut) --------------------------------------------------------------

EMPTIES_CASH_ONLY = "The empties are worth more than the sale: pay the difference out in cash."


def empties_payout(lane: LaneContext, sale: Sale, event: ev.Tender) -> Step | Refusal:
    """A sale whose empties returned (Leergut) are worth more than what it sells (or that
    only returns empties) costs less than zero: the difference is paid out in cash, as a
    refund is, with its own permission (`empties_payout`, a refund's roles by default) or a
    supervisor's override. It is journalled as the sale it is, its one tender a cash
    tender of the (negative) amount paid out after cash rounding."""
    assert sale.priced is not None
    if event.type != "cash":
        return Refusal("empties_payout_cash", EMPTIES_CASH_ONLY)
    if event.amount is not None:
        return Refusal(
            "bad_amount", "Empties are paid out in full: take the cash key without an amount."
        )
    if sale.tenders:  # (a tender cannot have been taken: the sale never cost more than 0)
        return Refusal("empties_payout_cash", EMPTIES_CASH_ONLY)
    total = sale.priced.total
    due = total + sale.catalog.money.cash_adjustment(total)
    permit = lane.permit("empties_payout", event, event.authorization, amount=-due)
    if isinstance(permit, Refusal):
        return permit
    batch = Batch()
    approvals = _override(lane, permit, event.at, batch)
    payout = TenderRecord(type="cash", amount=due, given=ZERO, change=ZERO)
    sale = replace(sale, tenders=(payout,), overrides=(*sale.overrides, *approvals))
    step = complete(lane, sale, event, batch)
    return replace(step, notices=(*step.notices, f"Pay out: {-due}"))


def _same_minute(a: datetime | None, b: datetime) -> bool:
    """Promotion schedules are written to the minute: a basket priced in the same minute
    needs no second pricing when payment starts."""
    return a is not None and a.replace(second=0, microsecond=0) == b.replace(
        second=0, microsecond=0
    )


Taken = tuple[TenderRecord, bool, object, tuple[OverrideRef, ...], Batch]


def _take(lane: LaneContext, sale: Sale, event: ev.Tender, remaining: Decimal) -> Taken | Refusal:
    """The tender as recorded, whether it settles the sale, the member authorisation, the
    supervisor approvals it needed and the batch that journals them."""
    if event.amount is not None and event.amount <= 0:
        return Refusal("bad_amount", "A tender must be more than zero.")
    assert sale.priced is not None
    if event.amount is not None and event.amount != round(event.amount, sale.priced.places):
        return Refusal("bad_amount", f"{event.amount} has more decimals than the currency.")
    if event.type == "cash":
        return (*_cash(sale, event, remaining), None, (), Batch())
    amount = remaining if event.amount is None else event.amount
    if amount > remaining:
        return Refusal(
            "no_change", f"Only cash gives change: {event.type} can pay at most {remaining}."
        )
    if event.type in EXTERNAL and not (event.reference or "").strip():
        return Refusal(
            "needs_reference", f"Enter the {event.type} reference (terminal or voucher number)."
        )
    answer: object = None
    approvals: tuple[OverrideRef, ...] = ()
    batch = Batch()
    if event.type in MEMBER_TENDERS:
        if sale.member is None:
            return Refusal("needs_member", "Scan the member card first.")
        if not sale.member.card_present:
            return Refusal(
                "needs_member_card",
                "Points and stored value need the member's card: read it on the card "
                "reader (a typed member id only earns points).",
            )
        answer = lane.members.authorize(
            sale.member, event.type, amount, event.at, sale.authorisations
        )
        if (
            isinstance(answer, Refusal)
            and answer.needs_supervisor
            and event.authorization is not None
        ):
            approved = _approve_offline(lane, sale, event, amount, batch)
            if isinstance(approved, Refusal):
                return approved
            answer, approvals = approved
        if isinstance(answer, Refusal):
            return answer
    record = TenderRecord(
        type=event.type,
        amount=amount,
        reference=event.reference,
        card=mask_card_number(event.card) if event.type == "card" else None,
    )
    return record, amount == remaining, answer, approvals, batch


def _approve_offline(
    lane: LaneContext, sale: Sale, event: ev.Tender, amount: Decimal, batch: Batch
) -> tuple[object, tuple[OverrideRef, ...]] | Refusal:
    """The members room wants a supervisor to approve going on offline: ask again with the
    approver named, and journal the approval only once it was granted."""
    assert sale.member is not None and lane.shift is not None
    permit = lane.permit("approve_offline", event, event.authorization, amount=amount)
    if isinstance(permit, Refusal):
        return permit
    approver = (
        permit.override.supervisor.id
        if permit.override is not None
        else lane.acting(event).person.id
    )
    answer = lane.members.authorize(
        sale.member, event.type, amount, event.at, sale.authorisations, supervisor=approver
    )
    if isinstance(answer, Refusal):
        return answer
    return answer, _override(lane, permit, event.at, batch)


def _cash(sale: Sale, event: ev.Tender, remaining: Decimal) -> tuple[TenderRecord, bool]:
    """Cash pays the remainder rounded to the cash increment (or less its 抹零, where that
    is for cash only); only cash gives change."""
    assert sale.priced is not None
    due = remaining + sale.catalog.money.cash_adjustment(remaining)
    given = due if event.amount is None else event.amount
    if given >= due:
        return TenderRecord(type="cash", amount=due, given=given, change=given - due), True
    return TenderRecord(type="cash", amount=given, given=given, change=ZERO), False


def sale_line(
    line: PricedLine, override: str | None, keyed: dict[int, OpenPriceRef] | None = None
) -> SaleLine:
    """A priced line as the journal keeps it (amounts exactly as the engine allocated);
    `keyed`: the sale's open-price lines by index, with who keyed each."""
    return SaleLine(
        index=line.index,
        sku=line.sku,
        name=line.name,
        category=line.category,
        unit=line.unit,
        quantity=line.quantity,
        weight=line.weight,
        unit_price=line.unit_price,
        list_amount=line.list_amount,
        adjustments=[
            LineAdjustment(
                kind=a.kind, amount=a.amount, label=a.label, promotion=a.promotion, units=a.units
            )
            for a in line.adjustments
        ],
        amount=line.amount,
        tax_class=line.tax_class,
        tax_rate=line.tax_rate,
        tax_inclusive=line.tax_inclusive,
        tax=line.tax,
        total=line.total,
        code=line.code,
        override=override,
        open_price=(keyed or {}).get(line.index),
        deposit=line.deposit if line.deposit_sku is not None else None,
        deposit_sku=line.deposit_sku,
    )


def tax_lines(priced: PricedBasket) -> list[TaxLine]:
    return [
        TaxLine(
            tax_class=t.tax_class,
            name=t.name,
            rate=t.rate,
            inclusive=t.inclusive,
            net=t.net,
            tax=t.tax,
            gross=t.gross,
        )
        for t in priced.taxes
    ]


def _totals(priced: PricedBasket, paid: Decimal) -> Totals:
    return Totals(
        list_total=priced.list_total,
        item_discounts=priced.item_discounts,
        basket_discounts=priced.basket_discounts,
        moling=priced.moling,
        tax=priced.tax,
        total=priced.total,
        cash_rounding=paid - priced.total,
        due=paid,
        savings=priced.savings,
    )


def complete(lane: LaneContext, sale: Sale, event: ev.Event, batch: Batch) -> Step:
    """The sale record (and the member's balance changes) as the step's batch: committed
    before any receipt exists; the receipt is made of the committed `sale` record. It is
    the sale of whoever completes it (`event`'s actor), beside the till's cashier."""
    assert sale.priced is not None and lane.shift is not None
    at, acting = event.at, lane.acting(event)
    priced = sale.priced
    number = lane.book.next_number("receipt")
    receipt_id = f"{lane.lane_ref.box}-{number:06d}"
    redeemed = _redeemed_coupons(sale, priced)
    settlement = (
        lane.members.settle(
            sale.member, receipt_id, priced, sale.authorisations, at, coupons=redeemed
        )
        if sale.member is not None
        else None
    )
    tenders = list(sale.tenders)
    links, keyed = dict(sale.line_overrides), dict(sale.line_open_prices)
    day = at.date().isoformat()
    body = SaleBody(
        receipt_id=receipt_id,
        lane=lane.lane_ref,
        shift_id=lane.shift.shift_id,
        business_day=day,
        local_time=at.isoformat(timespec="seconds"),
        staff=acting.staff,
        operator=acting.operator_ref,
        member=MemberRef(id=sale.member.id, group=sale.member.group) if sale.member else None,
        catalog_version=priced.catalog_version,
        currency=priced.currency,
        places=priced.places,
        lines=[sale_line(line, links.get(i), keyed) for i, line in enumerate(priced.lines)],
        voided_lines=list(sale.voided),
        coupons=list(sale.coupons),
        promotions=sorted(
            {a.promotion for line in priced.lines for a in line.adjustments if a.promotion}
        ),
        redeemed_coupons=[c.campaign for c in redeemed] or None,
        member_coupons=_coupons_left(sale, redeemed),
        totals=_totals(priced, sale.paid),
        taxes=tax_lines(priced),
        tenders=tenders,
        change=round(sum((t.change or ZERO for t in tenders), ZERO), priced.places),
        points=_points(settlement),
        stored_value_balance=settlement.stored_value_balance if settlement else None,
        overrides=list(sale.overrides),
        resumed_from=sale.resumed_from,
        age_check=sale.age_check,
        basket_discount=(
            None
            if sale.discount is None
            else sale.discount.model_copy(update={"discount": manual_discount(priced)})
        ),
    )
    batch.add(
        "sale",
        body.to_body(),
        receipt_id,
        business_day=day,
        shift_id=lane.shift.shift_id,
        receipt_id=receipt_id,
    )
    batch.writes += [lane.book.take_number("receipt", number), lane.book.clear_paying]
    taken = member_units(priced)
    if sale.member is not None and taken:
        batch.writes.append(
            lane.book.record_member_units(sale.member.id, receipt_id, local_time(at), taken)
        )
    if settlement is not None:
        batch.entries.extend((k, dict(b), i) for k, b, i in settlement.entries)
        if settlement.also is not None:
            batch.writes.append(settlement.also)
    if serials := _redeemed_serials(sale, priced):
        batch.writes.append(lane.members.spend_serials(serials, sale.member, receipt_id, at.date()))
    notices = (f"Change: {body.change}",) if body.change else ()
    cash = any(t.type == "cash" for t in tenders)
    return lane.with_sale(
        State.IDLE,
        None,
        batch=batch,
        document=receipt_id,
        prints=True,
        notices=notices,
        open_drawer=cash,
    )


def _redeemed_coupons(sale: Sale, priced: PricedBasket) -> tuple[OfferedCoupon, ...]:
    """The member's personal coupons entered on this sale that gave something: a coupon
    that gave nothing (its threshold not reached) stays the member's to use later."""
    if sale.member is None or not sale.coupons:
        return ()
    applied = {a.promotion for line in priced.lines for a in line.adjustments if a.promotion}
    giving = {
        p.coupon.upper()
        for p in sale.catalog.document.promotions
        if p.coupon is not None and p.id in applied
    }
    return tuple(c for c in sale.member.coupons if c.code in sale.coupons and c.code in giving)


def _coupons_left(sale: Sale, redeemed: tuple[OfferedCoupon, ...]) -> list[CouponOfferRef] | None:
    if sale.member is None:
        return None
    left = [
        CouponOfferRef(
            code=c.code, campaign=c.campaign, until=c.until.isoformat() if c.until else None
        )
        for c in sale.member.coupons
        if c not in redeemed
    ]
    return left or None


def _points(settlement: Any) -> Points:
    if settlement is None:
        return Points()
    return Points(
        earned=settlement.points_earned,
        redeemed=settlement.points_redeemed,
        balance=settlement.points_balance,
    )


# -- suspend, resume, void -------------------------------------------------------------


def suspend(lane: LaneContext, event: ev.Suspend) -> Step | Refusal:
    sale = _open(lane)
    assert lane.shift is not None
    if not sale.lines:
        return Refusal("empty_sale", "There is nothing to suspend.")
    number = lane.book.next_number("suspend")
    suspension_id = f"H{number:04d}"
    batch = Batch(
        writes=[
            lane.book.suspend(
                suspension_id, lane.shift.shift_id, event.at.isoformat(), snapshot(sale)
            ),
            lane.book.take_number("suspend", number),
        ]
    )
    return lane.with_sale(
        State.IDLE, None, batch=batch, notices=(f"Sale suspended as {suspension_id}.",)
    )


def _line_json(line: BasketLine) -> dict[str, str | None]:
    def text(value: Decimal | None) -> str | None:
        return None if value is None else str(value)

    return {
        "sku": line.sku,
        "quantity": str(line.quantity),
        "weight": text(line.weight),
        "label_price": text(line.label_price),
        "price_override": text(line.price_override),
        "code": line.code,
        "open_price": text(line.open_price),
        **_reduced_json(line),
    }


def _reduced_json(line: BasketLine) -> dict[str, str | None]:
    """A reduced sticker's keys, only on its line (older snapshots stay as they were)."""
    if line.reduced is None:
        return {}
    return {
        "reduced_price": None if line.reduced.price is None else str(line.reduced.price),
        "reduced_percent": None if line.reduced.percent is None else str(line.reduced.percent),
    }


def _reduced_from_json(d: dict[str, Any]) -> Reduction | None:
    if d.get("reduced_price") is None and d.get("reduced_percent") is None:
        return None
    price, percent = d.get("reduced_price"), d.get("reduced_percent")
    return Reduction(
        None if price is None else Decimal(price), None if percent is None else Decimal(percent)
    )


def snapshot(sale: Sale) -> dict[str, Any]:
    """The sale as plain JSON, to suspend it or to keep it while payment is under way."""
    return {
        "lines": [_line_json(line) for line in sale.lines],
        "member_card": None if sale.member is None else sale.member.id,
        "member_card_present": sale.member is not None and sale.member.card_present,
        "coupons": list(sale.coupons),
        "voided": [v.to_body() for v in sale.voided],
        "overrides": [o.to_body() for o in sale.overrides],
        "line_overrides": [list(p) for p in sale.line_overrides],
        "started": sale.started.isoformat(),
        "tenders": [t.to_body() for t in sale.tenders],
        "priced_at": None if sale.priced_at is None else sale.priced_at.isoformat(),
        "resumed_from": sale.resumed_from,
        "line_open_prices": [[i, ref.to_body()] for i, ref in sale.line_open_prices],
        "age_check": None if sale.age_check is None else sale.age_check.to_body(),
        "basket_discount": None if sale.discount is None else sale.discount.to_body(),
    }


def from_snapshot(lane: LaneContext, body: dict[str, Any], at: datetime) -> Sale | Refusal:
    """A sale rebuilt from `snapshot` (the member identified again, tenders not re-taken)."""

    def dec(value: str | None) -> Decimal | None:
        return None if value is None else Decimal(value)

    lines = tuple(
        BasketLine(
            d["sku"],
            quantity=Decimal(d["quantity"]),
            weight=dec(d["weight"]),
            label_price=dec(d["label_price"]),
            price_override=dec(d["price_override"]),
            code=d["code"],
            open_price=dec(d.get("open_price")),
            reduced=_reduced_from_json(d),
        )
        for d in body["lines"]
    )
    member: MemberAccount | None = None
    if body["member_card"] is not None:
        found = lane.members.identify(body["member_card"], at)
        if isinstance(found, Refusal):
            return found
        # The card was read for this sale before it was suspended (or before a restart);
        # the snapshot lives in the box's own database, so its word is kept.
        member = replace(found, card_present=bool(body.get("member_card_present")))
        member = with_member_units(lane, member)
    return Sale(
        started=datetime.fromisoformat(body["started"]),
        catalog=lane.catalog,
        lines=lines,
        member=member,
        coupons=tuple(body["coupons"]),
        voided=tuple(SaleLine.model_validate(v) for v in body["voided"]),
        overrides=tuple(OverrideRef.model_validate(o) for o in body["overrides"]),
        line_overrides=tuple((int(i), str(o)) for i, o in body["line_overrides"]),
        resumed_from=body.get("resumed_from"),
        line_open_prices=tuple(
            (int(i), OpenPriceRef.model_validate(o)) for i, o in body.get("line_open_prices", ())
        ),
        age_check=AgeCheck.model_validate(body["age_check"]) if body.get("age_check") else None,
        discount=(
            BasketDiscountRef.model_validate(body["basket_discount"])
            if body.get("basket_discount")
            else None
        ),
    )


def restore_paying(
    lane: LaneContext, body: dict[str, Any]
) -> tuple[Sale, tuple[str, ...]] | Refusal:
    """After a restart: the sale whose payment was under way, priced as when payment
    started, with the tenders already taken. Member tenders are asked for again (their
    balances move only when the sale completes); one now refused is dropped, with a note."""
    at = datetime.fromisoformat(body["priced_at"])
    sale = from_snapshot(lane, body, at)
    if isinstance(sale, Refusal):
        return sale
    priced = reprice(sale, at)
    if isinstance(priced, Refusal):
        return priced
    sale, notes = priced, []
    for data in body["tenders"]:
        tender = TenderRecord.model_validate(data)
        answer: object = None
        if tender.type in MEMBER_TENDERS and sale.member is not None:
            answer = lane.members.authorize(
                sale.member, tender.type, tender.amount, at, sale.authorisations
            )
            if isinstance(answer, Refusal):
                notes.append(f"{tender.type} {tender.amount} dropped: {answer.message}")
                continue
        sale = replace(
            sale,
            tenders=(*sale.tenders, tender),
            authorisations=sale.authorisations + ((answer,) if answer else ()),
        )
    return sale, tuple(notes)


def resume(lane: LaneContext, event: ev.Resume) -> Step | Refusal:
    body = lane.book.suspended(event.suspension_id)
    if body is None:
        return Refusal("no_such_suspension", f"No suspended sale {event.suspension_id}.")
    sale = from_snapshot(lane, body, event.at)
    if isinstance(sale, Refusal):
        return sale
    sale, dropped = _serials_still_valid(lane, replace(sale, resumed_from=event.suspension_id))
    return _in_sale(
        lane,
        reprice(sale, event.at),
        (f"Resumed {event.suspension_id}.", *dropped),
        batch=Batch(writes=[lane.book.unsuspend(event.suspension_id)]),
    )


def void_sale(lane: LaneContext, event: ev.VoidSale) -> Step | Refusal:
    sale = _open(lane)
    assert lane.shift is not None
    if not event.reason.strip():
        return Refusal("needs_reason", "Enter why the sale is voided.")
    action = "void_after_tender" if sale.tenders else "void_sale"
    total = sale.priced.total if sale.priced else ZERO
    acting = lane.acting(event)
    permit = lane.permit(action, event, event.authorization, amount=sale.paid or None)
    if isinstance(permit, Refusal):
        return permit
    day = event.at.date().isoformat()
    number = lane.book.next_number("receipt")
    receipt_id = f"{lane.lane_ref.box}-{number:06d}"
    keyed = dict(sale.line_open_prices)
    lines = [sale_line(line, None, keyed) for line in sale.priced.lines] if sale.priced else []
    body = VoidBody(
        receipt_id=receipt_id,
        lane=lane.lane_ref,
        shift_id=lane.shift.shift_id,
        business_day=day,
        local_time=event.at.isoformat(timespec="seconds"),
        staff=acting.staff,
        operator=acting.operator_ref,
        after_tender=bool(sale.tenders),
        lines=lines,
        total=total,
        tenders_reversed=list(sale.tenders),
        reason=event.reason.strip(),
        override=sale_override_ref(permit.override),
    )
    batch = Batch()
    lane.add_override(batch, permit, day)
    batch.add(
        "void",
        body.to_body(),
        lane.new_id(),
        business_day=day,
        shift_id=lane.shift.shift_id,
        receipt_id=receipt_id,
    )
    batch.writes += [lane.book.take_number("receipt", number), lane.book.clear_paying]
    notices = (
        ("Sale voided: give back " + ", ".join(f"{t.type} {t.amount}" for t in sale.tenders),)
        if sale.tenders
        else ("Sale voided.",)
    )
    return lane.with_sale(
        State.IDLE,
        None,
        batch=batch,
        notices=notices,
        open_drawer=any(t.type == "cash" for t in sale.tenders),
    )
