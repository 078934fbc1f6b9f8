"""Barcode scans turned into typed results the lane can act on.

Owns: reading what a scanner (or a cashier's keyboard) sends — EAN-13, EAN-8, UPC-A, UPC-E,
GS1 element strings (GS1-128, GS1 DataMatrix, GS1 QR, with or without an AIM symbology
identifier, and their printed "(01)…(10)…" form), in-store variable-measure labels laid out
as the store configured them (13- and 18-digit Chinese label-scale formats included), GS1
regional variable-measure numbers, typed PLUs and internal Code 128 texts — and the catalog
key each one is looked up by.

Must not touch: the catalog, the database, devices or the clock. Whether an item exists is
decided later by the catalog lookup, never here. `parse_scan` never raises for a string:
every bad scan is a `Misread` whose `reason` a cashier can read.

What comes from `biip` (GS1 standards, see /work/shared/reference/device-protocols.md §3.5):
check digits, UPC-E expansion, GTIN-14 normalisation, GS1 element strings and their AIs,
regional RCN rules (`rcn_region`) and the price/weight verifier digit. What is ours: the
store's own label layouts (§3.3; biip knows only GS1's 13-digit regional layouts), the
18-digit check digit (§3.3, "EAN-13 method" over 17 digits), typed PLUs, and turning every
failure into a `Misread`.

One clock dependency remains inside biip: two-digit years in AI 17 are placed in GS1's
window of 49 years back to 50 ahead of today (device-protocols.md §3.5, "Limitations").
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Literal

from biip import EncodeError, ParseConfig, ParseError
from biip.checksums import gs1_price_weight_check_digit, gs1_standard_check_digit
from biip.gs1_digital_link_uris import GS1DigitalLinkURI
from biip.gs1_element_strings import GS1ElementString, GS1ElementStrings
from biip.gs1_messages import GS1Message
from biip.gtin import Gtin
from biip.rcn import Rcn, RcnRegion, RcnUsage
from biip.upc import Upc

from gateway.errors import StoregateError
from gateway.settings import BarcodeSettings, LabelLayout

__all__ = [
    "MAX_SCAN_LENGTH",
    "InvalidPluError",
    "Misread",
    "ScannedCode",
    "lookup_key_for_code",
    "parse_scan",
    "plu_key",
]

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


@dataclass(frozen=True)
class Misread:
    """A scan that cannot be trusted; `reason` is shown to the cashier as it is."""

    raw: str
    reason: str
    kind: MisreadKind


ScanResult = ScannedCode | Misread


# --- catalog keys -------------------------------------------------------------------------


def plu_key(plu: str) -> str:
    """The catalog key of a PLU / scale item code: "PLU:" and the number without leading zeros.

    Label scales pad item codes ("00123"), cashiers do not ("123"); both must find one item.
    """
    digits = plu.strip()
    if not _is_digits(digits):
        raise InvalidPluError(
            f"PLU {plu!r} is not a number",
            fix="a PLU is written with the digits 0-9 only, e.g. '123' or '00123'",
        )
    return "PLU:" + (digits.lstrip("0") or "0")


def lookup_key_for_code(code: str) -> str:
    """The catalog key for a barcode listed in a catalog document.

    Valid GTIN-8/12/13/14 and UPC-E become their GTIN-14, so that a product listed as UPC-A
    "036000291452", EAN-13 "0036000291452" or GTIN-14 "00036000291452" is found by any of
    those scans; anything else (internal codes, Code 128 texts) is the stripped text.
    """
    text = code.strip()
    if _is_digits(text) and len(text) in (8, 12, 13, 14):
        gtin14 = _plain_gtin14(text)
        if gtin14 is not None:
            return gtin14
    return text


# --- the parser ---------------------------------------------------------------------------


def parse_scan(raw: str, settings: BarcodeSettings) -> ScanResult:
    """Read one scan. Never raises for a string: a bad scan is a `Misread`.

    Order (first that applies): empty / too long / control characters; AIM symbology
    identifier; GS1 Digital Link web address; GS1 element string (GS1 symbology, a GS
    separator or "(AI)" text); typed PLU; digits — 1-6 digits are a PLU, then the store's
    label layouts in the order given, then GTINs (with biip's regional RCN rules when
    `rcn_region` is set), then a GS1 string without identifier or separator ("01…");
    anything else is an internal code looked up as it is.
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
    aim = _split_symbology_identifier(text)
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
    return _read_data(raw, identifier, body, settings)


