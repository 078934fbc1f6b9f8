"""Errors of the journal a person can act on (tampering, misuse of the API, bad bodies).

Owns only error types; raising them is up to chain, store and cli.
"""

from __future__ import annotations

from gateway.errors import StoregateError


class JournalError(StoregateError):
    """The journal refused an operation (acknowledging beyond the head, a bad body, ...)."""

    exit_code = 1


class UnserialisableBody(JournalError):
    """A record body holds a value that has no single canonical JSON form (float, bytes...)."""


class RecordIdConflict(JournalError):
    """A record id is re-used for a different record: re-appending must repeat the same body."""
