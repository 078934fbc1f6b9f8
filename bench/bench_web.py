"""Head office in the browser at scale (issue 18 item 9): the dashboard and a store's
drill-down over 10 million sale lines in PostgreSQL, timed through a real `cloud web serve`.

Run: .venv/bin/python bench/bench_web.py [--stores 500] [--boxes 2] [--days 10]
[--sales 200] [--lines 5] [--queries 30]
(the defaults are the full size: 500 stores x 2 boxes x 10 days x 200 sales a box a day x
5 lines = 10,000,000 sale lines; about 8 minutes; needs PostgreSQL on 127.0.0.1:5432 or
$STOREGATE_TEST_PG).

In a fresh PostgreSQL database at head office's schema (`cloud.schema.upgrade`), dropped at
the end, it stores what ingest stores for that fleet, by COPY:
- `journal_record`: each box's journal, acknowledged and chained, the days ending today
  (UTC). The bodies are the fleet simulator's lane bodies (`gateway.harness.fleetsim`,
  one box's day of sales, refunds, voids, a shift opening and a no-sale) re-stamped with
  the store, box and day, each sale's lines made up to `--lines` with its totals and
  tender summed again; canonical JSON as the box hashed it;
- `sales_summary`: the figures per business day, store, hour and cashier that ingest adds
  up as it stores each record (`cloud.sales_summary.contribution` of each distinct body,
  the code ingest runs, summed);
- `box_chain`, `box_state` (online, telemetry), `store`, 100 open alerts and an admin
  account (`cloud.web.accounts.add_account`);
then `VACUUM ANALYZE`. It starts `cloud web serve` on a free port, signs in as the admin
through the sign-in form, and times over HTTP, Q times each: `/` (the dashboard), `/live`
(its part refreshed every 10 s) and `/stores/S` for random stores; p50 / p95 / max against
the 300 ms target. Baselines in the same run: `/login` over the same HTTP path (no database
work) and a primary-key look-up of one `journal_record` row through psycopg. Prints the
load average before and after. Exit status 1 if a page's p95 is 300 ms or more.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import re
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import psycopg
from bench_cloud import CLOUD, drop_pg, fresh_pg, prepared

from cloud.db import Database
from cloud.sales_summary import Figures, contribution
from cloud.web.accounts import add_account
from gateway.harness.brokers import free_port
from gateway.harness.fleetsim import StoreDay
from gateway.journal.chain import canonical_json

TEMPLATE_DAY = date(2026, 11, 2)  # the fleet simulator's day, re-stamped per store and day
PASSWORD = "bench admin pass phrase"
TARGET_MS = 300.0
COLUMNS = (
    "store, box, seq, id, time, clock_synced, kind, body, prev_hash, hash, historical, received_at"
)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


# ---------------------------------------------------------------- the fleet's journals


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def templates(sales: int, lines: int) -> list[tuple[str, str, str]]:
    """One box's day from the fleet simulator as (kind, UTC time of day, canonical body)
    with store "store-0", box "box-1" and day TEMPLATE_DAY in the text, to be replaced.
    Each sale gets `lines` lines (the simulator's own, then lines of earlier sales, renumbered)
    and its totals, due and tender summed again from them."""
    records = list(StoreDay("store-0", "box-1", TEMPLATE_DAY, sales, seed=3).records())
    pool = [line for kind, body in records if kind == "sale" for line in body["lines"]]
    rng = random.Random(5)
    out = []
    for kind, body in records:
        if kind == "sale":
            made = list(body["lines"][:lines])
            while len(made) < lines:
                made.append(dict(rng.choice(pool)))
            made = [dict(line, index=i) for i, line in enumerate(made)]
            total = sum((Decimal(line["total"]) for line in made), Decimal(0))
            body = dict(body, lines=made)
            body["totals"] = dict(
                body["totals"], list_total=_money(total), total=_money(total), due=_money(total)
            )
            body["tenders"] = [dict(body["tenders"][0], amount=_money(total))]
        local = datetime.fromisoformat(str(body.get("local_time") or f"{TEMPLATE_DAY}T08:00:00"))
        utc = local - timedelta(hours=1)  # the simulated stores keep UTC+1
        out.append((kind, utc.strftime("%H:%M:%S"), canonical_json(body).decode()))
    return out


def stamp(text: str, store: str, box: str, day: date) -> str:
    return (
        text.replace("store-0", store)
        .replace("box-1", box)
        .replace(str(TEMPLATE_DAY), str(day))
        .replace(TEMPLATE_DAY.strftime("%Y%m%d"), day.strftime("%Y%m%d"))
    )


def load_fleet(url: str, args: argparse.Namespace, today: date) -> tuple[int, int]:
    """Every box's journal, `sales_day`, chains, states, stores, alerts; returns (records,
    sale lines). Indexes are built after the load (as a restore would), then VACUUM
    ANALYZE."""
    days = [today - timedelta(days=d) for d in range(args.days - 1, -1, -1)]
    day_templates = templates(args.sales, args.lines)
    now = f"{today}T12:00:00.000Z"
    summary: dict[tuple[str, str, str, str], Figures] = defaultdict(Figures)
    adds: dict[int, tuple[str, str, Figures] | None] = {}
    records = lines = 0
    chains: list[tuple[Any, ...]] = []
    states: list[tuple[Any, ...]] = []
    shops: list[tuple[Any, ...]] = []
    with psycopg.connect(url) as conn:
        indexes = conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'journal_record' "
            "AND indexname <> 'journal_record_pkey'"
        ).fetchall()
        conn.execute("ALTER TABLE journal_record DROP CONSTRAINT journal_record_pkey")
        for (definition,) in indexes:
            conn.execute(f"DROP INDEX {definition.split()[2]}")
        with conn.cursor().copy(f"COPY journal_record ({COLUMNS}) FROM STDIN") as copy:
            for s in range(args.stores):
                store = f"store-{s:03d}"
                for b in range(1, args.boxes + 1):
                    box, seq, buffer = f"box-{b}", 0, io.StringIO()
                    for day in days:
                        for i, (kind, hms, text) in enumerate(day_templates):
                            seq += 1
                            body = stamp(text, store, box, day)
                            if i not in adds:  # the same for every store, box and day
                                found = contribution(store, kind, body)
                                adds[i] = None if found is None else (*found[0][2:], found[1])
                            add = adds[i]
                            if add is not None:
                                summary[(str(day), store, add[0], add[1])].add(add[2])
                            if kind == "sale":
                                lines += args.lines
                            escaped = body.replace("\\", "\\\\")
                            buffer.write(
                                f"{store}\t{box}\t{seq}\t{uuid.uuid4().hex}\t{day}T{hms}.000Z\tt"
                                f"\t{kind}\t{escaped}\t{seq - 1:064x}\t{seq:064x}\tf\t{now}\n"
                            )
                    copy.write(buffer.getvalue())
                    records += seq
                    chains.append((store, box, seq, f"{seq:064x}", seq, now))
                    telemetry = {
                        "journal": {"backlog": 0, "oldest_unacknowledged_age_s": None},
                        "clock_synced": True,
                        "devices": {
                            "printer": {"state": "ok", "paper": "ok"},
                            "scanner": {"state": "ok"},
                            "scale": {"state": "ok"},
                        },
                        "host": {"disk_free_mb": 12000, "load": 0.2},
                    }
                    states.append(
                        (store, box, s % 50 != 7, now, now, seq, seq, json.dumps(telemetry), now)
                    )
                shops.append((store, f"Store {s}", now))
        cur = conn.cursor()
        cur.executemany(
            "INSERT INTO box_chain (store, box, acked_seq, acked_hash, max_seq, updated_at) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            chains,
        )
        cur.executemany(
            "INSERT INTO box_state (store, box, online, session, boot_id, version, "
            "online_since, last_seen, journal_head_seq, journal_acknowledged_seq, telemetry, "
            "telemetry_time) VALUES (%s, %s, %s, 1, 'boot', '0.9.0', %s, %s, %s, %s, %s, %s)",
            states,
        )
        cur.executemany("INSERT INTO store (id, name, added_at) VALUES (%s, %s, %s)", shops)
        summary_table = conn.execute("SELECT to_regclass('sales_summary')").fetchone()
        if summary_table and summary_table[0]:  # (a schema from before it has none)
            with conn.cursor().copy(
                "COPY sales_summary (business_day, store, hour, cashier, tickets, items, sales, "
                "refund_count, refunds, voids, voided, no_sales) FROM STDIN"
            ) as copy:
                for key in sorted(summary):
                    copy.write_row((*key, *summary[key].values()))
        for n in range(100):
            conn.execute(
                "INSERT INTO alert (key, raised_at, kind, severity, store, box, message, body) "
                "VALUES (%s, %s, 'box.offline', 'error', %s, 'box-1', %s, '{}')",
                (f"bench:{n}", now, f"store-{n * 5:03d}", f"store-{n * 5:03d}/box-1 offline"),
            )
        conn.execute("ALTER TABLE journal_record ADD PRIMARY KEY (store, box, seq)")
        for (definition,) in indexes:
            conn.execute(definition)
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
    db = Database.open(url)
    try:
        add_account(db, "admin", "admin", None, PASSWORD, by="bench", now=now)
    finally:
        db.close()
    return records, lines


# ---------------------------------------------------------------- through the server


def serve(url: str, logfile: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [str(CLOUD), "web", "serve", "--db", url, "--port", str(port)],
        stdout=logfile.open("wb"),
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"{base}/login", timeout=5)
            return proc, base
        except httpx.TransportError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"cloud web serve did not start: {logfile.read_text()}") from None
            time.sleep(0.2)


def signed_in(base: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=600)
    form = client.get("/login").text
    found = re.search(r'name="csrf" value="([^"]+)"', form)
    assert found, "no CSRF token on the sign-in form"
    answer = client.post(
        "/login", data={"csrf": found.group(1), "name": "admin", "password": PASSWORD}
    )
    assert answer.status_code in (200, 303) and client.cookies.get("storegate_office"), (
        answer.status_code,
        answer.text[:300],
    )
    return client


def timed_get(client: httpx.Client, path: str) -> tuple[float, str]:
    started = time.perf_counter()
    answer = client.get(path)
    elapsed = (time.perf_counter() - started) * 1000
    assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
    return elapsed, answer.text


def line(label: str, times: list[float], base_p95: float | None = None) -> float:
    p95 = percentile(times, 0.95)
    ratio = f"  {p95 / base_p95:6.1f}x the baseline p95" if base_p95 else ""
    print(
        f"  {label:<34} p50 {percentile(times, 0.5):8.1f} ms  p95 {p95:8.1f} ms  "
        f"max {max(times):8.1f} ms  (n={len(times)}){ratio}",
        flush=True,
    )
    return p95


def measure(url: str, args: argparse.Namespace, today: date, logdir: Path) -> bool:
    rng = random.Random(18)
    with psycopg.connect(url) as conn:  # baseline: a primary-key look-up
        pk = []
        for _ in range(args.queries * 3):
            key = (f"store-{rng.randrange(args.stores):03d}", "box-1", rng.randrange(1, 2000))
            started = time.perf_counter()
            conn.execute(
                "SELECT body FROM journal_record WHERE store = %s AND box = %s AND seq = %s", key
            ).fetchone()
            pk.append((time.perf_counter() - started) * 1000)
    proc, base = serve(url, logdir / "web.log")
    try:
        client = signed_in(base)
        first, page = timed_get(client, "/")
        pages = -(-args.stores // 50)  # the dashboard's 50 stores a page
        assert f"page 1 of {pages}" in page and str(today) in page, "no fleet on the dashboard"
        print(f"  first dashboard after start       {first:8.1f} ms", flush=True)
        live = timed_get(client, "/live")[1]
        print(f"  dashboard {len(page.encode()):,} bytes, /live {len(live.encode()):,}", flush=True)
        login = [timed_get(client, "/login")[0] for _ in range(args.queries)]
        figures: dict[str, list[float]] = {}
        for label in ("/", "/live", "/stores/S (random S)"):
            times = figures[label] = []
            while len(times) < args.queries and sum(times) < args.budget * 1000:
                store = f"store-{rng.randrange(args.stores):03d}"
                path = f"/stores/{store}" if label.startswith("/stores") else label
                took, page = timed_get(client, path)
                if path != label:
                    assert store in page and "box-1" in page, f"{path} shows no boxes"
                times.append(took)
        client.close()
    finally:
        proc.terminate()
        proc.wait(30)
    print("  baselines:")
    line("PK look-up, journal_record (psycopg)", pk)
    base_p95 = line("/login over HTTP (no database)", login)
    print("  pages:")
    met = True
    for label, times in figures.items():
        met &= line(label, times, base_p95) < TARGET_MS
    print(f"  target p95 < {TARGET_MS:.0f} ms for every page: {'met' if met else 'MISSED'}")
    return met


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=int, default=500)
    parser.add_argument("--boxes", type=int, default=2, help="boxes a store")
    parser.add_argument("--days", type=int, default=10, help="days of journal, ending today")
    parser.add_argument("--sales", type=int, default=200, help="sales a box a day")
    parser.add_argument("--lines", type=int, default=5, help="lines a sale")
    parser.add_argument("--queries", type=int, default=30, help="requests of each page")
    parser.add_argument(
        "--budget", type=float, default=120, help="seconds a page may take in all (then n < Q)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the database (prints it)")
    parser.add_argument("--url", help="time the pages over a database a --keep run left")
    args = parser.parse_args()
    print(
        f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on "
        f"{os.cpu_count()} CPUs; Python {sys.version.split()[0]}",
        flush=True,
    )
    today = datetime.now(UTC).date()
    if args.url:  # a database an earlier --keep run loaded (for profiling): no load
        name, url = "", args.url
    else:
        name, url = fresh_pg()
    try:
        started = time.perf_counter()
        if not args.url:
            prepared(url)
            records, lines = load_fleet(url, args, today)
        else:
            records, lines = 0, 0
        with psycopg.connect(url) as conn:
            size = conn.execute(
                "SELECT pg_size_pretty(pg_database_size(current_database()))"
            ).fetchone()
            print(
                f"PostgreSQL: {args.stores} stores x {args.boxes} boxes x {args.days} days x "
                f"{args.sales} sales x {args.lines} lines = {lines:,} sale lines in "
                f"{records:,} journal records ({size[0] if size else '?'}; COPY, indexes and "
                f"VACUUM ANALYZE {time.perf_counter() - started:.0f} s); today {today}",
                flush=True,
            )
        log = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-web-{uuid.uuid4().hex[:6]}"
        log.mkdir()
        met = measure(url, args, today, log)
    finally:
        if args.keep or args.url:
            print(f"database kept: {url}")
        else:
            drop_pg(name)
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
