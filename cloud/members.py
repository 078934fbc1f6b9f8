"""Head office's member ledger: each store's members, their cards (hashed), and every
balance change, from which head office builds the members document its boxes apply.

Owns the `member_store`, `member_account`, `member_card`, `member_ledger` and
`member_blacklist` tables (migration 8). A member is a store's (ids are issued per store).
A card is kept only as the `sha256:` key the box computes (`gateway.members.card_key`,
with the store's salt, made at the first import and never changed), never as its UID.
Balances are never edited: each change is a ledger line (`import` for opening balances,
`adjust` by a person with a reason, `box` for a change a box journalled), and a wallet's
balance is the sum of its lines. A box's changes are posted from the ingested journal up to
that box's acknowledged position, which the document then names as `included_through`, so
the box neither loses a debit head office has not seen nor counts one twice
(docs/members.md, "Balances").
"""

from __future__ import annotations

import csv
import io
import json
import re
import secrets
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cloud.campaigns import coupons_for
from cloud.clock import Clock, system_clock
from cloud.db import Database
from gateway.errors import ProblemsError, UsageError
from gateway.members.cards import card_key, looks_like_payment_card
from gateway.members.document import parse_document
from gateway.settings import IDENTIFIER

if TYPE_CHECKING:
    from cloud.ingest import BrokerOptions
    from cloud.publish import SigningKey

WALLETS = ("points", "subsidy", "cash")
COLUMNS = (
    "id",
    "name",
    "group",
    "department",
    "cards",
    "points",
    "subsidy",
    "cash",
    "subsidy_expires",
    "status",
)
STATUSES = ("active", "blocked", "lost")


class MemberImportError(ProblemsError):
    """A member file refused whole, every bad row listed (exit status 2)."""

    def __init__(self, source: str, problems: list[str]) -> None:
        super().__init__(
            source,
            problems,
            headline="member file refused, {count} (nothing was imported)",
            fix="correct those rows and import the file again; docs/members.md lists the columns",
        )


@dataclass(frozen=True)
class Row:
    line: int
    id: str
    name: str
    group: str
    cards: tuple[str, ...]
    wallets: dict[str, Decimal]
    subsidy_expires: date | None
    status: str
    department: str | None = None  # None: the file has no department column (kept)


# -- the store's document settings -----------------------------------------------------


def set_store(db: Database, store: str, settings: dict[str, Any], now: str) -> str:
    """The store's document settings (currency, decimals, groups, redemption, offline,
    top_up), checked by building a document with them; the card salt is made once and
    kept."""
    salt = _checked_settings(db, store, settings)
    with db.transaction():
        _write_store(db, store, salt, settings, now)
    return salt


def _checked_settings(db: Database, store: str, settings: dict[str, Any]) -> str:
    """The store's salt (kept, or new) once `settings` pass the box's parser."""
    row = db.one("SELECT salt FROM member_store WHERE store = ?", (store,))
    salt = str(row[0]) if row else secrets.token_hex(16)
    allowed = {"currency", "decimals", "groups", "redemption", "offline", "top_up"}
    unknown = sorted(set(settings) - allowed)
    if unknown:
        raise UsageError(
            f"unknown member settings: {', '.join(unknown)}",
            where="--settings",
            fix=f"use {', '.join(sorted(allowed))}",
        )
    probe = {
        "schema": "storegate.members/1",
        "version": 1,
        "card_hashing": {"algorithm": "sha256", "salt": salt},
        **settings,
    }
    parse_document(probe, "--settings")
    return salt


def _write_store(db: Database, store: str, salt: str, settings: dict[str, Any], now: str) -> None:
    """Write the store's settings (call inside a transaction)."""
    db.execute(
        "INSERT INTO member_store (store, salt, settings, blacklist_version, updated_at) "
        "VALUES (?, ?, ?, 0, ?) ON CONFLICT (store) DO UPDATE SET "
        "settings = excluded.settings, updated_at = excluded.updated_at",
        (store, salt, json.dumps(settings, sort_keys=True, default=str), now),
    )


def _store(db: Database, store: str, where: str) -> tuple[str, dict[str, Any], int]:
    row = db.one(
        "SELECT salt, settings, blacklist_version FROM member_store WHERE store = ?", (store,)
    )
    if row is None:
        raise UsageError(
            f"store {store} has no member settings yet",
            where=where,
            fix="import its members with --settings FILE.json (currency, groups, ...) first",
        )
    return str(row[0]), json.loads(row[1]), int(row[2])


