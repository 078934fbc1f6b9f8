"""Plain-text receipts for 32 / 42 / 48 column paper.

Widths are counted in terminal cells: a CJK character takes two, as it does on a receipt
printer in GB18030 mode, so columns line up for 鲜牛奶 as they do for milk. Pure.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from gateway.i18n import Translate, translator
from gateway.pricing.result import PricedBasket, PricedLine


def cell_width(text: str) -> int:
    """Cells `text` takes on a fixed-pitch printer (wide and full-width characters count 2)."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def clip(text: str, width: int) -> str:
    out, used = "", 0
    for ch in text:
        w = cell_width(ch)
        if used + w > width:
            break
        out += ch
        used += w
    return out


def pad_right(text: str, width: int) -> str:
    text = clip(text, width)
    return text + " " * (width - cell_width(text))


def columns(left: str, right: str, width: int) -> str:
    """`left` and `right` on one line; `left` is cut to leave room for `right`."""
    room = width - cell_width(right) - 1
    return pad_right(left, max(room, 0)) + " " + right


def columns_kept(left: str, right: str, width: int) -> list[str]:
    """`left` and `right` like `columns`, but a `left` too long is wrapped, never cut: a
    tender's reference (a wallet's transaction id) must be printed whole."""
    room = width - cell_width(right) - 1
    if cell_width(left) <= room:
        return [columns(left, right, width)]
    lines = wrap(left, width)
    last = lines.pop()
    if cell_width(last) <= room:
        return [*lines, columns(last, right, width)]
    return [*lines, last, columns("", right, width)]


def wrap(text: str, width: int) -> list[str]:
    lines, current = [], ""
    for word in text.split(" "):
        candidate = f"{current} {word}" if current else word
        if cell_width(candidate) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        while cell_width(word) > width:
            head = clip(word, width)
            lines.append(head)
            word = word[len(head) :]
        current = word
    if current:
        lines.append(current)
    return lines


def center(text: str, width: int) -> str:
    text = clip(text, width)
    left = (width - cell_width(text)) // 2
    return " " * left + text


LINE_ADJUSTMENTS = ("member_price", "promotion", "override", "reduced")


def basket_adjustments(basket: PricedBasket) -> list[tuple[str, Decimal]]:
    """Basket promotions and 抹零 once each (they are allocated to lines for refunds, but a
    customer reads them as one discount on the sale)."""
    totals: dict[str, Decimal] = {}
    for line in basket.lines:
        for adj in line.adjustments:
            if adj.kind not in LINE_ADJUSTMENTS:
                totals[adj.label] = totals.get(adj.label, Decimal(0)) + adj.amount
    return list(totals.items())


def line_block(line: PricedLine, width: int, places: int) -> list[str]:
    out = [columns(line.name, _fmt(line.list_amount, places), width)]
    if line.weight is not None and line.label_price is None:
        out.append(f"  {line.weight} kg x {_fmt(line.unit_price, places)}/kg")
    elif line.label_price is not None:
        detail = f"  label {line.code}" if line.code else "  label price"
        if line.weight is not None:
            detail += f" {line.weight} kg"
        out.append(clip(detail, width))
    elif line.quantity != 1:
        out.append(f"  {line.quantity} x {_fmt(line.list_amount / line.quantity, places)}")
    for adj in line.adjustments:
        if adj.kind in LINE_ADJUSTMENTS:
            out.append(columns(f"  {adj.label}", _fmt(adj.amount, places), width))
    if line.deposit:
        text = deposit_text(translator("en"), line.deposit, line.quantity, places)
        out.append(columns(f"  {text}", _fmt(line.deposit, places), width))
    elif "deposit" in line.flags:
        out.append("  empties returned")
    return out


def deposit_text(t: Translate, deposit: Decimal, quantity: Decimal, places: int) -> str:
    """`Deposit 0.25` for one unit, `Deposit 2 x 0.25` for more (the unit's deposit, its
    tax in for a net-priced line)."""
    if quantity == 1:
        return str(t("r_deposit").format(price=f"{deposit:.{places}f}"))
    unit = f"{deposit / quantity:.{places}f}"
    return str(t("r_deposit_times").format(quantity=quantity, price=unit))


def _fmt(amount: Decimal, places: int) -> str:
    return f"{amount:.{places}f}"


def basket_lines(basket: PricedBasket, width: int) -> list[str]:
    """The body of a receipt: lines, savings, totals and the tax summary."""
    places = basket.places
    rule = "-" * width
    out: list[str] = []
    for line in basket.lines:
        out.extend(line_block(line, width, places))
    out.append(rule)
    for label, amount in basket_adjustments(basket):
        out.append(columns(label, _fmt(amount, places), width))
    if basket.savings:
        out.append(columns("You saved", _fmt(basket.savings, places), width))
    exclusive = sum((t.tax for t in basket.taxes if not t.inclusive), Decimal(0))
    if exclusive:
        out.append(columns("Tax added", _fmt(exclusive, places), width))
    out.append(columns(f"TOTAL {basket.currency}", _fmt(basket.total, places), width))
    if basket.cash_rounding:
        out.append(columns("  cash rounding", _fmt(basket.cash_rounding, places), width))
        out.append(
            columns(f"  to pay in cash {basket.currency}", _fmt(basket.cash_total, places), width)
        )
    out.append(rule)
    out.append(columns("Tax", "net      tax    gross", width))
    for tax in basket.taxes:
        figures = (
            f"{_fmt(tax.net, places):>8} {_fmt(tax.tax, places):>7} {_fmt(tax.gross, places):>8}"
        )
        out.append(
            columns(f"{tax.rate.normalize():f}%{'' if tax.inclusive else ' +'}", figures, width)
        )
    for notice in basket.notices:
        out.extend(wrap(f"! {notice}", width))
    return out


