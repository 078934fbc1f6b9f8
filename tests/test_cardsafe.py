"""The box's one card-data rule (gateway/cardsafe.py): what is a PAN or a track, and what
is left of it once masked. Pure: strings in, strings out."""

from __future__ import annotations

import pytest

from gateway.cardsafe import (
    has_card_data,
    has_track_data,
    luhn_valid,
    mask_card_data,
    mask_card_number,
    mask_pan,
)

PAN = "4000056655665556"
AMEX = "378282246310005"  # 15 digits, grouped 4-6-5 on the card
TRACK1 = f"%B{PAN}^HOLDER/PAT^2812101987654321?"
TRACK2 = f";{PAN}=2812101987654321?"


def digits_left(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


@pytest.mark.parametrize(
    "typed",
    [
        PAN,
        "4000 0566 5566 5556",
        "4000-0566-5566-5556",
        "4000  0566 - 5566.5556",
        "card 4000056655665556 declined",
        "3782 822463 10005",
        "12 4000 0566 5566 5556 99",  # digits either side, separated
    ],
)
def test_a_pan_in_any_spacing_keeps_only_its_first_six_and_last_four(typed: str) -> None:
    assert has_card_data(typed)
    masked = mask_card_data(typed)
    assert PAN not in digits_left(masked) and AMEX not in digits_left(masked)
    assert not has_card_data(masked)
    assert mask_card_data(masked) == masked  # masking twice is masking once
    assert "*" in masked


@pytest.mark.parametrize("track", [TRACK1, TRACK2, TRACK1 + TRACK2, TRACK1[:-1], TRACK2[1:-1]])
def test_a_track_is_replaced_by_its_masked_pan_alone(track: str) -> None:
    assert has_track_data(track)
    masked = mask_card_data(f"swiped {track} here")
    assert masked.startswith("swiped 400005******5556") and masked.endswith(" here")
    assert "HOLDER" not in masked and "2812101987654321" not in masked


@pytest.mark.parametrize(
    "text",
    [
        "7612345001012",  # an EAN-13 whose check digit is not a Luhn one
        "4000056655665557",  # one digit off: not Luhn-valid
        "box-1-000001",
        "AUTH0042",
        "400005******5556",  # already masked
        "010761234500101217261231",  # a GS1 element string: one run, > 19 digits
        "2026-11-24 12.50",
        "0000000000000",  # Luhn-valid, but no issuer's number starts with 0
        "",
    ],
)
def test_text_without_card_data_is_left_as_it_is(text: str) -> None:
    assert not has_card_data(text)
    assert mask_card_data(text) == text


def test_the_luhn_check_and_the_mask_of_a_bare_number() -> None:
    assert luhn_valid(PAN) and luhn_valid("79927398713")
    assert not luhn_valid("4111111111111112") and not luhn_valid("") and not luhn_valid("12a4")
    assert mask_pan(PAN) == "400005******5556"
    assert mask_pan("1234567") == "***4567"  # too short for a PAN: the last four only


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        (PAN, "400005******5556"),
        ("4000 0566 5566 5556", "400005******5556"),
        ("4000 05** **** 5556", "400005******5556"),  # as masked in place at the boundary
        ("411111******1111", "411111******1111"),  # the card reader's own mask
        ("1111", "**1111"),  # at least two digits hidden
        ("", None),
        (None, None),
    ],
)
def test_a_card_field_keeps_at_most_six_and_four(given: str | None, kept: str | None) -> None:
    assert mask_card_number(given) == kept
