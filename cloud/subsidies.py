"""Subsidy grants (补贴发放): allowances put on the members' subsidy wallets at head office
and carried to the boxes by the next members document.

Owns `member_grant_plan` and `member_grant` (migration 12). A grant gives every active
member of a group the same amount for a month, either **reset** (清零: what is left of the
wallet is forfeited, then the amount is put on it, so it holds exactly the amount) or
**add** (累计: the amount is added to what is left). Each is ledger lines — the forfeit and
the grant, by who and when — and the members' `subsidy_expires` (the last day the subsidy
may be spent: the month's last day, or none). A plan grants itself once a month from its
day on (`run_plans`, e.g. from a daily timer); the same plan or grant id and month is
never granted twice. The boxes' spending is posted first (up to what each box has
acknowledged), so a reset forfeits what is really left; a spend a box journalled before
the grant but sent afterwards is taken from the new allowance (docs/members.md, "Subsidy
grants").
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from cloud.db import Database
from cloud.members import WALLETS, balances, ledger_line, post_box_changes
from gateway.errors import StoregateError, UsageError
from gateway.settings import IDENTIFIER

MODES = ("reset", "add")
PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


class GrantError(StoregateError):
    """A grant that must not be made (made already, nobody to give it to)."""


@dataclass(frozen=True)
class Grant:
    id: str
    period: str
    group: str
    amount: Decimal
    mode: str
    expires: str  # YYYY-MM-DD, or "" for none
    members: int
    granted: Decimal
    forfeited: Decimal


def described(made: Grant) -> str:
    """What a grant did, as `cloud members grant` prints it and the canteen page says it."""
    return (
        f"{made.id} {made.period}: {made.amount} to {made.members} member(s) of {made.group} "
        f"({made.mode}), {made.granted} granted, {made.forfeited} forfeited, "
        f"expires {made.expires or 'never'}; publish the members document to tell the boxes"
    )


def period_of(text: str, where: str) -> str:
    if not PERIOD.match(text):
        raise UsageError(f"{text!r} is not a month", where=where, fix="YYYY-MM, e.g. 2026-11")
    return text


def expires_of(text: str, period: str, where: str = "--expires") -> str:
    """The last day a grant may be spent as typed: month-end (of `period`), never ("")
    or YYYY-MM-DD."""
    if text == "month-end":
        return month_end(period)
    if text == "never":
        return ""
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise UsageError(
            f"{where} {text!r} is not a day", where=where, fix="month-end, never or YYYY-MM-DD"
        ) from None


def month_end(period: str) -> str:
    year, month = int(period[:4]), int(period[5:7])
    return f"{period}-{calendar.monthrange(year, month)[1]:02d}"


def grant(
    db: Database,
    store: str,
    grant_id: str,
    group: str,
    amount: Decimal,
    mode: str,
    period: str,
    *,
    expires: str,
    by: str,
    now: str,
) -> Grant:
    """Give `amount` of subsidy to every active member of `group` for `period`, in one
    transaction with its record; refused when `grant_id` was granted for `period`."""
    if not re.match(IDENTIFIER, grant_id):
        raise UsageError(f"grant id {grant_id!r} is not an id", where="--id", fix="e.g. lunch")
    if mode not in MODES:
        raise UsageError(f"no mode {mode!r}", where="--mode", fix="reset or add")
    if amount <= 0:
        raise UsageError("a grant gives more than nothing", where="--amount", fix="e.g. 300.00")
    post_box_changes(db, store)
    day = now[:10] if now[:7] == period else f"{period}-01"
    with db.transaction():
        done = db.one(
            "SELECT by_whom, at FROM member_grant WHERE store = ? AND id = ? AND period = ?",
            (store, grant_id, period),
        )
        if done is not None:
            raise GrantError(
                f"{grant_id} for {period} was granted already, by {done[0]} at {done[1]}",
                where=f"{store}",
                fix="a correction is `cloud members adjust` with its reason",
            )
        members = [
            str(r[0])
            for r in db.query(
                "SELECT id FROM member_account WHERE store = ? AND grp = ? AND status = 'active' "
                "ORDER BY id",
                (store, group),
            )
        ]
        if not members:
            raise GrantError(
                f"{store} has no active member in group {group!r}",
                where="--group",
                fix="see `cloud members list --store S`",
            )
        left = balances(db, store)
        forfeited = Decimal("0.00")
        for member in members:
            before = left.get(member, dict.fromkeys(WALLETS, Decimal(0)))["subsidy"]
            if mode == "reset" and before > 0:
                ref = f"{grant_id}:{period}:forfeit:{member}"
                ledger_line(db, store, member, "subsidy", -before, "grant", ref, by, now, day=day)
                forfeited += before
            ref = f"{grant_id}:{period}:{member}"
            ledger_line(db, store, member, "subsidy", amount, "grant", ref, by, now, day=day)
            db.execute(
                "UPDATE member_account SET subsidy_expires = ? WHERE store = ? AND id = ?",
                (expires or None, store, member),
            )
        granted = amount * len(members)
        db.execute(
            "INSERT INTO member_grant (store, id, period, grp, amount, mode, expires, members, "
            "granted, forfeited, by_whom, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                store,
                grant_id,
                period,
                group,
                str(amount),
                mode,
                expires,
                len(members),
                str(granted),
                str(forfeited),
                by,
                now,
            ),
        )
    return Grant(grant_id, period, group, amount, mode, expires, len(members), granted, forfeited)


def add_plan(
    db: Database,
    store: str,
    plan_id: str,
    group: str,
    amount: Decimal,
    mode: str,
    day: int,
    *,
    by: str,
    now: str,
) -> None:
    """A monthly allowance: `amount` for `group` from `day` (1-28) of every month."""
    if not re.match(IDENTIFIER, plan_id):
        raise UsageError(
            f"plan id {plan_id!r} is not an id", where="cloud members plan add", fix="e.g. lunch"
        )
    if mode not in MODES:
        raise UsageError(f"no mode {mode!r}", where="--mode", fix="reset or add")
    if not 1 <= day <= 28:
        raise UsageError(f"day {day} is not 1-28", where="--day", fix="a day every month has")
    if amount <= 0:
        raise UsageError("a plan gives more than nothing", where="--amount", fix="e.g. 300.00")
    with db.transaction():
        db.execute(
            "INSERT INTO member_grant_plan (store, id, grp, amount, mode, day, created_by, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (store, id) DO UPDATE SET "
            "grp = excluded.grp, amount = excluded.amount, mode = excluded.mode, "
            "day = excluded.day, created_by = excluded.created_by, "
            "created_at = excluded.created_at",
            (store, plan_id, group, str(amount), mode, day, by, now),
        )


def plans(db: Database, store: str) -> list[tuple[str, str, Decimal, str, int]]:
    """(id, group, amount, mode, day) of the store's plans."""
    return [
        (str(i), str(g), Decimal(str(a)), str(m), int(d))
        for i, g, a, m, d in db.query(
            "SELECT id, grp, amount, mode, day FROM member_grant_plan WHERE store = ? ORDER BY id",
            (store,),
        )
    ]


def run_plans(db: Database, store: str, *, by: str, now: str) -> list[Grant]:
    """Grant every plan due in `now`'s month (its day reached) and not granted yet."""
    period, today = now[:7], int(now[8:10])
    made = []
    for plan_id, group, amount, mode, day in plans(db, store):
        if today < day or db.one(
            "SELECT 1 FROM member_grant WHERE store = ? AND id = ? AND period = ?",
            (store, plan_id, period),
        ):
            continue
        expires = month_end(period) if mode == "reset" else ""
        made.append(
            grant(db, store, plan_id, group, amount, mode, period, expires=expires, by=by, now=now)
        )
    return made


def grants(db: Database, store: str) -> list[Grant]:
    return [
        Grant(
            str(i),
            str(p),
            str(g),
            Decimal(str(a)),
            str(m),
            str(e),
            int(n),
            Decimal(str(gr)),
            Decimal(str(f)),
        )
        for i, p, g, a, m, e, n, gr, f in db.query(
            "SELECT id, period, grp, amount, mode, expires, members, granted, forfeited "
            "FROM member_grant WHERE store = ? ORDER BY period, id",
            (store,),
        )
    ]
