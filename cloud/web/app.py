"""`cloud web`: the Starlette application — sign-in, sessions, the pages and a small JSON
API, each request checked against the account's role and stores.

Sessions live in memory (a restart signs everyone out): an HttpOnly, SameSite=Strict cookie
(Secure under HTTPS) holding a random token, ended by signing out, after `IDLE` without a
request or `LIFETIME` after sign-in. Every form carries the session's CSRF token (the login
form a token of its own, double-submitted with a cookie); a POST without it is refused. A
store the account may not see answers 404, by page and by API alike. Pages send CSP with
`frame-ancestors 'none'` and use no inline script. The clock is injected.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from cloud.clock import Clock, iso
from cloud.db import Database
from cloud.notify import NotifySettings
from cloud.web import (
    account_page,
    accounts_page,
    alerts_page,
    api,
    box_page,
    campaigns_page,
    canteen_page,
    coupons_page,
    dividend_page,
    enrol_page,
    members_page,
    payments_page,
    publish_page,
    recommend_page,
    report_page,
    staff_page,
    stock_page,
    stores_page,
    updates_page,
    views,
)
from cloud.web.accounts import (
    SIGN_IN_REFUSED,
    Account,
    audit,
    audit_log,
    get_account,
    sign_in,
)
from cloud.web.totp_key import DEFAULT_TOTP_KEY, KeyFile

HERE = Path(__file__).parent
SESSION_COOKIE = "storegate_office"
LOGIN_CSRF_COOKIE = "storegate_office_login"
IDLE = timedelta(minutes=30)
LIVE_INTERVAL = 2.0  # seconds between two looks at the dashboard's figures for a stream
STREAM_LIFETIME = 300.0  # seconds: then the stream ends and the browser opens a new one
LIFETIME = timedelta(hours=12)
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; "
    "frame-ancestors 'none'"
)


@dataclass
class Session:
    account: str
    csrf: str
    started: datetime
    seen: datetime
    pending_totp: str | None = None  # a seed `/account` showed, until its code confirms it


class Sessions:
    """Token -> session, shared by the server's threads."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._by_token: dict[str, Session] = {}

    def start(self, account: str) -> tuple[str, Session]:
        now = self._clock()
        token = secrets.token_urlsafe(32)
        session = Session(account, secrets.token_urlsafe(24), now, now)
        with self._lock:
            self._by_token[token] = session
        return token, session

    def get(self, token: str | None) -> Session | None:
        if not token:
            return None
        now = self._clock()
        with self._lock:
            session = self._by_token.get(token)
            if session is None:
                return None
            if now - session.seen > IDLE or now - session.started > LIFETIME:
                del self._by_token[token]
                return None
            session.seen = now
            return session

    def end(self, token: str | None) -> None:
        with self._lock:
            self._by_token.pop(token or "", None)


