"""The acceptance layer's store: one box (`gateway run`), its simulated devices, a real
Mosquitto and head office (`cloud ingest` on SQLite), built once per test module.

What is new here is only the assembly; every part comes from the rooms' own testkits:
`Daemon`, `write_config`, `add_staff` (tests/daemon/daemon_testkit.py), `cloud_cli` and
`eventually` (tests/cloud/cloud_testkit.py), the Mosquitto wrapper (gateway.harness.brokers),
the device simulators (devices/simulators) and the example settings and catalog (config/).

Driving is done the way people do it: the scanner simulator's serial line, the scales'
serial lines, the control socket (`gateway till` keys), the cashier page in Chromium, the
`gateway` and `cloud` command lines. Reading is done the way people read: bytes on the
receipt printer, text copies, the journal file (read-only), head office's database and
its reports. Nothing waits for timing luck: every wait polls a condition with a bound.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
for room in ("daemon", "cloud", "screens"):  # the rooms' testkits (test folders are not packages)
    if str(TESTS / room) not in sys.path:
        sys.path.insert(0, str(TESTS / room))

from cloud_testkit import cloud_cli  # noqa: E402
from daemon_testkit import CLOUD, EXAMPLE_CATALOG, GATEWAY, Daemon, add_staff, write_config  # noqa: E402

from devices.simulators.printer import NetworkPrinterSimulator  # noqa: E402
from devices.simulators.scale import ScaleSimulator  # noqa: E402
from devices.simulators.scanner import SerialScannerSimulator  # noqa: E402
from gateway.harness.brokers import Mosquitto  # noqa: E402
from gateway.receipts.escpos import drawer_pulse  # noqa: E402

ANNA = {"staff": "101", "pin": "472951"}  # cashier (daemon_testkit.add_staff)
BEAT_CARD = "CARD-BEAT"  # supervisor, ceiling 100.00
BEAT = ("201", "836104")
DRAWER_KICK = drawer_pulse(2)  # ESC p 0 ...: the example printer's drawer_pin
KICK_PREFIX = b"\x1bp"

# -- the store's catalog: the example's products, taxes and money, promotions that do not
# depend on the day or the hour (the daemon prices with the wall clock) ------------------

MILK = "7612345001012"  # Whole milk 1 l, 1.75, dairy
BREAD = "7612345001128"  # Brown bread 500 g, 3.20, bakery
OIL = "7612345001197"  # Olive oil 5 dl, 8.90, pantry


def check_digit(digits: str) -> int:
    """GS1 mod-10 check digit of `digits` (EAN-13 without its last digit, label data)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return (10 - total % 10) % 10


def ean13(first12: str) -> str:
    return first12 + str(check_digit(first12))


CHOC_A = ean13("761234500900")  # Truffle bar, 4.00, chocolate (3 for 2)
CHOC_B = ean13("761234500901")  # Chocolate drops, 2.00, chocolate (3 for 2)
BANANA_PLU = "1002"  # Bananas, 2.90 per kg
HAM_PLU = "2001"  # Cooked ham, 42.00 per kg (deli price labels)
APPLE_PLU = "1001"  # Apples Gala, 3.80 per kg (produce weight labels)
KEPT_SKUS = ("MILK-1L", "BREAD-BRN", "OIL-OLIVE", "BANANA", "DELI-HAM", "APPLE-GALA")


def store_catalog() -> dict[str, Any]:
    """The example catalog with a handful of its products, two chocolates of our own and one
    promotion, "3 for 2" on chocolate: no schedule, no member price, so every amount can
    be computed by hand whatever the day the suite runs."""
    example = json.loads(EXAMPLE_CATALOG.read_text())
    products = [p for p in example["products"] if p["sku"] in KEPT_SKUS]
    template = next(p for p in example["products"] if p["sku"] == "CHOC-MILK")
    products.append(
        {
            **template,
            "sku": "CHOC-TRUFFLE",
            "name": "Truffle bar",
            "price": "4.00",
            "barcodes": [CHOC_A],
        }
    )
    products.append(
        {
            **template,
            "sku": "CHOC-DROPS",
            "name": "Chocolate drops",
            "price": "2.00",
            "barcodes": [CHOC_B],
        }
    )
    for product in products:
        product.pop("member_price", None)
    return {
        **example,
        "version": 1,
        "products": products,
        "promotions": [
            {
                "type": "buy_get",
                "id": "choc-3for2",
                "name": "Chocolate 3 for 2",
                "target": {"categories": ["chocolate"]},
                "buy": 2,
                "get": 1,
            }
        ],
    }


