"""The screens played as an attacker against the real `gateway run` (httpx over HTTP, and
Chromium): a local process without the kiosk's credential, a DNS-rebinding page, a framing
page, the shop network in clear, and a LAN login's sessions, lockout, CSRF, `next` and
TOTP replay. Timeouts are checked over the app with an injected clock (no 15 minute sleep)
and once for real in `gateway run` with a short idle setting."""

from __future__ import annotations

import http.server
import os
import re
import stat
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyotp
import pytest
from playwright.sync_api import Browser
from screens_testkit import Till, asgi, csrf_of, daemon_kiosk

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "daemon"))
from daemon_testkit import GATEWAY, NO_SYNC, Daemon, box_config, free_port

from gateway.database import open_database
from gateway.harness.screens_demo import CASHIER
from gateway.lane.staff import StaffDirectory
from gateway.screens.access import CSRF_COOKIE, KIOSK_COOKIE, SESSION_COOKIE, TOKEN_FILE
from gateway.screens.app import create_app
from gateway.settings import load_settings

LAN = {"X-Forwarded-For": "192.0.2.50"}  # uvicorn believes it from loopback: a LAN tablet
INSECURE_LAN = {
    **NO_SYNC,
    "STOREGATE_SCREENS__LAN": "true",
    "STOREGATE_SCREENS__INSECURE_LAN": "true",
}


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Daemon, str]]:
    """`gateway run` as shipped: loopback only, the kiosk's token in its data dir."""
    directory = tmp_path_factory.mktemp("box")
    daemon = Daemon(directory, box_config(directory), NO_SYNC)
    try:
        yield daemon, str(daemon.status()["screens"])
    finally:
        assert daemon.stop() == 0


@pytest.fixture(scope="module")
def lan_box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Daemon, str]]:
    """`gateway run` with `lan = true` over plain HTTP (insecure_lan, said loudly), and
    Carla (301), whom the lockout test locks out."""
    directory = tmp_path_factory.mktemp("lan")
    config = box_config(directory)
    db = open_database(directory / "storegate.db")
    StaffDirectory(db, load_settings(config).lane).add("301", "Carla", "cashier", pin="63917204")
    db.conn.close()
    daemon = Daemon(directory, config, INSECURE_LAN)
    try:
        yield daemon, str(daemon.status()["screens"])
    finally:
        assert daemon.stop() == 0


def staff_row(daemon: Daemon, staff_id: str) -> tuple[int, str | None]:
    """failed_pins and locked_until as the database holds them (a read-only reader)."""
    db = open_database(daemon.directory / "storegate.db", readonly=True)
    try:
        row = db.conn.execute(
            "SELECT failed_pins, locked_until FROM lane_staff WHERE id = ?", (staff_id,)
        ).fetchone()
    finally:
        db.conn.close()
    return int(row[0]), row[1]


def login_form(client: httpx.Client) -> dict[str, str]:
    form = client.get("/login")
    assert form.status_code == 200
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token is not None, form.text
    return {"csrf": token.group(1)}


def lan_login(client: httpx.Client, staff_id: str, pin: str, **extra: str) -> httpx.Response:
    """The login form as a tablet's browser fills it: its CSRF token comes along."""
    return client.post(
        "/login", data={"staff_id": staff_id, "pin": pin, **login_form(client), **extra}
    )


def lan_client(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers=LAN, timeout=20)


# -- item 5: the screens only for the till --------------------------------------------------


def test_a_local_client_without_the_kiosk_credential_is_refused(box: tuple[Daemon, str]) -> None:
    daemon, url = box
    token_file = daemon.directory / TOKEN_FILE
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    action = {"HX-Request": "true"}
    with httpx.Client(base_url=url, timeout=10) as intruder:  # any process on the box
        assert intruder.get("/").status_code == 401
        assert intruder.get("/customer").status_code == 401
        assert intruder.get("/events").status_code == 401
        assert intruder.get("/customer/events").status_code == 401
        assert intruder.post("/action/no_sale", headers=action).status_code == 401
        dialog = intruder.post("/dialog/no_sale", headers=action, data={"reason": "open"})
        assert dialog.status_code == 401
        guessed = intruder.get("/kiosk", params={"token": "x" * 43}, follow_redirects=False)
        assert guessed.status_code == 403 and KIOSK_COOKIE not in guessed.cookies
    with httpx.Client(timeout=10) as kiosk:  # the kiosk browser, started with its link
        start = kiosk.get(daemon_kiosk(url, daemon.directory), follow_redirects=False)
        assert start.status_code == 303 and start.headers["location"] == "/"
        cookie = start.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        assert kiosk.get(url + "/").status_code == 200
        assert kiosk.post(url + "/action/escape", headers=action).status_code == 204
    assert daemon.status()["lane"]["state"] == "closed"  # type: ignore[index]


