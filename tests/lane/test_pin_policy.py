"""The PIN policy's pure rule (`gateway.lane.staff.trivial_pin`): the PINs a guesser tries
first are named with why; PINs without a pattern pass. The CLI and the daemon apply it in
tests/daemon/test_staff_commands.py."""

from __future__ import annotations

import pytest

from gateway.lane.staff import trivial_pin


@pytest.mark.parametrize(
    ("pin", "why"),
    [
        ("000000", "one digit repeated"),
        ("99999999", "one digit repeated"),
        ("123456", "run up or down"),
        ("654321", "run up or down"),
        ("890123", "run up or down"),  # wraps past 9
        ("121212", "repeats 12"),
        ("123123", "repeats 123"),
        ("12341234", "repeats 1234"),
    ],
)
def test_trivial_pins_are_named(pin: str, why: str) -> None:
    reason = trivial_pin(pin)
    assert reason is not None and why in reason


@pytest.mark.parametrize("pin", ["472951", "836104", "508273", "246810", "135790", "1212123"])
def test_pins_without_a_pattern_pass(pin: str) -> None:
    assert trivial_pin(pin) is None
