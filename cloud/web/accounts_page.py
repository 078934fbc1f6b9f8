"""`/accounts` in head office's pages: an admin lists the web accounts (role, scope, TOTP
on or off, locked, disabled), adds one, changes its role and scope, disables or enables
it, unlocks it after a lockout and gives it a new password. It also lists the API tokens
programs (an ERP) use, adds one and revokes one: `cloud.web.api`'s functions, the ones
`cloud web token add|revoke` calls, with the same checks; a token is shown once on the
answer, kept only as its SHA-256 and audited by name (`token.add`, `token.revoke`), never
itself.

Every change is `cloud.web.accounts`' (the functions `cloud web user add` uses), with its
checks: an unknown store or group is refused, the last admin is never disabled or demoted.
Each is audited with the admin who made it. A password is always chosen by head office
(`new_password`), shown once on the answer to that POST and never again: no admin types
or picks one, so none is weak, reused or seen in a form's history, and none is stored or
audited in the clear. Only an admin sees the page or changes anything: every other role
gets 403, by page and by POST (after the CSRF check every POST has).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from cloud.clock import Clock, iso
from cloud.db import Database
from cloud.stores import groups, known_stores
from cloud.web.accounts import (
    ROLES,
    Account,
    account_rows,
    add_account,
    new_password,
    reset_password,
    set_disabled,
    set_role,
    unlock,
)
from cloud.web.api import add_token, revoke_token, tokens
from cloud.web.routing import CsrfOk, Guard, Page, Who, form_text, posted, refusal
from gateway.errors import StoregateError

ADMINS_ONLY = "Only an admin manages accounts."
WHERE = "/accounts"
TOKENS = "/accounts (API tokens)"


def routes(
    open_db: Callable[[], Database],
    clock: Clock,
    signed_in: Guard,
    who: Who,
    csrf_ok: CsrfOk,
    page: Page,
) -> list[Route]:
    """`/accounts` and its POSTs, for `create_app`."""

    refuse = refusal(page)

    def list_page(session: Any, account: Account, status: int = 200, **extra: Any) -> Response:
        db = open_db()
        try:
            rows = account_rows(db, clock())
            token_rows = tokens(db)
            stores, found = sorted(known_stores(db)), sorted(groups(db))
        finally:
            db.close()
        return page(
            "accounts.html",
            status,
            account=account,
            csrf=session.csrf,
            rows=rows,
            tokens=token_rows,
            roles=ROLES,
            stores=stores,
            groups=found,
            error=extra.pop("error", None),
            form=extra.pop("form", {}),
            token_form=extra.pop("token_form", {}),
            **extra,
        )

    def show(request: Request, session: Any, account: Account) -> Response:
        if account.role != "admin":
            return refuse(403, ADMINS_ONLY, session, account)
        return list_page(session, account)

    def admin_post(
        change: Callable[[Database, Account, FormData, str], str | None],
        shown: str = "account_password.html",
        keep: str | None = None,
    ) -> Callable[[Request], Awaitable[Response]]:
        """A POST only an admin makes: signed in, then the session's CSRF token, then the
        role. `change` returns a secret (a password, a token) to show once on `shown`, or
        None (back to the list); refused, the form is shown again under `keep`."""

        async def endpoint(request: Request) -> Response:
            got = await posted(request, who, csrf_ok, page)
            if isinstance(got, Response):
                return got
            session, account, form = got
            if account.role != "admin":
                return refuse(403, ADMINS_ONLY, session, account)
            refused: str | None = None
            password: str | None = None
            db = open_db()
            try:
                password = change(db, account, form, iso(clock()))
            except StoregateError as exc:
                refused = exc.describe()
            finally:
                db.close()
            if refused is not None:
                again = {keep: dict(form)} if keep else {}
                return list_page(session, account, 400, error=refused, **again)
            if password is None:
                return RedirectResponse("/accounts", status_code=303)
            return page(
                shown,
                account=account,
                csrf=session.csrf,
                for_account=form_text(form, "name"),
                password=password,
            )

        return endpoint

    def add(db: Database, admin: Account, form: FormData, now: str) -> str | None:
        password = new_password()
        name, role, scope = (
            form_text(form, "name"),
            form_text(form, "role"),
            form_text(form, "scope"),
        )
        add_account(
            db, name, role, scope, password, by=admin.name, now=now, replace=False, where=WHERE
        )
        return password

    def role(db: Database, admin: Account, form: FormData, now: str) -> str | None:
        name = form_text(form, "name")
        set_role(
            db,
            name,
            form_text(form, "role"),
            form_text(form, "scope"),
            by=admin.name,
            now=now,
            where=WHERE,
        )
        return None

    def disable(db: Database, admin: Account, form: FormData, now: str) -> str | None:
        set_disabled(db, form_text(form, "name"), True, by=admin.name, now=now, where=WHERE)
        return None

    def enable(db: Database, admin: Account, form: FormData, now: str) -> str | None:
        set_disabled(db, form_text(form, "name"), False, by=admin.name, now=now, where=WHERE)
        return None

    def unlocked(db: Database, admin: Account, form: FormData, now: str) -> str | None:
        unlock(db, form_text(form, "name"), by=admin.name, now=now, where=WHERE)
        return None

    def password(db: Database, admin: Account, form: FormData, now: str) -> str | None:
        fresh = new_password()
        reset_password(db, form_text(form, "name"), fresh, by=admin.name, now=now, where=WHERE)
        return fresh

    def token(db: Database, admin: Account, form: FormData, now: str) -> str | None:
        name, role, scope = (
            form_text(form, "name"),
            form_text(form, "role"),
            form_text(form, "scope"),
        )
        return add_token(db, name, role, scope, by=admin.name, now=now, where=TOKENS)

    def revoke(db: Database, admin: Account, form: FormData, now: str) -> str | None:
        revoke_token(db, form_text(form, "name"), by=admin.name, now=now, where=TOKENS)
        return None

    return [
        Route("/accounts", signed_in(show), methods=["GET"]),
        Route("/accounts/add", admin_post(add, keep="form"), methods=["POST"]),
        Route(
            "/accounts/tokens/add",
            admin_post(token, "token_new.html", keep="token_form"),
            methods=["POST"],
        ),
        Route("/accounts/tokens/revoke", admin_post(revoke), methods=["POST"]),
        Route("/accounts/role", admin_post(role), methods=["POST"]),
        Route("/accounts/disable", admin_post(disable), methods=["POST"]),
        Route("/accounts/enable", admin_post(enable), methods=["POST"]),
        Route("/accounts/unlock", admin_post(unlocked), methods=["POST"]),
        Route("/accounts/password", admin_post(password), methods=["POST"]),
    ]