def _read_data(
    raw: str, identifier: str | None, body: str, settings: BarcodeSettings
) -> ScanResult:
    """The scan's data, once the symbology identifier (if any) is split off."""
    if _DIGITAL_LINK_START.match(body):
        link = _read_gs1(raw, body, _named(identifier), form="link")
        if isinstance(link, ScannedCode) or link.kind == "check_digit":
            return link
        return ScannedCode(raw, "internal", (body,), _named(identifier))  # e.g. a promo QR
    if identifier in _GS1_MESSAGE_IDENTIFIERS or GROUP_SEPARATOR in body:
        return _read_gs1(raw, body, _named(identifier), form="scanned")
    if _HRI_START.match(body):
        return _read_gs1(raw, body, _named(identifier), form="printed")
    typed = _read_typed_plu(raw, body)
    if typed is not None:
        return typed
    if _is_digits(body):
        if identifier == "]E3":
            identifier, body = "]E0", _without_add_on(body)
        return _read_digits(raw, body, identifier, settings)
    return ScannedCode(raw, "internal", (body,), _named(identifier))


_DIGITAL_LINK_START = re.compile(r"https?://", re.IGNORECASE)
"""GS1 Digital Link: the web address in a product's QR code carries the GTIN (biip)."""

_HRI_START = re.compile(r"\(\d{2,4}\)")
"""The printed form of a GS1 element string starts with an AI in brackets: "(01)…"."""


def _is_digits(text: str) -> bool:
    """ASCII digits only: `str.isdigit` also accepts '²' and other scripts' digits."""
    return text.isascii() and text.isdigit()


def _first_control_character(text: str) -> str | None:
    """The first character no barcode carries (GS is allowed: it is GS1's FNC1)."""
    for char in text:
        if char != GROUP_SEPARATOR and unicodedata.category(char) in _UNPRINTABLE:
            return char
    return None


_UNPRINTABLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})


# --- AIM symbology identifiers (ISO/IEC 15424; GS1 General Specifications fig. 5.1.2-2) --

_AIM_IDENTIFIER = re.compile(r"\]([A-Za-z])([0-9A-Za-z])")

_GS1_MESSAGE_IDENTIFIERS = frozenset({"]C1", "]d2", "]Q3", "]e0", "]J1"})

_SYMBOLOGY_NAMES = {
    "]C1": "GS1-128",
    "]d2": "GS1 DataMatrix",
    "]Q3": "GS1 QR Code",
    "]e0": "GS1 DataBar",
    "]J1": "GS1 DotCode",
    "]C0": "Code 128",
    "]d1": "Data Matrix",
    "]Q1": "QR Code",
    "]A0": "Code 39",
    "]I0": "ITF",
    "]I1": "ITF",
    "]E4": "EAN-8",
}


def _named(identifier: str | None) -> str | None:
    """The symbology an AIM identifier names, when we know its name."""
    return _SYMBOLOGY_NAMES.get(identifier) if identifier is not None else None


def _split_symbology_identifier(text: str) -> tuple[str | None, str] | None:
    """(identifier or None, data); None when the text starts with ']' but is no identifier."""
    if not text.startswith("]"):
        return None, text
    match = _AIM_IDENTIFIER.match(text)
    if match is None:
        return None
    return match.group(0), text[match.end() :].strip()


def _ean_symbology(identifier: str | None, length: int) -> str | None:
    """Name the EAN/UPC symbology from the identifier, else from the number of digits."""
    if identifier is not None and identifier not in ("]E0", "]E4"):
        return _named(identifier)
    if identifier == "]E4" or (identifier is None and length == 8):
        return "EAN-8"
    return {8: "UPC-E", 12: "UPC-A", 13: "EAN-13"}.get(length)


