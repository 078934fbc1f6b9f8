"""The member dividend run (消费分红): share a pool among members by weighted spend.

Owns `dividend_run` and `dividend_payout`. A member is a member of one store: spend counts
for (store, member), the store being the one whose boxes' topics the sales came on, and only
for members of that store's last published members list (`member_roster`). The rules are
data (`DividendRules`): weights per category (default 1), a minimum weighted spend to take
part, refunds subtracted. Each member's share is pool x weighted spend / total weighted
spend, floored to the cent; the cents left over go one each to the largest remainders
(ties: larger spend, then store and member id), so the payouts add up to the pool exactly.
A run is recorded with its period and scope in the same transaction as its payouts, and
the same (period, scope) cannot be paid twice.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from cloud.db import Database
from cloud.sales import Loaded, Period
from gateway import money
from gateway.errors import StoregateError, UsageError
from gateway.lane.records import RefundBody, SaleBody
from gateway.money import Rounding, round_money

PLACES = 2  # payouts are whole cents


class DividendError(StoregateError):
    """A run that must not happen (already paid, nothing to share)."""


class AlreadyPaid(DividendError):
    """The (period, scope) was run before: a conflict (409 on the page), not bad input."""


@dataclass(frozen=True)
class DividendRules:
    weights: dict[str, Decimal] = field(default_factory=dict)  # category -> weight
    min_spend: Decimal = Decimal("0.00")

    def weight(self, category: str) -> Decimal:
        return self.weights.get(category, Decimal(1))

    @classmethod
    def parse(cls, weights: list[str], min_spend: str) -> DividendRules:
        parsed: dict[str, Decimal] = {}
        try:
            for item in weights:
                category, _, value = item.partition("=")
                parsed[category] = Decimal(value)
                if not category or parsed[category] < 0:
                    raise InvalidOperation
            return cls(parsed, Decimal(min_spend))
        except InvalidOperation as exc:
            raise UsageError(
                f"bad dividend rule in {weights} / {min_spend!r}",
                where="--weight/--min-spend",
                fix="--weight CATEGORY=DECIMAL (>= 0), --min-spend DECIMAL",
            ) from exc


@dataclass(frozen=True)
class Payout:
    store: str
    member: str
    weighted_spend: Decimal
    amount: Decimal


MemberKey = tuple[str, str]  # (store, member id): a member id is one store's own


def roster(db: Database) -> set[MemberKey]:
    """The members of every store's last published members document (`cloud publish`)."""
    return {(str(s), str(m)) for s, m in db.query("SELECT store, member FROM member_roster")}


def weighted_spend(
    loaded: Loaded, rules: DividendRules, members: set[MemberKey]
) -> dict[MemberKey, Decimal]:
    """Per (store, member): sum of sale line totals x category weight, minus refunds
    likewise. The store is the one whose box's topic the record came on (`Entry.store`),
    never what the body says; a member id not in that store's published members list
    takes no part, whatever it spent (a box cannot credit another store's member)."""
    spend: dict[MemberKey, Decimal] = defaultdict(lambda: Decimal("0.00"))
    for entry in loaded.entries:
        body = entry.body
        member = getattr(body, "member", None)
        if member is None or (entry.store, member.id) not in members:
            continue
        key = (entry.store, member.id)
        if isinstance(body, SaleBody):
            for line in body.lines:
                spend[key] += line.total * rules.weight(line.category)
        elif isinstance(body, RefundBody):
            for refund in body.lines:
                spend[key] -= refund.amount * rules.weight(refund.category)
    return {m: s for m, s in spend.items() if s > 0 and s >= rules.min_spend}


def allocate(pool: Decimal, spend: dict[MemberKey, Decimal]) -> list[Payout]:
    """Largest-remainder allocation of `pool` (whole cents) in proportion to `spend`: the
    money kernel's rule (`gateway.money.allocate`, the one the pricing engine splits
    discounts with). Members are handed to it larger spend first, then by (store, id), so
    a tie between equal remainders goes the way this module's docstring promises."""
    total = sum(spend.values(), Decimal(0))
    if total <= 0:
        raise DividendError(
            "no member has a positive weighted spend in the period",
            fix="check the period, the store and --min-spend, and that the store's members "
            "list was published (`cloud publish members`): only its members take part",
        )
    if pool < 0 or round_money(pool, PLACES) != pool:
        raise UsageError(
            f"pool {pool} is not a whole number of cents",
            where="--pool",
            fix="give the pool as e.g. 1000.00",
        )
    order = sorted(spend, key=lambda m: (-spend[m], m))
    shares = dict(zip(order, money.allocate(pool, [spend[m] for m in order], PLACES), strict=True))
    return [
        Payout(m[0], m[1], round_money(spend[m], PLACES, Rounding.HALF_EVEN), shares[m])
        for m in sorted(spend)
    ]


