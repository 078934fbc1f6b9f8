"""Card reads: the keys a member table is looked up by, masking for display, and telling a
payment card apart so it is never stored.

Pure: no I/O, no clock. Owns the card-key rule shared with head office (`card_key`); a card
UID is never kept or sent in full, only its salted hash; a store-issued member id may be.
"""

from __future__ import annotations

import hashlib
import re

_SEPARATORS = re.compile(r"[\s:\-]")
_DIGITS = re.compile(r"^\d{13,19}$")


def normalise_uid(read: str) -> str:
    """A reader's UID as the hash expects it: no spaces, colons or dashes; upper case."""
    return _SEPARATORS.sub("", read).upper()


def card_key(read: str, salt: str) -> str:
    """The `sha256:` key of a card UID, exactly as head office computes it."""
    digest = hashlib.sha256(salt.encode("utf-8") + normalise_uid(read).encode("utf-8"))
    return "sha256:" + digest.hexdigest()


def looks_like_payment_card(read: str) -> bool:
    """13-19 digits passing the Luhn check: a bank card swiped where a member card belongs."""
    digits = normalise_uid(read)
    if not _DIGITS.match(digits):
        return False
    total = 0
    for i, char in enumerate(reversed(digits)):
        value = int(char)
        if i % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def mask_card(read: str) -> str:
    """What a receipt or a record may show of a card.

    A payment card number keeps at most the first six and last four digits, as PCI DSS
    allows; any other card (a member card's UID) keeps only its last four characters.
    """
    text = normalise_uid(read)
    if looks_like_payment_card(text):
        return f"{text[:6]}{'*' * (len(text) - 10)}{text[-4:]}"
    if len(text) > 4:
        return "*" * (len(text) - 4) + text[-4:]
    return "*" * len(text)
