"""Head office's staff document (`storegate.staff/1`): the people head office manages.

Signed and retained on `{root}/{store}/staff` like the catalog (gateway.sync.downlink
checks the signature, the target and the version); `cloud staff publish` builds it and
checks it with this same model before anything is sent, the box applies it with
`StaffDirectory.apply_central_intent`. It carries what the box's `lane_staff` table
stores and nothing more: a PIN only as its salt and salted hash (`gateway.lane.pins`),
never the PIN; no TOTP seed (an authenticator is enrolled on the box, sealed with the
box's own key). Roles are `cashier` and `supervisor` only: the admins and technicians who
approve changes to a box are that box's own (docs/lane.md, "Central staff").

Pure data: no I/O, no clock.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from gateway.cardsafe import has_card_data
from gateway.errors import StoregateError
from gateway.lane.pins import LEGACY_COST, SALT_BYTES, stored_cost
from gateway.validation import first_problems

SCHEMA: Literal["storegate.staff/1"] = "storegate.staff/1"
CentralRole = Literal["cashier", "supervisor"]
CENTRAL_ROLES: tuple[CentralRole, ...] = ("cashier", "supervisor")
STAFF_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$"


class StaffDocumentRefused(StoregateError):
    """A staff document the box (or head office, before sending) cannot take."""

    exit_code = 2


def encode_bytes(raw: bytes) -> str:
    """How the document spells a salt or a hash: standard base64."""
    return base64.b64encode(raw).decode("ascii")


def decode_bytes(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


class CentralPerson(BaseModel):
    """One person as head office sends them: what `lane_staff` keeps, the PIN as its hash."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=STAFF_ID)
    name: str = Field(min_length=1, max_length=80)
    role: CentralRole
    pin_salt: str | None = None
    pin_hash: str | None = None
    card: str | None = Field(None, min_length=1, max_length=64)
    ceiling: str | None = None
    active: bool = True

    @field_validator("pin_salt")
    @classmethod
    def _salt(cls, value: str | None) -> str | None:
        if value is not None and len(_b64(value, "pin_salt")) != SALT_BYTES:
            raise ValueError(f"pin_salt must be {SALT_BYTES} bytes, base64")
        return value

    @field_validator("pin_hash")
    @classmethod
    def _hash(cls, value: str | None) -> str | None:
        if value is None:
            return None
        cost = stored_cost(_b64(value, "pin_hash"))
        if cost is None or cost == LEGACY_COST:
            raise ValueError("pin_hash is not a PIN hash of gateway.lane.pins (scrypt-lanes)")
        return value

    @field_validator("card")
    @classmethod
    def _card(cls, value: str | None) -> str | None:
        if value is not None and has_card_data(value):
            raise ValueError("a payment card's number cannot be a staff card")
        return value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if has_card_data(value):
            raise ValueError("the name holds a payment card's number")
        return value

    @field_validator("ceiling")
    @classmethod
    def _ceiling(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            amount = Decimal(value)
        except InvalidOperation:
            raise ValueError("ceiling is a decimal amount like 100.00") from None
        if not amount.is_finite() or amount < 0:
            raise ValueError("ceiling is a decimal amount like 100.00")
        return value

    @model_validator(mode="after")
    def _credential(self) -> CentralPerson:
        if (self.pin_salt is None) != (self.pin_hash is None):
            raise ValueError("pin_salt and pin_hash come together")
        if self.pin_hash is None and self.card is None:
            raise ValueError("a person needs a PIN (hash) or a staff card to sign on")
        return self

    def digest(self) -> str:
        """What the box remembers of the entry it applied: a later document that leaves
        this person as they were leaves the box's own standing of them (a local disable, a
        lockout) as it is."""
        text = json.dumps(self.model_dump(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def salt_bytes(self) -> bytes | None:
        return None if self.pin_salt is None else decode_bytes(self.pin_salt)

    def hash_bytes(self) -> bytes | None:
        return None if self.pin_hash is None else decode_bytes(self.pin_hash)


def _b64(text: str, what: str) -> bytes:
    try:
        return decode_bytes(text)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise ValueError(f"{what} is not base64") from None


class StaffDocument(BaseModel):
    """`storegate.staff/1`: every person head office gives one store's boxes (the store
    and the signature are the envelope's, `gateway.sync.payloads.SignedDocument`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_: Literal["storegate.staff/1"] = Field(SCHEMA, alias="schema")
    version: int = Field(ge=1)
    issued_at: str | None = None
    staff: list[CentralPerson]


def parse_staff_document(document: dict[str, Any], source: str) -> StaffDocument:
    """The document as the model, or `StaffDocumentRefused` naming the first problems; a
    staff id or a card twice is refused too."""
    try:
        parsed = StaffDocument.model_validate(document)
    except ValidationError as exc:
        problems = first_problems(exc)
        raise StaffDocumentRefused(
            f"staff document refused: {problems}",
            where=source,
            fix="head office builds it with `cloud staff publish`",
        ) from None
    for what, values in (
        ("staff id", [p.id for p in parsed.staff]),
        ("staff card", [p.card for p in parsed.staff if p.card is not None]),
    ):
        twice = sorted({v for v in values if values.count(v) > 1})
        if twice:
            raise StaffDocumentRefused(
                f"a {what} appears twice in the staff document: {', '.join(twice)}",
                where=source,
                fix="give each person their own",
            )
    return parsed
