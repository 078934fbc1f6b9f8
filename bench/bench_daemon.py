"""Daemon benchmarks (issue 7): start-to-ready, idle RSS and CPU, scan-to-screen latency.

Run: .venv/bin/python bench/bench_daemon.py [--starts 5] [--scans 300] [--backlog 20000]

1. Start-to-ready: `gateway run` spawned with $NOTIFY_SOCKET pointing at a datagram
   socket of this script, timed to its READY=1 (what systemd's Type=notify waits for).
   Baseline in the same run: the bare interpreter (`python -c pass`) to exit. Target < 2 s.
2. Idle RSS and CPU: the daemon with sync on (a private Mosquitto, nothing to send) and a
   simulated scale it polls, left alone for --idle seconds; RSS from /proc/PID/status,
   CPU from utime+stime in /proc/PID/stat. Baseline: a bare `python -c "sleep"` process.
   Targets: RSS < 60 MB, CPU < 2 %. Measured twice: with this venv (the developers' one,
   which has the test and cloud extras, so numpy is there and sqlite-utils imports it),
   and with a box-only venv (`pip install -e .` without extras, what systemd/install.sh
   makes), built once per pyproject.toml in ~/.cache/storegate/ (--no-box-venv skips it).
   The RSS target is judged on the box venv. Then a shop's box in each venv: a serial
   scanner, the scale, a network receipt printer and a trusted head-office key, idle and
   again after its first sale (what the first scan and receipt load). Last, what each
   group of libraries adds to a fresh interpreter of the box venv (`BREAKDOWN`).
3. Scan-to-screen: bytes of a scan written to the serial scanner simulator's pty until the
   daemon's lane total is updated (the daemon stamps the wall time it updated the lane,
   `status.last_input`), while sync drains a backlog of --backlog journal records to a
   real `cloud ingest`. Baseline: the same scan with sync disabled and no backlog.
   Target p99 < 5 ms.

Exit status 1 when a target is missed. Figures go in bench/README.md, section "Daemon".
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from itertools import pairwise
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "daemon"))

from daemon_testkit import CLOUD, GATEWAY, NO_SYNC, add_staff, write_config  # noqa: E402

from devices.simulators.printer import NetworkPrinterSimulator  # noqa: E402
from devices.simulators.scale import ScaleSimulator  # noqa: E402
from devices.simulators.scanner import SerialScannerSimulator  # noqa: E402
from gateway.daemon.control import Connection  # noqa: E402
from gateway.harness.brokers import Mosquitto  # noqa: E402

CATALOG = ROOT / "config" / "catalog.example.json"
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "storegate"


def box_venv() -> Path | None:
    """A venv with storegate and no extras (what a box has); built once per pyproject.toml.

    Editable, so it always runs this tree's code; rebuilt when pyproject.toml (the
    dependencies), this checkout or the interpreter changes. None when pip cannot build it.
    """
    key = hashlib.sha256(
        (ROOT / "pyproject.toml").read_bytes() + str(ROOT).encode() + sys.version.encode()
    ).hexdigest()[:12]
    venv = CACHE / f"bench-box-venv-{key}"
    done = venv / ".complete"
    if done.exists():
        return venv / "bin" / "gateway"
    print(f"building the box-only venv {venv} (pip install -e . without extras, once)", flush=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run(
            [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "-e", str(ROOT)],
            check=True,
            capture_output=True,
            text=True,
        )
    except subprocess.CalledProcessError as exc:
        print(f"no box venv (skipping its figures): {exc.stderr or exc}", file=sys.stderr)
        return None
    done.write_text(str(ROOT))
    return venv / "bin" / "gateway"


def config_for(directory: Path, devices: str = "", port: int = 1883) -> Path:
    config = write_config(directory, devices)
    text = config.read_text().replace(
        '# catalog = "/etc/storegate/catalog.json"', f'catalog = "{CATALOG}"'
    )
    config.write_text(text.replace("port = 1883", f"port = {port}"))
    add_staff(directory / "storegate.db")
    return config


def spawn(
    directory: Path, config: Path, env: dict[str, str], gateway: Path = GATEWAY
) -> tuple[subprocess.Popen[bytes], float]:
    """Start `gateway run`; returns the process and seconds to READY=1."""
    path = directory / "notify.sock"
    path.unlink(missing_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(path))
    listener.settimeout(30)
    started = time.monotonic()
    process = subprocess.Popen(
        [str(gateway), "run", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=(directory / "daemon.log").open("ab"),
        env={**os.environ, "NOTIFY_SOCKET": str(path), **env},
    )
    while b"READY=1" not in listener.recv(4096):
        pass
    ready = time.monotonic() - started
    listener.close()
    return process, ready


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    process.wait(30)


def start_to_ready(starts: int) -> dict[str, float]:
    times, floors = [], []
    for _ in range(starts):
        began = time.monotonic()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        floors.append(time.monotonic() - began)
        with tempfile.TemporaryDirectory() as folder:
            process, ready = spawn(Path(folder), config_for(Path(folder)), NO_SYNC)
            stop(process)
            times.append(ready)
    return {
        "ready_median_s": statistics.median(times),
        "ready_max_s": max(times),
        "python_floor_s": statistics.median(floors),
    }


def start_with_journal(records: int) -> dict[str, float]:
    """Start-to-ready on a journal of `records`: the first start walks the whole chain
    (no checkpoint yet), the next ones only from the checkpoint (gateway.daemon.chain_guard)."""
    with tempfile.TemporaryDirectory() as folder:
        directory = Path(folder)
        config = config_for(directory)
        fill_backlog(directory / "storegate.db", records)
        times = []
        for _ in range(3):
            process, ready = spawn(directory, config, NO_SYNC)
            stop(process)
            times.append(ready)
    return {"records": records, "first_s": times[0], "checkpointed_s": min(times[1:])}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def idle(seconds: float, gateway: Path = GATEWAY, shop: bool = False) -> dict[str, float]:
    """Idle RSS and CPU; `shop` adds a scanner, a printer and a trusted key, and a sale."""
    with tempfile.TemporaryDirectory() as folder:
        directory = Path(folder)
        broker = Mosquitto(directory / "broker").start()
        scale = ScaleSimulator("toledo8217", weight="0.000", mode="zero", pace=False).start()
        scanner = SerialScannerSimulator().start() if shop else None
        printer = NetworkPrinterSimulator().start() if shop else None
        devices = (
            f'\n[[devices.scales]]\nname = "scale"\nprotocol = "toledo8217"\n'
            f'serial = {{ port = "{scale.path}" }}\n'
        )
        if scanner is not None and printer is not None:
            devices += (
                f'\n[[devices.scanners]]\nname = "scanner"\nkind = "serial"\n'
                f'serial = {{ port = "{scanner.path}" }}\nframing = "cr"\n'
                f'\n[[devices.printers]]\nname = "receipt"\nuri = "{printer.uri}"\n'
                'profile = "epson-tm-t88v"\n' + trusted_key()
            )
        process, _ = spawn(directory, config_for(directory, devices, broker.port), {}, gateway)
        bare = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        try:
            time.sleep(3)  # settle: connect, first telemetry
            cpu0, wall0 = cpu_seconds(process.pid), time.monotonic()
            time.sleep(seconds)
            cpu = (cpu_seconds(process.pid) - cpu0) / (time.monotonic() - wall0) * 100
            figures = {
                "idle_rss_mb": rss_mb(process.pid),
                "idle_cpu_pct": cpu,
                "bare_python_rss_mb": rss_mb(bare.pid),
            }
            if scanner is not None and printer is not None:
                first_sale(directory / "control.sock", scanner, printer)
                time.sleep(3)
                figures["after_sale_rss_mb"] = rss_mb(process.pid)
            return figures
        finally:
            bare.kill()
            stop(process)
            for device in (scale, scanner, printer):
                if device is not None:
                    device.stop()
            broker.kill()


def trusted_key() -> str:
    """A `[[sync.trusted_keys]]` entry, as every box that takes head office's documents has."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from gateway.sync.signing import public_key_b64

    key = public_key_b64(Ed25519PrivateKey.generate())
    return f'\n[[sync.trusted_keys]]\nkey_id = "bench"\npublic_key = "{key}"\n'


