"""Keyboard-wedge decoding on real evdev.InputEvent sequences (no /dev/uinput here)."""

from __future__ import annotations

from devices_testkit import StepClock
from evdev import InputEvent, ecodes
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.events import DecodeFault, ScanEvent
from devices.keymaps import available_layouts, load_keymap
from devices.scanner import WedgeScanDecoder
from devices.simulators.keystrokes import KeyScript, scan_events
from devices.wedge import KeyboardWedgeDecoder, WedgeFault, WedgeLine

US, DE, FR = load_keymap("us"), load_keymap("de"), load_keymap("fr")


def decode(events, keymap=US, **kw):
    decoder = KeyboardWedgeDecoder(keymap, **kw)
    out = []
    for event in events:
        out.extend(decoder.feed(event))
    return out, decoder


def texts(out):
    return [o.text for o in out if isinstance(o, WedgeLine)]


def test_layouts_available():
    assert {"us", "de", "fr"} <= set(available_layouts())


def test_shift_sequence_from_the_reference():
    # device-protocols.md §2.1: "A1" + Enter
    s = KeyScript()
    s.key(ecodes.KEY_LEFTSHIFT, 1).key(ecodes.KEY_A, 1).key(ecodes.KEY_A, 0)
    s.key(ecodes.KEY_LEFTSHIFT, 0).key(ecodes.KEY_1, 1).key(ecodes.KEY_1, 0)
    s.key(ecodes.KEY_ENTER, 1).key(ecodes.KEY_ENTER, 0)
    out, _ = decode(s.events)
    assert out == [WedgeLine("A1", "enter")]


def test_handwritten_azerty_digits_need_shift():
    s = KeyScript()
    s.tap(ecodes.KEY_4, with_code=ecodes.KEY_LEFTSHIFT).tap(ecodes.KEY_Q).tap(ecodes.KEY_0)
    s.tap(ecodes.KEY_ENTER)
    assert texts(decode(s.events, FR)[0]) == ["4aà"]


def test_wrong_layout_reproduces_the_field_fault():
    # A reader programmed for US read with AZERTY: the Odoo #214407 symptom.
    events = KeyScript().type_text("0013748911", US).events
    assert texts(decode(events, FR)[0]) == ["àà&\"è'_ç&&"]
    assert texts(decode(events, US)[0]) == ["0013748911"]


def test_round_trip_every_printable_ascii_on_every_layout():
    text = "".join(chr(c) for c in range(0x21, 0x7F))
    for keymap in (US, DE, FR):
        typeable = "".join(c for c in text if c in keymap.strokes())
        assert len(typeable) > 80, keymap.layout
        events = KeyScript().type_text(typeable, keymap).events
        assert texts(decode(events, keymap)[0]) == [typeable], keymap.layout


def test_german_altgr_and_dead_key():
    events = KeyScript().type_text("a@b^c{}", DE).events
    assert texts(decode(events, DE)[0]) == ["a@b^c{}"]
    # y and z swap places on QWERTZ
    s = KeyScript().tap(ecodes.KEY_Y).tap(ecodes.KEY_Z).tap(ecodes.KEY_ENTER)
    assert texts(decode(s.events, DE)[0]) == ["zy"]


def test_capslock_flips_letters_only():
    s = KeyScript().tap(ecodes.KEY_CAPSLOCK).tap(ecodes.KEY_A).tap(ecodes.KEY_1)
    s.tap(ecodes.KEY_B, with_code=ecodes.KEY_LEFTSHIFT).tap(ecodes.KEY_ENTER)
    assert texts(decode(s.events)[0]) == ["A1b"]
    s = (
        KeyScript()
        .tap(ecodes.KEY_CAPSLOCK)
        .tap(ecodes.KEY_2)
        .tap(ecodes.KEY_SEMICOLON)
        .tap(ecodes.KEY_ENTER)
    )
    assert texts(decode(s.events, FR)[0]) == ["éM"]


def test_interleaved_key_repeats_are_ignored():
    s = KeyScript()
    s.key(ecodes.KEY_1, 1).key(ecodes.KEY_1, 2).key(ecodes.KEY_1, 2).key(ecodes.KEY_2, 1)
    s.key(ecodes.KEY_1, 0).key(ecodes.KEY_2, 2).key(ecodes.KEY_2, 0).tap(ecodes.KEY_ENTER)
    assert texts(decode(s.events)[0]) == ["12"]


def test_lost_key_up_of_shift_does_not_leak_into_next_scan():
    s = KeyScript()
    s.key(ecodes.KEY_LEFTSHIFT, 1).tap(ecodes.KEY_A).tap(ecodes.KEY_ENTER)  # shift-up lost
    s.wait(0.5).tap(ecodes.KEY_1).tap(ecodes.KEY_B).tap(ecodes.KEY_ENTER)
    assert texts(decode(s.events)[0]) == ["A", "1b"]


def test_lost_key_up_of_ordinary_key_still_types_next_press():
    s = KeyScript()
    s.key(ecodes.KEY_5, 1).key(ecodes.KEY_5, 1).key(ecodes.KEY_5, 0).tap(ecodes.KEY_ENTER)
    assert texts(decode(s.events)[0]) == ["55"]


