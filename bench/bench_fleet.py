"""A fleet of simulated boxes against one Mosquitto and two `cloud ingest` workers.

Run: .venv/bin/python bench/bench_fleet.py [--boxes 1000] [--duration 600]
     [--sale-every 10] [--telemetry-every 60] [--after-restart 60] [--no-restart]
     [--procs 4] [--ramp 2000,4000] [--ramp-duration 90]

Issue 19 item 6. Each simulated box is what a real box is on the wire, without its lane:
- its own MQTT 5 session (client id and TLS client certificate `{store}/{box}`,
  clean_start false, a week's session expiry, Last Will on `.../state`) on the shipped
  broker configuration (config/mosquitto/mosquitto.conf: TLS, the dynamic-security access
  file `cloud broker acl` writes, one role per box), through tests/cloud's ShippedBroker;
- a journal in memory: chained records (`record_hash`, `JournalRecord.to_wire`) whose
  bodies come from the fleet simulator (real lane sale bodies, some refunds and voids),
  one every `--sale-every` seconds, sent as `batch_payload` batches on its own journal
  topic, with the box's own uplink bookkeeping (`gateway.sync.uplink.Uplink`: the window,
  go-back-N on reconnect, on head office's presence and after 30 s without ack progress);
- head office's acks and presence read as a box reads them (subscribed to every topic a
  box subscribes to), telemetry every `--telemetry-every` seconds while connected (a real
  box queues it on disk while offline; these drop it), reconnection with the box's
  jittered backoff (`gateway.sync.backoff`).
Boxes live in `--procs` processes, each one selector loop over its boxes' sockets (paho's
external-loop API), so a thousand sessions need no thousand threads.

Head office: two `cloud ingest` worker processes on the office listener (shared
subscription) into a fresh PostgreSQL database. The broker is killed (SIGKILL, no
persistence: every session and retained message lost) after `--duration` and started
again; sales go on for `--after-restart` seconds, then stop, and the run waits until every
box holds head office's ack for its last record.

Figures: sessions held (the boxes' own count of connected sessions, sampled every 2 s,
and how many times a session dropped before the restart), the time for every box to be
back after the restart; ingest lag p50/p99/max per record, from the record's time on the
box to `journal_record.received_at` (head office's clock when the transaction storing it
ran; same machine, same clock), before the restart and for records made from the restart
on; CPU (% of one core over the sales period) and RSS (largest sampled, and VmHWM) of each
ingest worker, their PostgreSQL backends and the broker, from /proc; records stored
against records the boxes made (every box's last seq), with any missing or duplicated
(store, box, seq) and duplicate record ids counted.
Baselines in the same run: a bare QoS 1 round trip through a plain Mosquitto (publish to
a topic the same client subscribes to, payload the size of one sale batch), and the same
fleet path with 10 boxes at a sale a second each (light load). `--ramp` repeats the fleet
run (no restart, `--ramp-duration` seconds) at each box count, stopping at the first
where lag p99 passes 5 s. Prints the load average at the start and end.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import resource
import selectors
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zlib
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "cloud"))

import paho.mqtt.client as mqtt  # noqa: E402
import psycopg  # noqa: E402
from bench_cloud import drop_pg, fresh_pg, prepared  # noqa: E402
from broker_testkit import OFFICE, ShippedBroker  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402
from paho.mqtt.packettypes import PacketTypes  # noqa: E402
from paho.mqtt.properties import Properties  # noqa: E402

from gateway.harness.brokers import Mosquitto  # noqa: E402
from gateway.harness.fleetsim import StoreDay  # noqa: E402
from gateway.journal.chain import GENESIS_HASH, record_hash  # noqa: E402
from gateway.journal.records import JournalRecord  # noqa: E402
from gateway.sync.backoff import ReconnectBackoff  # noqa: E402
from gateway.sync.payloads import (  # noqa: E402
    Ack,
    BoxState,
    HeadOfficeState,
    HostHealth,
    JournalHealth,
    QueueHealth,
    Telemetry,
)
from gateway.sync.timefmt import iso, parse_instant  # noqa: E402
from gateway.sync.topics import Topics  # noqa: E402
from gateway.sync.uplink import Uplink  # noqa: E402
from gateway.sync.wire import batch_payload  # noqa: E402

MQTT_ROOT = "storegate/v1"
CLOUD = Path(sys.executable).parent / "cloud"
BOXES_PER_STORE = 4
BATCH_RECORDS, BATCH_BYTES, WINDOW, RESEND_AFTER = 500, 256 * 1024, 16, 30.0  # box defaults
KEEPALIVE, SESSION_EXPIRY = 30, 7 * 24 * 3600
LAG_LIMIT = 5.0
REPORT_EVERY = 2.0
CONNECT_BURST = 10  # first connections per pass of a simulator's loop (TLS handshakes block)


def identities(count: int) -> list[str]:
    return [f"store-{n // BOXES_PER_STORE:04d}/box-{n % BOXES_PER_STORE + 1}" for n in range(count)]


# ================================================================ the simulated boxes


class SimBox:
    """One box's session, journal and uplink; driven by `SimFleet`'s loop."""

    def __init__(self, identity: str, tls: Path, fleet: SimFleet, seed: int) -> None:
        self.identity = identity
        self.store, self.box = identity.split("/")
        self.topics = Topics(MQTT_ROOT, self.store, self.box)
        self.fleet = fleet
        self.day = StoreDay(self.store, self.box, date.today(), sales=10**7, seed=seed).records()
        self.wire: list[bytes] = []
        self.hashes: list[str] = []
        self.uplink = Uplink(acknowledged_seq=0, window=WINDOW, resend_after=RESEND_AFTER)
        self.backoff = ReconnectBackoff(
            minimum=1.0, maximum=120.0, refused_min=30.0, rng=random.Random(seed)
        )
        self.session = 0
        self.connected = False
        self.drops = 0
        self.reconnect_at: float | None = None
        self.boot_id = uuid.uuid4().hex
        self.started = time.monotonic()
        safe = identity.replace("/", "_")
        context = ssl.create_default_context(cafile=str(tls / "device-ca.pem"))
        context.load_cert_chain(str(tls / f"{safe}.pem"), str(tls / f"{safe}.key"))
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=identity, protocol=mqtt.MQTTv5)
        client.tls_set_context(context)
        client.max_inflight_messages_set(20)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_socket_open = fleet.socket_open
        client.on_socket_close = fleet.socket_close
        client.on_socket_register_write = fleet.register_write
        client.on_socket_unregister_write = fleet.unregister_write
        self.client = client

    # ------------------------------------------------------------ connection

    def connect(self, port: int) -> None:
        self.session += 1
        self.client.will_set(self.topics.state, self._state(False), qos=1, retain=True)
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = SESSION_EXPIRY
        properties.ReceiveMaximum = 64
        try:
            if self.session == 1:
                self.client.connect(
                    "127.0.0.1", port, KEEPALIVE, clean_start=False, properties=properties
                )
            else:
                self.client.reconnect()
            self.reconnect_at = None
        except (OSError, ssl.SSLError):
            self.reconnect_at = time.monotonic() + self.backoff.next_delay()

    def _state(self, online: bool) -> bytes:
        return (
            BoxState(
                online=online,
                session=self.session,
                boot_id=self.boot_id,
                version="bench-fleet",
                time=iso(datetime.now(UTC)),
                protocol="5",
                journal_head_seq=len(self.wire),
                journal_acknowledged_seq=self.uplink.acknowledged_seq,
            )
            .model_dump_json(exclude_none=True)
            .encode()
        )

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            self.reconnect_at = time.monotonic() + self.backoff.next_delay(refused=True)
            return
        self.connected = True
        self.backoff.reset()
        client.subscribe([(topic, 1) for topic in self.topics.subscriptions()])
        client.publish(self.topics.state, self._state(True), qos=1, retain=True)
        self.uplink.on_connected(len(self.wire))
        self.pump(time.monotonic())

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, _reason: Any, _p: Any) -> None:
        if self.connected:
            self.drops += 1
        self.connected = False
        self.uplink.on_disconnected()
        self.reconnect_at = time.monotonic() + self.backoff.next_delay()

    def _on_message(self, _c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        if not message.payload:
            return
        now = time.monotonic()
        if message.topic == self.topics.ack:
            ack = Ack.model_validate_json(message.payload)
            known = self.hashes[ack.seq - 1] if 1 <= ack.seq <= len(self.hashes) else None
            self.uplink.on_ack(ack.seq, ack.hash, known, now)
        elif message.topic == self.topics.head_office_state:
            online = HeadOfficeState.model_validate_json(message.payload).online
            self.uplink.on_head_office_presence(online)
        self.pump(now)

    # ------------------------------------------------------------ journal and uplink

    def sale(self) -> None:
        """Journal the next record of the box's day, as the lane would, and send it."""
        kind, body = next(self.day)
        seq = len(self.wire) + 1
        fields: dict[str, Any] = {
            "prev_hash": self.hashes[-1] if self.hashes else GENESIS_HASH,
            "seq": seq,
            "id": uuid.uuid4().hex,
            "time": iso(datetime.now(UTC)),
            "clock_synced": True,
            "kind": kind,
            "body": body,
        }
        record = JournalRecord(**fields, hash=record_hash(**fields))
        self.wire.append(json.dumps(record.to_wire(), separators=(",", ":")).encode())
        self.hashes.append(record.hash)
        self.pump(time.monotonic())

    def pump(self, now: float) -> None:
        head = len(self.wire)
        while (after := self.uplink.next_batch(head)) is not None:
            records: list[tuple[int, bytes]] = []
            size = 0
            for seq in range(after + 1, min(head, after + BATCH_RECORDS) + 1):
                encoded = self.wire[seq - 1]
                if records and size + len(encoded) + 1 > BATCH_BYTES:
                    break
                records.append((seq, encoded))
                size += len(encoded) + 1
            historical = self.uplink.claim(records[0][0], records[-1][0], now)
            payload = batch_payload(
                store=self.store,
                box=self.box,
                historical=historical,
                sent_at=iso(datetime.now(UTC)),
                records=records,
            )
            self.client.publish(self.topics.journal, payload, qos=1)

    def telemetry(self) -> None:
        if not self.connected:
            return  # a real box queues it on disk; it is not what is measured here
        acked = self.uplink.acknowledged_seq
        body = Telemetry(
            time=iso(datetime.now(UTC)),
            boot_id=self.boot_id,
            version="bench-fleet",
            uptime_s=round(time.monotonic() - self.started, 1),
            clock_synced=True,
            host=HostHealth(
                load=None,
                temperature_c=None,
                memory_total=None,
                memory_available=None,
                disk_total=None,
                disk_free=None,
            ),
            journal=JournalHealth(
                backlog=len(self.wire) - acked,
                oldest_unacknowledged_age_s=None,
                acknowledged_seq=acked,
                last_ack_at=None,
            ),
            queue=QueueHealth(depth=0, capacity=10_000, dropped_telemetry=0, dropped_events=0),
            reconnects=self.session - 1,
        )
        self.client.publish(self.topics.telemetry, body.model_dump_json(), qos=1)

    def tick(self, now: float, port: int) -> None:
        if self.reconnect_at is not None and now >= self.reconnect_at:
            self.connect(port)
        if self.client.socket() is not None:
            self.client.loop_misc()
        if self.uplink.on_tick(now):
            self.pump(now)


