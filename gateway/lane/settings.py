"""The `[lane]` settings section: staff permissions, PIN lockout, override ceilings, float.

Owns only the shape and validation of `[lane]` (and `[lane.permissions]`); it opens
nothing. Permissions are data: which roles may perform each lane action themselves. A role
not listed needs a supervisor override (someone whose role is listed) for that one action.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Role = Literal["cashier", "supervisor", "technician", "admin"]
ROLES: tuple[Role, ...] = ("cashier", "supervisor", "technician", "admin")

# Actions the lane guards, and the roles that may do each one themselves by default.
DEFAULT_PERMISSIONS: dict[str, list[Role]] = {
    "open_shift": ["cashier", "supervisor", "admin"],
    "sell": ["cashier", "supervisor", "admin"],
    "void_line": ["cashier", "supervisor", "admin"],
    "void_sale": ["cashier", "supervisor", "admin"],
    "void_after_tender": ["supervisor", "admin"],
    "price_override": ["supervisor", "admin"],
    "basket_discount": ["supervisor", "admin"],  # 整单折扣: a discount on the whole sale
    "refund": ["supervisor", "admin"],
    # empties (Leergut) worth more than the sale, paid out in cash: a refund's roles by
    # default; German stores often let cashiers pay out (docs/lane.md "Deposits and empties")
    "empties_payout": ["supervisor", "admin"],
    "return_without_receipt": ["supervisor", "admin"],
    "no_sale": ["supervisor", "admin"],
    "approve_offline": ["supervisor", "admin"],
    "resolve_payment": ["supervisor", "admin"],  # a wallet payment in doubt (docs/payments.md)
    "open_price": ["cashier", "supervisor", "admin"],
    "open_price_over_ceiling": ["supervisor", "admin"],
    "confirm_age": ["cashier", "supervisor", "admin"],
    "close_shift": ["cashier", "supervisor", "admin"],
    "paid_in": ["cashier", "supervisor", "admin"],
    "paid_out": ["supervisor", "admin"],
    "top_up": ["cashier", "supervisor", "admin"],
    "refund_top_up": ["supervisor", "admin"],
    "close_day": ["supervisor", "admin"],
    # Receiving and stock counts at the box (gateway stock, docs/stock.md): start, finish, cancel.
    "stock": ["supervisor", "admin"],
    # Box actions: also need the person's TOTP second factor.
    "change_settings": ["technician", "admin"],
    "restore_backup": ["technician", "admin"],
    "trust_key": ["admin"],
    # The technician page (docs/technician.md): devices' tests, doctor, the settings check.
    "service_devices": ["technician", "admin"],
}
BOX_ACTIONS = frozenset({"change_settings", "restore_backup", "trust_key", "service_devices"})


class LaneSettings(BaseModel):
    """`[lane]`: how the till treats its staff."""

    model_config = ConfigDict(extra="forbid")

    opening_float: Decimal = Field(Decimal("0"), ge=0, description="cash in the drawer at open")
    blind_count: bool = Field(True, description="close-shift counts hide the expected amount")
    carry_over_drawer: bool = Field(
        False,
        description="shift handover: a new shift starts with the cash the last one "
        "counted at close, instead of `opening_float`",
    )
    pin_attempts: int = Field(5, ge=1, le=20, description="wrong PINs before a lockout")
    pin_min_digits: int = Field(
        6,
        ge=6,
        le=12,
        description="shortest PIN a person may be given (docs/lane.md, PINs at rest: how "
        "long each length resists a stolen database)",
    )
    lockout_minutes: int = Field(15, ge=1, le=1440)
    supervisor_ceiling: Decimal = Field(
        Decimal("200.00"),
        ge=0,
        description="largest amount one supervisor override covers, unless set per person",
    )
    max_basket_discount_percent: Decimal = Field(
        Decimal("20"),
        gt=0,
        le=100,
        description="the largest whole-basket percent discount (整单折扣) anyone may enter; "
        "an amount off is bounded by the supervisor's override ceiling",
    )
    totp_issuer: str = Field("storegate", description="shown in the authenticator app")
    merge_repeats: bool = Field(
        False,
        description="scanning or keying an item already on the sale adds to that line's "
        "quantity instead of a new line (counted items at the catalog's price only)",
    )
    age_check: bool = Field(
        False,
        description="age-restricted items need the cashier to confirm the customer's age "
        "once per sale before payment",
    )
    minimum_age: int = Field(
        18, ge=1, le=99, description="years: the age the cashier confirms (and the date shown)"
    )
    permissions: dict[str, list[Role]] = Field(default_factory=lambda: dict(DEFAULT_PERMISSIONS))

    @field_validator("permissions")
    @classmethod
    def _known_actions(cls, value: dict[str, list[Role]]) -> dict[str, list[Role]]:
        unknown = sorted(set(value) - set(DEFAULT_PERMISSIONS))
        if unknown:
            raise ValueError(
                f"unknown lane actions {unknown}; known: {', '.join(sorted(DEFAULT_PERMISSIONS))}"
            )
        return {**DEFAULT_PERMISSIONS, **value}

    def allows(self, role: str, action: str) -> bool:
        return role in self.permissions.get(action, [])
