"""`gateway receipt`, `gateway report x|z` and `gateway staff list|add|totp|disable|...`.

Reprints read the journal only (every reprint is marked as a copy); `report z` writes the
day's Z record; `staff` manages the lane_staff table. PINs are read from the terminal (or
one line of stdin with `--pin-stdin`), never from the command line where `ps` shows them.
Writes only through the lane book (the Z record) and the staff directory; reprints and X
reports open the database read-only.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from gateway.catalog.store import CatalogStore
from gateway.commands.prompts import read_pin
from gateway.daemon.box_actions import journal_staff_change
from gateway.daemon.lock import ask_owner, owner_refused, writer_of
from gateway.database import open_database
from gateway.errors import UsageError
from gateway.i18n import LANGUAGES
from gateway.journal import Journal
from gateway.keyfile import SecretsKey
from gateway.lane.book import LaneBook, LaneReader
from gateway.lane.digest import TRADING
from gateway.lane.events import Credential, Refusal
from gateway.lane.records import LaneRef
from gateway.lane.staff import STAFF_ACTIONS, STATE_ACTIONS, StaffChange, StaffDirectory
from gateway.receipts.model import from_record
from gateway.receipts.text import render_receipt
from gateway.reports.days import business_day, refuse_empty_day, refuse_unknown_shift
from gateway.settings import GatewaySettings, load_settings


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="PATH", help="settings file")
    parser.add_argument("--db", metavar="PATH", help="database (default paths.database)")


def _approval(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--by",
        metavar="STAFF_ID",
        help="admin or technician approving the change (asked for a PIN)",
    )
    parser.add_argument("--totp", metavar="CODE", help="the approver's authenticator code")


def register(sub: Any) -> None:
    receipt = sub.add_parser("receipt", help="reprint the receipt of a journal record (a copy)")
    receipt.add_argument(
        "seq",
        metavar="SEQ|RECEIPT",
        help="the journal record number, or the receipt number printed on the slip",
    )
    receipt.add_argument("--escpos", metavar="FILE", help="also write ESC/POS bytes to FILE")
    receipt.add_argument(
        "--print",
        action="store_true",
        dest="to_printer",
        help="also print the copy on the receipt printer (through the running daemon)",
    )
    receipt.add_argument(
        "--width", type=int, choices=(32, 42, 48), help="columns (default store.receipt_width)"
    )
    receipt.add_argument(
        "--language",
        choices=LANGUAGES,
        help="default: the language its cashier chose at sign-on, else [screens] language",
    )
    _common(receipt)
    receipt.set_defaults(func=_receipt)

    report = sub.add_parser("report", help="X (current shift) or Z (day close) report")
    report.add_argument("which", choices=("x", "z"), help="x: figures so far; z: close the day")
    report.add_argument("--date", metavar="YYYY-MM-DD", help="business day (default today)")
    report.add_argument("--shift", metavar="ID", help="X report of this shift")
    report.add_argument("--json", action="store_true", help="print JSON instead of the report")
    report.add_argument(
        "--check",
        action="store_true",
        help="X: also sum the journal bodies themselves and compare (exit 1 "
        "when the stored report digests disagree)",
    )
    report.add_argument("--card", metavar="CARD", help="Z: the supervisor's staff card")
    report.add_argument("--staff", metavar="ID", help="Z: staff number (PIN is asked)")
    report.add_argument("--pin-stdin", action="store_true", help="read the PIN from stdin")
    report.add_argument(
        "--empty-day",
        action="store_true",
        help="Z: confirm closing a day on which this till recorded no sale, "
        "refund, void or no-sale (refused otherwise)",
    )
    _common(report)
    report.set_defaults(func=_report)

    staff = sub.add_parser(
        "staff",
        help="list, add, disable, enable, unlock, remove staff; enrol their second factor",
        description="Staff changes are approved by an admin or technician (--by) and "
        "journalled as box_action records naming them; while `gateway run` is up they go "
        "through it. PINs are asked, never taken from the command line.",
    )
    staff_sub = staff.add_subparsers(dest="staff_command", metavar="ACTION", required=True)
    listing = staff_sub.add_parser(
        "list",
        help="everyone on this box: role, how they sign on, their standing",
        description="Lists every person (active or not) with their role, whether they have "
        "a card, a PIN and an authenticator, and whether they are disabled or locked out. "
        "Reads the database only; never shows a card's value or a PIN.",
    )
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _common(listing)
    listing.set_defaults(func=_staff_list)
    add = staff_sub.add_parser(
        "add",
        help="add or replace a person (PIN is asked)",
        description="Adds a person, or updates one with this staff number (a PIN already "
        "enrolled is kept when the PIN asked for is left empty). A person needs a PIN or a "
        "staff card; PINs are lane.pin_min_digits to 12 digits and not trivial (000000, "
        "123456, 121212 are refused).",
    )
    add.add_argument("id", help="staff number (what they key at sign-on)")
    add.add_argument("name", help="name shown on receipts and reports")
    add.add_argument(
        "role",
        choices=("cashier", "supervisor", "technician", "admin"),
        help="what they may do ([lane.permissions])",
    )
    add.add_argument("--card", metavar="CARD", help="their staff badge (never a payment card)")
    add.add_argument("--ceiling", metavar="AMOUNT", help="override ceiling (supervisors)")
    add.add_argument(
        "--pin-stdin",
        action="store_true",
        help="read PINs from stdin, one a line (the approver's first)",
    )
    _approval(add)
    _common(add)
    add.set_defaults(func=_staff_add)
    totp = staff_sub.add_parser(
        "totp",
        help="enrol a TOTP authenticator; prints its URI",
        description="Gives the person a fresh TOTP secret (sealed with the box's secrets "
        "key) and prints the otpauth:// URI to scan into their authenticator app.",
    )
    totp.add_argument("id", help="staff number of the person enrolling")
    totp.add_argument("--pin-stdin", action="store_true", help="read the approver's PIN from stdin")
    _approval(totp)
    _common(totp)
    totp.set_defaults(func=_staff_totp)
    for action in STATE_ACTIONS:
        standing = staff_sub.add_parser(
            action,
            help=STAFF_ACTIONS[action],
            description=f"{STAFF_ACTIONS[action][0].upper()}{STAFF_ACTIONS[action][1:]}; approved "
            "(--by) and "
            "journalled like `staff add`. The last admin or technician the box's approvals "
            "rest on cannot be disabled or removed.",
        )
        standing.add_argument("id", help="staff number")
        standing.add_argument(
            "--pin-stdin", action="store_true", help="read the approver's PIN from stdin"
        )
        _approval(standing)
        _common(standing)
        standing.set_defaults(func=_staff_standing, staff_action=action)


def _open(args: argparse.Namespace, *, readonly: bool = False) -> tuple[GatewaySettings, Any]:
    settings = load_settings(args.config)
    path = Path(args.db) if args.db else settings.paths.database
    return settings, open_database(path, readonly=readonly)


def _staff(db: Any, settings: GatewaySettings, database: Path) -> StaffDirectory:
    """The staff table with the box's secrets key (`paths.secrets_key`, or beside `--db`)."""
    return StaffDirectory(
        db, settings.lane, secrets_key=SecretsKey(settings.paths.secrets_key_for(database))
    )


