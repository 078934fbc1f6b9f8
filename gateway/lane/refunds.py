"""Refunds against an earlier receipt, and returns without one.

A refund with a receipt returns exactly what the customer paid for the units brought back:
each line's amount and tax come from the ORIGINAL sale's allocation (`split_units` over the
line's total, units taken in order after those refunded before), never from today's
prices, so basket discounts and 抹零 are given back in proportion and never twice. A line
already refunded, or more units than were sold, is refused. A return without a receipt is
a separate permission and is priced from the catalog in force. Both are journalled with
their index rows (and the refunded quantities) in one transaction. No I/O of its own.

Points a sale redeemed go back as points, in proportion to the part of the sale refunded
so far (`gateway.lane.proportion`); only the rest is paid back in money, by the tender
the cashier picked. Points are never paid out in money and money never becomes points:
when the points cannot go back now (the member left the member list, the till has no
member scheme) the refund is refused and waits, rather than paying them in cash.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

from gateway.catalog.document import DEPOSIT_FLAG
from gateway.errors import StoregateError
from gateway.journal.retention import retention_note
from gateway.lane import events as ev
from gateway.lane.book import Batch
from gateway.lane.events import Refusal
from gateway.lane.items import card_code_refusal, find_product, whole_quantity
from gateway.lane.members import POINTS_BACK_FIX, PointsBackError, Settlement
from gateway.lane.proportion import NO_POINTS, PointsBack, points_back
from gateway.lane.records import MemberRef, RefundBody, RefundLine, SaleBody, SaleLine, TaxLine
from gateway.lane.records import Tender as TenderRecord
from gateway.lane.state import LaneContext, Permit, State, Step, sale_override_ref
from gateway.money import ZERO, split_units
from gateway.pricing import Basket, BasketLine, price_basket


def refund(lane: LaneContext, event: ev.Refund) -> Step | Refusal:
    record = lane.book.by_receipt(event.receipt_id)
    if record is None or record.kind != "sale":
        return Refusal(
            "unknown_receipt",
            f"No sale with receipt {event.receipt_id} on this "
            "till." + retention_note(lane.book.journal),
        )
    if not event.reason.strip():
        return Refusal("needs_reason", "Enter the reason for the refund.")
    original = SaleBody.model_validate(record.body)  # the model head office reads it with
    if event.tender == "points" and not original.points.redeemed:
        return Refusal("no_points_payout", _no_points_payout(NO_POINTS, ZERO))
    done = lane.book.refunded(event.receipt_id)
    lines = _refund_lines(original, event.lines, done)
    if isinstance(lines, Refusal):
        return lines
    total = sum((line.amount for line in lines), ZERO)
    share = _refunded_share(original, done, lines)
    paid_in_points = sum((t.amount for t in original.tenders if t.type == "points"), ZERO)
    points = points_back(
        original.points.redeemed,
        paid_in_points,
        original.places,
        _refunded_share(original, done, []),
        share,
    )
    money = total - points.amount
    if event.tender == "points" and money > 0:
        return Refusal("no_points_payout", _no_points_payout(points, money))
    member = original.member
    if event.tender == "stored_value" and member is None:
        return Refusal("needs_member", "This sale had no member: refund in cash or to the card.")
    permit = lane.permit(
        "refund", event, event.authorization, amount=total, receipt_id=event.receipt_id
    )
    if isinstance(permit, Refusal):
        return permit
    settle = None
    if member is not None:
        bodies = _member_bodies(lane, record.seq, event.receipt_id)
        settle = _member_settle(lane, bodies, share, event.tender, points, event.at)
    return _commit(
        lane,
        event,
        lines,
        total,
        permit,
        with_receipt=True,
        original=(event.receipt_id, record.seq),
        reason=event.reason,
        tender=event.tender,
        reference=event.reference,
        member=member,
        currency=original.currency,
        places=original.places,
        settle=settle,
        points=points,
        units_back=_member_units_back(original, done, lines),
    )


def _member_units_back(
    original: SaleBody, done: Mapping[int, Decimal], lines: list[RefundLine]
) -> tuple[str, dict[str, int]] | None:
    """限购 per member: the units a refund gives back to the member's count, by promotion,
    with the sale's local time (the window they were counted in). A line's units that
    took the promotion are given back first: of a line of 3 where 2 took it, the first
    2 units brought back give 2 back, the third none."""
    if original.member is None:
        return None
    back: dict[str, int] = {}
    for refunded in lines:
        sold = original.lines[refunded.original_index]
        before = done.get(refunded.original_index, ZERO)
        after = before + refunded.quantity
        for adjustment in sold.adjustments:
            if adjustment.units is None or adjustment.promotion is None:
                continue
            covered = Decimal(adjustment.units)
            given = int(min(after, covered) - min(before, covered))
            if given:
                back[adjustment.promotion] = back.get(adjustment.promotion, 0) - given
    if not back:
        return None
    sale_time = datetime.fromisoformat(original.local_time).replace(tzinfo=None)
    return sale_time.isoformat(timespec="seconds"), back


def _no_points_payout(points: PointsBack, money: Decimal) -> str:
    """Money paid is never given back as points (nor points as money)."""
    if points is NO_POINTS:
        return "This sale was not paid with points: refund in cash, to the card or to stored value."
    return (
        f"Only {points.points} points go back as points (the part paid with points): "
        f"pay back the other {money} in cash, to the card or to stored value."
    )


def _refunded_share(
    original: SaleBody, done: Mapping[int, Decimal], now: list[RefundLine]
) -> Fraction:
    """The part of the sale's total refunded once this refund is made (0-1, exact)."""
    total = original.totals.total
    if total <= 0:
        return Fraction(1)
    after = dict(done)
    for back in now:
        after[back.original_index] = after.get(back.original_index, ZERO) + back.quantity
    refunded = ZERO
    for index, quantity in after.items():
        line = original.lines[index]
        sold = line.quantity
        if line.weight is not None or sold != sold.to_integral_value():
            refunded += line.total if quantity >= sold else ZERO
        else:
            refunded += sum(
                split_units(line.total, int(sold), original.places)[: int(quantity)], ZERO
            )
    return min(Fraction(refunded) / Fraction(total), Fraction(1))


