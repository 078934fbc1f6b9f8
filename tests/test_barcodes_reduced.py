"""Reduced-to-clear stickers: a label layout with `reduced = true` (docs/barcodes.md).

Check digits computed here with the GS1 mod-10 rule (biip's), never copied from the code
under test: 290012300099 -> 5, 270000012330 -> 0.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from gateway.barcodes import Misread, ScannedCode, parse_scan
from gateway.settings import BarcodeSettings, LabelLayout, load_settings

PRICE = LabelLayout(name="reduced price", pattern="29IIIIIPPPPPC", reduced=True)
PERCENT = LabelLayout(name="reduced percent", pattern="27IIIIIIIIRRC", reduced=True)
STORE = BarcodeSettings(
    label_layouts=[PRICE, PERCENT, LabelLayout(name="deli", pattern="22IIIIIPPPPPC")]
)


def test_a_price_sticker_reads_the_item_and_its_new_price() -> None:
    result = parse_scan("2900123000995", STORE)
    assert isinstance(result, ScannedCode)
    assert result.source == "label" and result.lookup_keys == ("PLU:123",)
    assert result.reduced_price == Decimal("0.99") and result.reduced_percent is None
    assert result.price is None  # not a price-embedded label: the lane must not take it so
    assert result.layout == "reduced price" and result.symbology == "EAN-13"


def test_a_percent_sticker_reads_the_item_and_the_percent_off() -> None:
    result = parse_scan("2700000123300", STORE)
    assert isinstance(result, ScannedCode)
    assert result.lookup_keys == ("PLU:123",)
    assert result.reduced_percent == Decimal(30) and result.reduced_price is None


def test_an_ordinary_label_is_not_reduced() -> None:
    result = parse_scan("2200123005991", STORE)
    assert isinstance(result, ScannedCode)
    assert result.price == Decimal("5.99") and result.reduced_price is None


@pytest.mark.parametrize("raw", ["2900123000994", "2700000123301"])
def test_a_wrong_check_digit_is_a_misread(raw: str) -> None:
    result = parse_scan(raw, STORE)
    assert isinstance(result, Misread) and result.kind == "check_digit"


def test_zero_percent_off_is_a_misread() -> None:
    # 270000012300 + check digit 3
    result = parse_scan("2700000123003", STORE)
    assert isinstance(result, Misread) and result.kind == "malformed"
    assert "0% off" in result.reason


@pytest.mark.parametrize(
    ("pattern", "reduced", "message"),
    [
        ("27IIIIIIIIRRC", False, "add reduced = true"),
        ("29IIIIIPPPRRC", True, "either its new price 'P' or a percent off 'R'"),
        ("26IIIIIPPPPPWWWWWC", True, "no weight 'W' or count 'Q'"),
        ("27IIIIIIIRRRC", True, "two digits 'RR'"),
        ("27IIIIIIIVRRC", True, "verifier digit"),
    ],
)
def test_settings_refuse_a_reduced_layout_that_cannot_be_read(
    pattern: str, reduced: bool, message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        LabelLayout(name="x", pattern=pattern, reduced=reduced)


def test_the_examples_of_the_docs_with_the_example_settings() -> None:
    """docs/barcodes.md "Reduced-to-clear stickers", row by row."""
    settings = load_settings(Path(__file__).resolve().parents[1] / "config/gateway.example.toml")
    at_070 = parse_scan("2900501000708", settings.barcodes)
    assert isinstance(at_070, ScannedCode) and at_070.lookup_keys == ("PLU:501",)
    assert at_070.reduced_price == Decimal("0.70")
    half = parse_scan("2700000501504", settings.barcodes)
    assert isinstance(half, ScannedCode) and half.reduced_percent == 50
    wrong = parse_scan("2900501000709", settings.barcodes)
    assert isinstance(wrong, Misread) and wrong.reason == "check digit is 9, expected 8 — rescan"
    zero = parse_scan("2700000501009", settings.barcodes)
    assert isinstance(zero, Misread) and zero.kind == "malformed"


GS1_REDUCED = BarcodeSettings(gs1_price_is_reduced=True)


@pytest.mark.parametrize(
    "raw",
    [
        "(01)07612345001128(3922)150",  # as printed under a GS1 DataBar Expanded
        "]e00107612345001128392200150",  # as a scanner sends it, AIM identifier for DataBar
        "0107612345001128392200150",
    ],
)
def test_with_the_switch_a_gs1_amount_payable_is_a_reduced_price(raw: str) -> None:
    result = parse_scan(raw, GS1_REDUCED)
    assert isinstance(result, ScannedCode)
    assert result.lookup_keys == ("07612345001128",) and result.source == "gs1"
    assert result.reduced_price == Decimal("1.50") and result.price is None
    plain = parse_scan(raw, BarcodeSettings())  # without it: a label price, as before
    assert isinstance(plain, ScannedCode) and plain.price == Decimal("1.50")
    assert plain.reduced_price is None


def test_a_gs1_amount_with_a_weight_stays_a_label_price_with_the_switch() -> None:
    result = parse_scan("(01)07612345001128(3922)150(3103)001250", GS1_REDUCED)
    assert isinstance(result, ScannedCode)
    assert result.price == Decimal("1.50") and result.reduced_price is None


def test_a_gs1_sticker_with_a_wrong_check_digit_is_a_misread_with_the_switch() -> None:
    result = parse_scan("(01)07612345001129(3922)150", GS1_REDUCED)
    assert isinstance(result, Misread) and result.kind == "check_digit"
