"""A bottle's deposit (Pfand / 押金) on the cashier screen's line, worded as the receipt
words it, in English and in Chinese."""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pricing"))
from test_engine_deposits import deposit_catalog, line, priced

from gateway.screens.money import CurrencyFormat
from gateway.screens.view import _line


def test_the_deposit_is_a_row_under_its_line() -> None:
    cat = deposit_catalog()
    cola = priced(cat, line("COLA", 2)).lines[0]
    fmt = CurrencyFormat.for_currency("CHF", 2)
    english = _line(cola, fmt, False, "en", cat)
    assert english.adjustments[-1][0] == "Deposit 2 x 0.25"
    assert english.adjustments[-1][1].endswith("0.50")
    assert _line(cola, fmt, False, "zh", cat).adjustments[-1][0] == "押金 2 x 0.25"
    assert cola.total == Decimal("3.50")
    empties = priced(cat, line("PFAND-025")).lines[0]
    assert _line(empties, fmt, False, "en", cat).adjustments == ()