def _receipt_record(journal: Journal, db: Any, wanted: str) -> Any:
    """The record `wanted` names: digits are a journal record number (seq), anything else
    the receipt number printed on the slip (e.g. box-1-000042)."""
    wanted = wanted.strip()
    if not wanted.isdigit():
        record = LaneBook(db, journal).by_receipt(wanted)
        if record is None:
            raise UsageError(
                f"there is no receipt {wanted!r} on this till",
                where="gateway receipt",
                fix="give the receipt number as printed (e.g. box-1-000042) or the journal "
                "record number; receipts older than the retention period are pruned",
            )
        return record
    seq = int(wanted)
    record = journal.get(seq)
    if record is None:
        state = journal.state()
        kept = f"this till keeps records {state.anchor_seq + 1}..{state.head_seq}"
        if 0 < seq <= state.anchor_seq:
            raise UsageError(
                f"journal record {seq} is older than the retention period: "
                "it was pruned from this till after head office acknowledged it",
                where="gateway receipt",
                fix=f"head office keeps every record; {kept}",
            )
        raise UsageError(
            f"there is no journal record {seq}",
            where="gateway receipt",
            fix=f"{kept}; `gateway journal export` lists them",
        )
    return record


def _receipt(args: argparse.Namespace) -> int:
    settings, db = _open(args, readonly=True)
    journal = Journal(db)
    record = _receipt_record(journal, db, args.seq)
    reader = LaneReader(db, journal)
    language = args.language or reader.record_language(record, settings.screens.language)
    receipt = from_record(
        record,
        settings.store.header_in(language),
        settings.store.footer_in(language),
        copy=True,
        language=language,
        names=CatalogStore(db).load(),
    )
    width = args.width or settings.store.receipt_width
    print(render_receipt(receipt, width), end="")
    if args.escpos:
        from gateway.receipts.escpos import render_escpos  # python-escpos: only when asked

        Path(args.escpos).write_bytes(render_escpos(receipt, width))
    if args.to_printer:
        return _print_copy(args, settings, record.seq, receipt, width, args.language)
    return 0