# -- import ----------------------------------------------------------------------------


def read_rows(path: Path) -> list[dict[str, str]]:
    """The file's rows as text cells by column name: CSV (UTF-8, a BOM allowed) or xlsx."""
    try:
        if path.suffix.lower() == ".xlsx":
            from openpyxl import load_workbook

            sheet = load_workbook(path, read_only=True, data_only=True).active
            assert sheet is not None
            values = [
                [("" if c is None else str(c)) for c in r]
                for r in sheet.iter_rows(values_only=True)
            ]
            header, *body = values or [[]]
            return [dict(zip(header, r, strict=False)) for r in body if any(r)]
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UsageError(
            f"cannot read {path}: {exc}",
            where="cloud members import",
            fix="give a UTF-8 CSV or an xlsx file",
        ) from exc
    return list(csv.DictReader(io.StringIO(text)))


def parse_rows(rows: list[dict[str, str]], groups: set[str], source: str) -> list[Row]:
    """Every row checked; all problems listed at once."""
    if rows and "id" not in rows[0]:
        raise MemberImportError(source, [f"no `id` column (the columns are {', '.join(COLUMNS)})"])
    problems: list[str] = []
    parsed: list[Row] = []
    seen: dict[str, int] = {}
    card_lines: dict[str, int] = {}
    for n, raw in enumerate(rows, start=2):  # line 1 is the header
        cell = {k.strip().lower(): (v or "").strip() for k, v in raw.items() if k}
        bad = [c for c in cell if c not in COLUMNS]
        if bad:
            problems.append(f"line {n}: unknown column {', '.join(bad)}")
            continue
        member = cell.get("id", "")
        if not re.match(IDENTIFIER, member):
            problems.append(
                f"line {n}: member id {member!r} is not an id (letters, digits, - and _)"
            )
            continue
        if member in seen:
            problems.append(f"line {n}: member {member} is also on line {seen[member]}")
        seen[member] = n
        group = cell.get("group", "")
        if group not in groups:
            problems.append(
                f"line {n}: {member}: group {group!r} is not one of {', '.join(sorted(groups))}"
            )
        cards = tuple(c for c in re.split(r"[;\s]+", cell.get("cards", "")) if c)
        for card in cards:
            if looks_like_payment_card(card):  # never hashed or kept: not a member card
                problems.append(
                    f"line {n}: {member}: a card is a payment card number, not a member "
                    "card's UID (it is not kept)"
                )
                continue
            if card in card_lines:
                problems.append(
                    f"line {n}: {member}: card {card[:4]}… is also on line {card_lines[card]}"
                )
            card_lines[card] = n
        wallets: dict[str, Decimal] = {}
        for wallet in WALLETS:
            text = cell.get(wallet, "") or "0"
            try:
                amount = Decimal(text)
            except InvalidOperation:
                problems.append(f"line {n}: {member}: {wallet} {text!r} is not a number")
                continue
            if amount < 0 or (wallet == "points" and amount != amount.to_integral_value()):
                problems.append(
                    f"line {n}: {member}: {wallet} {text} must be a whole, positive figure"
                    if wallet == "points"
                    else f"line {n}: {member}: {wallet} {text} is negative"
                )
            wallets[wallet] = amount
        expires = None
        if cell.get("subsidy_expires"):
            try:
                expires = date.fromisoformat(cell["subsidy_expires"])
            except ValueError:
                problems.append(
                    f"line {n}: {member}: subsidy_expires "
                    f"{cell['subsidy_expires']!r} is not YYYY-MM-DD"
                )
        status = cell.get("status") or "active"
        if status not in STATUSES:
            problems.append(
                f"line {n}: {member}: status {status!r} is not one of {', '.join(STATUSES)}"
            )
        department = cell.get("department") if "department" in cell else None
        if department and not re.match(IDENTIFIER, department):
            problems.append(f"line {n}: {member}: department {department!r} is not an id")
        parsed.append(
            Row(n, member, cell.get("name", ""), group, cards, wallets, expires, status, department)
        )
    if problems:
        raise MemberImportError(source, problems)
    return parsed


