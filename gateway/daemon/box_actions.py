"""Changes made to the box over the control socket, and who made them.

Owns the `box_action` journal record (one per staff change or catalog load made through
the socket: what changed, who approved it, whether the box was still in bootstrap) and
the words `gateway status` and `gateway doctor` use for the bootstrap. Pure: bodies and
sentences out; the daemon's main loop checks the approval (gateway.lane.staff) and
appends the record after the change commits. Never holds a PIN or a TOTP code.
"""

from __future__ import annotations

from typing import Any

from gateway.lane.staff import Bootstrap, StaffMember

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


def box_action(
    action: str, who: StaffMember | None, stage: Bootstrap | None, **details: Any
) -> dict[str, Any]:
    """The body of a `box_action` record: `action`, `actor`, `bootstrap` and the details
    of what changed (never a PIN)."""
    return {"action": action, "actor": actor(who), "bootstrap": stage is not None, **details}


def access_view(stage: Bootstrap | None) -> dict[str, Any]:
    """`status.access`: the bootstrap stage (None when over) and what the socket allows."""
    return {
        "bootstrap": stage,
        "allows": OVER if stage is None else BOOTSTRAP_ALLOWS[stage],
        "fix": None if stage is None else BOOTSTRAP_FIX[stage],
    }
