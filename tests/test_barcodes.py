"""parse_scan, lookup_key_for_code and plu_key against real codes.

Worked examples come from /work/shared/reference/device-protocols.md §3 (verified there with
biip 5.2.0); the others are computed here with the GS1 check-digit rule, never copied from
the code under test.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from gateway.barcodes import (
    InvalidPluError,
    Misread,
    ScannedCode,
    lookup_key_for_code,
    parse_scan,
    plu_key,
)
from gateway.errors import StoregateError
from gateway.settings import BarcodeSettings, LabelLayout

GS = "\x1d"

PLAIN = BarcodeSettings()
STORE = BarcodeSettings(
    label_layouts=[
        LabelLayout(name="deli price label", pattern="22IIIIIPPPPPC", price_decimals=2),
        LabelLayout(name="Chinese 13-digit amount", pattern="21IIIIIPPPPPC", price_decimals=2),
        LabelLayout(
            name="produce weight label",
            pattern="23IIIIIWWWWWC",
            weight_decimals=3,
            weight_unit="kg",
        ),
        LabelLayout(
            name="Chinese 18-digit scale label",
            pattern="26IIIIIPPPPPWWWWWC",
            price_decimals=2,
            weight_decimals=3,
        ),
    ]
)


def scanned(raw: str, settings: BarcodeSettings = PLAIN) -> ScannedCode:
    result = parse_scan(raw, settings)
    assert isinstance(result, ScannedCode), result
    return result


def misread(raw: str, settings: BarcodeSettings = PLAIN) -> Misread:
    result = parse_scan(raw, settings)
    assert isinstance(result, Misread), result
    return result


def gs1_check_digit(payload: str) -> str:
    """GS1 General Specifications §7.9.1, written out independently for the tests."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(payload)))
    return str((10 - total % 10) % 10)


def test_independent_check_digit_matches_the_reference_examples() -> None:
    assert gs1_check_digit("590123412345") == "7"
    assert gs1_check_digit("9501234") == "6"
    assert gs1_check_digit("03600029145") == "2"


# --- retail GTINs -------------------------------------------------------------------------


def test_ean13_reads_as_its_gtin14() -> None:
    result = scanned("4006381333931")
    assert result.source == "gtin"
    assert result.symbology == "EAN-13"
    assert result.gtin == "04006381333931"
    assert result.lookup_keys == ("04006381333931",)
    assert result.raw == "4006381333931"
    assert (result.price, result.weight, result.count, result.layout) == (None,) * 4


def test_upc_a_ean13_and_gtin14_forms_give_one_key() -> None:
    forms = ["036000291452", "0036000291452", "00036000291452"]
    keys = {scanned(form).lookup_keys for form in forms}
    assert keys == {("00036000291452",)}
    assert scanned("036000291452").symbology == "UPC-A"
    assert scanned("0036000291452").symbology == "EAN-13"


def test_ean8_reads_as_its_gtin14() -> None:
    code = "9501234" + gs1_check_digit("9501234")
    assert code == "95012346"
    result = scanned(code)
    assert result.symbology == "EAN-8"
    assert result.lookup_keys == ("00000095012346",)


def test_upc_e_is_expanded_to_its_upc_a() -> None:
    result = scanned("04252614")
    assert result.symbology == "UPC-E"
    assert result.lookup_keys == ("00042100005264",)
    assert scanned("042100005264").lookup_keys == result.lookup_keys


def test_upc_e_with_aim_identifier_is_read_as_upc_e() -> None:
    result = scanned("]E004252614")
    assert result.symbology == "UPC-E"
    assert result.lookup_keys == ("00042100005264",)


def test_ean8_sent_with_the_ean13_identifier_is_still_read() -> None:
    # ]E0 names UPC-E for 8 digits, but UPC-E cannot start with 9: read it as EAN-8.
    assert scanned("]E095012346").lookup_keys == ("00000095012346",)
    assert misread("]E095012347").reason == "check digit is 7, expected 6 — rescan"


