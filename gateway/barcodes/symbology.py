"""AIM symbology identifiers (ISO/IEC 15424) that scanners put before the data: "]E0" etc.

The table names the symbologies a shop meets (GS1 General Specifications fig. 5.1.2-2 for
the GS1 ones); the identifier also tells EAN-8 from UPC-E and GS1-128 from plain Code 128.
Pure: no I/O.
"""

from __future__ import annotations

import re

_AIM_IDENTIFIER = re.compile(r"\]([A-Za-z])([0-9A-Za-z])")


GS1_MESSAGE_IDENTIFIERS = frozenset({"]C1", "]d2", "]Q3", "]e0", "]J1"})


SYMBOLOGY_NAMES = {
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


def named(identifier: str | None) -> str | None:
    """The symbology an AIM identifier names, when we know its name."""
    return SYMBOLOGY_NAMES.get(identifier) if identifier is not None else None


def split_symbology_identifier(text: str) -> tuple[str | None, str] | None:
    """(identifier or None, data); None when the text starts with ']' but is no identifier."""
    if not text.startswith("]"):
        return None, text
    match = _AIM_IDENTIFIER.match(text)
    if match is None:
        return None
    return match.group(0), text[match.end() :].strip()


def ean_symbology(identifier: str | None, length: int) -> str | None:
    """Name the EAN/UPC symbology from the identifier, else from the number of digits."""
    if identifier is not None and identifier not in ("]E0", "]E4"):
        return named(identifier)
    if identifier == "]E4" or (identifier is None and length == 8):
        return "EAN-8"
    return {8: "UPC-E", 12: "UPC-A", 13: "EAN-13"}.get(length)
