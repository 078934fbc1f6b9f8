"""`cloud web serve`, `cloud web user add|totp|list|disable|enable|unlock`, `cloud web key
generate|check` and `cloud web token add|list|revoke`: argument handling only."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cloud.clock import system_clock, utc_now_iso
from cloud.db import Database
from cloud.schema import require_current
from cloud.settings import config_arg, load_cloud_settings
from cloud.web.totp_key import KeyFile
from gateway.errors import UsageError

ArgAdder = Callable[[argparse.ArgumentParser], None]


def register(sub: Any, db_arg: ArgAdder, broker_args: ArgAdder) -> None:
    web = sub.add_parser(
        "web",
        help="head office in the browser: serve it, manage its accounts",
        description="Head office in the browser: the dashboard, each store's drill-down, "
        "open alerts, the audit log; accounts with a role (admin, regional, store, auditor).",
    )
    web_sub = web.add_subparsers(dest="web_command", metavar="ACTION", required=True)
    serve = web_sub.add_parser("serve", help="serve the pages (uvicorn)")
    db_arg(serve)
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8090, help="port (default 8090)")
    serve.add_argument("--tls-cert", type=Path, help="certificate (PEM): serve HTTPS")
    serve.add_argument("--tls-key", type=Path, help="its private key (PEM)")
    config_arg(serve)
    _publishing_args(serve)
    serve.set_defaults(func=_serve)
    user = web_sub.add_parser("user", help="web accounts")
    user_sub = user.add_subparsers(dest="user_command", metavar="ACTION", required=True)
    add = user_sub.add_parser("add", help="create or change an account (password asked)")
    db_arg(add)
    add.add_argument("name", help="the account's sign-in name")
    add.add_argument("--role", required=True, help="admin, regional, store or auditor")
    add.add_argument("--scope", help="regional: a store group; store: a store id")
    add.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    add.add_argument("--by", default=getpass.getuser(), help="who (audited; default: this user)")
    add.set_defaults(func=_user_add)
    ulist = user_sub.add_parser("list", help="every account: role, scope, TOTP, state")
    db_arg(ulist)
    ulist.set_defaults(func=_user_list)
    for action, text in (
        ("disable", "stop an account signing in (its sessions end; never the last admin)"),
        ("enable", "let a disabled account sign in again"),
        ("unlock", "end a lockout after too many wrong passwords"),
    ):
        one = user_sub.add_parser(action, help=text)
        db_arg(one)
        one.add_argument("name", help="the account")
        one.add_argument(
            "--by", default=getpass.getuser(), help="who (audited; default: this user)"
        )
        one.set_defaults(func=_user_change, action=action)
    totp = user_sub.add_parser("totp", help="enrol an authenticator (prints its URI)")
    db_arg(totp)
    totp.add_argument("name", help="the account")
    totp.add_argument("--by", default=getpass.getuser(), help="who (audited; default: this user)")
    config_arg(totp)
    totp.set_defaults(func=_user_totp)
    key = web_sub.add_parser(
        "key",
        help="the key that seals the accounts' TOTP seeds",
        description="The TOTP key ([web] totp_key in head office's settings) seals every web "
        "account's TOTP seed in the database; it is kept outside the database and its backups.",
    )
    key_sub = key.add_subparsers(dest="key_command", metavar="ACTION", required=True)
    kgen = key_sub.add_parser(
        "generate", help="write a new key file (0600; never over an existing one)"
    )
    config_arg(kgen)
    kgen.set_defaults(func=_key_generate)
    kcheck = key_sub.add_parser(
        "check",
        help="seal seeds still in the clear, then check the key opens every seed",
    )
    db_arg(kcheck)
    config_arg(kcheck)
    kcheck.set_defaults(func=_key_check)
    token = web_sub.add_parser("token", help="API tokens for programs (an ERP)")
    token_sub = token.add_subparsers(dest="token_command", metavar="ACTION", required=True)
    tadd = token_sub.add_parser("add", help="a new token, shown once")
    db_arg(tadd)
    tadd.add_argument("name", help="what uses it, e.g. erp")
    tadd.add_argument("--role", required=True, help="admin, regional, store or auditor")
    tadd.add_argument("--scope", help="regional: a store group; store: a store id")
    tadd.add_argument("--by", default=getpass.getuser(), help="who (audited; default: this user)")
    tadd.set_defaults(func=_token_add)
    tlist = token_sub.add_parser("list", help="every token (never the token itself)")
    db_arg(tlist)
    tlist.set_defaults(func=_token_list)
    trev = token_sub.add_parser("revoke", help="stop a token at once")
    db_arg(trev)
    trev.add_argument("name", help="the token's name")
    trev.add_argument("--by", default=getpass.getuser(), help="who (audited; default: this user)")
    trev.set_defaults(func=_token_revoke)


def _publishing_args(parser: argparse.ArgumentParser) -> None:
    """What `/publish` signs with and sends to: the key and broker `cloud publish` takes
    (the same variables; `--mqtt-` in front where `serve` has its own --host/--port)."""
    import os

    from cloud.ingest import DEFAULT_ROOT
    from cloud.publish_cli import key_args

    key_args(parser)
    env = os.environ.get
    parser.add_argument(
        "--mqtt-host",
        default=env("STOREGATE_MQTT_HOST", "127.0.0.1"),
        help="broker host for publishing (or $STOREGATE_MQTT_HOST)",
    )
    parser.add_argument(
        "--mqtt-port",
        type=int,
        default=int(env("STOREGATE_MQTT_PORT", "1883")),
        help="broker port (or $STOREGATE_MQTT_PORT; 8883 for TLS)",
    )
    parser.add_argument("--root", default=DEFAULT_ROOT, help="topic root (mqtt.root_topic)")
    parser.add_argument(
        "--mqtt-username",
        default=env("STOREGATE_MQTT_USERNAME"),
        help="broker user (or $STOREGATE_MQTT_USERNAME)",
    )
    parser.add_argument(
        "--mqtt-password",
        default=env("STOREGATE_MQTT_PASSWORD"),
        help="or $STOREGATE_MQTT_PASSWORD (keeps it out of `ps`)",
    )
    parser.add_argument("--mqtt-ca-file", help="PEM CA that signed the broker's certificate")
    parser.add_argument("--mqtt-cert-file", help="PEM client certificate for the broker")
    parser.add_argument("--mqtt-key-file", help="PEM private key of --mqtt-cert-file")
    parser.add_argument(
        "--enrol-cert-file",
        help="PEM certificate of head office's enrolment service (storegate-admin): "
        "/boxes approves and revokes (with --key; the --mqtt- broker)",
    )
    parser.add_argument("--enrol-key-file", help="PEM private key of --enrol-cert-file")
    parser.add_argument(
        "--updates", type=Path, help="the folder of the bundles `cloud update build` made"
    )


def publisher_of(args: argparse.Namespace) -> Any:
    """The page's `Publisher` when a signing key is given (None: publishing is off). The
    key is loaded now, so an exposed or unreadable key stops the server from starting."""
    from cloud.ingest import BrokerOptions
    from cloud.publish import load_key
    from cloud.web.publish_page import Publisher

    if args.key is None:
        return None
    broker = BrokerOptions(
        host=args.mqtt_host,
        port=args.mqtt_port,
        username=args.mqtt_username,
        password=args.mqtt_password,
        ca_file=args.mqtt_ca_file,
        cert_file=args.mqtt_cert_file,
        key_file=args.mqtt_key_file,
    )
    key = load_key(Path(args.key), args.key_id)
    return Publisher(broker, args.root, key, args.updates)


def enroller_of(args: argparse.Namespace, publisher: Any) -> Any:
    """The `/boxes` page's `Enroller`: the publishing broker reached with the enrolment
    service's certificate, and the publishing key (None: /boxes lists only)."""
    from dataclasses import replace

    from cloud.web.enrol_page import Enroller

    if args.enrol_cert_file is None and args.enrol_key_file is None:
        return None
    if publisher is None or not (args.enrol_cert_file and args.enrol_key_file):
        raise UsageError(
            "approving boxes needs the enrolment certificate, its key and head office's key",
            where="cloud web serve --enrol-cert-file",
            fix="pass --enrol-cert-file and --enrol-key-file together, with --key",
        )
    broker = replace(publisher.broker, cert_file=args.enrol_cert_file, key_file=args.enrol_key_file)
    return Enroller(broker, publisher.root, publisher.key)


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    if not sys.stdin.isatty():
        raise UsageError(
            "no terminal to ask the password on",
            where="cloud web user add",
            fix="pass --password-stdin and give it on standard input",
        )
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Again: "):
        raise UsageError("the passwords differ", where="cloud web user add", fix="type it again")
    return first


