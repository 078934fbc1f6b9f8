"""Fleet state from births, Last Wills and telemetry, shown by `cloud fleet`."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from cloud_testkit import Box, RunningIngest, alert_kinds, cloud_cli, eventually

from gateway.harness.brokers import LinkProxy, Mosquitto
from gateway.sync.payloads import DeviceHealth


def _fleet(db_url: str) -> list[dict[str, object]]:
    status, out, err = cloud_cli("fleet", "--db", db_url, "--json")
    assert status == 0, err
    return list(json.loads(out))


def test_fleet_shows_birth_telemetry_devices_and_the_last_will(
    tmp_path: Path, db_url: str, broker: Mosquitto, ingest: Callable[..., RunningIngest]
) -> None:
    ingest()
    proxy = LinkProxy(broker.port).start()
    box = Box(tmp_path / "box", proxy.port, telemetry_interval=0.3)
    box.devices = {
        "printer": DeviceHealth(state="connected", paper="out"),
        "scanner": DeviceHealth(
            state="error", error="usb unplugged", last_event_at="2026-11-24T01:00:00.000Z"
        ),
    }
    box.append(120)
    box.start()
    try:
        assert eventually(lambda: box.acknowledged() == 120)

        def telemetry_in() -> bool:
            rows = _fleet(db_url)
            return (
                bool(rows)
                and rows[0]["telemetry_time"] is not None
                and rows[0]["acknowledged_seq"] == 120
            )

        assert eventually(telemetry_in)
        (view,) = _fleet(db_url)
        assert view["online"] is True and view["store"] == "store-1"
        assert view["version"] and view["boot_id"]
        assert isinstance(view["clock_synced"], bool)  # the box reports its clock state
        assert view["devices"]["scanner"]["state"] == "error"  # type: ignore[index]
        assert eventually(lambda: {"device.fault", "printer.paper_out"} <= set(alert_kinds(db_url)))
        status, table, _ = cloud_cli("fleet", "--db", db_url)
        assert status == 0 and "online" in table and "paper out" in table
        proxy.down()  # the shop's line drops: the broker publishes the Last Will
        assert eventually(lambda: _fleet(db_url)[0]["online"] is False)
        status, table, _ = cloud_cli("fleet", "watch", "--db", db_url, "--count", "1")
        assert status == 0 and "OFFLINE" in table and "0 online, 1 offline" in table
        proxy.up()
        assert eventually(lambda: _fleet(db_url)[0]["online"] is True)
    finally:
        box.stop()
        proxy.stop()
    assert eventually(lambda: _fleet(db_url)[0]["online"] is False)  # graceful goodbye
