"""Departments (cost centres) of an enterprise canteen or company store, and their monthly
subsidy budgets.

Owns `member_department` (migration 12). A member belongs to at most one department of
their store (`member_account.department`, set by the member import's `department`
column). What a department has used of its budget in a month is its members' subsidy
spending booked in that month (`spent`), net of refunds — the same figure its month-end
bill charges (`cloud.month_close`). `check_budgets` raises head office's alerts at 80 % and
100 % of a budget, once per department, month and level (docs/members.md, "Departments");
`cloud alerts check` and the ingest workers' rule passes run it for every store.
"""

from __future__ import annotations

import re
from collections import defaultdict
from decimal import Decimal

from cloud.alerts import raise_alert
from cloud.db import Database
from gateway.errors import UsageError
from gateway.money import parse_amount
from gateway.settings import IDENTIFIER

LEVELS = ((Decimal(100), "critical"), (Decimal(80), "warning"))  # % of the budget, highest first


def amount(text: str, where: str) -> Decimal:
    """A head-office amount in cents (`gateway.money.parse_amount`'s rules), or a clear
    error naming `where`; 40 is 40.00, so amounts print as cents."""
    try:
        value = parse_amount(text, 2, what=where)
    except ValueError as exc:
        raise UsageError(str(exc), where=where, fix="a positive amount, e.g. 3000.00") from None
    return value.quantize(Decimal("0.01"))


def set_department(
    db: Database,
    store: str,
    dept: str,
    name: str,
    budget: Decimal | None,
    *,
    allowance: Decimal | None = None,
    by: str,
    now: str,
) -> None:
    """Create or change a department; `budget` None: no monthly budget (nothing checked);
    `allowance`: what one offline box may pay of its members' subsidies past what head
    office confirmed (None: no more than online)."""
    if not re.match(IDENTIFIER, dept):
        raise UsageError(
            f"department {dept!r} is not an id",
            where="cloud members department set",
            fix="letters, digits, - and _",
        )
    with db.transaction():
        db.execute(
            "INSERT INTO member_department (store, id, name, budget, offline_allowance, "
            "updated_by, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (store, id) DO "
            "UPDATE SET name = excluded.name, budget = excluded.budget, offline_allowance = "
            "excluded.offline_allowance, updated_by = excluded.updated_by, "
            "updated_at = excluded.updated_at",
            (
                store,
                dept,
                name or dept,
                None if budget is None else str(budget),
                None if allowance is None else str(allowance),
                by,
                now,
            ),
        )


def departments(db: Database, store: str) -> dict[str, tuple[str, Decimal | None, Decimal | None]]:
    """id -> (name, monthly budget, offline allowance; None: none) of the departments."""
    return {
        str(i): (str(n), _money(b), _money(a))
        for i, n, b, a in db.query(
            "SELECT id, name, budget, offline_allowance FROM member_department WHERE store = ? "
            "ORDER BY id",
            (store,),
        )
    }


def _money(value: object) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def spent(db: Database, store: str, period: str) -> dict[str, Decimal]:
    """Department -> its members' subsidy spending booked in `period` (YYYY-MM), net of
    refunds: what the box took from the subsidy wallets, never what was granted."""
    out: dict[str, Decimal] = defaultdict(Decimal)
    for dept, delta in db.query(
        "SELECT a.department, l.delta FROM member_ledger l JOIN member_account a "
        "ON a.store = l.store AND a.id = l.member WHERE l.store = ? AND l.period = ? "
        "AND l.wallet = 'subsidy' AND l.source = 'box' AND a.department IS NOT NULL",
        (store, period),
    ):
        out[str(dept)] -= Decimal(str(delta))
    return dict(out)


def budget_rows(
    db: Database, store: str, period: str
) -> list[tuple[str, str, Decimal | None, Decimal, Decimal | None]]:
    """(department, name, budget, spent, % used) of every department, for `period`."""
    used = spent(db, store, period)
    rows = []
    for dept, (name, budget, _) in departments(db, store).items():
        value = used.get(dept, Decimal("0.00"))
        share = None if not budget else (value * 100 / budget).quantize(Decimal("0.1"))
        rows.append((dept, name, budget, value, share))
    return rows


def check_budgets(db: Database, store: str, period: str, *, now: str) -> list[str]:
    """Raise a department's budget alert at 80 % (warning) and at 100 % (critical) of its
    monthly budget, once per level and month (the boxes' acknowledged spending posted
    first); returns the keys of the alerts that hold."""
    from cloud.members import post_box_changes

    raised = []
    post_box_changes(db, store)
    with db.transaction():
        for dept, name, budget, value, share in budget_rows(db, store, period):
            if budget is None or share is None:
                continue
            for level, severity in LEVELS:
                if share >= level:
                    key = f"budget:{store}:{dept}:{period}:{level}"
                    raise_alert(
                        db,
                        key=key,
                        kind="department_budget",
                        severity=severity,
                        message=f"{name} ({dept}) has used {share} % of its {period} subsidy "
                        f"budget: {value} of {budget}",
                        now=now,
                        store=store,
                        body={"department": dept, "period": period, "spent": str(value)},
                    )
                    raised.append(key)
                    break
    return raised


def check_all_budgets(db: Database, now: str) -> int:
    """`check_budgets` for `now`'s month in every store with a budgeted department (what
    `cloud alerts check` and every ingest worker's sales-rule pass run); returns how many
    budget alerts hold."""
    stores = [
        str(r[0])
        for r in db.query(
            "SELECT DISTINCT store FROM member_department WHERE budget IS NOT NULL ORDER BY store"
        )
    ]
    return sum(len(check_budgets(db, store, now[:7], now=now)) for store in stores)