def test_a_forged_host_is_refused(box: tuple[Daemon, str]) -> None:
    """DNS rebinding: a page of evil.example re-resolved to 127.0.0.1 sends its own name."""
    daemon, url = box
    port = urllib.parse.urlsplit(url).port
    kiosk = {KIOSK_COOKIE: (daemon.directory / TOKEN_FILE).read_text().strip()}
    with httpx.Client(base_url=url, timeout=10, cookies=kiosk) as client:
        assert client.get("/").status_code == 200
        for forged in (f"evil.example:{port}", "evil.example", f"127.0.0.1.evil.example:{port}"):
            answer = client.get("/", headers={"Host": forged})
            assert answer.status_code == 421, forged
            assert client.get("/login", headers={"Host": forged}).status_code == 421
            action = client.post("/action/no_sale", headers={"Host": forged, "HX-Request": "true"})
            assert action.status_code == 421
        for fine in (f"localhost:{port}", f"127.0.0.1:{port}", "127.0.0.1"):
            assert client.get("/", headers={"Host": fine}).status_code == 200, fine


def test_the_headers_forbid_framing_sniffing_and_referrers(box: tuple[Daemon, str]) -> None:
    _, url = box
    answer = httpx.get(url + "/login", timeout=10)
    csp = answer.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert answer.headers["x-frame-options"] == "DENY"
    assert "strict-transport-security" not in answer.headers  # plain HTTP: HSTS is HTTPS's
    assert httpx.get(url + "/static/keys.js").headers["x-content-type-options"] == "nosniff"


class _Attacker(http.server.BaseHTTPRequestHandler):
    """Serves one page that frames the till (a same-site origin: another port on the box,
    so the kiosk's SameSite=Strict cookie would go along)."""

    target = ""

    def do_GET(self) -> None:
        body = f'<html><body><iframe id="till" src="{self.target}/"></iframe></body></html>'
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: object) -> None:
        pass


def test_a_framing_page_cannot_load_the_till(box: tuple[Daemon, str], browser: Browser) -> None:
    daemon, url = box
    handler = type("Attacker", (_Attacker,), {"target": url})
    attacker = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    threading.Thread(target=attacker.serve_forever, daemon=True).start()
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(daemon_kiosk(url, daemon.directory))  # the kiosk's cookie is in the browser
        page.wait_for_selector("body[data-live]", state="attached")
        page.goto(f"http://127.0.0.1:{attacker.server_port}/")
        page.wait_for_load_state("load")  # the frame has loaded, or been refused
        framed = [frame for frame in page.frames if frame is not page.main_frame]
        assert len(framed) == 1
        assert not framed[0].url.startswith(url), framed[0].url  # Chromium's error page
        assert page.frame_locator("#till").locator("#basket").count() == 0
    finally:
        context.close()
        attacker.shutdown()


