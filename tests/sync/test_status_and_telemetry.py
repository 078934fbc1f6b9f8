"""`gateway sync status` from the files, and telemetry/events through the bounded queue."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sync_support import BOX, STORE, append_sales, eventually, make_config

from gateway.cli import main
from gateway.database import open_database
from gateway.harness.brokers import LinkProxy, Mosquitto
from gateway.harness.receiver import ReferenceReceiver
from gateway.journal.store import Journal
from gateway.sync.payloads import DeviceHealth, Telemetry
from gateway.sync.service import SyncService


def test_sync_status_reports_what_the_files_hold(
    tmp_path: Path,
    broker: Mosquitto,
    receiver: ReferenceReceiver,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data = tmp_path / "data"
    journal = Journal(open_database(data / "storegate.db"))
    append_sales(journal, 120)
    config = make_config(
        tmp_path, broker.port, journal_path=data / "storegate.db", state_path=data / "sync.db"
    )
    service = SyncService(config, acknowledge=lambda s, h: journal.acknowledge(s, expected_hash=h))
    service.start()
    receiver.wait_for(STORE, BOX, 120, timeout=10)
    assert eventually(lambda: journal.acknowledged_seq() == 120)
    append_sales(journal, 5)
    receiver.set_presence(False)  # head office goes away: 5 stay in the backlog
    service.stop()
    toml = tmp_path / "gateway.toml"
    toml.write_text(f'[paths]\ndata_dir = "{data}"\n[store]\nid = "{STORE}"\nbox = "{BOX}"\n')

    assert main(["sync", "status", "--config", str(toml)]) == 0
    text = capsys.readouterr().out
    assert "acknowledged:   seq 120" in text or "acknowledged:   seq 125" in text
    assert "(broker 127.0.0.1:" in text and "last error:" in text

    assert main(["sync", "status", "--config", str(toml), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["journal"]["head_seq"] == 125
    assert report["sync"]["connection"] in ("stopped", "connected")
    assert report["queue"]["capacity"] == 10_000


def test_sync_status_without_a_journal_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    toml = tmp_path / "gateway.toml"
    toml.write_text(f'[paths]\ndata_dir = "{tmp_path / "none"}"\n')
    assert main(["sync", "status", "--config", str(toml)]) == 3
    assert "database file does not exist" in capsys.readouterr().err


def test_telemetry_and_events_wait_on_disk_while_offline_with_drops_counted(
    tmp_path: Path, broker: Mosquitto, receiver: ReferenceReceiver, journal: Journal
) -> None:
    line = LinkProxy(broker.port).start()
    line.down()  # the shop's line is down from the start; head office is listening
    devices = {"printer": DeviceHealth(state="connected", paper="low")}
    config = make_config(
        tmp_path, line.port, telemetry_interval=0.05, queue_max_messages=12, reconnect_max=0.3
    )
    service = SyncService(
        config,
        acknowledge=lambda s, h: journal.acknowledge(s, expected_hash=h),
        devices=lambda: devices,
    )
    service.start()
    try:
        service.post_event("device.state", {"device": "printer", "paper": "low"}, "warning")
        assert eventually(lambda: _dropped(tmp_path) > 0, 10)  # telemetry filled the queue
        service.post_event("alert.drawer", {"open_s": 90}, "warning")
        line.up()
        assert eventually(lambda: len(receiver.received(f"{BOX}/telemetry")) >= 3, 10)
        assert eventually(
            lambda: (
                [e["kind"] for e in receiver.received(f"{BOX}/events")][:2]
                == ["device.state", "alert.drawer"]
            )
        )  # events were kept, in order

        def fresh() -> list[Telemetry]:  # sampled after the line came back
            sent = [Telemetry.model_validate(t) for t in receiver.received(f"{BOX}/telemetry")]
            return [t for t in sent if t.reconnects >= 1]

        assert eventually(lambda: bool(fresh()), 10)
        latest = fresh()[-1]
        assert latest.queue.dropped_telemetry > 0
        assert latest.queue.dropped_events == 0
        assert latest.devices["printer"].paper == "low"
        assert latest.host.memory_total and latest.host.disk_free
    finally:
        service.stop()
        line.stop()


def _dropped(tmp_path: Path) -> int:
    from gateway.sync.store import SyncStore

    store = SyncStore(tmp_path / "sync.db", capacity=12, readonly=True)
    try:
        return store.counter("dropped_telemetry")
    finally:
        store.close()