def _without_add_on(digits: str) -> str:
    """The main code of an EAN/UPC scanned with its add-on (AIM ]E3: periodicals, books).

    The 2- or 5-digit add-on (issue number, suggested price) is not part of the product's
    key. When no split gives a valid code, the longest main code is kept so that its
    check digit is reported.
    """
    splits = [main for main in (13, 12, 8) if len(digits) - main in (2, 5)]
    for main in splits:
        head = digits[:main]
        if (_upc_e_gtin14(head) if main == 8 else _ean_gtin14(head)) is not None:
            return head
    return digits[: splits[0]] if splits else digits


# --- typed PLUs --------------------------------------------------------------------------

_TYPED_PLU = re.compile(r"plu\s*(?P<sep>[:#]?)\s*(?P<rest>.*)", re.IGNORECASE)
_SHORT_PLU_DIGITS = 6


def _read_typed_plu(raw: str, body: str) -> ScanResult | None:
    """`PLU123`, `plu:123`, `PLU 00123`; None when the text is not a PLU at all."""
    match = _TYPED_PLU.fullmatch(body)
    if match is None:
        return None
    rest = match.group("rest")
    if _is_digits(rest):
        return ScannedCode(raw, "plu", (plu_key(rest),), None)
    if match.group("sep") or not rest:
        return Misread(raw, "a PLU needs its number, e.g. PLU123", "malformed")
    return None  # text that merely starts with "plu", e.g. "PLUMBING-1": an internal code


# --- digit strings -----------------------------------------------------------------------


def _read_digits(
    raw: str, digits: str, identifier: str | None, settings: BarcodeSettings
) -> ScanResult:
    if len(digits) <= _SHORT_PLU_DIGITS:
        return ScannedCode(raw, "plu", (plu_key(digits),), None)
    for layout in settings.label_layouts:
        if _layout_matches(layout, digits):
            symbology = _label_symbology(identifier, digits)
            return _read_label(raw, digits, layout, symbology, settings.verify_price_digit)
    if len(digits) in (8, 12, 13, 14):
        return _read_gtin(raw, digits, identifier, settings)
    if digits.startswith("01") and len(digits) >= 16:
        scanned = _read_gs1(raw, digits, _named(identifier), form="scanned")
        if isinstance(scanned, ScannedCode) or scanned.kind == "check_digit":
            return scanned
    return ScannedCode(raw, "internal", (digits,), _named(identifier))


def _ean_gtin14(digits: str) -> str | None:
    """GTIN-14 of a GTIN-8/12/13/14 whose check digit is right, without regional rules.

    This is what biip's `Gtin.parse(digits).as_gtin_14()` answers (a property test holds
    the two equal), without its prefix look-ups: the catalog loader calls this for every
    barcode of a 100,000-product document, where the look-ups would cost a second.
    """
    if gs1_standard_check_digit(digits[:-1]) != int(digits[-1]):
        return None
    return digits.zfill(14)


def _upc_e_gtin14(digits: str) -> str | None:
    """GTIN-14 of the UPC-A an 8-digit UPC-E stands for (number system 0 or 1)."""
    try:
        return Gtin.parse(Upc.parse(digits).as_upc_a()).as_gtin_14()
    except ParseError:
        return None


def _plain_gtin14(digits: str) -> str | None:
    """8 digits can be read as EAN-8 and as UPC-E; like biip, EAN-8 wins when both are valid."""
    gtin14 = _ean_gtin14(digits)
    if gtin14 is None and len(digits) == 8:
        return _upc_e_gtin14(digits)
    return gtin14


