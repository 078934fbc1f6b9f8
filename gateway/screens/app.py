"""The screens' web app (Starlette): the cashier page, the customer page, their pushed
updates (server-sent events), the key actions, the kiosk link and the staff login.

Owns HTTP only: routes, templates, which rule of `gateway.screens.access` applies where.
Every action goes to the `ScreenHub`, which hands lane events to the lane; nothing here
prices or journals. Pages are rendered on the box (Jinja2) and swapped in by htmx from
server-sent events; htmx, its SSE extension and the key script are vendored under static/
(no CDN, no build step).

Access (docs/screens.md "Access"): every request's `Host` must be one of the box's names;
every answer carries the security headers. The kiosk browser on the box is started with
the kiosk link (`/kiosk?token=...`, the token from the daemon's 0600 file), which becomes
an HttpOnly SameSite=Strict cookie, honoured from loopback only. Anyone else (a local
process, a tablet with `[screens] lan = true`) signs in at /login (staff number + PIN,
CSRF token, counted toward the staff member's lockout) and gets a session that ends at
logout, when idle or at its lifetime, and with it its event streams. Without `lan` a
request from elsewhere is refused. Actions are POSTs that must carry htmx's `HX-Request`
header, which a cross-site form cannot send.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib import resources
from typing import Any

import qrcode
import qrcode.image.svg
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape
from sse_starlette.sse import EventSourceResponse
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.i18n import LANGUAGE_NAMES, refusal_text
from gateway.lane.events import Refusal
from gateway.screens.access import (
    CSRF_COOKIE,
    KIOSK_COOKIE,
    SESSION_COOKIE,
    Clock,
    StaffSession,
    StaffSessions,
    allowed_hosts,
    host_allowed,
    is_loopback,
    local_path,
    same_secret,
    security_headers,
)
from gateway.screens.hub import ScreenHub
from gateway.screens.keys import KEYS
from gateway.screens.technician import TechnicianDesk, TechnicianPage, technician_routes
from gateway.screens.view import ScreenView

PACKAGE = resources.files("gateway.screens")
CASHIER_PARTS = ("status", "basket", "side", "prompt", "message")
CUSTOMER_PARTS = ("customer",)
KIOSK_COOKIE_SECONDS = 366 * 24 * 3600
# An idle stream says it is alive this often; the page (live.js) calls the till gone when
# it hears nothing for BEAT_LOST_MS, so a daemon that stopped (or hangs) shows within 2 s.
BEAT_S = 0.5
LOGIN_FAILURES = ("wrong_pin", "locked_out")  # one answer: no hint which staff ids exist


def qr_svg(text: str) -> Markup:
    """The QR code as inline SVG, made on the box (no image service, no JS)."""
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2)
    svg = image.to_string(encoding="unicode")
    return Markup(svg[svg.index("<svg") :])  # our own SVG: no user markup in it


def templates() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(PACKAGE / "templates")),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["qr_svg"] = qr_svg
    env.globals["KEYS"] = KEYS
    env.globals["LANGUAGE_NAMES"] = LANGUAGE_NAMES
    return env


class ScreensApp:
    """The routes over one hub."""

    def __init__(
        self, hub: ScreenHub, *, kiosk_token: str | None, clock: Clock = time.monotonic
    ) -> None:
        self.hub = hub
        self.env = templates()
        self.kiosk_token = kiosk_token
        self.sessions = StaffSessions.of(hub.settings, clock)
        self.https = hub.settings.https
        self._rendered: tuple[ScreenView | None, dict[str, Markup]] = (None, {})

    def render(self, name: str, **context: Any) -> str:
        view = context.pop("view", None) or self.hub.view
        return self.env.get_template(name).render(view=view, t=self.hub.t, hub=self.hub, **context)

    def parts(self, view: ScreenView, names: tuple[str, ...]) -> dict[str, Markup]:
        """Each pushed part of a page, rendered (and escaped) by its own template. A view
        is rendered once however many pages follow it (a Pi serves the kiosk, the customer
        display and tablets)."""
        if self._rendered[0] is not view:
            self._rendered = (view, {})
        cache = self._rendered[1]
        for name in names:
            if name not in cache:
                cache[name] = Markup(self.render(f"_{name}.html", view=view))
        return {name: cache[name] for name in names}

    # -- pages ---------------------------------------------------------------------------

    async def cashier(self, request: Request) -> Response:
        return HTMLResponse(
            self.render(
                "cashier.html",
                parts=self.parts(self.hub.view, CASHIER_PARTS),
                session=request.state.session,
            )
        )

    async def customer(self, request: Request) -> Response:
        return HTMLResponse(
            self.render("customer.html", parts=self.parts(self.hub.view, CUSTOMER_PARTS))
        )

    async def cashier_events(self, request: Request) -> Response:
        stream = self._stream(request, CASHIER_PARTS, request.state.session)
        return EventSourceResponse(stream, ping=15)

    async def customer_events(self, request: Request) -> Response:
        stream = self._stream(request, CUSTOMER_PARTS, request.state.session)
        return EventSourceResponse(stream, ping=15)

    async def _stream(
        self, request: Request, names: tuple[str, ...], session: StaffSession | None
    ) -> AsyncIterator[dict[str, str]]:
        """Send each part again only when its HTML changed (live weight must not redraw an
        open dialog the cashier is typing into). Ends by itself when the hub closes (the
        server is stopping): a stream the server had to cancel would log a traceback at
        every shutdown, and the browser reconnects to the next daemon either way. A staff
        session's stream ends with the session (logout, idle, lifetime), saying so."""
        flag = self.hub.waiter()
        sent: dict[str, str] = {}
        try:
            while not self.hub.closed:
                flag.clear()
                if session is not None and not self.sessions.alive(session):
                    ended = f'<p class="message refusal">{escape(self.hub.t("session_ended"))} '
                    yield {"event": "message", "data": ended + '<a href="/login">⏎</a></p>'}
                    return
                for name, html in self.parts(self.hub.view, names).items():
                    if sent.get(name) != html:
                        sent[name] = html
                        yield {"event": name, "data": html}
                if await request.is_disconnected():
                    return
                if not await self._wait(flag, session):
                    yield {"event": "beat", "data": ""}
        finally:
            self.hub.forget(flag)

    async def _wait(self, flag: asyncio.Event, session: StaffSession | None) -> bool:
        """Until the next change (True), or until a heartbeat is due or `session` may have
        ended by itself (False)."""
        timeout = BEAT_S
        if session is not None:
            timeout = max(0.05, min(self.sessions.remaining(session), BEAT_S))
        try:
            await asyncio.wait_for(flag.wait(), timeout)
        except TimeoutError:
            return False
        return True

    # -- actions -------------------------------------------------------------------------

    def person(self, request: Request) -> str | None:
        """Who a request acts as: the staff member its session was opened for (a LAN
        tablet's login), or None for the till's own kiosk, whose actions are the signed-on
        cashier's. The lane checks the permissions of, and journals, this person."""
        session = getattr(request.state, "session", None)
        return session.staff_id if isinstance(session, StaffSession) else None

    async def action(self, request: Request) -> Response:
        name = request.path_params["name"]
        form = await request.form()
        entry = str(form.get("entry", ""))
        await run_in_threadpool(self.hub.press, name, entry, self.person(request))
        return Response(status_code=204)

    async def dialog(self, request: Request) -> Response:
        kind = request.path_params["kind"]
        form = await request.form()
        fields = {k: str(v) for k, v in form.items()}
        await run_in_threadpool(self.hub.submit, kind, fields, self.person(request))
        return Response(status_code=204)

    # -- the kiosk link, staff login and logout ------------------------------------------

    async def kiosk(self, request: Request) -> Response:
        """The kiosk browser's start: its token becomes the kiosk cookie (loopback only)."""
        host = request.client.host if request.client else None
        token = request.query_params.get("token")
        if not is_loopback(host) or not same_secret(token, self.kiosk_token):
            return PlainTextResponse("Not this box's kiosk link.", 403)
        response = RedirectResponse(local_path(request.query_params.get("next")), 303)
        response.set_cookie(
            KIOSK_COOKIE,
            str(token),
            max_age=KIOSK_COOKIE_SECONDS,
            httponly=True,
            samesite="strict",
            secure=self.https,
        )
        return response

    def login_page(self, request: Request, error: str, next_page: str, status: int) -> Response:
        """The login form with a fresh CSRF token, also in a cookie (double submit: a
        cross-site form can neither read the cookie nor, SameSite=Strict, send it)."""
        csrf = secrets.token_urlsafe(24)
        response = HTMLResponse(
            self.render("login.html", error=error, next=local_path(next_page), csrf=csrf),
            status_code=status,
        )
        response.set_cookie(CSRF_COOKIE, csrf, httponly=True, samesite="strict", secure=self.https)
        return response

    async def login(self, request: Request) -> Response:
        if request.method != "POST":
            return self.login_page(request, "", request.query_params.get("next", "/"), 200)
        form = await request.form()
        next_page = local_path(str(form.get("next") or "/"))
        if not same_secret(str(form.get("csrf") or ""), request.cookies.get(CSRF_COOKIE)):
            return self.login_page(request, self.hub.t("login_expired"), next_page, 403)
        host = request.client.host if request.client else "unknown"
        who = await run_in_threadpool(
            self.hub.identify_staff,
            str(form.get("staff_id", "")),
            str(form.get("pin", "")),
            f"screens {host}",
        )
        if isinstance(who, Refusal):
            error = (
                self.hub.t("login_refused")
                if who.code in LOGIN_FAILURES
                else refusal_text(self.hub.language, who.code, who.message)
            )
            return self.login_page(request, error, next_page, 401)
        self.sessions.close(request.cookies.get(SESSION_COOKIE))  # no session fixation
        session = self.sessions.open(who.id)
        response = RedirectResponse(next_page, status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            session.token,
            httponly=True,
            samesite="strict",
            secure=self.https,
            max_age=self.sessions.cookie_seconds,
        )
        response.delete_cookie(CSRF_COOKIE)
        return response

    async def logout(self, request: Request) -> Response:
        """Ends the staff session (its event streams end with it); the form's CSRF token is
        the session's own."""
        session = self.sessions.find(request.cookies.get(SESSION_COOKIE), touch=False)
        form = await request.form()
        if session is not None:
            if not same_secret(str(form.get("csrf") or ""), session.csrf):
                return PlainTextResponse("Sign out from the screens' own page.", 403)
            self.sessions.close(session.token)
            self.hub.wake()
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response


