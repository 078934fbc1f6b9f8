"""The uplink state machine alone: window, go-back-N, historical flag, ack verdicts."""

from __future__ import annotations

import random

import pytest

from gateway.sync.backoff import ReconnectBackoff
from gateway.sync.uplink import AckVerdict, Uplink

H = {n: f"{n:064x}" for n in range(0, 200)}


def ready(acked: int = 0, window: int = 3) -> Uplink:
    up = Uplink(acknowledged_seq=acked, window=window, resend_after=10.0)
    up.on_connected(head_seq=0)
    up.on_head_office_presence(True)
    return up


def test_sends_in_order_up_to_the_window_then_waits_for_acks() -> None:
    up = ready(window=2)
    assert up.next_batch(head_seq=100) == 0
    assert up.claim(1, 10, now=0) is False
    assert up.next_batch(100) == 10
    up.claim(11, 20, now=0)
    assert up.next_batch(100) is None  # window full
    assert up.on_ack(10, H[10], H[10], now=1) is AckVerdict.ADVANCED
    assert up.next_batch(100) == 20
    assert [b.first_seq for b in up.in_flight] == [11]


def test_nothing_is_sent_before_connect_or_while_head_office_is_away() -> None:
    up = Uplink(acknowledged_seq=0, window=4, resend_after=10.0)
    assert up.next_batch(10) is None
    up.on_connected(head_seq=10)
    assert up.next_batch(10) is None  # presence not yet seen
    up.on_head_office_presence(True)
    assert up.next_batch(10) == 0
    relaxed = Uplink(
        acknowledged_seq=0, window=4, resend_after=10.0, require_head_office_online=False
    )
    relaxed.on_connected(head_seq=10)
    assert relaxed.next_batch(10) == 0


def test_no_ack_progress_goes_back_to_the_acknowledged_position_as_historical() -> None:
    up = ready(window=3)
    up.claim(1, 10, now=0)
    up.claim(11, 20, now=1)
    up.on_ack(10, H[10], H[10], now=2)
    assert up.on_tick(now=11) is False
    assert up.on_tick(now=12) is True
    assert up.next_batch(100) == 10
    assert up.claim(11, 20, now=12) is True  # re-sent: historical
    assert up.claim(21, 30, now=12) is False  # new: live
    assert up.counters.go_backs == 1


def test_reconnect_resends_from_the_ack_and_flags_earlier_records_historical() -> None:
    up = ready()
    up.claim(1, 5, now=0)
    up.on_disconnected()
    up.on_connected(head_seq=8)
    assert up.next_batch(8) is None  # presence unknown until head office's state arrives
    up.on_head_office_presence(True)
    assert up.next_batch(8) == 0
    assert up.claim(1, 8, now=1) is True  # journaled before this connection
    assert up.claim(9, 9, now=1) is False


def test_head_office_coming_back_online_restarts_the_window() -> None:
    up = ready()
    up.claim(1, 5, now=0)
    up.on_head_office_presence(False)
    assert up.next_batch(10) is None
    up.on_head_office_presence(True)
    assert up.next_batch(10) == 0 and not up.in_flight


@pytest.mark.parametrize(
    ("seq", "ack_hash", "journal_hash", "verdict"),
    [
        (5, H[5], H[5], AckVerdict.ADVANCED),
        (150, H[150], None, AckVerdict.BEYOND_JOURNAL),
        (5, H[6], H[5], AckVerdict.HASH_MISMATCH),
    ],
)
def test_ack_verdicts(
    seq: int, ack_hash: str, journal_hash: str | None, verdict: AckVerdict
) -> None:
    up = ready()
    up.claim(1, 10, now=0)
    assert up.on_ack(seq, ack_hash, journal_hash, now=1) is verdict
    expected = 5 if verdict is AckVerdict.ADVANCED else 0
    assert up.acknowledged_seq == expected


def test_an_old_ack_is_stale_and_changes_nothing() -> None:
    up = ready(acked=20)
    assert up.on_ack(10, H[10], H[10], now=0) is AckVerdict.STALE
    assert up.acknowledged_seq == 20 and up.counters.acks_refused == 0


def test_an_ack_from_an_earlier_run_moves_the_send_position_forward() -> None:
    up = ready(acked=0)
    assert up.on_ack(50, H[50], H[50], now=0) is AckVerdict.ADVANCED
    assert up.next_batch(100) == 50


def test_claim_must_continue_at_the_next_seq() -> None:
    up = ready()
    with pytest.raises(ValueError, match="does not continue"):
        up.claim(3, 4, now=0)


def test_ack_reports_are_coalesced() -> None:
    up = ready()
    up.claim(1, 30, now=0)
    up.on_ack(10, H[10], H[10], now=0)
    assert up.ack_to_report(now=0, interval=1.0) == 10
    up.ack_reported(10, now=0)
    up.on_ack(20, H[20], H[20], now=0.5)
    assert up.ack_to_report(now=0.5, interval=1.0) is None
    assert up.ack_to_report(now=1.0, interval=1.0) == 20


def test_backoff_is_full_jitter_under_an_exponential_cap() -> None:
    backoff = ReconnectBackoff(minimum=1, maximum=60, refused_min=20, rng=random.Random(3))
    delays = [backoff.next_delay() for _ in range(12)]
    caps = [min(60, 2**n) for n in range(12)]
    assert all(0 <= d <= c for d, c in zip(delays, caps, strict=True))
    assert len({round(d, 3) for d in delays}) == 12  # spread, not in step
    assert backoff.next_delay(refused=True) >= 20
    backoff.reset()
    assert backoff.next_delay() <= 1