class SimFleet:
    """One process's boxes in one selector loop; commands on stdin, reports on stdout.

    stdin: `go` (start sales and telemetry), `stop` (no more sales), `quit`.
    stdout: a JSON line every REPORT_EVERY seconds, and the boxes' heads at `quit`.
    """

    def __init__(self, names: list[str], tls: Path, port: int, opts: dict[str, float]) -> None:
        self.selector = selectors.DefaultSelector()
        self.port = port
        self.opts = opts
        self.boxes = [SimBox(name, tls, self, zlib.crc32(name.encode())) for name in names]

    def socket_open(self, client: mqtt.Client, _u: Any, sock: Any) -> None:
        self.selector.register(sock, selectors.EVENT_READ, client)

    def socket_close(self, _c: Any, _u: Any, sock: Any) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(sock)

    def register_write(self, client: mqtt.Client, _u: Any, sock: Any) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self.selector.modify(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, client)

    def unregister_write(self, client: mqtt.Client, _u: Any, sock: Any) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self.selector.modify(sock, selectors.EVENT_READ, client)

    def run(self) -> None:
        waiting = list(reversed(self.boxes))  # first connections, CONNECT_BURST a pass
        self.selector.register(sys.stdin.fileno(), selectors.EVENT_READ, None)
        selling = False
        quitting = False
        sale_every, telemetry_every = self.opts["sale_every"], self.opts["telemetry_every"]
        next_sale: list[float] = []
        next_telemetry: list[float] = []
        next_tick = next_report = time.monotonic()
        while not quitting:
            for key, mask in self.selector.select(0.05):
                if key.data is None:
                    for line in os.read(key.fd, 4096).decode().split():
                        if line == "go":
                            now = time.monotonic()
                            selling = True
                            rng = random.Random(len(self.boxes))
                            next_sale = [now + rng.uniform(0, sale_every) for _ in self.boxes]
                            next_telemetry = [
                                now + rng.uniform(0, telemetry_every) for _ in self.boxes
                            ]
                        elif line == "stop":
                            selling = False
                        elif line == "quit":
                            quitting = True
                    continue
                client: mqtt.Client = key.data
                if mask & selectors.EVENT_WRITE:
                    client.loop_write()
                if mask & selectors.EVENT_READ:
                    client.loop_read()
                    sock = client.socket()
                    while isinstance(sock, ssl.SSLSocket) and sock.pending():
                        client.loop_read()
                        sock = client.socket()
            for _ in range(min(CONNECT_BURST, len(waiting))):
                waiting.pop().connect(self.port)
            now = time.monotonic()
            if selling:
                for i, box in enumerate(self.boxes):
                    if now >= next_sale[i]:
                        next_sale[i] += sale_every
                        box.sale()
                    if now >= next_telemetry[i]:
                        next_telemetry[i] += telemetry_every
                        box.telemetry()
            if now >= next_tick:
                next_tick = now + 1.0
                for box in self.boxes:
                    box.tick(now, self.port)
            if now >= next_report:
                next_report = now + REPORT_EVERY
                self.report()
        heads = {box.identity: len(box.wire) for box in self.boxes}
        print(json.dumps({"heads": heads}), flush=True)
        for box in self.boxes:
            with contextlib.suppress(Exception):
                box.client.disconnect()

    def report(self) -> None:
        line = {
            "connected": sum(b.connected for b in self.boxes),
            "drops": sum(b.drops for b in self.boxes),
            "made": sum(len(b.wire) for b in self.boxes),
            "acked": sum(b.uplink.acknowledged_seq for b in self.boxes),
            "go_backs": sum(b.uplink.counters.go_backs for b in self.boxes),
        }
        print(json.dumps(line), flush=True)


