"""`gateway enrol`: bring a box without broker credentials into service (zero-touch).

Owns the command: say the pairing code (stdout; on every configured receipt printer with a
QR code; and on the cashier screen: a page on the screens' port, loopback only, while it
waits), wait for head office's answer (gateway.sync.enrol_client), keep the credentials
(gateway.broker_identity, 0600). `--if-needed` makes it a no-op on a box that
has credentials, so the service unit can run it before the daemon every time.
"""

from __future__ import annotations

import argparse
import socket
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from gateway.broker_identity import BrokerIdentity, read_identity, write_identity
from gateway.errors import UsageError

TIMED_OUT = 1


def register(sub: Any) -> None:
    p = sub.add_parser(
        "enrol",
        help="ask head office for this box's own broker credentials (pairing code)",
        description="Zero-touch enrolment (docs/install.md): prints a pairing code on the "
        "receipt printers and here, and waits until head office approves it with `cloud "
        "boxes approve CODE --store S --box B`; then keeps the credentials and exits 0.",
    )
    p.add_argument("--config", metavar="PATH", help="settings file (default /etc/storegate/...)")
    p.add_argument(
        "--wait", type=float, metavar="SECONDS", help="give up after this long (default: never)"
    )
    p.add_argument(
        "--if-needed",
        action="store_true",
        help="do nothing (exit 0) when the box has broker credentials or no [enrol] password",
    )
    p.add_argument("--no-print", action="store_true", help="do not print the code on paper")
    p.set_defaults(func=cmd_enrol)


def cmd_enrol(args: argparse.Namespace) -> int:
    from gateway.settings import load_settings

    settings = load_settings(args.config)
    data_dir = settings.paths.data_dir
    enrolled = read_identity(data_dir)
    if enrolled is not None:
        print(f"already enrolled as {enrolled.store}/{enrolled.box} ({enrolled.username})")
        return 0
    has_own = settings.mqtt.username is not None or settings.mqtt.cert_file is not None
    if args.if_needed and (has_own or settings.enrol.password is None):
        return 0
    if has_own:
        raise UsageError(
            "this box has its own broker credentials already (mqtt.username or mqtt.cert_file)",
            where="gateway enrol",
            fix="remove them from the settings to enrol it instead",
        )
    if settings.enrol.password is None:
        raise UsageError(
            "[enrol] password is not set",
            where="gateway enrol",
            fix="set [enrol] password to head office's enrolment password (docs/install.md)",
        )
    if not settings.sync.trusted_keys:
        raise UsageError(
            "no [[sync.trusted_keys]]: head office's answer could not be checked",
            where="gateway enrol",
            fix="add head office's public key (`cloud keys generate` prints the lines)",
        )
    from gateway.sync.enrol_client import (
        EnrolConfig,
        EnrolmentWait,
        forget_pending,
        pending_request,
    )
    from gateway.sync.signing import TrustedKeys

    config = EnrolConfig(
        host=settings.mqtt.host,
        port=settings.mqtt.port,
        root=settings.mqtt.root_topic,
        username=settings.enrol.username,
        password=settings.enrol.password.get_secret_value(),
        data_dir=data_dir,
        trusted=TrustedKeys(settings.sync.trusted_keys),
        ca_file=str(settings.mqtt.ca_file) if settings.mqtt.ca_file else None,
        retry_s=settings.enrol.retry_s,
        hint={"host": socket.gethostname()},
    )
    request, key = pending_request(data_dir, config.hint)
    say = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
    screen = _show_code(settings, request.code, say)  # up before the code is announced
    try:
        print(f"pairing code: {request.code}", flush=True)
        print(f"approve it at head office: cloud boxes approve {request.code} --store S --box B")
        if not args.no_print:
            _print_code(settings, request.code)
        credentials = EnrolmentWait(config, request, key, say=say).run(args.wait)
    finally:
        if screen is not None:
            screen.shutdown()
            screen.server_close()
    if credentials is None:
        print(f"gateway enrol: no answer for {request.code} in {args.wait:g} s", file=sys.stderr)
        return TIMED_OUT
    path = write_identity(
        data_dir,
        BrokerIdentity(
            credentials.store, credentials.box, credentials.username, credentials.password
        ),
    )
    forget_pending(data_dir)
    print(f"enrolled as {credentials.store}/{credentials.box}; credentials in {path}")
    return 0


def _print_code(settings: Any, code: str) -> None:
    """The code, big, with a QR code of it, on every receipt printer; a printer that
    cannot print is reported and skipped (the code is on stdout too)."""
    from devices.errors import DeviceError
    from devices.printer import ReceiptPrinter

    for target in settings.devices.printers:
        printer = ReceiptPrinter(target.name, target.uri, target.profile, timeout=target.timeout_s)
        try:
            receipt = printer.new_receipt()
            receipt.hw("INIT")
            receipt.set(align="center", bold=True)
            receipt.textln("storegate: enrol this box")
            receipt.set(align="center", double_height=True, double_width=True, bold=True)
            receipt.textln(code)
            receipt.set_with_default(align="center")
            receipt.qr(f"storegate-enrol:{code}", size=6)
            receipt.textln("head office: cloud boxes approve")
            receipt.textln(f"{code} --store S --box B")
            receipt.cut()
            with printer:
                printer.print_bytes(bytes(receipt.output))
            print(f"{target.name}: pairing code printed")
        except DeviceError as exc:
            print(f"{target.name}: pairing code not printed: {exc.what}", file=sys.stderr)


PAGE = """<!doctype html><html><head><meta charset="utf-8">
<meta http-equiv="refresh" content="5"><title>storegate: enrol this box</title>
<style>body{{font-family:sans-serif;text-align:center;margin-top:8vh}}
.code{{font-size:12vw;font-weight:bold;letter-spacing:.1em}} svg{{width:30vh}}</style>
</head><body><h1>storegate: enrol this box</h1><div class="code">{code}</div>{qr}
<p>Head office: <code>cloud boxes approve {code} --store S --box B</code></p>
<p>This page gives way to the till once the box is enrolled.</p></body></html>"""


def _show_code(settings: Any, code: str, say: Callable[[str], None]) -> ThreadingHTTPServer | None:
    """The code on the cashier screen: a page where the screens will be (loopback only,
    refreshing itself, so the kiosk browser shows the till once the daemon is up)."""
    if not settings.screens.enabled:
        return None
    from gateway.screens.app import qr_svg

    body = PAGE.format(code=code, qr=qr_svg(f"storegate-enrol:{code}")).encode()

    class CodePage(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    try:
        server = ThreadingHTTPServer(("127.0.0.1", settings.screens.port), CodePage)
    except OSError as exc:
        say(f"pairing code not shown on the screen (port {settings.screens.port}: {exc})")
        return None
    threading.Thread(target=server.serve_forever, name="enrol-screen", daemon=True).start()
    return server
