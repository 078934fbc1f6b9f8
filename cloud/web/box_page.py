"""`/stores/{store}/boxes/{box}` in head office's pages: one box's chain position and its
break (`cloud chain show`), accepting that break (`cloud chain accept`), its log uploads
(`cloud logs`) and uploaded backups (`cloud backups list|fetch`).

Every step is the CLI's own function (`cloud.chain`, `cloud.box_uploads`):
accepting refuses anything but the box's current break, a backup that ends before the
acknowledged position is refused unless the admin asks for it anyway. Whoever sees the
store reads the box's page and its logs; only an admin accepts a break (403 otherwise,
after the CSRF check every POST has) and downloads a backup (it holds the box's whole
journal). A store the account may not see answers 404, as the store's page does. The
acceptance and every backup download are audited with the signed-in account, who is
also the acceptance's `accepted_by`.

An admin also sends the box a command (`cloud cmd STORE BOX NAME [KEY=VALUE ...]`): the
page signs, records and publishes it through `cloud.publish.send_command`, the CLI's own
send step, and returns at once without waiting; the box's answer arrives through ingest
into the same `command` row, which the page lists with the box's recent commands. The
broker and key are the server's publisher (`cloud web serve --key`); without one the form
says commands are off. An unknown command or an argument that is not KEY=VALUE is
refused, nothing sent; each sent command is audited (`box.command`).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from cloud.box_uploads import acked_seq, backup_uploads, choose_backup, log_uploads
from cloud.chain import ChainError, accept_break, chain_view
from cloud.clock import Clock, iso
from cloud.db import Database
from cloud.publish import BOX_COMMANDS, OneShot, command_args, recent_commands, send_command
from cloud.web.accounts import Account, audit, visible_stores
from cloud.web.publish_page import Publisher
from cloud.web.routing import CsrfOk, Guard, Page, Who, form_text, posted, refusal
from gateway.errors import StoregateError, UsageError
from gateway.sync.backup_upload import describe, reassemble
from gateway.sync.log_upload import assemble

ADMINS_ONLY = "Only an admin accepts a chain break, downloads a backup or sends a command."
EXPIRES_IN = 600.0  # seconds a box may still run a command: `cloud cmd --expires`'s default


def routes(
    open_db: Callable[[], Database],
    clock: Clock,
    signed_in: Guard,
    who: Who,
    csrf_ok: CsrfOk,
    page: Page,
    publisher: Publisher | None = None,
) -> list[Route]:
    """The box's page, its POST and downloads, for `create_app`."""

    refuse = refusal(page)

    def no_box(session: Any, account: Account) -> Response:
        return refuse(404, "No such box.", session, account)

    def sees(db: Database, account: Account, store: str) -> bool:
        return store in visible_stores(db, account)

    def box_page(
        session: Any, account: Account, store: str, box: str, status: int = 200, **extra: Any
    ) -> Response:
        db = open_db()
        try:
            if not sees(db, account, store):
                return no_box(session, account)
            try:
                chain = chain_view(db, store, box)
            except ChainError:
                return no_box(session, account)
            logs = [assemble(parts) for parts in log_uploads(db, store, box).values()]
            backups = [describe(parts) for parts in backup_uploads(db, store, box).values()]
            acked = acked_seq(db, store, box)
            commands = recent_commands(db, store, box)
        finally:
            db.close()
        return page(
            "box.html",
            status,
            account=account,
            csrf=session.csrf,
            chain=chain,
            logs=logs,
            backups=backups,
            acked=acked,
            commands=commands,
            command_names=BOX_COMMANDS,
            commands_on=publisher is not None,
            error=extra.pop("error", None),
            reason=extra.pop("reason", ""),
            cmd_error=extra.pop("cmd_error", None),
            cmd_name=extra.pop("cmd_name", ""),
            cmd_args=extra.pop("cmd_args", ""),
        )

    def show(request: Request, session: Any, account: Account) -> Response:
        params = request.path_params
        return box_page(session, account, params["store"], params["box"])

    async def accept(request: Request) -> Response:
        got = await posted(request, who, csrf_ok, page)
        if isinstance(got, Response):
            return got
        session, account, form = got
        if account.role != "admin":
            return refuse(403, ADMINS_ONLY, session, account)
        store, box = request.path_params["store"], request.path_params["box"]
        reason, seq_text = form_text(form, "reason"), form_text(form, "seq")
        refused: str | None = None
        db = open_db()
        try:
            if not seq_text.isdigit():
                raise UsageError(
                    f"seq {seq_text!r} is not a number",
                    where=f"/stores/{store}/boxes/{box}: Accept the break",
                    fix="reload the page and accept the break it shows",
                )
            now = iso(clock())
            done = accept_break(
                db, store, box, seq=int(seq_text), reason=reason, by=account.name, now=now
            )
            detail: dict[str, object] = {
                "store": store,
                "box": box,
                "seq": done.acceptance.seq,
                "acceptance": done.acceptance.id,
                "reason": done.acceptance.reason,
                "position": [done.before.seq, done.after.seq],
            }
            with db.transaction():
                audit(db, account.name, "chain.accept", detail, now)
        except StoregateError as exc:  # an unknown box: the page again answers 404
            refused = exc.describe()
        finally:
            db.close()
        if refused is not None:
            return box_page(session, account, store, box, 400, error=refused, reason=reason)
        return RedirectResponse(f"/stores/{store}/boxes/{box}", status_code=303)

    async def command(request: Request) -> Response:
        got = await posted(request, who, csrf_ok, page)
        if isinstance(got, Response):
            return got
        session, account, form = got
        if account.role != "admin":
            return refuse(403, ADMINS_ONLY, session, account)
        store, box = request.path_params["store"], request.path_params["box"]
        name, args_text = form_text(form, "name"), form_text(form, "args")
        # connecting and waiting for the broker's PUBACK happen in the thread pool,
        # never in the server's event loop
        return await run_in_threadpool(send, session, account, store, box, name, args_text)

    def send(
        session: Any, account: Account, store: str, box: str, name: str, args_text: str
    ) -> Response:
        where = f"/stores/{store}/boxes/{box}: Send a command"
        refused: str | None = None
        db = open_db()
        try:
            try:
                chain_view(db, store, box)  # an unknown box answers 404 below
            except ChainError:
                return no_box(session, account)
            if publisher is None:
                raise UsageError(
                    "commands are off: this server has no signing key",
                    where=where,
                    fix="serve with `cloud web serve --key KEY_ID.pem`, or use `cloud cmd`",
                )
            if name not in BOX_COMMANDS:
                raise UsageError(
                    f"command {name!r} is not one a box serves",
                    where=where,
                    fix="choose one of " + ", ".join(BOX_COMMANDS),
                )
            args = command_args(args_text.split(), where)
            with OneShot(publisher.broker, f"cloud-web-cmd-{uuid.uuid4().hex[:8]}") as link:
                sent = send_command(
                    db=db,
                    link=link,
                    root=publisher.root,
                    store=store,
                    box=box,
                    name=name,
                    args=args,
                    key=publisher.key,
                    expires_in=EXPIRES_IN,
                    clock=clock,
                )
            detail: dict[str, object] = {
                "store": store,
                "box": box,
                "name": name,
                "args": args,
                "command": sent["id"],
                "key": publisher.key.key_id,
            }
            with db.transaction():
                audit(db, account.name, "box.command", detail, iso(clock()))
        except StoregateError as exc:
            refused = exc.describe()
        finally:
            db.close()
        if refused is not None:
            status = 409 if publisher is None else 400
            return box_page(
                session,
                account,
                store,
                box,
                status,
                cmd_error=refused,
                cmd_name=name,
                cmd_args=args_text,
            )
        return RedirectResponse(f"/stores/{store}/boxes/{box}#commands", status_code=303)

    def log_text(request: Request, session: Any, account: Account) -> Response:
        store, box = request.path_params["store"], request.path_params["box"]
        db = open_db()
        try:
            parts = log_uploads(db, store, box).get(request.path_params["upload"])
            visible = sees(db, account, store)
        finally:
            db.close()
        if not visible or parts is None:
            return no_box(session, account)
        upload = assemble(parts)
        head = [] if not upload.missing else [f"# parts missing: {upload.missing}"]
        name = _safe(f"{box}-{upload.upload}.log")
        return PlainTextResponse(
            "\n".join([*head, *upload.lines]) + "\n",
            headers={"Content-Disposition": f'inline; filename="{name}"'},
        )

    def backup_file(request: Request, session: Any, account: Account) -> Response:
        store, box = request.path_params["store"], request.path_params["box"]
        upload = request.path_params["upload"]
        force = request.query_params.get("force") == "1"
        where = f"/stores/{store}/boxes/{box}: backup {upload}"
        db = open_db()
        try:
            if not sees(db, account, store) or upload not in backup_uploads(db, store, box):
                return no_box(session, account)
            if account.role != "admin":
                return refuse(403, ADMINS_ONLY, session, account)
            try:
                info, parts = choose_backup(db, store, box, upload, force, where)
                data = reassemble(parts)
            except StoregateError as exc:
                return refuse(409, exc.describe(), session, account)
            detail: dict[str, object] = {
                "store": store,
                "box": box,
                "upload": upload,
                "head_seq": info.head_seq,
                "sha256": info.sha256,
                "force": force,
            }
            with db.transaction():
                audit(db, account.name, "backup.fetch", detail, iso(clock()))
        finally:
            db.close()
        return Response(
            data,
            media_type="application/octet-stream",
            headers={"Content-Disposition": f'attachment; filename="{_safe(info.name)}"'},
        )

    box = "/stores/{store}/boxes/{box}"
    return [
        Route(box, signed_in(show), methods=["GET"]),
        Route(box + "/chain/accept", accept, methods=["POST"]),
        Route(box + "/commands", command, methods=["POST"]),
        Route(box + "/logs/{upload}", signed_in(log_text), methods=["GET"]),
        Route(box + "/backups/{upload}", signed_in(backup_file), methods=["GET"]),
    ]


def _safe(name: str) -> str:
    """A download's file name from what a box said: letters, digits, '.', '-' and '_'."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)[:100] or "download"
