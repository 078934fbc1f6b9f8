"""Reliability against a real Mosquitto: outages, broker crashes, SIGKILLed boxes, flaky links.

Every test ends by checking that the receiver holds exactly journal seqs 1..head, each
once, with the journal's own hashes: nothing lost, re-deliveries discarded.
"""

from __future__ import annotations

import random
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sync_support import BOX, STORE, append_sales, eventually, make_config

from gateway.harness.brokers import LinkProxy, Mosquitto
from gateway.harness.receiver import ReferenceReceiver
from gateway.journal.store import Journal
from gateway.sync.service import SyncService

BOX_PROCESS = Path(__file__).parent / "box_process.py"


def assert_delivered_exactly(receiver: ReferenceReceiver, journal: Journal) -> None:
    head = journal.state().head_seq
    stored = receiver.stored(STORE, BOX)
    assert [s for s, _, _ in stored] == list(range(1, head + 1))
    journal_hashes = [r.hash for r in journal.read(0, head)]
    assert [h for _, _, h in stored] == journal_hashes
    assert receiver.stats.broken == 0, receiver.stats.errors


@pytest.mark.slow
def test_50000_records_buffered_while_broker_is_down_arrive_in_order(
    tmp_path: Path, journal: Journal, start_service: Callable[..., SyncService]
) -> None:
    broker = Mosquitto(tmp_path / "broker")
    append_sales(journal, 50_000)
    service = start_service(
        make_config(tmp_path, broker.port, batch_max_records=500, window_batches=16)
    )
    assert eventually(lambda: service.status()["last_error"] is not None, 5)
    assert service.status()["connection"] != "connected"
    with broker:
        receiver = ReferenceReceiver(
            host="127.0.0.1", port=broker.port, db_path=tmp_path / "office.db", synchronous="NORMAL"
        )
        receiver.start()
        try:
            receiver.wait_for(STORE, BOX, 50_000, timeout=120)
            assert eventually(lambda: journal.acknowledged_seq() == 50_000)
            assert_delivered_exactly(receiver, journal)
        finally:
            receiver.stop()


@pytest.mark.slow
def test_broker_killed_and_restarted_without_persistence_mid_upload(
    tmp_path: Path,
    broker: Mosquitto,
    journal: Journal,
    receiver: ReferenceReceiver,
    start_service: Callable[..., SyncService],
) -> None:
    append_sales(journal, 20_000)
    start_service(make_config(tmp_path, broker.port, batch_max_records=100, window_batches=4))
    assert eventually(lambda: receiver.acknowledged(STORE, BOX) >= 3000, 30)
    broker.kill()
    time.sleep(0.5)
    broker.start()  # same port, empty: no sessions, no retained ack or presence
    receiver.wait_for(STORE, BOX, 20_000, timeout=90)
    assert eventually(lambda: journal.acknowledged_seq() == 20_000)
    assert_delivered_exactly(receiver, journal)
    assert receiver.stats.historical_batches > 0  # re-sent after the reconnect, flagged


@pytest.mark.slow
def test_box_process_sigkilled_at_random_moments_loses_nothing(
    tmp_path: Path, broker: Mosquitto, receiver: ReferenceReceiver
) -> None:
    rng = random.Random(20261124)
    kills = 0
    for _ in range(22):
        box = subprocess.Popen(
            [sys.executable, str(BOX_PROCESS), str(tmp_path), str(broker.port), "400"],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert box.stdout is not None
        assert box.stdout.readline() == "started\n"  # imports take seconds on a busy CI
        time.sleep(rng.uniform(0.4, 1.6))
        box.kill()  # SIGKILL
        box.wait(10)
        kills += 1
        stored = receiver.stored_seqs(STORE, BOX)
        assert stored == list(range(1, len(stored) + 1))  # never a gap, never twice
    assert len(stored) > 0  # uploads were under way while the box was being killed
    final = subprocess.run(
        [
            sys.executable,
            str(BOX_PROCESS),
            str(tmp_path),
            str(broker.port),
            "0",
            "--exit-when-acked",
        ],
        timeout=120,
    )
    assert final.returncode == 0
    from gateway.database import open_database

    journal = Journal(open_database(tmp_path / "box.db", readonly=True))
    assert kills >= 20
    assert journal.state().head_seq > 1000
    assert journal.acknowledged_seq() == journal.state().head_seq
    assert_delivered_exactly(receiver, journal)


@pytest.mark.slow
def test_flaky_link_dropping_and_restoring_during_a_long_upload(
    tmp_path: Path,
    broker: Mosquitto,
    journal: Journal,
    receiver: ReferenceReceiver,
    start_service: Callable[..., SyncService],
) -> None:
    proxy = LinkProxy(broker.port, delay=0.005).start()
    try:
        append_sales(journal, 30_000)
        service = start_service(
            make_config(tmp_path, proxy.port, batch_max_records=100, window_batches=4)
        )
        progress = []
        for _ in range(8):
            time.sleep(0.4)
            progress.append(receiver.acknowledged(STORE, BOX))
            proxy.down()
            time.sleep(0.3)
            proxy.up()
        receiver.wait_for(STORE, BOX, 30_000, timeout=90)
        assert eventually(lambda: journal.acknowledged_seq() == 30_000)
        assert_delivered_exactly(receiver, journal)
        assert service.status()["reconnects"] >= 4
        assert proxy.connections >= 4
        assert progress[3] < 30_000  # the drops hit the upload, not an idle link
    finally:
        proxy.stop()
