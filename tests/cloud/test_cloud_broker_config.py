"""The shipped Mosquitto config (config/mosquitto/) with TLS and the generated access file:
each box is confined to its own subtree, and box -> broker -> `cloud ingest` works through
it. The rogue-client attacks on identities are in test_cloud_broker_identity.py."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from broker_testkit import ROOT, ShippedBroker
from cloud_testkit import Box, assert_exactly_once, eventually, start_ingest

from cloud.broker import acl_text

BOXES = ["store-1/box-1", "store-2/box-1"]


@pytest.fixture
def shipped(tmp_path: Path) -> Iterator[ShippedBroker]:
    with ShippedBroker(tmp_path / "broker", BOXES) as broker:
        yield broker


def test_acl_confines_each_box_to_its_own_subtree(shipped: ShippedBroker) -> None:
    office = shipped.probe("storegate-office", "cloud-office-test", office=True)
    box = shipped.probe("store-1/box-1", "storegate-store-1-box-1")
    try:
        assert office.subscribe(f"$share/ingest/{ROOT}/+/+/journal") == [1]
        codes = box.subscribe(
            f"{ROOT}/store-1/catalog",
            f"{ROOT}/store-2/catalog",
            f"{ROOT}/store-2/box-1/ack",
            f"{ROOT}/+/+/ack",
            f"{ROOT}/#",
        )
        assert codes[0] == 1 and all(c >= 0x80 for c in codes[1:]), codes
        box.client.publish(f"{ROOT}/store-1/box-1/journal", "mine", qos=1).wait_for_publish(5)
        box.client.publish(f"{ROOT}/store-2/box-1/journal", "forged", qos=1).wait_for_publish(5)
        box.client.publish(f"{ROOT}/store-1/box-2/journal", "neighbour", qos=1)
        office.client.publish(f"{ROOT}/store-1/catalog", "c1", qos=1)
        office.client.publish(f"{ROOT}/store-2/catalog", "c2", qos=1)
        office.client.publish(f"{ROOT}/store-2/box-1/ack", "a2", qos=1)
        assert eventually(lambda: f"{ROOT}/store-1/catalog c1" in box.seen, 5)
        time.sleep(1.0)  # what was refused must stay away: give it time to (not) arrive
        assert office.seen == [f"{ROOT}/store-1/box-1/journal mine"]
        assert box.seen == [f"{ROOT}/store-1/catalog c1"]
    finally:
        for probe in (office, box):
            probe.close()


def test_box_to_ingest_through_tls_and_acl(
    tmp_path: Path, db_url: str, shipped: ShippedBroker
) -> None:
    worker = start_ingest(db_url, shipped.office_port, broker=shipped.office_options())
    cert, key = shipped.files("store-1/box-1")
    box = Box(
        tmp_path / "box",
        shipped.box_port,
        ca_file=str(shipped.tls / "device-ca.pem"),
        cert_file=cert,
        key_file=key,
    )
    box.append(500)
    box.start()
    try:
        assert eventually(lambda: box.acknowledged() == 500, 30)
        assert_exactly_once(db_url, box)
    finally:
        box.stop()
        worker.stop()


def test_a_box_reads_its_own_stores_update_document_only(shipped: ShippedBroker) -> None:
    """The software update topic (docs/install.md "Software updates") under the same ACL:
    a box reads its own store's, not another store's, and cannot write its own."""
    office = shipped.probe("storegate-office", "cloud-office-test", office=True)
    box = shipped.probe("store-1/box-1", "storegate-store-1-box-1")
    try:
        codes = box.subscribe(f"{ROOT}/store-1/update", f"{ROOT}/store-2/update")
        assert codes[0] == 1 and codes[1] >= 0x80, codes
        office.client.publish(f"{ROOT}/store-1/update", "u1", qos=1).wait_for_publish(5)
        office.client.publish(f"{ROOT}/store-2/update", "u2", qos=1).wait_for_publish(5)
        box.client.publish(f"{ROOT}/store-1/update", "forged", qos=1)
        assert eventually(lambda: f"{ROOT}/store-1/update u1" in box.seen, 5)
        time.sleep(1.0)  # what was refused must stay away: give it time to (not) arrive
        assert box.seen == [f"{ROOT}/store-1/update u1"]
    finally:
        for probe in (office, box):
            probe.close()


def test_the_shipped_example_access_file_is_what_cloud_broker_acl_prints_today() -> None:
    """docs/cloud.md points at config/mosquitto/access.example.json as an example of
    `cloud broker acl`; it went stale once (no orders, staff or update topics), so it is
    held to the generator: regenerate it with the line in the assertion message."""
    example = Path(__file__).parents[2] / "config" / "mosquitto" / "access.example.json"
    boxes = ["store-1/box-1", "store-1/box-2", "store-2/box-1"]
    assert example.read_text(encoding="utf-8") == acl_text(ROOT, boxes), (
        "regenerate: cloud broker acl --box store-1/box-1 --box store-1/box-2 "
        "--box store-2/box-1 > config/mosquitto/access.example.json"
    )
