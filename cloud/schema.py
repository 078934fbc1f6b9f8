"""Head office's schema and its migrations (`cloud db upgrade`), for SQLite and PostgreSQL.

Owns every table of the head-office database. One list of migrations, written once with
type words (`{JSON}`, `{BIGINT}`, ...) that each engine spells its own way, so both
databases always have the same tables and columns. A migration is never edited once
released: add a new one.

Times are UTC ISO-8601 text ("...Z"), exactly as the box sent them (a record's `time` is
part of its hash, so it is kept byte for byte). Money is NUMERIC in PostgreSQL and decimal
text in SQLite, never a float. Journal bodies are the canonical JSON the hash covers.
"""

from __future__ import annotations

from collections.abc import Callable

from cloud.db import CloudDatabaseError, Database

TYPES = {
    "sqlite": {
        "BIGINT": "INTEGER",
        "BOOL": "INTEGER",
        "JSON": "TEXT",
        "MONEY": "TEXT",
        "QTY": "TEXT",
        "COST": "TEXT",
        "SERIAL": "INTEGER PRIMARY KEY AUTOINCREMENT",
        "FALSE": "0",
    },
    "postgresql": {
        "BIGINT": "BIGINT",
        "BOOL": "BOOLEAN",
        "JSON": "TEXT",
        "MONEY": "NUMERIC(18, 2)",
        "QTY": "NUMERIC(18, 3)",
        "COST": "NUMERIC(18, 4)",
        "SERIAL": "BIGSERIAL PRIMARY KEY",
        "FALSE": "FALSE",
    },
}


def _rebuild_sales_summary(db: Database) -> None:
    from cloud.sales_summary import rebuild

    rebuild(db)


