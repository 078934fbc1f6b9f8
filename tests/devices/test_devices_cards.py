"""Card readers: magstripe tracks (payment cards masked, never leaked), RFID UIDs in every
reader format, through real evdev.InputEvent sequences."""

from __future__ import annotations

import re

from devices_testkit import StepClock
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.cards import CardLineDecoder, WedgeCardDecoder, luhn_valid, mask_pan
from devices.events import CardEvent, CardKind, DecodeFault, describe
from devices.keymaps import load_keymap
from devices.simulators.keystrokes import scan_events

PAN = "4111111111111111"  # the standard test PAN
TRACKS = f"%B{PAN}^SMITH/JOHN^2512101000000000?;{PAN}=25121011234500000000?"


def lines(**kw):
    return CardLineDecoder("till-1", StepClock(), **kw)


def test_luhn():
    assert luhn_valid(PAN) and luhn_valid("79927398713")
    assert not luhn_valid("4111111111111112") and not luhn_valid("") and not luhn_valid("12a4")


def test_mask_keeps_first_six_last_four():
    assert mask_pan(PAN) == "411111******1111"


def test_payment_swipe_is_masked_and_track_data_never_leaves():
    us = load_keymap("us")
    decoder = WedgeCardDecoder(lines(), us)
    out = []
    for event in scan_events([TRACKS], us):
        out.extend(decoder.feed(event))
    assert len(out) == 1
    card = out[0]
    assert isinstance(card, CardEvent)
    assert card.kind is CardKind.PAYMENT and card.card_id is None
    assert card.masked == "411111******1111"
    shown = repr(card) + describe(card)
    for secret in (PAN, "SMITH", "2512", "12345", "101"):
        assert secret not in shown
    assert not decoder.keys.pending  # buffer wiped


def test_track2_only_payment_card():
    card = lines().line(f";{PAN}=2512101?")
    assert card.kind is CardKind.PAYMENT and card.masked.endswith("1111")


def test_loyalty_magstripe_gets_an_id_and_prefix_kind():
    decoder = lines(member_prefixes=("9900",), staff_prefixes=("77",))
    member = decoder.line(";990012345678?")
    assert (member.kind, member.card_id, member.masked) == (CardKind.MEMBER, "990012345678", None)
    assert decoder.line(";7712?").kind is CardKind.STAFF
    assert decoder.line(";5512?").kind is CardKind.UNKNOWN
    # format code A (not a bank card) with a Luhn-valid number is not a payment card
    assert decoder.line(f"%A{PAN}^CLUB/MEMBER^?").kind is CardKind.UNKNOWN


def test_non_luhn_bank_format_is_not_payment():
    card = lines().line(";4111111111111112=2512?")
    assert card.kind is CardKind.UNKNOWN and card.card_id == "4111111111111112"


def test_unreadable_swipe():
    fault = lines().line("%E?;E?")
    assert isinstance(fault, DecodeFault) and fault.reason == "unreadable card"


def test_rfid_uid_formats_normalise_to_one_id():
    # device-protocols.md §4.4: UID 1c78f2bf
    assert lines(rfid_byte_order="lsb_first").line("3220338716").card_id == "1C78F2BF"
    assert lines().line("0477688511").card_id == "1C78F2BF"
    assert lines(rfid_format="hex").line("1c78f2bf").card_id == "1C78F2BF"
    assert (
        lines(rfid_format="hex", rfid_byte_order="lsb_first").line("BFF2781C").card_id == "1C78F2BF"
    )
    assert lines(rfid_format="hex").line("04:A2:2B:1A:5C:59:80").card_id == "04A22B1A5C5980"
    assert lines().line("0477688511").source == "rfid"


def test_rfid_read_with_the_wrong_layout_is_a_fault_that_names_the_layout():
    us, fr = load_keymap("us"), load_keymap("fr")
    decoder = WedgeCardDecoder(lines(), fr)  # reader programmed for US, box set to AZERTY
    out = []
    for event in scan_events(["0013748911"], us):
        out.extend(decoder.feed(event))
    assert isinstance(out[0], DecodeFault) and "layout" in out[0].detail


def test_too_big_decimal_uid_is_a_fault():
    assert isinstance(lines().line("99999999999999"), DecodeFault)


@settings(max_examples=400, deadline=None)
@given(
    st.text(max_size=120) | st.from_regex(r"[%;]?[A-Z]?[0-9]{10,19}[=^]?.{0,20}", fullmatch=True)
)
def test_fuzz_card_lines_never_raise_and_never_echo_payment_data(text):
    out = lines().line(text)
    assert out is None or isinstance(out, CardEvent | DecodeFault)
    if isinstance(out, DecodeFault):  # faults name lengths, never the card's digits
        for digits in re.findall(r"[0-9]{4,}", text):
            assert digits not in out.detail
    if isinstance(out, CardEvent) and out.kind is CardKind.PAYMENT:
        assert out.card_id is None and out.masked and "*" in out.masked