def _member_bodies(lane: LaneContext, sale_seq: int, receipt_id: str) -> list[dict[str, Any]]:
    """The sale's member_balance records: appended right after it, in its transaction."""
    out = []
    for record in lane.book.journal.read(sale_seq, 16):
        if record.kind != "member_balance" or record.body.get("sale") != receipt_id:
            break
        out.append(record.body)
    return out


Settle = Callable[[str, Decimal], Settlement | Refusal]


def _member_settle(
    lane: LaneContext,
    bodies: list[dict[str, Any]],
    share: Fraction,
    tender: str,
    points: PointsBack,
    at: datetime,
) -> Settle:
    def settle(refund_id: str, paid: Decimal) -> Settlement | Refusal:
        to_wallet = paid if tender == "stored_value" else ZERO
        try:
            done = lane.members.reverse(
                refund_id, bodies, share, to_wallet, at, points_back=points.points
            )
        except PointsBackError as exc:
            return _points_refused(points, exc.what, exc.fix)
        except StoregateError as exc:
            return Refusal("wallet_refund", exc.what[:1].upper() + exc.what[1:] + ".")
        if done.points_returned != points.points:
            return _points_refused(
                points, f"{done.points_returned} of them could be given back", POINTS_BACK_FIX
            )
        return done

    return settle


def _points_refused(points: PointsBack, why: str, fix: str | None) -> Refusal:
    """Points cannot go back now: the refund waits, it never pays them out in money."""
    return Refusal(
        "points_back",
        f"The {points.points} points paid with this sale go back "
        f"only as points, never in cash, and cannot go back now: {why} — "
        f"{fix or POINTS_BACK_FIX}.",
    )


def _refund_lines(
    original: SaleBody, wanted: Mapping[int, Decimal] | None, done: Mapping[int, Decimal]
) -> list[RefundLine] | Refusal:
    sold = original.lines
    if wanted is None:
        wanted = {
            i: line.quantity - done.get(i, ZERO)
            for i, line in enumerate(sold)
            if line.quantity > done.get(i, ZERO) and not _empties(line)
        }
        if not wanted:
            return Refusal("already_refunded", "Every line of this receipt was already refunded.")
    out: list[RefundLine] = []
    for index, quantity in sorted(wanted.items()):
        if not 0 <= index < len(sold):
            return Refusal("no_such_line", f"Receipt has no line {index + 1}.")
        line = _one_line(sold[index], index, quantity, done.get(index, ZERO), original.places)
        if isinstance(line, Refusal):
            return line
        out.append(line)
    return out