def test_tab_and_kpenter_and_timeout_terminators():
    s = KeyScript().type_text("123", US, terminator="tab")
    assert texts(decode(s.events, terminator="tab")[0]) == ["123"]
    s = KeyScript().type_text("123", US, terminator="kpenter")
    assert texts(decode(s.events)[0]) == ["123"]
    s = (
        KeyScript()
        .type_text("123", US, terminator=None)
        .wait(0.3)
        .type_text("45", US, terminator=None)
    )
    out, decoder = decode(s.events, terminator="timeout", inter_key_timeout=0.05)
    assert texts(out) == ["123"]
    assert decoder.expire(s.now + 1.0) == [WedgeLine("45", "timeout")]
    assert decoder.expire(s.now + 2.0) == []


def test_partial_scan_is_dropped_not_glued_to_the_next():
    s = KeyScript().type_text("999", US, terminator=None).wait(1.0).type_text("4006381333931", US)
    out, _ = decode(s.events, inter_key_timeout=0.1)
    assert isinstance(out[0], WedgeFault) and out[0].reason == "partial line dropped"
    assert "999" not in out[0].detail
    assert texts(out) == ["4006381333931"]


def test_ten_thousand_characters_without_terminator():
    s = KeyScript(gap=0.0001).type_text("7" * 10_000, US, terminator=None)
    s.tap(ecodes.KEY_ENTER).type_text("42", US)
    out, _ = decode(s.events, max_length=4096)
    faults = [o for o in out if isinstance(o, WedgeFault)]
    assert len(faults) == 1 and faults[0].reason == "line too long"
    assert texts(out) == ["42"]


def test_syn_dropped_discards_partial_line():
    s = KeyScript().type_text("12", US, terminator=None).syn_dropped().type_text("34", US)
    out, _ = decode(s.events)
    assert isinstance(out[0], WedgeFault) and "SYN_DROPPED" in out[0].detail
    assert texts(out) == ["34"]


def test_gs_separator_by_alt_numpad_and_ctrl():
    s = KeyScript().type_text("0104006381333931\x1d10ABC", US)
    assert texts(decode(s.events)[0]) == ["0104006381333931\x1d10ABC"]
    s = KeyScript().tap(ecodes.KEY_1).tap(ecodes.KEY_RIGHTBRACE, with_code=ecodes.KEY_LEFTCTRL)
    s.tap(ecodes.KEY_2).tap(ecodes.KEY_ENTER)
    assert texts(decode(s.events)[0]) == ["1\x1d2"]


def test_wedge_scanner_reports_aim_symbology():
    clock = StepClock()
    decoder = WedgeScanDecoder("front", clock, US)
    out = []
    for event in scan_events(["]E04006381333931", "]C1010400638133393110ABC", "plain"], US):
        out.extend(decoder.feed(event))
    assert [(e.text, e.aim_id, e.symbology) for e in out if isinstance(e, ScanEvent)] == [
        ("4006381333931", "]E0", "EAN-13/UPC"),
        ("010400638133393110ABC", "]C1", "GS1-128"),
        ("plain", None, None),
    ]
    assert out[0].at < out[1].at


def test_non_key_events_are_ignored():
    events = [
        InputEvent(1, 0, ecodes.EV_REL, ecodes.REL_X, 5),
        InputEvent(1, 0, ecodes.EV_LED, ecodes.LED_CAPSL, 1),
    ]
    assert decode(events)[0] == []


key_events = st.builds(
    lambda sec, typ, code, value: InputEvent(sec, 0, typ, code, value),
    st.integers(0, 10_000),
    st.sampled_from([ecodes.EV_KEY, ecodes.EV_KEY, ecodes.EV_SYN, ecodes.EV_MSC]),
    st.integers(0, 300),
    st.integers(-1, 3),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(key_events, max_size=200),
    st.sampled_from(["us", "de", "fr"]),
    st.sampled_from(["enter", "tab", "timeout"]),
)
def test_fuzz_wedge_never_raises(events, layout, terminator):
    decoder = WedgeScanDecoder(
        "fuzz", StepClock(), load_keymap(layout), terminator=terminator, max_length=64
    )
    for event in events:
        for out in decoder.feed(event):
            assert isinstance(out, ScanEvent | DecodeFault)
    decoder.expire(20_000.0)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["us", "de", "fr"]), st.data())
def test_property_typed_text_decodes_back_on_the_same_layout(layout, data):
    keymap = load_keymap(layout)
    alphabet = sorted(c for c in keymap.strokes() if c.isprintable() and c != " ")
    text = data.draw(st.text(alphabet=alphabet, min_size=1, max_size=40))
    events = KeyScript().type_text(text, keymap).events
    assert texts(decode(events, keymap)[0]) == [text]


@settings(max_examples=200, deadline=None)
@given(st.lists(key_events, max_size=200))
def test_fuzz_card_reader_wedge_never_raises(events):
    from devices.cards import CardLineDecoder, WedgeCardDecoder
    from devices.events import CardEvent

    decoder = WedgeCardDecoder(CardLineDecoder("fuzz", StepClock()), US, max_length=64)
    for event in events:
        for out in decoder.feed(event):
            assert isinstance(out, CardEvent | DecodeFault)
    decoder.reset()
