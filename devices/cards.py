"""Card readers: a finished wedge line -> `CardEvent` (magstripe ISO 7813 or RFID/NFC UID).

Owns track parsing, RFID UID normalisation and the member/staff classification by
configured prefixes; the Luhn check and the mask are the box's one card-data rule
(`gateway.cardsafe` [STDNUM-LUHN]), so the reader and the lane agree on what a PAN is.
Pure: fed key events (through `devices.wedge`) or finished lines; no device I/O, clock
injected.

PCI DSS rules this module enforces (device-protocols.md §4.3 [PCI-321][PCI-FAQ]): a
payment card — format code B on track 1, or a Luhn-valid 13-19 digit PAN with a bank
track-2 layout — is reported with `masked` only (first six + last four digits at most);
the track text, name, expiry, service code and discretionary data are never put in an
event, a fault or a log line, and the decoder's buffer is cleared after every line.

Track layouts [ISO7813-DUNFIELD][SQUARE-PLASTIC]; MagTek wedge output `%...?;...?` + CR,
unreadable track = `E` [MAGTEK-KB]. RFID readers type the UID as decimal or hex, byte
order configurable; UID 1c78f2bf reads 3220338716 little-endian, 0477688511 big-endian
[HAMSTER][BALTECH]. The canonical `card_id` of an RFID card is its UID in upper-case hex,
most significant byte first, so one card matches whatever reader enrolled it.
"""

from __future__ import annotations

import re
from typing import Literal

from devices.events import CardEvent, CardKind, Clock, DecodeFault, Role
from devices.keymaps import Keymap
from devices.wedge import KeyboardWedgeDecoder, KeyEventLike, Terminator, WedgeFault, WedgeOutput
from gateway.cardsafe import is_payment_pan, luhn_valid, mask_pan

__all__ = ["CardLineDecoder", "WedgeCardDecoder", "is_payment_pan", "luhn_valid", "mask_pan"]

TRACK1 = re.compile(r"%([A-Z])([0-9 ]{1,19})\^([^^?]{0,26})\^([^?]*)\?")
TRACK2 = re.compile(r";([0-9]{1,19})=([0-9=]*)\?")
TRACK2_PLAIN = re.compile(r";([0-9]{1,19})\?")  # loyalty cards without a field separator
UNREADABLE = re.compile(r"^(%E\?|;E\?|E)+$")


class CardLineDecoder:
    """One finished line of a card reader -> CardEvent or DecodeFault (never raises)."""

    def __init__(
        self,
        device: str,
        clock: Clock,
        *,
        rfid_format: Literal["decimal", "hex"] = "decimal",
        rfid_byte_order: Literal["msb_first", "lsb_first"] = "msb_first",
        rfid_uid_bytes: int = 4,
        member_prefixes: tuple[str, ...] = (),
        staff_prefixes: tuple[str, ...] = (),
    ) -> None:
        self.device = device
        self.clock = clock
        self.rfid_format = rfid_format
        self.rfid_byte_order = rfid_byte_order
        self.rfid_uid_bytes = rfid_uid_bytes
        self.member_prefixes = tuple(member_prefixes)
        self.staff_prefixes = tuple(staff_prefixes)

    def line(self, text: str) -> CardEvent | DecodeFault | None:
        text = text.strip()
        if not text:
            return None
        if text[0] in "%;" or UNREADABLE.match(text):
            return self._magstripe(text)
        return self._rfid(text)

    # -- magstripe ---------------------------------------------------------------------------
    def _magstripe(self, text: str) -> CardEvent | DecodeFault:
        if UNREADABLE.match(text.replace(" ", "")):
            return self._fault(
                "unreadable card", "the reader could not read any track; swipe again"
            )
        track1, track2 = TRACK1.search(text), TRACK2.search(text)
        plain2 = TRACK2_PLAIN.search(text)
        pans = [m.group(2).replace(" ", "") for m in (track1,) if m] + [
            m.group(1) for m in (track2, plain2) if m
        ]
        if not pans:
            return self._fault("not a card track", f"{len(text)} characters without ISO 7813 track")
        bank_format = (track1 is not None and track1.group(1) == "B") or track2 is not None
        payment = next((p for p in pans if is_payment_pan(p)), None)
        if payment is not None and bank_format:
            return CardEvent(self.device, None, CardKind.PAYMENT, mask_pan(payment), self.clock())
        return self._identified(pans[-1], "magstripe")

    # -- RFID --------------------------------------------------------------------------------
    def _rfid(self, text: str) -> CardEvent | DecodeFault:
        uid = self._uid_bytes(text)
        if uid is None:
            return self._fault(
                "not a card id",
                f"{len(text)} characters that are neither a track nor a {self.rfid_format} UID "
                "(keyboard layout or rfid_format setting wrong?)",
            )
        if self.rfid_byte_order == "lsb_first":
            uid = uid[::-1]
        return self._identified(uid.hex().upper(), "rfid")

    def _uid_bytes(self, text: str) -> bytes | None:
        try:
            if self.rfid_format == "decimal":
                if not (text.isascii() and text.isdigit()):
                    return None
                return int(text).to_bytes(self.rfid_uid_bytes, "big")
            cleaned = text.replace(":", "").replace(" ", "")
            if len(cleaned) % 2 or not re.fullmatch(r"[0-9A-Fa-f]+", cleaned):
                return None
            return bytes.fromhex(cleaned)
        except OverflowError:
            return None

    # -- shared ------------------------------------------------------------------------------
    def _identified(self, card_id: str, source: str) -> CardEvent:
        kind = CardKind.UNKNOWN
        if card_id.startswith(self.staff_prefixes) and self.staff_prefixes:
            kind = CardKind.STAFF
        elif card_id.startswith(self.member_prefixes) and self.member_prefixes:
            kind = CardKind.MEMBER
        return CardEvent(self.device, card_id, kind, None, self.clock(), source)

    def _fault(self, reason: str, detail: str) -> DecodeFault:
        return DecodeFault(self.device, Role.CARD_READER, reason, detail, self.clock())


class WedgeCardDecoder:
    """Key events of a wedge card reader -> CardEvents. Magstripe readers send both tracks
    and then one Enter (MagTek default), so a line is one swipe."""

    def __init__(
        self,
        lines: CardLineDecoder,
        keymap: Keymap,
        *,
        terminator: Terminator = "enter",
        inter_key_timeout: float = 0.1,
        max_length: int = 512,
    ) -> None:
        self.lines = lines
        self.keys = KeyboardWedgeDecoder(
            keymap,
            terminator=terminator,
            inter_key_timeout=inter_key_timeout,
            max_length=max_length,
        )

    def feed(self, event: KeyEventLike) -> list[CardEvent | DecodeFault]:
        return self._convert(self.keys.feed(event))

    def expire(self, now: float) -> list[CardEvent | DecodeFault]:
        return self._convert(self.keys.expire(now))

    def reset(self) -> list[CardEvent | DecodeFault]:
        return self._convert(self.keys.reset())

    def _convert(self, outputs: list[WedgeOutput]) -> list[CardEvent | DecodeFault]:
        events: list[CardEvent | DecodeFault] = []
        for item in outputs:
            if isinstance(item, WedgeFault):
                events.append(self.lines._fault(item.reason, item.detail))
            else:
                event = self.lines.line(item.text)
                if event is not None:
                    events.append(event)
        return events
