"""How `gateway run` wires the screens: lane events through the daemon's own feed on its
main loop thread (`MainLoopLane`), `record` with the main loop's snapshot for events it fed
itself, `observe` for display-only device events, and the pushed parts read straight off
the event stream (no browser)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from devices.events import WeightReading, WeightStatus
from gateway.daemon.screens import Call, MainLoopLane, on_main_loop
from gateway.harness.screens_demo import CASHIER, SCALE_CAPACITIES, StepClock, demo_lane
from gateway.lane import events as ev
from gateway.lane.events import Outcome, Refusal
from gateway.lane.machine import Lane
from gateway.screens.access import KIOSK_COOKIE
from gateway.screens.app import create_app
from gateway.screens.hub import ScreenHub
from gateway.screens.serve import ScreensServer
from gateway.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
MILK = "7612345001012"


class MainLoop:
    """A daemon-like main loop: takes `Call`s from its inbox as `Box._dispatch` does; the
    lane's owner (`MainLoopLane`) is built on this thread, so it is the lane's one user."""

    def __init__(self, lane: Lane) -> None:
        self.inbox: queue.SimpleQueue[Call | None] = queue.SimpleQueue()
        self.lane = lane
        self.threads_seen: set[str] = set()
        built: queue.SimpleQueue[MainLoopLane] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, args=(built,), daemon=True)
        self.thread.start()
        self.owner = built.get(timeout=10)

    def feed(self, event: ev.Event) -> Outcome | Refusal:
        """The daemon's `Box.feed`: on the main loop only."""
        self.threads_seen.add(threading.current_thread().name)
        return self.lane.handle(event)

    def _run(self, built: queue.SimpleQueue[MainLoopLane]) -> None:
        built.put(MainLoopLane(self.lane, self.inbox, self.feed))
        while (call := self.inbox.get()) is not None:
            call.reply.put(call.fn())

    def call(self, fn: Callable[[], Any]) -> Any:
        return on_main_loop(self.inbox, fn)  # type: ignore[arg-type]


@pytest.fixture
def wired(tmp_path: Path) -> Iterator[tuple[ScreenHub, MainLoop, str]]:
    settings = load_settings(ROOT / "config" / "gateway.example.toml")
    loop = MainLoop(demo_lane(tmp_path / "storegate.db", settings))
    hub = ScreenHub(
        loop.owner,
        settings.screens,
        clock=StepClock(datetime(2026, 11, 24, 9)),
        scale_capacity=SCALE_CAPACITIES,
        store_name="Corner Shop",
    )
    app = create_app(hub, kiosk_token=KIOSK_TOKEN)
    server = ScreensServer(app, settings.screens, port=0).start()
    try:
        yield hub, loop, server.url
    finally:
        server.stop()
        loop.inbox.put(None)


KIOSK_TOKEN = "kiosk-token-of-this-test-0123456789abcdef"


def read_events(
    url: str, wanted: Callable[[dict[str, str]], bool], action: Callable[[], object]
) -> dict[str, str]:
    """Open the event stream, run `action` once it is open, return the newest HTML of each
    part as soon as `wanted` says so."""
    latest: dict[str, str] = {}
    kiosk = {KIOSK_COOKIE: KIOSK_TOKEN}
    with (
        httpx.Client(timeout=10, cookies=kiosk) as client,
        client.stream("GET", url + "/events") as stream,
    ):
        event, data, acted = "", "", False
        for raw in stream.iter_lines():
            if raw.startswith("event: "):
                event = raw[7:]
            elif raw.startswith("data: "):
                data += raw[6:] + "\n"
            elif raw == "" and event:
                latest[event], event, data = data, "", ""
                if wanted(latest):
                    return latest
                if not acted:
                    acted = True
                    action()
    raise AssertionError(f"the stream ended before the wanted part: {latest}")


def test_keys_go_through_the_daemons_feed_on_its_main_loop(
    wired: tuple[ScreenHub, MainLoop, str],
) -> None:
    hub, loop, url = wired
    hub.submit("sign_on", {"staff_id": CASHIER[0], "pin": CASHIER[1]})
    parts = read_events(
        url, lambda p: "Whole milk 1 l" in p.get("basket", ""), lambda: hub.press("enter", MILK)
    )
    assert "CHF 1.75" in parts["basket"]
    assert loop.threads_seen == {loop.thread.name}


def test_events_the_daemon_fed_itself_are_recorded(wired: tuple[ScreenHub, MainLoop, str]) -> None:
    hub, loop, _ = wired
    hub.submit("sign_on", {"staff_id": CASHIER[0], "pin": CASHIER[1]})
    scan = ev.Scan(datetime(2026, 11, 24, 9, 5), "0000000000000")
    # the daemon tells the screens what the lane said, with the lane's snapshot after it
    loop.call(lambda: hub.record(scan, loop.lane.handle(scan), loop.owner.take()))
    assert hub.view.message is not None and hub.view.message.kind == "refusal"
    assert "Barcode not read" in hub.view.message.text or "Unknown" in hub.view.message.text
    reading = WeightReading(
        "deli-scale", Decimal("0.250"), "kg", WeightStatus.STABLE, b"", datetime(2026, 11, 24, 9, 6)
    )
    hub.observe(reading)
    assert hub.view.weight == "0.250 kg" and hub.view.weight_stable
    assert loop.lane.sale is None  # observing a weight never feeds the lane


def test_snapshots_are_taken_on_the_main_loop_only(wired: tuple[ScreenHub, MainLoop, str]) -> None:
    hub, loop, _ = wired
    with pytest.raises(AssertionError, match="main loop"):
        loop.owner.take()  # this test's thread is a web thread to the owner
    before = hub.snapshot.serial
    hub.submit("sign_on", {"staff_id": CASHIER[0], "pin": CASHIER[1]})
    assert hub.snapshot.serial > before and hub.snapshot.shift is not None
    late = loop.call(loop.owner.take)
    hub.publish(late)
    stale = replace(late, serial=late.serial - 1, shift=None)
    hub.publish(stale)  # an older snapshot arriving late does not win
    assert hub.snapshot is late


def test_the_demo_day_plays_on_the_screens(till: Any) -> None:
    """`python -m gateway.harness.screens_demo` plays this script; both sales must complete."""
    from gateway.harness.screens_demo import play_day

    play_day(till.hub, till.devices, pause=0.4)
    sales = [r for r in till.lane.book.journal.read(0, 100) if r.kind == "sale"]
    assert [s.body["tenders"][0]["type"] for s in sales] == ["cash", "card"]
    assert sales[0].body["change"] == str(Decimal(20) - Decimal(sales[0].body["totals"]["due"]))
    assert sales[1].body["member"]["id"] == "M0001"
    assert till.hub.view.last_sale is not None
    assert till.hub.view.last_sale.member_name == "Alice"
    total = till.hub.view.last_sale.total
    top, bottom = till.devices.pole.wait_for("Thank you!", "Total" + total.rjust(15))
    assert (top.strip(), bottom) == ("Thank you!", "Total" + total.rjust(15))
