"""`gateway demo`: the README's main job, a scripted shopping day a visitor can watch.

Owns the demo script and the throw-away world it builds in a work folder: simulated
serial scanner and scale (pseudo-terminals), a keyboard-wedge card reader (key events on
a FIFO, `devices.simulators.card_reader`), a network receipt printer (TCP), a WeChat
Pay simulator (local HTTP, `gateway.harness.wallets`: one sale is paid by a scanned
payment code), a
private MQTT broker on a free port (Mosquitto when the binary is there, else the embedded
amqtt broker of `gateway.harness.embedded_broker`, each in its own process), `cloud ingest`
on a SQLite file, and `gateway run` as a real subprocess. The day is played through the
simulators and the daemon's control socket (keys a cashier would press); halfway
through, the broker is killed and restarted and the box rides through. It ends with the
Z report, head office's view of the same day and a check that both totals agree.
Pricing, journal, sync and reports are the other rooms' code; nothing here computes
money.

`--quick` keeps the first demo: price scripted baskets with `gateway quote`'s machinery;
it is also what runs when neither broker is available.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gateway.catalog.catalog import load_catalog_file
from gateway.commands.quote import ScanProblem, parse_at, scan_to_line
from gateway.errors import StoregateError, UsageError
from gateway.harness.wallets import WalletSimulator
from gateway.pricing import Basket, BasketLine, price_basket
from gateway.receipts.text import render_quote
from gateway.screens.access import TOKEN_FILE, kiosk_link
from gateway.settings import load_settings

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_CONFIG = REPO / "config" / "gateway.example.toml"
EXAMPLE_CATALOG = REPO / "config" / "catalog.example.json"
BIN = Path(sys.executable).parent
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
BROKERS = ("auto", "mosquitto", "embedded")

# A morning's baskets: barcodes, weighed PLUs (@kg) and quantities (*n).
SCRIPTED_BASKETS: tuple[tuple[str, ...], ...] = (
    ("7612345001012", "7612345001135*3", "PLU1001@0.456"),
    ("7612345001036", "7612345001111", "PLU2001@0.180", "7612345001128"),
    ("7612345001050*4", "7612345001197", "PLU1002@1.230"),
)

# The day at the till: each sale is scans (scanner), weighed PLUs (scale) and a tender.
DAY: tuple[tuple[tuple[str, ...], tuple[tuple[str, str], ...], str], ...] = (
    (("7612345001012", "7612345001135"), (("1001", "0.456"),), "cash"),
    (("7612345001036", "7612345001111", "7612345001128"), (), "card"),
    (("7612345001050", "7612345001067", "7612345001074"), (("1002", "1.230"),), "cash"),
    (("7612345001197",), (("2001", "0.180"),), "card"),
    (("7612345001142", "7612345001159"), (), "cash"),
    (("7612345001012", "7612345001029"), (("1003", "0.612"),), "card"),
    (("7612345001166", "7612345001173"), (), "cash"),
    (("7612345001180",), (("1002", "0.844"),), "cash"),
    (("7612345001104", "7612345001111"), (), "card"),
    (("7612345001135", "7612345001135"), (("1001", "1.020"),), "cash"),
    (("7612345001043",), (), "wechat"),
    (("7612345001128", "7612345001012"), (("2001", "0.250"),), "card"),
)
# The wallet sale: the customer's WeChat Pay payment code (付款码), scanned at the serial
# scanner like any barcode, pays through the WeChat Pay simulator (`gateway.harness.wallets`);
# the customer confirms on the phone first (USERPAYING, then paid at the second query).
WECHAT_CODE = "134567890123456789"
OUTAGE = (5, 9)  # the broker is down from before sale 5 until after sale 8


def say(text: str) -> None:
    print(f"[demo] {text}", flush=True)


# -- the quick demo (quote machinery only) ----------------------------------------------------


def basket_lines(scans: tuple[str, ...], catalog_path: Path, config_path: Path) -> list[BasketLine]:
    """Turn the script's scans into basket lines; a scan the catalog refuses is a bug here."""
    settings = load_settings(config_path)
    catalog = load_catalog_file(catalog_path)
    lines: list[BasketLine] = []
    for scan in scans:
        line = scan_to_line(scan, catalog, settings)
        if isinstance(line, ScanProblem):
            raise UsageError(f"demo scan {scan!r}: {line.message}", where=str(catalog_path))
        lines.append(line)
    return lines