def label(flag: str, item: str, value: str) -> str:
    """A 13-digit in-store label (`22IIIIIPPPPPC` price, `23IIIIIWWWWWC` weight)."""
    digits = flag + item.zfill(5) + value.zfill(5)
    return digits + str(check_digit(digits))


# -- members: one member with points and stored value, the offline policy of docs/members.md

SALT = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
ALICE_CARD = "04A2B3C4D5E6F1"


def members_document() -> dict[str, Any]:
    from gateway.members import card_key

    return {
        "schema": "storegate.members/1",
        "version": 1,
        "currency": "CHF",
        "decimals": 2,
        "issued_at": "2026-11-24T06:00:00+00:00",
        "card_hashing": {"algorithm": "sha256", "salt": SALT},
        "redemption": {"points": 100, "value": "1.00"},
        "groups": [
            {
                "id": "staff",
                "name": "Staff",
                "member_prices": True,
                "points": {"per": "1.00", "points": 1},
                "limits": {
                    "per_transaction": None,
                    "per_day": "200.00",
                    "meal_only": False,
                    "meals": [],
                },
            }
        ],
        "members": [
            {
                "id": "M0001",
                "group": "staff",
                "name": "Alice",
                "cards": [card_key(ALICE_CARD, SALT)],
                "wallets": {"points": 5000, "subsidy": "0.00", "cash": "300.00"},
            }
        ],
        "blacklist": {"version": 1, "cards": []},
        "offline": {
            "stored_value": True,
            "points_redemption": False,
            "per_transaction": "25.00",
            "per_day": "40.00",
            "points_per_transaction": 1000,
            "points_per_day": 1500,
            "max_offline_minutes": 240,
            "max_unsynced_sales": 200,
        },
    }


# -- the store --------------------------------------------------------------------------------

SYNC_ENV = {
    "STOREGATE_SYNC__RECONNECT_MIN": "0.2",
    "STOREGATE_SYNC__RECONNECT_MAX": "1.0",
    "STOREGATE_SYNC__RESEND_AFTER": "3",
    "STOREGATE_SYNC__POLL_INTERVAL": "0.1",
}


def devices_toml(scanner: str, scales: dict[str, tuple[str, str]], printer: str) -> str:
    text = f"""
[[devices.scanners]]
name = "scanner"
kind = "serial"
serial = {{ port = "{scanner}" }}
framing = "cr"
"""
    for name, (protocol, port) in scales.items():
        text += f"""
[[devices.scales]]
name = "{name}"
protocol = "{protocol}"
serial = {{ port = "{port}" }}
poll_interval_s = 0.1
"""
    return (
        text
        + f"""
[[devices.printers]]
name = "receipt"
uri = "{printer}"
"""
    )


