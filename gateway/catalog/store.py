"""The catalog in force, kept in the box's SQLite file.

The whole validated document is stored (so a restart or a head-office audit sees exactly
what priced a sale), plus a code -> sku index (`catalog_code`, a primary key: one B-tree
probe per scan) for look-ups that do not need the document in memory. A new document
replaces the old one in a single transaction: a failure leaves the old one in force.
Writes go through the connection the caller owns (the daemon's single writer).
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime

import sqlite_utils

from gateway.barcodes import lookup_key_for_code, plu_key
from gateway.catalog.catalog import Catalog, build_catalog
from gateway.catalog.document import CatalogDocument, CatalogError, loads, parse_document

# The catalog's rows, written inside the caller's transaction.
CatalogWrite = Callable[[sqlite3.Connection], None]


class CatalogStore:
    def __init__(self, db: sqlite_utils.Database) -> None:
        self.conn = db.conn

    def version(self) -> int | None:
        row = self.conn.execute("SELECT version FROM catalog_document WHERE id = 1").fetchone()
        return None if row is None else int(row[0])

    def apply_text(
        self,
        text: str,
        source: str,
        *,
        allow_same_or_older: bool = False,
        now: datetime | None = None,
    ) -> Catalog:
        """Validate a document's JSON text and make it the catalog in force."""
        doc = parse_document(loads(text, source), source)
        return self.apply(doc, text, source, allow_same_or_older=allow_same_or_older, now=now)

    def intend_text(
        self, text: str, source: str, *, allow_same_or_older: bool = False
    ) -> tuple[Catalog, CatalogWrite]:
        """`intend` for a document's JSON text, validated first."""
        doc = parse_document(loads(text, source), source)
        return self.intend(doc, text, source, allow_same_or_older=allow_same_or_older)

    def apply(
        self,
        doc: CatalogDocument,
        text: str,
        source: str,
        *,
        allow_same_or_older: bool = False,
        now: datetime | None = None,
    ) -> Catalog:
        """Make `doc` the catalog in force, in one transaction of its own."""
        catalog, write = self.intend(
            doc, text, source, allow_same_or_older=allow_same_or_older, now=now
        )
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            write(conn)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return catalog

    def intend(
        self,
        doc: CatalogDocument,
        text: str,
        source: str,
        *,
        allow_same_or_older: bool = False,
        now: datetime | None = None,
    ) -> tuple[Catalog, CatalogWrite]:
        """The catalog `doc` builds, checked against the one in force, and the write that
        puts it in force — run by the caller inside the transaction it commits with (a
        load's journal record, so the catalog and the record of who loaded it commit
        together). Nothing is written here."""
        current = self.version()
        if current is not None and doc.version <= current and not allow_same_or_older:
            raise CatalogError(
                source,
                [
                    f"version {doc.version} is not newer than the catalog in force "
                    f"(version {current}); head office must bump the version"
                ],
            )
        catalog = build_catalog(doc)
        applied = (now or datetime.now(UTC)).isoformat()
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        codes = [(key, sku) for key, sku in catalog.codes.items() if not key.startswith("SKU:")]
        issued = doc.issued_at.isoformat() if doc.issued_at else None

        def write(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM catalog_code")
            conn.execute("DELETE FROM catalog_product")
            conn.executemany(
                "INSERT INTO catalog_product (sku, name, category, price) VALUES (?, ?, ?, ?)",
                ((p.sku, p.name, p.category, str(p.price)) for p in doc.products),
            )
            conn.executemany("INSERT INTO catalog_code (code, sku) VALUES (?, ?)", codes)
            conn.execute(
                "INSERT OR REPLACE INTO catalog_document "
                "(id, version, issued_at, sha256, applied_at, body) VALUES (1, ?, ?, ?, ?, ?)",
                (doc.version, issued, digest, applied, text),
            )

        return catalog, write

    def load(self) -> Catalog | None:
        """The catalog in force, or None on a box that has never received one."""
        row = self.conn.execute("SELECT body FROM catalog_document WHERE id = 1").fetchone()
        if row is None:
            return None
        return build_catalog(
            parse_document(loads(row[0], "catalog in the database"), "catalog in the database")
        )

    def sku_for_code(self, code: str) -> str | None:
        """Index look-up of a catalog key (see gateway.barcodes.lookup_key_for_code)."""
        row = self.conn.execute("SELECT sku FROM catalog_code WHERE code = ?", (code,)).fetchone()
        return None if row is None else str(row[0])

    def sku_for_barcode(self, barcode: str) -> str | None:
        return self.sku_for_code(lookup_key_for_code(barcode))

    def sku_for_plu(self, plu: str) -> str | None:
        return self.sku_for_code(plu_key(plu))