# A step is a statement, or a function of the database for what SQL cannot do (parse bodies).
MIGRATIONS: list[list[str | Callable[[Database], None]]] = [
    # 1: journal, chain position, fleet state, events, telemetry, commands, alerts
    [
        """CREATE TABLE journal_record (
            store TEXT NOT NULL, box TEXT NOT NULL, seq {BIGINT} NOT NULL,
            id TEXT NOT NULL, time TEXT NOT NULL, clock_synced {BOOL} NOT NULL,
            kind TEXT NOT NULL, body {JSON} NOT NULL, prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL, historical {BOOL} NOT NULL, received_at TEXT NOT NULL,
            PRIMARY KEY (store, box, seq))""",
        "CREATE INDEX journal_record_kind_time ON journal_record (kind, time)",
        """CREATE TABLE box_chain (
            store TEXT NOT NULL, box TEXT NOT NULL,
            acked_seq {BIGINT} NOT NULL DEFAULT 0,
            acked_hash TEXT NOT NULL DEFAULT '{GENESIS}',
            max_seq {BIGINT} NOT NULL DEFAULT 0, gap_since TEXT, broken_seq {BIGINT},
            updated_at TEXT, PRIMARY KEY (store, box))""",
        """CREATE TABLE box_state (
            store TEXT NOT NULL, box TEXT NOT NULL, online {BOOL} NOT NULL DEFAULT {FALSE},
            session {BIGINT} NOT NULL DEFAULT -1, boot_id TEXT, version TEXT,
            protocol TEXT, state_time TEXT, online_since TEXT, offline_since TEXT,
            last_seen TEXT, journal_head_seq {BIGINT}, journal_acknowledged_seq {BIGINT},
            telemetry {JSON}, telemetry_time TEXT, PRIMARY KEY (store, box))""",
        """CREATE TABLE box_event (
            store TEXT NOT NULL, box TEXT NOT NULL, id TEXT NOT NULL, time TEXT NOT NULL,
            kind TEXT NOT NULL, severity TEXT NOT NULL, body {JSON} NOT NULL,
            received_at TEXT NOT NULL, PRIMARY KEY (store, box, id))""",
        """CREATE TABLE telemetry (
            store TEXT NOT NULL, box TEXT NOT NULL, time TEXT NOT NULL,
            received_at TEXT NOT NULL, body {JSON} NOT NULL,
            PRIMARY KEY (store, box, time))""",
        """CREATE TABLE command (
            id TEXT PRIMARY KEY, store TEXT NOT NULL, box TEXT NOT NULL, name TEXT NOT NULL,
            args {JSON} NOT NULL, issued_at TEXT NOT NULL, expires_at TEXT NOT NULL,
            status TEXT NOT NULL, result {JSON}, error TEXT, result_at TEXT)""",
        """CREATE TABLE alert (
            id {SERIAL}, key TEXT NOT NULL UNIQUE, raised_at TEXT NOT NULL,
            kind TEXT NOT NULL, severity TEXT NOT NULL, store TEXT, box TEXT,
            seq {BIGINT}, record_id TEXT, message TEXT NOT NULL, body {JSON} NOT NULL,
            acknowledged_at TEXT, acknowledged_by TEXT)""",
        "CREATE INDEX alert_raised ON alert (raised_at)",
    ],
    # 2: publishing (document versions) and the member dividend ledger
    [
        """CREATE TABLE document_version (
            kind TEXT NOT NULL, store TEXT NOT NULL, box TEXT NOT NULL,
            version {BIGINT} NOT NULL, issued_at TEXT NOT NULL, key_id TEXT NOT NULL,
            PRIMARY KEY (kind, store, box))""",
        """CREATE TABLE dividend_run (
            period TEXT NOT NULL, scope TEXT NOT NULL, pool {MONEY} NOT NULL,
            members {BIGINT} NOT NULL, rules {JSON} NOT NULL, created_at TEXT NOT NULL,
            csv_path TEXT, PRIMARY KEY (period, scope))""",
        """CREATE TABLE dividend_payout (
            period TEXT NOT NULL, scope TEXT NOT NULL, member TEXT NOT NULL,
            weighted_spend {MONEY} NOT NULL, amount {MONEY} NOT NULL,
            PRIMARY KEY (period, scope, member))""",
    ],
    # 3: accepted chain breaks (`cloud chain accept`): who let a box's position pass which
    # break, when and why, with the hashes on both sides of it
    [
        """CREATE TABLE chain_acceptance (
            id {SERIAL}, store TEXT NOT NULL, box TEXT NOT NULL, seq {BIGINT} NOT NULL,
            expected_prev_hash TEXT NOT NULL, found_prev_hash TEXT NOT NULL,
            reason TEXT NOT NULL, accepted_by TEXT NOT NULL, accepted_at TEXT NOT NULL,
            UNIQUE (store, box, seq))""",
    ],
    # 4: a member is a member of one store (issue 13, #10): the member ids of each store's
    # last published members document, and dividend payouts keyed by (store, member) --
    # the store being the one whose boxes' topics the spend came on
    [
        """CREATE TABLE member_roster (
            store TEXT NOT NULL, member TEXT NOT NULL, version {BIGINT} NOT NULL,
            PRIMARY KEY (store, member))""",
        """CREATE TABLE dividend_payout_by_store (
            period TEXT NOT NULL, scope TEXT NOT NULL, store TEXT NOT NULL,
            member TEXT NOT NULL, weighted_spend {MONEY} NOT NULL, amount {MONEY} NOT NULL,
            PRIMARY KEY (period, scope, store, member))""",
        """INSERT INTO dividend_payout_by_store
            SELECT period, scope, CASE WHEN scope = '*' THEN '' ELSE scope END, member,
                   weighted_spend, amount
            FROM dividend_payout""",
        "DROP TABLE dividend_payout",
        "ALTER TABLE dividend_payout_by_store RENAME TO dividend_payout",
    ],
    # 5: stores and store groups (publishing to a group, an unknown store refused), the
    # document last published to each store (previews), staged rollouts (cloud/stores.py)
    [
        """CREATE TABLE store (
            id TEXT PRIMARY KEY, name TEXT, added_at TEXT NOT NULL)""",
        """CREATE TABLE store_group (
            name TEXT NOT NULL, store TEXT NOT NULL, PRIMARY KEY (name, store))""",
        """CREATE TABLE published_document (
            kind TEXT NOT NULL, store TEXT NOT NULL, box TEXT NOT NULL,
            version {BIGINT} NOT NULL, body {JSON} NOT NULL, PRIMARY KEY (kind, store, box))""",
        """CREATE TABLE rollout (
            id {SERIAL}, kind TEXT NOT NULL, target TEXT NOT NULL, document {JSON} NOT NULL,
            created_at TEXT NOT NULL)""",
        """CREATE TABLE rollout_store (
            rollout {BIGINT} NOT NULL, store TEXT NOT NULL, stage TEXT NOT NULL,
            version {BIGINT}, published_at TEXT, PRIMARY KEY (rollout, store))""",
    ],
    # 6: alerts with a lifecycle -- cleared apart from acknowledged, an assignee, comments
    # -- and the notifications sent about them (cloud/notify.py). Alerts cleared before
    # were marked acknowledged by "box (cleared)": they become cleared, unacknowledged.
    [
        "ALTER TABLE alert ADD COLUMN cleared_at TEXT",
        "ALTER TABLE alert ADD COLUMN assignee TEXT",
        """UPDATE alert SET cleared_at = acknowledged_at, acknowledged_at = NULL,
            acknowledged_by = NULL WHERE acknowledged_by = 'box (cleared)'""",
        """CREATE TABLE alert_comment (
            id {SERIAL}, alert {BIGINT} NOT NULL, at TEXT NOT NULL, author TEXT NOT NULL,
            text TEXT NOT NULL)""",
        """CREATE TABLE notify_channel (
            name TEXT PRIMARY KEY, after_alert {BIGINT} NOT NULL, created_at TEXT NOT NULL)""",
        """CREATE TABLE notification (
            channel TEXT NOT NULL, alert {BIGINT} NOT NULL, event TEXT NOT NULL,
            state TEXT NOT NULL, attempts {BIGINT} NOT NULL DEFAULT 0, last_error TEXT,
            queued_at TEXT NOT NULL, sent_at TEXT, PRIMARY KEY (channel, alert, event))""",
    ],
    # 7: head office in the browser: accounts with a role and a scope, and the audit log of
    # every sign-in and change (cloud/web/accounts.py)
    [
        """CREATE TABLE web_account (
            name TEXT PRIMARY KEY, role TEXT NOT NULL, scope TEXT, salt TEXT NOT NULL,
            password_hash TEXT NOT NULL, totp_secret TEXT, failed {BIGINT} NOT NULL,
            locked_until TEXT, created_at TEXT NOT NULL)""",
        """CREATE TABLE web_audit (
            id {SERIAL}, at TEXT NOT NULL, account TEXT NOT NULL, action TEXT NOT NULL,
            detail {JSON} NOT NULL)""",
    ],
    # 8: the member ledger (cloud/members.py): each store's member settings and card salt,
    # members, card keys (never a UID), every balance change, the blacklist
    [
        """CREATE TABLE member_store (
            store TEXT PRIMARY KEY, salt TEXT NOT NULL, settings {JSON} NOT NULL,
            blacklist_version {BIGINT} NOT NULL, updated_at TEXT NOT NULL)""",
        """CREATE TABLE member_account (
            store TEXT NOT NULL, id TEXT NOT NULL, grp TEXT NOT NULL, name TEXT,
            status TEXT NOT NULL, status_since TEXT, subsidy_expires TEXT,
            PRIMARY KEY (store, id))""",
        """CREATE TABLE member_card (
            store TEXT NOT NULL, card TEXT NOT NULL, member TEXT NOT NULL,
            PRIMARY KEY (store, card))""",
        """CREATE TABLE member_ledger (
            id {SERIAL}, store TEXT NOT NULL, member TEXT NOT NULL, wallet TEXT NOT NULL,
            delta TEXT NOT NULL, source TEXT NOT NULL, ref TEXT NOT NULL, at TEXT NOT NULL,
            by_whom TEXT NOT NULL, UNIQUE (store, source, ref, wallet))""",
        """CREATE TABLE member_blacklist (
            store TEXT NOT NULL, card TEXT NOT NULL, member TEXT NOT NULL, since TEXT NOT NULL,
            reason TEXT NOT NULL, PRIMARY KEY (store, card))""",
    ],
    # 9: API tokens for programs (an ERP), scoped like accounts, kept as their hash
    [
        """CREATE TABLE web_token (
            name TEXT PRIMARY KEY, role TEXT NOT NULL, scope TEXT, token_hash TEXT NOT NULL
            UNIQUE, created_at TEXT NOT NULL, revoked_at TEXT)""",
    ],
    # 10: the stock ledger (issue 17, docs/stock.md): documents head office records (goods
    # receipts, transfers, losses, counts, purchase orders), movements per store x sku --
    # each keyed once (a sale line by store/box/seq/line) and carrying the position after
    # it -- the derived position per item, item settings, and how far each box's journal
    # has been posted, and the stock conditions (low, negative, shrink) holding since when
    # (one alert per episode). Quantities are NUMERIC(18,3) (kg to the gram), costs NUMERIC(18,4).
    [
        """CREATE TABLE stock_document (
            id TEXT PRIMARY KEY, kind TEXT NOT NULL, store TEXT NOT NULL, other_store TEXT,
            reference TEXT, status TEXT NOT NULL, business_day TEXT NOT NULL,
            time TEXT NOT NULL, body {JSON} NOT NULL, created_by TEXT NOT NULL,
            created_at TEXT NOT NULL)""",
        """CREATE TABLE stock_movement (
            id {SERIAL}, key TEXT NOT NULL UNIQUE, store TEXT NOT NULL, sku TEXT NOT NULL,
            kind TEXT NOT NULL, quantity {QTY} NOT NULL, unit TEXT NOT NULL,
            unit_cost {COST} NOT NULL, value {MONEY} NOT NULL,
            on_hand_after {QTY} NOT NULL, avg_cost_after {COST} NOT NULL,
            business_day TEXT NOT NULL, time TEXT NOT NULL, document TEXT NOT NULL,
            box TEXT, seq {BIGINT}, line {BIGINT}, reason TEXT, actor TEXT NOT NULL,
            recorded_at TEXT NOT NULL)""",
        "CREATE INDEX stock_movement_item ON stock_movement (store, sku, id)",
        "CREATE INDEX stock_movement_day ON stock_movement (business_day)",
        "CREATE INDEX stock_movement_source ON stock_movement (store, box, seq)",
        """CREATE TABLE stock_position (
            store TEXT NOT NULL, sku TEXT NOT NULL, name TEXT NOT NULL, unit TEXT NOT NULL,
            on_hand {QTY} NOT NULL, avg_cost {COST} NOT NULL,
            last_movement {BIGINT} NOT NULL, updated_at TEXT NOT NULL,
            PRIMARY KEY (store, sku))""",
        """CREATE TABLE stock_item (
            store TEXT NOT NULL, sku TEXT NOT NULL, name TEXT, unit TEXT,
            min_level {QTY}, min_cover_days {BIGINT}, lead_days {BIGINT},
            order_days {BIGINT}, pack {QTY}, supplier TEXT,
            updated_by TEXT NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (store, sku))""",
        """CREATE TABLE stock_posting (
            store TEXT NOT NULL, box TEXT NOT NULL, posted_seq {BIGINT} NOT NULL,
            updated_at TEXT NOT NULL, PRIMARY KEY (store, box))""",
        """CREATE TABLE stock_condition (
            key_prefix TEXT PRIMARY KEY, since TEXT NOT NULL)""",
    ],
    # 11: zero-touch enrolment (cloud boxes). One row per box given its own broker
    # credentials (the password is never kept: the broker holds only its hash), and every
    # pairing code ever approved, so a code is spent once.
    [
        """CREATE TABLE enrolled_box (
            store TEXT NOT NULL, box TEXT NOT NULL, username TEXT NOT NULL,
            request_id TEXT NOT NULL, code TEXT NOT NULL, host TEXT,
            approved_at TEXT NOT NULL, revoked_at TEXT, PRIMARY KEY (store, box))""",
        """CREATE TABLE spent_code (
            code TEXT PRIMARY KEY, store TEXT NOT NULL, box TEXT NOT NULL,
            spent_at TEXT NOT NULL)""",
    ],
    # 12: accounts of enterprise canteens (issue 20, docs/members.md "Month close"): each
    # ledger line is booked in a month (`period`, YYYY-MM: its own, or the first open one
    # when its own is closed) with the box's business day and meal; members belong to
    # departments with a monthly subsidy budget; subsidy plans and the grants made of
    # them (once per plan and month); closed months with their frozen figures
    [
        "ALTER TABLE member_ledger ADD COLUMN period TEXT",
        "ALTER TABLE member_ledger ADD COLUMN day TEXT",
        "ALTER TABLE member_ledger ADD COLUMN meal TEXT",
        "UPDATE member_ledger SET period = substr(at, 1, 7), day = substr(at, 1, 10)",
        "CREATE INDEX member_ledger_period ON member_ledger (store, period)",
        "ALTER TABLE member_account ADD COLUMN department TEXT",
        """CREATE TABLE member_department (
            store TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL, budget {MONEY},
            offline_allowance {MONEY}, updated_by TEXT NOT NULL, updated_at TEXT NOT NULL,
            PRIMARY KEY (store, id))""",
        """CREATE TABLE member_grant_plan (
            store TEXT NOT NULL, id TEXT NOT NULL, grp TEXT NOT NULL, amount {MONEY} NOT NULL,
            mode TEXT NOT NULL, day {BIGINT} NOT NULL, created_by TEXT NOT NULL,
            created_at TEXT NOT NULL, PRIMARY KEY (store, id))""",
        """CREATE TABLE member_grant (
            store TEXT NOT NULL, id TEXT NOT NULL, period TEXT NOT NULL, grp TEXT NOT NULL,
            amount {MONEY} NOT NULL, mode TEXT NOT NULL, expires TEXT NOT NULL,
            members {BIGINT} NOT NULL, granted {MONEY} NOT NULL, forfeited {MONEY} NOT NULL,
            by_whom TEXT NOT NULL, at TEXT NOT NULL, PRIMARY KEY (store, id, period))""",
        """CREATE TABLE month_close (
            store TEXT NOT NULL, period TEXT NOT NULL, closed_at TEXT NOT NULL,
            closed_by TEXT NOT NULL, figures {JSON} NOT NULL, digest TEXT NOT NULL,
            PRIMARY KEY (store, period))""",
    ],
    # 13: wallet providers' settlement statements (cloud payments import), one row per payment
    # or refund line; imported again, a line is kept once (issue 16, item 6)
    [
        """CREATE TABLE settlement_line (
            provider TEXT NOT NULL, store TEXT NOT NULL, business_day TEXT NOT NULL,
            kind TEXT NOT NULL, transaction_id TEXT NOT NULL, out_trade_no TEXT NOT NULL,
            refund_no TEXT NOT NULL, amount {MONEY} NOT NULL, source TEXT NOT NULL,
            imported_at TEXT NOT NULL,
            PRIMARY KEY (provider, store, kind, out_trade_no, refund_no))""",
        "CREATE INDEX settlement_line_day ON settlement_line (store, business_day)",
    ],
    # 14: central staff (cloud/staff.py, docs/lane.md "Central staff"): head office's
    # cashiers and supervisors, each valid in every store of one store group; a PIN only
    # as its salt and salted hash (gateway.lane.pins), the PIN itself never kept. Every
    # change is a `web_audit` line naming who made it.
    [
        """CREATE TABLE staff_person (
            id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, grp TEXT NOT NULL,
            card TEXT UNIQUE, pin_salt TEXT, pin_hash TEXT, ceiling TEXT,
            active {BOOL} NOT NULL, updated_by TEXT NOT NULL, updated_at TEXT NOT NULL)""",
        "CREATE INDEX staff_person_group ON staff_person (grp)",
    ],
    # 15: the sales summary ingest keeps as it stores records (cloud/sales_summary.py), so
    # the web pages read a day's figures without parsing its bodies (issue 18 item 9);
    # filled from the records already stored
    [
        """CREATE TABLE sales_summary (
            business_day TEXT NOT NULL, store TEXT NOT NULL, hour TEXT NOT NULL,
            cashier TEXT NOT NULL, tickets {BIGINT} NOT NULL, items {QTY} NOT NULL,
            sales {MONEY} NOT NULL, refund_count {BIGINT} NOT NULL, refunds {MONEY} NOT NULL,
            voids {BIGINT} NOT NULL, voided {MONEY} NOT NULL, no_sales {BIGINT} NOT NULL,
            PRIMARY KEY (business_day, store, hour, cashier))""",
        _rebuild_sales_summary,
    ],
    # 16: campaigns (issue 21 item 4, cloud/campaigns.py): a personal coupon offered to a
    # store's members, each drawn into the treated group or the hold-out (recorded with the
    # seed of the draw), published in the members document
    [
        """CREATE TABLE campaign (
            id TEXT PRIMARY KEY, store TEXT NOT NULL, name TEXT NOT NULL,
            coupon TEXT NOT NULL, audience TEXT NOT NULL, holdout TEXT NOT NULL,
            seed {BIGINT} NOT NULL, starts TEXT NOT NULL, ends TEXT NOT NULL,
            created_by TEXT NOT NULL, created_at TEXT NOT NULL, published_at TEXT)""",
        """CREATE TABLE campaign_member (
            campaign TEXT NOT NULL, member TEXT NOT NULL, holdout {BOOL} NOT NULL,
            PRIMARY KEY (campaign, member))""",
    ],
    # 17: accounts managed in the page (cloud/web/accounts_page.py, issue 18 item 2): an
    # account an admin disabled keeps its row (and audit trail) but cannot sign in
    [
        "ALTER TABLE web_account ADD COLUMN disabled_at TEXT",
    ],
]

