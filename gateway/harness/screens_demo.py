"""`python -m gateway.harness.screens_demo`: the cashier and customer screens with a day playing
on them, on simulated devices, for a visitor (and for the browser tests).

Owns the demo set-up only: a lane on a fresh SQLite file with demo staff and one member,
the device simulators on real ptys (serial scanner, Toledo 8217 scale, TCP receipt
printer, pole display) driven through the real drivers and `devices.runner`, the screens'
hub, app and server, and a scripted day. It prices nothing and writes the journal only
through the lane. The daemon (`gateway run`) wires the real devices the same way.
"""

from __future__ import annotations

import argparse
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from devices.cards import CardLineDecoder
from devices.events import CardEvent, DeviceEvent, utc_now
from devices.pole_display import PoleDisplay
from devices.runner import DeviceRunner, device_loops
from devices.settings import DeviceSettings
from devices.simulators.pole_display import PoleDisplaySimulator
from devices.simulators.printer import NetworkPrinterSimulator
from devices.simulators.scale import ScaleSimulator
from devices.simulators.scanner import SerialScannerSimulator
from gateway.catalog.catalog import load_catalog_file
from gateway.database import open_database
from gateway.journal import Journal
from gateway.lane.book import LaneBook
from gateway.lane.machine import Lane
from gateway.lane.members import RoomMembers
from gateway.lane.staff import StaffDirectory
from gateway.members import MemberAccounts, MemberStore, card_key, parse_document
from gateway.screens.access import TOKEN_FILE, kiosk_link, kiosk_token
from gateway.screens.app import create_app
from gateway.screens.hub import ScreenHub, store_clock
from gateway.screens.pole import PoleFeed
from gateway.screens.requests import LocalLane
from gateway.screens.serve import ScreensServer
from gateway.settings import GatewaySettings, load_settings

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_CONFIG = REPO / "config" / "gateway.example.toml"
EXAMPLE_CATALOG = REPO / "config" / "catalog.example.json"
SALT = "5c1e0a7d9b3f4e2a8c6d0b1a2f3e4d5c"
MEMBER_CARD = "04A2B3C4D5E601"  # Alice, canteen group: member prices, points
CASHIER = ("101", "472951")  # Anna
SUPERVISOR = ("201", "836104")  # Beat
SCALE_CAPACITY = Decimal("15")
SCALE_CAPACITIES = {"deli-scale": SCALE_CAPACITY}  # the hub's, by scale name


def members_document() -> dict[str, Any]:
    return {
        "schema": "storegate.members/1",
        "version": 1,
        "currency": "CHF",
        "decimals": 2,
        "card_hashing": {"algorithm": "sha256", "salt": SALT},
        "redemption": {"points": 100, "value": "1.00"},
        "groups": [
            {
                "id": "canteen",
                "name": "Staff",
                "member_prices": True,
                "points": {"per": "1.00", "points": 1},
            }
        ],
        "members": [
            {
                "id": "M0001",
                "group": "canteen",
                "name": "Alice",
                "cards": [card_key(MEMBER_CARD, SALT)],
                "wallets": {"points": 1200, "cash": "50.00"},
            }
        ],
        "blacklist": {"version": 1, "cards": []},
        "offline": {"stored_value": True, "points_redemption": True},
    }


def demo_lane(
    db_path: Path, settings: GatewaySettings, catalog_path: Path = EXAMPLE_CATALOG
) -> Lane:
    """A lane on `db_path` with staff Anna (cashier), Beat (supervisor) and member Alice."""
    db = open_database(db_path)
    staff = StaffDirectory(db, settings.lane)
    counter = itertools.count(Journal(db).state().head_seq * 1000 + 1)
    new_id: Callable[[], str] = lambda: f"demo{next(counter):07d}"  # noqa: E731
    journal = Journal(db, new_id=new_id)
    store = MemberStore(db, settings.store.box)
    if staff.get(CASHIER[0]) is None:
        staff.add(CASHIER[0], "Anna", "cashier", pin=CASHIER[1], card="CARD-ANNA")
        staff.add(
            SUPERVISOR[0],
            "Beat",
            "supervisor",
            pin=SUPERVISOR[1],
            card="CARD-BEAT",
            ceiling=Decimal("100.00"),
        )
        store.apply_document(parse_document(members_document()), datetime(2026, 11, 24, 6))
    return Lane(
        book=LaneBook(db, journal),
        staff=staff,
        catalog=load_catalog_file(catalog_path),
        settings=settings,
        members=RoomMembers(MemberAccounts(store)),
        new_id=new_id,
    )


class StepClock:
    """Store-local time that moves a little with every event (deterministic journals)."""

    def __init__(self, start: datetime, step: timedelta = timedelta(seconds=15)) -> None:
        self.now = start
        self.step = step
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            self.now += self.step
            return self.now


