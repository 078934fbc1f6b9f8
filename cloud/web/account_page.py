"""`/account` in head office's pages: a signed-in person's own account — its password
changed (the current one required) and its TOTP authenticator enrolled or replaced.

Both need the current password first (`cloud.web.accounts.check_own_password`: a wrong
one counts towards the lockout, so an unattended open session is no way to take the
account over). An enrolment shows the new secret and its otpauth URI once, on the answer
to that POST, and keeps the secret only in the server's memory for this session (never in
the database, a log or the audit trail) until the person confirms it with the code the
app shows; only then is it sealed with head office's TOTP key, as `cloud web user totp`
seals it, and asked at the next sign-in. Every role may do this for itself (an auditor
too: it is its own account, not the fleet); each change is audited by the person.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cloud.clock import Clock
from cloud.db import Database
from cloud.web.accounts import (
    Account,
    change_own_password,
    check_own_password,
    confirm_totp,
    new_totp_secret,
    totp_uri,
)
from cloud.web.routing import CsrfOk, Guard, Page, Who, form_text, posted
from cloud.web.totp_key import KeyFile
from gateway.errors import StoregateError


def routes(
    open_db: Callable[[], Database],
    clock: Clock,
    signed_in: Guard,
    who: Who,
    csrf_ok: CsrfOk,
    page: Page,
    key_file: KeyFile,
) -> list[Route]:
    """`/account` and its POSTs, for `create_app`."""

    def own(session: Any, account: Account, status: int = 200, **extra: Any) -> Response:
        db = open_db()
        try:
            row = db.one(
                "SELECT totp_secret IS NOT NULL FROM web_account WHERE name = ?", (account.name,)
            )
        finally:
            db.close()
        return page(
            "account.html",
            status,
            account=account,
            csrf=session.csrf,
            totp=bool(row and row[0]),
            pending=session.pending_totp is not None,
            **{"error": None, "done": None, "secret": None, "uri": None, **extra},
        )

    def show(request: Request, session: Any, account: Account) -> Response:
        return own(session, account)

    def post(
        act: Callable[[Database, Any, Account, FormData], dict[str, Any]],
    ) -> Callable[[Request], Awaitable[Response]]:
        """Signed in, the session's CSRF token, then `act`; its refusal shows the page
        again (400) with the error, nothing changed."""

        async def endpoint(request: Request) -> Response:
            got = await posted(request, who, csrf_ok, page)
            if isinstance(got, Response):
                return got
            session, account, form = got
            db = open_db()
            try:
                shown = act(db, session, account, form)
            except StoregateError as exc:
                return own(session, account, 400, error=exc.describe())
            finally:
                db.close()
            return own(session, account, **shown)

        return endpoint

    def password(db: Database, session: Any, account: Account, form: FormData) -> dict[str, Any]:
        change_own_password(
            db,
            account.name,
            str(form.get("current", "")),
            str(form.get("new", "")),
            str(form.get("again", "")),
            now=clock(),
        )
        return {"done": "Your password is changed."}

    def start(db: Database, session: Any, account: Account, form: FormData) -> dict[str, Any]:
        check_own_password(
            db, account.name, str(form.get("current", "")), clock(), "current password"
        )
        secret = new_totp_secret()
        session.pending_totp = secret
        return {"secret": secret, "uri": totp_uri(account.name, secret)}

    def confirm(db: Database, session: Any, account: Account, form: FormData) -> dict[str, Any]:
        secret = session.pending_totp
        if secret is None:
            raise StoregateError(
                "no authenticator is being enrolled",
                where="authenticator code",
                fix="start the enrolment again with your password",
            )
        confirm_totp(db, account.name, secret, form_text(form, "code"), key_file, now=clock())
        session.pending_totp = None
        return {"done": "Your authenticator is enrolled: its code is asked at every sign-in."}

    return [
        Route("/account", signed_in(show), methods=["GET"]),
        Route("/account/password", post(password), methods=["POST"]),
        Route("/account/totp", post(start), methods=["POST"]),
        Route("/account/totp/confirm", post(confirm), methods=["POST"]),
    ]