Call = Callable[[Request], Awaitable[Response]]


def guarded(screens: ScreensApp, endpoint: Call, *, post: bool = False) -> Call:
    """Apply the access rules before `endpoint` (see the module docstring);
    `request.state.session` is the staff session, None for the kiosk."""

    async def check(request: Request) -> Response:
        host = request.client.host if request.client else None
        local = is_loopback(host)
        if not local and not screens.hub.settings.lan:
            return PlainTextResponse("The screens are served to this box only.", 403)
        request.state.session = None
        kiosk = local and same_secret(request.cookies.get(KIOSK_COOKIE), screens.kiosk_token)
        if not kiosk:
            session = screens.sessions.find(request.cookies.get(SESSION_COOKIE))
            if session is None:
                if request.method == "GET" and not request.url.path.endswith("/events"):
                    return screens.login_page(request, "", request.url.path, 401)
                return PlainTextResponse("Sign in first.", 401)
            request.state.session = session
        if post and request.headers.get("HX-Request") != "true":
            return PlainTextResponse("Actions come from the screens' own pages.", 403)
        return await endpoint(request)

    return check


def only_from_here(screens: ScreensApp, endpoint: Call) -> Call:
    """The login and logout: from loopback, or from the LAN when `lan` lets it in."""

    async def check(request: Request) -> Response:
        host = request.client.host if request.client else None
        if not is_loopback(host) and not screens.hub.settings.lan:
            return PlainTextResponse("The screens are served to this box only.", 403)
        return await endpoint(request)

    return check