def _print_copy(
    args: argparse.Namespace,
    settings: GatewaySettings,
    seq: int,
    receipt: Any,
    width: int,
    language: str | None,
) -> int:
    """The copy on paper: through the running daemon's printer thread (the one that talks
    to the printers), else straight to each configured printer, rendered in its encoding."""
    if not settings.devices.printers:
        raise UsageError(
            "--print: no receipt printer is configured",
            where="gateway receipt",
            fix="add [[devices.printers]] to the settings, or leave out --print",
        )
    _, socket_path = writer_of(settings, args.db)
    if socket_path is not None:
        request: dict[str, Any] = {"command": "reprint", "seq": seq}
        if language:
            request["language"] = language
        answer = ask_owner(socket_path, request)
        if not answer.get("ok"):
            return owner_refused(answer, "receipt")
        print(
            f"gateway receipt: copy of {answer.get('receipt')} sent to the printer", file=sys.stderr
        )
        return 0
    from devices.errors import DeviceError
    from devices.runner import printer_for
    from gateway.receipts.escpos import render_escpos

    for configured in settings.devices.printers:
        printer = printer_for(configured)
        try:
            printer.print_bytes(render_escpos(receipt, width, encode=printer.encode_text))
        except DeviceError as exc:
            raise UsageError(
                f"--print: printer {configured.name} did not print: {exc.what}",
                where="gateway receipt",
                fix="check the printer (paper, cover, cable) and run the command again",
            ) from exc
        finally:
            printer.close()
    print("gateway receipt: copy sent to the printer", file=sys.stderr)
    return 0


def _pin(args: argparse.Namespace, prompt: str = "PIN: ") -> str:
    return read_pin(args.pin_stdin, prompt)


def _today(settings: GatewaySettings) -> datetime:
    return datetime.now(ZoneInfo(settings.store.timezone)).replace(tzinfo=None)


