"""What a scan reads as: `ScannedCode` or `Misread`, and the catalog key of a PLU.

Pure data and tiny helpers shared by the readers of this package; no parsing here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

from gateway.errors import StoregateError

MAX_SCAN_LENGTH = 200
"""Longer input is not a barcode: a GS1 DataMatrix for retail stays far below this."""


GROUP_SEPARATOR = "\x1d"
"""FNC1 as scanners transmit it between variable-length GS1 fields (§3.4)."""


ScanSource = Literal["gtin", "gs1", "label", "plu", "internal"]


MisreadKind = Literal["check_digit", "verifier", "malformed", "empty", "too_long"]


class InvalidPluError(StoregateError, ValueError):
    """A PLU that is not a number (e.g. in a catalog document)."""


@dataclass(frozen=True)
class ScannedCode:
    """A scan that was read correctly; the catalog decides whether the item exists.

    `lookup_keys` are tried in order and the first key the catalog knows wins. `price`
    is the face value printed on a label (or AI 392n), `weight` is always in kg.
    `reduced_price` / `reduced_percent`: what a reduced-to-clear sticker says.
    """

    raw: str
    source: ScanSource
    lookup_keys: tuple[str, ...]
    symbology: str | None
    gtin: str | None = None
    price: Decimal | None = None
    weight: Decimal | None = None
    count: int | None = None
    batch: str | None = None
    expiry: date | None = None
    layout: str | None = None
    # a reduced-to-clear sticker (a layout with `reduced = true`): the item's new price,
    # or the whole percent off its catalog price; `price` stays None (not a label price)
    reduced_price: Decimal | None = None
    reduced_percent: Decimal | None = None


@dataclass(frozen=True)
class Misread:
    """A scan that cannot be trusted; `reason` is shown to the cashier as it is."""

    raw: str
    reason: str
    kind: MisreadKind


ScanResult = ScannedCode | Misread


def plu_key(plu: str) -> str:
    """The catalog key of a PLU / scale item code: "PLU:" and the number without leading zeros.

    Label scales pad item codes ("00123"), cashiers do not ("123"); both must find one item.
    """
    digits = plu.strip()
    if not is_digits(digits):
        raise InvalidPluError(
            f"PLU {plu!r} is not a number",
            fix="a PLU is written with the digits 0-9 only, e.g. '123' or '00123'",
        )
    return "PLU:" + (digits.lstrip("0") or "0")


def is_digits(text: str) -> bool:
    """ASCII digits only: `str.isdigit` also accepts '²' and other scripts' digits."""
    return text.isascii() and text.isdigit()


def check_digit_misread(raw: str, found: str, expected: str) -> Misread:
    """One wording for every check-digit failure, so the lane's message is predictable."""
    return Misread(raw, f"check digit is {found}, expected {expected} — rescan", "check_digit")
