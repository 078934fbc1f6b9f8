"""Mounting the cashier and customer screens (gateway.screens) into `gateway run`.

Owns the glue only: the screens render the lane and turn keys into lane events, but every
lane event still goes through the daemon's main loop (`Box.feed`), which commits, prints
and counts anomalies. The main loop is the lane's and the database connection's one user
(the daemon opens it with sqlite3's `check_same_thread`): `MainLoopLane` runs each of the
screens' requests there and takes the frozen lane snapshot there, after every lane
change, whoever caused it; the web threads only read the snapshots they are handed. A
screens server that cannot start (port taken) is an alert, never a reason to stop
selling. Must not touch the database itself.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from gateway.daemon.keys import scale_capacities
from gateway.lane import events as ev
from gateway.lane.events import Outcome, Refusal
from gateway.screens.requests import Fed, LanePort, LaneRequest, LaneSnapshot
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


class MainLoopLane:
    """The screens' lane owner in `gateway run`: each request runs on the main loop (the
    thread that built this), directly when already there, else through the inbox."""

    def __init__(
        self,
        lane: LanePort,
        inbox: queue.SimpleQueue[Any],
        feed: Callable[[ev.Event], Outcome | Refusal],
    ) -> None:
        self.lane = lane
        self.inbox = inbox
        self._feed = feed
        self._main = threading.get_ident()
        self._serial = 0

    def _on_main(self, fn: Callable[[], T]) -> T:
        if threading.get_ident() == self._main:
            return fn()
        return on_main_loop(self.inbox, fn)

    def run(self, fn: Callable[[], T]) -> T:
        """`fn()` on the main loop (the screens' reprint: it reads the journal)."""
        return self._on_main(fn)

    def take(self) -> LaneSnapshot:
        """The lane as it is now; on the main loop only (it reads the book)."""
        assert threading.get_ident() == self._main, "lane snapshots are taken on the main loop"
        self._serial += 1
        return LaneSnapshot.of(self.lane, self._serial)

    def feed(self, event: ev.Event) -> Fed:
        return self._on_main(lambda: Fed(self._feed(event), self.take()))

    def ask(self, request: LaneRequest[T]) -> T:
        return self._on_main(lambda: request.run(self.lane))

    def snapshot(self) -> LaneSnapshot:
        return self._on_main(self.take)


class Screens:
    """The hub and its HTTP server, once started; `url` is None when they are off."""

    def __init__(self) -> None:
        self.hub: Any = None
        self.server: Any = None
        self.pole: Any = None
        self.owner: MainLoopLane | None = None

    @property
    def url(self) -> str | None:
        return None if self.server is None else str(self.server.url)

    def start(
        self,
        settings: GatewaySettings,
        lane: LanePort,
        inbox: queue.SimpleQueue[Any],
        feed: Callable[[ev.Event], Outcome | Refusal],
        alert: Callable[[str, str], None],
        reprint: Callable[[int | None], str | None] | None = None,
        technician: Any = None,
        stock: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        """`reprint(seq)` prints the receipt of journal record `seq` again (None: the last
        receipt, as a copy) through the printer thread, on the main loop; the screens'
        Ctrl+P and their failed-print banner use it. `technician`: the technician page's
        desk (gateway.daemon.technician.BoxDesk), served under `/tech`; None: no
        technician page. `stock(fields)`: a `{"command": "stock"}` request's answer, on the
        main loop (the cashier page's stock mode, gateway.screens.stock)."""
        config = settings.screens
        if not config.enabled:
            return
        if config.lan and config.insecure_lan and not config.https:
            log.warning(
                "screens: insecure_lan = true: staff PINs and session cookies cross the "
                "shop's network in clear (plain HTTP); give [screens] tls_cert and tls_key"
            )
        try:
            from gateway.screens.access import TOKEN_FILE, kiosk_token
            from gateway.screens.app import create_app
            from gateway.screens.hub import ScreenHub, store_clock
            from gateway.screens.serve import ScreensServer

            self.owner = MainLoopLane(lane, inbox, feed)
            self.hub = ScreenHub(
                self.owner,
                config,
                clock=store_clock(settings.store.timezone),
                scale_capacity=scale_capacities(settings.devices.scales),
                store_name=settings.store.name,
                lane_name=settings.store.box,
            )
            if reprint is not None:
                owner, print_again = self.owner, reprint
                self.hub.reprinter = lambda seq: owner.run(lambda: print_again(seq))
            if stock is not None:
                owner_, desk = self.owner, stock
                self.hub.stocker = lambda fields: owner_.run(lambda: desk(fields))
            token = kiosk_token(settings.paths.data_dir / TOKEN_FILE)
            app = create_app(self.hub, kiosk_token=token, technician=technician)
            self.server = ScreensServer(app, config).start()
            self._start_pole(settings, alert)
        except (OSError, RuntimeError, SystemExit) as exc:
            self.hub = self.server = None
            alert(
                "screens",
                f"the cashier screens could not start on "
                f"{config.host}:{config.port}: {exc} (selling goes on; free the port "
                "or set [screens] port)",
            )
            return
        log.info(
            "screens: cashier %s/  customer %s/customer  technician %s/tech  (the kiosk "
            "browser opens %s/kiosk with the token in %s)",
            self.url,
            self.url,
            self.url,
            self.url,
            settings.paths.data_dir / "screens.token",
        )

    def _start_pole(self, settings: GatewaySettings, alert: Callable[[str, str], None]) -> None:
        pole = settings.screens.pole_display
        if pole is None or self.hub is None:
            return
        from devices.pole_display import PoleDisplay
        from gateway.screens.pole import PoleFeed

        display = PoleDisplay(
            pole.port, command_set=pole.command_set, encoding=pole.encoding, baudrate=pole.baudrate
        )
        self.pole = PoleFeed(
            display,
            language=pole.language,  # None: the signed-on cashier's
            store_name=settings.store.name,
            on_error=lambda text: alert("pole_display", text),
        )
        self.hub.add_listener(self.pole)

    def record(self, event: ev.Event, answer: Outcome | Refusal) -> None:
        """The lane answered an event the daemon fed itself (a scan, the control socket);
        on the main loop, which takes the snapshot the screens render next."""
        if self.hub is not None and self.owner is not None:
            self.hub.record(event, answer, self.owner.take())

    def observe(self, event: Any) -> None:
        """A weight or a device's health: shown, never fed to the lane."""
        if self.hub is not None:
            self.hub.observe(event)

    def tick(self, online: bool | None, backlog: int) -> None:
        """Every second from the main loop's housekeeping: the clock on the page, the
        customer's thank-you timing out, and how the box stands with head office (`online`
        None: no sync) with the records it has not acknowledged yet."""
        if self.hub is not None:
            self.hub.tick()
            self.hub.sync_state(online, backlog)

    def follow_printer(self, printer: Any) -> None:
        """The printer thread's word reaches the till: each printer's state in the device
        panel, and a receipt that did not print as the banner (thread-safe hub calls)."""
        if self.hub is None:
            return
        hub = self.hub
        printer.health.listener = hub.observe

        def receipt(job: Any, printed: bool, reason: str) -> None:
            label = str(getattr(job.receipt, "document_id", "") or job.record_id)
            hub.receipt_printed(job.seq, label, printed, reason)

        printer.on_receipt = receipt

    def stock(self, shown: dict[str, Any] | None) -> None:
        """The open stock session as the stock desk shows it (None: none open): the
        cashier page shows it instead of the basket."""
        if self.hub is not None:
            self.hub.stock_shown(shown)

    def publish(self) -> None:
        """Something other than an event changed the lane (a new catalog, a reload); on
        the main loop."""
        if self.hub is not None and self.owner is not None:
            self.hub.publish(self.owner.take())

    def stop(self) -> None:
        """At SIGTERM: the server ends the pages' open event streams, then exits (see
        `ScreensServer.stop`), so a connected kiosk does not make the stop log a traceback."""
        if self.server is not None:
            self.server.stop()