def _read_gtin(
    raw: str, digits: str, identifier: str | None, settings: BarcodeSettings
) -> ScanResult:
    if len(digits) == 8:
        return _read_eight_digits(raw, digits, identifier)
    region = _rcn_region(settings)
    config = ParseConfig(rcn_region=region, rcn_verify_variable_measure=settings.verify_price_digit)
    expected = gs1_standard_check_digit(digits[:-1])
    if int(digits[-1]) != expected:
        return _check_digit_misread(raw, digits[-1], str(expected))
    try:
        gtin = Gtin.parse(digits, config=config)
    except ParseError as exc:
        # The GTIN check digit is right: biip refused the region's price/weight verifier.
        return Misread(
            raw,
            f"the price/weight check digit of label {digits} does not match "
            f"— rescan, or reprint the label ({exc})",
            "verifier" if region is not None else "malformed",
        )
    symbology = _ean_symbology(identifier, len(digits))
    if isinstance(gtin, Rcn) and region is not None and _has_variable_measure(gtin):
        return _read_rcn(raw, gtin, region, symbology)
    gtin14 = gtin.as_gtin_14()
    return ScannedCode(raw, "gtin", (gtin14,), symbology, gtin=gtin14)


def _read_eight_digits(raw: str, digits: str, identifier: str | None) -> ScanResult:
    """EAN-8 or UPC-E; the identifier ]E0 (UPC-E) / ]E4 (EAN-8) decides when present."""
    upc_e_possible = identifier != "]E4" and digits[0] in "01"  # UPC-E number systems
    ean_8_possible = identifier != "]E0" or not upc_e_possible
    readings = []
    if ean_8_possible:
        readings.append(("EAN-8", _ean_gtin14(digits)))
    if upc_e_possible:
        readings.append(("UPC-E", _upc_e_gtin14(digits)))
    for name, gtin14 in readings:
        if gtin14 is not None:
            return ScannedCode(raw, "gtin", (gtin14,), name, gtin=gtin14)
    expected = []
    if ean_8_possible:
        expected.append(str(gs1_standard_check_digit(digits[:-1])))
    if upc_e_possible:
        upc_a = _upc_e_payload_as_upc_a(digits[:-1])
        upc_digit = str(gs1_standard_check_digit(upc_a))
        if upc_digit not in expected:
            expected.append(upc_digit)
    return _check_digit_misread(raw, digits[-1], " or ".join(expected))


def _upc_e_payload_as_upc_a(payload: str) -> str:
    """The 11 UPC-A digits a 7-digit UPC-E payload stands for (biip's expansion)."""
    return Upc.parse(payload).as_upc_a()[:-1]


def _rcn_region(settings: BarcodeSettings) -> RcnRegion | None:
    if settings.rcn_region is None:
        return None
    try:
        return RcnRegion(settings.rcn_region.strip().lower())
    except ValueError:
        return None  # settings validation reports it; the lane keeps reading plain GTINs


def _has_variable_measure(rcn: Rcn) -> bool:
    return rcn.usage == RcnUsage.GEOGRAPHICAL and (
        rcn.price is not None or rcn.weight is not None or rcn.count is not None
    )


def _read_rcn(raw: str, rcn: Rcn, region: RcnRegion, symbology: str | None) -> ScanResult:
    """A GS1 regional variable-measure number read by biip's rules for `rcn_region`.

    The product is found by its number with the measure zeroed (how GS1 regions list such
    items, device-protocols.md §3.2), else by its item reference as a PLU.
    """
    product = rcn.as_gtin_14()
    with contextlib.suppress(EncodeError, ParseError):
        product = rcn.without_variable_measure().as_gtin_14()
    keys = [product]
    if rcn.item_reference and _is_digits(rcn.item_reference):
        keys.append(plu_key(rcn.item_reference))
    return ScannedCode(
        raw,
        "label",
        tuple(keys),
        symbology,
        gtin=product,
        price=rcn.price,
        weight=rcn.weight,
        count=rcn.count,
        layout=f"GS1 {region.value.upper()} variable measure",
    )


def _check_digit_misread(raw: str, found: str, expected: str) -> Misread:
    return Misread(raw, f"check digit is {found}, expected {expected} — rescan", "check_digit")


