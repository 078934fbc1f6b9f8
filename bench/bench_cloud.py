"""Head-office ingest throughput: ~1 KB journal records, MQTT -> `cloud ingest` -> database,
counted when head office's acknowledgement for the last record of every box is back.

Run: .venv/bin/python bench/bench_cloud.py [--records N] [--boxes B] [--skip-sqlite]

For each database (PostgreSQL on 127.0.0.1:5432, then SQLite in a temporary folder) it
measures, in the same run and on the same rows:
- baseline: a bare load of the rows into a table of the same columns, one transaction —
  `COPY ... FROM STDIN` for PostgreSQL, `executemany INSERT` for SQLite;
- one `cloud ingest` worker (its own process, shared subscription, manual ack after
  commit, chain walk, retained acks), fed by a publisher that sends every box's journal as
  500-record `JournalBatch` messages through a local Mosquitto;
- two workers on the same shared subscription (PostgreSQL).
Prints records/s and the ratio against the baseline. Exit status 1 if one worker into
PostgreSQL stays under the issue's 20,000 records/s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

from cloud.db import Database
from cloud.schema import upgrade
from gateway.database import open_database
from gateway.harness.brokers import Mosquitto
from gateway.journal.chain import canonical_json
from gateway.journal.records import JournalRecord
from gateway.journal.store import Journal
from gateway.sync.payloads import Ack, JournalBatch
from gateway.sync.topics import Topics

ROOT = "storegate/v1"
PG_ADMIN = os.environ.get("STOREGATE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
CLOUD = Path(sys.executable).parent / "cloud"
BATCH = 500
COLUMNS = (
    "store, box, seq, id, time, clock_synced, kind, body, prev_hash, hash, historical, received_at"
)


def body(n: int) -> dict[str, object]:
    """A sale-like body of about 1 KB once wrapped as a record (amounts as strings)."""
    return {
        "receipt": f"R{n:08d}",
        "total": f"{n % 1000}.{n % 100:02d}",
        "lines": [
            {
                "sku": f"SKU{n % 997:06d}",
                "qty": "1",
                "price": "2.50",
                "category": "dairy",
                "name": "x" * 700,
            }
        ],
        "staff": {"id": "c1", "name": "Cashier 1"},
    }


def make_journals(workdir: Path, boxes: int, per_box: int) -> dict[str, list[JournalRecord]]:
    journals = {}
    for b in range(boxes):
        journal = Journal(open_database(workdir / f"box{b}.db"))
        for first in range(0, per_box, 5000):
            journal.append_many(
                [("sale", body(first + i)) for i in range(min(5000, per_box - first))]
            )
        journals[f"box-{b}"] = journal.read(0, per_box)
    return journals


def payloads(journals: dict[str, list[JournalRecord]], store: str) -> list[tuple[str, bytes]]:
    out = []
    for box, records in journals.items():
        for i in range(0, len(records), BATCH):
            chunk = records[i : i + BATCH]
            batch = JournalBatch(
                store=store,
                box=box,
                first_seq=chunk[0].seq,
                last_seq=chunk[-1].seq,
                historical=True,
                sent_at="2026-11-24T00:00:00.000Z",
                records=[r.to_wire() for r in chunk],
            )
            out.append((Topics(ROOT, store, box).journal, batch.model_dump_json().encode()))
    return out


def rows(journals: dict[str, list[JournalRecord]]) -> list[tuple[object, ...]]:
    return [
        (
            "bench",
            box,
            r.seq,
            r.id,
            r.time,
            r.clock_synced,
            r.kind,
            canonical_json(r.body).decode(),
            r.prev_hash,
            r.hash,
            True,
            r.time,
        )
        for box, records in journals.items()
        for r in records
    ]


# ---------------------------------------------------------------- baselines


def bare_copy(url: str, data: list[tuple[object, ...]]) -> float:
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE bare (LIKE journal_record)")
        conn.commit()
        started = time.perf_counter()
        with conn.cursor() as cur, cur.copy(f"COPY bare ({COLUMNS}) FROM STDIN") as copy:
            for row in data:
                copy.write_row(row)
        conn.commit()
        return time.perf_counter() - started


def bare_sqlite(path: Path, data: list[tuple[object, ...]]) -> float:
    db = Database.open(f"sqlite:///{path}")
    db.conn.execute("CREATE TABLE bare AS SELECT * FROM journal_record WHERE 0")
    started = time.perf_counter()
    with db.transaction():
        db.conn.cursor().executemany(
            f"INSERT INTO bare ({COLUMNS}) VALUES ({', '.join('?' * 12)})", data
        )
    elapsed = time.perf_counter() - started
    db.close()
    return elapsed


# ---------------------------------------------------------------- through ingest


def through_ingest(
    db_url: str, port: int, journals: dict[str, list[JournalRecord]], workers: int, logdir: Path
) -> float:
    """A store name of its own per run, so no retained ack from an earlier run counts."""
    store = f"bench-{uuid.uuid4().hex[:6]}"
    messages = payloads(journals, store)
    last = {box: records[-1].seq for box, records in journals.items()}
    procs = [
        subprocess.Popen(
            [
                str(CLOUD),
                "ingest",
                "--db",
                db_url,
                "--port",
                str(port),
                "--client-id",
                f"bench-{uuid.uuid4().hex[:6]}",
                "--log-level",
                "WARNING",
            ],
            stdout=(logdir / f"w{i}.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        for i in range(workers)
    ]
    try:
        time.sleep(1.5)  # workers connected and subscribed
        return _publish_and_wait(port, store, messages, last)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(30)


def _publish_and_wait(
    port: int, store: str, messages: list[tuple[str, bytes]], last: dict[str, int]
) -> float:
    done = threading.Event()
    acked: dict[str, int] = {}

    def on_message(client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        box = message.topic.split("/")[-2]
        # like a box: a lower ack (another worker's, published late) is stale
        acked[box] = max(acked.get(box, 0), Ack.model_validate_json(message.payload).seq)
        if all(acked.get(b, 0) >= seq for b, seq in last.items()):
            done.set()

    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        protocol=mqtt.MQTTv5,
        client_id=f"bench-box-{uuid.uuid4().hex[:6]}",
    )
    client.on_message = on_message
    client.max_inflight_messages_set(64)
    client.connect("127.0.0.1", port)
    client.loop_start()
    client.subscribe(f"{ROOT}/{store}/+/ack", qos=1)
    time.sleep(0.5)
    started = time.perf_counter()
    for topic, payload in messages:
        client.publish(topic, payload, qos=1)
    if not done.wait(600):
        raise SystemExit(f"ingest did not acknowledge everything: {acked} vs {last}")
    elapsed = time.perf_counter() - started
    client.loop_stop()
    client.disconnect()
    return elapsed


# ---------------------------------------------------------------- main


def fresh_pg() -> tuple[str, str]:
    name = f"storegate_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return name, f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}"


def drop_pg(name: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
        )
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')


def prepared(url: str) -> str:
    db = Database.open(url)
    upgrade(db)
    db.close()
    return url


def report(label: str, count: int, seconds: float, base: float | None) -> float:
    rate = count / seconds
    ratio = f"  ({rate / (count / base):.2f}x the baseline)" if base else ""
    print(
        f"{label:<46} {count:>8} records in {seconds:6.2f} s = {rate:>9,.0f} records/s{ratio}",
        flush=True,
    )
    return rate


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--boxes", type=int, default=10)
    parser.add_argument("--skip-sqlite", action="store_true")
    args = parser.parse_args()
    per_box = args.records // args.boxes
    with tempfile.TemporaryDirectory(prefix="bench-cloud-") as tmp:
        work = Path(tmp)
        journals = make_journals(work, args.boxes, per_box)
        messages, data = payloads(journals, "bench"), rows(journals)
        count = len(data)
        size = sum(len(p) for _, p in messages) / count
        print(
            f"{count} records of {size:.0f} bytes on the wire, {args.boxes} boxes, "
            f"{len(messages)} messages of {BATCH}; load average at start "
            f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs",
            flush=True,
        )
        results: dict[str, float] = {}
        with Mosquitto(work / "broker") as broker:
            for workers in (1, 2):
                name, url = fresh_pg()
                try:
                    prepared(url)
                    base = bare_copy(url, data)
                    if workers == 1:
                        report("PostgreSQL bare COPY (baseline)", count, base, None)
                    took = through_ingest(url, broker.port, journals, workers, work)
                    results[f"pg{workers}"] = report(
                        f"PostgreSQL cloud ingest, {workers} worker(s), acked", count, took, base
                    )
                finally:
                    drop_pg(name)
            if not args.skip_sqlite:
                path = work / "office.db"
                url = prepared(f"sqlite:///{path}")
                base = bare_sqlite(path, data)
                report("SQLite bare executemany INSERT (baseline)", count, base, None)
                took = through_ingest(url, broker.port, journals, 1, work)
                results["sqlite1"] = report(
                    "SQLite cloud ingest, 1 worker, acked", count, took, base
                )
        print(
            json.dumps(
                {k: round(v) for k, v in results.items()}
                | {"load_average_end": round(os.getloadavg()[0], 1)}
            )
        )
    return 0 if results.get("pg1", 0) >= 20_000 else 1


if __name__ == "__main__":
    sys.exit(main())
