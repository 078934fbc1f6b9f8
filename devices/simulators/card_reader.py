"""A keyboard-wedge card reader, simulated: magstripe swipes and RFID/NFC taps typed as the
key events a real reader sends, in the keyboard layout it is programmed for.

`swipe_text` / `tap_text` give the characters a reader types (MagTek default: both tracks,
then Enter [MAGTEK-KB]; RFID readers: the UID as 10-digit decimal or hex, MSB or LSB first
[HAMSTER][BALTECH]); `key_events` turns them into real `evdev.InputEvent`s
(`devices.simulators.keystrokes`). `CardReaderSimulator` writes those events as
`struct input_event` records into a FIFO that a box reads like an evdev node
(`[[devices.card_readers]] match = { path = FIFO }`, `devices.inputs.EventStreamNode`),
so a reader's setup — layout, rfid_format, byte order, member/staff prefixes — is
rehearsed through the same adapter and decoder (`devices.cards.WedgeCardDecoder`) as in
the shop.

Test data only: the payment card numbers used with it are the card schemes' published
test PANs; nothing it types is stored.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Literal, Self

from evdev import InputEvent

from devices.inputs import INPUT_EVENT
from devices.keymaps import load_keymap
from devices.simulators.keystrokes import KeyScript

ByteOrder = Literal["msb_first", "lsb_first"]


def swipe_text(track1: str | None = None, track2: str | None = None) -> str:
    """What a MagTek-style reader types for one swipe: `%...?` then `;...?` (either may be
    missing, as on a card with one track); an unreadable swipe is `E`."""
    text = (track1 or "") + (track2 or "")
    return text or "E"


def tap_text(
    uid: bytes,
    *,
    rfid_format: Literal["decimal", "hex"] = "decimal",
    byte_order: ByteOrder = "msb_first",
) -> str:
    """What an RFID reader types for `uid` (MSB first as the card sends it)."""
    ordered = uid if byte_order == "msb_first" else uid[::-1]
    if rfid_format == "hex":
        return ordered.hex().upper()
    return f"{int.from_bytes(ordered, 'big'):010d}"


def key_events(text: str, layout: str = "us", *, start: float | None = None) -> list[InputEvent]:
    """`text` then Enter, typed as a reader programmed for `layout` would."""
    script = KeyScript(start=time.time() if start is None else start, gap=0.002)
    return script.type_text(text, load_keymap(layout)).events


class CardReaderSimulator:
    """A card reader on a FIFO of input_event records; `start()`, `swipe()` / `tap()`."""

    def __init__(
        self,
        path: Path,
        *,
        layout: str = "us",
        rfid_format: Literal["decimal", "hex"] = "decimal",
        byte_order: ByteOrder = "msb_first",
    ) -> None:
        self.path = path
        self.layout = layout
        self.rfid_format = rfid_format
        self.byte_order = byte_order
        self.typed: list[str] = []  # what was typed, for the bench (test data only)
        self._fd: int | None = None

    def start(self) -> Self:
        if self.path.exists() or self.path.is_symlink():
            self.path.unlink()
        os.mkfifo(self.path, 0o600)
        # read-write: opening never blocks, and records wait in the pipe until a box reads
        self._fd = os.open(self.path, os.O_RDWR | os.O_NONBLOCK)
        return self

    def stop(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def swipe(self, track1: str | None = None, track2: str | None = None) -> None:
        self.type_line(swipe_text(track1, track2))

    def tap(self, uid: bytes) -> None:
        self.type_line(tap_text(uid, rfid_format=self.rfid_format, byte_order=self.byte_order))

    def type_line(self, text: str) -> None:
        if self._fd is None:
            raise RuntimeError("start() the simulator first")
        records = b"".join(
            INPUT_EVENT.pack(e.sec, e.usec, e.type, e.code, e.value)
            for e in key_events(text, self.layout)
        )
        os.write(self._fd, records)
        self.typed.append(text)
