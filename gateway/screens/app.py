"""The screens' web app (Starlette): the cashier page, the customer page, their pushed
updates (server-sent events), the key actions, and the staff login for LAN access.

Owns HTTP only: routes, templates, access rules, sessions. Every action goes to the
`ScreenHub`, which hands lane events to the lane; nothing here prices or journals. Pages
are rendered on the box (Jinja2) and swapped in by htmx from server-sent events; htmx,
its SSE extension and the key script are vendored under static/ (no CDN, no build step).

Access: a request from loopback (the kiosk browser on the box) is served as is. With
`[screens] lan = true` a request from elsewhere must carry a staff session cookie from
/login (staff number + PIN, checked by the lane's staff directory with its lockout);
without `lan` it is refused. Actions are POSTs that must carry htmx's `HX-Request`
header, which a cross-site form cannot send.
"""

from __future__ import annotations

import ipaddress
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import qrcode
import qrcode.image.svg
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from sse_starlette.sse import EventSourceResponse
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from gateway.lane.events import Refusal
from gateway.screens.hub import ScreenHub
from gateway.screens.i18n import refusal_text
from gateway.screens.keys import KEYS
from gateway.screens.view import ScreenView

PACKAGE = resources.files("gateway.screens")
SESSION_COOKIE = "storegate_screens"
SESSION_SECONDS = 12 * 3600
CASHIER_PARTS = ("basket", "side", "prompt", "message")
CUSTOMER_PARTS = ("customer",)


@dataclass
class StaffSessions:
    """Logged-in LAN browsers: random token -> (staff id, expiry). Memory only: a daemon
    restart signs everyone out, which is the safe direction."""

    seconds: int = SESSION_SECONDS
    tokens: dict[str, tuple[str, float]] = field(default_factory=dict)

    def open(self, staff_id: str) -> str:
        token = secrets.token_urlsafe(32)
        self.tokens[token] = (staff_id, time.monotonic() + self.seconds)
        return token

    def valid(self, token: str | None) -> bool:
        entry = self.tokens.get(token or "")
        if entry is None:
            return False
        if entry[1] < time.monotonic():
            del self.tokens[token or ""]
            return False
        return True

    def person(self, token: str | None) -> str | None:
        """The staff id a valid session was opened for (None: no valid session)."""
        return self.tokens[token or ""][0] if self.valid(token) else None


def is_loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
    return env


class ScreensApp:
    """The routes over one hub."""

    def __init__(self, hub: ScreenHub) -> None:
        self.hub = hub
        self.env = templates()
        self.sessions = StaffSessions()
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
            self.render("cashier.html", parts=self.parts(self.hub.view, CASHIER_PARTS))
        )

    async def customer(self, request: Request) -> Response:
        return HTMLResponse(
            self.render("customer.html", parts=self.parts(self.hub.view, CUSTOMER_PARTS))
        )

    async def cashier_events(self, request: Request) -> Response:
        return EventSourceResponse(self._stream(request, CASHIER_PARTS), ping=15)

    async def customer_events(self, request: Request) -> Response:
        return EventSourceResponse(self._stream(request, CUSTOMER_PARTS), ping=15)

    async def _stream(
        self, request: Request, names: tuple[str, ...]
    ) -> AsyncIterator[dict[str, str]]:
        """Send each part again only when its HTML changed (live weight must not redraw an
        open dialog the cashier is typing into). Ends by itself when the hub closes (the
        server is stopping): a stream the server had to cancel would log a traceback at
        every shutdown, and the browser reconnects to the next daemon either way."""
        flag = self.hub.waiter()
        sent: dict[str, str] = {}
        try:
            while not self.hub.closed:
                flag.clear()
                for name, html in self.parts(self.hub.view, names).items():
                    if sent.get(name) != html:
                        sent[name] = html
                        yield {"event": name, "data": html}
                if await request.is_disconnected():
                    return
                await flag.wait()
        finally:
            self.hub.forget(flag)

    # -- actions -------------------------------------------------------------------------

    def person(self, request: Request) -> str | None:
        """Who a request acts as: the staff member its session was opened for (a LAN
        tablet's login), or None for the till's own kiosk, whose actions are the signed-on
        cashier's. The lane checks the permissions of, and journals, this person."""
        return self.sessions.person(request.cookies.get(SESSION_COOKIE))

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

    # -- LAN login -----------------------------------------------------------------------

    async def login(self, request: Request) -> Response:
        error = ""
        if request.method == "POST":
            form = await request.form()
            who = await run_in_threadpool(
                self.hub.identify_staff, str(form.get("staff_id", "")), str(form.get("pin", ""))
            )
            if not isinstance(who, Refusal):
                response = RedirectResponse(str(form.get("next") or "/"), status_code=303)
                response.set_cookie(
                    SESSION_COOKIE,
                    self.sessions.open(who.id),
                    httponly=True,
                    samesite="strict",
                    secure=self.https,
                    max_age=self.sessions.seconds,
                )
                return response
            error = refusal_text(self.hub.language, who.code, who.message)
        next_page = request.query_params.get("next", "/")
        if not next_page.startswith("/") or next_page.startswith("//"):
            next_page = "/"
        return HTMLResponse(
            self.render("login.html", error=error, next=next_page),
            status_code=401 if error else 200,
        )


Call = Callable[[Request], Awaitable[Response]]


def guarded(screens: ScreensApp, endpoint: Call, *, post: bool = False) -> Call:
    """Apply the access rules before `endpoint` (see the module docstring)."""

    async def check(request: Request) -> Response:
        host = request.client.host if request.client else None
        if not is_loopback(host):
            if not screens.hub.settings.lan:
                return PlainTextResponse("The screens are served to this box only.", 403)
            if not screens.sessions.valid(request.cookies.get(SESSION_COOKIE)):
                if request.method == "GET" and not request.url.path.endswith("/events"):
                    return RedirectResponse(f"/login?next={request.url.path}", 303)
                return PlainTextResponse("Sign in first.", 401)
        if post and request.headers.get("HX-Request") != "true":
            return PlainTextResponse("Actions come from the screens' own pages.", 403)
        return await endpoint(request)

    return check


def end_streams(app: Starlette) -> None:
    """End the open event streams of an app made by `create_app`; before the server is
    told to exit (see `ScreensServer.stop`)."""
    screens = getattr(app.state, "screens", None)
    if isinstance(screens, ScreensApp):
        screens.hub.close()


def create_app(hub: ScreenHub) -> Starlette:
    """The ASGI app for `hub`: mount it in `gateway run` (see docs/screens.md)."""
    screens = ScreensApp(hub)
    static = StaticFiles(directory=str(PACKAGE / "static"))
    app = Starlette(
        routes=[
            Route("/", guarded(screens, screens.cashier)),
            Route("/customer", guarded(screens, screens.customer)),
            Route("/events", guarded(screens, screens.cashier_events)),
            Route("/customer/events", guarded(screens, screens.customer_events)),
            Route("/action/{name}", guarded(screens, screens.action, post=True), methods=["POST"]),
            Route("/dialog/{kind}", guarded(screens, screens.dialog, post=True), methods=["POST"]),
            Route("/login", screens.login, methods=["GET", "POST"]),
            Mount("/static", app=static, name="static"),
        ]
    )
    app.state.screens = screens
    return app