def _user_add(args: argparse.Namespace) -> int:
    from cloud.web.accounts import add_account

    password = _password(args)
    db = Database.open(args.db)
    try:
        require_current(db)
        add_account(db, args.name, args.role, args.scope, password, by=args.by, now=utc_now_iso())
    finally:
        db.close()
    print(f"account {args.name} ({args.role}{': ' + args.scope if args.scope else ''}) saved")
    return 0


def _user_list(args: argparse.Namespace) -> int:
    from cloud.web.accounts import account_rows

    db = Database.open(args.db)
    try:
        require_current(db)
        rows = account_rows(db, system_clock())
    finally:
        db.close()
    for a in rows:
        scope = " " + a.scope if a.scope else ""
        print(f"{a.name}  {a.role}{scope}  totp {'on' if a.totp else 'off'}  {a.state}")
    return 0


def _user_change(args: argparse.Namespace) -> int:
    from cloud.web.accounts import set_disabled, unlock

    where = f"cloud web user {args.action}"
    db = Database.open(args.db)
    try:
        require_current(db)
        if args.action == "unlock":
            unlock(db, args.name, by=args.by, now=utc_now_iso(), where=where)
        else:
            disabled = args.action == "disable"
            set_disabled(db, args.name, disabled, by=args.by, now=utc_now_iso(), where=where)
    finally:
        db.close()
    print(
        f"account {args.name} {args.action}d"
        if args.action != "unlock"
        else f"account {args.name} unlocked"
    )
    return 0


