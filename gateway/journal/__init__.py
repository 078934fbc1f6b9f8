"""The hash-chained journal: every completed sale, refund, void, shift and balance change.

Modules: `chain` (the hash rule, pure, shared with head office), `records` (JournalRecord
and its wire form), `clock` (wall time + NTP state), `store` (the SQLite journal: append,
read, acknowledge, prune), `verify` (walking the chain), `retention` (what may be pruned
next, and the keeper the daemon ticks), `settings` (`[journal]`), `cli` (`gateway journal ...`).
This package owns the journal_record and journal_state tables and no other table.
"""

from gateway.journal.chain import GENESIS_HASH, canonical_json, record_hash
from gateway.journal.errors import JournalError, RecordIdConflict, UnserialisableBody
from gateway.journal.records import JournalRecord
from gateway.journal.store import (
    DEFAULT_RETENTION,
    Clock,
    Journal,
    VerifyReport,
    system_clock,
    verify_journal,
)

__all__ = [
    "DEFAULT_RETENTION",
    "GENESIS_HASH",
    "Clock",
    "Journal",
    "JournalError",
    "JournalRecord",
    "RecordIdConflict",
    "UnserialisableBody",
    "VerifyReport",
    "canonical_json",
    "record_hash",
    "system_clock",
    "verify_journal",
]