class HostAndHeaders:
    """Outermost layer: a request whose `Host` is not one of the box's names is refused
    (DNS rebinding: a page of evil.example resolved to 127.0.0.1 still says its own name),
    and every answer gets the security headers."""

    def __init__(self, app: ASGIApp, screens: ScreensApp) -> None:
        self.app = app
        self.names = allowed_hosts(screens.hub.settings)
        self.headers = [
            (k.lower().encode(), v.encode()) for k, v in security_headers(screens.https).items()
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.headers]
            await send(message)

        raw = dict(scope.get("headers", [])).get(b"host", b"").decode("latin-1")
        if not host_allowed(raw, self.names):
            refused = PlainTextResponse(
                "Unknown host name: open the screens by this box's address.", 421
            )
            await refused(scope, receive, with_headers)
            return
        await self.app(scope, receive, with_headers)


def end_streams(app: Starlette) -> None:
    """End the open event streams of an app made by `create_app`; before the server is
    told to exit (see `ScreensServer.stop`)."""
    screens = getattr(app.state, "screens", None)
    if isinstance(screens, ScreensApp):
        screens.hub.close()


def create_app(
    hub: ScreenHub,
    *,
    kiosk_token: str | None = None,
    clock: Clock = time.monotonic,
    technician: TechnicianDesk | None = None,
) -> Starlette:
    """The ASGI app for `hub`: mount it in `gateway run` (see docs/screens.md).
    `kiosk_token`: the kiosk link's token (`gateway.screens.access.kiosk_token`); None:
    no kiosk, everyone signs in. `clock`: monotonic seconds for the staff sessions.
    `technician`: the box's answers for the technician page (`/tech`, docs/technician.md);
    None: no technician page."""
    screens = ScreensApp(hub, kiosk_token=kiosk_token, clock=clock)
    static = StaticFiles(directory=str(PACKAGE / "static"))
    tech: list[Route] = []
    if technician is not None:
        page = TechnicianPage(technician, hub.settings, screens.env, clock)
        tech = technician_routes(page)
    app = Starlette(
        routes=[
            *tech,
            Route("/", guarded(screens, screens.cashier)),
            Route("/customer", guarded(screens, screens.customer)),
            Route("/events", guarded(screens, screens.cashier_events)),
            Route("/customer/events", guarded(screens, screens.customer_events)),
            Route("/action/{name}", guarded(screens, screens.action, post=True), methods=["POST"]),
            Route("/dialog/{kind}", guarded(screens, screens.dialog, post=True), methods=["POST"]),
            Route("/kiosk", screens.kiosk),
            Route("/login", only_from_here(screens, screens.login), methods=["GET", "POST"]),
            Route("/logout", only_from_here(screens, screens.logout), methods=["POST"]),
            Mount("/static", app=static, name="static"),
        ]
    )
    app.state.screens = screens
    app.add_middleware(HostAndHeaders, screens=screens)
    return app
