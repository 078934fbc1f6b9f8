"""Mounting the cashier and customer screens (gateway.screens) into `gateway run`.

Owns the glue only: the screens render the lane and turn keys into lane events, but every
lane event still goes through the daemon's main loop (`Box.feed`), which commits, prints
and counts anomalies. A screens server that cannot start (port taken) is an alert, never a
reason to stop selling. Must not touch the database.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from gateway.lane import events as ev
from gateway.lane.events import Outcome, Refusal
from gateway.settings import GatewaySettings

log = logging.getLogger("storegate.daemon.screens")
T = TypeVar("T")


@dataclass
class Call:
    """A function to run on the main loop, with where to put its answer (or the exception
    it raised, which `on_main_loop` raises again in the caller's thread)."""

    fn: Callable[[], Any]
    reply: queue.SimpleQueue[Any]


def on_main_loop(inbox: queue.SimpleQueue[Any], fn: Callable[[], T]) -> T:
    """Run `fn` on the daemon's main loop, the one user of the database connection, and
    wait for its answer: what the screens' web threads do instead of touching the lane."""
    reply: queue.SimpleQueue[Any] = queue.SimpleQueue()
    inbox.put(Call(fn, reply))
    answer = reply.get(timeout=20)
    if isinstance(answer, Exception):
        raise answer
    result: T = answer
    return result


class Screens:
    """The hub and its HTTP server, once started; `url` is None when they are off."""

    def __init__(self) -> None:
        self.hub: Any = None
        self.server: Any = None
        self.pole: Any = None

    @property
    def url(self) -> str | None:
        return None if self.server is None else str(self.server.url)

    def start(self, settings: GatewaySettings, lane: Any, inbox: queue.SimpleQueue[Any],
              feed: Callable[[ev.Event], Outcome | Refusal],
              alert: Callable[[str, str], None]) -> None:
        config = settings.screens
        if not config.enabled:
            return
        try:
            from gateway.screens.app import create_app
            from gateway.screens.hub import ScreenHub, store_clock
            from gateway.screens.serve import ScreensServer

            self.hub = ScreenHub(lane, config, clock=store_clock(settings.store.timezone),
                                 store_name=settings.store.name,
                                 feed=lambda event: on_main_loop(inbox, lambda: feed(event)),
                                 read=lambda query: on_main_loop(inbox, query))
            self.server = ScreensServer(create_app(self.hub), config).start()
            self._start_pole(settings, alert)
        except (OSError, RuntimeError, SystemExit) as exc:
            self.hub = self.server = None
            alert("screens", f"the cashier screens could not start on "
                  f"{config.host}:{config.port}: {exc} (selling goes on; free the port "
                  "or set [screens] port)")
            return
        log.info("screens: cashier %s/  customer %s/customer", self.url, self.url)

    def _start_pole(self, settings: GatewaySettings, alert: Callable[[str, str], None]) -> None:
        pole = settings.screens.pole_display
        if pole is None or self.hub is None:
            return
        from devices.pole_display import PoleDisplay
        from gateway.screens.pole import PoleFeed

        display = PoleDisplay(pole.port, command_set=pole.command_set, encoding=pole.encoding,
                              baudrate=pole.baudrate)
        self.pole = PoleFeed(display, language=pole.language or settings.screens.language,
                             store_name=settings.store.name,
                             on_error=lambda text: alert("pole_display", text))
        self.hub.add_listener(self.pole)

    def record(self, event: ev.Event, answer: Outcome | Refusal) -> None:
        """The lane answered an event the daemon fed itself (a scan, the control socket)."""
        if self.hub is not None:
            self.hub.record(event, answer)

    def observe(self, event: Any) -> None:
        """A weight or a device's health: shown, never fed to the lane."""
        if self.hub is not None:
            self.hub.observe(event)

    def publish(self) -> None:
        """Something other than an event changed the lane (a new catalog, a reload)."""
        if self.hub is not None:
            self.hub.publish()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
