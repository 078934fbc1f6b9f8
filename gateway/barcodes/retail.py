"""EAN-13, EAN-8, UPC-A, UPC-E and GS1 regional variable-measure numbers, read with biip.

biip checks the digits, expands UPC-E and applies the region's RCN rules
(device-protocols.md §3.1-3.2, §3.5); this module turns its answers and its refusals into a
`ScannedCode` or a `Misread`, and gives the catalog its keys. Pure: no I/O, no clock.
"""

from __future__ import annotations

import contextlib

from biip import EncodeError, ParseConfig, ParseError
from biip.checksums import gs1_standard_check_digit
from biip.gtin import Gtin
from biip.rcn import Rcn, RcnRegion, RcnUsage
from biip.upc import Upc

from gateway.barcodes.results import (
    Misread,
    ScannedCode,
    ScanResult,
    check_digit_misread,
    is_digits,
    plu_key,
)
from gateway.barcodes.symbology import ean_symbology
from gateway.settings import BarcodeSettings


def lookup_key_for_code(code: str) -> str:
    """The catalog key for a barcode listed in a catalog document.

    Valid GTIN-8/12/13/14 and UPC-E become their GTIN-14, so that a product listed as UPC-A
    "036000291452", EAN-13 "0036000291452" or GTIN-14 "00036000291452" is found by any of
    those scans; anything else (internal codes, Code 128 texts) is the stripped text.
    """
    text = code.strip()
    if is_digits(text) and len(text) in (8, 12, 13, 14):
        gtin14 = plain_gtin14(text)
        if gtin14 is not None:
            return gtin14
    return text


def ean_gtin14(digits: str) -> str | None:
    """GTIN-14 of a GTIN-8/12/13/14 whose check digit is right, without regional rules.

    This is what biip's `Gtin.parse(digits).as_gtin_14()` answers (a property test holds
    the two equal), without its prefix look-ups: the catalog loader calls this for every
    barcode of a 100,000-product document, where the look-ups would cost a second.
    """
    if gs1_standard_check_digit(digits[:-1]) != int(digits[-1]):
        return None
    return digits.zfill(14)


def upc_e_gtin14(digits: str) -> str | None:
    """GTIN-14 of the UPC-A an 8-digit UPC-E stands for (number system 0 or 1)."""
    try:
        return Gtin.parse(Upc.parse(digits).as_upc_a()).as_gtin_14()
    except ParseError:
        return None


def plain_gtin14(digits: str) -> str | None:
    """8 digits can be read as EAN-8 and as UPC-E; like biip, EAN-8 wins when both are valid."""
    gtin14 = ean_gtin14(digits)
    if gtin14 is None and len(digits) == 8:
        return upc_e_gtin14(digits)
    return gtin14


def without_add_on(digits: str) -> str:
    """The main code of an EAN/UPC scanned with its add-on (AIM ]E3: periodicals, books).

    The 2- or 5-digit add-on (issue number, suggested price) is not part of the product's
    key. When no split gives a valid code, the longest main code is kept so that its
    check digit is reported.
    """
    splits = [main for main in (13, 12, 8) if len(digits) - main in (2, 5)]
    for main in splits:
        head = digits[:main]
        if (upc_e_gtin14(head) if main == 8 else ean_gtin14(head)) is not None:
            return head
    return digits[: splits[0]] if splits else digits


def read_gtin(
    raw: str, digits: str, identifier: str | None, settings: BarcodeSettings
) -> ScanResult:
    if len(digits) == 8:
        return _read_eight_digits(raw, digits, identifier)
    region = _rcn_region(settings)
    config = ParseConfig(rcn_region=region, rcn_verify_variable_measure=settings.verify_price_digit)
    expected = gs1_standard_check_digit(digits[:-1])
    if int(digits[-1]) != expected:
        return check_digit_misread(raw, digits[-1], str(expected))
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
    symbology = ean_symbology(identifier, len(digits))
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
        readings.append(("EAN-8", ean_gtin14(digits)))
    if upc_e_possible:
        readings.append(("UPC-E", upc_e_gtin14(digits)))
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
    return check_digit_misread(raw, digits[-1], " or ".join(expected))


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
    if rcn.item_reference and is_digits(rcn.item_reference):
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
