"""Changes made to the box's staff and catalog, and who made them.

Owns the `box_action` journal record (one per staff change or catalog load: what changed,
who approved it, whether the box was still in bootstrap, and `via` — the control socket
of the running daemon or the database file of a stopped box) and the words `gateway
status` and `gateway doctor` use for the bootstrap. The change and its record commit in
one journal transaction (`journal_staff_change`, `journal_catalog_load`): a crash leaves
both or neither, never a change nobody recorded. Whoever owns the database calls them —
the daemon's main loop, or the CLI on a stopped box. Never holds a PIN or a TOTP code.
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from gateway.catalog.catalog import Catalog
from gateway.catalog.store import CatalogStore
from gateway.journal import Journal
from gateway.lane.events import Refusal
from gateway.lane.staff import Bootstrap, StaffChange, StaffChanged, StaffDirectory, StaffMember
from gateway.lane.staff_document import StaffDocument

BOX_ACTION_KIND = "box_action"

# What a box in each bootstrap stage lets the socket's group do (status, doctor, docs).
BOOTSTRAP_ALLOWS: dict[Bootstrap, str] = {
    "first_admin": "bootstrap: no admin yet - anyone who can use the control socket may add "
    "the first admin or technician; no other change is taken until one exists",
    "pin_only": "bootstrap: no admin or technician has an authenticator yet - box changes "
    "need their staff number and PIN only",
}
BOOTSTRAP_FIX: dict[Bootstrap, str] = {
    "first_admin": "gateway staff add ID NAME admin; then gateway staff totp ID --by ID",
    "pin_only": "enrol an authenticator to end it: gateway staff totp ID --by ID",
}
OVER = "box changes need an admin's or technician's PIN and authenticator code"


def actor(member: StaffMember | None) -> dict[str, str] | None:
    """The approver as journalled (None: the bootstrap's first admin, unapproved)."""
    if member is None:
        return None
    return {"id": member.id, "name": member.name, "role": member.role}


# Where a change came in: the running daemon's control socket, the file of a stopped box,
# or head office's signed staff document (applied by the daemon's main loop).
Via = Literal["socket", "file", "head_office"]


def box_action(
    action: str, who: StaffMember | None, stage: Bootstrap | None, via: Via, **details: Any
) -> dict[str, Any]:
    """The body of a `box_action` record: `action`, `actor`, `bootstrap`, `via` and the
    details of what changed (never a PIN)."""
    return {
        "action": action,
        "actor": actor(who),
        "bootstrap": stage is not None,
        "via": via,
        **details,
    }


def journal_staff_change(
    journal: Journal,
    staff: StaffDirectory,
    change: StaffChange,
    intent: StaffChanged | Refusal,
    stage: Bootstrap | None,
    via: Via,
) -> StaffChanged | Refusal:
    """Commit an approved staff change (`StaffDirectory.intend_change`) together with its
    `box_action` record; a refusal writes nothing (its PIN count is already written)."""
    if isinstance(intent, Refusal):
        return intent
    body = box_action(f"staff_{change.action}", intent.actor, stage, via, staff=intent.staff)
    journal.append(BOX_ACTION_KIND, body, also=intent.write)
    return intent


def journal_staff_document(
    journal: Journal, staff: StaffDirectory, document: StaffDocument
) -> dict[str, Any]:
    """Put head office's staff document in force and journal what it changed (a
    `box_action` `staff_document`, via `head_office`, no actor: head office signed it) in
    one transaction; returns the record's body. Raises `StaffDocumentRefused` with nothing
    written when the box cannot take it (`StaffDirectory.apply_central_intent`)."""
    stage = staff.bootstrap()
    intent = staff.apply_central_intent(document)
    body = box_action("staff_document", None, stage, "head_office", **intent.details())
    journal.append(BOX_ACTION_KIND, body, also=intent.write)
    return body


def journal_catalog_load(
    journal: Journal,
    store: CatalogStore,
    text: str,
    source: str,
    *,
    force: bool,
    who: StaffMember | None,
    stage: Bootstrap | None,
    via: Via,
) -> Catalog:
    """Put a catalog in force and journal who loaded it, in one transaction. A local
    catalog never blocks head office's: signed catalogs are ordered by head office's own
    versions (the daemon's `_apply_document`)."""
    previous = store.version()
    catalog, write = store.intend_text(text, source, allow_same_or_older=force)
    body = box_action(
        "catalog_load",
        who,
        stage,
        via,
        version=catalog.version,
        previous_version=previous,
        force=force,
        source=source,
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        products=len(catalog.products),
    )
    journal.append(BOX_ACTION_KIND, body, also=write)
    return catalog


def access_view(stage: Bootstrap | None) -> dict[str, Any]:
    """`status.access`: the bootstrap stage (None when over) and what the socket allows."""
    return {
        "bootstrap": stage,
        "allows": OVER if stage is None else BOOTSTRAP_ALLOWS[stage],
        "fix": None if stage is None else BOOTSTRAP_FIX[stage],
    }
