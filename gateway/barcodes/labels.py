"""The store's own variable-measure labels, read with the layouts in `[barcodes]` settings.

biip knows GS1's 13-digit regional layouts only; label scales (Chinese 13- and 18-digit
formats included, device-protocols.md §3.3) print whatever layout they were set up with, so
the store describes it as a pattern ("26IIIIIPPPPPWWWWWC") and this module reads it. The
verifier digit uses biip's GS1 routine. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from biip.checksums import gs1_price_weight_check_digit, gs1_standard_check_digit

from gateway.barcodes.results import Misread, ScannedCode, ScanResult, check_digit_misread, plu_key
from gateway.barcodes.symbology import ean_symbology, named
from gateway.settings import LabelLayout


@dataclass(frozen=True)
class _Fields:
    """Where each letter of a layout pattern sits; built once per pattern."""

    flags: str
    slices: dict[str, slice]


@lru_cache(maxsize=64)
def _fields(pattern: str) -> _Fields:
    flag_count = len(pattern) - len(pattern.lstrip("0123456789"))
    slices = {
        letter: slice(pattern.index(letter), pattern.rindex(letter) + 1)
        for letter in "IPWQVCR"
        if letter in pattern
    }
    return _Fields(pattern[:flag_count], slices)


def layout_matches(layout: LabelLayout, digits: str) -> bool:
    return len(digits) == len(layout.pattern) and digits.startswith(_fields(layout.pattern).flags)


def label_symbology(identifier: str | None, digits: str) -> str | None:
    if len(digits) in (12, 13):
        return ean_symbology(identifier, len(digits))
    return named(identifier) if identifier else None


def _verified_letter(slices: dict[str, slice]) -> str | None:
    """The field a layout's verifier digit V protects: the price, else weight, else count."""
    return next((letter for letter in "PWQ" if letter in slices), None)


def read_label(
    raw: str, digits: str, layout: LabelLayout, symbology: str | None, verify: bool
) -> ScanResult:
    """A label printed by the store's scales, read with the layout the store configured.

    The check digit is GS1's mod-10 over every digit before it — EAN-13's for 13 digits,
    the same weights over 17 digits for the 18-digit Chinese scale labels (§3.3 [ENJOYIT]).
    """
    fields = _fields(layout.pattern).slices
    expected = gs1_standard_check_digit(digits[:-1])
    if int(digits[-1]) != expected:
        return check_digit_misread(raw, digits[-1], str(expected))
    misread = _verify_price_digit(raw, digits, fields) if verify else None
    if misread is not None:
        return misread
    if layout.reduced:
        return _reduced_sticker(raw, digits, layout, fields, symbology)
    price = weight = None
    count = None
    if "P" in fields:
        price = Decimal(digits[fields["P"]]).scaleb(-layout.price_decimals)
    if "W" in fields:
        weight = Decimal(digits[fields["W"]]).scaleb(-layout.weight_decimals)
        if layout.weight_unit == "g":
            weight = weight.scaleb(-3)
    if "Q" in fields:
        count = int(digits[fields["Q"]])
    return ScannedCode(
        raw,
        "label",
        (plu_key(digits[fields["I"]]),),
        symbology,
        price=price,
        weight=weight,
        count=count,
        layout=layout.name,
    )


def _verify_price_digit(raw: str, digits: str, fields: dict[str, slice]) -> Misread | None:
    """GS1's 4-/5-digit price/weight verifier (Gen. Specs §7.9.2-7.9.4, biip's routine)."""
    if "V" not in fields:
        return None
    letter = _verified_letter(fields)
    if letter is None:
        return None
    value = digits[fields[letter]]
    try:
        expected = gs1_price_weight_check_digit(value)
    except ValueError:
        return None  # only 4- and 5-digit fields have a verifier; settings refuse others
    found = int(digits[fields["V"]])
    if found == expected:
        return None
    field_name = {"P": "price", "W": "weight", "Q": "count"}[letter]
    return Misread(
        raw,
        f"{field_name} check digit is {found}, expected {expected} — rescan, or reprint the label",
        "verifier",
    )


def _reduced_sticker(
    raw: str, digits: str, layout: LabelLayout, fields: dict[str, slice], symbology: str | None
) -> ScanResult:
    """A reduced-to-clear sticker: the item code and its new price, or a percent off the
    catalog price (01-99; the catalog and the lane decide whether the item may be sold so)."""
    reduced_price = reduced_percent = None
    if "P" in fields:
        reduced_price = Decimal(digits[fields["P"]]).scaleb(-layout.price_decimals)
    else:
        reduced_percent = Decimal(int(digits[fields["R"]]))
        if reduced_percent == 0:
            return Misread(
                raw, "the reduced sticker says 0% off — reprint the sticker", "malformed"
            )
    return ScannedCode(
        raw,
        "label",
        (plu_key(digits[fields["I"]]),),
        symbology,
        layout=layout.name,
        reduced_price=reduced_price,
        reduced_percent=reduced_percent,
    )
