"""A rogue box against Mosquitto started from the shipped configuration (issue 13 item 4):
with its own valid certificate it tries to join head office's shared ingest group and to
borrow another box's or an ingest worker's client id. Neither may cost anyone a message."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from broker_testkit import ROOT, Probe, ShippedBroker
from cloud_testkit import eventually, start_ingest

from cloud.db import Database
from cloud.inbound import subscriptions
from gateway.sync.payloads import Event
from gateway.sync.topics import Topics

ROGUE, VICTIM, UNLISTED = "store-1/box-1", "store-2/box-1", "store-3/box-9"
EVENTS = 40


@pytest.fixture
def shipped(tmp_path: Path) -> Iterator[ShippedBroker]:
    with ShippedBroker(tmp_path / "broker", [ROGUE, VICTIM], unlisted=(UNLISTED,)) as broker:
        yield broker


def _events_stored(db_url: str, store: str, box: str) -> int:
    db = Database.open(db_url)
    try:
        row = db.one("SELECT COUNT(*) FROM box_event WHERE store = ? AND box = ?", (store, box))
    finally:
        db.close()
    return int(row[0]) if row else 0


def _send_events(sender: Probe, count: int, tag: str) -> None:
    topic = Topics(ROOT, *VICTIM.split("/")).events
    for n in range(count):
        event = Event(id=f"{tag}-{n}", time="2026-11-24T09:00:00+00:00", kind="device.state")
        sender.client.publish(topic, event.model_dump_json(), qos=1).wait_for_publish(5)


def test_a_box_cannot_join_head_offices_shared_group(db_url: str, shipped: ShippedBroker) -> None:
    worker = start_ingest(db_url, shipped.office_port, broker=shipped.office_options())
    rogue = shipped.probe(ROGUE, "storegate-store-1-box-1")
    sender = shipped.probe(VICTIM, "storegate-store-2-box-1")
    try:
        same_as_ingest = [f"$share/ingest/{f}" for f in subscriptions(ROOT).values()]
        codes = rogue.subscribe(*same_as_ingest, f"$share/ingest/{ROOT}/#")
        _send_events(sender, EVENTS, "a")
        whole = eventually(lambda: _events_stored(db_url, *VICTIM.split("/")) == EVENTS, 10)
        assert whole, f"ingest stored {_events_stored(db_url, *VICTIM.split('/'))} of {EVENTS}"
        assert rogue.seen == []
        assert all(code >= 0x80 for code in codes), f"SUBACK granted the rogue: {codes}"
    finally:
        for probe in (rogue, sender):
            probe.close()
        worker.stop()


@pytest.mark.parametrize("borrowed", ["storegate-store-2-box-1", VICTIM])
def test_a_box_cannot_take_over_another_boxs_connection(
    shipped: ShippedBroker, borrowed: str
) -> None:
    """`borrowed`: the id the victim's settings give it and the one the broker binds."""
    command = Topics(ROOT, *VICTIM.split("/")).command
    victim = shipped.probe(VICTIM, borrowed, session=True)
    office = shipped.probe("storegate-office", "cloud-cmd-test", office=True)
    try:
        assert victim.subscribe(command) == [1]
        rogue = shipped.probe(ROGUE, borrowed)
        office.client.publish(command, "after the rogue", qos=1).wait_for_publish(5)
        assert eventually(lambda: f"{command} after the rogue" in victim.seen, 5)
        assert victim.drops == 0
        rogue.close()
    finally:
        for probe in (victim, office):
            probe.close()


def test_a_box_cannot_wipe_another_boxs_queued_command(shipped: ShippedBroker) -> None:
    command = Topics(ROOT, *VICTIM.split("/")).command
    victim = shipped.probe(VICTIM, "storegate-store-2-box-1", session=True)
    office = shipped.probe("storegate-office", "cloud-cmd-test", office=True)
    try:
        assert victim.subscribe(command) == [1]
        victim.close()  # offline; its session (and what is queued for it) stays 300 s
        office.client.publish(command, "queued", qos=1).wait_for_publish(5)
        for borrowed in ("storegate-store-2-box-1", VICTIM):
            rogue = shipped.probe(ROGUE, borrowed)  # a clean start: would discard the session
            rogue.close()
            assert rogue.seen == []
        victim.connect()
        assert eventually(lambda: f"{command} queued" in victim.seen, 5)
    finally:
        for probe in (victim, office):
            probe.close()


def test_a_box_cannot_take_over_an_ingest_worker(
    db_url: str, shipped: ShippedBroker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="cloud.ingest")
    worker = start_ingest(db_url, shipped.office_port, broker=shipped.office_options())
    sender = shipped.probe(VICTIM, "storegate-store-2-box-1")
    try:
        rogue = shipped.probe(ROGUE, worker.worker.config.node)
        _send_events(sender, EVENTS, "b")
        whole = eventually(lambda: _events_stored(db_url, *VICTIM.split("/")) == EVENTS, 10)
        assert whole, f"ingest stored {_events_stored(db_url, *VICTIM.split('/'))} of {EVENTS}"
        assert not [r.message for r in caplog.records if "disconnected" in r.message]
        rogue.close()
    finally:
        sender.close()
        worker.stop()


def test_a_box_certificate_is_refused_on_the_office_listener(shipped: ShippedBroker) -> None:
    """There clients pick their own ids; a box must not get there to pick an ingest's."""
    with pytest.raises(ConnectionRefusedError):
        shipped.probe(ROGUE, "cloud-ingest-test-w1", office=True).close()


def test_a_box_missing_from_the_access_file_may_do_nothing(shipped: ShippedBroker) -> None:
    """The device CA lets it in; the rules know no such box, so nothing is granted."""
    office = shipped.probe("storegate-office", "cloud-office-test", office=True)
    stranger = shipped.probe(UNLISTED, "storegate-store-3-box-9")
    listed = shipped.probe(VICTIM, "storegate-store-2-box-1")
    try:
        own, known = Topics(ROOT, *UNLISTED.split("/")), Topics(ROOT, *VICTIM.split("/"))
        assert office.subscribe(own.journal, known.journal) == [1, 1]
        assert all(code >= 0x80 for code in stranger.subscribe(own.ack, own.catalog))
        stranger.client.publish(own.journal, "unlisted", qos=1).wait_for_publish(5)
        listed.client.publish(known.journal, "listed", qos=1).wait_for_publish(5)
        assert eventually(lambda: f"{known.journal} listed" in office.seen, 5)
        assert office.seen == [f"{known.journal} listed"]
    finally:
        listed.close()
        for probe in (office, stranger):
            probe.close()