def wait_until(what: str, check: Callable[[], Any], timeout: float = 20.0) -> Any:
    """Poll `check` until it returns something true; fail naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


@dataclass
class Store:
    """The whole product on one machine; see the module docstring."""

    workdir: Path
    broker: Mosquitto
    office_url: str
    scanner: SerialScannerSimulator
    scales: dict[str, ScaleSimulator]
    printer: NetworkPrinterSimulator
    config: Path
    daemon: Daemon | None = None
    ingest: subprocess.Popen[bytes] | None = None
    closers: list[Callable[[], None]] = field(default_factory=list)

    # -- parts -----------------------------------------------------------------------------

    @property
    def box_dir(self) -> Path:
        return self.workdir / "box"

    @property
    def receipts(self) -> Path:
        return self.box_dir / "receipts"

    def box(self) -> Daemon:
        assert self.daemon is not None, "gateway run is not running"
        return self.daemon

    # -- the till --------------------------------------------------------------------------

    def key(self, action: str, **fields: str) -> dict[str, Any]:
        """A key at the till through the control socket (what `gateway till` sends)."""
        return dict(self.box().key(action, **fields))

    def ok(self, action: str, **fields: str) -> dict[str, Any]:
        answer = self.key(action, **fields)
        assert answer.get("ok"), f"{action} {fields} refused: {answer}"
        return answer

    def status(self) -> dict[str, Any]:
        return dict(self.box().status())

    def lane(self) -> dict[str, Any]:
        lane: dict[str, Any] = self.status()["lane"]
        return lane

    def signed_on(self) -> None:
        """Anna's shift is open (sign on when the lane is closed)."""
        if self.lane()["state"] == "closed":
            self.ok("sign_on", **ANNA, float="100.00")

    def void_left_open(self) -> None:
        """A sale an earlier, failed scenario left open is voided (by the supervisor), so
        one failure does not fail the scenarios after it."""
        if self.lane()["state"] in ("in_sale", "tendering"):
            self.ok(
                "void_sale",
                reason="left open by a failed scenario",
                supervisor=BEAT[0],
                supervisor_pin=BEAT[1],
            )

    def scan(self, code: str) -> None:
        """A scan on the serial scanner; waits until the lane has one more line."""
        before = self.lane()["lines"]
        self.scanner.scan(code)
        wait_until(
            f"the scan of {code} to reach the lane", lambda: self.lane()["lines"] > before, 10
        )

    def put_on_scale(self, name: str, weight: str) -> None:
        """Every other scale to zero, then `weight` on scale `name`, stable; waits until the
        box's last reading is that scale's (the box prices with the last stable reading)."""
        for other, simulator in self.scales.items():
            if other != name and simulator.mode != "zero":
                simulator.set(mode="zero")
                wait_until(f"{other} to read zero", lambda: self.status()["scale"] is None, 10)
        self.scales[name].set(mode="stable", weight=weight)
        # The others read zero, so the box's stable reading (in kg) is this scale's.
        wait_until(f"{name} to settle at {weight}", lambda: self.status()["scale"] is not None, 10)

    def clear_scales(self) -> None:
        for name, simulator in self.scales.items():
            if simulator.mode != "zero":
                simulator.set(mode="zero")
                wait_until(f"{name} to read zero", lambda: self.status()["scale"] is None, 10)

    # -- what people see -------------------------------------------------------------------

    def printed(self) -> bytes:
        return self.printer.printed

    def wait_printed(self, seq: int, kind: str, timeout: float = 15.0) -> str:
        """The text copy of record `seq` once written (after the paper), its text."""
        path = self.receipts / f"{seq:07d}-{kind}.txt"
        wait_until(f"the text copy {path.name}", path.exists, timeout)
        return path.read_text()

    def records(self, after: int = 0) -> list[Any]:
        """Journal records after seq `after`, read from the file (read-only)."""
        from gateway.database import open_database
        from gateway.journal import Journal

        db = open_database(self.box_dir / "storegate.db", readonly=True)
        try:
            return list(Journal(db).read(after, 100_000))
        finally:
            db.conn.close()

    def head(self) -> int:
        return int(self.status()["journal"]["head_seq"])

    def office(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        from cloud.db import Database

        db = Database.open(self.office_url)
        try:
            return [tuple(row) for row in db.query(sql, params)]
        finally:
            db.close()

    def office_seqs(self) -> list[int]:
        return [
            int(s)
            for (s,) in self.office(
                "SELECT seq FROM journal_record WHERE store = ? AND box = ? ORDER BY seq",
                ("store-1", "box-1"),
            )
        ]

    def wait_office_has_all(self, timeout: float = 30.0) -> None:
        """Head office holds every journal record of the box (and acknowledged them)."""
        wait_until(
            "head office to acknowledge the whole journal",
            lambda: self.status()["journal"]["backlog"] == 0,
            timeout,
        )
        head = self.head()
        wait_until(
            "head office to store every record", lambda: self.office_seqs()[-1:] == [head], timeout
        )

    def cloud(self, *args: str) -> Any:
        """The real `cloud` command with `--db` and `--json`; its parsed output."""
        code, out, err = cloud_cli(*args, "--db", self.office_url, "--json")
        assert code == 0, f"cloud {' '.join(args)} exited {code}: {err}"
        return json.loads(out)

    def gateway(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(GATEWAY), *args, "--config", str(self.config)],
            capture_output=True,
            text=True,
            input=stdin,
            timeout=60,
            check=False,
        )

    # -- life cycle ------------------------------------------------------------------------

    def start_ingest(self) -> None:
        log = (self.workdir / "cloud-ingest.log").open("ab")
        self.ingest = subprocess.Popen(
            [
                str(CLOUD),
                "ingest",
                "--db",
                self.office_url,
                "--host",
                "127.0.0.1",
                "--port",
                str(self.broker.port),
            ],
            stdout=log,
            stderr=log,
        )
        log.close()

    def connected(self) -> bool:
        return bool(self.status()["sync"].get("connection") == "connected")

    def close(self) -> None:
        if self.daemon is not None:
            self.daemon.stop()
        if self.ingest is not None and self.ingest.poll() is None:
            self.ingest.terminate()
            self.ingest.wait(15)
        for closer in reversed(self.closers):
            closer()
        self.broker.kill()


