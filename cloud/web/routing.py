"""What a page module of head office's web application is handed by `create_app`, and the
one way a form's field is read: said once for the publish, accounts and reports pages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from cloud.web.accounts import Account

Page = Callable[..., Response]  # renders a template with its values
Who = Callable[[Request], Any]  # (session, account) or None
Guard = Callable[[Callable[[Request, Any, Account], Response]], Callable[[Request], Response]]


def form_text(form: FormData, name: str) -> str:
    """A form field as text, trimmed; "" when it is missing or a file."""
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def local_path(path: str, default: str = "/") -> str:
    """A redirect target on this site only (no scheme, no `//host`, no backslash)."""
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        return default
    return path
