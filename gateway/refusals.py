"""Every refusal code the box can answer with: one closed list, checked by mypy.

A `Refusal` (the lane's, and the members room's it passes on) carries one of these codes for
software (the screens, the control socket, tests) beside its sentence for the cashier.
Adding a refusal means adding its code here and to the list in docs/lane.md (a test
checks both ways). No imports: the lane, the members room and the daemon all use it.
"""

from __future__ import annotations

from typing import Literal, get_args

RefusalCode = Literal[
    # the lane: selling, tenders, refunds, suspensions
    "age_confirmed",
    "already_refunded",
    "bad_amount",
    "bad_count",
    "bad_denomination",
    "bad_float",
    "bad_price",
    "bad_quantity",
    "beyond_quantity",
    "blind_count",
    "cannot_price",
    "count_mismatch",
    "coupon_twice",
    "drawer_short",
    "empty_sale",
    "member_set",
    "members_off",
    "misread",
    "needs_age_check",
    "needs_member",
    "needs_member_card",
    "needs_override",
    "needs_reason",
    "needs_receipt",
    "needs_reference",
    "needs_weight",
    "no_age_check",
    "no_change",
    "no_member_to_credit",
    "no_points_payout",
    "no_shift",
    "no_such_line",
    "no_such_suspension",
    "not_member_tender",
    "not_now",
    "not_weighed",
    "open_price_item",
    "open_price_line",
    "over_ceiling",
    "payment_card_scanned",
    "payment_code_scanned",
    "points_back",
    "quantity_on_weighed",
    "scale_empty",
    "scale_not_priceable",
    "scale_over",
    "scale_unstable",
    "unknown_coupon",
    "unknown_department",
    "unknown_item",
    "unknown_receipt",
    "wallet_refund",
    "weighed_line",
    "whole_line_only",
    # staff: sign-on, PINs, permissions
    "approval_needed",
    "bad_language",
    "locked_out",
    "no_credential",
    "no_second_factor",
    "not_permitted",
    "unknown_action",
    "unknown_staff",
    "unknown_staff_card",
    "wrong_pin",
    "wrong_second_factor",
    # members: cards, balances, limits, offline policy
    "blacklisted",
    "blocked",
    "day_limit",
    "insufficient_balance",
    "insufficient_points",
    "lost",
    "meal_limit",
    "no_members",
    "no_redemption",
    "offline_day_ceiling",
    "offline_not_allowed",
    "offline_points_day_ceiling",
    "offline_points_transaction_ceiling",
    "offline_too_long",
    "offline_transaction_ceiling",
    "outside_meal_period",
    "payment_card",
    "points_step",
    "too_many_unsynced",
    "transaction_limit",
    "unknown_card",
    # reports: the day close
    "shift_open",
    "z_done",
    # the box: storage
    "disk_full",
    "journal_broken",
    "journal_unavailable",
    # the box: a stock session (receiving, counting) has the scanner: no sale meanwhile
    "stock_mode",
]

REFUSAL_CODES: frozenset[str] = frozenset(get_args(RefusalCode))