# --- the store's label layouts (device-protocols.md §3.2-3.3) -----------------------------


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
        for letter in "IPWQVC"
        if letter in pattern
    }
    return _Fields(pattern[:flag_count], slices)


def _layout_matches(layout: LabelLayout, digits: str) -> bool:
    return len(digits) == len(layout.pattern) and digits.startswith(_fields(layout.pattern).flags)


def _label_symbology(identifier: str | None, digits: str) -> str | None:
    if len(digits) in (12, 13):
        return _ean_symbology(identifier, len(digits))
    return _named(identifier) if identifier else None


def _verified_letter(slices: dict[str, slice]) -> str | None:
    """The field a layout's verifier digit V protects: the price, else weight, else count."""
    return next((letter for letter in "PWQ" if letter in slices), None)


def _read_label(
    raw: str, digits: str, layout: LabelLayout, symbology: str | None, verify: bool
) -> ScanResult:
    """A label printed by the store's scales, read with the layout the store configured.

    The check digit is GS1's mod-10 over every digit before it — EAN-13's for 13 digits,
    the same weights over 17 digits for the 18-digit Chinese scale labels (§3.3 [ENJOYIT]).
    """
    fields = _fields(layout.pattern).slices
    expected = gs1_standard_check_digit(digits[:-1])
    if int(digits[-1]) != expected:
        return _check_digit_misread(raw, digits[-1], str(expected))
    misread = _verify_price_digit(raw, digits, fields) if verify else None
    if misread is not None:
        return misread
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


# --- GS1 element strings (device-protocols.md §3.4) ---------------------------------------

_GS1_CONFIG = ParseConfig(separator_chars=(GROUP_SEPARATOR,))


GS1Form = Literal["scanned", "printed", "link"]
"""How the element strings arrived: as scanned (AIs run together, GS between variable-length
fields), as printed under the barcode ("(01)…(10)…"), or as a GS1 Digital Link URI."""


def _read_gs1(raw: str, body: str, symbology: str | None, *, form: GS1Form) -> ScanResult:
    try:
        strings = _element_strings(body, form)
    except (ParseError, ValueError) as exc:
        return Misread(raw, f"GS1 code could not be read — rescan ({exc})", "malformed")
    product = strings.get(ai="01")
    if product is None:
        return Misread(
            raw,
            "GS1 code carries no product number (AI 01) — scan the product's other barcode",
            "malformed",
        )
    if product.gtin is None:
        value = product.value
        return _check_digit_misread(raw, value[-1], str(gs1_standard_check_digit(value[:-1])))
    gtin14 = product.gtin.as_gtin_14()
    return ScannedCode(
        raw,
        "gs1",
        (gtin14,),
        symbology,
        gtin=gtin14,
        price=_first_decimal(strings, "392"),
        weight=_first_decimal(strings, "310"),
        count=_count(strings.get(ai="30")),
        batch=_value(strings.get(ai="10")),
        expiry=_date(strings.get(ai="17")),
    )


def _element_strings(body: str, form: GS1Form) -> GS1ElementStrings:
    """biip's parse for each form; raises biip's ParseError (or ValueError) when unreadable."""
    if form == "printed":
        return GS1Message.parse_hri(body, config=_GS1_CONFIG).element_strings
    if form == "link":
        return GS1DigitalLinkURI.parse(body, config=_GS1_CONFIG).element_strings
    return GS1Message.parse(body, config=_GS1_CONFIG).element_strings


def _first_decimal(strings: list[GS1ElementString], ai_head: str) -> Decimal | None:
    """The value of the first 310n (net weight, kg) or 392n (amount payable) element."""
    for element in strings:
        if element.ai.ai.startswith(ai_head) and element.decimal is not None:
            return element.decimal
    return None


def _count(element: GS1ElementString | None) -> int | None:
    return int(element.value) if element is not None and _is_digits(element.value) else None


def _value(element: GS1ElementString | None) -> str | None:
    return element.value if element is not None else None


def _date(element: GS1ElementString | None) -> date | None:
    return element.date if element is not None else None
