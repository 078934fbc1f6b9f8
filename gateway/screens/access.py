"""Who may open the screens, and from where: the kiosk's own credential, the `Host`
allow-list, staff sessions (idle timeout, absolute lifetime, logout), the login form's
CSRF token, local-only redirects and the security headers every answer carries.

Owns these rules only (no routes: gateway/screens/app.py applies them). The clock is
passed in (`time.monotonic` in the daemon), so the tests move time instead of sleeping.
See docs/screens.md "Access" for the model.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import secrets
import socket
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from gateway.screens.settings import ScreensSettings

log = logging.getLogger("storegate.screens.access")

KIOSK_COOKIE = "storegate_kiosk"
SESSION_COOKIE = "storegate_screens"
CSRF_COOKIE = "storegate_login_csrf"
TOKEN_FILE = "screens.token"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; "
    "frame-ancestors 'none'"
)
HSTS = "max-age=31536000"

Clock = Callable[[], float]


# -- the kiosk's credential -------------------------------------------------------------


def kiosk_token(path: Path) -> str:
    """The kiosk's token from `path`, made (random, mode 0600 whatever the umask) when the
    file is missing. Kept across restarts: the kiosk browser's cookie stays valid when the
    daemon restarts under it. Delete the file to change it (then restart the kiosk)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            log.warning("%s was readable by others (mode %o): made 0600", path, mode)
            path.chmod(0o600)
        token = path.read_text().strip()
        if len(token) >= 32:
            return token
        log.warning("%s held no usable token: a new one is written", path)
        path.unlink()
        return kiosk_token(path)
    with os.fdopen(fd, "w") as out:
        os.fchmod(out.fileno(), 0o600)
        token = secrets.token_urlsafe(32)
        out.write(token + "\n")
    return token


def kiosk_link(base_url: str, token: str, page: str = "/") -> str:
    """What the kiosk browser is started with (and what a person on the box opens): the
    screens set the kiosk cookie from it and go on to `page`."""
    return f"{base_url}/kiosk?token={quote(token)}&next={quote(page)}"


def same_secret(given: str | None, expected: str | None) -> bool:
    return bool(given and expected) and hmac.compare_digest(
        str(given).encode(), str(expected).encode()
    )


# -- Host ---------------------------------------------------------------------------------


def allowed_hosts(settings: ScreensSettings) -> frozenset[str]:
    """Names a browser may use for the screens: loopback, the configured listen address,
    this box's host name (and its .local), and `allowed_hosts` (the LAN names tablets use).
    An IP literal is always allowed: DNS rebinding needs a name the attacker controls."""
    names = {"localhost", settings.host.lower()}
    hostname = socket.gethostname().lower()
    names.update({hostname, f"{hostname}.local"})
    names.update(name.lower() for name in settings.allowed_hosts)
    return frozenset(names)


def host_name(header: str) -> str:
    """The name of a Host header, without port or IPv6 brackets."""
    value = header.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def host_allowed(header: str | None, names: Iterable[str]) -> bool:
    if not header:
        return False
    name = host_name(header)
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return name in names


def is_loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def local_path(target: str | None, default: str = "/") -> str:
    """`target` when it is a path on this server, else `default`: a login's `next` never
    leads elsewhere (no scheme, no `//host`, no backslash that browsers read as a slash)."""
    value = (target or "").strip()
    if (
        not value.startswith("/")
        or value.startswith("//")
        or "\\" in value
        or any(ord(c) < 0x20 for c in value)
    ):
        return default
    return value


def security_headers(https: bool) -> dict[str, str]:
    """On every answer: no framing (CSP frame-ancestors, and X-Frame-Options for old
    browsers), only the screens' own scripts and styles, no MIME sniffing, no referrer
    (the kiosk link carries its token), HSTS under HTTPS."""
    headers = {
        "Content-Security-Policy": CSP,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }
    if https:
        headers["Strict-Transport-Security"] = HSTS
    return headers


# -- staff sessions -----------------------------------------------------------------------


@dataclass
class StaffSession:
    """One signed-in browser. `staff_id` is who is logged in (the lane acts as them);
    `csrf` guards the logout form; the times are the injected clock's."""

    token: str
    staff_id: str
    started: float
    seen: float
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))


@dataclass
class StaffSessions:
    """Logged-in browsers by random token. Memory only: a daemon restart signs everyone
    out, which is the safe direction. A session ends at logout, after `idle` seconds
    without a request (PCI DSS 8.2.8), or `lifetime` seconds after login, whichever
    comes first; an event stream does not count as activity."""

    idle: float
    lifetime: float
    clock: Clock
    sessions: dict[str, StaffSession] = field(default_factory=dict)

    @classmethod
    def of(cls, settings: ScreensSettings, clock: Clock) -> StaffSessions:
        return cls(settings.session_idle_minutes * 60, settings.session_hours * 3600, clock)

    def open(self, staff_id: str) -> StaffSession:
        now = self.clock()
        session = StaffSession(secrets.token_urlsafe(32), staff_id, now, now)
        self.sessions[session.token] = session
        return session

    def remaining(self, session: StaffSession) -> float:
        """Seconds until `session` ends by itself (0 or less: it has ended)."""
        now = self.clock()
        return min(session.seen + self.idle, session.started + self.lifetime) - now

    def find(self, token: str | None, *, touch: bool = True) -> StaffSession | None:
        """The live session of `token`; a request (`touch`) counts as activity."""
        session = self.sessions.get(token or "")
        if session is None:
            return None
        if session.token not in self.sessions or self.remaining(session) <= 0:
            self.sessions.pop(session.token, None)
            return None
        if touch:
            session.seen = self.clock()
        return session

    def alive(self, session: StaffSession) -> bool:
        return session.token in self.sessions and self.remaining(session) > 0

    def close(self, token: str | None) -> StaffSession | None:
        return self.sessions.pop(token or "", None)

    @property
    def cookie_seconds(self) -> int:
        return int(self.lifetime)


def login_redirect(path: str) -> str:
    return f"/login?next={quote(local_path(path))}"
