"""The anomaly rules and the clock watch: pure, time passed in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from gateway.daemon.anomalies import AnomalyWatch
from gateway.daemon.clockwatch import ClockWatch
from gateway.daemon.settings import AnomalySettings


def watch(**kw: object) -> AnomalyWatch:
    return AnomalyWatch(AnomalySettings(**kw))  # type: ignore[arg-type]


def sale(total: str) -> dict[str, object]:
    return {"receipt_id": "R1", "totals": {"total": total}}


def test_sale_above_the_limit_fires_and_the_limit_itself_does_not() -> None:
    w = watch(sale_above=Decimal("100.00"))
    assert w.committed("sale", sale("100.00"), "S1") == []
    [found] = w.committed("sale", sale("100.01"), "S1")
    assert found.rule == "sale_above_limit" and "100.01" in found.message


def test_per_shift_counts_fire_once_when_crossed_and_restart_per_shift() -> None:
    w = watch(refunds_per_shift=2, no_sales_per_shift=1, voids_per_shift=1)
    assert w.committed("refund", {}, "S1") == [] and w.committed("refund", {}, "S1") == []
    [third] = w.committed("refund", {}, "S1")
    assert third.rule == "refunds_per_shift" and third.detail["count"] == 3
    assert w.committed("refund", {}, "S1") == []  # once per crossing
    assert w.committed("refund", {}, "S2") == []  # a new shift counts afresh
    assert w.committed("no_sale", {}, "S1") == []
    assert [a.rule for a in w.committed("no_sale", {}, "S1")] == ["no_sales_per_shift"]
    assert w.voided_line("S1") == []
    assert [a.rule for a in w.committed("void", {}, "S1")] == ["voids_per_shift"]


def test_unknown_barcode_burst_counts_only_within_the_window() -> None:
    w = watch(unknown_barcodes=3, unknown_window_s=10.0)
    assert all(w.unknown_barcode("1", t) == [] for t in (0.0, 5.0, 11.0))  # first fell out
    [burst] = w.unknown_barcode("2", 12.0) + w.unknown_barcode("3", 13.0)
    assert burst.rule == "unknown_barcode_burst" and burst.detail["count"] == 4


def test_failed_pins_fire_after_the_threshold() -> None:
    w = watch(failed_pins=2, failed_pin_window_s=60.0)
    assert w.failed_pin("101", 0) == [] and w.failed_pin("101", 1) == []
    assert [a.rule for a in w.failed_pin("101", 2)] == ["failed_pins"]


def test_weight_changing_after_pricing_fires_once_and_not_for_noise() -> None:
    w = watch(weight_change_kg=Decimal("0.020"))
    assert w.scale_reading(Decimal("1.000"), True) == []  # nothing priced yet
    w.weighed_item_priced("1001", Decimal("0.456"))
    assert w.scale_reading(Decimal("0.470"), True) == []  # within the threshold
    assert w.scale_reading(Decimal("0.900"), False) == []  # still moving
    [moved] = w.scale_reading(Decimal("0.900"), True)
    assert moved.rule == "weight_changed_after_pricing" and moved.detail["item"] == "1001"
    assert w.scale_reading(Decimal("1.500"), True) == []
    w.weighed_item_priced("1002", Decimal("1.0"))
    w.sale_ended()
    assert w.scale_reading(Decimal("2.0"), True) == []


def test_disabled_rules_report_nothing() -> None:
    w = watch(enabled=False, sale_above=Decimal("1"))
    assert w.committed("sale", sale("5.00"), "S1") == []
    assert w.failed_pin(None, 0) == []


def test_clock_watch_reports_a_backward_jump_and_tolerates_jitter() -> None:
    c = ClockWatch(tolerance=1.0)
    start = datetime(2026, 11, 24, 9, tzinfo=UTC)
    assert c.tick(start, 100.0) is None
    assert c.tick(start + timedelta(seconds=0.5), 101.0) is None  # 0.5 s jitter is fine
    jump = c.tick(start - timedelta(minutes=10), 102.0)
    assert jump is not None and jump.seconds < -600 and c.jumps_back == 1
    assert c.tick(start - timedelta(minutes=10) + timedelta(seconds=1), 103.0) is None


def test_an_anomaly_event_never_carries_a_card_number() -> None:
    """The unknown-barcode burst names the last code: head office gets it masked."""
    w = watch(unknown_barcodes=1, unknown_window_s=60)
    assert w.unknown_barcode("0000", 0.0) == []
    [burst] = w.unknown_barcode("4000 0566 5566 5556", 1.0)
    body = burst.to_json()
    assert body["detail"]["last"] == "4000 05** **** 5556"
