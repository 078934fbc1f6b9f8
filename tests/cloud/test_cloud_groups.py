"""Publishing to store groups (issue 18, item 7) against real boxes over Mosquitto with
`cloud ingest` storing what they say: an unknown store or group is refused, never
"published"; a preview says what a document changes; a staged rollout goes to its pilot
stores first and on to the rest once their boxes applied it, and a box that refused
stops it."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from cloud_testkit import Box, RunningIngest, cloud_cli, eventually

from cloud.db import Database
from gateway.harness.brokers import Mosquitto
from gateway.sync.errors import DocumentRefused
from gateway.sync.settings import TrustedKey
from gateway.sync.signing import TrustedKeys

CATALOG = Path(__file__).parents[2] / "config" / "catalog.example.json"


class Sink:
    """A box's document sink; `refuse` makes it refuse every document, as a box whose
    catalog check failed would."""

    def __init__(self, refuse: bool = False) -> None:
        self.refuse = refuse
        self.applied: list[int] = []

    def apply(self, kind: str, version: int, document: dict[str, Any]) -> None:
        if self.refuse:
            raise DocumentRefused("tax class VAT-X is unknown to this box", where="catalog")
        self.applied.append(version)


def versions(db_url: str) -> list[tuple[str, int]]:
    db = Database.open(db_url)
    try:
        rows = db.query("SELECT store, version FROM document_version ORDER BY store")
    finally:
        db.close()
    return [(str(s), int(v)) for s, v in rows]


def test_a_staged_rollout_to_a_group(
    tmp_path: Path, db_url: str, broker: Mosquitto, ingest: Callable[..., RunningIngest]
) -> None:
    status, _, err = cloud_cli(
        "keys", "generate", "--dir", str(tmp_path / "keys"), "--key-id", "ho-test"
    )
    assert status == 0, err
    pem = tmp_path / "keys" / "ho-test.pem"
    public = (tmp_path / "keys" / "ho-test.pub").read_text().strip()
    trusted = TrustedKeys([TrustedKey(key_id="ho-test", public_key=public)])
    ingest()
    sinks = {
        ("store-1", "box-1"): Sink(),
        ("store-2", "box-1"): Sink(),
        ("store-3", "box-1"): Sink(refuse=True),
    }
    boxes = [
        Box(tmp_path / f"{s}-{b}", broker.port, store=s, box=b, trusted_keys=trusted).start(
            sink=sink
        )
        for (s, b), sink in sinks.items()
    ]
    db = ("--db", db_url)
    common = (*db, "--port", str(broker.port), "--key", str(pem))
    try:
        # The boxes are known once they have spoken to ingest; a mistyped store never is.
        assert eventually(lambda: "store-3" in cloud_cli("stores", "list", *db)[1])
        status, _, err = cloud_cli("publish", "catalog", str(CATALOG), "--store", "stor-1", *common)
        assert status == 2 and "unknown store: stor-1" in err and "Traceback" not in err, err
        assert versions(db_url) == []
        status, _, err = cloud_cli("groups", "add", "north", "store-1", "store-2", "store-9", *db)
        assert status == 2 and "store-9" in err, err
        assert cloud_cli("groups", "add", "north", "store-1", "store-2", "store-3", *db)[0] == 0
        status, _, err = cloud_cli("publish", "catalog", str(CATALOG), "--group", "nort", *common)
        assert status == 2 and "unknown store group 'nort'" in err, err

        # The pilot store first: the others receive nothing yet.
        args = ("publish", "catalog", str(CATALOG), "--group", "north", "--pilot", "store-1")
        status, out, err = cloud_cli(*args, *common)
        assert status == 0, err
        assert "rollout 1" in out and "published catalog version 1 for store-1" in out, out
        assert eventually(lambda: sinks[("store-1", "box-1")].applied == [1])
        assert versions(db_url) == [("store-1", 1)]

        def state() -> dict[str, Any]:
            status, out, err = cloud_cli("rollout", "status", "1", "--json", *db)
            assert status == 0, err
            return {row["store"]: row for row in json.loads(out)["stores"]}

        assert eventually(lambda: state()["store-1"]["boxes"][0]["state"] == "applied")
        assert state()["store-2"]["version"] is None
        status, out, err = cloud_cli("rollout", "continue", "1", *common)
        assert status == 0, err
        assert "for store-2" in out and "for store-3" in out, out
        assert eventually(lambda: sinks[("store-2", "box-1")].applied == [1])
        assert eventually(lambda: state()["store-3"]["boxes"][0]["state"] == "refused")
        assert "VAT-X" in state()["store-3"]["boxes"][0]["why"]

        # A preview of the next catalog names what changes, and sends nothing.
        changed = json.loads(CATALOG.read_text())
        first, second = changed["products"][0], changed["products"][1]
        removed = changed["products"].pop()
        first["price"] = str(Decimal(first["price"]) + 1)
        second["price"] = "0.05"
        fresh = {k: v for k, v in second.items() if k not in ("barcodes", "plu", "codes")}
        changed["products"].append({**fresh, "sku": "NEW-1", "name": "Bio Hafer"})
        changed["recommendations"] = {first["sku"]: ["NEW-1"]}
        new = tmp_path / "catalog-2.json"
        new.write_text(json.dumps(changed))
        status, out, err = cloud_cli(
            "publish", "catalog", str(new), "--store", "store-1", "--preview", *db
        )
        assert status == 0, err
        assert "store-1 (published: version 1):" in out
        assert f"price up {first['sku']}" in out and f"price down {second['sku']}" in out, out
        assert "added NEW-1 Bio Hafer at 0.05" in out and f"removed {removed['sku']}" in out
        assert f"recommendations {first['sku']}: none -> NEW-1" in out, out
        assert versions(db_url) == [("store-1", 1), ("store-2", 1), ("store-3", 1)]

        # A pilot box that refuses stops the rollout until someone decides.
        args = ("publish", "catalog", str(new), "--group", "north", "--pilot", "store-3")
        status, out, err = cloud_cli(*args, *common)
        assert status == 0 and "rollout 2" in out, err
        assert eventually(lambda: cloud_cli("rollout", "status", "2", *db)[1].count("refused") == 1)
        status, _, err = cloud_cli("rollout", "continue", "2", *common)
        assert status == 2 and "store-3/box-1 refused" in err and "--force" in err, err
        assert sinks[("store-1", "box-1")].applied == [1]
        status, out, err = cloud_cli("rollout", "continue", "2", "--force", *common)
        assert status == 0, err
        assert eventually(lambda: sinks[("store-1", "box-1")].applied == [1, 2])
        status, out, _ = cloud_cli("rollout", "list", *db)
        assert "1  catalog to north" in out and "2  catalog to north" in out
    finally:
        for box in boxes:
            box.stop()
