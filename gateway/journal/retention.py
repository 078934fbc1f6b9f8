"""Journal retention: which records may go, and pruning them a small step at a time.

A record is deleted only when all of these hold: head office has acknowledged it, a backup
in the backup folder holds it, it is older than `journal.retention_days`, every record
before it is deleted too (only a prefix goes, so the chain is verified from the anchor:
`journal_state.anchor_seq/anchor_hash`, the last record deleted), and it is not the head.

Two halves. `window` and `step_end` are pure (no SQLite, no clock, no I/O): given the
journal's watermarks they say which seqs one step may look at and where it must stop, and
why nothing may go when nothing may (`Hold`). `RetentionKeeper` is the adapter the daemon's
main loop ticks: at most one step per tick, each step reading at most `prune_batch` rows by
primary key and deleting at most that many in one transaction, so a scan waits for one
step (milliseconds) at worst, never for a whole year's backlog. Rows of other rooms that
index a pruned record go in the same transaction through their owners' `Dependent`
callbacks (e.g. the lane's `LaneBook.forget_through`). Touches no table itself.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import TYPE_CHECKING

from gateway.errors import StoregateError
from gateway.journal.clock import utc_iso
from gateway.journal.settings import JournalSettings

if TYPE_CHECKING:
    from gateway.journal.store import Journal

log = logging.getLogger(__name__)

Dependent = Callable[[sqlite3.Connection, int], None]
"""Deletes another room's rows that index journal records up to and including a seq."""


class Hold(Enum):
    """Why a step deletes nothing; the sentence is what the log says."""

    DISABLED = "retention is off (journal.retention_days = 0)"
    HEAD = "every record but the head is already pruned"
    ACKNOWLEDGEMENT = "the oldest kept record is not acknowledged by head office yet"
    BACKUP = "the oldest kept record is in no backup yet"
    AGE = "the oldest kept record is younger than the retention period"


@dataclass(frozen=True)
class Watermarks:
    """What the journal and the backup folder say, read just before a step."""

    anchor_seq: int
    head_seq: int
    acknowledged_seq: int
    backed_up_seq: int


@dataclass(frozen=True)
class Window:
    """Seqs `first..last` (inclusive) one step may delete, if old enough."""

    first: int
    last: int


def window(marks: Watermarks, batch: int) -> Window | Hold:
    """The next seqs after the anchor that are acknowledged, backed up and not the head,
    at most `batch` of them; or why there are none."""
    limit = min(marks.acknowledged_seq, marks.backed_up_seq, marks.head_seq - 1)
    if limit > marks.anchor_seq:
        return Window(marks.anchor_seq + 1, min(limit, marks.anchor_seq + batch))
    if marks.head_seq - 1 <= marks.anchor_seq:
        return Hold.HEAD
    if marks.acknowledged_seq <= marks.anchor_seq:
        return Hold.ACKNOWLEDGEMENT
    return Hold.BACKUP


def step_end(chosen: Window, first_young: int | None) -> int | Hold:
    """The last seq to delete: the window, cut before the first record still too young
    (or stamped in the future by a clock jump: it stops the prefix until it has aged)."""
    upto = chosen.last if first_young is None else first_young - 1
    return upto if upto >= chosen.first else Hold.AGE


def cutoff(now: datetime, retention_days: int) -> str:
    """Records stamped before this UTC time are old enough to go."""
    return utc_iso(now - timedelta(days=retention_days))


def retention_note(journal: Journal) -> str:
    """A sentence for a look-up that found nothing, once records have been pruned: the
    thing asked for may be older than the retention period rather than unknown."""
    state = journal.state()
    if state.anchor_seq == 0:
        return ""
    first = journal.get(state.anchor_seq + 1)
    since = f" (before {first.time[:10]})" if first is not None else ""
    return (
        f" Records older than the retention period{since} are no longer kept on this "
        "till: refund without the receipt."
    )


class RetentionKeeper:
    """Ticked by the main loop; prunes in bounded steps, never faster than needed."""

    def __init__(
        self,
        journal: Journal,
        settings: JournalSettings,
        *,
        backed_up: Callable[[], int],
        wall: Callable[[], datetime],
        dependents: Sequence[Dependent] = (),
        alert: Callable[[str], None] = lambda message: None,
    ) -> None:
        self.journal = journal
        self.settings = settings
        self._backed_up = backed_up
        self._wall = wall
        self._dependents = tuple(dependents)
        self._alert = alert
        self._next = 0.0
        self._hold: Hold | None = None
        self.pruned = 0

    def tick(self, monotonic: float) -> int:
        """One step when one is due; returns how many records it deleted."""
        if monotonic < self._next:
            return 0
        try:
            deleted, hold = self.step()
        except StoregateError as exc:  # e.g. a full disk: try again later, say so once
            self._next = monotonic + self.settings.prune_interval_s
            self._alert(f"journal pruning failed, records are kept: {exc.describe()}")
            return 0
        self.pruned += deleted
        busy = deleted >= self.settings.prune_batch
        self._next = monotonic if busy else monotonic + self.settings.prune_interval_s
        if hold is not self._hold:
            log.info(
                "journal retention: %s",
                hold.value if hold else f"pruning (anchor now {self.journal.state().anchor_seq})",
            )
            self._hold = hold
        return deleted

    def step(self) -> tuple[int, Hold | None]:
        """Delete the next prunable records (at most `prune_batch`), or say why none."""
        if self.settings.retention_days == 0:
            return 0, Hold.DISABLED
        state = self.journal.state()
        marks = Watermarks(
            state.anchor_seq, state.head_seq, state.acknowledged_seq, self._backed_up()
        )
        chosen = window(marks, self.settings.prune_batch)
        if isinstance(chosen, Hold):
            return 0, chosen
        young = self.journal.first_young(
            chosen.first, chosen.last, cutoff(self._wall(), self.settings.retention_days)
        )
        end = step_end(chosen, young)
        if isinstance(end, Hold):
            return 0, end
        return self.journal.prune_through(end, dependents=self._dependents), None
