"""The live dashboard (issue 18, item 3): `cloud web` on a real HTTP server over head
office's database (SQLite and PostgreSQL) pushes the dashboard with Server-Sent Events, and
a browser whose stream fails polls instead.

Played in Chromium: an alert acknowledged through the API leaves the open dashboard within
the push interval, with no reload; with the stream blocked the page polls and still
catches up. Played over HTTP: a store manager's stream holds only their store, ends with a
`signin` event once they signed out, and is refused to anyone not signed in; a stream
whose browser went away stops looking at the database."""

from __future__ import annotations

import time
from datetime import datetime

import httpx
from cloud_testkit import (
    OFFICE_NOW,
    add_web_user,
    alert_id,
    cloud_cli,
    serving,
    sign_in_page,
    signed_in,
)
from playwright.sync_api import Browser, Route, expect

from cloud.web.app import create_app


def ack_through_the_api(office: str, db_url: str, store: str) -> None:
    args = ["web", "token", "add", f"erp-{store}", "--role", "admin", "--db", db_url]
    status, token, err = cloud_cli(*args)
    assert status == 0, err
    answer = httpx.post(
        f"{office}/api/v1/alerts/{alert_id(db_url, store)}/ack",
        headers={"Authorization": f"Bearer {token.strip()}"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text


def test_the_dashboard_is_pushed_and_falls_back_to_polling(
    office: str, db_url: str, browser: Browser
) -> None:
    pushed = browser.new_page(viewport={"width": 1024, "height": 768})
    polled = browser.new_page(viewport={"width": 1024, "height": 768})

    def refuse(route: Route) -> None:
        route.abort()

    try:
        sign_in_page(pushed, office, "ada", "/")
        expect(pushed.locator("#live")).to_have_attribute("data-mode", "sse")
        expect(pushed.get_by_role("heading", name="Open alerts 2")).to_be_visible()
        polled.route("**/live/events", refuse)
        sign_in_page(polled, office, "otto", "/")
        expect(polled.locator("#live")).to_have_attribute("data-mode", "poll", timeout=15000)

        ack_through_the_api(office, db_url, "store-2")
        # pushed within the 2 s interval: well before the 10 s a poll would take
        expect(pushed.get_by_role("heading", name="Open alerts 1")).to_be_visible(timeout=6000)
        expect(pushed.locator("#live")).to_have_attribute("data-mode", "sse")
        expect(polled.get_by_role("heading", name="Open alerts 1")).to_be_visible(timeout=15000)

        ack_through_the_api(office, db_url, "store-1")
        expect(pushed.get_by_role("heading", name="Open alerts 0")).to_be_visible(timeout=6000)
        expect(polled.get_by_role("heading", name="Open alerts 0")).to_be_visible(timeout=15000)
        assert pushed.url == office + "/"  # never reloaded nor left
    finally:
        pushed.close()
        polled.close()


def test_a_stream_holds_only_the_accounts_stores_and_ends_with_the_session(office: str) -> None:
    anonymous = httpx.Client(base_url=office, follow_redirects=False, timeout=30)
    assert anonymous.get("/live/events").status_code == 303  # to /login
    client, csrf = signed_in(office, "sam")
    events: list[tuple[str, str]] = []
    with client.stream("GET", "/live/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        kind, data = "", []
        for line in stream.iter_lines():
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: "):
                data.append(line.removeprefix("data: "))
            elif line == "" and kind:
                events.append((kind, "\n".join(data)))
                kind, data = "", []
                if events[-1][0] == "live":
                    other = httpx.Client(base_url=office, cookies=client.cookies, timeout=30)
                    assert other.post("/logout", data={"csrf": csrf}).status_code == 303
                else:
                    break
    assert [k for k, _ in events] == ["live", "signin"]
    first = events[0][1]
    assert "store-1" in first and "store-2" not in first


def test_a_stream_stops_when_its_browser_goes_away(db_url: str) -> None:
    """The dashboard is rendered once per look (its clock read each time): after the
    client closed the stream, no more looks."""
    add_web_user(db_url, "ada", "admin")
    looks: list[datetime] = []

    def clock() -> datetime:
        looks.append(OFFICE_NOW)
        return OFFICE_NOW

    with serving(create_app(db_url, clock=clock, live_interval=0.05)) as base:
        client, _ = signed_in(base, "ada")
        with client.stream("GET", "/live/events") as stream:
            for line in stream.iter_lines():
                if line == "event: live":
                    break
        time.sleep(0.5)
        after_close = len(looks)
        time.sleep(1.0)
        assert len(looks) == after_close