def test_aim_identifier_before_ean13() -> None:
    result = scanned("]E04006381333931")
    assert result.symbology == "EAN-13"
    assert result.lookup_keys == ("04006381333931",)
    assert result.raw == "]E04006381333931"


def test_scanner_suffix_is_ignored_but_raw_is_kept() -> None:
    result = scanned("4006381333931\r\n")
    assert result.raw == "4006381333931\r\n"
    assert result.lookup_keys == ("04006381333931",)


def test_bad_ean13_check_digit_is_a_misread_naming_the_expected_digit() -> None:
    result = misread("4006381333932")
    assert result.kind == "check_digit"
    assert result.reason == "check digit is 2, expected 1 — rescan"


def test_bad_upc_a_check_digit() -> None:
    result = misread("036000291453")
    assert result.kind == "check_digit"
    assert "expected 2" in result.reason


def test_bad_eight_digit_check_digit_names_both_readings() -> None:
    # 0425261 + 5: EAN-8 wants 0, UPC-E (expanded to 04210000526) wants 4.
    assert gs1_check_digit("0425261") == "0"
    assert gs1_check_digit("04210000526") == "4"
    result = misread("04252615")
    assert result.kind == "check_digit"
    assert result.reason == "check digit is 5, expected 0 or 4 — rescan"


def test_bad_ean8_check_digit_outside_upc_e_number_systems() -> None:
    result = misread("95012347")
    assert result.reason == "check digit is 7, expected 6 — rescan"


def test_prefix_2_without_layout_or_region_is_a_plain_gtin() -> None:
    result = scanned("2110001005008")
    assert result.source == "gtin"
    assert result.lookup_keys == ("02110001005008",)
    assert result.price is None


# --- catalog keys -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "key"),
    [
        ("036000291452", "00036000291452"),
        ("0036000291452", "00036000291452"),
        ("00036000291452", "00036000291452"),
        ("04252614", "00042100005264"),
        ("95012346", "00000095012346"),
        (" 4006381333931 ", "04006381333931"),
        ("4006381333932", "4006381333932"),  # bad check digit: not a GTIN, kept as text
        ("ABC-123", "ABC-123"),
        ("  DELI 7 ", "DELI 7"),
        ("12345", "12345"),
    ],
)
def test_lookup_key_for_code(code: str, key: str) -> None:
    assert lookup_key_for_code(code) == key


def test_scan_and_catalog_agree_on_keys() -> None:
    for code in ["036000291452", "04252614", "95012346", "4006381333931"]:
        assert scanned(code).lookup_keys == (lookup_key_for_code(code),)
    assert scanned("ABC-123").lookup_keys == (lookup_key_for_code("ABC-123"),)


@pytest.mark.parametrize(
    ("plu", "key"), [("123", "PLU:123"), ("00123", "PLU:123"), ("0", "PLU:0"), ("000", "PLU:0")]
)
def test_plu_key(plu: str, key: str) -> None:
    assert plu_key(plu) == key


@pytest.mark.parametrize("plu", ["", "12a", "1.5", "²", "١٢٣"])
def test_plu_key_refuses_non_numbers(plu: str) -> None:
    with pytest.raises(InvalidPluError) as caught:
        plu_key(plu)
    assert isinstance(caught.value, StoregateError)
    assert caught.value.fix is not None


# --- PLUs and internal codes --------------------------------------------------------------


@pytest.mark.parametrize("typed", ["PLU123", "plu:123", "PLU 00123", "Plu#123", "plu: 123"])
def test_typed_plu(typed: str) -> None:
    result = scanned(typed)
    assert result.source == "plu"
    assert result.lookup_keys == ("PLU:123",)


@pytest.mark.parametrize("digits", ["7", "123", "00123", "999999"])
def test_short_digit_codes_are_plus(digits: str) -> None:
    result = scanned(digits)
    assert result.source == "plu"
    assert result.lookup_keys == (plu_key(digits),)


