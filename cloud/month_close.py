"""Month close and billing (月结, 自动化账单) of a store's member accounts.

Owns `month_close` (migration 12). Closing a month freezes its figures: the boxes'
acknowledged spending is posted first, then every member's statement (each wallet's
opening balance, what was granted, forfeited, topped up or adjusted, spent per box and
meal, and the closing balance) and every department's bill (its members' subsidy
spending, per member and meal) are computed from the ledger lines booked in the month and
kept as JSON with their SHA-256. From then on no line is booked in that month
(`cloud.members.booked_in`): a box's late record or a correction dated in it is booked
in the first open month, so a closed month never changes silently and closing it again
gives the same figures. Months close in order: an earlier month with lines must be
closed first. Statements and bills are written as xlsx and the bills also as PDF
(docs/members.md, "Month close and billing").
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from cloud.db import Database
from cloud.departments import departments
from cloud.members import WALLETS, post_box_changes
from cloud.subsidies import period_of
from gateway.errors import StoregateError

MONEY_WALLETS = ("subsidy", "cash")
ZERO = Decimal("0.00")


class CloseError(StoregateError):
    """A month that cannot be closed (not over yet, an earlier one still open)."""


@dataclass(frozen=True)
class Closed:
    store: str
    period: str
    closed_at: str
    closed_by: str
    figures: dict[str, Any]
    digest: str
    already: bool  # closed before this call: the figures are the frozen ones


def _kind(wallet: str, source: str, ref: str, delta: Decimal) -> str:
    """What a ledger line was, for a statement column."""
    if source == "grant":
        return "forfeited" if ":forfeit:" in ref else "granted"
    if source == "box":  # (a refund's reversal counts against what it reverses)
        if "/topup/" in ref:  # a top-up at the till, or its refund
            return "topped_up"
        return "earned" if wallet == "points" and "/earn/" in ref else "spent"
    if source == "dividend":
        return "dividend"
    if source in ("adjust", "import"):
        return "topped_up" if delta > 0 else "adjusted"
    return "adjusted"


def figures(db: Database, store: str, period: str) -> dict[str, Any]:
    """Statements and bills of `period` from the ledger as it stands (amounts as text)."""
    names: dict[str, tuple[str, str | None]] = {
        str(i): (str(n or ""), None if d is None else str(d))
        for i, n, d in db.query(
            "SELECT id, name, department FROM member_account WHERE store = ? ORDER BY id",
            (store,),
        )
    }
    opening: dict[str, dict[str, Decimal]] = defaultdict(lambda: dict.fromkeys(WALLETS, ZERO))
    for member, wallet, delta in db.query(
        "SELECT member, wallet, delta FROM member_ledger WHERE store = ? AND period < ?",
        (store, period),
    ):
        opening[str(member)][str(wallet)] += Decimal(str(delta))
    moves: dict[str, dict[str, dict[str, Decimal]]] = defaultdict(
        lambda: {w: defaultdict(lambda: ZERO) for w in WALLETS}
    )
    meals: dict[str, dict[tuple[str, str, str], Decimal]] = defaultdict(
        lambda: defaultdict(Decimal)
    )
    for member, wallet, delta, source, ref, by, meal in db.query(
        "SELECT member, wallet, delta, source, ref, by_whom, meal FROM member_ledger "
        "WHERE store = ? AND period = ? ORDER BY id",
        (store, period),
    ):
        amount = Decimal(str(delta))
        kind = _kind(str(wallet), str(source), str(ref), amount)
        moves[str(member)][str(wallet)][kind] += amount
        if kind == "spent" and wallet in MONEY_WALLETS:
            box = str(by).removeprefix("box ")
            meals[str(member)][(str(wallet), box, str(meal or ""))] -= amount
    statements: list[dict[str, Any]] = []
    for member in sorted(set(opening) | set(moves)):
        name, dept = names.get(member, ("", None))
        wallets = {}
        for wallet in WALLETS:
            start = opening[member][wallet]
            kinds = moves[member][wallet] if member in moves else {}
            lines = {k: str(-v if k in ("spent", "forfeited") else v) for k, v in kinds.items()}
            end = start + sum(kinds.values(), ZERO)
            wallets[wallet] = {"opening": str(start), **lines, "closing": str(end)}
        spending = [
            {"wallet": w, "box": b, "meal": m, "spent": str(v)}
            for (w, b, m), v in sorted(meals.get(member, {}).items())
            if v
        ]
        statements.append(
            {
                "member": member,
                "name": name,
                "department": dept,
                "wallets": wallets,
                "spending": spending,
            }
        )
    bills = []
    for dept, (dept_name, budget, _) in departments(db, store).items():
        rows: list[dict[str, str]] = []
        for statement in statements:
            if statement["department"] != dept:
                continue
            for line in statement["spending"]:
                if line["wallet"] == "subsidy":
                    rows.append(
                        {
                            "member": statement["member"],
                            "name": statement["name"],
                            "box": line["box"],
                            "meal": line["meal"],
                            "amount": line["spent"],
                        }
                    )
        total = sum((Decimal(r["amount"]) for r in rows), ZERO)
        bills.append(
            {
                "department": dept,
                "name": dept_name,
                "budget": None if budget is None else str(budget),
                "total": str(total),
                "lines": rows,
            }
        )
    return {"store": store, "period": period, "statements": statements, "bills": bills}


def digest_of(data: dict[str, Any]) -> str:
    return hashlib.sha256(
        json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
    ).hexdigest()


def close_month(db: Database, store: str, period: str, *, by: str, now: str) -> Closed:
    """Close `period` of `store` (idempotent: a closed month answers with its frozen
    figures); refused while the month is not over or an earlier month is open."""
    period_of(period, "cloud close month")
    kept = _closed(db, store, period)
    if kept is not None:
        return kept
    if now[:7] <= period:
        raise CloseError(
            f"{period} is not over yet (it is {now[:10]})",
            where="cloud close month",
            fix="close a month once it has ended",
        )
    post_box_changes(db, store)
    with db.transaction():
        last = db.one("SELECT max(period) FROM month_close WHERE store = ?", (store,))
        last_closed = None if last is None or last[0] is None else str(last[0])
        if last_closed is not None and last_closed > period:
            raise CloseError(
                f"{store} closed {last_closed} already: {period} is part of it",
                where="cloud close month",
                fix="a correction is booked in the first open month",
            )
        earlier = db.one(
            "SELECT min(period) FROM member_ledger WHERE store = ? AND period < ?"
            + ("" if last_closed is None else " AND period > ?"),
            (store, period) if last_closed is None else (store, period, last_closed),
        )
        if earlier is not None and earlier[0] is not None:
            raise CloseError(
                f"{earlier[0]} of {store} is still open",
                where="cloud close month",
                fix=f"close {earlier[0]} first (months close in order)",
            )
        data = figures(db, store, period)
        digest = digest_of(data)
        db.execute(
            "INSERT INTO month_close (store, period, closed_at, closed_by, figures, digest) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (store, period, now, by, json.dumps(data, ensure_ascii=False), digest),
        )
    return Closed(store, period, now, by, data, digest, already=False)


def _closed(db: Database, store: str, period: str) -> Closed | None:
    row = db.one(
        "SELECT closed_at, closed_by, figures, digest FROM month_close WHERE store = ? AND "
        "period = ?",
        (store, period),
    )
    if row is None:
        return None
    data = json.loads(str(row[2]))
    if digest_of(data) != str(row[3]):
        raise CloseError(
            f"the figures kept for {store} {period} do not match their digest",
            where="month_close",
            fix="restore the head-office database from a backup; the figures were changed",
        )
    return Closed(store, period, str(row[0]), str(row[1]), data, str(row[3]), already=True)


def closed_months(db: Database, store: str) -> list[tuple[str, str, str, str]]:
    """(period, closed_at, closed_by, digest) of every closed month of `store`."""
    return [
        (str(p), str(a), str(b), str(d))
        for p, a, b, d in db.query(
            "SELECT period, closed_at, closed_by, digest FROM month_close WHERE store = ? "
            "ORDER BY period",
            (store,),
        )
    ]


# -- files -------------------------------------------------------------------------------


def write_files(closed: Closed, folder: Path) -> list[Path]:
    """statements-STORE-PERIOD.xlsx (one row per member and wallet, the spending on a
    second sheet), bills-STORE-PERIOD.xlsx and one bill-STORE-PERIOD-DEPT.pdf each."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{closed.store}-{closed.period}"
    paths = [_statements_xlsx(closed, folder / f"statements-{stem}.xlsx")]
    paths.append(_bills_xlsx(closed, folder / f"bills-{stem}.xlsx"))
    for bill in closed.figures["bills"]:
        paths.append(_bill_pdf(closed, bill, folder / f"bill-{stem}-{bill['department']}.pdf"))
    return paths


