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
            body TEXT NOT NULL
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
)

LATEST_VERSION = MIGRATIONS[-1].version
