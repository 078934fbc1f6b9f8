"""Head office's HTTP API for an ERP (`/api/v1/...`, described by `/api/v1/openapi.json`):
stores, sales and items per store and period, open alerts and acknowledging them, the
fleet, and publishing a catalog, members, staff or config document to a store or a group
(its preview first, if wanted). Called with a token (`Authorization: Bearer TOKEN`, `cloud
web token add`) scoped like an account (admin, regional, store, auditor); a signed-in
browser may read it too.

Owns the `web_token` table (migration 9): a token is shown once and kept only as its
SHA-256. A store the token may not see answers 404, as the pages do; an auditor's or a
read-only token's change answers 403. Money is a decimal string, never a float.

Publishing is `/publish`'s, step for step (`cloud.web.publish_page.checked_draft`, then
`cloud.rollout`'s preview and publish, signed with the key `cloud web serve --key` loaded):
only an admin token publishes or previews (403 for every other), the request's body is the
document as the CLI reads a file, and an unknown store or group, a document the box's model
refuses or a pilot outside the group answers 400 with what, where and the fix before
anything is versioned or sent. Each publish is audited under `token:NAME`.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cloud import reports
from cloud.alerts import acknowledge, get_alert
from cloud.clock import Clock, iso
from cloud.db import Database
from cloud.fleet import fleet
from cloud.publish import parse_document
from cloud.rollout import preview_text, previews
from cloud.sales import Period, load
from cloud.web.accounts import Account, audit, check_name, check_scope, visible_stores
from cloud.web.publish_page import (
    MAX_UPLOAD,
    OFF,
    Draft,
    Publisher,
    checked_draft,
    publish_draft,
)
from cloud.web.views import alert_visible, visible_alerts
from gateway.errors import StoregateError, UsageError

PREFIX = "/api/v1"


def add_token(
    db: Database,
    name: str,
    role: str,
    scope: str | None,
    *,
    by: str,
    now: str,
    where: str = "cloud web token add",
) -> str:
    """A new token for a program (shown once, kept as its hash); scoped as an account, its
    scope checked as an account's (`check_scope`: an unknown group or store is refused,
    naming it). `cloud web token add` and `/accounts` both make tokens here."""
    check_name(name, where)
    scope = check_scope(db, role, scope, where)
    token = "sgt_" + secrets.token_urlsafe(32)
    with db.transaction():
        if db.one("SELECT 1 FROM web_token WHERE name = ?", (name,)) is not None:
            raise UsageError(
                f"there is already a token {name!r}",
                where=where,
                fix="choose another name (a revoked token's name stays taken, for the audit log)",
            )
        db.execute(
            "INSERT INTO web_token (name, role, scope, token_hash, created_at) VALUES "
            "(?, ?, ?, ?, ?)",
            (name, role, scope, _digest(token), now),
        )
        audit(db, by, "token.add", {"token": name, "role": role, "scope": scope}, now)
    return token


def revoke_token(
    db: Database, name: str, *, by: str, now: str, where: str = "cloud web token revoke"
) -> None:
    """Stop a live token at once (its row stays, for the list and the audit log)."""
    with db.transaction():
        done = db.execute(
            "UPDATE web_token SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL", (now, name)
        ).rowcount
        if not done:
            raise UsageError(
                f"no live token {name!r}",
                where=where,
                fix="see the list of tokens (`cloud web token list`)",
            )
        audit(db, by, "token.revoke", {"token": name}, now)


def tokens(db: Database) -> list[tuple[str, str, str, str, str]]:
    rows = db.query(
        "SELECT name, role, coalesce(scope, ''), created_at, coalesce(revoked_at, '') "
        "FROM web_token ORDER BY created_at"
    )
    return [(str(a), str(b), str(c), str(d), str(e)) for a, b, c, d, e in rows]


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_account(db: Database, header: str | None) -> Account | None:
    if not header or not header.startswith("Bearer "):
        return None
    row = db.one(
        "SELECT name, role, scope FROM web_token WHERE token_hash = ? AND revoked_at IS NULL",
        (_digest(header.removeprefix("Bearer ").strip()),),
    )
    return None if row is None else Account(f"token:{row[0]}", row[1], row[2])


def _table(table: reports.Table) -> dict[str, Any]:
    return {
        "title": table.title,
        "columns": table.columns,
        "rows": [dict(zip(table.columns, [str(c) for c in r], strict=True)) for r in table.rows],
    }


def _period(request: Request, today: date) -> Period:
    first = request.query_params.get("from") or str(today)
    last = request.query_params.get("to") or first
    return Period.parse(first, last)


def refused(exc: StoregateError, status: int = 400) -> JSONResponse:
    """An error as the API answers it: the CLI's text, and its parts for a program."""
    return JSONResponse(
        {"error": exc.describe(), "what": exc.what, "where": exc.where, "fix": exc.fix},
        status_code=status,
    )


