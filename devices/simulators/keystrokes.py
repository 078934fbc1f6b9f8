"""Scripted evdev key events: what a wedge scanner or card reader would send.

There is no /dev/uinput on the build machines, so tests feed these real
`evdev.InputEvent` objects to the decoders. Each key press is framed like a USB HID
keyboard's: EV_MSC/MSC_SCAN, EV_KEY, EV_SYN/SYN_REPORT (device-protocols.md §2.1
[EVDEV-TUT]). Time is explicit: events carry timestamps from `start` in steps of `gap`.
"""

from __future__ import annotations

from collections.abc import Iterable

from evdev import InputEvent, ecodes

from devices.keymaps import ALTGR, SHIFT, Keymap

TERMINATOR_KEYS = {"enter": ecodes.KEY_ENTER, "tab": ecodes.KEY_TAB, "kpenter": ecodes.KEY_KPENTER}


class KeyScript:
    """Builds a timed event list; `events` is what a device node would deliver."""

    def __init__(self, start: float = 1_000_000.0, gap: float = 0.002) -> None:
        self.now = start
        self.gap = gap
        self.events: list[InputEvent] = []

    def _emit(self, type_: int, code: int, value: int) -> None:
        sec = int(self.now)
        usec = round((self.now - sec) * 1_000_000)
        self.events.append(InputEvent(sec, usec, type_, code, value))

    def key(self, code: int, value: int, *, msc: bool = True) -> KeyScript:
        """One key event (1 press, 0 release, 2 repeat) with its MSC and SYN framing."""
        if msc:
            self._emit(ecodes.EV_MSC, ecodes.MSC_SCAN, 0x70000 + code)
        self._emit(ecodes.EV_KEY, code, value)
        self._emit(ecodes.EV_SYN, ecodes.SYN_REPORT, 0)
        self.now += self.gap
        return self

    def tap(self, code: int, *, with_code: int | None = None) -> KeyScript:
        """Press and release `code`, holding the modifier `with_code` around it."""
        if with_code is not None:
            self.key(with_code, 1)
        self.key(code, 1).key(code, 0)
        if with_code is not None:
            self.key(with_code, 0)
        return self

    def wait(self, seconds: float) -> KeyScript:
        self.now += seconds
        return self

    def syn_dropped(self) -> KeyScript:
        self._emit(ecodes.EV_SYN, ecodes.SYN_DROPPED, 0)
        return self

    def type_text(self, text: str, keymap: Keymap, terminator: str | None = "enter") -> KeyScript:
        """Type `text` as a scanner programmed for `keymap`'s country would."""
        strokes = keymap.strokes()
        for char in text:
            if char in strokes:
                code, level = strokes[char]
                self._stroke(code, level)
            elif 0 < ord(char) < 32:
                self._alt_numpad(ord(char))
            else:
                raise ValueError(f"{char!r} cannot be typed on layout {keymap.layout}")
        if terminator is not None:
            self.tap(TERMINATOR_KEYS[terminator])
        return self

    def _stroke(self, code: int, level: int) -> None:
        dead = level < 0
        level = -1 - level if dead else level
        modifier = {SHIFT: ecodes.KEY_LEFTSHIFT, ALTGR: ecodes.KEY_RIGHTALT}.get(level)
        self.tap(code, with_code=modifier)
        if dead:
            self.tap(ecodes.KEY_SPACE)

    def _alt_numpad(self, value: int) -> None:
        """Alt + keypad digits, the way scanners send GS (0x1D) as Alt+029."""
        self.key(ecodes.KEY_LEFTALT, 1)
        for digit in f"{value:03d}":
            self.tap(getattr(ecodes, f"KEY_KP{digit}"))
        self.key(ecodes.KEY_LEFTALT, 0)


def scan_events(
    texts: Iterable[str],
    keymap: Keymap,
    *,
    gap: float = 0.002,
    pause: float = 0.5,
    start: float = 1_000_000.0,
) -> list[InputEvent]:
    """Several Enter-terminated scans, `pause` seconds apart."""
    script = KeyScript(start=start, gap=gap)
    for text in texts:
        script.type_text(text, keymap).wait(pause)
    return script.events