def _one_line(
    line: SaleLine, index: int, quantity: Decimal, done: Decimal, places: int
) -> RefundLine | Refusal:
    sold = line.quantity
    name = line.name
    if _empties(line):
        return Refusal(
            "empties_line",
            f"Line {index + 1} ({name}) is empties paid back: the store keeps the bottles, "
            "it is not refunded.",
        )
    if done >= sold:
        return Refusal("already_refunded", f"Line {index + 1} ({name}) was already refunded.")
    if quantity <= 0 or quantity + done > sold:
        return Refusal(
            "beyond_quantity",
            f"Only {sold - done} of {name} can be refunded (sold {sold}, refunded {done}).",
        )
    weighed = line.weight is not None
    if (weighed or sold != sold.to_integral_value()) and quantity != sold:
        return Refusal("whole_line_only", f"{name} was weighed: refund the whole line.")
    units = int(sold) if not weighed else 1
    first, count = (int(done), int(quantity)) if not weighed else (0, 1)
    amount = sum(split_units(line.total, units, places)[first : first + count], ZERO)
    tax = sum(split_units(line.tax, units, places)[first : first + count], ZERO)
    return RefundLine(
        original_index=index,
        sku=line.sku,
        name=name,
        category=line.category,
        quantity=quantity,
        weight=line.weight,
        amount=amount,
        tax_class=line.tax_class,
        tax_rate=line.tax_rate,
        tax_inclusive=line.tax_inclusive,
        tax=tax,
    )


def _empties(line: SaleLine) -> bool:
    """An empties return (Leergut) line of a sale: the only lines priced below zero."""
    return line.unit_price < 0


def return_without_receipt(lane: LaneContext, event: ev.ReturnWithoutReceipt) -> Step | Refusal:
    if not event.reason.strip():
        return Refusal("needs_reason", "Enter the reason for the return.")
    if event.tender == "points":
        return Refusal(
            "no_points_payout",
            "A return without receipt is not paid back in points: refund in cash or to the card.",
        )
    if event.tender == "stored_value":  # no member to credit: the money would go nowhere
        return Refusal(
            "no_member_to_credit",
            "A return without receipt has no member to credit: refund in cash or to the card.",
        )
    product = find_product(lane.catalog, event.code)
    if product is None:
        return card_code_refusal(event.code) or Refusal(
            "unknown_item", f"No item with code {event.code}."
        )
    if product.weighed:
        return Refusal("needs_receipt", f"{product.name} was weighed: it needs its receipt.")
    if DEPOSIT_FLAG in product.flags:
        return Refusal(
            "empties_line", "Empties are taken back in a sale: scan them there, not as a return."
        )
    if bad := whole_quantity(event.quantity):
        return bad
    priced = price_basket(
        Basket((BasketLine(product.sku, quantity=event.quantity),), event.at), lane.catalog
    )
    line = priced.lines[0]
    refund_line = RefundLine(
        original_index=0,
        sku=line.sku,
        name=line.name,
        category=line.category,
        quantity=line.quantity,
        amount=line.total,
        tax_class=line.tax_class,
        tax_rate=line.tax_rate,
        tax_inclusive=line.tax_inclusive,
        tax=line.tax,
    )
    permit = lane.permit("return_without_receipt", event, event.authorization, amount=line.total)
    if isinstance(permit, Refusal):
        return permit
    return _commit(
        lane,
        event,
        [refund_line],
        line.total,
        permit,
        with_receipt=False,
        original=None,
        reason=event.reason,
        tender=event.tender,
        reference=None,
        member=None,
        currency=priced.currency,
        places=priced.places,
    )