def _report(args: argparse.Namespace) -> int:
    from gateway.reports import close_day, kept_from

    settings = load_settings(args.config)
    _refuse_mixed_options(args)
    now = _today(settings)
    path, socket_path = writer_of(settings, args.db)
    db = open_database(path, readonly=args.which == "x" or socket_path is not None)
    book = LaneBook(db)
    day = business_day(
        args.date or now.date().isoformat(),
        now.date(),
        kept_from=kept_from(book),
        where=f"gateway report {args.which}",
    )
    if args.which == "x":
        return _x_report(args, settings, book, day)
    if not args.empty_day and not any(row[1] in TRADING for row in book.day_digests(day)):
        raise refuse_empty_day(day)  # before a PIN is asked; the daemon checks it again
    if args.card is None and args.staff is None:
        raise UsageError(
            "a Z report needs who closes the day",
            where="gateway report z",
            fix="pass --card CARD, or --staff ID (the PIN is asked)",
        )
    if args.card and socket_path is not None:
        raise UsageError(
            "a card typed on the command line is not a card read: the running box takes "
            "the day close from a staff number and PIN",
            where="gateway report z",
            fix="pass --staff ID (the PIN is asked)",
        )
    credential = (
        Credential(card=args.card) if args.card else Credential(staff_id=args.staff, pin=_pin(args))
    )
    if socket_path is not None:  # the running daemon writes the Z (and knows the day closed)
        return _z_through_daemon(args, socket_path, credential, day)
    staff = _staff(db, settings, path)
    lane = LaneRef(store=settings.store.id, box=settings.store.box)
    import uuid

    record = close_day(
        book,
        staff,
        settings.lane,
        lane,
        day,
        now,
        credential,
        lambda: uuid.uuid4().hex,
        empty_day=args.empty_day,
    )
    if isinstance(record, Refusal):
        print(f"gateway report z: {record.message}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(record.body, indent=2))
    else:
        print(
            render_receipt(
                from_record(record, settings.store.header, ()), settings.store.receipt_width
            ),
            end="",
        )
    return 0


def _refuse_mixed_options(args: argparse.Namespace) -> None:
    """Options that belong to the other report are refused rather than silently ignored."""
    wrong = (
        {"--shift": args.shift}
        if args.which == "z"
        else {"--card": args.card, "--staff": args.staff, "--empty-day": args.empty_day}
    )
    given = [name for name, value in wrong.items() if value]
    if args.which == "x" and args.shift and args.date:
        given.append("--shift with --date")
    if given:
        raise UsageError(
            f"{', '.join(given)} cannot be used with `report {args.which}`",
            where=f"gateway report {args.which}",
            fix="X: --shift ID or --date DAY; Z: --date DAY, --card or --staff, --empty-day",
        )


def _x_report(args: argparse.Namespace, settings: GatewaySettings, book: LaneBook, day: str) -> int:
    """The X report of a shift (given, else the one in progress) or of a day; reads only."""
    from gateway.reports import day_report, from_bodies, render_report, x_report

    if args.shift and not book.has_shift(args.shift):
        raise refuse_unknown_shift(args.shift)
    shift = args.shift or (
        None if args.date else (row.shift_id if (row := book.open_shift()) else None)
    )
    figures = x_report(book, shift) if shift else day_report(book, day)
    title = f"X REPORT shift {shift}" if shift else f"X REPORT day {day}"
    print(
        json.dumps(figures.to_json(), indent=2)
        if args.json
        else render_report(title, figures, settings.store.receipt_width, at=_today(settings)),
        end="\n",
    )
    if not figures.first_seq:
        print(
            f"gateway report x: no sale, refund, void or no-sale recorded "
            f"{f'in shift {shift}' if shift else f'on {day}'}",
            file=sys.stderr,
        )
    if args.check:
        recomputed = from_bodies(book.bodies(day=None if shift else day, shift_id=shift))
        if recomputed.to_json() != figures.to_json():
            print(
                "gateway report x: the stored report digests disagree with the journal "
                "bodies\n  fix: trust the bodies; run `gateway journal verify`",
                file=sys.stderr,
            )
            return 1
    return 0


def _z_through_daemon(
    args: argparse.Namespace, socket_path: Path, credential: Credential, day: str
) -> int:
    request = {
        "command": "z_report",
        "day": day,
        "staff": credential.staff_id,
        "pin": credential.pin,
        "empty_day": args.empty_day or None,
    }
    answer = ask_owner(socket_path, {k: v for k, v in request.items() if v is not None})
    if not answer.get("ok"):
        return owner_refused(answer, "report z")
    print(
        json.dumps(answer["body"], indent=2) if args.json else answer["text"],
        end="\n" if args.json else "",
    )
    return 0


def _staff_change(args: argparse.Namespace, action: str) -> int:
    """Ask for the PINs, then apply the change: through the running daemon when it owns
    the database (it is the one writer, and journals the change), else to the file
    directly. The approver's PIN is asked when `--by` names one."""
    settings = load_settings(args.config)
    path, socket_path = writer_of(settings, args.db)
    db = open_database(path, readonly=socket_path is not None)  # the daemon writes, if up
    if args.by is None and _staff(db, settings, path).bootstrap() is None:
        raise UsageError(
            "changing staff needs an admin's approval",
            where="gateway staff",
            fix="pass --by STAFF_ID --totp CODE (the PIN is asked first)",
        )
    by_pin = _pin(args, "PIN of the approver: ") if args.by else None
    new_pin = _pin(args) if action == "add" else None
    change = StaffChange(
        action=action,
        staff_id=args.id,
        name=getattr(args, "name", ""),
        role=getattr(args, "role", ""),
        pin=new_pin or None,
        card=getattr(args, "card", None),
        ceiling=getattr(args, "ceiling", None),
        by=args.by,
        by_pin=by_pin,
        totp=args.totp,
    )
    if socket_path is not None:
        answer = ask_owner(socket_path, change.to_request())
        if not answer.get("ok"):
            return owner_refused(answer, "staff")
        print(answer["text"])
        return 0
    # A stopped box: this command is the file's one writer, and journals the change as the
    # daemon would (`via: file`), in the same transaction.
    staff = _staff(db, settings, path)
    stage = staff.bootstrap()
    intent = staff.intend_change(change, _today(settings), datetime.now(UTC))
    result = journal_staff_change(Journal(db), staff, change, intent, stage, "file")
    if isinstance(result, Refusal):
        print(f"gateway staff: {result.message}", file=sys.stderr)
        return 1
    print(result.text)
    return 0


def _staff_list(args: argparse.Namespace) -> int:
    settings, db = _open(args, readonly=True)
    path = Path(args.db) if args.db else settings.paths.database
    people = _staff(db, settings, path).roster(_today(settings))
    if args.json:
        print(json.dumps([{**p.__dict__, "state": p.state()} for p in people], indent=2))
        return 0
    if not people:
        print("no staff yet: gateway staff add ID NAME admin adds the first admin")
        return 0
    rows = [("ID", "NAME", "ROLE", "SIGNS ON WITH", "FROM", "STATE")]
    for p in people:
        ways = [w for w, has in (("card", p.card), ("PIN", p.pin), ("TOTP", p.totp)) if has]
        origin = "head office" if p.origin == "head_office" else "this box"
        rows.append((p.id, p.name, p.role, "+".join(ways) or "-", origin, p.state()))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for row in rows:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:5])) + "  " + row[5])
    return 0


def _staff_standing(args: argparse.Namespace) -> int:
    return _staff_change(args, args.staff_action)


def _staff_add(args: argparse.Namespace) -> int:
    return _staff_change(args, "add")


def _staff_totp(args: argparse.Namespace) -> int:
    return _staff_change(args, "totp")