def open_store(workdir: Path, extra_toml: str = "") -> Iterator[Store]:
    """Build, start and (on exit) stop the store; see the module docstring. `extra_toml`
    is appended to the box's settings (e.g. a head-office key it trusts)."""
    workdir.mkdir(parents=True, exist_ok=True)
    box_dir = workdir / "box"
    box_dir.mkdir()
    scanner = SerialScannerSimulator().start()
    scales = {
        "scale-kg": ScaleSimulator("toledo8217", weight="0.000", mode="zero", pace=False),
        "scale-g": ScaleSimulator("mtsics", weight="0", unit="g", mode="zero", pace=False),
        "scale-lb": ScaleSimulator("mtsics", weight="0", unit="lb", mode="zero", pace=False),
    }
    for simulator in scales.values():
        simulator.start()
    printer = NetworkPrinterSimulator().start()
    broker = Mosquitto(workdir / "broker").start()
    office_url = f"sqlite:///{workdir / 'head-office.db'}"
    catalog = workdir / "catalog.json"
    catalog.write_text(json.dumps(store_catalog(), indent=1))
    devices = devices_toml(
        scanner.path, {n: (s.protocol.name, s.path) for n, s in scales.items()}, printer.uri
    )
    config = write_config(box_dir, devices + extra_toml)
    text = config.read_text().replace(
        '# catalog = "/etc/storegate/catalog.json"', f'catalog = "{catalog}"'
    )
    config.write_text(text.replace("port = 1883", f"port = {broker.port}"))
    store = Store(workdir, broker, office_url, scanner, scales, printer, config)
    store.closers += [scanner.stop, printer.stop, *(s.stop for s in scales.values())]
    try:
        _prepare_box(box_dir)
        code, _, err = cloud_cli("db", "upgrade", "--db", office_url)
        assert code == 0, err
        store.start_ingest()
        store.daemon = Daemon(box_dir, config, SYNC_ENV)
        wait_until(
            "the scanner and the scales to be connected",
            lambda: all(
                store.status()["devices"].get(name, {}).get("state") == "connected"
                for name in ("scanner", *scales)
            ),
            30,
        )
        wait_until("the box to connect to the broker", store.connected, 30)
        yield store
    finally:
        store.close()


def _prepare_box(box_dir: Path) -> None:
    """Staff (daemon_testkit) and the members document, before the daemon owns the file.
    (Head office would push the document signed; docs/members.md. Applying it here is set-up,
    not the path under test.)"""
    from gateway.database import open_database
    from gateway.members import MemberStore, parse_document

    database = box_dir / "storegate.db"
    add_staff(database)
    db = open_database(database)
    MemberStore(db, "box-1").apply_document(
        parse_document(members_document()), datetime(2026, 11, 24, 6)
    )
    db.conn.close()


def money(text: object) -> Decimal:
    return Decimal(str(text))
