"""`parse_scan`: which reader a scan goes to, in a fixed order, and the raw-input checks.

Pure: no I/O, no clock; never raises for a string (property-tested).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import replace

from gateway.barcodes.gs1 import read_gs1
from gateway.barcodes.labels import label_symbology, layout_matches, read_label
from gateway.barcodes.results import (
    GROUP_SEPARATOR,
    MAX_SCAN_LENGTH,
    Misread,
    ScannedCode,
    ScanResult,
    is_digits,
    plu_key,
)
from gateway.barcodes.retail import read_gtin, without_add_on
from gateway.barcodes.symbology import GS1_MESSAGE_IDENTIFIERS, named, split_symbology_identifier
from gateway.settings import BarcodeSettings


def parse_scan(raw: str, settings: BarcodeSettings) -> ScanResult:
    """Read one scan. Never raises for a string: a bad scan is a `Misread`.

    Order (first that applies): empty / too long / control characters; AIM symbology
    identifier; GS1 Digital Link web address; GS1 element string (GS1 symbology, a GS
    separator or "(AI)" text); typed PLU; digits — 1-6 digits are a PLU, then the store's
    label layouts in the order given, then GTINs (with biip's regional RCN rules when
    `rcn_region` is set), then a GS1 string without identifier or separator ("01…");
    anything else is an internal code looked up as it is. With `gs1_price_is_reduced`, a GS1
    result with an amount payable and no weight or count is then a reduced sticker.
    """
    text = raw.strip()
    if not text:
        return Misread(raw, "nothing was scanned — scan again", "empty")
    if len(text) > MAX_SCAN_LENGTH:
        return Misread(
            raw,
            f"the scan is {len(text)} characters long, more than any barcode "
            f"({MAX_SCAN_LENGTH}) — rescan",
            "too_long",
        )
    control = _first_control_character(text)
    if control is not None:
        return Misread(
            raw,
            f"the scan contains the control character U+{ord(control):04X} — rescan; if it "
            "repeats, check the scanner's keyboard layout and suffix settings",
            "malformed",
        )
    aim = split_symbology_identifier(text)
    if aim is None:
        return Misread(
            raw,
            f"the scan starts with ']' but {text[:3]!r} is not a scanner symbology "
            "identifier — rescan",
            "malformed",
        )
    identifier, body = aim
    if not body:
        return Misread(raw, "the scanner sent no data after its symbology identifier", "empty")
    result = _read_data(raw, identifier, body, settings)
    return _gs1_reduced_sticker(result) if settings.gs1_price_is_reduced else result


def _gs1_reduced_sticker(result: ScanResult) -> ScanResult:
    """`gs1_price_is_reduced`: a GS1 code with a GTIN and an amount payable (AI 392n) but no
    weight or count — a GS1 DataBar Expanded markdown label, (01)GTIN(3922)price — is a
    reduced-to-clear sticker: the amount is the item's new price, not a label price."""
    if (
        isinstance(result, ScannedCode)
        and result.source == "gs1"
        and result.price is not None
        and result.weight is None
        and result.count is None
    ):
        return replace(result, price=None, reduced_price=result.price)
    return result


def _read_data(
    raw: str, identifier: str | None, body: str, settings: BarcodeSettings
) -> ScanResult:
    """The scan's data, once the symbology identifier (if any) is split off."""
    if _DIGITAL_LINK_START.match(body):
        link = read_gs1(raw, body, named(identifier), form="link")
        if isinstance(link, ScannedCode) or link.kind == "check_digit":
            return link
        return ScannedCode(raw, "internal", (body,), named(identifier))  # e.g. a promo QR
    if identifier in GS1_MESSAGE_IDENTIFIERS or GROUP_SEPARATOR in body:
        return read_gs1(raw, body, named(identifier), form="scanned")
    if _HRI_START.match(body):
        return read_gs1(raw, body, named(identifier), form="printed")
    typed = _read_typed_plu(raw, body)
    if typed is not None:
        return typed
    if is_digits(body):
        if identifier == "]E3":
            identifier, body = "]E0", without_add_on(body)
        return _read_digits(raw, body, identifier, settings)
    return ScannedCode(raw, "internal", (body,), named(identifier))


_DIGITAL_LINK_START = re.compile(r"https?://", re.IGNORECASE)
"""GS1 Digital Link: the web address in a product's QR code carries the GTIN (biip)."""


_HRI_START = re.compile(r"\(\d{2,4}\)")
"""The printed form of a GS1 element string starts with an AI in brackets: "(01)…"."""


def _first_control_character(text: str) -> str | None:
    """The first character no barcode carries (GS is allowed: it is GS1's FNC1)."""
    for char in text:
        if char != GROUP_SEPARATOR and unicodedata.category(char) in _UNPRINTABLE:
            return char
    return None


_UNPRINTABLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})


_TYPED_PLU = re.compile(r"plu\s*(?P<sep>[:#]?)\s*(?P<rest>.*)", re.IGNORECASE)


_SHORT_PLU_DIGITS = 6


def _read_typed_plu(raw: str, body: str) -> ScanResult | None:
    """`PLU123`, `plu:123`, `PLU 00123`; None when the text is not a PLU at all."""
    match = _TYPED_PLU.fullmatch(body)
    if match is None:
        return None
    rest = match.group("rest")
    if is_digits(rest):
        return ScannedCode(raw, "plu", (plu_key(rest),), None)
    if match.group("sep") or not rest:
        return Misread(raw, "a PLU needs its number, e.g. PLU123", "malformed")
    return None  # text that merely starts with "plu", e.g. "PLUMBING-1": an internal code


def _read_digits(
    raw: str, digits: str, identifier: str | None, settings: BarcodeSettings
) -> ScanResult:
    """Digits only: a short PLU, a store label, a GTIN, a bare GS1 string, else internal."""
    if len(digits) <= _SHORT_PLU_DIGITS:
        return ScannedCode(raw, "plu", (plu_key(digits),), None)
    for layout in settings.label_layouts:
        if layout_matches(layout, digits):
            symbology = label_symbology(identifier, digits)
            return read_label(raw, digits, layout, symbology, settings.verify_price_digit)
    if len(digits) in (8, 12, 13, 14):
        return read_gtin(raw, digits, identifier, settings)
    if digits.startswith("01") and len(digits) >= 16:
        scanned = read_gs1(raw, digits, named(identifier), form="scanned")
        if isinstance(scanned, ScannedCode) or scanned.kind == "check_digit":
            return scanned
    return ScannedCode(raw, "internal", (digits,), named(identifier))