def import_members(
    db: Database,
    store: str,
    path: Path,
    *,
    by: str,
    now: str,
    settings: dict[str, Any] | None = None,
) -> tuple[int, int]:
    """Create or update the file's members in one transaction; (created, updated). A new
    member's wallets are their opening balances; an existing member's balances change only
    through `adjust`, so a file with balances for them is refused. `settings` (the store's
    document settings, needed the first time) are checked first and written in the same
    transaction, so a refused file changes nothing at all."""
    new_settings = settings
    if new_settings is not None:
        salt = _checked_settings(db, store, new_settings)
        settings = new_settings
    else:
        salt, settings, _ = _store(db, store, "cloud members import")
    groups = {str(g["id"]) for g in settings.get("groups", [])}
    rows = parse_rows(read_rows(path), groups, str(path))
    existing = {
        str(r[0]) for r in db.query("SELECT id FROM member_account WHERE store = ?", (store,))
    }
    owners = dict(db.query("SELECT card, member FROM member_card WHERE store = ?", (store,)))
    problems = []
    known = {
        str(r[0]) for r in db.query("SELECT id FROM member_department WHERE store = ?", (store,))
    }
    for row in rows:
        if row.department and row.department not in known:
            problems.append(
                f"line {row.line}: {row.id}: department {row.department!r} is not set up "
                "(`cloud members department set`)"
            )
        if row.id in existing and any(row.wallets.values()):
            problems.append(
                f"line {row.line}: {row.id} exists: change balances with `cloud members adjust`"
            )
        for card in row.cards:
            owner = owners.get(card_key(card, salt))
            if owner is not None and owner != row.id:
                problems.append(f"line {row.line}: {row.id}: a card is already {owner}'s")
    if problems:
        raise MemberImportError(str(path), problems)
    with db.transaction():
        if new_settings is not None:
            _write_store(db, store, salt, new_settings, now)
        for row in rows:
            db.execute(
                "INSERT INTO member_account (store, id, grp, name, status, status_since, "
                "subsidy_expires) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (store, id) DO UPDATE "
                "SET grp = excluded.grp, name = excluded.name, status = excluded.status, "
                "subsidy_expires = excluded.subsidy_expires",
                (
                    store,
                    row.id,
                    row.group,
                    row.name or None,
                    row.status,
                    None if row.status == "active" else now[:10],
                    None if row.subsidy_expires is None else str(row.subsidy_expires),
                ),
            )
            if row.department is not None:
                db.execute(
                    "UPDATE member_account SET department = ? WHERE store = ? AND id = ?",
                    (row.department or None, store, row.id),
                )
            for card in row.cards:
                db.execute(
                    "INSERT INTO member_card (store, card, member) VALUES (?, ?, ?) "
                    "ON CONFLICT (store, card) DO NOTHING",
                    (store, card_key(card, salt), row.id),
                )
            if row.id not in existing:
                for wallet, amount in row.wallets.items():
                    if amount:
                        ref = f"{path.name}:{row.line}:{row.id}"
                        ledger_line(db, store, row.id, wallet, amount, "import", ref, by, now)
    created = sum(1 for r in rows if r.id not in existing)
    return created, len(rows) - created


def ledger_line(
    db: Database,
    store: str,
    member: str,
    wallet: str,
    delta: Decimal,
    source: str,
    ref: str,
    by: str,
    at: str,
    *,
    day: str | None = None,
    meal: str | None = None,
) -> None:
    """One balance change (call inside a transaction); the same (source, ref, wallet) of a
    store is written once, so posting twice changes nothing. It is booked in the month of
    its business `day` (default: `at`'s day), or in the first open month when that one is
    closed: a closed month's figures never change, a late line is a correction of the next
    (docs/members.md, "Month close")."""
    day = day or at[:10]
    db.execute(
        "INSERT INTO member_ledger (store, member, wallet, delta, source, ref, at, by_whom, "
        "period, day, meal) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (store, source, ref, wallet) DO NOTHING",
        (
            store,
            member,
            wallet,
            str(delta),
            source,
            ref,
            at,
            by,
            booked_in(db, store, day),
            day,
            meal,
        ),
    )


def booked_in(db: Database, store: str, day: str) -> str:
    """The month (YYYY-MM) a change of business `day` is booked in: its own, unless the
    store has closed it, then the month after the last closed one."""
    period = day[:7]
    row = db.one("SELECT max(period) FROM month_close WHERE store = ?", (store,))
    last = None if row is None or row[0] is None else str(row[0])
    return period if last is None or period > last else next_month(last)


def next_month(period: str) -> str:
    year, month = int(period[:4]), int(period[5:7])
    return f"{year + month // 12:04d}-{month % 12 + 1:02d}"