def sim_main(spec: str) -> int:
    args = json.loads(spec)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    SimFleet(args["names"], Path(args["tls"]), args["port"], args["opts"]).run()
    return 0


# ================================================================ head office side, /proc


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def status_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class Sims:
    """The simulator processes of one run and their latest reports."""

    def __init__(self, names: list[str], tls: Path, port: int, procs: int, opts: dict[str, float]):
        self.latest: list[dict[str, Any]] = [{} for _ in range(procs)]
        self.heads: dict[str, int] = {}
        self.procs: list[subprocess.Popen[str]] = []
        self.threads: list[threading.Thread] = []
        for i in range(procs):
            spec = {"names": names[i::procs], "tls": str(tls), "port": port, "opts": opts}
            proc = subprocess.Popen(
                [sys.executable, __file__, "--sim", json.dumps(spec)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )
            self.procs.append(proc)
            thread = threading.Thread(target=self._read, args=(i, proc), daemon=True)
            thread.start()
            self.threads.append(thread)

    def _read(self, i: int, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            data = json.loads(line)
            if "heads" in data:
                self.heads.update(data["heads"])
            else:
                self.latest[i] = data

    def total(self, key: str) -> int:
        return sum(int(r.get(key, 0)) for r in self.latest)

    def send(self, command: str) -> None:
        for proc in self.procs:
            assert proc.stdin is not None
            proc.stdin.write(command + "\n")
            proc.stdin.flush()

    def quit(self) -> dict[str, int]:
        self.send("quit")
        for proc, thread in zip(self.procs, self.threads, strict=True):
            proc.wait(120)
            thread.join(10)
        return self.heads


def wait_until(condition: Any, timeout: float, what: str) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.2)
    return time.monotonic() - started


def established(port: int) -> int:
    """TCP connections the broker holds on `port` (the kernel's view, not the boxes')."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                count += state == "01" and int(local.rsplit(":", 1)[1], 16) == port
    return count


def pg_backends(url: str, name: str) -> list[int]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchall()
    return [int(r[0]) for r in rows]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def fleet_run(
    work: Path, boxes: int, duration: float, restart: bool, args: argparse.Namespace
) -> dict[str, Any]:
    """One fleet against a fresh broker, database and two ingest workers."""
    names = identities(boxes)
    opts = {"sale_every": args.sale_every, "telemetry_every": args.telemetry_every}
    broker = FleetBroker(work / f"broker-{boxes}-{uuid.uuid4().hex[:4]}", names)
    begun = time.monotonic()
    broker.start()
    print(f"  broker with {boxes} box identities ready in {time.monotonic() - begun:.1f} s")
    db_name, url = fresh_pg()
    workers: list[subprocess.Popen[bytes]] = []
    out: dict[str, Any] = {"boxes": boxes}
    try:
        prepared(url)
        for i in range(args.workers):
            log = (broker.workdir / f"ingest{i}.log").open("wb")
            workers.append(
                subprocess.Popen(
                    [
                        str(CLOUD),
                        "ingest",
                        "--db",
                        url,
                        *broker.office_args(OFFICE),
                        "--root",
                        MQTT_ROOT,
                        "--client-id",
                        f"fleet-ingest-{i}",
                        "--log-level",
                        "WARNING",
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env={**os.environ, "PYTHONPATH": str(ROOT)},
                )
            )
        time.sleep(2.0)  # workers connected, presence retained
        procs = max(1, min(args.procs, boxes))
        sims = Sims(names, broker.tls, broker.port, procs, opts)
        took = wait_until(lambda: sims.total("connected") == boxes, 300, "every box connected")
        print(f"  {boxes} boxes connected in {took:.1f} s", flush=True)
        watched = [w.pid for w in workers]
        backends = pg_backends(url, db_name)
        cpu0 = {pid: cpu_seconds(pid) for pid in [*watched, *backends]}
        broker_cpu = -cpu_seconds(broker.pid)
        rss_max = dict.fromkeys(watched, 0)
        sims.send("go")
        started = time.monotonic()
        low = held_low = boxes
        drops_before = 0
        sim_cpu0 = sum(cpu_seconds(p.pid) for p in sims.procs)

        def sample() -> None:
            for pid in watched:
                rss_max[pid] = max(rss_max[pid], status_kb(pid, "VmRSS"))

        while time.monotonic() - started < duration:
            time.sleep(REPORT_EVERY)
            low = min(low, sims.total("connected"))
            held_low = min(held_low, established(broker.port))
            drops_before = sims.total("drops")
            sample()
        restart_wall = datetime.now(UTC)
        back = float("nan")
        broker_hwm = 0
        if restart:
            broker_cpu += cpu_seconds(broker.pid)
            broker_hwm = status_kb(broker.pid, "VmHWM")
            broker.kill()
            broker.start()
            broker_cpu -= cpu_seconds(broker.pid)
            killed = time.monotonic()
            wait_until(lambda: sims.total("connected") < boxes, 30, "the boxes to notice")
            wait_until(lambda: sims.total("connected") == boxes, 600, "every box back")
            back = time.monotonic() - killed
            print(f"  broker restarted; every box back after {back:.1f} s", flush=True)
            while time.monotonic() - killed < args.after_restart:
                time.sleep(REPORT_EVERY)
                sample()
        sims.send("stop")
        sales_seconds = time.monotonic() - started
        time.sleep(2 * REPORT_EVERY + 0.5)  # every report now counts the last sale
        drained = wait_until(
            lambda: sims.total("acked") == sims.total("made") and sims.total("made") > 0,
            600,
            "every record acknowledged",
        )
        cpu = {pid: cpu_seconds(pid) - cpu0[pid] for pid in cpu0}
        sim_cpu = sum(cpu_seconds(p.pid) for p in sims.procs) - sim_cpu0
        broker_cpu += cpu_seconds(broker.pid)
        broker_hwm = max(broker_hwm, status_kb(broker.pid, "VmHWM"))
        hwm = {pid: status_kb(pid, "VmHWM") for pid in watched}
        sample()
        elapsed = time.monotonic() - started
        out |= {
            "connect_s": round(took, 1),
            "connected_low": low,
            "broker_held_low": held_low,
            "drops_before_restart": drops_before,
            "back_after_restart_s": round(back, 1),
            "sales_s": round(sales_seconds),
            "records_per_s": round(sims.total("made") / sales_seconds, 1),
            "drain_after_stop_s": round(drained, 1),
            "go_backs": sims.total("go_backs"),
            "ingest_cpu_pct": [round(100 * cpu[p] / elapsed, 1) for p in watched],
            "ingest_rss_mb": [round(rss_max[p] / 1024) for p in watched],
            "ingest_hwm_mb": [round(hwm[p] / 1024) for p in watched],
            "pg_cpu_pct": round(100 * sum(cpu[p] for p in backends) / elapsed, 1),
            "broker_cpu_pct": round(100 * broker_cpu / elapsed, 1),
            "broker_hwm_mb": round(broker_hwm / 1024),
            "sims_cpu_pct": round(100 * sim_cpu / elapsed, 1),
        }
        heads = sims.quit()
        out |= stored_figures(url, heads, restart_wall if restart else None)
        return out
    finally:
        for proc in workers:
            proc.terminate()
        for proc in workers:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(30)
        broker.kill()
        drop_pg(db_name)


def stored_figures(url: str, heads: dict[str, int], restart: datetime | None) -> dict[str, Any]:
    """Count what head office stored against what the boxes made, and the lag of each."""
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT store, box, seq, id, time, received_at FROM journal_record")
        records = rows.fetchall()
    made = sum(heads.values())
    keys = {(store, box, seq) for store, box, seq, *_ in records}
    expected = {
        (*name.split("/"), seq) for name, head in heads.items() for seq in range(1, head + 1)
    }
    before: list[float] = []
    after: list[float] = []
    for *_, at, received in records:
        made_at = parse_instant(at)
        lag = (parse_instant(received) - made_at).total_seconds()
        (after if restart is not None and made_at >= restart else before).append(lag)

    def lags(values: list[float]) -> dict[str, float]:
        return {
            "n": len(values),
            "p50": round(percentile(values, 0.50), 3),
            "p99": round(percentile(values, 0.99), 3),
            "max": round(max(values, default=float("nan")), 3),
        }

    return {
        "made": made,
        "stored": len(records),
        "missing": len(expected - keys),
        "unexpected": len(keys - expected),
        "duplicate_keys": len(records) - len(keys),
        "duplicate_ids": len(records) - len({r[3] for r in records}),
        "lag_before_restart": lags(before),
        "lag_from_restart": lags(after),
    }


class FleetBroker(ShippedBroker):
    """The shipped configuration; certificates and access file made once, so a restart
    (`kill` + `start`) brings back the same broker the boxes know."""

    def __init__(self, workdir: Path, boxes: list[str]) -> None:
        super().__init__(workdir, boxes)
        self._issued = False

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def _issue(self) -> None:
        if not self._issued:
            super()._issue()

    def _write_access(self) -> None:
        if not self._issued:
            super()._write_access()
            self._issued = True


# ================================================================ baseline: bare broker


def bare_round_trip(work: Path, size: int, count: int = 500) -> dict[str, float]:
    """QoS 1 publish to a topic the same client subscribes to, one at a time."""
    got = threading.Event()
    with Mosquitto(work / "bare") as broker:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bare", protocol=mqtt.MQTTv5)
        client.on_message = lambda *_: got.set()
        client.connect("127.0.0.1", broker.port)
        client.loop_start()
        client.subscribe("bench/rt", qos=1)
        time.sleep(0.3)
        payload = b"x" * size
        times = []
        for _ in range(count):
            got.clear()
            sent = time.perf_counter()
            client.publish("bench/rt", payload, qos=1)
            got.wait(5)
            times.append(time.perf_counter() - sent)
            time.sleep(0.005)
        client.loop_stop()
        client.disconnect()
    return {
        "p50_ms": round(1000 * statistics.median(times), 2),
        "p99_ms": round(1000 * percentile(times, 0.99), 2),
    }


# ================================================================ main


def show(label: str, figures: dict[str, Any]) -> None:
    print(f"{label}: {json.dumps(figures)}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--boxes", type=int, default=1000, help="0: skip the main run")
    parser.add_argument("--duration", type=float, default=600.0, help="seconds before restart")
    parser.add_argument("--sale-every", type=float, default=10.0)
    parser.add_argument("--telemetry-every", type=float, default=60.0)
    parser.add_argument("--after-restart", type=float, default=60.0)
    parser.add_argument("--no-restart", action="store_true")
    parser.add_argument("--procs", type=int, default=4, help="simulator processes")
    parser.add_argument("--workers", type=int, default=2, help="cloud ingest workers")
    parser.add_argument("--baseline-duration", type=float, default=30.0)
    parser.add_argument("--ramp", default="", help="box counts, e.g. 2000,4000")
    parser.add_argument("--ramp-duration", type=float, default=90.0)
    parser.add_argument("--sim", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sim:
        return sim_main(args.sim)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = 20_000 if hard == resource.RLIM_INFINITY else min(hard, 20_000)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, target), hard))
    print(
        f"load average at start {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; "
        f"open files limit {resource.getrlimit(resource.RLIMIT_NOFILE)[0]}",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as tmp:
        work = Path(tmp)
        show("baseline, bare QoS 1 round trip, 2 KB", bare_round_trip(work, 2048))
        if args.baseline_duration > 0:
            light = argparse.Namespace(**{**vars(args), "sale_every": 1.0})
            show(
                "baseline, 10 boxes, a sale a second each",
                fleet_run(work, 10, args.baseline_duration, False, light),
            )
        if args.boxes:
            show(
                f"{args.boxes} boxes",
                fleet_run(work, args.boxes, args.duration, not args.no_restart, args),
            )
        for count in [int(c) for c in args.ramp.split(",") if c]:
            figures = fleet_run(work, count, args.ramp_duration, False, args)
            show(f"ramp, {count} boxes", figures)
            if figures["lag_before_restart"]["p99"] > LAG_LIMIT:
                print(f"  lag p99 passed {LAG_LIMIT:.0f} s at {count} boxes", flush=True)
                break
    print(f"load average at end {os.getloadavg()[0]:.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
