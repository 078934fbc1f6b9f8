"""Barcode scans turned into typed results the lane can act on.

Owns: reading what a scanner (or a cashier's keyboard) sends — EAN-13, EAN-8, UPC-A, UPC-E,
GS1 element strings (GS1-128, GS1 DataMatrix, GS1 QR, with or without an AIM symbology
identifier, their printed "(01)…(10)…" form and GS1 Digital Link), in-store
variable-measure labels laid out as the store configured them (13- and 18-digit Chinese
label-scale formats included), GS1 regional variable-measure numbers, typed PLUs and
internal Code 128 texts — and the catalog key each one is looked up by.

Must not touch: the catalog, the database, devices or the clock. Whether an item exists is
decided later by the catalog lookup, never here. `parse_scan` never raises for a string:
every bad scan is a `Misread` whose `reason` a cashier can read.

What comes from `biip` (GS1 standards, see /work/shared/reference/device-protocols.md §3.5):
check digits, UPC-E expansion, GTIN-14 normalisation, GS1 element strings and their AIs,
regional RCN rules (`rcn_region`) and the price/weight verifier digit. What is ours: the
store's own label layouts (§3.3; biip knows only GS1's 13-digit regional layouts), the
18-digit check digit (§3.3, "EAN-13 method" over 17 digits), typed PLUs, and turning every
failure into a `Misread`.

Modules: `scan` (the order in which a scan is tried), `retail` (EAN/UPC and regional
numbers), `labels` (the store's layouts), `gs1` (element strings), `symbology` (AIM
identifiers), `results` (the typed results). Documented in docs/barcodes.md.
"""

from gateway.barcodes.results import (
    MAX_SCAN_LENGTH,
    InvalidPluError,
    Misread,
    MisreadKind,
    ScannedCode,
    ScanResult,
    ScanSource,
    plu_key,
)
from gateway.barcodes.retail import lookup_key_for_code
from gateway.barcodes.scan import parse_scan

__all__ = [
    "MAX_SCAN_LENGTH",
    "InvalidPluError",
    "Misread",
    "MisreadKind",
    "ScanResult",
    "ScanSource",
    "ScannedCode",
    "lookup_key_for_code",
    "parse_scan",
    "plu_key",
]