STATEMENT_COLUMNS = (
    "member",
    "name",
    "department",
    "wallet",
    "opening",
    "granted",
    "forfeited",
    "topped_up",
    "adjusted",
    "dividend",
    "earned",
    "spent",
    "closing",
)


def _number(text: str | None) -> Decimal | str:
    return "" if text is None else Decimal(text)


def _statements_xlsx(closed: Closed, path: Path) -> Path:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "statements"
    sheet.append([f"Member statements {closed.store} {closed.period} (sha256 {closed.digest})"])
    sheet.append(list(STATEMENT_COLUMNS))
    for st in closed.figures["statements"]:
        for wallet, figures_ in st["wallets"].items():
            sheet.append(
                [st["member"], st["name"], st["department"] or "", wallet]
                + [_number(figures_.get(c, "0")) for c in STATEMENT_COLUMNS[4:]]
            )
    spending = book.create_sheet("spending")
    spending.append(["member", "name", "wallet", "box", "meal", "spent"])
    for st in closed.figures["statements"]:
        for line in st["spending"]:
            spending.append(
                [
                    st["member"],
                    st["name"],
                    line["wallet"],
                    line["box"],
                    line["meal"],
                    Decimal(line["spent"]),
                ]
            )
    book.save(path)
    return path


def _bills_xlsx(closed: Closed, path: Path) -> Path:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "bills"
    sheet.append([f"Department bills {closed.store} {closed.period}"])
    sheet.append(["department", "name", "budget", "total"])
    for bill in closed.figures["bills"]:
        sheet.append(
            [bill["department"], bill["name"], _number(bill["budget"]), Decimal(bill["total"])]
        )
    lines = book.create_sheet("lines")
    lines.append(["department", "member", "name", "box", "meal", "amount"])
    for bill in closed.figures["bills"]:
        for row in bill["lines"]:
            lines.append(
                [
                    bill["department"],
                    row["member"],
                    row["name"],
                    row["box"],
                    row["meal"],
                    Decimal(row["amount"]),
                ]
            )
    book.save(path)
    return path


