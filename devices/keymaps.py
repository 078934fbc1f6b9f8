"""Keyboard layouts as data: which character each evdev key code gives, per level.

Owns loading `profiles/keyboard-<layout>.json` into a `Keymap` and the inverse mapping the
simulators use to "type" text. Pure: reads only the package's own data files; no devices.

A wedge scanner translates every character into key presses *for the keyboard country it
is programmed for* (device-protocols.md §2.1 [DATALOGIC-WEDGE]); reading those key codes
back with another layout is the most common field fault (Odoo issue #214407: an RFID badge
`0013748911` read as `àà&"è'!ç&&`). So the layout is a setting, never a guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from evdev import ecodes

from devices.errors import ProfileError
from devices.profile_files import profile_location, profile_names, read_profile

PLAIN, SHIFT, ALTGR = 0, 1, 2

# Keypad keys give the same character in every layout (NumLock assumed on: scanners that
# "type" on the keypad do so for digits, and for Alt+numpad codes).
KEYPAD: dict[int, str] = {
    ecodes.KEY_KP0: "0",
    ecodes.KEY_KP1: "1",
    ecodes.KEY_KP2: "2",
    ecodes.KEY_KP3: "3",
    ecodes.KEY_KP4: "4",
    ecodes.KEY_KP5: "5",
    ecodes.KEY_KP6: "6",
    ecodes.KEY_KP7: "7",
    ecodes.KEY_KP8: "8",
    ecodes.KEY_KP9: "9",
    ecodes.KEY_KPDOT: ".",
    ecodes.KEY_KPPLUS: "+",
    ecodes.KEY_KPMINUS: "-",
    ecodes.KEY_KPASTERISK: "*",
    ecodes.KEY_KPSLASH: "/",
}


@dataclass(frozen=True)
class Keymap:
    """Characters per key code and level (plain, shift, AltGr); dead keys per level."""

    layout: str
    title: str
    levels: dict[int, tuple[str, ...]]
    dead: frozenset[tuple[int, int]]

    def char(self, code: int, level: int) -> str | None:
        chars = self.levels.get(code)
        if chars is None or level >= len(chars):
            return None
        return chars[level]

    def is_alphabetic(self, code: int) -> bool:
        """CapsLock only flips keys whose shifted character is the upper-case plain one."""
        chars = self.levels.get(code)
        return bool(
            chars
            and len(chars) > 1
            and chars[0].isalpha()
            and chars[1] == chars[0].upper()
            and chars[0] != chars[1]
        )

    def strokes(self) -> dict[str, tuple[int, int]]:
        """Inverse map character -> (key code, level), first (lowest) level wins.

        Used by the simulators to type text the way a scanner programmed for this layout
        would; dead keys are excluded (a scanner types them as dead key + space, which
        `type_text` does itself).
        """
        out: dict[str, tuple[int, int]] = {}
        for level in (PLAIN, SHIFT, ALTGR):
            for code, chars in sorted(self.levels.items()):
                if level < len(chars) and chars[level] not in out:
                    out[chars[level]] = (code, level)
        for char, (code, level) in list(out.items()):
            if (code, level) in self.dead:
                out[char] = (code, -1 - level)  # negative level = dead key, needs a space
        for code, char in KEYPAD.items():
            out.setdefault(char, (code, PLAIN))
        return out


def available_layouts() -> list[str]:
    return profile_names("keyboard")


@cache
def load_keymap(layout: str) -> Keymap:
    """Load and check one layout file; a bad file is a `ProfileError` naming the key."""
    data = read_profile("keyboard", layout, "keyboard layout")
    levels: dict[int, tuple[str, ...]] = {}
    for name, chars in data["keys"].items():
        code = getattr(ecodes, name, None)
        if not isinstance(code, int) or not chars or not all(len(c) == 1 for c in chars):
            raise ProfileError(
                f"bad key {name!r}",
                where=profile_location("keyboard", layout),
                fix="use evdev KEY_* names and one character per level",
            )
        levels[code] = tuple(chars)
    dead = frozenset(
        (getattr(ecodes, name), level)
        for name, lvls in data.get("dead", {}).items()
        for level in lvls
    )
    return Keymap(data["layout"], data["title"], levels, dead)