@pytest.mark.parametrize("typed", ["PLU", "plu:", "PLU:12a", "plu # x"])
def test_plu_without_a_number_is_malformed(typed: str) -> None:
    result = misread(typed)
    assert result.kind == "malformed"
    assert "PLU123" in result.reason


@pytest.mark.parametrize("text", ["ABC-123", "PLUMBING-1", "DELI 7", "1234567", "x"])
def test_other_text_is_an_internal_code(text: str) -> None:
    result = scanned(text)
    assert result.source == "internal"
    assert result.lookup_keys == (text,)


def test_code128_with_aim_identifier() -> None:
    result = scanned("]C0ABC-123")
    assert result.source == "internal"
    assert result.symbology == "Code 128"
    assert result.lookup_keys == ("ABC-123",)


# --- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["", "   ", "\r\n", "\t"])
def test_empty_scan(raw: str) -> None:
    assert misread(raw).kind == "empty"


def test_identifier_without_data_is_empty() -> None:
    assert misread("]E0").kind == "empty"


def test_too_long_scan() -> None:
    result = misread("1" * 201)
    assert result.kind == "too_long"
    assert "201" in result.reason
    assert isinstance(parse_scan("1" * 200, PLAIN), ScannedCode)


@pytest.mark.parametrize("raw", ["40063\x0781333931", "AB\x00C", "AB\x1bC", "12\u200b34", "\ud800"])
def test_control_characters_are_malformed(raw: str) -> None:
    result = misread(raw)
    assert result.kind == "malformed"
    assert "U+" in result.reason


@pytest.mark.parametrize("raw", ["]", "]]", "]9", "]!abc"])
def test_broken_symbology_identifier_is_malformed(raw: str) -> None:
    assert misread(raw).kind == "malformed"


# --- GS1 element strings ------------------------------------------------------------------

GTIN = "07032069804988"


def test_gs1_128_with_identifier_and_separators() -> None:
    raw = f"]C101{GTIN}10ABC-7{GS}17291231{GS}3103001250{GS}3922599"
    result = scanned(raw)
    assert result.source == "gs1"
    assert result.symbology == "GS1-128"
    assert result.gtin == GTIN
    assert result.lookup_keys == (GTIN,)
    assert result.batch == "ABC-7"
    assert result.expiry == date(2029, 12, 31)
    assert result.weight == Decimal("1.250")
    assert result.price == Decimal("5.99")


def test_gs1_weight_example_from_the_reference() -> None:
    assert scanned(f"]C101{GTIN}3103001250").weight == Decimal("1.250")


def test_gs1_datamatrix_and_qr_identifiers() -> None:
    assert scanned(f"]d201{GTIN}17250600").symbology == "GS1 DataMatrix"
    assert scanned(f"]Q301{GTIN}").symbology == "GS1 QR Code"


def test_expiry_day_00_is_the_last_day_of_the_month() -> None:
    assert scanned(f"]d201{GTIN}17240200").expiry == date(2024, 2, 29)


def test_past_expiry_is_still_returned() -> None:
    assert scanned(f"]d201{GTIN}17200131").expiry == date(2020, 1, 31)


def test_gs1_without_identifier_with_a_separator() -> None:
    result = scanned(f"01{GTIN}10L1{GS}3922125")
    assert result.source == "gs1"
    assert result.symbology is None
    assert result.batch == "L1"
    assert result.price == Decimal("1.25")


def test_gs1_leading_fnc1_is_ignored() -> None:
    assert scanned(f"{GS}01{GTIN}{GS}10L1").batch == "L1"


def test_gs1_fixed_length_fields_without_identifier() -> None:
    result = scanned(f"01{GTIN}3103001250")
    assert result.source == "gs1"
    assert result.weight == Decimal("1.250")


def test_gs1_human_readable_form() -> None:
    result = scanned(f"(01){GTIN}(10)ABC(17)291231(3103)001250(3922)599")
    assert result.source == "gs1"
    assert (result.batch, result.expiry) == ("ABC", date(2029, 12, 31))
    assert (result.weight, result.price) == (Decimal("1.250"), Decimal("5.99"))


