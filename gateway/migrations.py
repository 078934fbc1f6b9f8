"""Every schema change of the box's SQLite file, in order, in one place.

`PRAGMA user_version` holds the number of the last migration applied. A migration is
append-only: never edit one that has shipped, add the next number instead. Rooms own
their tables but declare them here so a reader sees the whole file's shape at once.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    sql: str


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "catalog in force: products, barcodes, PLUs, and the whole document",
        """
        CREATE TABLE catalog_document (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            version INTEGER NOT NULL,
            issued_at TEXT,
            sha256 TEXT NOT NULL,
            applied_at TEXT NOT NULL,
            body TEXT NOT NULL
        );
        CREATE TABLE catalog_product (
            sku TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            category TEXT NOT NULL,
            price TEXT NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE catalog_code (
            code TEXT PRIMARY KEY,
            sku TEXT NOT NULL REFERENCES catalog_product(sku)
        ) WITHOUT ROWID;
        """,
    ),
    Migration(
        2,
        "journal: hash-chained records (the sync outbox) and its head/ack/prune anchors",
        """
        CREATE TABLE journal_record (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            time TEXT NOT NULL,
            clock_synced INTEGER NOT NULL,
            kind TEXT NOT NULL,
            body TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL
        );
        CREATE TABLE journal_state (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            head_seq INTEGER NOT NULL,
            head_hash TEXT NOT NULL,
            acknowledged_seq INTEGER NOT NULL,
            acknowledged_hash TEXT NOT NULL,
            anchor_seq INTEGER NOT NULL,
            anchor_hash TEXT NOT NULL
        );
        INSERT INTO journal_state VALUES (1, 0, '{g}', 0, '{g}', 0, '{g}');
        CREATE TRIGGER journal_record_never_updated BEFORE UPDATE ON journal_record
        BEGIN
            SELECT RAISE(ABORT, 'journal records are never updated');
        END;
        CREATE TRIGGER journal_record_deleted_only_acknowledged BEFORE DELETE ON journal_record
        WHEN OLD.seq > (SELECT acknowledged_seq FROM journal_state)
        BEGIN
            SELECT RAISE(ABORT, 'journal records are deleted only once acknowledged');
        END;
        """.replace("{g}", "0" * 64),
    ),
    Migration(
        3,
        "lane: staff (PIN hashes, TOTP), shifts, suspended sales, counters, record index",
        """
        CREATE TABLE lane_staff (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            role TEXT NOT NULL,
            card TEXT UNIQUE,
            pin_salt BLOB,
            pin_hash BLOB,
            totp_secret TEXT,
            ceiling TEXT,
            failed_pins INTEGER NOT NULL DEFAULT 0,
            locked_until TEXT,
            active INTEGER NOT NULL DEFAULT 1
        ) WITHOUT ROWID;
        CREATE TABLE lane_shift (
            shift_id TEXT PRIMARY KEY,
            staff_id TEXT NOT NULL,
            method TEXT NOT NULL,
            opened_at TEXT NOT NULL,
            business_day TEXT NOT NULL,
            opening_float TEXT NOT NULL,
            closed INTEGER NOT NULL DEFAULT 0
        ) WITHOUT ROWID;
        CREATE TABLE lane_suspended (
            id TEXT PRIMARY KEY,
            shift_id TEXT NOT NULL,
            suspended_at TEXT NOT NULL,
            body TEXT NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE lane_counter (
            name TEXT PRIMARY KEY,
            value INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE lane_doc (
            seq INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            business_day TEXT NOT NULL,
            shift_id TEXT,
            receipt_id TEXT
        );
        CREATE INDEX lane_doc_day ON lane_doc (business_day, kind);
        CREATE INDEX lane_doc_shift ON lane_doc (shift_id);
        CREATE UNIQUE INDEX lane_doc_receipt ON lane_doc (receipt_id) WHERE receipt_id IS NOT NULL;
        CREATE TABLE lane_refunded (
            receipt_id TEXT NOT NULL,
            line_index INTEGER NOT NULL,
            quantity TEXT NOT NULL,
            refund_seq INTEGER NOT NULL
        );
        CREATE INDEX lane_refunded_receipt ON lane_refunded (receipt_id);
        """,
    ),
    Migration(
        4,
        "members: document in force, members, cards, wallets, blacklist, own balance changes",
        """
        CREATE TABLE member_document (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            version INTEGER NOT NULL,
            issued_at TEXT,
            sha256 TEXT NOT NULL,
            applied_at TEXT NOT NULL,
            body TEXT NOT NULL
        );
        CREATE TABLE member (
            member_id TEXT PRIMARY KEY,
            group_id TEXT NOT NULL,
            name TEXT,
            status TEXT NOT NULL,
            status_since TEXT,
            subsidy_expires TEXT
        ) WITHOUT ROWID;
        CREATE TABLE member_card (
            card_key TEXT PRIMARY KEY,
            member_id TEXT NOT NULL REFERENCES member(member_id)
        ) WITHOUT ROWID;
        CREATE TABLE member_wallet (
            member_id TEXT NOT NULL REFERENCES member(member_id),
            wallet TEXT NOT NULL,
            balance TEXT NOT NULL,
            PRIMARY KEY (member_id, wallet)
        ) WITHOUT ROWID;
        CREATE TABLE member_blacklist (
            card_key TEXT PRIMARY KEY,
            since TEXT,
            reason TEXT NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE member_blacklist_state (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            version INTEGER NOT NULL
        );
        INSERT INTO member_blacklist_state VALUES (1, 0);
        CREATE TABLE member_change (
            change_id TEXT PRIMARY KEY,
            journal_seq INTEGER NOT NULL,
            member_id TEXT NOT NULL,
            wallet TEXT NOT NULL,
            delta TEXT NOT NULL,
            reason TEXT NOT NULL,
            sale_id TEXT NOT NULL,
            local_day TEXT NOT NULL,
            meal TEXT,
            offline INTEGER NOT NULL,
            confirmed_in INTEGER
        ) WITHOUT ROWID;
        CREATE INDEX member_change_pending ON member_change (member_id, confirmed_in);
        CREATE INDEX member_change_day ON member_change (member_id, local_day);
        CREATE INDEX member_change_seq ON member_change (journal_seq);
        """,
    ),
    Migration(
        5,
        "lane: a compact digest of each lane record's report figures, written with the record",
        """
        ALTER TABLE lane_doc ADD COLUMN digest TEXT;
        """,
    ),
    Migration(
        6,
        "staff: where the counted wrong PINs came from, the last TOTP time step accepted",
        """
        ALTER TABLE lane_staff ADD COLUMN failed_source TEXT;
        ALTER TABLE lane_staff ADD COLUMN totp_last_step INTEGER;
        """,
    ),
    Migration(
        7,
        "stock: the purchase orders head office pushed, to receive against (gateway.stock)",
        """
        CREATE TABLE stock_order (
            id TEXT PRIMARY KEY,
            version INTEGER NOT NULL,
            body TEXT NOT NULL,
            applied_at TEXT NOT NULL
        ) WITHOUT ROWID;
        """,
    ),
    Migration(
        8,
        "staff: where each person comes from (the box, or head office's staff document)",
        """
        ALTER TABLE lane_staff ADD COLUMN origin TEXT NOT NULL DEFAULT 'local';
        ALTER TABLE lane_staff ADD COLUMN central_digest TEXT;
        """,
    ),
    Migration(
        9,
        "members: personal coupons of campaigns, and the ones this box saw redeemed",
        """
        CREATE TABLE member_coupon (
            member_id TEXT NOT NULL,
            campaign TEXT NOT NULL,
            code TEXT NOT NULL,
            until TEXT,
            PRIMARY KEY (member_id, campaign)
        ) WITHOUT ROWID;
        CREATE TABLE member_coupon_use (
            member_id TEXT NOT NULL,
            campaign TEXT NOT NULL,
            code TEXT NOT NULL,
            sale_id TEXT NOT NULL,
            local_day TEXT NOT NULL,
            PRIMARY KEY (member_id, campaign)
        ) WITHOUT ROWID;
        """,
    ),
    Migration(
        10,
        "lane: units members took of promotions with a limit per member (限购), per sale/refund",
        """
        CREATE TABLE lane_member_units (
            member_id TEXT NOT NULL,
            promotion TEXT NOT NULL,
            record_id TEXT NOT NULL,
            sale_time TEXT NOT NULL,
            units INTEGER NOT NULL,
            PRIMARY KEY (member_id, promotion, record_id)
        ) WITHOUT ROWID;
        """,
    ),
)

LATEST_VERSION = MIGRATIONS[-1].version
