"""The uplink against a real Mosquitto and the reference receiver."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sync_support import BOX, STORE, append_sales, eventually, make_config, sale_body

from gateway.harness.brokers import Mosquitto
from gateway.harness.receiver import ReferenceReceiver
from gateway.journal.store import Journal
from gateway.sync.service import SyncService


def test_backlog_is_delivered_in_order_and_acknowledged(
    tmp_path: Path,
    broker: Mosquitto,
    journal: Journal,
    receiver: ReferenceReceiver,
    start_service: Callable[..., SyncService],
) -> None:
    append_sales(journal, 3000)
    start_service(make_config(tmp_path, broker.port))
    receiver.wait_for(STORE, BOX, 3000, timeout=30)
    assert receiver.stored_seqs(STORE, BOX) == list(range(1, 3001))
    assert receiver.stats.broken == 0
    assert eventually(lambda: journal.acknowledged_seq() == 3000), journal.acknowledged_seq()


def test_batches_lost_after_the_broker_accepted_them_are_resent_after_the_timeout(
    tmp_path: Path,
    broker: Mosquitto,
    journal: Journal,
    receiver: ReferenceReceiver,
    start_service: Callable[..., SyncService],
) -> None:
    service = start_service(
        make_config(tmp_path, broker.port, batch_max_records=100, resend_after=1.0)
    )
    assert eventually(lambda: service.status()["head_office_online"])
    receiver.lose_batches = 3  # PUBACKed by the broker, never stored by head office
    append_sales(journal, 500)  # live records, journaled while connected
    receiver.wait_for(STORE, BOX, 500, timeout=20)
    assert receiver.stored_seqs(STORE, BOX) == list(range(1, 501))
    assert service.status()["go_backs"] >= 1
    assert receiver.stats.historical_batches >= 1  # the re-sent ones said so


def test_batches_shrink_to_the_broker_maximum_packet_size(
    tmp_path: Path, journal: Journal, start_service: Callable[..., SyncService]
) -> None:
    with Mosquitto(tmp_path / "small", extra="max_packet_size 20000") as broker:
        office = ReferenceReceiver(
            host="127.0.0.1", port=broker.port, db_path=tmp_path / "office.db"
        )
        office.start()
        try:
            append_sales(journal, 400, size=1000)  # 200 records would be ~250 KB
            service = start_service(make_config(tmp_path, broker.port))
            office.wait_for(STORE, BOX, 400, timeout=20)
            assert service.status()["reconnects"] == 1  # never disconnected for size
            assert service.status()["batches_sent"] >= 400 * 1100 // 20000
        finally:
            office.stop()


def test_a_record_larger_than_the_broker_allows_stops_the_uplink_with_a_clear_error(
    tmp_path: Path, journal: Journal, start_service: Callable[..., SyncService]
) -> None:
    with Mosquitto(tmp_path / "small", extra="max_packet_size 20000") as broker:
        office = ReferenceReceiver(
            host="127.0.0.1", port=broker.port, db_path=tmp_path / "office.db"
        )
        office.start()
        try:
            append_sales(journal, 10)
            journal.append("sale", sale_body(11, size=30_000))
            service = start_service(make_config(tmp_path, broker.port))
            office.wait_for(STORE, BOX, 10, timeout=10)
            assert eventually(
                lambda: "maximum packet size" in (service.status()["last_error"] or "")
            )
            assert service.status()["reconnects"] == 1  # no disconnect loop
            assert office.acknowledged(STORE, BOX) == 10
        finally:
            office.stop()
