"""The technician page: `/tech` on the screens' server (docs/technician.md).

Owns the page's HTTP only: its routes, its sessions and its templates
(templates/technician*.html). What it shows and does is asked of the box as typed
requests (below) through a `TechnicianDesk`; in `gateway run` that is
`gateway.daemon.technician.BoxDesk`, which runs each one on the daemon's main loop with
the same functions the CLI runs. Nothing here touches the lane, the database or a device.

Access, on top of the screens' own rules (`HostAndHeaders` of gateway/screens/app.py: the
`Host` allow-list, the CSP and the other security headers, HTTPS when a certificate is
set): loopback only unless `[screens] lan = true`; the kiosk cookie does not open it;
sign-in is staff number + PIN + the person's TOTP code, checked by the box as the box
action `service_devices` (roles technician and admin; a code is good once). The session
is a `StaffSession` of its own cookie (path `/tech`, HttpOnly, SameSite=Strict, Secure
under HTTPS) with the screens' idle timeout and lifetime. Every POST after sign-in carries
the session's CSRF token in its form and htmx's `HX-Request` header.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any, Protocol

from jinja2 import Environment
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from gateway.lane.events import Refusal
from gateway.screens.access import (
    Clock,
    StaffSession,
    StaffSessions,
    is_loopback,
    same_secret,
)
from gateway.screens.settings import ScreensSettings

TECH_COOKIE = "storegate_tech"
TECH_CSRF_COOKIE = "storegate_tech_csrf"
PREFIX = "/tech"
BOX_ACTION = "service_devices"  # gateway.lane.settings: technician, admin; TOTP needed
MAX_CODE = 256
SIGN_IN_FIELDS = ("staff_id", "pin", "totp")


# -- what the page asks of the box ------------------------------------------------------


@dataclass(frozen=True)
class Technician:
    """Who is signed in to the technician page."""

    staff_id: str
    name: str
    role: str


@dataclass(frozen=True)
class SignIn:
    """Staff number, PIN and TOTP code, checked as the box action `service_devices`;
    answered with a `Technician` or the `Refusal`."""

    staff_id: str
    pin: str
    totp: str
    source: str


@dataclass(frozen=True)
class Overview:
    """Devices as the daemon runs them, printers, network and sync, the journal, alerts."""


@dataclass(frozen=True)
class DeviceReview:
    """What `gateway devices list` says: configured devices found or missing, and every
    other plugged-in device with what it probably is and why no entry claimed it."""


@dataclass(frozen=True)
class Events:
    """The live events numbered above `after` (scans with symbology, weights, cards
    masked, device states)."""

    after: int


@dataclass(frozen=True)
class ReadScale:
    """Each scale's newest reading."""


@dataclass(frozen=True)
class PrintTestPage:
    """A test page on every configured printer, through the printer thread."""

    by: Technician


@dataclass(frozen=True)
class OpenDrawer:
    """The cash drawer opened once, journalled as a `box_action` naming `by`."""

    by: Technician


@dataclass(frozen=True)
class TestScan:
    """`code` read as the lane reads a scan (symbology, check digit, the product it
    finds) without selling anything."""

    code: str
    by: Technician


@dataclass(frozen=True)
class Doctor:
    """`gateway doctor`'s findings."""


@dataclass(frozen=True)
class SettingsCheck:
    """`gateway config check`: the settings file loads, shown with secrets masked."""


@dataclass(frozen=True)
class LogLines:
    """The daemon's recent log lines (card data masked)."""


TechRequest = (
    SignIn
    | Overview
    | DeviceReview
    | Events
    | ReadScale
    | PrintTestPage
    | OpenDrawer
    | TestScan
    | Doctor
    | SettingsCheck
    | LogLines
)


class TechnicianDesk(Protocol):
    """Who answers the page's requests (gateway.daemon.technician.BoxDesk in the daemon).
    Called on a worker thread; blocks until the box answered."""

    def ask(self, request: TechRequest) -> Any: ...


# -- the page ---------------------------------------------------------------------------

TESTS = ("scale", "print", "drawer", "scan", "doctor", "settings", "devices")
PARTS = ("events", "state", "log")