def test_lan_without_a_certificate_is_refused_unless_insecure_lan_says_so_loudly(
    tmp_path: Path, lan_box: tuple[Daemon, str]
) -> None:
    config = box_config(tmp_path)
    lan = {"STOREGATE_SCREENS__LAN": "true", "STOREGATE_SCREENS__HOST": "0.0.0.0"}
    check = subprocess.run(
        [str(GATEWAY), "config", "check", "--config", str(config)],
        env={**os.environ, **lan},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 2, check.stdout + check.stderr
    assert "in clear" in check.stderr and "insecure_lan" in check.stderr
    assert "Traceback" not in check.stderr
    run = subprocess.run(
        [str(GATEWAY), "run", "--config", str(config)],
        env={**os.environ, **lan},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2 and "tls_cert" in run.stderr, run.stderr
    daemon, _ = lan_box  # the same with insecure_lan = true: it runs, and says so
    assert "insecure_lan = true: staff PINs and session cookies cross" in daemon.output()


# -- item 6: sessions and lockout ----------------------------------------------------------------


def test_a_login_without_the_forms_csrf_token_is_refused(lan_box: tuple[Daemon, str]) -> None:
    daemon, url = lan_box
    before = staff_row(daemon, "201")
    with lan_client(url) as client:
        bare = client.post("/login", data={"staff_id": "201", "pin": "836104"})
        assert bare.status_code == 403 and SESSION_COOKIE not in bare.cookies
        client.get("/login")  # the CSRF cookie, but a forged form without its field
        forged = client.post("/login", data={"staff_id": "201", "pin": "836104", "csrf": "x"})
        assert forged.status_code == 403 and SESSION_COOKIE not in forged.cookies
        assert client.get("/").status_code == 401
    assert staff_row(daemon, "201") == before  # nothing checked, nothing counted


def test_login_next_leads_to_local_paths_only(lan_box: tuple[Daemon, str]) -> None:
    _, url = lan_box
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "http:/x"):
        with lan_client(url) as client:
            answer = lan_login(client, "201", "836104", next=target)
            assert answer.status_code == 303, target
            assert answer.headers["location"] == "/", target
    with lan_client(url) as client:
        kept = lan_login(client, "201", "836104", next="/customer")
        assert kept.headers["location"] == "/customer"


def test_unknown_ids_and_lockouts_read_and_take_alike(lan_box: tuple[Daemon, str]) -> None:
    """Staff 404 does not exist; 301 does and gets locked: nothing in the answers (status,
    text, time taken) tells them apart."""
    daemon, url = lan_box
    answers: dict[str, list[tuple[int, str]]] = {"404": [], "301": []}
    took: dict[str, list[float]] = {"404": [], "301": []}
    with lan_client(url) as client:
        for _ in range(8):
            for staff in ("404", "301"):
                form = login_form(client)
                started = time.monotonic()
                answer = client.post("/login", data={"staff_id": staff, "pin": "000000", **form})
                took[staff].append(time.monotonic() - started)
                body = re.sub(r'name="csrf" value="[^"]+"', "", answer.text)
                answers[staff].append((answer.status_code, body))
    assert staff_row(daemon, "301")[1] is not None  # 301 is locked out by now
    assert answers["404"] == answers["301"]
    locked = statistics.median(took["301"][-3:])  # the lockout still does a PIN's work
    assert locked > statistics.median(took["404"][-3:]) / 3, took
    with lan_client(url) as client:  # while locked, even the right PIN reads the same
        right = lan_login(client, "301", "63917204")
        assert right.status_code == 401 and "Wrong staff number or PIN" in right.text


def test_lan_failures_count_and_a_till_login_does_not_clear_them(
    lan_box: tuple[Daemon, str],
) -> None:
    daemon, url = lan_box
    with lan_client(url) as client:
        for _ in range(4):
            assert lan_login(client, CASHIER[0], "000000").status_code == 401
    assert staff_row(daemon, CASHIER[0]) == (4, None)  # counted through the main loop
    signed_on = daemon.key("sign_on", staff=CASHIER[0], pin=CASHIER[1])  # at the till
    assert signed_on["ok"], signed_on
    assert staff_row(daemon, CASHIER[0]) == (4, None)  # not another source's to clear
    with lan_client(url) as client:
        assert lan_login(client, CASHIER[0], "000000").status_code == 401
    failed, locked_until = staff_row(daemon, CASHIER[0])
    assert locked_until is not None, failed  # the fifth wrong PIN from the LAN locks


def read_stream(client: httpx.Client, path: str) -> Iterator[str]:
    """The event names of an event stream, as they come, until it ends."""
    with client.stream("GET", path) as stream:
        assert stream.status_code == 200
        for line in stream.iter_lines():
            if line.startswith("event: ") or line.startswith("data: "):
                yield line


def test_logout_ends_the_session_and_its_event_stream(lan_box: tuple[Daemon, str]) -> None:
    _, url = lan_box
    with lan_client(url) as client, lan_client(url) as other:
        assert lan_login(client, "201", "836104").status_code == 303
        page = client.get("/")
        assert page.status_code == 200
        csrf = re.search(r'action="/logout".*?name="csrf" value="([^"]+)"', page.text, re.S)
        assert csrf is not None, page.text
        other.cookies.update(client.cookies)
        seen: list[str] = []
        ended = threading.Event()

        def follow() -> None:
            seen.extend(read_stream(other, "/events"))
            ended.set()

        reader = threading.Thread(target=follow, daemon=True)
        reader.start()
        deadline = time.monotonic() + 10
        while not any("basket" in line for line in seen) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not ended.is_set()
        refused = client.post("/logout", data={"csrf": "forged"})
        assert refused.status_code == 403 and not ended.wait(0.3)
        out = client.post("/logout", data={"csrf": csrf.group(1)})
        assert out.status_code == 303 and out.headers["location"] == "/login"
        assert ended.wait(10), "the event stream outlived its session"
        assert any("session ended" in line for line in seen), seen
        assert other.get("/").status_code == 401
        assert other.get("/events").status_code == 401


def test_an_idle_session_ends_with_its_event_stream_in_gateway_run(tmp_path: Path) -> None:
    """For real, with `session_idle_minutes = 0.02` (1.2 s): the stream is no activity."""
    env = {**INSECURE_LAN, "STOREGATE_SCREENS__SESSION_IDLE_MINUTES": "0.02"}
    daemon = Daemon(tmp_path, box_config(tmp_path), env)
    try:
        url = str(daemon.status()["screens"])
        with httpx.Client(base_url=url, headers=LAN, timeout=httpx.Timeout(10)) as client:
            assert lan_login(client, "201", "836104").status_code == 303
            started = time.monotonic()
            lines = list(read_stream(client, "/events"))  # returns when the stream ends
            assert time.monotonic() - started < 10
            assert any("session ended" in line for line in lines), lines
            assert client.get("/").status_code == 401
    finally:
        assert daemon.stop() == 0


def test_sessions_end_when_idle_and_at_their_lifetime(till: Till) -> None:
    """The app's own clock moved by hand: 15 minutes idle, 12 hours at most."""
    now = [1000.0]
    app = create_app(till.hub, kiosk_token=till.kiosk_token, clock=lambda: now[0])
    till.hub.settings.lan = True
    try:
        form = asgi(app, "192.0.2.50", "GET", "/login")

        def login() -> dict[str, str]:
            good = asgi(
                app,
                "192.0.2.50",
                "POST",
                "/login",
                cookies={CSRF_COOKIE: form.cookies[CSRF_COOKIE]},
                data={"staff_id": CASHIER[0], "pin": CASHIER[1], **csrf_of(form)},
            )
            assert good.status_code == 303
            return {SESSION_COOKIE: good.cookies[SESSION_COOKIE]}

        def status(cookie: dict[str, str]) -> int:
            return asgi(app, "192.0.2.50", "GET", "/customer", cookies=cookie).status_code

        session = login()
        now[0] += 14 * 60 + 59
        assert status(session) == 200  # a request: the idle time starts again
        now[0] += 14 * 60 + 59
        assert status(session) == 200
        now[0] += 15 * 60
        assert status(session) == 401  # 15 minutes without a request
        session = login()
        for _ in range(12 * 4 + 1):  # busy all day: a request every 15 minutes less a second
            assert status(session) == 200
            now[0] += 15 * 60 - 1
        assert status(session) == 401  # 12 hours after the login, however busy
    finally:
        till.hub.settings.lan = False


def test_a_totp_code_is_accepted_once(lan_box: tuple[Daemon, str]) -> None:
    """An admin's approval code, watched and sent again, does not approve a second change."""
    daemon, _ = lan_box
    added = daemon.ask(
        {"command": "staff", "action": "add", "staff_id": "900", "name": "Ada", "role": "admin"}
        | {"pin": "58213947"}
    )
    assert added["ok"], added
    enrolled = daemon.ask(  # the first admin enrols her own authenticator with her PIN
        {"command": "staff", "action": "totp", "staff_id": "900", "by": "900"}
        | {"by_pin": "58213947"}
    )
    assert enrolled["ok"], enrolled
    secret = urllib.parse.parse_qs(urllib.parse.urlsplit(str(enrolled["text"])).query)["secret"]
    code = pyotp.TOTP(secret[0]).now()
    approval = {"by": "900", "by_pin": "58213947", "totp": code}
    change = {"command": "staff", "action": "add", "name": "Cleo", "role": "cashier"}
    first = daemon.ask({**change, "staff_id": "150", "pin": "47291133", **approval})
    assert first["ok"], first
    replay = daemon.ask({**change, "staff_id": "151", "pin": "47291244", **approval})
    assert not replay["ok"] and replay["refused"] == "wrong_second_factor", replay
