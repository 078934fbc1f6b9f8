"""The journal uplink's bookkeeping: what to send next, what is in flight, what an ack means.

Theory of operation. Records leave in seq order, packed into batches. At most `window`
batches are in flight, i.e. sent but not yet covered by head office's acknowledgement; QoS 1
throughput is window / round trip, so the window, not the CPU, sets the pace on a slow
line. Head office acknowledges cumulatively ("everything up to seq N is stored", with the
hash at N). A broker PUBACK means nothing here: brokers lose what they accepted. When no
ack progress comes for `resend_after` seconds, on every (re)connect and whenever head office
comes back online, sending goes back to the acknowledged position (go-back-N); what is sent
again is flagged historical, and head office de-duplicates by seq.

Pure: no threads, sockets, SQLite or clock. The paho adapter (`service`) feeds events with
the time, reads the records `next_batch` asks for, and reports each ack to the journal's
single writer when `ack_to_report` says so. It must not touch the journal itself.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import Enum


class AckVerdict(Enum):
    """What an incoming ack did; the last two are refused and reported on `.../events`."""

    ADVANCED = "advanced"
    STALE = "stale"  # at or below the position already acknowledged: harmless repeat
    BEYOND_JOURNAL = "beyond_journal"  # names a seq the journal does not have: never sent
    HASH_MISMATCH = "hash_mismatch"  # names a seq we have, but a different record


@dataclass(frozen=True)
class InFlight:
    first_seq: int
    last_seq: int
    sent_at: float


@dataclass(frozen=True)
class UplinkCounters:
    batches_sent: int
    records_sent: int
    go_backs: int
    acks_refused: int


class Uplink:
    """Window and acknowledgement state of one box's journal uplink."""

    def __init__(
        self,
        *,
        acknowledged_seq: int,
        window: int,
        resend_after: float,
        require_head_office_online: bool = True,
    ) -> None:
        if window < 1:
            raise ValueError("window must be at least 1 batch")
        self.acknowledged_seq = acknowledged_seq
        self.window = window
        self.resend_after = resend_after
        self.require_head_office_online = require_head_office_online
        self.next_seq = acknowledged_seq + 1
        self.in_flight: deque[InFlight] = deque()
        self.connected = False
        self.head_office_online = False
        self._replay_until = 0  # seqs up to here were (maybe) sent before: historical
        self._last_progress_at = 0.0
        self._reported_seq = acknowledged_seq
        self._reported_at: float | None = None
        self._batches_sent = 0
        self._records_sent = 0
        self._go_backs = 0
        self._acks_refused = 0

    # ------------------------------------------------------------ connection events

    def on_connected(self, head_seq: int) -> None:
        """A fresh connection: anything in flight may be lost, start over from the ack."""
        self.connected = True
        self._replay_until = max(self._replay_until, head_seq)  # journaled before: not live
        self._go_back()

    def on_disconnected(self) -> None:
        """The link dropped; head office's presence is unknown until its retained state
        arrives again on the next connection."""
        self.connected = False
        self.head_office_online = False
        self._go_back()

    def on_head_office_presence(self, online: bool) -> None:
        """Head office's retained presence changed; coming back online restarts the window."""
        came_back = online and not self.head_office_online
        self.head_office_online = online
        if came_back:
            self._go_back()

    # ------------------------------------------------------------ sending

    @property
    def may_send(self) -> bool:
        presence_ok = self.head_office_online or not self.require_head_office_online
        return self.connected and presence_ok and len(self.in_flight) < self.window

    def next_batch(self, head_seq: int) -> int | None:
        """The seq to read the next batch after (records `> after`), or None to wait."""
        if not self.may_send or self.next_seq > head_seq:
            return None
        return self.next_seq - 1

    def claim(self, first_seq: int, last_seq: int, now: float) -> bool:
        """Records `first..last` are being published now; returns their `historical` flag."""
        if first_seq != self.next_seq or last_seq < first_seq:
            raise ValueError(
                f"batch {first_seq}..{last_seq} does not continue at seq {self.next_seq}"
            )
        if not self.in_flight:
            self._last_progress_at = now
        self.in_flight.append(InFlight(first_seq, last_seq, now))
        self.next_seq = last_seq + 1
        self._batches_sent += 1
        self._records_sent += last_seq - first_seq + 1
        return last_seq <= self._replay_until

    # ------------------------------------------------------------ acknowledgement

    def on_ack(self, seq: int, ack_hash: str, journal_hash: str | None, now: float) -> AckVerdict:
        """Head office says it stored everything up to `seq`.

        `journal_hash` is this box's hash of record `seq` (None when the journal has no
        such record). A matching hash proves head office holds that exact record, even when
        it was sent by an earlier run of the box.
        """
        if seq <= self.acknowledged_seq:
            return AckVerdict.STALE
        if journal_hash is None:
            self._acks_refused += 1
            return AckVerdict.BEYOND_JOURNAL
        if journal_hash != ack_hash:
            self._acks_refused += 1
            return AckVerdict.HASH_MISMATCH
        self.acknowledged_seq = seq
        while self.in_flight and self.in_flight[0].last_seq <= seq:
            self.in_flight.popleft()
        self.next_seq = max(self.next_seq, seq + 1)
        self._last_progress_at = now
        return AckVerdict.ADVANCED

    def on_tick(self, now: float) -> bool:
        """Go back to the acknowledged position when acks stopped coming; True if it did."""
        if self.in_flight and now - self._last_progress_at >= self.resend_after:
            self._go_back()
            return True
        return False

    def ack_to_report(self, now: float, interval: float) -> int | None:
        """The position to hand to the journal's writer now, if any (coalesced)."""
        if self.acknowledged_seq <= self._reported_seq:
            return None
        if self._reported_at is not None and now - self._reported_at < interval:
            return None
        return self.acknowledged_seq

    def ack_reported(self, seq: int, now: float) -> None:
        self._reported_seq = max(self._reported_seq, seq)
        self._reported_at = now

    @property
    def counters(self) -> UplinkCounters:
        return UplinkCounters(
            self._batches_sent, self._records_sent, self._go_backs, self._acks_refused
        )

    def _go_back(self) -> None:
        if self.next_seq > self.acknowledged_seq + 1:
            self._replay_until = max(self._replay_until, self.next_seq - 1)
            self._go_backs += 1
        self.next_seq = self.acknowledged_seq + 1
        self.in_flight.clear()