class TechnicianPage:
    """The routes of `/tech` over one desk."""

    def __init__(
        self,
        desk: TechnicianDesk,
        settings: ScreensSettings,
        env: Environment,
        clock: Clock = time.monotonic,
    ) -> None:
        self.desk = desk
        self.settings = settings
        self.env = env
        self.https = settings.https
        self.sessions = StaffSessions.of(settings, clock)
        self.who: dict[str, Technician] = {}

    def render(self, name: str, **context: Any) -> str:
        return self.env.get_template(name).render(**context)

    async def ask(self, request: TechRequest) -> Any:
        return await run_in_threadpool(self.desk.ask, request)

    def _session(
        self, request: Request, *, touch: bool = True
    ) -> tuple[StaffSession, Technician] | None:
        """The signed-in technician; `touch`: the request counts as activity (the parts'
        polling does not, so an open page left alone still ends at the idle timeout)."""
        session = self.sessions.find(request.cookies.get(TECH_COOKIE), touch=touch)
        if session is None:
            return None
        who = self.who.get(session.token)
        return None if who is None else (session, who)

    def _here(self, request: Request) -> bool:
        host = request.client.host if request.client else None
        return is_loopback(host) or self.settings.lan

    # -- pages -------------------------------------------------------------------------

    async def page(self, request: Request) -> Response:
        if not self._here(request):
            return PlainTextResponse("The technician page is served to this box only.", 403)
        signed_in = self._session(request)
        if signed_in is None:
            return self.login_form("", 200)
        session, who = signed_in
        parts = {name: await self._part(name) for name in PARTS}
        return HTMLResponse(self.render("technician.html", who=who, csrf=session.csrf, parts=parts))

    def login_form(self, error: str, status: int) -> Response:
        """Double-submit CSRF, as the screens' own login (a cross-site form can neither
        read the SameSite=Strict cookie nor send it)."""
        csrf = secrets.token_urlsafe(24)
        response = HTMLResponse(
            self.render("technician_login.html", error=error, csrf=csrf), status_code=status
        )
        response.set_cookie(
            TECH_CSRF_COOKIE,
            csrf,
            path=PREFIX,
            httponly=True,
            samesite="strict",
            secure=self.https,
        )
        return response

    async def login(self, request: Request) -> Response:
        if not self._here(request):
            return PlainTextResponse("The technician page is served to this box only.", 403)
        form = await request.form()
        if not same_secret(str(form.get("csrf") or ""), request.cookies.get(TECH_CSRF_COOKIE)):
            return self.login_form("The form had expired: sign in again.", 403)
        host = request.client.host if request.client else "unknown"
        staff_id, pin, totp = (
            str(form.get(k) or "")[:MAX_CODE] for k in ("staff_id", "pin", "totp")
        )
        who = await self.ask(SignIn(staff_id, pin, totp, f"technician page {host}"))
        if isinstance(who, Refusal):
            return self.login_form(_refusal_words(who), 401)
        old = self.sessions.close(request.cookies.get(TECH_COOKIE))  # no session fixation
        if old is not None:
            self.who.pop(old.token, None)
        session = self.sessions.open(who.staff_id)
        for token in [t for t in self.who if self.sessions.find(t, touch=False) is None]:
            del self.who[token]  # sessions that ended by themselves
        self.who[session.token] = who
        response = RedirectResponse(PREFIX, status_code=303)
        response.set_cookie(
            TECH_COOKIE,
            session.token,
            path=PREFIX,
            httponly=True,
            samesite="strict",
            secure=self.https,
            max_age=self.sessions.cookie_seconds,
        )
        response.delete_cookie(TECH_CSRF_COOKIE, path=PREFIX)
        return response

    async def logout(self, request: Request) -> Response:
        signed_in = self._session(request)
        form = await request.form()
        if signed_in is not None:
            session, _ = signed_in
            if not same_secret(str(form.get("csrf") or ""), session.csrf):
                return PlainTextResponse("Sign out from the technician page itself.", 403)
            self.sessions.close(session.token)
            self.who.pop(session.token, None)
        response = RedirectResponse(PREFIX, status_code=303)
        response.delete_cookie(TECH_COOKIE, path=PREFIX)
        return response

    # -- parts and tests -----------------------------------------------------------------

    async def part(self, request: Request) -> Response:
        if not self._here(request) or self._session(request, touch=False) is None:
            return PlainTextResponse("Sign in first.", 401)
        name = request.path_params["name"]
        if name not in PARTS:
            return PlainTextResponse("No such part.", 404)
        after = request.query_params.get("after", "0")
        return HTMLResponse(await self._part(name, int(after) if after.isdigit() else 0))

    async def _part(self, name: str, after: int = 0) -> str:
        if name == "events":
            return self.render("technician_events.html", events=await self.ask(Events(after)))
        if name == "log":
            return self.render("technician_log.html", lines=await self.ask(LogLines()))
        return self.render("technician_state.html", box=await self.ask(Overview()))

    async def test(self, request: Request) -> Response:
        """A test button: signed in, the session's CSRF token, from the page's own htmx."""
        if not self._here(request):
            return PlainTextResponse("The technician page is served to this box only.", 403)
        signed_in = self._session(request)
        if signed_in is None:
            return PlainTextResponse("Sign in first.", 401)
        session, who = signed_in
        form = await request.form()
        if request.headers.get("HX-Request") != "true" or not same_secret(
            str(form.get("csrf") or ""), session.csrf
        ):
            return PlainTextResponse("Tests are run from the technician page itself.", 403)
        name = request.path_params["name"]
        if name not in TESTS:
            return PlainTextResponse("No such test.", 404)
        context: dict[str, Any] = {"test": name}
        if name == "scale":
            context["readings"] = await self.ask(ReadScale())
        elif name == "print":
            context["lines"] = await self.ask(PrintTestPage(who))
        elif name == "drawer":
            context["lines"] = await self.ask(OpenDrawer(who))
        elif name == "scan":
            code = str(form.get("code") or "").strip()[:MAX_CODE]
            context["lines"] = await self.ask(TestScan(code, who)) if code else ["no code given"]
        elif name == "doctor":
            context["findings"] = await self.ask(Doctor())
        elif name == "settings":
            context["check"] = await self.ask(SettingsCheck())
        else:
            context["review"] = await self.ask(DeviceReview())
        return HTMLResponse(self.render("technician_result.html", **context))


def _refusal_words(refusal: Refusal) -> str:
    """One answer for a wrong number, PIN or code (no hint which one was wrong); the
    others say what to do."""
    if refusal.code in ("wrong_pin", "wrong_second_factor", "unknown_staff"):
        return "Not signed in: staff number, PIN or authenticator code not accepted."
    return f"Not signed in: {refusal.message}"


def technician_routes(page: TechnicianPage) -> list[Route]:
    """The `/tech` routes, for `gateway.screens.app.create_app`."""
    return [
        Route(PREFIX, page.page),
        Route(f"{PREFIX}/login", page.login, methods=["POST"]),
        Route(f"{PREFIX}/logout", page.logout, methods=["POST"]),
        Route(PREFIX + "/part/{name}", page.part),
        Route(PREFIX + "/test/{name}", page.test, methods=["POST"]),
    ]