def _member(db: Database, store: str, member: str, where: str) -> None:
    if db.one("SELECT 1 FROM member_account WHERE store = ? AND id = ?", (store, member)) is None:
        raise UsageError(
            f"no member {member} in {store}", where=where, fix="see `cloud members list --store S`"
        )


def parse_delta(text: str, where: str) -> Decimal:
    """A balance change as typed (`50.00`, `-3.20`): a finite amount, else a clear error."""
    try:
        delta = Decimal(text.strip())
    except InvalidOperation:
        delta = Decimal("NaN")
    if not delta.is_finite() or not delta:
        raise UsageError(
            f"{text!r} is not an amount to change a balance by",
            where=where,
            fix="e.g. 50.00 or -3.20",
        )
    return delta


def adjust(
    db: Database,
    store: str,
    member: str,
    wallet: str,
    delta: Decimal,
    reason: str,
    *,
    by: str,
    now: str,
) -> None:
    """A correction or a top-up made at head office: one ledger line naming who and why."""
    _member(db, store, member, "cloud members adjust")
    if wallet not in WALLETS:
        raise UsageError(
            f"no wallet {wallet!r}", where="--wallet", fix=f"one of {', '.join(WALLETS)}"
        )
    if not reason.strip():
        raise UsageError("an adjustment needs its reason", where="--reason", fix="say why")
    with db.transaction():
        balance = balances(db, store).get(member, {}).get(wallet, Decimal(0))
        if balance + delta < 0:
            raise UsageError(
                f"{member}'s {wallet} is {balance}: it cannot go below zero",
                where="cloud members adjust",
                fix="give a smaller amount",
            )
        ledger_line(
            db,
            store,
            member,
            wallet,
            delta,
            "adjust",
            f"{now}:{secrets.token_hex(4)}:{reason}",
            by,
            now,
        )


def set_status(
    db: Database, store: str, member: str, status: str, reason: str, *, now: str
) -> None:
    """Block, report lost or unblock a member; a lost or blocked member's cards go on the
    store's blacklist (a new blacklist version), so every box refuses them."""
    _member(db, store, member, f"cloud members {status}")
    with db.transaction():
        db.execute(
            "UPDATE member_account SET status = ?, status_since = ? WHERE store = ? AND id = ?",
            (status, now[:10], store, member),
        )
        cards = [
            str(r[0])
            for r in db.query(
                "SELECT card FROM member_card WHERE store = ? AND member = ?", (store, member)
            )
        ]
        if status == "active":
            db.execute(
                "DELETE FROM member_blacklist WHERE store = ? AND member = ?", (store, member)
            )
        else:
            for card in cards:
                db.execute(
                    "INSERT INTO member_blacklist (store, card, member, since, reason) VALUES "
                    "(?, ?, ?, ?, ?) ON CONFLICT (store, card) DO UPDATE SET "
                    "reason = excluded.reason",
                    (store, card, member, now[:10], "lost" if status == "lost" else "blocked"),
                )
        db.execute(
            "UPDATE member_store SET blacklist_version = blacklist_version + 1 WHERE store = ?",
            (store,),
        )


# -- what the boxes did ----------------------------------------------------------------


def post_box_changes(db: Database, store: str) -> dict[str, int]:
    """Post every `member_balance` record of the store's boxes up to each box's
    acknowledged seq into the ledger (once: keyed by the change id); returns that
    position per box — the document's `included_through`."""
    through = {
        str(b): int(s)
        for b, s in db.query("SELECT box, acked_seq FROM box_chain WHERE store = ?", (store,))
    }
    with db.transaction():
        for box, seq in through.items():
            for body_text, at in db.query(
                "SELECT body, time FROM journal_record WHERE store = ? AND box = ? AND kind = "
                "'member_balance' AND seq <= ?",
                (store, box, seq),
            ):
                body = json.loads(body_text)
                ledger_line(
                    db,
                    store,
                    str(body["member"]),
                    str(body["wallet"]),
                    Decimal(str(body["delta"])),
                    "box",
                    str(body["change"]),
                    f"box {box}",
                    str(at),
                    day=str(body.get("day") or "") or None,
                    meal=str(body.get("meal") or "") or None,
                )
    return through


def balances(db: Database, store: str) -> dict[str, dict[str, Decimal]]:
    found: dict[str, dict[str, Decimal]] = defaultdict(lambda: dict.fromkeys(WALLETS, Decimal(0)))
    for member, wallet, delta in db.query(
        "SELECT member, wallet, delta FROM member_ledger WHERE store = ?", (store,)
    ):
        found[str(member)][str(wallet)] += Decimal(str(delta))
    return found


