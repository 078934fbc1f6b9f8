"""ESC/POS bytes for a receipt, through python-escpos (`escpos.printer.Dummy` collects them).

The same `Receipt` model as the text receipt, and the same text lines (so 32/42/48 columns
and CJK double width behave identically); ESC/POS adds emphasis for the title and total,
a QR code carrying the document id with its journal seq and hash, and a paper cut. Text is
encoded by the printer it goes to (`encode`: `devices.printer.ReceiptPrinter.encode_text`,
which follows the printer's profile: a Chinese printer's GB18030 inside `FS &` ... `FS .`,
a code page for others); without one, plain `encoding` bytes. Pure: returns bytes, opens
no device.
"""

from __future__ import annotations

from collections.abc import Callable

from escpos.printer import Dummy

from gateway.receipts.model import Receipt
from gateway.receipts.text import receipt_lines, total_label

ESC = b"\x1b"


def render_escpos(
    receipt: Receipt,
    width: int,
    *,
    encoding: str = "gb18030",
    qr_size: int = 4,
    encode: Callable[[str], bytes] | None = None,
) -> bytes:
    """The printer's byte stream: init, text lines, QR code, feed and cut."""
    printer = Dummy()
    printer._raw(ESC + b"@")  # initialise: forget the previous job's modes
    title = receipt.title
    total_prefix = total_label(receipt)
    for line in receipt_lines(receipt, width):
        emphasised = line.strip() == title or line.startswith(total_prefix)
        if emphasised:
            printer.set(bold=True)
        text = encode(line) if encode is not None else line.encode(encoding, errors="replace")
        printer._raw(text + b"\n")
        if emphasised:
            printer.set(bold=False)
    printer.set(align="center")
    printer.qr(receipt.qr, size=qr_size, native=True)
    printer.set(align="left")
    printer.cut()
    return bytes(printer.output)


def drawer_pulse(pin: int = 2) -> bytes:
    """ESC p: open the cash drawer on connector pin 2 (most drawers) or 5."""
    printer = Dummy()
    printer.cashdraw(pin)
    return bytes(printer.output)
