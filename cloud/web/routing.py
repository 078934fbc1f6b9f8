"""What a page module of head office's web application is handed by `create_app`, the one
gate every POST passes first (`posted`) and the one way a form's field is read: said once
for all the page modules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from cloud.web.accounts import Account

Page = Callable[..., Response]  # renders a template with its values
Who = Callable[[Request], Any]  # (session, account) or None
Guard = Callable[[Callable[[Request, Any, Account], Response]], Callable[[Request], Response]]
CsrfOk = Callable[[object, Any], bool]  # (the form's token, the session)

EXPIRED = "The form has expired: reload the page."
FORM_PART = 1024 * 1024  # Starlette's own limit on one form field or file


Refuse = Callable[[int, str, Any, "Account | None"], Response]  # status, text, session, account


def refusal(page: Page) -> Refuse:
    """How a page module says no: the message page with its status, the header as the
    person signed in sees it (no account: the header of someone signed out)."""

    def refuse(status: int, text: str, session: Any, account: Account | None) -> Response:
        return page("message.html", status, text=text, account=account, csrf=session.csrf)

    return refuse


class Posted(NamedTuple):
    """A POST past the gate: who sent it and what."""

    session: Any
    account: Account
    form: FormData


async def posted(
    request: Request, who: Who, csrf_ok: CsrfOk, page: Page, max_part_size: int = FORM_PART
) -> Posted | Response:
    """Every POST's first two checks, in this order: signed in (else to /login), then the
    session's CSRF token (else 403, saying nothing of the account); the role, the store and
    the change are the handler's. A forged form learns nothing past this point."""
    found = who(request)
    if found is None:
        return RedirectResponse("/login", status_code=303)
    session, account = found
    form = await request.form(max_part_size=max_part_size)
    if not csrf_ok(form.get("csrf"), session):
        return refusal(page)(403, EXPIRED, session, None)
    return Posted(session, account, form)


def form_text(form: FormData, name: str) -> str:
    """A form field as text, trimmed; "" when it is missing or a file."""
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def local_path(path: str, default: str = "/") -> str:
    """A redirect target on this site only (no scheme, no `//host`, no backslash)."""
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        return default
    return path
