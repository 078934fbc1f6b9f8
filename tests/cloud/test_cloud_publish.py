"""`cloud keys generate`, `cloud publish` and `cloud cmd` against a real box over Mosquitto."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cloud_testkit import Box, RunningIngest, cloud_cli, eventually

from cloud.db import Database
from gateway.harness.brokers import Mosquitto
from gateway.sync.settings import TrustedKey
from gateway.sync.signing import TrustedKeys

CATALOG = Path(__file__).parents[2] / "config" / "catalog.example.json"


class RecordingSink:
    def __init__(self) -> None:
        self.applied: list[tuple[str, int, dict[str, Any]]] = []

    def apply(self, kind: str, version: int, document: dict[str, Any]) -> None:
        self.applied.append((kind, version, document))


def _key(tmp_path: Path) -> tuple[Path, TrustedKeys]:
    status, out, err = cloud_cli(
        "keys", "generate", "--dir", str(tmp_path / "keys"), "--key-id", "ho-test"
    )
    assert status == 0, err
    assert 'key_id = "ho-test"' in out
    pem = tmp_path / "keys" / "ho-test.pem"
    assert oct(pem.stat().st_mode & 0o777) == "0o600"
    public = (tmp_path / "keys" / "ho-test.pub").read_text().strip()
    return pem, TrustedKeys([TrustedKey(key_id="ho-test", public_key=public)])


def test_publish_signs_versions_and_refuses_invalid_documents_before_sending(
    tmp_path: Path, db_url: str, broker: Mosquitto, ingest: Callable[..., RunningIngest]
) -> None:
    pem, trusted = _key(tmp_path)
    sink = RecordingSink()
    box = Box(tmp_path / "box", broker.port, trusted_keys=trusted).start(sink=sink)
    common = ("--db", db_url, "--port", str(broker.port), "--key", str(pem))
    assert cloud_cli("stores", "add", "store-1", "--db", db_url)[0] == 0
    try:
        status, out, err = cloud_cli(
            "publish", "catalog", str(CATALOG), "--store", "store-1", *common
        )
        assert status == 0, err
        assert "version 1" in out
        assert eventually(lambda: len(sink.applied) == 1)
        kind, version, document = sink.applied[0]
        assert (kind, version) == ("catalog", 1)
        assert document["tax_classes"][0]["rate"] == "2.6"
        status, out, err = cloud_cli(
            "publish", "catalog", str(CATALOG), "--store", "store-1", *common
        )
        assert status == 0 and "version 2" in out, err
        assert eventually(lambda: [v for _, v, _ in sink.applied] == [1, 2])
        broken = json.loads(CATALOG.read_text())
        broken["tax_classes"] = []
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps(broken))
        status, _, err = cloud_cli("publish", "catalog", str(bad), "--store", "store-1", *common)
        assert status != 0 and "tax_classes" in err and "Traceback" not in err
        status, _, err = cloud_cli("publish", "config", str(CATALOG), "--store", "store-1", *common)
        assert status != 0 and "--box" in err
        db = Database.open(db_url)
        try:
            assert db.query("SELECT kind, store, box, version FROM document_version") == [
                ("catalog", "store-1", "", 2)
            ]
        finally:
            db.close()
        assert [v for _, v, _ in sink.applied] == [1, 2]  # nothing else arrived
    finally:
        box.stop()


def test_cmd_waits_for_the_result_or_times_out_clearly(
    tmp_path: Path, db_url: str, broker: Mosquitto, ingest: Callable[..., RunningIngest]
) -> None:
    ingest()
    pem, trusted = _key(tmp_path)
    box = Box(tmp_path / "box", broker.port, trusted_keys=trusted).start()
    common = ("--db", db_url, "--port", str(broker.port), "--key", str(pem))
    assert cloud_cli("stores", "add", "store-1", "--db", db_url)[0] == 0
    try:
        assert eventually(
            lambda: box.service is not None and box.service.status()["connection"] == "connected"
        )
        status, out, err = cloud_cli("cmd", "store-1", "box-1", "ping", *common)
        assert status == 0, err
        result = json.loads(out)
        assert result["status"] == "ok" and result["result"]["pong"] is True
        status, out, err = cloud_cli(
            "cmd", "store-1", "box-1", "set_log_level", "level=LOUD", *common
        )
        assert status == 1 and json.loads(out)["status"] == "failed"
        status, _, err = cloud_cli("cmd", "store-1", "box-9", "ping", "--timeout", "1", *common)
        assert status == 1 and "no answer from store-1/box-9 within 1 s" in err
        db = Database.open(db_url)
        try:

            def stored_ok() -> bool:
                return ("ok",) in db.query(
                    "SELECT status FROM command WHERE name = 'ping' AND box = 'box-1'"
                )

            assert eventually(stored_ok)  # ingest stored the result too
        finally:
            db.close()
    finally:
        box.stop()


MEMBERS = {
    "schema": "storegate.members/1",
    "version": 1,
    "issued_at": "2026-11-24T06:00:00+00:00",
    "currency": "CHF",
    "decimals": 2,
    "card_hashing": {"algorithm": "sha256", "salt": "5f3a9c0e1b2d4f6a8c0e1b2d4f6a8c0e"},
    "redemption": {"points": 100, "value": "1.00"},
    "groups": [{"id": "retail", "member_prices": True, "points": {"per": "1.00", "points": 1}}],
    "members": [
        {
            "id": "M00001",
            "group": "retail",
            "name": "Ann",
            "cards": [],
            "wallets": {"points": 10, "cash": "5.00"},
        }
    ],
}


def test_members_and_box_config_reach_only_their_targets(
    tmp_path: Path, db_url: str, broker: Mosquitto
) -> None:
    pem, trusted = _key(tmp_path)
    sinks = {name: RecordingSink() for name in ("box-1", "box-2")}
    boxes = [
        Box(tmp_path / name, broker.port, box=name, trusted_keys=trusted).start(sink=sink)
        for name, sink in sinks.items()
    ]
    common = ("--db", db_url, "--port", str(broker.port), "--key", str(pem))
    assert cloud_cli("stores", "add", "store-1", "--db", db_url)[0] == 0
    members, config = tmp_path / "members.json", tmp_path / "box-2.toml"
    members.write_text(json.dumps(MEMBERS))
    config.write_text('[store]\nfooter = ["Merci!"]\n')
    try:
        status, _, err = cloud_cli(
            "publish", "members", str(members), "--store", "store-1", *common
        )
        assert status == 0, err
        status, _, err = cloud_cli(
            "publish", "config", str(config), "--store", "store-1", "--box", "box-2", *common
        )
        assert status == 0, err
        assert eventually(
            lambda: len(sinks["box-1"].applied) == 1 and len(sinks["box-2"].applied) == 2
        )
        assert [k for k, _, _ in sinks["box-1"].applied] == ["members"]
        applied = dict((k, d) for k, _, d in sinks["box-2"].applied)
        assert applied["members"]["members"][0]["wallets"]["cash"] == "5.00"
        assert applied["config"] == {"store": {"footer": ["Merci!"]}}
        config.write_text("[store]\nfooter = 1\n")  # not a footer: the settings model says no
        status, _, err = cloud_cli(
            "publish", "config", str(config), "--store", "store-1", "--box", "box-2", *common
        )
        assert status != 0 and "config refused" in err, err
        # a key no box takes from head office (its broker, its trusted keys) is refused here,
        # before anything is sent, naming it, instead of by every box
        config.write_text('[sync]\ntelemetry_interval = 30.5\n[mqtt]\nhost = "evil"\n')
        status, _, err = cloud_cli(
            "publish", "config", str(config), "--store", "store-1", "--box", "box-2", *common
        )
        assert status != 0 and "[mqtt]" in err and "[sync]" in err, err
        assert "nothing was sent" in err
        assert len(sinks["box-2"].applied) == 2
    finally:
        for box in boxes:
            box.stop()
