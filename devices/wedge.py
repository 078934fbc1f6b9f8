"""Keyboard-wedge decoding: evdev key events in, finished lines of text out.

Owns the per-device state machine (modifiers, buffer, terminator, inter-key timeout,
length limit). Pure: it is fed `evdev.InputEvent`s (or anything with `type`, `code`,
`value` and `timestamp()`), uses the events' own timestamps, and opens no device — the
evdev adapter in `devices.inputs` owns grab/read. Scanners and card readers both sit on
top of it (`devices.scanner`, `devices.cards`).

Theory of operation (device-protocols.md §2.1):
- EV_KEY value 1 = press, 0 = release, 2 = autorepeat [KERNEL-INPUT]. Characters are made
  on *press* only; autorepeats of ordinary keys are ignored (a scanner never holds a key,
  a repeat is the kernel's doing when a key-up arrived late).
- Shift, AltGr, Ctrl and Alt are held states; CapsLock toggles on press and flips only
  alphabetic keys. A lost modifier key-up cannot be seen, so held modifiers are cleared
  at each terminator and after an inter-key gap: one scan's lost Shift-up never corrupts
  the next scan.
- SYN_DROPPED means the kernel dropped events: the partial line is discarded and reported.
- Alt + keypad digits types the character with that code (how many scanners send GS,
  0x1D, for GS1 data); Ctrl + `]` etc. give the ASCII control characters.
- A line ends at the terminator (Enter/keypad Enter, Tab) — or, with terminator
  "timeout", after `inter_key_timeout` without a key. With a key terminator, a line left
  unfinished for longer than the timeout is dropped and reported, never glued to the
  next scan (Odoo's defect, odoo-iot-box.md §1.1).
- More than `max_length` characters without a terminator: reported once, the rest of
  that line is discarded up to the next terminator.

Faults never contain the typed text: a card reader's buffer may hold track data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from evdev import ecodes

from devices.keymaps import ALTGR, KEYPAD, PLAIN, SHIFT, Keymap

Terminator = Literal["enter", "tab", "timeout"]

SHIFTS = frozenset({ecodes.KEY_LEFTSHIFT, ecodes.KEY_RIGHTSHIFT})
CTRLS = frozenset({ecodes.KEY_LEFTCTRL, ecodes.KEY_RIGHTCTRL})
ENTERS = frozenset({ecodes.KEY_ENTER, ecodes.KEY_KPENTER})


class KeyEventLike(Protocol):
    type: int
    code: int
    value: int

    def timestamp(self) -> float: ...


@dataclass(frozen=True, slots=True)
class WedgeLine:
    """A finished line; `ended_by` is "enter", "tab" or "timeout"."""

    text: str
    ended_by: str


@dataclass(frozen=True, slots=True)
class WedgeFault:
    reason: str
    detail: str


WedgeOutput = WedgeLine | WedgeFault


class KeyboardWedgeDecoder:
    """One wedge device's key events -> `WedgeLine`s and `WedgeFault`s."""

    def __init__(
        self,
        keymap: Keymap,
        *,
        terminator: Terminator = "enter",
        inter_key_timeout: float = 0.1,
        max_length: int = 4096,
    ) -> None:
        self.keymap = keymap
        self.terminator = terminator
        self.inter_key_timeout = inter_key_timeout
        self.max_length = max_length
        self._chars: list[str] = []
        self._discarding = False
        self._last_key_at: float | None = None
        self._shift = self._altgr = self._ctrl = self._alt = False
        self._caps = False
        self._alt_digits: list[str] = []
        self._dead: str | None = None

    # -- public ------------------------------------------------------------------------
    def feed(self, event: KeyEventLike) -> list[WedgeOutput]:
        """Feed one input event; returns the lines and faults it completed (often none)."""
        if event.type == ecodes.EV_SYN and event.code == ecodes.SYN_DROPPED:
            return self._drop("events lost", "kernel reported SYN_DROPPED; partial line discarded")
        if event.type != ecodes.EV_KEY:
            return []
        out = self.expire(event.timestamp())
        self._last_key_at = event.timestamp()
        out.extend(self._key(event.code, event.value))
        return out

    def expire(self, now: float) -> list[WedgeOutput]:
        """Call when time passes without events: ends or drops a line left idle too long."""
        if self._last_key_at is None or now - self._last_key_at <= self.inter_key_timeout:
            return []
        self._last_key_at = None
        self._release_modifiers()
        if self._discarding:
            self._discarding = False
            return []
        if not self._chars:
            return []
        if self.terminator == "timeout":
            return [self._finish("timeout")]
        count = len(self._chars)
        self._wipe()
        return [
            WedgeFault(
                "partial line dropped",
                f"{count} characters, then no {self.terminator} within "
                f"{self.inter_key_timeout * 1000:.0f} ms (terminator setting wrong?)",
            )
        ]

    def reset(self) -> list[WedgeOutput]:
        """The device went away: a partial line is reported and forgotten, never finished."""
        if not self.pending:
            self._release_modifiers()
            return []
        return self._drop("partial line dropped", "device went away mid-line")

    @property
    def pending(self) -> bool:
        return bool(self._chars) or self._discarding

    # -- state machine -------------------------------------------------------------------
    def _key(self, code: int, value: int) -> list[WedgeOutput]:
        if self._modifier(code, value):
            return self._alt_code() if code == ecodes.KEY_LEFTALT and value == 0 else []
        if value != 1:
            return []  # release or autorepeat of an ordinary key
        if code in ENTERS and self.terminator in ("enter", "timeout"):
            return self._end("enter")
        if code == ecodes.KEY_TAB and self.terminator in ("tab", "timeout"):
            return self._end("tab")
        if self._alt and code in KEYPAD and KEYPAD[code].isdigit():
            self._alt_digits.append(KEYPAD[code])
            return []
        char = self._character(code)
        return self._append(char) if char is not None else []

    def _modifier(self, code: int, value: int) -> bool:
        held = value != 0
        if code in SHIFTS:
            self._shift = held
        elif code == ecodes.KEY_RIGHTALT:
            self._altgr = held
        elif code in CTRLS:
            self._ctrl = held
        elif code == ecodes.KEY_LEFTALT:
            self._alt = held
        elif code == ecodes.KEY_CAPSLOCK:
            if value == 1:
                self._caps = not self._caps
        else:
            return False
        return True

    def _character(self, code: int) -> str | None:
        if code in KEYPAD:
            return KEYPAD[code]
        if code == ecodes.KEY_TAB:
            return "\t"
        if code in ENTERS:
            return "\r"
        if self._altgr:
            level = ALTGR
        else:
            upper = self._shift != (self._caps and self.keymap.is_alphabetic(code))
            level = SHIFT if upper else PLAIN
        char = self.keymap.char(code, level)
        if char is None:
            return None
        if (code, level) in self.keymap.dead:
            self._dead = char
            return None
        if self._ctrl and char.upper() in "@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_":
            return chr(ord(char.upper()) & 0x1F)
        if self._dead is not None:
            dead, self._dead = self._dead, None
            return dead if char == " " else dead + char
        return char

    def _alt_code(self) -> list[WedgeOutput]:
        digits, self._alt_digits = "".join(self._alt_digits), []
        if not digits:
            return []
        value = int(digits)
        if not 0 < value < 256:
            return [WedgeFault("bad Alt code", f"Alt+{digits} is outside 1..255, ignored")]
        return self._append(
            bytes([value]).decode("cp1252", errors="replace") if value >= 128 else chr(value)
        )

    def _append(self, chars: str) -> list[WedgeOutput]:
        if self._discarding:
            return []
        self._chars.extend(chars)
        if len(self._chars) <= self.max_length:
            return []
        self._wipe()
        self._discarding = True
        return [
            WedgeFault(
                "line too long",
                f"more than {self.max_length} characters without a terminator; "
                "discarded up to the next terminator (scanner suffix not set to Enter?)",
            )
        ]

    def _end(self, ended_by: str) -> list[WedgeOutput]:
        self._release_modifiers()
        if self._discarding:
            self._discarding = False
            return []
        if not self._chars:
            return []
        return [self._finish(ended_by)]

    def _finish(self, ended_by: str) -> WedgeLine:
        if self._dead is not None:
            self._chars.append(self._dead)
        line = WedgeLine("".join(self._chars), ended_by)
        self._wipe()
        return line

    def _drop(self, reason: str, detail: str) -> list[WedgeOutput]:
        self._wipe()
        self._discarding = False
        self._release_modifiers()
        return [WedgeFault(reason, detail)]

    def _wipe(self) -> None:
        """Forget the buffer (card readers: the track data must not linger)."""
        self._chars.clear()
        self._dead = None

    def _release_modifiers(self) -> None:
        self._shift = self._altgr = self._ctrl = self._alt = False
        self._alt_digits = []