def routes(
    open_db: Callable[[], Database],
    clock: Clock,
    browser_account: Callable[[Request], Account | None],
    publisher: Publisher | None = None,
) -> list[Route]:
    """The API's routes, for `create_app`; `publisher` as `/publish` has it (None:
    publishing answers 409, previews still answer)."""
    root = publisher.root if publisher else "storegate/v1"

    def answer(request: Request, handler: Callable[[Database, Account], Response]) -> Response:
        db = open_db()
        try:
            account = token_account(db, request.headers.get("authorization"))
            if account is None and request.method == "GET":
                account = browser_account(request)  # a signed-in page may read
            if account is None:
                return JSONResponse(
                    {"error": "a valid token is needed: Authorization: Bearer TOKEN"},
                    status_code=401,
                )
            return handler(db, account)
        except StoregateError as exc:
            return refused(exc)
        finally:
            db.close()

    def endpoint(
        handler: Callable[[Request, Database, Account], Response],
    ) -> Callable[[Request], Response]:
        def run(request: Request) -> Response:
            return answer(request, lambda db, account: handler(request, db, account))

        return run

    def with_body(
        handler: Callable[[Request, Database, Account, bytes], Response],
    ) -> Callable[[Request], Awaitable[Response]]:
        """A POST whose body is a document: read (at most MAX_UPLOAD bytes), then the
        token and the handler in a worker thread (signing and MQTT block)."""

        async def run(request: Request) -> Response:
            body = b""
            async for chunk in request.stream():
                body += chunk
                if len(body) > MAX_UPLOAD:
                    return JSONResponse(
                        {"error": f"the document is larger than {MAX_UPLOAD} bytes"},
                        status_code=413,
                    )
            return await run_in_threadpool(
                answer, request, lambda db, account: handler(request, db, account, body)
            )

        return run

    def store_of(request: Request, db: Database, account: Account) -> str | None:
        store = str(request.path_params["store"])
        return store if store in visible_stores(db, account) else None

    def stores(request: Request, db: Database, account: Account) -> Response:
        return JSONResponse({"stores": visible_stores(db, account)})

    def sales(request: Request, db: Database, account: Account) -> Response:
        store = store_of(request, db, account)
        if store is None:
            return JSONResponse({"error": "no such store"}, status_code=404)
        period = _period(request, clock().date())
        by = request.query_params.get("by", "day")
        if by not in ("day", "hour", "box", "cashier", "category"):
            raise UsageError(f"by={by!r}", where="by", fix="day, hour, box, cashier or category")
        table = reports.sales_by(load(db, period, store), by)
        return JSONResponse(
            {"store": store, "from": str(period.first), "to": str(period.last), **_table(table)}
        )

    def items(request: Request, db: Database, account: Account) -> Response:
        store = store_of(request, db, account)
        if store is None:
            return JSONResponse({"error": "no such store"}, status_code=404)
        period = _period(request, clock().date())
        text = request.query_params.get("limit", "50")
        if not text.isdigit() or not 1 <= int(text) <= 1000:
            raise UsageError(f"limit={text!r}", where="limit", fix="a whole number, 1 to 1000")
        limit = int(text)
        table = reports.items(load(db, period, store), limit=limit, slow=False)
        return JSONResponse(
            {"store": store, "from": str(period.first), "to": str(period.last), **_table(table)}
        )

    def alerts(request: Request, db: Database, account: Account) -> Response:
        found = visible_alerts(db, account, visible_stores(db, account))
        return JSONResponse({"alerts": [a.as_json() for a in found]})

    def ack(request: Request, db: Database, account: Account) -> Response:
        if not account.may_change:
            return JSONResponse({"error": "this token may only read"}, status_code=403)
        alert = get_alert(db, int(request.path_params["alert"]), "api")
        if not alert_visible(account, alert, visible_stores(db, account)):
            return JSONResponse({"error": "no such alert"}, status_code=404)
        now = iso(clock())
        acknowledge(db, alert.id, who=account.name, now=now)
        with db.transaction():
            audit(db, account.name, "alert.ack", {"alert": alert.id}, now)
        return JSONResponse({"ok": True, "alert": alert.id})

    def boxes(request: Request, db: Database, account: Account) -> Response:
        mine = set(visible_stores(db, account))
        return JSONResponse({"boxes": [b.as_json() for b in fleet(db) if b.store in mine]})

    def not_admin() -> JSONResponse:
        return JSONResponse(
            {
                "error": "only an admin token publishes",
                "fix": "use a token made with `cloud web token add NAME --role admin`",
            },
            status_code=403,
        )

    def draft_of(request: Request, db: Database, body: bytes) -> Draft:
        """The request as `/publish`'s form would be, checked the CLI's way."""
        query = request.query_params
        kind = str(request.path_params["kind"])
        draft = Draft(
            kind,
            query.get("store", "").strip(),
            query.get("group", "").strip(),
            query.get("pilot", "").strip(),
            query.get("box", "").strip(),
            "the request's body",
        )
        toml = request.headers.get("content-type", "").split(";")[0].strip() == "application/toml"
        draft.document = parse_document(kind, body, toml=toml, where=draft.source)
        return checked_draft(db, draft, root)

    def publish_preview(request: Request, db: Database, account: Account, body: bytes) -> Response:
        if account.role != "admin":
            return not_admin()
        draft = draft_of(request, db, body)
        shown = previews(db, draft.kind, draft.stores, draft.box or None, draft.document)
        return JSONResponse(
            {
                "kind": draft.kind,
                "target": draft.target,
                "pilot": draft.pilots,
                "stores": [
                    {"store": p.store, "published": p.published, "lines": p.lines} for p in shown
                ],
                "text": preview_text(shown),
            }
        )

    def publish_now(request: Request, db: Database, account: Account, body: bytes) -> Response:
        if account.role != "admin":
            return not_admin()
        draft = draft_of(request, db, body)
        if publisher is None:
            return JSONResponse({"error": OFF}, status_code=409)
        done = publish_draft(db, draft, publisher, account.name, clock, via="api")
        return JSONResponse(
            {
                "kind": draft.kind,
                "target": draft.target,
                "rollout": done.rollout,
                "versions": [{"store": s, "version": v} for s, v in done.versions],
                "key": publisher.key.key_id,
            }
        )

    def openapi(request: Request) -> Response:
        return JSONResponse(OPENAPI)

    return [
        Route(f"{PREFIX}/openapi.json", openapi),
        Route(f"{PREFIX}/stores", endpoint(stores)),
        Route(f"{PREFIX}/stores/{{store}}/sales", endpoint(sales)),
        Route(f"{PREFIX}/stores/{{store}}/items", endpoint(items)),
        Route(f"{PREFIX}/alerts", endpoint(alerts)),
        Route(f"{PREFIX}/alerts/{{alert:int}}/ack", endpoint(ack), methods=["POST"]),
        Route(f"{PREFIX}/fleet", endpoint(boxes)),
        Route(f"{PREFIX}/publish/{{kind}}/preview", with_body(publish_preview), methods=["POST"]),
        Route(f"{PREFIX}/publish/{{kind}}", with_body(publish_now), methods=["POST"]),
    ]


