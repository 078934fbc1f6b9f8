"""`/stores` in head office's pages: every store the account may see, with its boxes and
groups (`cloud stores list`, `cloud groups list`); an admin registers stores (`cloud stores
add`) and puts stores into a group or takes them out (`cloud groups add|remove`).

Every change is `cloud.stores`' (the CLI's own functions, with its checks): a store id that
cannot be one is refused, and so is a store head office does not know, naming it, with
nothing changed. Each change is audited with the admin who made it. A regional or store
manager reads its own stores only (and of a group only those stores); an auditor reads
every store; only an admin changes anything: every other role gets 403, by POST (after the
CSRF check every POST has).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from cloud.clock import Clock, iso
from cloud.db import Database
from cloud.stores import add_stores, groups, set_group, store_rows
from cloud.web.accounts import Account, audit, visible_stores
from cloud.web.routing import CsrfOk, Guard, Page, Who, form_text, posted, refusal
from gateway.errors import StoregateError, UsageError

ADMINS_ONLY = "Only an admin registers stores and changes store groups."
WHERE = "/stores"


def store_list(text: str, where: str) -> list[str]:
    """The store ids typed into a form, separated by spaces or commas; none is refused."""
    stores = [s for s in re.split(r"[\s,]+", text) if s]
    if not stores:
        raise UsageError(
            "no store named", where=where, fix="type one store id or more, e.g. store-1 store-2"
        )
    return stores


def routes(
    open_db: Callable[[], Database],
    clock: Clock,
    signed_in: Guard,
    who: Who,
    csrf_ok: CsrfOk,
    page: Page,
) -> list[Route]:
    """`/stores` and its POSTs, for `create_app`."""

    refuse = refusal(page)

    def list_page(session: Any, account: Account, status: int = 200, **extra: Any) -> Response:
        db = open_db()
        try:
            seen = set(visible_stores(db, account))
            rows = [r for r in store_rows(db) if r[0] in seen]
            every = account.role in ("admin", "auditor")
            found = {
                name: members if every else [s for s in members if s in seen]
                for name, members in groups(db).items()
            }
        finally:
            db.close()
        return page(
            "stores.html",
            status,
            account=account,
            csrf=session.csrf,
            rows=rows,
            groups={name: members for name, members in found.items() if members},
            error=extra.pop("error", None),
            form=extra.pop("form", {}),
            **extra,
        )

    def show(request: Request, session: Any, account: Account) -> Response:
        return list_page(session, account)

    def admin_post(
        change: Callable[[Database, Account, FormData, str], None],
    ) -> Callable[[Request], Awaitable[Response]]:
        """A POST only an admin makes: signed in, then the session's CSRF token, then the
        role; a refused change shows the page again with the error and what was typed."""

        async def endpoint(request: Request) -> Response:
            got = await posted(request, who, csrf_ok, page)
            if isinstance(got, Response):
                return got
            session, account, form = got
            if account.role != "admin":
                return refuse(403, ADMINS_ONLY, session, account)
            refused: str | None = None
            db = open_db()
            try:
                change(db, account, form, iso(clock()))
            except StoregateError as exc:
                refused = exc.describe()
            finally:
                db.close()
            if refused is not None:
                again = {"form": request.url.path, **{k: form_text(form, k) for k in form}}
                return list_page(session, account, 400, error=refused, form=again)
            return RedirectResponse("/stores", status_code=303)

        return endpoint

    def add(db: Database, admin: Account, form: FormData, now: str) -> None:
        where = f"{WHERE}: Register stores"
        stores = store_list(form_text(form, "stores"), where)
        name = form_text(form, "name") or None
        add_stores(db, stores, name, now, where)
        with db.transaction():
            audit(db, admin.name, "stores.add", {"stores": stores, "name": name}, now)

    def group_change(remove: bool) -> Callable[[Database, Account, FormData, str], None]:
        def change(db: Database, admin: Account, form: FormData, now: str) -> None:
            group = form_text(form, "group")
            where = f"{WHERE}: {'Take out of' if remove else 'Put into'} group {group!r}"
            if not group:
                raise UsageError("no group named", where=where, fix="type the group's name")
            stores = store_list(form_text(form, "stores"), where)
            set_group(db, group, stores, remove=remove, where=where)
            action = "group.remove" if remove else "group.add"
            with db.transaction():
                audit(db, admin.name, action, {"group": group, "stores": stores}, now)

        return change

    return [
        Route("/stores", signed_in(show), methods=["GET"]),
        Route("/stores/add", admin_post(add), methods=["POST"]),
        Route("/groups/add", admin_post(group_change(False)), methods=["POST"]),
        Route("/groups/remove", admin_post(group_change(True)), methods=["POST"]),
    ]
