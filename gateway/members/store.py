"""The members tables in SQLite: the document in force, the versioned blacklist, and this
box's own balance changes. A thin store: no rule is decided here.

Owns the member_* tables (migration 4; migration 9: personal coupons and the ones this box
saw redeemed, and the serial coupons it saw redeemed, named by `serial_campaign`).
Reads `journal_record` only to learn the seq of a change's own journal record (inside the
journal's transaction) and to return a recorded change's body unchanged; never writes the
journal, never opens the database itself.

Theory of operation: `member_wallet` holds balances *as head office sent them*;
`member_change` holds every change this box journalled, keyed by its change id (so writing
one twice is a no-op). A balance is the document's plus this box's changes that head office
has not yet folded in; a document says what it folded in with `included_through[box]` (a
journal seq of this box), and applying it marks those changes confirmed. So a new document
never loses a local debit, and a change is never counted twice.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import sqlite_utils

from gateway.errors import DatabaseError
from gateway.members.document import (
    Blacklist,
    BlacklistEntry,
    Member,
    MembersDocument,
    MembersDocumentError,
)
from gateway.members.errors import MembersError
from gateway.members.rules import Spending, Wallet
from gateway.money import ZERO

STORED_VALUE_REASONS = ("spend", "spend_reversal")
POINTS_REDEEM_REASONS = ("redeem", "redeem_reversal")


@dataclass(frozen=True)
class Change:
    """One balance change as the box records it (the `member_balance` body has more)."""

    change_id: str
    member_id: str
    wallet: Wallet
    delta: Decimal
    reason: str
    sale_id: str
    local_day: str
    meal: str | None
    offline: bool
    supervisor: str | None = None  # who approved it offline past the policy (journal only)


@dataclass(frozen=True)
class MemberRow:
    member_id: str
    group_id: str
    name: str | None
    status: str
    status_since: date | None
    subsidy_expires: date | None


@dataclass(frozen=True)
class CouponRow:
    """A personal coupon as the box keeps it (code upper case)."""

    campaign: str
    code: str
    until: date | None


@dataclass(frozen=True)
class Balances:
    points: int
    subsidy: Decimal
    cash: Decimal


@dataclass(frozen=True)
class AppliedDocument:
    """What applying a document did, for the events head office sees."""

    version: int
    members: int
    confirmed: int
    pending: int
    blacklist_version: int


NO_MEMBER = ""
"""The member id of a serial coupon redeemed on a sale without a member."""


def serial_campaign(promotion: str, serial: int) -> str:
    """How `member_coupon_use` names a serial coupon's redemption: one row per serial
    (its primary key with the member keeps a personal coupon's once; a serial is looked up
    by this name alone, whoever redeemed it)."""
    return f"serial:{promotion}:{serial:06d}"


def _day(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


class MemberStore:
    """The members tables of one box (`box` is this box's id, as in `included_through`)."""

    def __init__(self, db: sqlite_utils.Database, box: str) -> None:
        self._conn: sqlite3.Connection = db.conn
        self.box = box
        self._cached: tuple[int, MembersDocument] | None = None

    # -- head office documents -----------------------------------------------------------

    def apply_document(self, doc: MembersDocument, now: datetime) -> AppliedDocument:
        """Swap in a newer document atomically (between sales); older or equal is refused."""
        current = self.document()
        problems = _refusals(doc, current, self.blacklist_version())
        problems += self._watermark_problems(doc, current)
        if problems:
            raise MembersDocumentError(f"members document version {doc.version}", problems)
        body = doc.model_copy(update={"members": []}).model_dump_json(by_alias=True)
        with self._transaction() as conn:
            _replace_members(conn, doc.members)
            conn.execute(
                "INSERT OR REPLACE INTO member_document VALUES (1, ?, ?, ?, ?, ?)",
                (
                    doc.version,
                    doc.issued_at.isoformat() if doc.issued_at else None,
                    hashlib.sha256(body.encode()).hexdigest(),
                    now.isoformat(),
                    body,
                ),
            )
            if doc.blacklist.version >= self._blacklist_version(conn):
                _replace_blacklist(conn, doc.blacklist)
            confirmed = _confirm(conn, doc.version, doc.included_through.get(self.box))
            pending = conn.execute(
                "SELECT count(*) FROM member_change WHERE confirmed_in IS NULL"
            ).fetchone()[0]
        self._cached = None
        return AppliedDocument(
            doc.version, len(doc.members), confirmed, pending, self.blacklist_version()
        )

    def _watermark_problems(
        self, doc: MembersDocument, current: MembersDocument | None
    ) -> list[str]:
        """`included_through` for this box may not go back, nor past this box's journal:
        either would make a recorded change count twice or not at all."""
        claimed = doc.included_through.get(self.box, 0)
        before = current.included_through.get(self.box, 0) if current else 0
        head = int(self._conn.execute("SELECT head_seq FROM journal_state").fetchone()[0])
        problems = []
        if claimed < before:
            problems.append(
                f"included_through.{self.box}: {claimed} is below {before} in "
                "force (head office's copy went back)"
            )
        if claimed > head:
            problems.append(
                f"included_through.{self.box}: {claimed} is beyond this box's "
                f"journal head {head} (was the box restored from a backup?)"
            )
        return problems

    def apply_blacklist(self, blacklist: Blacklist) -> bool:
        """A blacklist pushed on its own (high priority); only a newer version replaces."""
        with self._transaction() as conn:
            if blacklist.version <= self._blacklist_version(conn):
                return False
            _replace_blacklist(conn, blacklist)
        return True

    def document(self) -> MembersDocument | None:
        """The document in force without its members list (they live in their tables)."""
        row = self._conn.execute("SELECT version, body FROM member_document").fetchone()
        if row is None:
            return None
        if self._cached is None or self._cached[0] != row[0]:
            self._cached = (row[0], MembersDocument.model_validate_json(row[1]))
        return self._cached[1]

    def blacklist_version(self) -> int:
        return self._blacklist_version(self._conn)

    # -- look-ups ------------------------------------------------------------------------

    def blacklisted(self, keys: Iterable[str]) -> BlacklistEntry | None:
        for key in keys:
            row = self._conn.execute(
                "SELECT since, reason FROM member_blacklist WHERE card_key = ?", (key,)
            ).fetchone()
            if row:
                return BlacklistEntry(card=key, since=_day(row[0]), reason=row[1])
        return None

    def member_for_card(self, key: str) -> str | None:
        row = self._conn.execute(
            "SELECT member_id FROM member_card WHERE card_key = ?", (key,)
        ).fetchone()
        return str(row[0]) if row else None

    def member(self, member_id: str) -> MemberRow | None:
        row = self._conn.execute(
            "SELECT member_id, group_id, name, status, status_since, subsidy_expires "
            "FROM member WHERE member_id = ?",
            (member_id,),
        ).fetchone()
        if row is None:
            return None
        return MemberRow(row[0], row[1], row[2], row[3], _day(row[4]), _day(row[5]))

    def balances(self, member_id: str) -> Balances:
        """Document balance + this box's own changes head office has not confirmed."""
        sums = {
            w: Decimal(b)
            for w, b in self._conn.execute(
                "SELECT wallet, balance FROM member_wallet WHERE member_id = ?", (member_id,)
            )
        }
        for wallet, delta in self._conn.execute(
            "SELECT wallet, delta FROM member_change WHERE member_id = ? AND confirmed_in IS NULL",
            (member_id,),
        ):
            sums[wallet] = sums.get(wallet, ZERO) + Decimal(delta)
        return Balances(
            int(sums.get("points", ZERO)), sums.get("subsidy", ZERO), sums.get("cash", ZERO)
        )

    def spending(
        self, member_id: str, day: date, meal: str | None, *, online: bool = True
    ) -> Spending:
        """Stored value and points this member used on `day` (net of reversals): at every
        box when head office's document carries the day (its figure, which holds this box's
        confirmed changes, plus this box's unconfirmed ones), else at this box; and what
        the member's department may still pay from subsidies in `day`'s month."""
        doc = self.document()
        known = doc.day_spending(day, member_id) if doc is not None else None
        spent = {"day": ZERO, "meal": ZERO, "offline": ZERO, "points": ZERO}
        if known is not None:
            spent["day"] = known.total
            spent["meal"] = known.meals.get(meal, ZERO) if meal is not None else ZERO
        for wallet, delta, reason, row_meal, offline, confirmed in self._conn.execute(
            "SELECT wallet, delta, reason, meal, offline, confirmed_in FROM member_change "
            "WHERE member_id = ? AND local_day = ?",
            (member_id, day.isoformat()),
        ):
            amount = -Decimal(delta)
            if reason in STORED_VALUE_REASONS:
                if known is None or confirmed is None:  # (else in head office's figure)
                    spent["day"] += amount
                    spent["meal"] += amount if meal is not None and row_meal == meal else ZERO
                spent["offline"] += amount if offline else ZERO
            elif reason in POINTS_REDEEM_REASONS and offline and wallet == "points":
                spent["points"] += amount
        return Spending(
            spent["day"],
            spent["meal"],
            spent["offline"],
            int(spent["points"]),
            self._department_left(doc, member_id, day, online),
        )

    def _department_left(
        self, doc: MembersDocument | None, member_id: str, day: date, online: bool
    ) -> Decimal | None:
        """The member's department's subsidy budget for `day`'s month less what head office
        counted and this box's unconfirmed subsidy spending of its members; offline, no
        more than the department's offline allowance past what head office confirmed."""
        dept = doc.department_of(member_id) if doc is not None else None
        if dept is None or dept.budget is None:
            return None
        month = day.isoformat()[:7]
        counted = dept.spent if dept.month == month else ZERO
        marks = ",".join("?" * len(dept.members))
        own = ZERO
        for delta, reason in self._conn.execute(
            "SELECT delta, reason FROM member_change WHERE wallet = 'subsidy' AND confirmed_in "
            f"IS NULL AND substr(local_day, 1, 7) = ? AND member_id IN ({marks})",
            (month, *dept.members),
        ):
            if reason in STORED_VALUE_REASONS:
                own -= Decimal(delta)
        left = dept.budget - counted - own
        if not online and dept.offline_allowance is not None:
            left = min(left, dept.offline_allowance - own)
        return max(left, ZERO)

    def pending_count(self) -> int:
        return int(
            self._conn.execute(
                "SELECT count(*) FROM member_change WHERE confirmed_in IS NULL"
            ).fetchone()[0]
        )

    def recorded_bodies(self, change_ids: Sequence[str]) -> dict[str, dict[str, object]]:
        """Journal bodies of changes this box already recorded (to re-post them unchanged)."""
        if not change_ids:
            return {}
        marks = ", ".join("?" * len(change_ids))
        rows = self._conn.execute(
            f"SELECT c.change_id, j.body FROM member_change c JOIN journal_record j "
            f"ON j.id = c.change_id WHERE c.change_id IN ({marks})",
            list(change_ids),
        )
        return {cid: json.loads(body) for cid, body in rows}

    def reversed_so_far(self, original_id: str, excluding: str) -> Decimal:
        """How much of a change earlier refunds already reversed (magnitude; not `excluding`,
        the reversal being posted now, so re-posting it is not counted against itself)."""
        suffix = "/reverse/" + original_id
        rows = self._conn.execute(
            "SELECT delta FROM member_change WHERE substr(change_id, -?) = ? AND change_id != ?",
            (len(suffix), suffix, excluding),
        )
        return sum((abs(Decimal(row[0])) for row in rows), ZERO)

    def known_changes(self, change_ids: Sequence[str]) -> set[str]:
        marks = ", ".join("?" * len(change_ids))
        rows = (
            self._conn.execute(
                f"SELECT change_id FROM member_change WHERE change_id IN ({marks})",
                list(change_ids),
            )
            if change_ids
            else []
        )
        return {row[0] for row in rows}

    def coupons(self, member_id: str, day: date) -> tuple[CouponRow, ...]:
        """The member's personal coupons still to redeem on local `day`: issued by the
        document in force, not past their last day, and not redeemed at this box (a
        redemption at another box comes back as a document without the coupon)."""
        rows = self._conn.execute(
            "SELECT c.campaign, c.code, c.until FROM member_coupon c WHERE c.member_id = ? "
            "AND (c.until IS NULL OR c.until >= ?) AND NOT EXISTS (SELECT 1 FROM "
            "member_coupon_use u WHERE u.member_id = c.member_id AND u.campaign = c.campaign) "
            "ORDER BY c.campaign",
            (member_id, day.isoformat()),
        ).fetchall()
        return tuple(CouponRow(r[0], r[1], _day(r[2])) for r in rows)

    def personal_codes(self) -> frozenset[str]:
        """Every code some member of the document in force holds as a personal coupon."""
        rows = self._conn.execute("SELECT DISTINCT code FROM member_coupon").fetchall()
        return frozenset(str(r[0]) for r in rows)

    def coupon_redeemed(self, member_id: str, code: str) -> str | None:
        """The sale that redeemed the member's coupon `code` at this box, if one did."""
        row = self._conn.execute(
            "SELECT sale_id FROM member_coupon_use WHERE member_id = ? AND code = ?",
            (member_id, code.upper()),
        ).fetchone()
        return str(row[0]) if row else None

    def serial_redeemed(self, promotion: str, serial: int) -> str | None:
        """The sale that redeemed serial coupon `serial` of `promotion` at this box, by
        any member or none (docs/pricing.md, "Serial coupons")."""
        row = self._conn.execute(
            "SELECT sale_id FROM member_coupon_use WHERE campaign = ?",
            (serial_campaign(promotion, serial),),
        ).fetchone()
        return str(row[0]) if row else None

    def serials_redeemed_by(self, member_id: str, promotion: str) -> int:
        """How many serial coupons of `promotion` the member redeemed at this box."""
        head = serial_campaign(promotion, 0)[: -len("000000")]
        row = self._conn.execute(
            "SELECT COUNT(*) FROM member_coupon_use WHERE member_id = ? "
            "AND substr(campaign, 1, ?) = ?",
            (member_id, len(head), head),
        ).fetchone()
        return int(row[0])

    def record_coupon_uses(
        self,
        conn: sqlite3.Connection,
        member_id: str,
        uses: Sequence[CouponRow],
        sale_id: str,
        day: date,
    ) -> None:
        """Inside the sale's journal transaction: these coupons are spent (once: the
        primary key refuses a second redemption of a campaign's coupon)."""
        conn.executemany(
            "INSERT OR IGNORE INTO member_coupon_use VALUES (?, ?, ?, ?, ?)",
            [(member_id, u.campaign, u.code, sale_id, day.isoformat()) for u in uses],
        )

    # -- the journal's `also` ------------------------------------------------------------

    def record(self, conn: sqlite3.Connection, changes: Sequence[Change]) -> None:
        """Write changes inside the journal transaction that appended their records.

        A change id already present is skipped, so running this twice changes nothing.
        """
        for change in changes:
            row = conn.execute(
                "SELECT seq FROM journal_record WHERE id = ?", (change.change_id,)
            ).fetchone()
            if row is None:
                raise MembersError(
                    f"balance change {change.change_id} has no journal record",
                    where="members record",
                    fix="append the posting's entries with "
                    "Journal.append_many(posting.entries, also=posting.also)",
                )
            conn.execute(
                "INSERT OR IGNORE INTO member_change VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
                (
                    change.change_id,
                    row[0],
                    change.member_id,
                    change.wallet,
                    str(change.delta),
                    change.reason,
                    change.sale_id,
                    change.local_day,
                    change.meal,
                    int(change.offline),
                ),
            )

    # -- plumbing --------------------------------------------------------------------------

    @staticmethod
    def _blacklist_version(conn: sqlite3.Connection) -> int:
        return int(conn.execute("SELECT version FROM member_blacklist_state").fetchone()[0])

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            raise DatabaseError(
                f"SQLite failed while applying members data: {exc}",
                where="member tables",
                fix="run `gateway journal verify`; restore the newest backup "
                "if the file is damaged",
            ) from exc


def _refusals(
    doc: MembersDocument, current: MembersDocument | None, blacklist_version: int
) -> list[str]:
    if current is None:
        return []
    problems = []
    if doc.version <= current.version:
        problems.append(f"version {doc.version} is not newer than {current.version} in force")
    if (
        doc.card_hashing.salt != current.card_hashing.salt
        and doc.blacklist.version < blacklist_version
    ):
        problems.append(
            f"card_hashing.salt changed but blacklist.version {doc.blacklist.version} is older "
            f"than {blacklist_version} in force (its card hashes would no longer match)"
        )
    return problems


def _replace_members(conn: sqlite3.Connection, members: Sequence[Member]) -> None:
    for table in ("member_coupon", "member_wallet", "member_card", "member"):
        conn.execute(f"DELETE FROM {table}")
    conn.executemany(
        "INSERT INTO member VALUES (?, ?, ?, ?, ?, ?)",
        [
            (
                m.id,
                m.group,
                m.name,
                m.status,
                m.status_since and m.status_since.isoformat(),
                m.subsidy_expires and m.subsidy_expires.isoformat(),
            )
            for m in members
        ],
    )
    conn.executemany(
        "INSERT INTO member_card VALUES (?, ?)", [(card, m.id) for m in members for card in m.cards]
    )
    conn.executemany(
        "INSERT INTO member_wallet VALUES (?, ?, ?)",
        [
            (m.id, wallet, str(getattr(m.wallets, wallet)))
            for m in members
            for wallet in ("points", "subsidy", "cash")
        ],
    )
    conn.executemany(
        "INSERT INTO member_coupon VALUES (?, ?, ?, ?)",
        [
            (m.id, c.campaign, c.code.upper(), c.until and c.until.isoformat())
            for m in members
            for c in m.coupons
        ],
    )


def _replace_blacklist(conn: sqlite3.Connection, blacklist: Blacklist) -> None:
    conn.execute("DELETE FROM member_blacklist")
    conn.executemany(
        "INSERT INTO member_blacklist VALUES (?, ?, ?)",
        [(e.card, e.since and e.since.isoformat(), e.reason) for e in blacklist.cards],
    )
    conn.execute("UPDATE member_blacklist_state SET version = ?", (blacklist.version,))


def _confirm(conn: sqlite3.Connection, version: int, through: int | None) -> int:
    if through is None:
        return 0
    return int(
        conn.execute(
            "UPDATE member_change SET confirmed_in = ? WHERE confirmed_in IS "
            "NULL AND journal_seq <= ?",
            (version, through),
        ).rowcount
    )
