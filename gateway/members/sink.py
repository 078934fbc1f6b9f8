"""The members room's `DocumentSink` for gateway.sync: a verified members document (or a
blacklist pushed on its own) is validated and swapped in, or refused whole.

Owns nothing but the hand-over; the checks of signature and version order belong to sync,
the tables to `gateway.members.store`. Time is injected.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from gateway.members.document import Blacklist, MembersDocumentError, parse_document
from gateway.members.store import MemberStore
from gateway.sync.errors import DocumentRefused


def _utc_now() -> datetime:
    return datetime.now(UTC)


class MembersSink:
    """Applies `members` documents; register it for that kind with the sync service."""

    def __init__(self, store: MemberStore, now: Callable[[], datetime] = _utc_now) -> None:
        self._store = store
        self._now = now

    def apply(self, kind: str, version: int, document: dict[str, Any]) -> None:
        """Swap the document in, or raise `DocumentRefused` (the one in force stays)."""
        if kind != "members":
            raise DocumentRefused(
                f"the members sink cannot apply a {kind} document",
                fix="route only members documents here",
            )
        try:
            doc = parse_document(document, source=f"members document version {version}")
            if doc.version != version:
                raise DocumentRefused(
                    f"the envelope says version {version} but the document says {doc.version}",
                    fix="head office must sign the document with its own version",
                )
            self._store.apply_document(doc, self._now())
        except MembersDocumentError as exc:
            raise DocumentRefused(exc.what, where=exc.where, fix=exc.fix) from exc

    def apply_blacklist(self, data: dict[str, Any]) -> bool:
        """A blacklist pushed alone (lost cards, high priority); True when it replaced."""
        try:
            blacklist = Blacklist.model_validate(data)
        except ValueError as exc:
            raise DocumentRefused(
                f"blacklist refused: {exc}", fix="see docs/members.md, blacklist"
            ) from exc
        return self._store.apply_blacklist(blacklist)