def _get(summary: str, *params: dict[str, Any]) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "security": [{"token": []}],
            "parameters": list(params),
            "responses": {
                "200": {"description": "the answer"},
                "401": {"description": "no valid token"},
                "404": {"description": "a store this token may not see, or none"},
            },
        }
    }


_STORE = {"name": "store", "in": "path", "required": True, "schema": {"type": "string"}}
_FROM = {
    "name": "from",
    "in": "query",
    "schema": {"type": "string", "format": "date"},
    "description": "first business day (default today)",
}
_TO = {
    "name": "to",
    "in": "query",
    "schema": {"type": "string", "format": "date"},
    "description": "last business day (default: from)",
}

_KIND = {
    "name": "kind",
    "in": "path",
    "required": True,
    "schema": {"enum": ["catalog", "members", "staff", "config"]},
}
_TARGET = [
    {
        "name": "store",
        "in": "query",
        "schema": {"type": "string"},
        "description": "one known store (or group, not both)",
    },
    {
        "name": "group",
        "in": "query",
        "schema": {"type": "string"},
        "description": "an existing store group (not for config)",
    },
    {
        "name": "pilot",
        "in": "query",
        "schema": {"type": "string"},
        "description": "stores of the group that get it first, comma-separated: starts a "
        "staged rollout (continued on /rollouts/ID or `cloud rollout continue`)",
    },
    {
        "name": "box",
        "in": "query",
        "schema": {"type": "string"},
        "description": "config only: the box of the store",
    },
]
_DOCUMENT = {
    "required": True,
    "description": "the document, as `cloud publish KIND FILE` reads the file (UTF-8 JSON; "
    "a config also as TOML with Content-Type application/toml); decimals kept exact",
    "content": {
        "application/json": {"schema": {"type": "object"}},
        "application/toml": {"schema": {"type": "string"}},
    },
}
_REFUSED = {
    "description": "refused before anything was versioned or sent: an unknown store or "
    "group, a document the box's model refuses, a pilot outside the group; "
    "{error, what, where, fix}"
}


