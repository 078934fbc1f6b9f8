"""`gateway catalog`: check a catalog document, load it into the box, show what is in force.

Head office normally pushes catalogs over MQTT; these commands serve the technician who
prepares a box by hand or checks a file before publishing it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from gateway.catalog.document import json_schema, read_document
from gateway.catalog.store import CatalogStore
from gateway.commands.prompts import read_pin
from gateway.daemon.box_actions import journal_catalog_load
from gateway.daemon.lock import ask_owner, owner_refused, writer_of
from gateway.database import open_database
from gateway.journal import Journal
from gateway.lane.staff import StaffDirectory
from gateway.settings import load_settings


def register(sub: Any) -> None:
    catalog = sub.add_parser("catalog", help="check, load and show catalog documents")
    actions = catalog.add_subparsers(dest="catalog_command", metavar="ACTION", required=True)
    check = actions.add_parser("check", help="validate a catalog document and list every problem")
    check.add_argument("file", metavar="FILE", help="catalog document (JSON)")
    check.set_defaults(func=_check)
    load = actions.add_parser("load", help="make a catalog document the one in force on this box")
    load.add_argument("file", metavar="FILE", help="catalog document (JSON)")
    _db_options(load)
    load.add_argument(
        "--force",
        action="store_true",
        help="accept a version that is not newer than the one in force",
    )
    load.add_argument(
        "--by",
        metavar="STAFF_ID",
        help="running box: the admin or technician loading it (the PIN is asked)",
    )
    load.add_argument("--totp", metavar="CODE", help="running box: their authenticator code")
    load.add_argument("--pin-stdin", action="store_true", help="read the PIN from stdin")
    load.set_defaults(func=_load)
    show = actions.add_parser("show", help="the catalog in force on this box")
    _db_options(show)
    show.set_defaults(func=_show)
    schema = actions.add_parser("schema", help="print the catalog document's JSON Schema")
    schema.set_defaults(func=_schema)


def _db_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="PATH", help="settings file")
    parser.add_argument("--db", metavar="PATH", help="box database (default from settings)")


def _database(args: argparse.Namespace) -> Path:
    return Path(args.db) if args.db else load_settings(args.config).paths.database


def _check(args: argparse.Namespace) -> int:
    doc = read_document(args.file)
    print(
        f"{args.file}: catalog version {doc.version} OK — {len(doc.products)} products, "
        f"{len(doc.promotions)} promotions, {len(doc.tax_classes)} tax classes, "
        f"currency {doc.money.currency}"
    )
    return 0


def _load(args: argparse.Namespace) -> int:
    """Through the running daemon when it owns the database (the one writer, and the lane
    then prices with the new catalog at once; it asks who loads it and journals the load),
    else into the file directly (whoever may write the file)."""
    text = Path(args.file).read_text(encoding="utf-8")
    settings = load_settings(args.config)
    database, socket_path = writer_of(settings, args.db)
    if socket_path is not None:
        request = {"command": "catalog_load", "text": text, "source": args.file}
        request |= {"force": args.force, "by": args.by, "totp": args.totp}
        if args.by:
            request["by_pin"] = read_pin(args.pin_stdin, "PIN: ")
        answer = ask_owner(socket_path, {k: v for k, v in request.items() if v is not None})
        if not answer.get("ok"):
            return owner_refused(answer, "catalog load")
        version, products = answer["version"], answer["products"]
    else:
        # A stopped box: whoever may write its file loads the catalog, journalled as the
        # daemon would (`via: file`, no approver asked) in the same transaction.
        db = open_database(database)
        catalog = journal_catalog_load(
            Journal(db),
            CatalogStore(db),
            text,
            args.file,
            force=args.force,
            who=None,
            stage=StaffDirectory(db, settings.lane).bootstrap(),
            via="file",
        )
        version, products = catalog.version, len(catalog.products)
    print(f"catalog version {version} in force: {products} products")
    return 0


def _show(args: argparse.Namespace) -> int:
    store = CatalogStore(open_database(_database(args), readonly=True))
    catalog = store.load()
    if catalog is None:
        print("no catalog in force (load one with `gateway catalog load FILE`)")
        return 1
    doc = catalog.document
    print(
        f"version {doc.version} issued {doc.issued_at or '-'}: {len(doc.products)} products, "
        f"{len(doc.promotions)} promotions, currency {doc.money.currency}"
    )
    return 0


def _schema(args: argparse.Namespace) -> int:
    print(json.dumps(json_schema(), indent=2, ensure_ascii=False))
    return 0