def test_gs1_count() -> None:
    assert scanned(f"]C101{GTIN}3012{GS}").count == 12


def test_gs1_bad_gtin_check_digit() -> None:
    result = misread(f"]C10107032069804989{GS}10A")
    assert result.kind == "check_digit"
    assert result.reason == "check digit is 9, expected 8 — rescan"


def test_gs1_without_gtin_is_malformed() -> None:
    result = misread("]C110ABC")
    assert result.kind == "malformed"
    assert "AI 01" in result.reason


@pytest.mark.parametrize(
    "raw",
    [
        f"]C101{GTIN}17291332",  # month 13
        "]C199",
        f"]C101{GTIN[:-2]}",
        "(01)123",
        "(9999)1",
        f"AB{GS}CD",
    ],
)
def test_unreadable_gs1_is_malformed(raw: str) -> None:
    result = misread(raw)
    assert result.kind == "malformed"
    assert result.reason.startswith("GS1 code")


# --- the store's label layouts ------------------------------------------------------------


def test_chinese_13_digit_amount_label_from_the_reference() -> None:
    result = scanned("2110001005008", STORE)
    assert result.source == "label"
    assert result.layout == "Chinese 13-digit amount"
    assert result.lookup_keys == ("PLU:10001",)
    assert result.price == Decimal("5.00")
    assert result.weight is None
    assert result.symbology == "EAN-13"


def test_weight_label() -> None:
    code = "2301234" + "01250"
    code += gs1_check_digit(code)
    result = scanned(code, STORE)
    assert result.layout == "produce weight label"
    assert result.lookup_keys == ("PLU:1234",)
    assert result.weight == Decimal("1.250")
    assert result.price is None


def test_chinese_18_digit_price_and_weight_label() -> None:
    payload = "26" + "10001" + "01234" + "00456"
    code = payload + gs1_check_digit(payload)
    result = scanned(code, STORE)
    assert result.layout == "Chinese 18-digit scale label"
    assert result.lookup_keys == ("PLU:10001",)
    assert result.price == Decimal("12.34")
    assert result.weight == Decimal("0.456")
    assert result.symbology is None


def test_18_digit_label_with_bad_check_digit() -> None:
    payload = "26" + "10001" + "01234" + "00456"
    good = gs1_check_digit(payload)
    bad = str((int(good) + 1) % 10)
    result = misread(payload + bad, STORE)
    assert result.kind == "check_digit"
    assert result.reason == f"check digit is {bad}, expected {good} — rescan"


def test_13_digit_label_with_bad_check_digit() -> None:
    result = misread("2110001005009", STORE)
    assert result.kind == "check_digit"
    assert "expected 8" in result.reason


def test_layouts_are_tried_in_the_order_given() -> None:
    first = LabelLayout(name="first", pattern="2IIIIIIPPPPPC")
    second = LabelLayout(name="second", pattern="21IIIIIPPPPPC")
    assert scanned("2110001005008", BarcodeSettings(label_layouts=[first, second])).layout == (
        "first"
    )
    assert scanned("2110001005008", BarcodeSettings(label_layouts=[second, first])).layout == (
        "second"
    )


def test_weight_printed_in_grams_is_returned_in_kg() -> None:
    grams = LabelLayout(name="grams", pattern="24IIIIIWWWWWC", weight_decimals=0, weight_unit="g")
    code = "2400042" + "00750"
    code += gs1_check_digit(code)
    result = scanned(code, BarcodeSettings(label_layouts=[grams]))
    assert result.weight == Decimal("0.750")
    assert result.lookup_keys == ("PLU:42",)


def test_count_label() -> None:
    layout = LabelLayout(name="count", pattern="25IIIIIQQQQQC")
    code = "2500042" + "00006"
    code += gs1_check_digit(code)
    result = scanned(code, BarcodeSettings(label_layouts=[layout]))
    assert result.count == 6