def create_app(
    db_url: str,
    *,
    clock: Clock,
    https: bool = False,
    totp_key: KeyFile | None = None,
    publisher: publish_page.Publisher | None = None,
    enroller: enrol_page.Enroller | None = None,
    live_interval: float = LIVE_INTERVAL,
    notify_settings: NotifySettings | None = None,
) -> Starlette:
    """The application over `db_url`. `totp_key`: the key that opens the accounts' TOTP
    seeds (default: `[web] totp_key`'s default path; read at the first TOTP sign-in);
    `publisher`: what `/publish` signs and sends with (None: publishing is off);
    `enroller`: how `/boxes` approves and revokes (None: it lists only);
    `live_interval`: seconds between two renderings of a pushed dashboard;
    `notify_settings`: the `[notify]` channels `/alerts` may send a test message to."""
    key_file = totp_key or KeyFile(DEFAULT_TOTP_KEY)
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"])
    )
    sessions = Sessions(clock)

    def open_db() -> Database:
        return Database.open(db_url)

    def page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
        return HTMLResponse(env.get_template(name).render(**context), status_code=status)

    def who(request: Request) -> tuple[Session, Account] | None:
        session = sessions.get(request.cookies.get(SESSION_COOKIE))
        if session is None:
            return None
        db = open_db()
        try:
            account = get_account(db, session.account)
        finally:
            db.close()
        return None if account is None else (session, account)

    def browser_account(request: Request) -> Account | None:
        found = who(request)
        return None if found is None else found[1]

    def signed_in(
        handler: Callable[[Request, Session, Account], Response],
    ) -> Callable[[Request], Response]:
        def endpoint(request: Request) -> Response:
            found = who(request)
            if found is None:
                if request.url.path.startswith("/api/"):
                    return JSONResponse({"error": "sign in first"}, status_code=401)
                return RedirectResponse("/login", status_code=303)
            return handler(request, *found)

        return endpoint

    def cookie(response: Response, name: str, value: str) -> None:
        response.set_cookie(name, value, httponly=True, samesite="strict", secure=https, path="/")

    def login_form(request: Request) -> Response:
        token = secrets.token_urlsafe(24)
        response = page("login.html", csrf=token, error=None)
        cookie(response, LOGIN_CSRF_COOKIE, token)
        return response

    async def login(request: Request) -> Response:
        form = await request.form()
        token = str(form.get("csrf", ""))
        if not token or not secrets.compare_digest(
            token, request.cookies.get(LOGIN_CSRF_COOKIE, "")
        ):
            return page(
                "message.html", 403, text="The form has expired: open the sign-in page again."
            )
        db = open_db()
        try:
            source = request.client.host if request.client else "?"
            account = sign_in(
                db,
                str(form.get("name", "")),
                str(form.get("password", "")),
                str(form.get("code", "")),
                clock(),
                source,
                key_file,
            )
        finally:
            db.close()
        if account is None:
            fresh = secrets.token_urlsafe(24)
            response = page("login.html", 401, csrf=fresh, error=SIGN_IN_REFUSED)
            cookie(response, LOGIN_CSRF_COOKIE, fresh)
            return response
        session_token, _ = sessions.start(account.name)
        done = RedirectResponse("/", status_code=303)
        cookie(done, SESSION_COOKIE, session_token)  # a new token: no fixation
        done.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
        return done

    async def logout(request: Request) -> Response:
        found = who(request)
        form = await request.form()
        if found is not None and _csrf_ok(form.get("csrf"), found[0]):
            sessions.end(request.cookies.get(SESSION_COOKIE))
            db = open_db()
            try:
                with db.transaction():
                    audit(db, found[1].name, "sign_out", {}, iso(clock()))
            finally:
                db.close()
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    def board(request: Request, account: Account) -> views.Dashboard:
        """The dashboard for the query's group, sort and page (the same for `/`, `/live`
        and `/live/events`, so what is pushed is the page the person is on)."""
        query = request.query_params
        number = query.get("page", "1")
        db = open_db()
        try:
            return views.dashboard(
                db,
                account,
                clock().date(),
                group=query.get("group", ""),
                sort=query.get("sort", "worst"),
                page=int(number) if number.isdigit() else 1,
            )
        finally:
            db.close()

    def home(request: Request, session: Session, account: Account) -> Response:
        view = board(request, account)
        query = str(request.query_params)
        return page(
            "dashboard.html",
            view=view,
            account=account,
            csrf=session.csrf,
            query="?" + query if query else "",
        )

    def live_html(request: Request, session: Session, account: Account) -> str:
        view = board(request, account)
        return env.get_template("_live.html").render(view=view, account=account, csrf=session.csrf)

    def live(request: Request, session: Session, account: Account) -> Response:
        return HTMLResponse(live_html(request, session, account))

    def live_events(request: Request, session: Session, account: Account) -> Response:
        async def stream() -> AsyncIterator[str]:
            sent = None
            started = asyncio.get_running_loop().time()
            yield f"retry: {int(live_interval * 1000)}\n\n"
            while asyncio.get_running_loop().time() - started < STREAM_LIFETIME:
                if await request.is_disconnected():
                    return
                found = await run_in_threadpool(who, request)
                if found is None:  # signed out, timed out or disabled: the page signs in
                    yield "event: signin\ndata: /login\n\n"
                    return
                html = await run_in_threadpool(live_html, request, *found)
                if html != sent:
                    sent = html
                    yield "event: live\n" + "".join(f"data: {line}\n" for line in html.split("\n"))
                    yield "\n"
                else:
                    yield ": unchanged\n\n"
                await asyncio.sleep(live_interval)

        return StreamingResponse(
            stream(), media_type="text/event-stream", headers={"X-Accel-Buffering": "no"}
        )

    def store(request: Request, session: Session, account: Account) -> Response:
        db = open_db()
        try:
            view = views.store_view(db, account, request.path_params["store"], clock().date())
        finally:
            db.close()
        if view is None:
            return page(
                "message.html", 404, text="No such store.", account=account, csrf=session.csrf
            )
        return page("store.html", view=view, account=account, csrf=session.csrf)

    def audit_page(request: Request, session: Session, account: Account) -> Response:
        if account.role not in ("admin", "auditor"):
            return page(
                "message.html",
                403,
                text="Only admins and auditors read the audit log.",
                account=account,
                csrf=session.csrf,
            )
        db = open_db()
        try:
            rows = audit_log(db)
        finally:
            db.close()
        return page("audit.html", rows=rows, account=account, csrf=session.csrf)

    def api_sales(request: Request, session: Session, account: Account) -> Response:
        db = open_db()
        try:
            view = views.store_view(db, account, request.path_params["store"], clock().date())
        finally:
            db.close()
        if view is None:
            return JSONResponse({"error": "no such store"}, status_code=404)
        table = view.by_hour
        return JSONResponse(
            {
                "store": view.store,
                "day": str(view.day),
                "columns": table.columns,
                "rows": [[str(c) for c in row] for row in table.rows],
            }
        )

    async def headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
        if https:
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
        return response

    app = Starlette(
        routes=[
            Route("/login", login_form, methods=["GET"]),
            Route("/login", login, methods=["POST"]),
            Route("/logout", logout, methods=["POST"]),
            Route("/", signed_in(home)),
            Route("/live", signed_in(live)),
            Route("/live/events", signed_in(live_events)),
            Route("/stores/{store}", signed_in(store)),
            Route("/audit", signed_in(audit_page)),
            Route("/api/stores/{store}/sales", signed_in(api_sales)),
            *api.routes(open_db, clock, browser_account, publisher),
            *report_page.routes(open_db, clock, signed_in, page),
            *publish_page.routes(open_db, clock, signed_in, who, _csrf_ok, page, publisher),
            *accounts_page.routes(open_db, clock, signed_in, who, _csrf_ok, page),
            *stock_page.routes(open_db, clock, signed_in, who, _csrf_ok, page, publisher),
            *stores_page.routes(open_db, clock, signed_in, who, _csrf_ok, page),
            *box_page.routes(open_db, clock, signed_in, who, _csrf_ok, page, publisher),
            *enrol_page.routes(open_db, clock, signed_in, who, _csrf_ok, page, enroller),
            *members_page.routes(open_db, clock, signed_in, who, _csrf_ok, page, publisher),
            *staff_page.routes(open_db, clock, signed_in, who, _csrf_ok, page, publisher),
            *coupons_page.routes(open_db, clock, signed_in, who, _csrf_ok, page),
            *campaigns_page.routes(open_db, clock, signed_in, who, _csrf_ok, page, publisher),
            *canteen_page.routes(open_db, clock, signed_in, who, _csrf_ok, page),
            *updates_page.routes(open_db, clock, signed_in, who, _csrf_ok, page, publisher),
            *payments_page.routes(open_db, clock, signed_in, who, _csrf_ok, page),
            *dividend_page.routes(open_db, clock, signed_in, who, _csrf_ok, page),
            *recommend_page.routes(open_db, signed_in, who, _csrf_ok, page),
            *account_page.routes(open_db, clock, signed_in, who, _csrf_ok, page, key_file),
            *alerts_page.routes(open_db, clock, signed_in, who, _csrf_ok, page, notify_settings),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        ],
        middleware=[Middleware(BaseHTTPMiddleware, dispatch=headers)],
    )

    return app


def _csrf_ok(given: object, session: Session) -> bool:
    return isinstance(given, str) and bool(given) and secrets.compare_digest(given, session.csrf)