def history(db: Database, store: str, member: str) -> list[tuple[str, str, str, str, str, str]]:
    """(at, wallet, delta, source, ref, by) of every change of a member, oldest first."""
    _member(db, store, member, "cloud members history")
    rows = db.query(
        "SELECT at, wallet, delta, source, ref, by_whom FROM member_ledger WHERE store = ? "
        "AND member = ? ORDER BY at, id",
        (store, member),
    )
    return [tuple(str(c) for c in r) for r in rows]  # type: ignore[misc]


def ledger_members(db: Database, store: str) -> set[str]:
    """The member ids of `store` in head office's ledger (empty: the store's members are
    kept elsewhere and its documents written by hand)."""
    return {str(r[0]) for r in db.query("SELECT id FROM member_account WHERE store = ?", (store,))}


def members(db: Database, store: str) -> list[tuple[str, str, str, str, dict[str, Decimal]]]:
    """(id, name, group, status, balances) of every member of a store."""
    money = balances(db, store)
    rows = db.query(
        "SELECT id, coalesce(name, ''), grp, status FROM member_account WHERE store = ? "
        "ORDER BY id",
        (store,),
    )
    return [
        (str(i), str(n), str(g), str(s), money.get(str(i), dict.fromkeys(WALLETS, Decimal(0))))
        for i, n, g, s in rows
    ]


# -- the document ----------------------------------------------------------------------


def build_document(db: Database, store: str, now: str) -> dict[str, Any]:
    """The members document of `store` as the ledger stands (its version is set when it is
    published), checked with the box's own parser."""
    salt, settings, blacklist_version = _store(db, store, "cloud members publish")
    through = post_box_changes(db, store)
    money = balances(db, store)
    coupons = coupons_for(db, store, now)
    cards: dict[str, list[str]] = defaultdict(list)
    for card, member in db.query(
        "SELECT card, member FROM member_card WHERE store = ? ORDER BY card", (store,)
    ):
        cards[str(member)].append(str(card))
    entries = []
    for member, name, group, status, since, expires in db.query(
        "SELECT id, name, grp, status, status_since, subsidy_expires FROM member_account "
        "WHERE store = ? ORDER BY id",
        (store,),
    ):
        wallet = money.get(str(member), dict.fromkeys(WALLETS, Decimal(0)))
        entry: dict[str, Any] = {
            "id": member,
            "group": group,
            "status": status,
            "cards": cards.get(str(member), []),
            "wallets": {
                "points": int(wallet["points"]),
                "subsidy": str(wallet["subsidy"]),
                "cash": str(wallet["cash"]),
            },
        }
        if name:
            entry["name"] = name
        if since and status != "active":
            entry["status_since"] = since
        if expires:
            entry["subsidy_expires"] = expires
        if str(member) in coupons:
            entry["coupons"] = coupons[str(member)]
        entries.append(entry)
    blacklist = [
        {"card": str(card), "since": str(since), "reason": str(reason)}
        for card, since, reason in db.query(
            "SELECT card, since, reason FROM member_blacklist WHERE store = ? ORDER BY card",
            (store,),
        )
    ]
    document = {
        "schema": "storegate.members/1",
        "version": 1,
        "issued_at": now.replace("Z", "+00:00"),
        **settings,
        "card_hashing": {"algorithm": "sha256", "salt": salt},
        "included_through": through,
        "members": entries,
        "blacklist": {"version": blacklist_version, "cards": blacklist},
        "spending": day_spending(db, store, now),
        "departments": department_entries(db, store, now[:7]),
    }
    parse_document(json.loads(json.dumps(document)), f"members of {store}")
    return document


def day_spending(db: Database, store: str, now: str) -> list[dict[str, Any]]:
    """Stored value each member spent at the store's boxes on `now`'s UTC day and the day
    before (a box matches its own local day), per meal, from the posted box changes."""
    today = date.fromisoformat(now[:10])
    days = [str(today - timedelta(days=1)), str(today)]
    spent: dict[str, dict[str, dict[str, Decimal]]] = {d: {} for d in days}
    for member, day, meal, delta in db.query(
        "SELECT member, day, meal, delta FROM member_ledger WHERE store = ? AND source = 'box' "
        "AND wallet IN ('subsidy', 'cash') AND day IN (?, ?) AND ref NOT LIKE ? ORDER BY id",
        (store, *days, "%/topup/%"),  # a top-up is money in, not spending
    ):
        figures = spent[str(day)].setdefault(str(member), defaultdict(Decimal))
        figures[""] -= Decimal(str(delta))
        if meal:
            figures[str(meal)] -= Decimal(str(delta))
    return [
        {
            "day": day,
            "members": {
                member: {
                    "total": str(f[""]),
                    "meals": {m: str(v) for m, v in f.items() if m},
                }
                for member, f in sorted(by_member.items())
            },
        }
        for day, by_member in spent.items()
    ]


