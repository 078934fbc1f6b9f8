"""The technician's rings (gateway/daemon/device_feed.py): bounded, numbered, weights kept
only when they change, and no card number or track in them."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from devices.events import (
    CardEvent,
    CardKind,
    DeviceState,
    DeviceStateEvent,
    Role,
    ScanEvent,
    WeightReading,
    WeightStatus,
)
from gateway.daemon.device_feed import DeviceFeed, RecentLog, weight_json

AT = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
PAN = "4111111111111111"


def weight(
    grams: str, at: datetime = AT, status: WeightStatus = WeightStatus.STABLE
) -> WeightReading:
    return WeightReading("deli", Decimal(grams), "kg", status, b"S S 0.456 kg\\r\\n", at)


def test_entries_are_numbered_bounded_and_read_after_a_number() -> None:
    feed = DeviceFeed(size=3)
    for n in range(5):
        feed.add(ScanEvent("front", f"400638133393{n}", "EAN-13/UPC", "]E0", AT))
    assert [e.n for e in feed.since(0)] == [3, 4, 5]  # the oldest two fell out
    assert [e.code for e in feed.since(4)] == ["4006381333934"]
    assert feed.since(5) == [] and feed.last == 5
    assert feed.since(0)[0].symbology == "EAN-13/UPC"


def test_a_weight_is_kept_when_it_changes_and_the_newest_reading_always() -> None:
    feed = DeviceFeed()
    assert feed.add(weight("0.456")) is not None
    assert feed.add(weight("0.456", AT + timedelta(seconds=1))) is None  # the same again
    assert feed.reading("deli") is not None and feed.reading("deli").at == AT + timedelta(seconds=1)  # type: ignore[union-attr]
    moving = feed.add(weight("0.460", status=WeightStatus.MOTION))
    assert moving is not None and moving.status == "motion"
    assert weight_json(feed.reading() or weight("0"), AT + timedelta(seconds=3))["age_s"] == 3.0
    feed.add(DeviceStateEvent("deli", Role.SCALE, DeviceState.DISCONNECTED, "unplugged", AT))
    assert feed.reading("deli") is None  # never the weight of an unplugged scale


def test_no_card_number_is_kept() -> None:
    feed = DeviceFeed()
    feed.add(CardEvent("reader", None, CardKind.PAYMENT, "411111******1111", AT))
    feed.add(CardEvent("reader", "6004001234567890", CardKind.MEMBER, None, AT))
    feed.add(ScanEvent("front", f";{PAN}=2512?", None, None, AT))  # a card swiped as a scan
    text = repr([e.to_json() for e in feed.since(0)])
    assert PAN not in text and "6004001234567890" not in text
    assert "member ****90" in text and "411111******1111" in text


def test_recent_log_masks_card_numbers() -> None:
    ring = RecentLog(size=2)
    logger = logging.getLogger("storegate.test_device_feed")
    logger.addHandler(ring)
    logger.setLevel(logging.INFO)
    try:
        for n in range(3):
            logger.info("line %d card %s", n, PAN)
    finally:
        logger.removeHandler(ring)
    lines = ring.lines()
    assert len(lines) == 2 and "line 2" in lines[-1]
    assert all(PAN not in line for line in lines)
