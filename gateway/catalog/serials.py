"""Serial coupons: printed codes each usable once, `PREFIX-000123-7F3A` (docs/pricing.md,
"Serial coupons").

Owns the code's shape and its check: prefix, a six-digit serial, and four hex digits of
HMAC-SHA256 over `PREFIX-SERIAL` keyed with the promotion's secret (`serials.secret` in the
catalog). Head office computes codes with it (`cloud coupon serials`); the lane reads an
entered code with it, so a guessed or mistyped serial is refused before it reaches pricing.
Whether a serial was already used is not decided here (the members room keeps the uses);
pricing only asks `coupon_opens` whether an accepted code opens a promotion.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass

from gateway.catalog.document import PromotionBase

SERIAL_DIGITS = 6
CHECK_DIGITS = 4
MAX_SERIAL = 10**SERIAL_DIGITS - 1
_SHAPE = re.compile(rf"^([A-Z0-9]+)-(\d{{{SERIAL_DIGITS}}})-([0-9A-F]{{{CHECK_DIGITS}}})$")


def serial_check(prefix: str, secret: str, serial: int) -> str:
    """The check of `serial`: the first four hex digits (upper case) of
    HMAC-SHA256(secret, "PREFIX-000123"), both UTF-8."""
    message = f"{prefix.upper()}-{serial:0{SERIAL_DIGITS}d}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return digest[:CHECK_DIGITS].upper()


def serial_code(prefix: str, secret: str, serial: int) -> str:
    """The printed code of `serial` (1 to 999999)."""
    if not 1 <= serial <= MAX_SERIAL:
        raise ValueError(f"a serial is 1 to {MAX_SERIAL}, not {serial}")
    check = serial_check(prefix, secret, serial)
    return f"{prefix.upper()}-{serial:0{SERIAL_DIGITS}d}-{check}"


@dataclass(frozen=True)
class SerialCoupon:
    """An entered code whose check holds: serial `serial` of promotion `promotion`."""

    promotion: str
    serial: int
    code: str
    per_member: int | None


@dataclass(frozen=True)
class SerialProblem:
    """An entered code that starts like a promotion's serials but is not one of them."""

    promotion: str
    message: str


def serial_promotion(code: str, promotions: Iterable[PromotionBase]) -> PromotionBase | None:
    """The promotion whose serial prefix `code` starts with (`XMAS-…`), if one does."""
    head = code.strip().upper().split("-", 1)[0]
    for promo in promotions:
        if promo.serials is not None and promo.serials.prefix.upper() == head and "-" in code:
            return promo
    return None


def read_serial(
    code: str, promotions: Iterable[PromotionBase]
) -> SerialCoupon | SerialProblem | None:
    """`code` as a serial coupon; None when no promotion has its prefix (then it is an
    ordinary coupon code, or unknown)."""
    code = code.strip().upper()
    promo = serial_promotion(code, promotions)
    if promo is None or promo.serials is None:
        return None
    prefix = promo.serials.prefix.upper()
    example = serial_code(prefix, promo.serials.secret, 123)
    shape = _SHAPE.match(code)
    if shape is None:
        return SerialProblem(
            promo.id,
            f"Coupon {code} is not a serial of {promo.id}: type it as printed, "
            f"{prefix}-{SERIAL_DIGITS} digits-{CHECK_DIGITS} characters (like {example}).",
        )
    serial = int(shape.group(2))
    if serial < 1 or not hmac.compare_digest(
        shape.group(3), serial_check(prefix, promo.serials.secret, serial)
    ):
        return SerialProblem(
            promo.id,
            f"Coupon {code} is not a valid serial of {promo.id}: its check does not match; "
            "type it again from the printed coupon.",
        )
    return SerialCoupon(promo.id, serial, code, promo.serials.per_member)


def coupon_opens(promo: PromotionBase, coupons: Iterable[str]) -> bool:
    """Whether the coupons entered (upper case, accepted by the lane) make `promo`
    eligible: a promotion with neither `coupon` nor `serials` needs none; one with
    `coupon` needs that code; one with `serials` needs a code with its prefix (the lane
    has checked it; pricing does not hold the secret's verdict again)."""
    if promo.coupon is not None:
        return promo.coupon.upper() in coupons
    if promo.serials is not None:
        return any(serial_promotion(c, (promo,)) is promo for c in coupons)
    return True