def _key_file(args: argparse.Namespace) -> KeyFile:
    """The TOTP key named by head office's settings (`--config`, the environment)."""
    return KeyFile(load_cloud_settings(args.config).web.totp_key)


def _say_sealed(names: list[str], key_id: str | None) -> None:
    if names:
        print(
            f"sealed the clear TOTP seed(s) of {len(names)} account(s) ({', '.join(names)}) "
            f"with key {key_id}",
            file=sys.stderr,
        )


def _user_totp(args: argparse.Namespace) -> int:
    from cloud.web.accounts import enroll_totp

    key_file = _key_file(args)
    db = Database.open(args.db)
    try:
        require_current(db)
        uri = enroll_totp(db, args.name, key_file, by=args.by, now=utc_now_iso())
    finally:
        db.close()
    print(uri)
    return 0


def _key_generate(args: argparse.Namespace) -> int:
    from cloud.web.totp_key import generate_key_file

    path = load_cloud_settings(args.config).web.totp_key
    key = generate_key_file(path)
    print(f"TOTP key {key.key_id} written to {path} (0600)")
    print(
        "keep a copy apart from the database and its backups: without it no sealed seed "
        "opens; every `cloud web serve` of this database needs the same file",
        file=sys.stderr,
    )
    return 0


def _key_check(args: argparse.Namespace) -> int:
    from cloud.web.accounts import check_and_seal

    key_file = _key_file(args)
    db = Database.open(args.db)
    try:
        require_current(db)
        check = check_and_seal(db, key_file, now=utc_now_iso(), open_all=True)
    finally:
        db.close()
    _say_sealed(check.sealed_now, check.key_id)
    if check.key_id is None:
        print("no account has an authenticator enrolled: no seed to check")
        return 0
    for name, why in check.refused:
        print(f"{name}: {why}; enrol it again with `cloud web user totp {name}`")
    opened = check.enrolled - len(check.refused)
    print(f"{opened} of {check.enrolled} TOTP seed(s) open with key {check.key_id}")
    if check.refused:
        raise UsageError(
            f"{len(check.refused)} seed(s) do not open for their own account",
            where="web_account.totp_secret",
            fix="enrol each account named above again (`cloud web user totp NAME`)",
        )
    return 0


def _token_add(args: argparse.Namespace) -> int:
    from cloud.web.api import add_token

    db = Database.open(args.db)
    try:
        require_current(db)
        token = add_token(db, args.name, args.role, args.scope, by=args.by, now=utc_now_iso())
    finally:
        db.close()
    print(token)
    print(
        f"token {args.name}: shown once, keep it secret (Authorization: Bearer ...)",
        file=sys.stderr,
    )
    return 0


def _token_list(args: argparse.Namespace) -> int:
    from cloud.web.api import tokens

    db = Database.open(args.db)
    try:
        require_current(db)
        rows = tokens(db)
    finally:
        db.close()
    for name, role, scope, created, revoked in rows:
        state = f"revoked {revoked}" if revoked else "live"
        print(f"{name}  {role}{' ' + scope if scope else ''}  created {created}  {state}")
    return 0


def _token_revoke(args: argparse.Namespace) -> int:
    from cloud.web.api import revoke_token

    db = Database.open(args.db)
    try:
        require_current(db)
        revoke_token(db, args.name, by=args.by, now=utc_now_iso())
    finally:
        db.close()
    print(f"token {args.name} revoked")
    return 0


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from cloud.web.app import create_app

    if bool(args.tls_cert) != bool(args.tls_key):
        raise UsageError(
            "HTTPS needs both the certificate and its key",
            where="cloud web serve",
            fix="pass --tls-cert and --tls-key together",
        )
    from cloud.web.accounts import check_and_seal

    key_file = _key_file(args)
    db = Database.open(args.db)
    try:
        require_current(db)
        # Before listening: a missing or wrong TOTP key stops here, and seeds left in the
        # clear from before sealing are sealed now.
        check = check_and_seal(db, key_file, now=utc_now_iso())
    finally:
        db.close()
    _say_sealed(check.sealed_now, check.key_id)
    https = args.tls_cert is not None
    publisher = publisher_of(args)
    enroller = enroller_of(args, publisher)
    app = create_app(
        args.db,
        clock=system_clock,
        https=https,
        totp_key=key_file,
        publisher=publisher,
        enroller=enroller,
        notify_settings=load_cloud_settings(args.config).notify,
    )
    tls = {"ssl_certfile": str(args.tls_cert), "ssl_keyfile": str(args.tls_key)} if https else {}
    print(f"head office on {'https' if https else 'http'}://{args.host}:{args.port}/", flush=True)
    if publisher is None:
        print("publishing is off: no signing key (--key or $STOREGATE_SIGNING_KEY)", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", **tls)  # type: ignore[arg-type]
    return 0
