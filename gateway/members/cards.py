"""Card reads: the keys a member table is looked up by, masking for display, and telling a
payment card apart so it is never stored.

Pure: no I/O, no clock. Owns the card-key rule shared with head office (`card_key`); a card
UID is never kept or sent in full, only its salted hash; a store-issued member id may be.
"""

from __future__ import annotations

import hashlib
import re

from gateway.cardsafe import is_payment_pan, mask_pan

_SEPARATORS = re.compile(r"[\s:\-]")


def normalise_uid(read: str) -> str:
    """A reader's UID as the hash expects it: no spaces, colons or dashes; upper case."""
    return _SEPARATORS.sub("", read).upper()


def card_key(read: str, salt: str) -> str:
    """The `sha256:` key of a card UID, exactly as head office computes it."""
    digest = hashlib.sha256(salt.encode("utf-8") + normalise_uid(read).encode("utf-8"))
    return "sha256:" + digest.hexdigest()


def looks_like_payment_card(read: str) -> bool:
    """13-19 digits passing the Luhn check: a bank card swiped where a member card belongs
    (the box's one rule, `gateway.cardsafe`)."""
    return is_payment_pan(normalise_uid(read))


def mask_card(read: str) -> str:
    """What a receipt or a record may show of a card.

    A payment card number keeps at most the first six and last four digits, as PCI DSS
    allows; any other card (a member card's UID) keeps only its last four characters.
    """
    text = normalise_uid(read)
    if looks_like_payment_card(text):
        return mask_pan(text)
    if len(text) > 4:
        return "*" * (len(text) - 4) + text[-4:]
    return "*" * len(text)