@dataclass
class DemoDevices:
    """Simulators on real ptys / sockets, read by the real drivers through the runner."""

    scanner: SerialScannerSimulator
    scale: ScaleSimulator
    printer: NetworkPrinterSimulator
    pole: PoleDisplaySimulator
    runner: DeviceRunner | None = None
    feed: PoleFeed | None = None
    events: list[DeviceEvent] = field(default_factory=list)

    def settings(self) -> DeviceSettings:
        return DeviceSettings.model_validate(
            {
                "scanners": [
                    {
                        "name": "front-scanner",
                        "kind": "serial",
                        "framing": "cr",
                        "serial": {"port": self.scanner.path},
                    }
                ],
                "scales": [
                    {
                        "name": "deli-scale",
                        "protocol": "toledo8217",
                        "serial": {"port": self.scale.path},
                        "poll_interval_s": 0.1,
                        "capacity": str(SCALE_CAPACITY),
                    }
                ],
                "printers": [{"name": "receipt", "uri": self.printer.uri, "timeout_s": 1.0}],
            }
        )

    def stop(self) -> None:
        if self.feed is not None:
            self.feed.stop()
        if self.runner is not None:
            self.runner.stop()
        for sim in (self.scanner, self.scale, self.pole):
            sim.stop()
        self.printer.stop()


@contextmanager
def running_devices(
    hub: ScreenHub, *, language: str | None = None, store_name: str = ""
) -> Iterator[DemoDevices]:
    """Start the simulators, the drivers (sink: the hub) and the pole display feed."""
    devices = DemoDevices(
        SerialScannerSimulator().start(),
        ScaleSimulator("toledo8217", weight="0.000", mode="zero", pace=False).start(),
        NetworkPrinterSimulator().start(),
        PoleDisplaySimulator().start(),
    )
    try:

        def sink(event: DeviceEvent) -> None:
            devices.events.append(event)
            hub.device(event)

        devices.runner = DeviceRunner(device_loops(devices.settings(), sink)).start()
        display = PoleDisplay(devices.pole.path)
        devices.feed = PoleFeed(
            display,
            language=language,  # None: the signed-on cashier's
            store_name=store_name or hub.store_name,
            on_error=lambda text: hub.note("alert", text),
        )
        hub.add_listener(devices.feed)
        yield devices
    finally:
        devices.stop()


def member_card(card_id: str) -> CardEvent:
    """What the card reader's decoder delivers for a member card (RFID UID)."""
    return CardLineDecoder(
        "loyalty-reader", utc_now, rfid_format="hex", member_prefixes=("04",)
    ).line(card_id)  # type: ignore[return-value]


def play_day(
    hub: ScreenHub, devices: DemoDevices, pause: float = 1.5, stop: threading.Event | None = None
) -> None:
    """A morning at the till, one step every `pause` seconds, until `stop` is set."""
    stop = stop or threading.Event()
    sale_steps: list[Callable[[], object]] = [
        lambda: hub.submit("sign_on", {"staff_id": CASHIER[0], "pin": CASHIER[1]}),
        lambda: devices.scanner.scan("7612345001012"),
        lambda: devices.scanner.scan("7612345001135"),
        lambda: hub.press("enter", "3*501"),
        lambda: devices.scale.set(mode="stable", weight="0.456"),
        lambda: hub.press("weigh", "1001"),
        lambda: devices.scale.set(mode="zero", weight="0.000"),
        lambda: hub.press("cash", "20"),
        lambda: hub.device(member_card(MEMBER_CARD)),
        lambda: devices.scanner.scan("7612345001012"),
        lambda: devices.scanner.scan("7612345001326"),
        lambda: hub.press("card", "T-4711"),
    ]
    for step in sale_steps:
        if stop.wait(pause):
            return
        step()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gateway.harness.screens_demo",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    parser.add_argument("--config", default=str(EXAMPLE_CONFIG))
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    parser.add_argument("--language", choices=("en", "zh"), default=None)
    parser.add_argument("--pause", type=float, default=1.5, help="seconds between steps")
    parser.add_argument("--data", default=None, help="directory for the demo database")
    args = parser.parse_args(argv)
    settings = load_settings(args.config)
    if args.language:
        settings.screens.language = args.language
    import tempfile

    data = Path(args.data or tempfile.mkdtemp(prefix="storegate-screens-"))
    lane = demo_lane(data / "storegate.db", settings)
    hub = ScreenHub(
        LocalLane(lane),
        settings.screens,
        clock=store_clock(settings.store.timezone),
        scale_capacity=SCALE_CAPACITIES,
        store_name=settings.store.name,
        lane_name=settings.store.box,
    )
    hub.tick()  # the status bar's date and time (store-local wall time here)
    token = kiosk_token(data / TOKEN_FILE)
    app = create_app(hub, kiosk_token=token)
    server = ScreensServer(app, settings.screens, port=args.port).start()
    print(f"cashier screen:  {kiosk_link(server.url, token)}")
    print(f"customer screen: {kiosk_link(server.url, token, '/customer')}")
    with running_devices(hub) as devices:
        try:
            play_day(hub, devices, args.pause)
            time.sleep(0.5)  # the pole display's writer catches up
            print(f"pole display:    {devices.pole.lines[0]!r} / {devices.pole.lines[1]!r}")
            print("the day is played; Ctrl-C to stop")
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
