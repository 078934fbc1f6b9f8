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
)

LATEST_VERSION = MIGRATIONS[-1].version