def _taxes(lines: list[RefundLine]) -> list[TaxLine]:
    groups: dict[tuple[str, Decimal, bool], list[RefundLine]] = {}
    for line in lines:
        groups.setdefault((line.tax_class, line.tax_rate, line.tax_inclusive), []).append(line)
    out = []
    for (tax_class, rate, inclusive), group in sorted(groups.items()):
        gross = sum((g.amount for g in group), ZERO)
        tax = sum((g.tax for g in group), ZERO)
        out.append(
            TaxLine(
                tax_class=tax_class,
                name=tax_class,
                rate=rate,
                inclusive=inclusive,
                net=gross - tax,
                tax=tax,
                gross=gross,
            )
        )
    return out


def _commit(
    lane: LaneContext,
    event: ev.Event,
    lines: list[RefundLine],
    total: Decimal,
    permit: Permit,
    *,
    with_receipt: bool,
    original: tuple[str, int] | None,
    reason: str,
    tender: str,
    reference: str | None,
    member: MemberRef | None,
    currency: str,
    places: int,
    settle: Settle | None = None,
    points: PointsBack = NO_POINTS,
    units_back: tuple[str, dict[str, int]] | None = None,
) -> Step | Refusal:
    """The refund's intended records: the points part goes back as points (a `points`
    tender of the money those points paid), the rest of `total` by `tender`, cash rounded."""
    assert lane.shift is not None
    at, acting = event.at, lane.acting(event)
    money = total - points.amount
    paid = money
    if tender == "cash":
        paid = money + lane.catalog.money.cash_adjustment(money)
    number = lane.book.next_number("receipt")
    refund_id = f"{lane.lane_ref.box}-{number:06d}"
    settlement = settle(refund_id, paid) if settle is not None else Settlement()
    if isinstance(settlement, Refusal):
        return settlement
    tenders = []
    if points.points or points.amount:
        tenders.append(TenderRecord(type="points", amount=points.amount))
    if paid or not tenders:
        tenders.append(TenderRecord(type=tender, amount=paid, reference=reference))
    day = at.date().isoformat()
    body = RefundBody(
        refund_id=refund_id,
        lane=lane.lane_ref,
        shift_id=lane.shift.shift_id,
        business_day=day,
        local_time=at.isoformat(timespec="seconds"),
        staff=acting.staff,
        operator=acting.operator_ref,
        with_receipt=with_receipt,
        original_receipt_id=original[0] if original else None,
        original_seq=original[1] if original else None,
        member=member,
        currency=currency,
        places=places,
        lines=lines,
        total=total,
        taxes=_taxes(lines),
        tenders=tenders,
        points_reversed=-settlement.points_earned,
        points_returned=settlement.points_returned,
        points_balance=settlement.points_balance,
        reason=reason.strip(),
        override=sale_override_ref(permit.override),
    )
    batch = Batch()
    lane.add_override(batch, permit, day)
    batch.add(
        "refund",
        body.to_body(),
        refund_id,
        business_day=day,
        shift_id=lane.shift.shift_id,
        receipt_id=refund_id,
    )
    batch.writes.append(lane.book.take_number("receipt", number))
    if original is not None:
        batch.writes.append(
            lane.book.record_refunded(
                original[0], refund_id, [(line.original_index, line.quantity) for line in lines]
            )
        )
    if units_back is not None and member is not None:
        sale_time, back = units_back
        batch.writes.append(lane.book.record_member_units(member.id, refund_id, sale_time, back))
    batch.entries.extend((k, dict(b), i) for k, b, i in settlement.entries)
    if settlement.also is not None:
        batch.writes.append(settlement.also)
    notices = _notices(body, tender, paid, member)
    return lane.with_sale(
        State.IDLE,
        None,
        batch=batch,
        document=refund_id,
        prints=True,
        notices=(*notices, *settlement.notes),
        open_drawer=tender == "cash" and paid != 0,
    )


def _notices(
    body: RefundBody, tender: str, paid: Decimal, member: MemberRef | None
) -> tuple[str, ...]:
    """What the cashier gives back: the money, then the points (never one for the other)."""
    out = []
    if paid or not body.points_returned:
        out.append(f"Give back {tender} {paid}.")
    if body.points_returned and member is not None:
        balance = f" (balance {body.points_balance})" if body.points_balance is not None else ""
        nothing = "" if paid else ", nothing in money"
        out.append(
            f"{body.points_returned} points go back to member {member.id}{balance}{nothing}."
        )
    return tuple(out)
