"""Finding a keyed item and checking a keyed quantity: shared by sales and returns.

Pure: the catalog is passed in; a bad quantity is a `Refusal` a cashier can read.
"""

from __future__ import annotations

from decimal import Decimal

from gateway.barcodes import plu_key
from gateway.barcodes.payment_codes import SCHEME_NAMES, payment_scheme
from gateway.cardsafe import has_card_data
from gateway.catalog.catalog import Catalog
from gateway.catalog.document import Product
from gateway.lane.events import Refusal
from gateway.pricing.engine import MAX_QUANTITY  # what the engine prices: one bound


def whole_quantity(quantity: Decimal) -> Refusal | None:
    """A piece quantity is a whole number 1-9999 (no zero, no fractions of a can)."""
    if quantity != quantity.to_integral_value() or not 1 <= quantity <= MAX_QUANTITY:
        return Refusal("bad_quantity", f"Quantity {quantity} must be a whole number 1-9999.")
    return None


def card_code_refusal(code: str) -> Refusal | None:
    """A code scanned or keyed that no product has and that is a payment instrument: a
    payment card's number or track (a card swiped or typed where a barcode was expected),
    or a wallet's one-time payment code (`gateway.barcodes.payment_codes`). Refused with a
    sentence that does not repeat it, so it is never echoed, counted as an unknown
    barcode, reported to head office or logged (PCI DSS 3.3.1, 3.5.1). A product's own
    code is never refused: the catalog is asked first."""
    scheme = payment_scheme(code)
    if scheme is not None:
        return Refusal(
            "payment_code_scanned",
            f"That is a {SCHEME_NAMES[scheme]} payment code, not an item: nothing of it was "
            "kept. This till does not take wallet payments: ask for another way to pay.",
        )
    if not has_card_data(code):
        return None
    return Refusal(
        "payment_card_scanned",
        "That is a payment card, not an item: nothing of it was kept. "
        "Take card payments on the card terminal.",
    )


def find_product(catalog: Catalog, code: str) -> Product | None:
    """A product by PLU (digits) or SKU, as keyed at the till."""
    keys = [f"SKU:{code}"]
    if code.isdigit():
        keys.insert(0, plu_key(code))
    return catalog.lookup(keys)
