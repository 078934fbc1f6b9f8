"""`/members` in head office's pages: a store's members with their balances (searched and
read a page at a time: a store may have tens of thousands), one member's history, a
balance adjusted with a reason, a member blocked, reported lost or made active again, a
member file (CSV or xlsx) imported by upload, and the store's members document published.

Every change is `cloud.members`' (the functions `cloud members` runs), with its checks: a
card UID is kept only as the box's salted hash, a payment card number in a file is refused
and never kept, a balance never goes below zero. The uploaded file is read from a private
temporary directory and removed at once. Publishing signs with head office's key given to
`cloud web serve --key` (the `Publisher` the publish page uses); without one the page says
publishing is off.

Who may: an admin every store's members, a regional manager its group's, a store manager
its own store's; an auditor reads only (every POST 403). Another store's page, member or
POST answers 404, whatever the role. Each change is audited with the signed-in account.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from cloud import members
from cloud.clock import Clock, iso
from cloud.db import Database
from cloud.web.accounts import Account, audit, visible_stores
from cloud.web.publish_page import MAX_UPLOAD, OFF, Publisher
from cloud.web.routing import CsrfOk, Guard, Page, Who, form_text, posted, refusal
from gateway.errors import StoregateError, UsageError

PER_PAGE = 50
READ_ONLY = "An auditor reads; changing members is for managers."
NO_STORE = "No such store."
NO_MEMBER = "No such member."
STATUS_OF = {"block": "blocked", "lost": "lost", "unblock": "active"}


def routes(
    open_db: Callable[[], Database],
    clock: Clock,
    signed_in: Guard,
    who: Who,
    csrf_ok: CsrfOk,
    page: Page,
    publisher: Publisher | None,
) -> list[Route]:
    """`/members`, `/stores/S/members[/M]` and their POSTs, for `create_app`."""

    refuse = refusal(page)

    def mine(db: Database, account: Account, store: str) -> bool:
        return store in visible_stores(db, account)

    def stores_page(request: Request, session: Any, account: Account) -> Response:
        db = open_db()
        try:
            stores = visible_stores(db, account)
        finally:
            db.close()
        return page("members_stores.html", account=account, csrf=session.csrf, stores=stores)

    def list_page(
        session: Any,
        account: Account,
        store: str,
        query: dict[str, str],
        status: int = 200,
        error: str | None = None,
        done: str | None = None,
    ) -> Response:
        search = query.get("q", "").strip()
        try:
            number = max(1, int(query.get("page", "1")))
        except ValueError:
            number = 1
        db = open_db()
        try:
            if not mine(db, account, store):
                return refuse(404, NO_STORE, session, account)
            total, rows = members.member_page(db, store, search, (number - 1) * PER_PAGE, PER_PAGE)
            ready = db.one("SELECT 1 FROM member_store WHERE store = ?", (store,)) is not None
        finally:
            db.close()
        pages = max(1, -(-total // PER_PAGE))
        return page(
            "members.html",
            status,
            account=account,
            csrf=session.csrf,
            store=store,
            rows=rows,
            total=total,
            search=search,
            number=min(number, pages),
            pages=pages,
            ready=ready,
            publishing=publisher is not None,
            error=error,
            done=done,
        )

    def show_list(request: Request, session: Any, account: Account) -> Response:
        query = dict(request.query_params)
        return list_page(session, account, request.path_params["store"], query)

    def member_page(
        session: Any,
        account: Account,
        store: str,
        member: str,
        status: int = 200,
        error: str | None = None,
        form: dict[str, str] | None = None,
    ) -> Response:
        db = open_db()
        try:
            found = members.member_row(db, store, member) if mine(db, account, store) else None
            lines = members.history(db, store, member) if found else []
        finally:
            db.close()
        if found is None:
            return refuse(404, NO_MEMBER, session, account)
        return page(
            "member.html",
            status,
            account=account,
            csrf=session.csrf,
            store=store,
            member=found,
            lines=lines,
            wallets=members.WALLETS,
            error=error,
            form=form or {},
        )

    def show_member(request: Request, session: Any, account: Account) -> Response:
        params = request.path_params
        return member_page(session, account, params["store"], params["member"])

    def change_post(
        handler: Callable[[Request, Any, Account, str, FormData], Awaitable[Response]],
    ) -> Callable[[Request], Awaitable[Response]]:
        """A POST that changes a store's members: signed in, then the session's CSRF token,
        then the store (404 when not the account's), then the role (an auditor: 403)."""

        async def endpoint(request: Request) -> Response:
            got = await posted(request, who, csrf_ok, page, max_part_size=MAX_UPLOAD)
            if isinstance(got, Response):
                return got
            session, account, form = got
            store = request.path_params["store"]
            db = open_db()
            try:
                visible = mine(db, account, store)
                member = request.path_params.get("member")
                if visible and member is not None:
                    visible = members.member_row(db, store, member) is not None
            finally:
                db.close()
            if not visible:
                return refuse(404, NO_MEMBER if member else NO_STORE, session, account)
            if not account.may_change:
                return refuse(403, READ_ONLY, session, account)
            return await handler(request, session, account, store, form)

        return endpoint

    async def adjust_post(
        request: Request, session: Any, account: Account, store: str, form: FormData
    ) -> Response:
        member = request.path_params["member"]
        wallet, reason = form_text(form, "wallet"), form_text(form, "reason")
        now = iso(clock())
        db = open_db()
        try:
            delta = members.parse_delta(form_text(form, "delta"), "the change")
            members.adjust(db, store, member, wallet, delta, reason, by=account.name, now=now)
            with db.transaction():
                audit(
                    db,
                    account.name,
                    "member.adjust",
                    {
                        "store": store,
                        "member": member,
                        "wallet": wallet,
                        "delta": str(delta),
                        "reason": reason,
                    },
                    now,
                )
        except StoregateError as exc:
            again = {k: form_text(form, k) for k in ("wallet", "delta", "reason")}
            return member_page(session, account, store, member, 400, exc.describe(), again)
        finally:
            db.close()
        return RedirectResponse(f"/stores/{store}/members/{member}", status_code=303)

    async def status_post(
        request: Request, session: Any, account: Account, store: str, form: FormData
    ) -> Response:
        member = request.path_params["member"]
        status = STATUS_OF.get(form_text(form, "action"))
        if status is None:
            return member_page(
                session, account, store, member, 400, "Choose block, lost or unblock."
            )
        now = iso(clock())
        db = open_db()
        try:
            members.set_status(db, store, member, status, "", now=now)
            with db.transaction():
                audit(
                    db,
                    account.name,
                    "member.status",
                    {"store": store, "member": member, "status": status},
                    now,
                )
        finally:
            db.close()
        return RedirectResponse(f"/stores/{store}/members/{member}", status_code=303)

    async def import_post(
        request: Request, session: Any, account: Account, store: str, form: FormData
    ) -> Response:
        upload, settings_file = form.get("file"), form.get("settings")
        if not isinstance(upload, UploadFile) or not upload.filename:
            return list_page(
                session, account, store, {}, 400, "Choose the member file (CSV or xlsx)."
            )
        name = upload_name(upload.filename)
        now = iso(clock())
        db = open_db()
        try:
            with tempfile.TemporaryDirectory(prefix="storegate-members-") as work:
                path = Path(work) / name
                path.write_bytes(await upload.read())
                settings = None
                if isinstance(settings_file, UploadFile) and settings_file.filename:
                    settings = settings_json(await settings_file.read())
                created, updated = members.import_members(
                    db, store, path, by=account.name, now=now, settings=settings
                )
            with db.transaction():
                audit(
                    db,
                    account.name,
                    "member.import",
                    {"store": store, "file": name, "created": created, "updated": updated},
                    now,
                )
        except StoregateError as exc:
            return list_page(session, account, store, {}, 400, exc.describe())
        finally:
            db.close()
        done = f"{name}: {created} member(s) created, {updated} updated"
        return list_page(session, account, store, {}, done=done)

    async def publish_post(
        request: Request, session: Any, account: Account, store: str, form: FormData
    ) -> Response:
        if publisher is None:
            return list_page(session, account, store, {}, 409, OFF)
        now = iso(clock())
        db = open_db()
        try:
            document = members.build_document(db, store, now)
            message = members.send_document(
                db,
                store,
                document,
                broker=publisher.broker,
                root=publisher.root,
                key=publisher.key,
                clock=clock,
            )
            with db.transaction():
                audit(
                    db,
                    account.name,
                    "member.publish",
                    {
                        "store": store,
                        "version": message["version"],
                        "members": len(document["members"]),
                        "key": publisher.key.key_id,
                    },
                    now,
                )
        except StoregateError as exc:
            return list_page(session, account, store, {}, 400, exc.describe())
        finally:
            db.close()
        done = (
            f"Published members version {message['version']} for {store}: "
            f"{len(document['members'])} member(s)."
        )
        return list_page(session, account, store, {}, done=done)

    base = "/stores/{store}/members"
    return [
        Route("/members", signed_in(stores_page), methods=["GET"]),
        Route(base, signed_in(show_list), methods=["GET"]),
        Route(base + "/import", change_post(import_post), methods=["POST"]),
        Route(base + "/publish", change_post(publish_post), methods=["POST"]),
        Route(base + "/{member}", signed_in(show_member), methods=["GET"]),
        Route(base + "/{member}/adjust", change_post(adjust_post), methods=["POST"]),
        Route(base + "/{member}/status", change_post(status_post), methods=["POST"]),
    ]


def upload_name(filename: str) -> str:
    """The uploaded file's own name, safe as a file name (no directories); its ending
    (.csv or .xlsx) decides how it is read, as on the command line."""
    name = re.sub(r"[^\w.\-]", "_", Path(filename.replace("\\", "/")).name).lstrip(".")
    return name or "members.csv"


def settings_json(data: bytes) -> dict[str, Any]:
    """The store's member settings from an uploaded JSON file, as `--settings` reads it."""
    import json

    try:
        found = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise UsageError(
            f"the settings file is not JSON: {exc}", where="settings", fix="give a JSON file"
        ) from exc
    if not isinstance(found, dict):
        raise UsageError(
            "the settings file is not a JSON object",
            where="settings",
            fix='give {"currency": ..., "groups": [...], ...}',
        )
    return found