def parse_pool(text: str, where: str = "--pool") -> Decimal:
    """The amount a run shares, as typed."""
    try:
        pool = Decimal(text)
    except InvalidOperation as exc:
        raise UsageError(
            f"pool {text!r} is not an amount", where=where, fix="e.g. --pool 1000.00"
        ) from exc
    if not pool.is_finite():
        raise UsageError(f"pool {text!r} is not an amount", where=where, fix="e.g. 1000.00")
    return pool


def run(
    db: Database,
    *,
    period: Period,
    label: str,
    scope: str,
    pool: Decimal,
    rules: DividendRules,
    loaded: Loaded,
    csv_path: Path | None,
    now: str,
    credit: str | None = None,
    dry_run: bool = False,
    audit: Callable[[Database], None] | None = None,
) -> tuple[list[Payout], int]:
    """Allocate, record the run and write its CSV to `csv_path` (the CLI's `--out`; the
    web page passes None and serves `payout_csv` of the recorded run instead); refuse a
    period already paid. With `credit` (a wallet) each payout is also a ledger line of the
    member in head office's member ledger, in the same transaction (the store's next
    members document carries it); `audit` writes the page's audit line in it too, so a run
    is never recorded unaudited. Returns the payouts and how many were credited. `dry_run`
    computes and writes nothing."""
    payouts = allocate(pool, weighted_spend(loaded, rules, roster(db)))
    if dry_run:
        return payouts, 0
    credited = 0
    with db.transaction():
        done = db.execute(
            "SELECT created_at, csv_path FROM dividend_run WHERE period = ? AND scope = ?",
            (label, scope),
        ).fetchone()
        if done is not None:
            raise AlreadyPaid(
                f"dividend for {label} ({scope}) was already run at {done[0]}",
                where=str(done[1] or "head office's /dividend page"),
                fix="a period is paid once; choose another period",
            )
        money = (lambda d: d) if db.dialect == "postgresql" else str
        db.execute(
            "INSERT INTO dividend_run (period, scope, pool, members, rules, created_at, "
            "csv_path) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                label,
                scope,
                money(pool),
                len(payouts),
                json.dumps(asdict(rules), default=str, sort_keys=True),
                now,
                None if csv_path is None else str(csv_path),
            ),
        )
        db.executemany(
            "INSERT INTO dividend_payout (period, scope, store, member, weighted_spend, "
            "amount) VALUES (?, ?, ?, ?, ?, ?)",
            [
                (label, scope, p.store, p.member, money(p.weighted_spend), money(p.amount))
                for p in payouts
            ],
        )
        if credit is not None:
            credited = _credit(db, payouts, credit, label, scope, now)
        if audit is not None:
            audit(db)
        if csv_path is not None:
            _write_csv(csv_path, payouts, label, scope)
    return payouts, credited


def _credit(
    db: Database, payouts: list[Payout], wallet: str, label: str, scope: str, now: str
) -> int:
    """Ledger lines for the payouts of members head office keeps (inside the run's
    transaction); returns how many."""
    from cloud.members import ledger_line, ledger_members

    kept: dict[str, set[str]] = {}
    credited = 0
    for p in payouts:
        if p.store not in kept:
            kept[p.store] = ledger_members(db, p.store)
        if p.member in kept[p.store] and p.amount:
            ref = f"{label}:{scope}:{p.member}"
            ledger_line(db, p.store, p.member, wallet, p.amount, "dividend", ref, "dividend", now)
            credited += 1
    return credited


def past_runs(db: Database) -> list[tuple[str, str, str, int, str]]:
    """(period, scope, pool, members, created_at) of every run, oldest first."""
    rows = db.query(
        "SELECT period, scope, pool, members, created_at FROM dividend_run ORDER BY created_at"
    )
    return [(str(a), str(b), str(c), int(d), str(e)) for a, b, c, d, e in rows]


def recorded_payouts(db: Database, label: str, scope: str) -> list[Payout] | None:
    """The payouts recorded for one run, in the order its CSV lists them (store, member),
    or None when (period, scope) was never run: what the run's CSV is made again from."""
    if not db.query("SELECT 1 FROM dividend_run WHERE period = ? AND scope = ?", (label, scope)):
        return None
    rows = db.query(
        "SELECT store, member, weighted_spend, amount FROM dividend_payout "
        "WHERE period = ? AND scope = ?",
        (label, scope),
    )
    payouts = [Payout(str(s), str(m), Decimal(str(w)), Decimal(str(a))) for s, m, w, a in rows]
    return sorted(payouts, key=lambda p: (p.store, p.member))


def payout_csv(payouts: list[Payout], label: str, scope: str) -> str:
    """A run's payout CSV: the one text the CLI writes to `--out` and the page serves, so
    the two cannot drift."""
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(["period", "scope", "store", "member", "weighted_spend", "dividend"])
    for p in payouts:
        writer.writerow([label, scope, p.store, p.member, str(p.weighted_spend), str(p.amount)])
    return out.getvalue()


def _write_csv(path: Path, payouts: list[Payout], label: str, scope: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as out:
        out.write(payout_csv(payouts, label, scope))
