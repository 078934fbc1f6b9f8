"""Benchmark: drain a 100,000-record journal backlog to a real Mosquitto, with head-office acks.

Scenarios, measured in the same run on the same machine:
  1. baseline: a bare paho-mqtt QoS-1 publish loop sending the same bytes in the same
     message sizes as the uplink's batches (in-flight window as the uplink's), until the
     last PUBACK;
  2. sync over loopback: the box (a separate process, as the daemon would be) drains the
     journal; a record counts only when the reference receiver has stored it and its ack
     is back at the box; figure = records / seconds from start of draining to the last ack;
  3. the same through a TCP proxy delaying each direction by 25 ms (50 ms round trip).
The box process reports its own peak RSS (ru_maxrss).

Run:  .venv/bin/python bench/bench_sync.py [--records 100000] [--body-bytes 1000]
Targets (issue 5): >= 20,000 records/s on loopback, >= 5,000 records/s at 50 ms RTT.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from gateway.database import open_database
from gateway.harness.brokers import LinkProxy, Mosquitto
from gateway.harness.receiver import ReferenceReceiver
from gateway.journal.store import Journal
from gateway.sync.link import LinkOptions
from gateway.sync.service import SyncConfig, SyncService
from gateway.sync.settings import SyncSettings
from gateway.sync.wire import WireReader, batch_payload, take_batch

STORE = "bench-store"
DEFAULTS = SyncSettings()


def sale_body(n: int, body_bytes: int) -> dict[str, Any]:
    """A sale of several lines, padded to about `body_bytes` of canonical JSON."""
    lines = [
        {
            "sku": f"{4000000000000 + n * 7 + i:013d}",
            "name": "Organic whole milk 1l",
            "qty": "1",
            "unit_price": "1.45",
            "vat": "B",
            "amount": "1.45",
        }
        for i in range(4)
    ]
    body: dict[str, Any] = {
        "receipt": f"R{n:09d}",
        "lane": 1,
        "cashier": "c-07",
        "lines": lines,
        "total": "5.80",
        "tender": "card",
        "note": "",
    }
    size = len(json.dumps(body, separators=(",", ":")))
    body["note"] = "x" * max(0, body_bytes - size)
    return body


def build_journal(path: Path, records: int, body_bytes: int) -> float:
    journal = Journal(open_database(path))
    started = time.perf_counter()
    for first in range(0, records, 2000):
        journal.append_many(
            [
                ("sale", sale_body(n, body_bytes))
                for n in range(first + 1, min(records, first + 2000) + 1)
            ]
        )
    elapsed = time.perf_counter() - started
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return elapsed


def box_config(workdir: Path, port: int, box: str) -> SyncConfig:
    link = LinkOptions(
        host="127.0.0.1",
        port=port,
        client_id=f"bench-{box}",
        keepalive=30,
        session_expiry=0,
        receive_maximum=64,
        max_inflight=DEFAULTS.window_batches + DEFAULTS.queue_window + 4,
    )
    return SyncConfig(
        store=STORE,
        box=box,
        root_topic="storegate/v1",
        link=link,
        protocol="auto",
        journal_path=workdir / "box.db",
        state_path=workdir / "sync.db",
        data_dir=workdir,
        batch_max_records=DEFAULTS.batch_max_records,
        batch_max_bytes=DEFAULTS.batch_max_bytes,
        window_batches=DEFAULTS.window_batches,
        resend_after=DEFAULTS.resend_after,
        telemetry_interval=3600,
    )


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM; ru_maxrss would include the parent's
    high-water mark from before exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_box(workdir: Path, port: int, box: str) -> None:
    """The box process: drain until everything is acknowledged, print figures as JSON."""
    journal = Journal(open_database(workdir / "box.db"))
    head = journal.state().head_seq
    config = box_config(workdir, port, box)
    service = SyncService(config, acknowledge=lambda seq, digest: None)
    started = time.perf_counter()
    service.start()
    deadline = started + 600
    while service.uplink.acknowledged_seq < head and time.perf_counter() < deadline:
        time.sleep(0.002)  # the uplink's own view: head office has stored up to here
    elapsed = time.perf_counter() - started
    finished = service.uplink.acknowledged_seq >= head
    acked = [service.uplink.acknowledged_seq]
    status = service.status()
    service.stop()
    print(
        json.dumps(
            {
                "records": head,
                "acked": acked[0],
                "seconds": elapsed,
                "finished": finished,
                "peak_rss_mb": peak_rss_mb(),
                "cpu_s": (lambda u: u.ru_utime + u.ru_stime)(
                    resource.getrusage(resource.RUSAGE_SELF)
                ),
                "batches": status["batches_sent"],
                "records_sent": status["records_sent"],
                "go_backs": status["go_backs"],
            }
        )
    )


def drain(
    workdir: Path,
    journal_file: Path,
    broker_port: int,
    box_port: int,
    box: str,
    verify: bool = True,
) -> dict[str, Any]:
    box_dir = workdir / box
    box_dir.mkdir()
    shutil.copy(journal_file, box_dir / "box.db")
    receiver = ReferenceReceiver(
        host="127.0.0.1",
        port=broker_port,
        db_path=box_dir / "office.db",
        synchronous="NORMAL",
        verify=verify,
    )
    receiver.start()
    receiver.wait_connected()
    try:
        out = subprocess.run(
            [sys.executable, __file__, "--box", str(box_dir), str(box_port), box],
            check=True,
            capture_output=True,
            text=True,
            timeout=900,
        )
    finally:
        receiver.stop()
    figures: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    figures["duplicates_discarded"] = receiver.stats.duplicates
    figures["rate"] = figures["records"] / figures["seconds"]
    return figures


def batch_payloads(journal_file: Path) -> list[bytes]:
    """The uplink's batches (same reader, same packing), to replay with bare paho."""
    reader = WireReader(journal_file)
    pending: deque[tuple[int, bytes]] = deque()
    payloads: list[bytes] = []
    after = 0
    while True:
        pending.extend(
            (seq, encoded) for seq, _, encoded in reader.read(after, DEFAULTS.batch_max_records)
        )
        if not pending:
            return payloads
        records = take_batch(pending, DEFAULTS.batch_max_records, DEFAULTS.batch_max_bytes)
        payloads.append(
            batch_payload(
                store=STORE,
                box="baseline",
                historical=True,
                sent_at="2026-11-24T00:00:00.000Z",
                records=records,
            )
        )
        after = records[-1][0]
        pending.clear()