def render_quote(
    basket: PricedBasket,
    width: int,
    header: Iterable[str] = (),
    footer: Iterable[str] = (),
    problems: Iterable[str] = (),
) -> str:
    """A quotation: the receipt body marked as a quote, not a sale."""
    out = [center(h, width) for h in header]
    out.append(center("*** QUOTATION - NOT A RECEIPT ***", width))
    out.append(
        f"catalog v{basket.catalog_version}"
        + (f"  member {basket.member}" if basket.member else "")
    )
    out.append("-" * width)
    out.extend(basket_lines(basket, width))
    for problem in problems:
        out.extend(wrap(f"! {problem}", width))
    out.extend(center(f, width) for f in footer)
    return "\n".join(out) + "\n"


def render_receipt(receipt: Any, width: int) -> str:
    """A receipt (`receipts.model.Receipt`) as plain text for 32 / 42 / 48 columns."""
    return "\n".join(receipt_lines(receipt, width)) + "\n"


def receipt_lines(receipt: Any, width: int) -> list[str]:
    """The receipt's lines, every word in `receipt.language`."""
    t = translator(receipt.language)
    rule = "-" * width
    out = [center(h, width) for h in receipt.header]
    if receipt.copy:
        out.append(center(t("r_copy"), width))
    out.append(center(receipt.title, width))
    out.append(columns(receipt.document_id, receipt.local_time.replace("T", " ")[:16], width))
    out.append(columns(t("r_staff").format(name=receipt.staff), receipt.lane, width))
    out.append(rule)
    if receipt.rows:
        out.extend(columns(k, v, width) if v else clip(k, width) for k, v in receipt.rows)
    else:
        out.extend(_money_block(receipt, width))
    out.extend(wrap_all(receipt.notes, width))
    out.append(rule)
    out.extend(center(f, width) for f in receipt.footer)
    out.append(clip(t("r_journal").format(seq=receipt.seq, hash=receipt.hash[:16]), width))
    return out


def wrap_all(texts: Iterable[str], width: int) -> list[str]:
    return [piece for text in texts for piece in wrap(text, width)]


def _money_block(receipt: Any, width: int) -> list[str]:
    t = translator(receipt.language)
    fmt = receipt.fmt
    out: list[str] = []
    for line in receipt.lines:
        out.extend(_name_and_amount(line.name, fmt(line.amount), width))
        out.extend(clip(f"  {d}", width) for d in line.details)
        out.extend(columns(f"  {label}", fmt(amount), width) for label, amount in line.adjustments)
    out.append("-" * width)
    out.extend(columns(label, fmt(amount), width) for label, amount in receipt.basket_adjustments)
    if receipt.savings:
        out.append(columns(t("r_saved"), fmt(receipt.savings), width))
    out.append(columns(total_label(receipt), fmt(receipt.total), width))
    if receipt.cash_rounding:
        out.append(columns(t("r_cash_rounding"), fmt(receipt.cash_rounding), width))
        out.append(columns(t("r_paid").format(currency=receipt.currency), fmt(receipt.due), width))
    for label, amount in receipt.tenders:
        out.extend(columns_kept(label, fmt(amount), width))
    if receipt.change:
        out.append(columns(t("r_change"), fmt(receipt.change), width))
    out.append("-" * width)
    out.append(columns(t("r_tax"), t("r_tax_columns"), width))
    for tax in receipt.taxes:
        figures = f"{fmt(tax.net):>8} {fmt(tax.tax):>7} {fmt(tax.gross):>8}"
        out.append(
            columns(f"{tax.rate.normalize():f}%{'' if tax.inclusive else ' +'}", figures, width)
        )
    if receipt.member:
        out.append(columns(t("r_member"), receipt.member, width))
        out.extend(clip(p, width) for p in receipt.points)
    return out


def total_label(receipt: Any) -> str:
    """The total's label ("TOTAL CHF", "合计 CNY"): ESC/POS prints that line bold."""
    return str(translator(receipt.language)("r_total").format(currency=receipt.currency))


def _name_and_amount(name: str, amount: str, width: int) -> list[str]:
    """A long name wraps (nothing is cut off); the amount goes on its last line."""
    room = width - cell_width(amount) - 1
    pieces = wrap(name, room) or [""]
    return [*pieces[:-1], columns(pieces[-1], amount, width)]
