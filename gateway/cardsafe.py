"""Card data: telling a payment card number or a magstripe track apart from other text, and
masking it, so that none is kept or sent (PCI DSS 3.3.1: no track data after authorisation;
3.5.1: a PAN, where shown or stored, at most its first six and last four digits).

The one detector and masker of the box: the card reader and the scanner (`devices.cards`,
`devices.scanner`), the members room (`gateway.members.cards`), the lane's boundary
(`gateway.lane.events.without_card_data`, the sale's card field), the anomaly events and
the control socket's and screens' echoes all use this module, so one rule decides
everywhere. Pure: no imports beyond the standard library, no I/O, no clock.

What counts as card data:
- a PAN: 13-19 digits passing the Luhn check (ISO/IEC 7812), not starting with 0, typed
  in one run or in groups separated by spaces, dashes, dots or slashes (at most three
  between groups);
- track 1 (ISO/IEC 7813 format B): `%B` PAN `^` name `^` expiry, service code and
  discretionary data `?` (the sentinels may be missing when typed by hand);
- track 2: `;` PAN `=` expiry, service code and discretionary data `?`, the PAN Luhn-valid.

A digit run longer than 19 digits with no separator is not searched inside (a GS1 element
string, a voucher number): a PAN is found only between non-digits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PAN_MIN, PAN_MAX = 13, 19
KEEP_HEAD, KEEP_TAIL = 6, 4  # what PCI DSS 3.4.1 allows to be shown of a PAN

# digit groups with at most three separators between them: "4000 0566-5566 5556"
_GROUPS = re.compile(r"\d+(?:[\s\-./]{1,3}\d+)*")
_GROUP = re.compile(r"\d+")
_SEPARATORS = re.compile(r"[\s\-./]")
_TRACK1 = re.compile(r"%?B(\d[\d ]{11,22})\^[^^?\n]{0,26}(?:\^[^?\s]*)?\??")
_TRACK2 = re.compile(r";?(\d{12,19})=\d*\??")


def luhn_valid(digits: str) -> bool:
    """ISO/IEC 7812 check digit: the last digit makes the weighted sum a multiple of 10."""
    if not (digits.isascii() and digits.isdigit()) or len(digits) < 2:
        return False
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def is_payment_pan(digits: str) -> bool:
    """13-19 digits with a valid Luhn check digit, not starting with 0 (nothing else: no
    separators). Major industry identifier 0 is ISO/TC 68's, never a card issuer's
    (ISO/IEC 7812-1); leaving it out keeps zero-padded codes (`0000000000000`, a UPC-A read
    as EAN-13 `0...`) from being taken for card numbers."""
    return PAN_MIN <= len(digits) <= PAN_MAX and digits[0] != "0" and luhn_valid(digits)


def mask_pan(pan: str) -> str:
    """First six and last four digits, the rest '*'; a number too short to be a PAN keeps
    only its last four."""
    head = KEEP_HEAD if len(pan) >= PAN_MIN else 0
    return pan[:head] + "*" * max(len(pan) - head - KEEP_TAIL, 0) + pan[-KEEP_TAIL:]


def mask_card_number(card: str | None) -> str | None:
    """What may be kept of a card number a terminal showed or a cashier typed: at most the
    first six and last four digits, at least two hidden, whatever it is given; a number the
    reader already masked (`411111******1111`) keeps its own mask."""
    if card is None:
        return None
    text = _SEPARATORS.sub("", card)  # "4111 11** **** 1111" as masked in place
    if "*" in text:
        lead = text[: len(text) - len(text.lstrip("0123456789"))][:KEEP_HEAD]
        tail = text[len(text.rstrip("0123456789")) :][-KEEP_TAIL:]
        length = len(text)
    else:
        digits = "".join(ch for ch in text if ch.isdigit())
        lead, tail, length = digits[:KEEP_HEAD], digits[-KEEP_TAIL:], len(digits)
    if not length:
        return None
    if length - len(lead) - len(tail) < 2:
        lead = ""
    hidden = min(max(length - len(lead) - len(tail), 2), PAN_MAX - len(lead) - len(tail))
    return lead + "*" * hidden + tail


@dataclass(frozen=True)
class Found:
    """Card data found in a text: its span and the PAN it carries (digits only)."""

    start: int
    end: int
    pan: str
    track: bool


def find_card_data(text: str) -> list[Found]:
    """Every track and every PAN in `text`, in order; spans may overlap."""
    found = [_track(m, 1) for m in _TRACK1.finditer(text)]
    found += [_track(m, 1) for m in _TRACK2.finditer(text) if is_payment_pan(m.group(1))]
    for run in _GROUPS.finditer(text):
        found += _pans_in(run.group(), run.start())
    return sorted(found, key=lambda f: (f.start, f.end))


def has_card_data(text: str) -> bool:
    """Whether `text` holds a PAN or a track (see the module docstring)."""
    return bool(find_card_data(text))


def has_track_data(text: str) -> bool:
    """Whether `text` holds a magstripe track of a payment card."""
    return any(f.track for f in find_card_data(text))


def mask_card_data(text: str) -> str:
    """`text` with every track replaced by its masked PAN and every PAN's digits but the
    first six and last four replaced by '*' in place (separators kept). Text without card
    data comes back unchanged, so masking twice is masking once."""
    found = find_card_data(text)
    if not found:
        return text
    chars = list(text)
    for item in found:
        if item.track:
            continue
        seen = 0
        for index in range(item.start, item.end):
            if chars[index].isdigit() or chars[index] == "*":
                if KEEP_HEAD <= seen < len(item.pan) - KEEP_TAIL:
                    chars[index] = "*"
                seen += 1
    out, at = [], 0
    for item in (f for f in found if f.track):  # a track keeps nothing but its masked PAN
        if item.start < at:  # overlaps the track before it: both go
            at = max(at, item.end)
            continue
        out += [*chars[at : item.start], mask_pan(item.pan)]
        at = item.end
    return "".join([*out, *chars[at:]])


def _track(match: re.Match[str], group: int) -> Found:
    return Found(match.start(), match.end(), match.group(group).replace(" ", ""), True)


def _pans_in(run: str, offset: int) -> list[Found]:
    """Consecutive digit groups of `run` that together make a Luhn-valid 13-19 digits."""
    groups = list(_GROUP.finditer(run))
    found = []
    for first in range(len(groups)):
        digits = ""
        for last in range(first, len(groups)):
            digits += groups[last].group()
            if len(digits) > PAN_MAX:
                break
            if is_payment_pan(digits):
                start, end = groups[first].start(), groups[last].end()
                found.append(Found(offset + start, offset + end, digits, False))
    return found
