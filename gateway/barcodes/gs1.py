"""GS1 element strings (GS1-128, GS1 DataMatrix/QR/DataBar, printed "(01)…" form, Digital
Link), parsed by biip; this module keeps the retail AIs the lane needs (01, 10, 17, 30,
310n, 392n — device-protocols.md §3.4) and turns refusals into a `Misread`.

One clock dependency remains inside biip: two-digit years in AI 17 are placed in GS1's
window of 49 years back to 50 ahead of today (device-protocols.md §3.5, "Limitations").
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from biip import ParseConfig, ParseError
from biip.checksums import gs1_standard_check_digit
from biip.gs1_digital_link_uris import GS1DigitalLinkURI
from biip.gs1_element_strings import GS1ElementString, GS1ElementStrings
from biip.gs1_messages import GS1Message

from gateway.barcodes.results import (
    GROUP_SEPARATOR,
    Misread,
    ScannedCode,
    ScanResult,
    check_digit_misread,
    is_digits,
)

_GS1_CONFIG = ParseConfig(separator_chars=(GROUP_SEPARATOR,))


GS1Form = Literal["scanned", "printed", "link"]
"""How the element strings arrived: as scanned (AIs run together, GS between variable-length
fields), as printed under the barcode ("(01)…(10)…"), or as a GS1 Digital Link URI."""


def read_gs1(raw: str, body: str, symbology: str | None, *, form: GS1Form) -> ScanResult:
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
        return check_digit_misread(raw, value[-1], str(gs1_standard_check_digit(value[:-1])))
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
    return int(element.value) if element is not None and is_digits(element.value) else None


def _value(element: GS1ElementString | None) -> str | None:
    return element.value if element is not None else None


def _date(element: GS1ElementString | None) -> date | None:
    return element.date if element is not None else None