def first_sale(control: Path, scanner: Any, printer: Any) -> None:
    """Sign on, scan one item, pay cash, wait for the receipt on the printer."""
    conn = Connection(control)
    try:
        assert conn.ask({"command": "lane", "action": "sign_on", "staff": "101", "pin": "472951"})[
            "ok"
        ]
        before = _status(conn)["last_input"]["count"]
        scanner.scan("7612345001012")
        deadline = time.monotonic() + 10
        while _status(conn)["last_input"]["count"] == before:
            assert time.monotonic() < deadline, "the scan never reached the lane"
            time.sleep(0.02)
        assert conn.ask({"command": "lane", "action": "tender", "type": "cash", "amount": "200"})[
            "ok"
        ]
        while b"TOTAL" not in printer.printed:
            assert time.monotonic() < deadline, "no receipt printed"
            time.sleep(0.05)
    finally:
        conn.close()


def fill_backlog(database: Path, count: int) -> None:
    from gateway.database import open_database
    from gateway.journal import Journal

    journal = Journal(open_database(database))
    body = {"total": "12.30", "lines": [{"sku": "MILK-1L", "qty": "1"}] * 5}
    for start in range(0, count, 5000):
        journal.append_many([("bench", body) for _ in range(min(5000, count - start))])


def scan_latency(scans: int, backlog: int, with_sync: bool) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        directory = Path(folder)
        scanner = SerialScannerSimulator().start()
        broker = ingest = None
        port = 1883
        env: dict[str, str] = dict(NO_SYNC)
        if with_sync:
            broker = Mosquitto(directory / "broker").start()
            port = broker.port
            url = f"sqlite:///{directory / 'office.db'}"
            subprocess.run(
                [str(CLOUD), "db", "upgrade", "--db", url], check=True, capture_output=True
            )
            ingest = subprocess.Popen(
                [str(CLOUD), "ingest", "--db", url, "--port", str(port)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            env = {}
        devices = (
            f'\n[[devices.scanners]]\nname = "scanner"\nkind = "serial"\n'
            f'serial = {{ port = "{scanner.path}" }}\nframing = "cr"\n'
        )
        config = config_for(directory, devices, port)
        if backlog:
            fill_backlog(directory / "storegate.db", backlog)
        process, _ = spawn(directory, config, env)
        conn = Connection(directory / "control.sock")
        try:
            return _measure(conn, scanner, scans, backlog)
        finally:
            conn.close()
            stop(process)
            if ingest is not None:
                ingest.terminate()
                ingest.wait(20)
            if broker is not None:
                broker.kill()
            scanner.stop()


def _status(conn: Connection) -> dict[str, Any]:
    status: dict[str, Any] = conn.ask({"command": "status"})["status"]
    return status


def _measure(conn: Connection, scanner: Any, scans: int, backlog: int) -> dict[str, float]:
    assert conn.ask({"command": "lane", "action": "sign_on", "staff": "101", "pin": "472951"})["ok"]
    latencies = []
    for n in range(scans):
        if n and n % 40 == 0:  # keep sales short, like a real lane
            conn.ask({"command": "lane", "action": "tender", "type": "cash", "amount": "200"})
        before = _status(conn)["last_input"]["count"]
        sent = time.time()
        scanner.scan("7612345001012")
        deadline = time.monotonic() + 10
        while (last := _status(conn)["last_input"])["count"] == before:
            # a scanner port another process holds locked would wait here for ever
            assert time.monotonic() < deadline, f"scan {n + 1} never reached the lane"
            time.sleep(0.003)  # the stamp is taken in the daemon; polling only adds load
        latencies.append((last["lane_updated_at"] - sent) * 1000)
        time.sleep(0.01)
    journal = _status(conn)["journal"]
    latencies.sort()
    return {
        "p50_ms": latencies[len(latencies) // 2],
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1],
        "max_ms": latencies[-1],
        "backlog_at_start": backlog,
        "backlog_at_end": journal["backlog"],
    }


# What `gateway run` loads, in groups, each measured after the ones above it (gc and
# malloc_trim before each reading, as the daemon does once ready). The figures add up to
# the total, but a group reuses heap that earlier ones freed and shares the standard
# library they loaded, so alone it costs more (biip alone: ~13 MB, not ~7).
BREAKDOWN = [
    ("pydantic + pydantic-settings", ["pydantic", "pydantic_settings"]),
    ("biip (GS1 prefix tries)", ["biip"]),
    ("sqlite-utils (click, pluggy, dateutil; numpy if installed)", ["sqlite_utils"]),
    ("paho-mqtt, tenacity, pyserial, evdev", ["paho.mqtt.client", "tenacity", "serial", "evdev"]),
    ("cryptography (Ed25519 of sync)", ["cryptography.hazmat.primitives.asymmetric.ed25519"]),
    (
        "screens: starlette, uvicorn, jinja2, sse-starlette",
        ["starlette.applications", "uvicorn", "jinja2", "sse_starlette"],
    ),
    ("screens: qrcode (imports Pillow)", ["qrcode", "qrcode.image.svg"]),
    (
        "storegate's own modules",
        [
            "gateway.cli",
            "gateway.daemon.box",
            "gateway.daemon.status",
            "gateway.sync.service",
            "gateway.screens.app",
        ],
    ),
    ("python-escpos (with a printer)", ["escpos.printer", "gateway.receipts.escpos"]),
]
BREAKDOWN_CODE = """
import ctypes, gc, importlib, json, sys
def rss():
    gc.collect()
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass
    with open("/proc/self/status") as f:
        return int(f.read().split("VmRSS:")[1].split()[0]) / 1024
figures = [("bare interpreter", rss())]
for label, modules in json.loads(sys.argv[1]):
    for module in modules:
        importlib.import_module(module)
    figures.append((label, rss()))
print(json.dumps(figures))
"""


def import_breakdown(python: Path) -> list[tuple[str, float]]:
    """(group, RSS after importing it) in a fresh `python`; the first row is bare."""
    done = subprocess.run(
        [str(python), "-c", BREAKDOWN_CODE, json.dumps(BREAKDOWN)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return [(label, mb) for label, mb in json.loads(done.stdout)]


def rss_figures(seconds: float, box: Path | None) -> dict[str, float]:
    """Idle RSS in this venv and in the box venv; the target is judged on the box's."""
    venvs = [("dev venv", GATEWAY)] + ([("box venv", box)] if box is not None else [])
    judged: dict[str, float] = {}
    for name, gateway in venvs:
        quiet = idle(seconds, gateway)
        bare = quiet["bare_python_rss_mb"]
        print(
            f"idle, {name}: RSS {quiet['idle_rss_mb']:.1f} MB (bare python {bare:.1f} MB, "
            f"ratio {quiet['idle_rss_mb'] / bare:.1f}x), CPU {quiet['idle_cpu_pct']:.2f} %; "
            "targets < 60 MB, < 2 %",
            flush=True,
        )
        shop = idle(seconds, gateway, shop=True)
        print(
            f"  a shop's box ({name}: + scanner, printer, trusted key): idle "
            f"{shop['idle_rss_mb']:.1f} MB ({shop['idle_rss_mb'] / bare:.1f}x), after its "
            f"first sale {shop['after_sale_rss_mb']:.1f} MB "
            f"({shop['after_sale_rss_mb'] / bare:.1f}x)",
            flush=True,
        )
        judged = quiet
    name, gateway = venvs[-1]
    python = gateway.parent / "python"
    rows = import_breakdown(python)
    steps = [f"{label} +{mb - before:.1f}" for (_, before), (label, mb) in pairwise(rows)]
    print(
        f"what the imports cost ({name}, fresh interpreter, MB): bare {rows[0][1]:.1f}, "
        + ", ".join(steps)
        + f"; total {rows[-1][1]:.1f}",
        flush=True,
    )
    return judged


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--idle", type=float, default=10.0)
    parser.add_argument("--scans", type=int, default=300)
    parser.add_argument("--backlog", type=int, default=20_000)
    parser.add_argument(
        "--journal",
        type=int,
        default=300_000,
        help="records in the journal for start-to-ready with a big journal",
    )
    parser.add_argument(
        "--no-box-venv",
        action="store_true",
        help="measure RSS in this venv only (no box-only venv)",
    )
    args = parser.parse_args()
    ready = start_to_ready(args.starts)
    print(
        f"start-to-ready: median {ready['ready_median_s']:.2f} s, max "
        f"{ready['ready_max_s']:.2f} s (bare interpreter {ready['python_floor_s']:.3f} s, "
        f"ratio {ready['ready_median_s'] / ready['python_floor_s']:.0f}x); target < 2 s"
    )
    big = start_with_journal(args.journal)
    print(
        f"start-to-ready with {big['records']} journal records: first start (full chain "
        f"walk) {big['first_s']:.2f} s, later starts (from the checkpoint) "
        f"{big['checkpointed_s']:.2f} s; target < 2 s"
    )
    quiet = rss_figures(args.idle, None if args.no_box_venv else box_venv())
    base = scan_latency(args.scans, 0, with_sync=False)
    busy = scan_latency(args.scans, args.backlog, with_sync=True)
    print(f"scan-to-screen, no sync: p50 {base['p50_ms']:.2f} ms, p99 {base['p99_ms']:.2f} ms")
    print(
        f"scan-to-screen, sync draining {busy['backlog_at_start']} records (backlog "
        f"{busy['backlog_at_end']} at the end): p50 {busy['p50_ms']:.2f} ms, p99 "
        f"{busy['p99_ms']:.2f} ms, max {busy['max_ms']:.2f} ms (ratio to no sync "
        f"{busy['p99_ms'] / base['p99_ms']:.2f}); target p99 < 5 ms"
    )
    missed = [
        ready["ready_median_s"] >= 2,
        big["checkpointed_s"] >= 2,
        quiet["idle_rss_mb"] >= 60,
        quiet["idle_cpu_pct"] >= 2,
        busy["p99_ms"] >= 5,
    ]
    return 1 if any(missed) else 0


if __name__ == "__main__":
    sys.exit(main())