def run_quote_demo(catalog_path: Path, config_path: Path) -> Decimal:
    """Price every scripted basket and print its receipt; returns the day's total."""
    settings = load_settings(config_path)
    catalog = load_catalog_file(catalog_path)
    at = parse_at("2026-11-27T10:30", settings.store.timezone)
    day_total = Decimal("0")
    for number, scans in enumerate(SCRIPTED_BASKETS, start=1):
        lines = basket_lines(scans, catalog_path, config_path)
        priced = price_basket(Basket(tuple(lines), at, None, ()), catalog)
        print(f"== basket {number}: {' '.join(scans)}")
        print(render_quote(priced, settings.store.receipt_width, settings.store.header), end="")
        day_total += priced.total
    print(f"== {len(SCRIPTED_BASKETS)} baskets, total {day_total}")
    return day_total


# -- the full demo ------------------------------------------------------------------------------


class DemoError(StoregateError):
    """The demo's world could not be built or the day did not go as scripted."""


def wait_for(what: str, check: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise DemoError(
        f"timed out waiting for {what}",
        where="gateway demo",
        fix="look at the logs in the work folder (--workdir)",
    )


def choose_broker(asked: str) -> str | None:
    """The full demo's broker, "mosquitto" or "embedded"; None when auto finds neither."""
    from gateway.harness.embedded_broker import AMQTT_HINT, available

    have_mosquitto = Path(MOSQUITTO).exists()
    if asked == "mosquitto" and not have_mosquitto:
        raise UsageError(
            f"no Mosquitto binary at {MOSQUITTO}",
            where="gateway demo --broker",
            fix="apt install mosquitto (bash .ci/dev does), or --broker embedded",
        )
    if asked == "embedded" and not available():
        raise UsageError(
            "the embedded broker needs amqtt, which is not installed",
            where="gateway demo --broker",
            fix=AMQTT_HINT,
        )
    if asked != "auto":
        return asked
    if have_mosquitto:
        return "mosquitto"
    if available():
        return "embedded"
    say(
        f"no MQTT broker for the full demo: no Mosquitto at {MOSQUITTO} and no amqtt for "
        f"the embedded one. Install either (apt install mosquitto, or {AMQTT_HINT}); "
        "showing the quick demo"
    )
    return None


def start_broker(kind: str, workdir: Path) -> Any:
    """The demo's private broker, started, in its own process."""
    if kind == "mosquitto":
        from gateway.harness.brokers import Mosquitto

        broker = Mosquitto(workdir).start()
        say(f"private Mosquitto on 127.0.0.1:{broker.port}")
        return broker
    from gateway.harness.embedded_broker import EmbeddedBroker

    embedded = EmbeddedBroker(workdir).start()
    say(
        f"embedded MQTT 3.1.1 broker (amqtt, its own process) on 127.0.0.1:{embedded.port}: "
        "no Mosquitto binary needed; it keeps everything in memory"
    )
    return embedded


if TYPE_CHECKING:
    from devices.simulators.printer import NetworkPrinterSimulator


class World:
    """The demo's processes and simulators; `close()` ends every one it started."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.closers: list[Callable[[], None]] = []
        self.broker: Any = None
        self.printer: NetworkPrinterSimulator | None = None  # set once the devices run

    def spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        log = (self.workdir / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(
            argv, stdout=log, stderr=log, env={**os.environ, **(env or {})}
        )

    def close(self) -> None:
        for name, process in reversed(list(self.processes.items())):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            del name
        for closer in reversed(self.closers):
            closer()
        if self.broker is not None:
            self.broker.kill()


# The card sale paid at the simulated card reader (a swipe typed as key events, read by
# the daemon through the wedge decoder; only the masked number reaches the lane). The
# others pay through the control socket, as a payment terminal's integration would.
READER_SALE = 2
READER_SWIPE = ";5500000000000004=29121010000000000000?"  # the scheme's published test PAN


def device_tables(scanner: str, scale: str, printer: str, card_reader: str) -> str:
    return f"""
[[devices.scanners]]
name = "scanner"
kind = "serial"
serial = {{ port = "{scanner}" }}
framing = "cr"

[[devices.scales]]
name = "scale"
protocol = "toledo8217"
serial = {{ port = "{scale}" }}
poll_interval_s = 0.1

[[devices.printers]]
name = "receipt"
uri = "{printer}"

[[devices.card_readers]]
name = "card-reader"
match = {{ path = "{card_reader}" }}
"""


def wallet_tables(wallets: WalletSimulator) -> str:
    return f"""
[payments]
poll_s = 1.0

[payments.wechat]
enabled = true
url = "{wallets.url}"
appid = "wx2421b1c4370ec43b"
mch_id = "10000100"
key = "{wallets.wechat_key}"
sign_type = "{wallets.wechat_sign_type}"
"""


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def write_config(workdir: Path, port: int, devices: str) -> Path:
    text = EXAMPLE_CONFIG.read_text()
    text = text.replace('data_dir = "/var/lib/storegate"', f'data_dir = "{workdir / "box"}"')
    text = text.replace(
        '# catalog = "/etc/storegate/catalog.json"', f'catalog = "{EXAMPLE_CATALOG}"'
    )
    text = text.replace("port = 1883", f"port = {port}")
    text = text.replace("port = 8080", f"port = {free_port()}")  # [screens]
    config = workdir / "gateway.toml"
    config.write_text(text + devices)
    return config


SYNC_ENV = {
    "STOREGATE_SYNC__RECONNECT_MIN": "0.2",
    "STOREGATE_SYNC__RECONNECT_MAX": "1.0",
    "STOREGATE_SYNC__RESEND_AFTER": "3",
    "STOREGATE_SYNC__POLL_INTERVAL": "0.1",
}


class Till:
    """The cashier's hands: the simulators and the daemon's control socket."""

    def __init__(self, socket_path: Path, scanner: Any, scale: Any, card_reader: Any) -> None:
        self.socket_path = socket_path
        self.scanner = scanner
        self.scale = scale
        self.card_reader = card_reader
        self.wallets: WalletSimulator | None = None

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        from gateway.daemon.control import call

        return call(self.socket_path, request, timeout=30)

    def status(self) -> dict[str, Any]:
        answer: dict[str, Any] = self.ask({"command": "status"})["status"]
        return answer

    def key(self, action: str, **fields: str) -> dict[str, Any]:
        answer = self.ask({"command": "lane", "action": action, **fields})
        if not answer.get("ok"):
            raise DemoError(
                f"the lane refused {action} {fields}: {answer.get('error')}", where="gateway demo"
            )
        return answer

    def scan(self, code: str) -> None:
        before = self.status()["lane"]["lines"]
        self.scanner.scan(code)
        wait_for(
            f"the scan of {code} to reach the lane",
            lambda: self.status()["lane"]["lines"] > before,
            10,
        )

    def swipe(self, tracks: str) -> None:
        """A card swiped at the reader: the sale is paid when the lane is idle again."""
        self.card_reader.swipe(None, tracks)
        wait_for("the card swiped at the reader to pay", lambda: _paid(self.status()), 10)

    def weigh(self, plu: str, kilograms: str) -> None:
        self.scale.set(mode="stable", weight=kilograms)
        wait_for("the scale to settle", lambda: _weighs(self.status(), kilograms), 10)
        self.key("weigh", code=plu)


def _paid(status: dict[str, Any]) -> bool:
    return bool(status["lane"]["state"] == "idle")


def _weighs(status: dict[str, Any], kilograms: str) -> bool:
    return status["scale"] is not None and Decimal(status["scale"]) == Decimal(kilograms)


def start_world(world: World, broker: str) -> tuple[Path, Till]:
    from devices.simulators.card_reader import CardReaderSimulator
    from devices.simulators.printer import NetworkPrinterSimulator
    from devices.simulators.scale import ScaleSimulator
    from devices.simulators.scanner import SerialScannerSimulator

    scanner = SerialScannerSimulator().start()
    scale = ScaleSimulator("toledo8217", weight="0.000", mode="zero", pace=False).start()
    printer = NetworkPrinterSimulator().start()
    card_reader = CardReaderSimulator(world.workdir / "card-reader.fifo").start()
    wallets = WalletSimulator(outcome="password")
    wallets.start()
    world.closers += [scanner.stop, scale.stop, printer.stop, card_reader.stop, wallets.stop]
    say(
        f"simulated scanner on {scanner.path}, scale on {scale.path}, printer at "
        f"{printer.uri}, card reader on {card_reader.path}"
    )
    world.broker = start_broker(broker, world.workdir / "broker")
    tables = device_tables(scanner.path, scale.path, printer.uri, str(card_reader.path))
    tables += wallet_tables(wallets)
    config = write_config(world.workdir, world.broker.port, tables)
    _start_head_office(world)
    _add_staff(config)
    world.spawn("gateway-run", [str(BIN / "gateway"), "run", "--config", str(config)], SYNC_ENV)
    socket_path = world.workdir / "box" / "control.sock"
    till = Till(socket_path, scanner, scale, card_reader)
    till.wallets = wallets
    wait_for("gateway run to answer on its control socket", lambda: _answers(till), 30)
    # A scan written to the pseudo-terminal before the daemon has opened it is lost.
    wait_for(
        "the scanner, the scale and the card reader to be connected",
        lambda: all(d.get("state") == "connected" for d in till.status()["devices"].values()),
        30,
    )
    say("gateway run is up: lane, journal, printer, scanner, scale, card reader and sync")
    wait_for(
        "the box to connect to the broker",
        lambda: till.status()["sync"].get("connection") == "connected",
        30,
    )
    say(f"the box is connected to the broker (MQTT {till.status()['sync'].get('protocol')})")
    screens = till.status().get("screens")
    token_file = world.workdir / "box" / TOKEN_FILE  # made 0600 by gateway run
    if screens and token_file.exists():
        token = token_file.read_text().strip()
        say(
            f"cashier screen {kiosk_link(screens, token)}  customer screen "
            f"{kiosk_link(screens, token, '/customer')}  (the kiosk links, with this box's "
            "token: open them in a browser to watch the day; `gateway demo --pace 3` slows "
            "it down)"
        )
    world.printer = printer
    return config, till


def _answers(till: Till) -> bool:
    try:
        till.status()
    except StoregateError:
        return False
    return True


def _start_head_office(world: World) -> None:
    url = f"sqlite:///{world.workdir / 'head-office.db'}"
    world.head_office_url = url  # type: ignore[attr-defined]
    done = subprocess.run(
        [str(BIN / "cloud"), "db", "upgrade", "--db", url],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise DemoError(f"cloud db upgrade failed: {done.stderr}", where=url)
    world.spawn(
        "cloud-ingest",
        [
            str(BIN / "cloud"),
            "ingest",
            "--db",
            url,
            "--host",
            "127.0.0.1",
            "--port",
            str(world.broker.port),
        ],
    )
    say("head office: cloud ingest on SQLite")
    _start_head_office_web(world, url)


def _start_head_office_web(world: World, url: str) -> None:
    """`cloud web serve` on the demo's head office, with an admin account for the day."""
    import secrets

    password = "demo-" + secrets.token_hex(6)
    done = subprocess.run(
        [
            *(str(BIN / "cloud"), "web", "user", "add", "demo", "--role", "admin"),
            *("--password-stdin", "--by", "gateway demo", "--db", url),
        ],
        input=password + "\n",
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise DemoError(f"cloud web user add failed: {done.stderr}", where=url)
    port = free_port()
    world.spawn(
        "cloud-web",
        [str(BIN / "cloud"), "web", "serve", "--db", url, "--port", str(port)],
    )
    address = f"http://127.0.0.1:{port}/"
    wait_for("head office's pages", lambda: _answers_http(address + "login"), 30)
    say(f"head office in the browser: {address} (sign in as demo / {password})")


def _answers_http(url: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def _add_staff(config: Path) -> None:
    from gateway.database import open_database
    from gateway.lane.staff import StaffDirectory

    settings = load_settings(config)
    Path(settings.paths.data_dir).mkdir(parents=True, exist_ok=True)
    db = open_database(settings.paths.database)
    try:  # closed before the daemon starts: it is to be the file's one writer
        staff = StaffDirectory(db, settings.lane)
        staff.add("101", "Anna", "cashier", pin="472951", card="CARD-ANNA")
        staff.add(
            "201", "Beat", "supervisor", pin="836104", card="CARD-BEAT", ceiling=Decimal("100.00")
        )
    finally:
        db.conn.close()


def play_day(world: World, till: Till, pace: float = 0.0) -> None:
    till.key("sign_on", staff="101", pin="472951", float="100.00")
    say("Anna signs on with her PIN (opening float 100.00)")
    for number, (scans, weighed, tender) in enumerate(DAY, start=1):
        if number == OUTAGE[0]:
            world.broker.kill()
            say("!! the broker goes down (SIGKILL): the box keeps selling, sync queues")
        if number == OUTAGE[1]:
            world.broker.start()
            say("!! the broker is back: sync drains the backlog")
        time.sleep(pace)
        for code in scans:
            till.scan(code)
            time.sleep(pace / 3)
        for plu, kilograms in weighed:
            till.weigh(plu, kilograms)
        total = till.status()["lane"]["total"]
        if tender == "wechat":
            till.scanner.scan(WECHAT_CODE)
            wait_for("the customer to pay with WeChat Pay", lambda: _paid(till.status()), 30)
            assert till.wallets is not None
            [order] = till.wallets.ledger.values()
            say(
                f"sale {number:2}: {len(scans) + len(weighed)} items, total {total}, paid by "
                f"WeChat Pay: payment code scanned (the box kept only {WECHAT_CODE[:4]}…"
                f"{WECHAT_CODE[-4:]}), confirmed on the phone, transaction "
                f"{order.transaction_id} charged {order.charges}x"
            )
            continue
        if number == READER_SALE and tender == "card":
            till.swipe(READER_SWIPE)
            status = till.status()
            say(
                f"sale {number:2}: {len(scans) + len(weighed)} items, total {total}, paid by "
                f"card swiped at the reader (the box saw only 550000******0004) | journal head "
                f"{status['journal']['head_seq']}, backlog {status['journal']['backlog']}"
            )
            continue
        paid = (
            {"reference": f"AUTH{number:04d}", "card": "5500000000000004"}
            if tender == "card"
            else {"amount": _cash_for(total)}
        )
        answer = till.key("tender", type=tender, **paid)
        notes = "; ".join(answer["notices"])
        status = till.status()
        items = len(scans) + len(weighed)
        say(
            f"sale {number:2}: {items} item{'s' if items != 1 else ''}, total {total}, paid by "
            f"{tender}{' (' + notes + ')' if notes else ''} | journal head "
            f"{status['journal']['head_seq']}, backlog {status['journal']['backlog']}"
        )


def _cash_for(total: str) -> str:
    return str((Decimal(total) + 5).to_integral_value())


SHORT = Decimal("0.50")  # the demo drawer is counted this much short, to show over/short


def drawer_expected(config: Path) -> Decimal:
    """What the drawer should hold now: `gateway report x --json`, as a cashier would ask."""
    done = subprocess.run(
        [str(BIN / "gateway"), "report", "x", "--json", "--config", str(config)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise DemoError(f"gateway report x failed: {done.stderr.strip()}", where=str(config))
    return Decimal(str(json.loads(done.stdout)["expected_cash"]))


def close_day(config: Path, till: Till) -> dict[str, Any]:
    till.key(  # refused: DemoError
        "paid_out",
        amount="20.00",
        reason="window cleaner",
        supervisor="201",
        supervisor_pin="836104",
    )
    say("Anna pays the window cleaner 20.00 from the drawer (paid out, Beat authorises)")
    expected = drawer_expected(config)
    counted = expected - SHORT
    till.key("close_shift", counted=str(counted))
    say(
        f"Anna counts {counted} in the drawer (the X report expects {expected}: {SHORT} short) "
        "and closes her shift; Beat closes the day with his PIN"
    )
    # a card string typed on the control socket is not a card read: Beat's number and PIN
    answer = till.ask({"command": "z_report", "staff": "201", "pin": "836104"})
    if not answer.get("ok"):
        raise DemoError(f"the Z report was refused: {answer.get('error')}", where="gateway demo")
    return answer


def head_office_view(world: World) -> dict[str, Any]:
    url = world.head_office_url  # type: ignore[attr-defined]
    done = subprocess.run(
        [str(BIN / "cloud"), "report", "sales", "--db", url, "--by", "box", "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise DemoError(f"cloud report failed: {done.stderr}", where=url)
    view: dict[str, Any] = json.loads(done.stdout)
    return view


def run_full_demo(workdir: Path, pace: float = 0.0, broker: str = "mosquitto") -> int:
    started = time.monotonic()
    world = World(workdir)
    try:
        config, till = start_world(world, broker)
        play_day(world, till, pace)
        z = close_day(config, till)
        print(z["text"], end="")
        wait_for(
            "head office to acknowledge every record",
            lambda: till.status()["journal"]["backlog"] == 0,
            60,
        )
        say("head office acknowledged the whole journal (backlog 0)")
        view = head_office_view(world)
        (workdir / "z-report.txt").write_text(z["text"])
        (workdir / "head-office-sales.json").write_text(json.dumps(view, indent=2))
        return _compare(z, view, workdir, started, world)
    finally:
        world.close()


def _compare(
    z: dict[str, Any], view: dict[str, Any], workdir: Path, started: float, world: World
) -> int:
    figures = z["body"].get("figures", z["body"])
    box_sales = Decimal(str(figures["gross"]))
    box_tickets = int(figures["sales"])
    rows: list[dict[str, Any]] = view.get("rows", [])
    say("head office's view of the day (cloud report sales --by box):")
    for row in rows:
        print("   " + "  ".join(f"{column}={value}" for column, value in row.items()))
    office_sales = sum((Decimal(str(r["sales"])) for r in rows), Decimal(0))
    office_tickets = sum(int(r["tickets"]) for r in rows)
    same = office_sales == box_sales and office_tickets == box_tickets
    say(
        f"box Z report: {box_tickets} sales, {box_sales}; head office: {office_tickets} "
        f"sales, {office_sales} -> {'IDENTICAL' if same else 'DIFFERENT'}"
    )
    say(
        f"receipts (text copies): {workdir / 'box' / 'receipts'}; printer simulator got "
        f"{len(world.printer.printed) if world.printer else 0} bytes"
    )
    say(
        f"reports: {workdir / 'z-report.txt'} (box), {workdir / 'head-office-sales.json'} "
        "(head office)"
    )
    say(
        f"journal: {workdir / 'box' / 'storegate.db'}; head office: "
        f"{workdir / 'head-office.db'}; logs: {workdir}/*.log"
    )
    say(f"done in {time.monotonic() - started:.1f} s")
    return 0 if same else 1


def demo_command(args: argparse.Namespace) -> int:
    if args.quick:
        run_quote_demo(Path(args.catalog), Path(args.config))
        return 0
    broker = choose_broker(args.broker)
    if broker is None:
        run_quote_demo(Path(args.catalog), Path(args.config))
        return 0
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="storegate-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    say(f"work folder {workdir}")
    return run_full_demo(workdir, max(0.0, args.pace), broker)
