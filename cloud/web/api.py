"""Head office's HTTP API for an ERP (`/api/v1/...`, described by `/api/v1/openapi.json`):
stores, sales and items per store and period, open alerts and acknowledging them, the
fleet. Called with a token (`Authorization: Bearer TOKEN`, `cloud web token add`) scoped
like an account (admin, regional, store, auditor); a signed-in browser may read it too.

Owns the `web_token` table (migration 9): a token is shown once and kept only as its
SHA-256. A store the token may not see answers 404, as the pages do; an auditor's or a
read-only token's change answers 403. Money is a decimal string, never a float.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cloud import reports
from cloud.alerts import acknowledge, get_alert
from cloud.clock import Clock, iso
from cloud.db import Database
from cloud.fleet import fleet
from cloud.sales import Period, load
from cloud.web.accounts import ROLES, Account, audit, visible_stores
from cloud.web.views import visible_alerts
from gateway.errors import StoregateError, UsageError

PREFIX = "/api/v1"


def add_token(db: Database, name: str, role: str, scope: str | None, *, by: str, now: str) -> str:
    """A new token for a program (shown once, kept as its hash); scoped as an account."""
    from cloud.stores import group_stores, require_known

    if role not in ROLES:
        raise UsageError(f"unknown role {role!r}", where="--role", fix=f"one of {', '.join(ROLES)}")
    if role == "regional":
        group_stores(db, scope or "")
    elif role == "store":
        require_known(db, [scope or ""], "cloud web token add")
    else:
        scope = None
    token = "sgt_" + secrets.token_urlsafe(32)
    with db.transaction():
        db.execute(
            "INSERT INTO web_token (name, role, scope, token_hash, created_at) VALUES "
            "(?, ?, ?, ?, ?)",
            (name, role, scope, _digest(token), now),
        )
        audit(db, by, "token.add", {"token": name, "role": role, "scope": scope}, now)
    return token


def revoke_token(db: Database, name: str, *, by: str, now: str) -> None:
    with db.transaction():
        done = db.execute(
            "UPDATE web_token SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL", (now, name)
        ).rowcount
        if not done:
            raise UsageError(
                f"no live token {name!r}",
                where="cloud web token revoke",
                fix="see `cloud web token list`",
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


def routes(
    open_db: Callable[[], Database],
    clock: Clock,
    browser_account: Callable[[Request], Account | None],
) -> list[Route]:
    """The API's routes, for `create_app`."""

    def endpoint(
        handler: Callable[[Request, Database, Account], Response],
    ) -> Callable[[Request], Response]:
        def run(request: Request) -> Response:
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
                return handler(request, db, account)
            except StoregateError as exc:
                return JSONResponse({"error": exc.describe()}, status_code=400)
            finally:
                db.close()

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
        every = account.role == "admin"
        if not (alert.store in visible_stores(db, account) or (alert.store is None and every)):
            return JSONResponse({"error": "no such alert"}, status_code=404)
        now = iso(clock())
        acknowledge(db, alert.id, who=account.name, now=now)
        with db.transaction():
            audit(db, account.name, "alert.ack", {"alert": alert.id}, now)
        return JSONResponse({"ok": True, "alert": alert.id})

    def boxes(request: Request, db: Database, account: Account) -> Response:
        mine = set(visible_stores(db, account))
        return JSONResponse({"boxes": [b.as_json() for b in fleet(db) if b.store in mine]})

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
    },
}