LATEST = len(MIGRATIONS)


def _spell(db: Database, statement: str) -> str:
    words = dict(TYPES[db.dialect], GENESIS="0" * 64)
    for word, spelling in words.items():
        statement = statement.replace("{" + word + "}", spelling)
    return statement


def current_version(db: Database) -> int:
    """The schema version in the database (0 for an empty one)."""
    if db.dialect == "sqlite":
        exists = db.one("SELECT 1 FROM sqlite_master WHERE name = 'schema_version'")
    else:
        exists = db.one(
            "SELECT 1 FROM information_schema.tables "
            "WHERE table_name = 'schema_version' AND table_schema = current_schema()"
        )
    if exists is None:
        return 0
    row = db.one("SELECT max(version) FROM schema_version")
    return int(row[0]) if row and row[0] is not None else 0


def upgrade(db: Database) -> list[int]:
    """Apply every migration not yet applied, each in its own transaction; return them."""
    applied: list[int] = []
    with db.transaction():
        db.execute(
            "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
            "applied_at TEXT NOT NULL)"
        )
    if db.dialect == "postgresql":
        # One upgrader at a time, even when several workers start together.
        db.execute("SELECT pg_advisory_lock(7150001)")
    try:
        for number in range(current_version(db) + 1, LATEST + 1):
            with db.transaction():
                for statement in MIGRATIONS[number - 1]:
                    if callable(statement):
                        statement(db)
                    else:
                        db.execute(_spell(db, statement))
                db.execute(
                    "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                    (number, _now()),
                )
            applied.append(number)
    finally:
        if db.dialect == "postgresql":
            db.execute("SELECT pg_advisory_unlock(7150001)")
            db.conn.commit()
    return applied


def require_current(db: Database) -> None:
    """Refuse to run on a database `cloud db upgrade` has not brought up to date."""
    found = current_version(db)
    if found != LATEST:
        raise CloudDatabaseError(
            f"database schema is at version {found}, this head office needs {LATEST}",
            where=db.url.redacted(),
            fix="run `cloud db upgrade --db URL` (with a newer storegate if the database is ahead)",
        )


def open_current(url: str) -> Database:
    """The head-office database at `url`, refused (and closed) unless it is at the
    schema this head office needs: what every `cloud` command opens."""
    db = Database.open(url)
    try:
        require_current(db)
    except BaseException:
        db.close()
        raise
    return db


def _now() -> str:
    from cloud.clock import utc_now_iso

    return utc_now_iso()