def test_price_with_other_decimals() -> None:
    layout = LabelLayout(name="yen", pattern="22IIIIIPPPPPC", price_decimals=0)
    code = "2200042" + "01980"
    code += gs1_check_digit(code)
    assert scanned(code, BarcodeSettings(label_layouts=[layout])).price == Decimal("1980")


def test_upc_a_label_with_number_system_2() -> None:
    layout = LabelLayout(name="us deli", pattern="2IIIIIPPPPPC")
    code = "212345" + "00599"
    code += gs1_check_digit(code)
    result = scanned(code, BarcodeSettings(label_layouts=[layout]))
    assert (result.lookup_keys, result.price, result.symbology) == (
        ("PLU:12345",),
        Decimal("5.99"),
        "UPC-A",
    )


VERIFIED = LabelLayout(name="price with verifier", pattern="28IIIIVPPPPPC")


def test_price_verifier_digit_from_the_reference() -> None:
    # 5-digit verifier of 14685 is 6 (reference §3.2, GS1 Gen. Specs §7.9.4).
    payload = "281234" + "6" + "14685"
    code = payload + gs1_check_digit(payload)
    result = scanned(code, BarcodeSettings(label_layouts=[VERIFIED]))
    assert result.price == Decimal("146.85")
    assert result.lookup_keys == ("PLU:1234",)


def test_wrong_price_verifier_is_a_misread() -> None:
    payload = "281234" + "5" + "14685"
    code = payload + gs1_check_digit(payload)
    result = misread(code, BarcodeSettings(label_layouts=[VERIFIED]))
    assert result.kind == "verifier"
    assert result.reason.startswith("price check digit is 5, expected 6")


def test_verifier_is_not_checked_when_switched_off() -> None:
    payload = "281234" + "5" + "14685"
    code = payload + gs1_check_digit(payload)
    settings = BarcodeSettings(label_layouts=[VERIFIED], verify_price_digit=False)
    assert scanned(code, settings).price == Decimal("146.85")


def test_four_digit_verifier() -> None:
    layout = LabelLayout(name="uk", pattern="20IIIIIVPPPPC")
    payload = "2011122" + "9" + "1234"  # verifier of 1234 is 9 (reference §3.2)
    code = payload + gs1_check_digit(payload)
    assert code == "2011122912346"
    result = scanned(code, BarcodeSettings(label_layouts=[layout]))
    assert (result.price, result.lookup_keys) == (Decimal("12.34"), ("PLU:11122",))


# --- GS1 regional rules through biip ------------------------------------------------------


def test_uk_price_label() -> None:
    result = scanned("2011122912346", BarcodeSettings(rcn_region="GB"))
    assert result.source == "label"
    assert result.price == Decimal("12.34")
    assert result.lookup_keys[1] == "PLU:11122"
    zeroed = "201112200000"
    assert result.lookup_keys[0] == "0" + zeroed + gs1_check_digit(zeroed)
    assert result.layout == "GS1 GB variable measure"


def test_swedish_weight_label() -> None:
    result = scanned("2302148012500", BarcodeSettings(rcn_region="SE"))
    assert result.weight == Decimal("1.250")
    assert result.lookup_keys[1] == "PLU:21480"


def test_german_weight_label() -> None:
    result = scanned("2812347012503", BarcodeSettings(rcn_region="de"))
    assert result.weight == Decimal("1.250")
    assert result.lookup_keys == ("02812340000002", "PLU:1234")
    assert result.gtin == "02812340000002"


def test_german_label_with_wrong_verifier() -> None:
    payload = "281234" + "8" + "01250"
    code = payload + gs1_check_digit(payload)
    result = misread(code, BarcodeSettings(rcn_region="DE"))
    assert result.kind == "verifier"
    assert result.reason.startswith(f"the price/weight check digit of label {code} does not")
    off = BarcodeSettings(rcn_region="DE", verify_price_digit=False)
    assert scanned(code, off).weight == Decimal("1.250")


