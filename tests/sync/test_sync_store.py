"""The bounded on-disk outbox, command log and telemetry policy (real SQLite files)."""

from __future__ import annotations

from pathlib import Path

from gateway.sync.payloads import DeviceHealth
from gateway.sync.store import SyncStore
from gateway.sync.telemetry import TelemetryPolicy, change_key, cpu_temperature


def test_full_queue_drops_oldest_telemetry_first_and_counts(tmp_path: Path) -> None:
    store = SyncStore(tmp_path / "sync.db", capacity=4)
    store.enqueue("events", b"e1", "t")
    store.enqueue("telemetry", b"t1", "t")
    store.enqueue("telemetry", b"t2", "t")
    store.enqueue("cmd_result", b"c1", "t")
    assert store.enqueue("events", b"e2", "t") == 1
    assert [m.payload for m in store.peek(0, 10)] == [b"e1", b"t2", b"c1", b"e2"]
    store.enqueue("events", b"e3", "t")
    store.enqueue("events", b"e4", "t")  # no telemetry left: oldest event goes
    assert [m.payload for m in store.peek(0, 10)] == [b"c1", b"e2", b"e3", b"e4"]
    assert store.counter("dropped_telemetry") == 2
    assert store.counter("dropped_events") == 1
    assert store.depth() == 4


def test_queue_survives_reopening(tmp_path: Path) -> None:
    store = SyncStore(tmp_path / "sync.db", capacity=10)
    store.enqueue("events", b"kept", "t")
    store.close()
    again = SyncStore(tmp_path / "sync.db", capacity=10)
    (message,) = again.peek(0, 10)
    again.remove(message.id)
    assert again.depth() == 0


def test_a_command_id_is_claimed_once(tmp_path: Path) -> None:
    store = SyncStore(tmp_path / "sync.db", capacity=10)
    assert (
        store.claim_command("c1", "ping", "2026-01-01T00:00:00.000Z", "2026-01-01T00:05:00.000Z")
        is None
    )
    again = store.claim_command("c1", "ping", "x", "y")
    assert again is not None and again.status == "running"
    store.finish_command("c1", "ok", {"result": {"pong": True}, "error": None})
    done = store.claim_command("c1", "ping", "x", "y")
    assert (
        done is not None
        and done.status == "ok"
        and done.result == {"result": {"pong": True}, "error": None}
    )


def test_telemetry_is_due_on_interval_and_on_change() -> None:
    policy = TelemetryPolicy(interval=60)
    quiet = change_key({"printer": DeviceHealth(state="connected", paper="ok")}, True)
    assert policy.due(0, quiet)
    policy.sent(0, quiet)
    assert not policy.due(30, quiet)
    paper_out = change_key({"printer": DeviceHealth(state="connected", paper="out")}, True)
    assert policy.due(31, paper_out)
    assert policy.due(61, quiet)


def test_cpu_temperature_reads_thermal_zones_when_present(tmp_path: Path) -> None:
    assert cpu_temperature(tmp_path) is None
    zone = tmp_path / "class" / "thermal" / "thermal_zone0"
    zone.mkdir(parents=True)
    (zone / "temp").write_text("48312\n")
    assert cpu_temperature(tmp_path) == 48.312
