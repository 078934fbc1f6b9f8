"""The members room's view of the link to head office, from what sync last saw.

The offline policy (docs/members.md) needs three facts when a member tender is asked for:
online or not, for how long offline, and how many sales head office has not yet
acknowledged. Sync's thread publishes the first two (`SyncService.link_status`, a locked
copy); the third is counted here from the journal on the main loop, the thread the lane
calls `authorise` on. A box with sync disabled passes no link: it counts as online (it
has no head office to be cut off from).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from gateway.journal import Journal
from gateway.members import LinkState

if TYPE_CHECKING:
    from gateway.sync.service import LinkStatus


class MemberLink:
    """Callable the members room asks for a `LinkState` (main loop only)."""

    def __init__(
        self,
        status: Callable[[], LinkStatus | None],
        journal: Journal,
        conn: sqlite3.Connection,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._status = status
        self._journal = journal
        self._conn = conn
        self._monotonic = monotonic
        self._started = monotonic()

    def __call__(self) -> LinkState:
        """`status` None (sync not started yet) counts as offline since start-up."""
        link = self._status()
        if link is not None and link.online:
            return LinkState(online=True)
        since = link.offline_since if link is not None else None
        since = self._started if since is None else since
        return LinkState(
            online=False,
            offline_for=timedelta(seconds=max(0.0, self._monotonic() - since)),
            unsynced_sales=self._unsynced_sales(),
        )

    def _unsynced_sales(self) -> int:
        """Sales after head office's acknowledged position (a range scan on seq)."""
        acknowledged = self._journal.state().acknowledged_seq
        row = self._conn.execute(
            "SELECT count(*) FROM journal_record WHERE seq > ? AND kind = 'sale'", (acknowledged,)
        ).fetchone()
        return int(row[0])