def bare_paho(port: int, payloads: list[bytes], window: int) -> float:
    """Seconds for a bare paho QoS-1 loop to get every payload PUBACKed."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-bare", protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(window)
    acked = threading.Semaphore(0)
    client.on_publish = lambda c, u, mid, rc, p: acked.release()
    client.connect("127.0.0.1", port)
    client.loop_start()
    started = time.perf_counter()
    for payload in payloads:
        client.publish("bench/bare", payload, qos=1)
    for _ in payloads:
        acked.acquire(timeout=60)
    elapsed = time.perf_counter() - started
    client.disconnect()
    client.loop_stop()
    return elapsed


def report(label: str, figures: dict[str, Any], bare_rate: float) -> None:
    print(
        f"{label:<40} {figures['seconds']:6.2f} s = {figures['rate']:>8,.0f} records/s "
        f"(x{figures['rate'] / bare_rate:.2f} of baseline); box CPU "
        f"{figures['cpu_s']:.1f} s, peak RSS {figures['peak_rss_mb']:.0f} MB; "
        f"{figures['batches']} batches, {figures['go_backs']} go-backs, "
        f"{figures['duplicates_discarded']} duplicates"
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--body-bytes", type=int, default=1000)
    parser.add_argument("--box", nargs=3, metavar=("DIR", "PORT", "BOX"))
    args = parser.parse_args()
    if args.box:
        run_box(Path(args.box[0]), int(args.box[1]), args.box[2])
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-sync-") as tmp:
        workdir = Path(tmp)
        journal_file = workdir / "journal" / "box.db"
        journal_file.parent.mkdir()
        built = build_journal(journal_file, args.records, args.body_bytes)
        wire = sum(len(p) for p in batch_payloads(journal_file))
        payloads = batch_payloads(journal_file)
        print(
            f"journal: {args.records} records, {wire / args.records:.0f} wire bytes each, "
            f"{len(payloads)} batches; built in {built:.1f} s"
        )
        with Mosquitto(workdir / "broker") as broker:
            bare = bare_paho(broker.port, payloads, DEFAULTS.window_batches)
            bare_rate = args.records / bare
            print(
                f"{'baseline: bare paho QoS 1, same bytes':<40} {bare:6.2f} s = "
                f"{bare_rate:>8,.0f} records/s (PUBACKs only, nothing stored)"
            )
            local = drain(workdir, journal_file, broker.port, broker.port, "local")
            report("sync, loopback, acked end to end", local, bare_rate)
            quick = drain(workdir, journal_file, broker.port, broker.port, "quick", verify=False)
            report("  same, receiver skips hash checks", quick, bare_rate)
            proxy = LinkProxy(broker.port, delay=0.025).start()
            try:
                far = drain(workdir, journal_file, broker.port, proxy.port, "far")
            finally:
                proxy.stop()
            report("sync, 25 ms each way (50 ms RTT)", far, bare_rate)
        ok = local["rate"] >= 20_000 and far["rate"] >= 5_000
        print("targets (>= 20,000 loopback, >= 5,000 at 50 ms):", "met" if ok else "NOT met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
