"""Property test: whatever a lossy, duplicating, reordering network and a flapping link do,
the uplink keeps its invariants and, once the network behaves, delivers everything."""

from __future__ import annotations

import itertools
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.sync.uplink import AckVerdict, Uplink

HEAD = 120


def hash_of(seq: int) -> str:
    return f"{seq:064x}"


class Office:
    """Head office in one line each: store contiguous records, ack the highest."""

    def __init__(self) -> None:
        self.stored = 0

    def receive(self, first: int, last: int) -> int:
        if first <= self.stored + 1 <= last:
            self.stored = last
        return self.stored


@settings(max_examples=150, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    window=st.integers(1, 6),
    batch=st.integers(1, 25),
    steps=st.integers(50, 400),
)
def test_invariants_hold_and_everything_arrives(
    seed: int, window: int, batch: int, steps: int
) -> None:
    rng = random.Random(seed)
    up = Uplink(acknowledged_seq=0, window=window, resend_after=5.0)
    office = Office()
    wire: list[tuple[int, int]] = []  # batches in the network
    acks: list[int] = []
    now = 0.0
    for step in range(steps + 4 * HEAD):  # chaos, then a calm network long enough
        chaotic = step < steps
        now += rng.choice((0.1, 0.5, 2.0)) if chaotic else 0.5
        action = rng.random() if chaotic else 0.5
        if action < 0.05:
            up.on_disconnected()
            wire.clear()
            acks.clear()
        elif action < 0.1:
            up.on_connected(head_seq=HEAD)
        elif action < 0.13:
            up.on_head_office_presence(rng.random() < 0.5)
        if not chaotic:
            if not up.connected:
                up.on_connected(head_seq=HEAD)
            up.on_head_office_presence(True)
        after = up.next_batch(HEAD)
        if after is not None:
            last = min(HEAD, after + batch)
            up.claim(after + 1, last, now)
            wire.append((after + 1, last))
        if chaotic:
            rng.shuffle(wire)
            if wire and rng.random() < 0.2:
                wire.pop()  # lost
            if wire and rng.random() < 0.1:
                wire.append(wire[0])  # duplicated
        for first, last in wire:
            acks.append(office.receive(first, last))
        wire.clear()
        for seq in acks:
            if seq > 0:
                verdict = up.on_ack(seq, hash_of(seq), hash_of(seq), now)
                assert verdict in (AckVerdict.ADVANCED, AckVerdict.STALE)
        acks.clear()
        up.on_tick(now)
        # invariants
        assert up.acknowledged_seq <= office.stored <= HEAD
        assert len(up.in_flight) <= up.window
        assert up.next_seq >= up.acknowledged_seq + 1
        flights = list(up.in_flight)
        for a, b in itertools.pairwise(flights):
            assert b.first_seq == a.last_seq + 1
        if flights:
            assert flights[-1].last_seq == up.next_seq - 1
    assert office.stored == HEAD
    assert up.acknowledged_seq == HEAD