def _publishing(summary: str, done: str, *extra: tuple[str, str]) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "security": [{"token": []}],
            "parameters": [_KIND, *_TARGET],
            "requestBody": _DOCUMENT,
            "responses": {
                "200": {"description": done},
                "400": _REFUSED,
                "401": {"description": "no valid token"},
                "403": {"description": "not an admin token"},
                "413": {"description": "a document larger than 16 MiB"},
                **{code: {"description": text} for code, text in extra},
            },
        }
    }


OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "storegate head office", "version": "1"},
    "components": {"securitySchemes": {"token": {"type": "http", "scheme": "bearer"}}},
    "paths": {
        f"{PREFIX}/stores": _get("the stores this token sees"),
        f"{PREFIX}/stores/{{store}}/sales": _get(
            "tickets, items, sales, refunds and net of a store by day, hour, box, cashier "
            "or category",
            _STORE,
            _FROM,
            _TO,
            {
                "name": "by",
                "in": "query",
                "schema": {"enum": ["day", "hour", "box", "cashier", "category"]},
            },
        ),
        f"{PREFIX}/stores/{{store}}/items": _get(
            "a store's best sellers in the period",
            _STORE,
            _FROM,
            _TO,
            {"name": "limit", "in": "query", "schema": {"type": "integer", "default": 50}},
        ),
        f"{PREFIX}/alerts": _get("open alerts of the token's stores"),
        f"{PREFIX}/alerts/{{alert}}/ack": {
            "post": {
                "summary": "acknowledge an alert (not for auditor tokens)",
                "security": [{"token": []}],
                "parameters": [
                    {"name": "alert", "in": "path", "required": True, "schema": {"type": "integer"}}
                ],
                "responses": {
                    "200": {"description": "acknowledged"},
                    "403": {"description": "read-only token"},
                    "404": {"description": "not this token's"},
                },
            }
        },
        f"{PREFIX}/fleet": _get(
            "every box of the token's stores: online, last seen, backlog, versions, devices"
        ),
        f"{PREFIX}/publish/{{kind}}/preview": _publishing(
            "what publishing the document would change in each store (admin tokens only; "
            "reads only)",
            "{kind, target, pilot, stores: [{store, published, lines}], text}: `text` is "
            "what `cloud publish --preview` prints",
        ),
        f"{PREFIX}/publish/{{kind}}": _publishing(
            "check, sign with head office's key and publish the document to a store or a "
            "group, the pilot stores first when given (admin tokens only; audited)",
            "{kind, target, rollout, versions: [{store, version}], key}",
            ("409", "publishing is off: the server has no signing key"),
        ),
    },
}
