"""The `cloud` sub-commands: argument parsing only; each room does the work.

Owns the command-line surface of head office (documented in docs/cloud.md). Every
command takes `--db URL` (default `$STOREGATE_CLOUD_DB` or `sqlite:///cloud.db`) and, when
it talks MQTT, the broker options. Must not hold logic beyond turning arguments into calls.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
from typing import Any

from cloud.db import DEFAULT_URL, Database
from cloud.ingest import DEFAULT_ROOT, PROTOCOLS, BrokerOptions, IngestConfig, IngestWorker
from cloud.schema import LATEST, current_version, upgrade
from cloud.settings import config_arg, load_cloud_settings


def _db_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        default=os.environ.get("STOREGATE_CLOUD_DB", DEFAULT_URL),
        help="sqlite:///PATH (default) or postgresql://USER@HOST/NAME",
    )


def _broker_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host",
        default=os.environ.get("STOREGATE_MQTT_HOST", "127.0.0.1"),
        help="broker host (or $STOREGATE_MQTT_HOST)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("STOREGATE_MQTT_PORT", "1883")),
        help="broker port (or $STOREGATE_MQTT_PORT; 8883 for TLS)",
    )
    parser.add_argument("--root", default=DEFAULT_ROOT, help="topic root (mqtt.root_topic)")
    parser.add_argument(
        "--username",
        default=os.environ.get("STOREGATE_MQTT_USERNAME"),
        help="broker user (or $STOREGATE_MQTT_USERNAME)",
    )
    parser.add_argument(
        "--password",
        default=os.environ.get("STOREGATE_MQTT_PASSWORD"),
        help="or $STOREGATE_MQTT_PASSWORD (keeps it out of `ps`)",
    )
    parser.add_argument("--ca-file", help="PEM CA that signed the broker's certificate (TLS)")
    parser.add_argument("--cert-file", help="PEM client certificate (TLS)")
    parser.add_argument("--key-file", help="PEM private key of --cert-file")


def broker_options(args: argparse.Namespace) -> BrokerOptions:
    return BrokerOptions(
        host=args.host,
        port=args.port,
        username=args.username,
        password=args.password,
        ca_file=args.ca_file,
        cert_file=args.cert_file,
        key_file=args.key_file,
    )


def register(sub: Any) -> None:
    from cloud import (
        accounts_cli,
        alerts_cli,
        backups_cli,
        boxes_cli,
        campaigns_cli,
        chain_cli,
        coupons_cli,
        fleet_cli,
        logs_cli,
        members_cli,
        payments_cli,
        publish_cli,
        recommend_cli,
        reports_cli,
        staff_cli,
        stock_cli,
        stores_cli,
        updates_cli,
    )
    from cloud.web import cli as web_cli

    _register_db(sub)
    _register_ingest(sub)
    rooms = [fleet_cli, publish_cli, updates_cli, stores_cli, members_cli, alerts_cli]
    rooms += [chain_cli, reports_cli, recommend_cli, campaigns_cli, coupons_cli]
    for room in (
        boxes_cli,
        logs_cli,
        backups_cli,
        *rooms,
        accounts_cli,
        payments_cli,
        staff_cli,
        stock_cli,
        web_cli,
    ):
        room.register(sub, _db_arg, _broker_args)
    _register_broker(sub)


# ---------------------------------------------------------------- db


def _register_db(sub: Any) -> None:
    db = sub.add_parser("db", help="create and migrate the head-office database")
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION")
    up = db_sub.add_parser("upgrade", help="create or migrate the schema to the latest")
    _db_arg(up)
    up.set_defaults(func=_db_upgrade)
    status = db_sub.add_parser("status", help="print the schema version")
    _db_arg(status)
    status.set_defaults(func=_db_status)


def _db_upgrade(args: argparse.Namespace) -> int:
    db = Database.open(args.db)
    try:
        applied = upgrade(db)
    finally:
        db.close()
    where = db.url.redacted()
    if applied:
        print(
            f"{where}: applied migration(s) {', '.join(map(str, applied))}; "
            f"schema at version {LATEST}"
        )
    else:
        print(f"{where}: schema already at version {LATEST}")
    return 0


def _db_status(args: argparse.Namespace) -> int:
    db = Database.open(args.db)
    try:
        found = current_version(db)
    finally:
        db.close()
    print(f"{db.url.redacted()}: schema version {found} (latest {LATEST})")
    return 0 if found == LATEST else 1


# ---------------------------------------------------------------- ingest


def _register_ingest(sub: Any) -> None:
    ingest = sub.add_parser("ingest", help="store what boxes send (run one or more workers)")
    _db_arg(ingest)
    _broker_args(ingest)
    ingest.add_argument(
        "--group",
        default="ingest",
        help="shared-subscription group: workers with the same group split "
        "the stream ('' subscribes without sharing)",
    )
    ingest.add_argument(
        "--client-id", default="", help="unique per worker (default cloud-ingest-HOSTNAME-PID)"
    )
    ingest.add_argument(
        "--receive-maximum",
        type=int,
        default=64,
        help="un-acknowledged messages the broker may hand this worker",
    )
    ingest.add_argument(
        "--session-expiry",
        type=int,
        default=0,
        help="seconds the broker keeps this worker's session after a drop "
        "(0: a clean session each time; above 0 the worker resumes its "
        "session, and the broker re-sends what it had not acknowledged)",
    )
    ingest.add_argument(
        "--protocol",
        choices=PROTOCOLS,
        default="auto",
        help="MQTT version (as the box's mqtt.protocol): auto tries 5 and "
        "falls back to 3.1.1 when the broker does not speak it; over 3.1.1 "
        "there are no shared subscriptions, so run ONE worker only",
    )
    ingest.add_argument(
        "--stock-post-interval",
        type=float,
        default=60.0,
        help="seconds between posting new sales and refunds to the stock ledger "
        "(docs/stock.md; 0: never, run `cloud stock post` instead)",
    )
    ingest.add_argument(
        "--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR (default INFO)"
    )
    config_arg(ingest)
    ingest.set_defaults(func=_ingest)


def _ingest(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    config = IngestConfig(
        db_url=args.db,
        broker=broker_options(args),
        root=args.root,
        group=args.group,
        thresholds=load_cloud_settings(args.config).alerts,
        client_id=args.client_id or f"cloud-ingest-{os.uname().nodename}-{os.getpid()}",
        receive_maximum=args.receive_maximum,
        session_expiry=args.session_expiry,
        protocol=args.protocol,
        stock_post_interval=args.stock_post_interval,
    )
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    worker = IngestWorker(config)
    worker.run(stop)
    c = worker.counters
    logging.getLogger("cloud.ingest").info(
        "stopped: %d messages, %d records stored, %d duplicates, %d database retries",
        c.messages,
        c.records_stored,
        c.duplicates,
        c.database_retries,
    )
    return 0


# ---------------------------------------------------------------- broker


def _register_broker(sub: Any) -> None:
    broker = sub.add_parser("broker", help="broker set-up helpers")
    broker_sub = broker.add_subparsers(dest="broker_command", metavar="ACTION")
    acl = broker_sub.add_parser(
        "acl", help="print the broker access file (Mosquitto dynamic-security JSON) for these boxes"
    )
    acl.add_argument(
        "--box",
        action="append",
        default=[],
        metavar="STORE/BOX",
        help="a box identity (its certificate CN); repeat for each box",
    )
    acl.add_argument("--root", default=DEFAULT_ROOT, help="topic root (mqtt.root_topic)")
    acl.add_argument(
        "--office-user",
        default="storegate-office",
        help="head office's broker user (default storegate-office)",
    )
    acl.add_argument(
        "--admin-user",
        default="storegate-admin",
        help="head office's enrolment service, the only one granted $CONTROL "
        "(`cloud boxes`; default storegate-admin)",
    )
    acl.add_argument(
        "--enrol",
        action="store_true",
        help="also the shared enrolment identity, password from $STOREGATE_ENROL_PASSWORD",
    )
    acl.add_argument(
        "--enrol-user", default="storegate-enrol", help="its name (default storegate-enrol)"
    )
    acl.set_defaults(func=_broker_acl)


def _broker_acl(args: argparse.Namespace) -> int:
    from cloud.broker import acl_text
    from gateway.errors import UsageError

    password = None
    if args.enrol:
        password = os.environ.get("STOREGATE_ENROL_PASSWORD")
        if not password:
            raise UsageError(
                "--enrol needs the enrolment password",
                where="cloud broker acl --enrol",
                fix="set $STOREGATE_ENROL_PASSWORD (the [enrol] password of the box image)",
            )
    text = acl_text(
        args.root,
        args.box,
        args.office_user,
        admin_user=args.admin_user,
        enrol_user=args.enrol_user,
        enrol_password=password,
    )
    print(text, end="")
    return 0