def test_configured_layout_wins_over_region() -> None:
    layout = LabelLayout(name="own", pattern="28IIIIIWWWWWC")
    settings = BarcodeSettings(rcn_region="DE", label_layouts=[layout])
    result = scanned("2812347012503", settings)
    assert result.layout == "own"
    assert result.lookup_keys == ("PLU:12347",)


def test_region_prefix_without_rules_is_a_plain_gtin() -> None:
    # Sweden has no rule for prefix 26.
    payload = "260012345678"
    code = payload + gs1_check_digit(payload)
    result = scanned(code, BarcodeSettings(rcn_region="SE"))
    assert result.source == "gtin"
    assert result.lookup_keys == ("0" + code,)


# --- add-ons and GS1 Digital Link ---------------------------------------------------------


@pytest.mark.parametrize("add_on", ["12", "52495"])
def test_ean13_with_add_on_is_looked_up_without_it(add_on: str) -> None:
    result = scanned("]E3" + "4006381333931" + add_on)
    assert result.lookup_keys == ("04006381333931",)
    assert result.symbology == "EAN-13"


def test_upc_e_with_add_on() -> None:
    assert scanned("]E3" + "04252614" + "12").lookup_keys == ("00042100005264",)


def test_add_on_with_a_bad_main_check_digit_is_a_misread() -> None:
    result = misread("]E3" + "4006381333932" + "12")
    assert result.reason == "check digit is 2, expected 1 — rescan"


def test_gs1_digital_link() -> None:
    raw = f"]Q1https://id.gs1.org/01/{GTIN}/10/ABC?17=291231&3103=001250"
    result = scanned(raw)
    assert result.source == "gs1"
    assert result.symbology == "QR Code"
    assert result.lookup_keys == (GTIN,)
    assert (result.batch, result.expiry, result.weight) == (
        "ABC",
        date(2029, 12, 31),
        Decimal("1.250"),
    )


def test_gs1_digital_link_with_bad_check_digit() -> None:
    result = misread("https://id.gs1.org/01/07032069804989")
    assert result.kind == "check_digit"


def test_other_web_address_is_an_internal_code() -> None:
    result = scanned("https://shop.example/promo/autumn")
    assert result.source == "internal"
    assert result.lookup_keys == ("https://shop.example/promo/autumn",)


def test_brackets_without_an_ai_are_an_internal_code() -> None:
    assert scanned("(A)12").source == "internal"


def test_gs1_error_reason_starts_with_what_the_cashier_does() -> None:
    reason = misread(f"]C101{GTIN}17291332").reason
    assert reason.startswith("GS1 code could not be read — rescan (")


# --- the documentation's examples ---------------------------------------------------------

DOCS = Path(__file__).resolve().parent.parent / "docs" / "barcodes.md"
DOC_LAYOUT_ROW = re.compile(
    r"\| `(?P<pattern>\d+[IPWQVC]+)` \| `(?P<code>\d+)` → `(?P<key>PLU:\d+)`"
)


def test_every_layout_example_in_the_docs_reads_as_documented() -> None:
    rows = [m for line in DOCS.read_text().splitlines() if (m := DOC_LAYOUT_ROW.search(line))]
    assert len(rows) >= 8
    for row in rows:
        layout = LabelLayout(name="doc", pattern=row["pattern"])
        result = scanned(row["code"], BarcodeSettings(label_layouts=[layout]))
        assert result.layout == "doc"
        assert result.lookup_keys == (row["key"],)


def test_upc_a_label_sent_as_13_digits() -> None:
    layout = LabelLayout(name="us deli, 13 digits", pattern="02IIIIIPPPPPC")
    result = scanned("0212345005996", BarcodeSettings(label_layouts=[layout]))
    assert (result.lookup_keys, result.price) == (("PLU:12345",), Decimal("5.99"))


def test_18_digit_label_as_code_128_with_identifier() -> None:
    result = scanned("]C0261000101234004569", STORE)
    assert result.symbology == "Code 128"
    assert result.layout == "Chinese 18-digit scale label"
    assert (result.price, result.weight) == (Decimal("12.34"), Decimal("0.456"))