def department_entries(db: Database, store: str, month: str) -> list[dict[str, Any]]:
    """Each department with its budget, what its members spent of subsidies in `month` and
    its members, for the box to cap subsidy payments (docs/members.md, "Departments")."""
    from cloud.departments import departments, spent

    used = spent(db, store, month)
    placed: dict[str, list[str]] = defaultdict(list)
    for member, dept in db.query(
        "SELECT id, department FROM member_account WHERE store = ? AND department IS NOT NULL "
        "ORDER BY id",
        (store,),
    ):
        placed[str(dept)].append(str(member))
    out = []
    for dept, (name, budget, allowance) in departments(db, store).items():
        entry: dict[str, Any] = {
            "id": dept,
            "name": name,
            "month": month,
            "budget": None if budget is None else str(budget),
            "spent": str(used.get(dept, Decimal("0.00"))),
            "members": placed.get(dept, []),
        }
        if allowance is not None:
            entry["offline_allowance"] = str(allowance)
        out.append(entry)
    return out


# -- for pages: one page of a large store, and publishing --------------------------------


def member_page(
    db: Database, store: str, search: str, offset: int, limit: int
) -> tuple[int, list[tuple[str, str, str, str, dict[str, Decimal]]]]:
    """(how many match, those of one page) of a store's members whose id or name contains
    `search` (any case), ordered by id; balances are summed for the page's members only, so
    a store of tens of thousands is read a page at a time."""
    where = "store = ?"
    params: list[Any] = [store]
    if search:
        escaped = search.lower().replace("!", "!!").replace("%", "!%").replace("_", "!_")
        pattern = f"%{escaped}%"
        where += " AND (lower(id) LIKE ? ESCAPE '!' OR lower(coalesce(name, '')) LIKE ? ESCAPE '!')"
        params += [pattern, pattern]
    total_row = db.one(f"SELECT count(*) FROM member_account WHERE {where}", tuple(params))
    total = int(total_row[0]) if total_row else 0
    rows = db.query(
        f"SELECT id, coalesce(name, ''), grp, status FROM member_account WHERE {where} "
        "ORDER BY id LIMIT ? OFFSET ?",
        (*params, limit, offset),
    )
    ids = [str(r[0]) for r in rows]
    money: dict[str, dict[str, Decimal]] = {i: dict.fromkeys(WALLETS, Decimal(0)) for i in ids}
    if ids:
        marks = ", ".join("?" for _ in ids)
        for member, wallet, delta in db.query(
            "SELECT member, wallet, delta FROM member_ledger WHERE store = ? "
            f"AND member IN ({marks})",
            (store, *ids),
        ):
            money[str(member)][str(wallet)] += Decimal(str(delta))
    return total, [(str(i), str(n), str(g), str(s), money[str(i)]) for i, n, g, s in rows]


def member_row(
    db: Database, store: str, member: str
) -> tuple[str, str, str, str, dict[str, Decimal]] | None:
    """(id, name, group, status, balances) of one member, None when the store has none."""
    row = db.one(
        "SELECT id, coalesce(name, ''), grp, status FROM member_account WHERE store = ? AND id = ?",
        (store, member),
    )
    if row is None:
        return None
    wallets = balances(db, store).get(member, dict.fromkeys(WALLETS, Decimal(0)))
    return str(row[0]), str(row[1]), str(row[2]), str(row[3]), wallets


def send_document(
    db: Database,
    store: str,
    document: dict[str, Any],
    *,
    broker: BrokerOptions,
    root: str,
    key: SigningKey,
    clock: Clock = system_clock,
) -> dict[str, Any]:
    """Sign and publish a store's members document with head office's key
    (`cloud.publish.publish_document`, retained for its boxes); the message as published,
    with its version. `cloud members publish`, `cloud campaigns` and the members page
    publish through here."""
    from cloud.publish import publish_document

    [message] = publish_document(
        db=db,
        broker=broker,
        root=root,
        kind="members",
        document=document,
        stores=[store],
        box=None,
        key=key,
        clock=clock,
    )
    return dict(message)