# Fonts with Chinese glyphs for the PDF bills (Debian's fonts-wqy-microhei first, which the
# README's set-up installs); without one, the bill is drawn in a core font, Latin only.
PDF_FONTS = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
)


def _bill_pdf(closed: Closed, bill: dict[str, Any], path: Path) -> Path:
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_title(f"Bill {bill['department']} {closed.period}")
    pdf.add_page()
    font = next((f for f in PDF_FONTS if f.exists()), None)
    if font is not None:
        pdf.add_font("cjk", fname=str(font))
        pdf.set_font("cjk", size=11)
    else:
        pdf.set_font("helvetica", size=11)

    def line(text: str, height: float = 7) -> None:
        pdf.cell(0, height, text, new_x="LMARGIN", new_y="NEXT")

    pdf.set_font_size(16)
    line(f"Bill {closed.period}: {bill['name']} ({bill['department']})", 10)
    pdf.set_font_size(11)
    line(f"Store {closed.store}. Subsidised spending of the department's members.")
    if bill["budget"] is not None:
        line(f"Monthly budget {bill['budget']}")
    line("")
    widths = (30, 50, 30, 30, 40)
    for text, width in zip(("member", "name", "box", "meal", "amount"), widths, strict=True):
        pdf.cell(width, 7, text, border="B")
    pdf.ln()
    for row in bill["lines"]:
        cells = (row["member"], row["name"], row["box"], row["meal"], row["amount"])
        for i, (text, width) in enumerate(zip(cells, widths, strict=True)):
            pdf.cell(width, 7, text, align="R" if i == 4 else "L")
        pdf.ln()
    pdf.cell(sum(widths[:4]), 8, "Total", border="T")
    pdf.cell(widths[4], 8, bill["total"], border="T", align="R")
    pdf.ln()
    line("")
    line(f"Closed {closed.closed_at} by {closed.closed_by}; figures sha256 {closed.digest[:16]}…")
    pdf.output(str(path))
    return path
