"""ZVT, the German card terminals' ECR interface, as pure APDU values: bytes in, typed
values out, and back. No socket, no thread, no clock (the TCP edge is `zvt_terminal.py`).

What this follows: "ECR-Interface ZVT-Protocol, Commands, Bitmaps, Error Messages"
(PA00P015, revision 13.x, Verband der Terminalhersteller in Deutschland). Over TCP/IP an
APDU travels as it is, with no DLE/STX framing and no CRC (the transport chapter):

    APDU = CCRC INSTR LEN DATA     LEN < 0xFF: one byte;
                                   LEN = 0xFF: the next two bytes, little-endian

The ECR (the till) sends a command, the PT (the terminal) answers `80 00 00` (ACK) or
`84 xx 00` (NAK), and for a transaction then sends its own APDUs — intermediate status
(04 FF), status information (04 0F), print lines (06 D1) — each of which the till ACKs,
and ends with completion (06 0F) or abort (06 1E <result-code>).

A command's data is a fixed head (the password, a config byte: `HEADS`) followed by
bitmaps (BMPs): one byte naming the field, then its value in the field's format. The
format of every BMP the till may meet is the table `BMPS` (chapter 9, "Bitmaps"); a BMP
missing from the table cannot be skipped (its length is unknown), so it is one precise
`ZvtError` naming it. Formats: BCD of a fixed length; binary of a fixed length; ASCII of a
fixed length; LLVAR / LLLVAR (the length as two or three bytes F0-F9, then the value);
the TLV container (BMP 06, a BER length).

The card number, BMP 22, is a PAN the terminal should already mask (digit nibbles E); it
is decoded straight into its masked form, the last four digits (`mask_pan`): the full
number never becomes a value here, so nothing downstream can store, log or print it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

# -- control fields (CCRC INSTR) --------------------------------------------------------

REGISTRATION = b"\x06\x00"
AUTHORISATION = b"\x06\x01"
LOG_OFF = b"\x06\x02"
COMPLETION = b"\x06\x0f"
ABORT = b"\x06\x1e"
REPEAT_RECEIPT = b"\x06\x20"
REVERSAL = b"\x06\x30"
REFUND = b"\x06\x31"  # Gutschrift: money back to the card
ECR_ABORT = b"\x06\xb0"
PRINT_LINE = b"\x06\xd1"
PRINT_TEXT_BLOCK = b"\x06\xd3"
STATUS_ENQUIRY = b"\x05\x01"
STATUS_INFORMATION = b"\x04\x0f"
INTERMEDIATE_STATUS = b"\x04\xff"
ACK = b"\x80\x00"  # positive acknowledgement: `80 00 00`
NAK = b"\x84"  # 84 xx: negative, xx the reason (e.g. 84 83: not possible)

COMMAND_NAMES: dict[bytes, str] = {
    REGISTRATION: "registration",
    AUTHORISATION: "authorisation",
    LOG_OFF: "log-off",
    COMPLETION: "completion",
    ABORT: "abort",
    REPEAT_RECEIPT: "repeat receipt",
    REVERSAL: "reversal",
    REFUND: "refund",
    ECR_ABORT: "abort (ECR)",
    PRINT_LINE: "print line",
    PRINT_TEXT_BLOCK: "print text block",
    STATUS_ENQUIRY: "status enquiry",
    STATUS_INFORMATION: "status information",
    INTERMEDIATE_STATUS: "intermediate status",
    ACK: "acknowledgement",
}

CURRENCY_CODES = {"EUR": 978, "CHF": 756, "GBP": 826, "USD": 840, "CNY": 156, "DKK": 208}

# Config byte of the registration (chapter 2.1): what the till asks the terminal to do.
CONFIG_ECR_PRINTS_PAYMENT = 0x02  # payment receipts come to the ECR as print lines
CONFIG_ECR_PRINTS_ADMIN = 0x04
CONFIG_INTERMEDIATE_STATUS = 0x08  # the PT sends intermediate status (04 FF)
CONFIG_NO_AMOUNT_ON_PT = 0x10  # the amount may not be typed at the terminal
CONFIG_NO_ADMIN_ON_PT = 0x20  # administration only from the ECR
# The terminal prints its own receipt; the till wants intermediate status, and owns the
# amount and the administration.
TILL_CONFIG = CONFIG_INTERMEDIATE_STATUS | CONFIG_NO_AMOUNT_ON_PT | CONFIG_NO_ADMIN_ON_PT

# Result codes (chapter 10, "Error messages"): the ones a till explains in words.
RESULT_TEXTS: dict[int, str] = {
    0x00: "approved",
    0x05: "declined by the card issuer",
    0x64: "card not readable",
    0x65: "card data not present",
    0x66: "processing error",
    0x67: "function not permitted for this card",
    0x68: "card not admitted",
    0x6A: "unknown or unusable card",
    0x6B: "card expired",
    0x6C: "aborted at the terminal (abort key or time-out)",
    0x6E: "card in the blocked list",
    0x6F: "wrong currency",
    0x71: "credit not sufficient",
    0x72: "chip error",
    0x73: "card data incorrect",
    0x77: "end-of-day batch not possible",
    0x78: "card expired",
    0x79: "card not yet valid",
    0x7A: "card unknown",
    0x83: "function not possible",
    0x9A: "ZVT protocol error",
    0x9C: "please wait",
    0xA0: "receiver not ready",
    0xB1: "amount too high",
    0xB4: "already reversed",
    0xB5: "reversal not possible",
    0xC2: "diagnosis required",
    0xDC: "card inserted",
    0xDD: "error while removing the card",
    0xDF: "card not accepted",
    0xF0: "invalid parameter",
    0xFF: "system error",
}


def result_text(code: int) -> str:
    return RESULT_TEXTS.get(code, f"result code {code:02X}")


class ZvtError(ValueError):
    """Bytes that are not a well-formed APDU, or a value that cannot be encoded: the
    message names the command, the BMP and what is wrong."""


# -- APDU framing -------------------------------------------------------------------------


@dataclass(frozen=True)
class Apdu:
    """One APDU: its two control bytes and its data."""

    control: bytes
    data: bytes = b""

    @property
    def name(self) -> str:
        if self.control[:1] == NAK:
            return f"negative acknowledgement {self.control[1]:02X}"
        return COMMAND_NAMES.get(self.control, f"APDU {self.control.hex(' ').upper()}")

    def encode(self) -> bytes:
        size = len(self.data)
        if size > 0xFFFF:
            raise ZvtError(f"{self.name}: {size} bytes of data do not fit one APDU")
        length = bytes([size]) if size < 0xFF else b"\xff" + size.to_bytes(2, "little")
        return self.control + length + self.data


def frame_length(buffer: bytes) -> int | None:
    """The length of the complete APDU at the start of `buffer`; None: not all here yet."""
    if len(buffer) < 3:
        return None
    if buffer[2] != 0xFF:
        total = 3 + buffer[2]
    elif len(buffer) < 5:
        return None
    else:
        total = 5 + int.from_bytes(buffer[3:5], "little")
    return total if len(buffer) >= total else None


def split(buffer: bytes) -> tuple[list[Apdu], bytes]:
    """The complete APDUs at the start of a stream `buffer`, and the rest (a part APDU)."""
    found: list[Apdu] = []
    while (total := frame_length(buffer)) is not None:
        head = 3 if buffer[2] != 0xFF else 5
        found.append(Apdu(bytes(buffer[:2]), bytes(buffer[head:total])))
        buffer = buffer[total:]
    return found, buffer


def decode_apdu(frame: bytes) -> Apdu:
    """Exactly one APDU (no bytes short, none left over)."""
    found, rest = split(frame)
    if len(found) != 1 or rest:
        raise ZvtError(f"not one APDU: {frame[:16].hex(' ').upper()}")
    return found[0]


# -- BCD and the variable-length prefixes ------------------------------------------------


def bcd(digits: str, size: int) -> bytes:
    """`digits` as packed BCD of `size` bytes, zeros in front."""
    if not digits.isdigit() or len(digits) > size * 2:
        raise ZvtError(f"{digits!r} is not at most {size * 2} digits")
    return bytes.fromhex(digits.rjust(size * 2, "0"))


def from_bcd(data: bytes) -> str:
    text = data.hex()
    if not text.isdigit():
        raise ZvtError(f"{data.hex(' ').upper()} is not BCD")
    return text


def _var_length(value: int, digits: int) -> bytes:
    text = str(value).rjust(digits, "0")
    if len(text) > digits:
        raise ZvtError(f"{value} bytes do not fit an {'L' * digits}VAR")
    return bytes(0xF0 | int(d) for d in text)


def _read_var_length(data: bytes, at: int, digits: int, bmp: int) -> int:
    head = data[at : at + digits]
    if len(head) < digits or any(b & 0xF0 != 0xF0 or b & 0x0F > 9 for b in head):
        raise ZvtError(f"BMP {bmp:02X}: {head.hex(' ').upper()} is not an {'L' * digits}VAR length")
    return int("".join(str(b & 0x0F) for b in head))


def _ber_length(value: int) -> bytes:
    if value < 0x80:
        return bytes([value])
    if value <= 0xFF:
        return b"\x81" + bytes([value])
    return b"\x82" + value.to_bytes(2, "big")


def _read_ber_length(data: bytes, at: int) -> tuple[int, int]:
    """(length, bytes the length took) of the TLV container at `at`."""
    if at >= len(data):
        raise ZvtError("BMP 06: the TLV container has no length")
    first = data[at]
    if first < 0x80:
        return first, 1
    count = first & 0x7F
    if count not in (1, 2) or at + 1 + count > len(data):
        raise ZvtError(f"BMP 06: {first:02X} is not a TLV length this till reads")
    return int.from_bytes(data[at + 1 : at + 1 + count], "big"), 1 + count


# -- the card number ----------------------------------------------------------------------


def mask_pan(digits: str) -> str:
    """What may be kept of a card number: its last four digits, the rest as `*`."""
    tail = "".join(ch for ch in digits if ch.isdigit())[-4:]
    return "*" * max(len(digits) - len(tail), 4) + tail


def _decode_pan(data: bytes) -> str:
    """BMP 22 (BCD nibbles, E = a digit the terminal masked, F = padding): masked."""
    nibbles = data.hex().upper().rstrip("F")
    shown = "".join("*" if n == "E" else n for n in nibbles)
    if any(n not in "0123456789*" for n in shown):
        raise ZvtError(f"BMP 22: {len(data)} bytes are not a card number")
    return mask_pan(shown)


def _encode_pan(digits: str) -> bytes:
    text = digits.upper().replace("*", "E")
    if len(text) % 2:
        text += "F"
    if any(n not in "0123456789E" for n in text.rstrip("F")):
        raise ZvtError(f"{len(digits)} characters are not a card number")
    return bytes.fromhex(text)


# -- the bitmap table -----------------------------------------------------------------------

Format = Literal[
    "bcd", "binary", "ascii", "llvar", "lllvar", "llvar-ascii", "lllvar-ascii", "pan", "tlv"
]


@dataclass(frozen=True)
class Bmp:
    """One bitmap's name and format; `size` for the fixed-length formats."""

    name: str
    format: Format
    size: int = 0


BMPS: dict[int, Bmp] = {
    0x01: Bmp("timeout", "binary", 1),
    0x02: Bmp("max_status_infos", "binary", 1),
    0x03: Bmp("service_byte", "binary", 1),
    0x04: Bmp("amount", "bcd", 6),
    0x05: Bmp("pump_number", "binary", 1),
    0x06: Bmp("tlv", "tlv"),
    0x0B: Bmp("trace_number", "bcd", 3),
    0x0C: Bmp("time", "bcd", 3),
    0x0D: Bmp("date", "bcd", 2),
    0x0E: Bmp("expiry_date", "bcd", 2),
    0x17: Bmp("card_sequence_number", "bcd", 2),
    0x19: Bmp("payment_type", "binary", 1),
    0x22: Bmp("pan", "pan"),
    0x23: Bmp("track_2", "llvar"),
    0x24: Bmp("track_3", "lllvar"),
    0x27: Bmp("result_code", "binary", 1),
    0x29: Bmp("terminal_id", "bcd", 4),
    0x2A: Bmp("vu_number", "ascii", 15),
    0x2D: Bmp("track_1", "llvar"),
    0x2E: Bmp("sync_chip_data", "lllvar"),
    0x37: Bmp("original_trace_number", "bcd", 3),
    0x3A: Bmp("cvv", "bcd", 2),
    0x3B: Bmp("aid", "binary", 8),
    0x3C: Bmp("additional_text", "lllvar-ascii"),
    0x3D: Bmp("password", "bcd", 3),
    0x49: Bmp("currency_code", "bcd", 2),
    0x60: Bmp("individual_totals", "lllvar"),
    0x87: Bmp("receipt_number", "bcd", 2),
    0x88: Bmp("turnover_number", "bcd", 3),
    0x8A: Bmp("card_type", "binary", 1),
    0x8B: Bmp("card_name", "llvar-ascii"),
    0x8C: Bmp("card_type_id", "binary", 1),
    0x9A: Bmp("geldkarte_payment", "lllvar"),
    0xA0: Bmp("result_code_as", "binary", 1),
    0xA7: Bmp("chip_data", "llvar"),
    0xAF: Bmp("ef_info", "lllvar"),
    0xBA: Bmp("aid_parameter", "binary", 5),
}
BY_NAME: dict[str, int] = {bmp.name: number for number, bmp in BMPS.items()}

Value = str | int | bytes


def decode_bmps(data: bytes, what: str = "APDU") -> dict[str, Value]:
    """The bitmaps of a data field, by name: BCD as digit strings, binary of one byte as
    an int (longer as bytes), ASCII and the card name as text, the PAN masked, LLVAR,
    LLLVAR and the TLV container as bytes."""
    fields: dict[str, Value] = {}
    at = 0
    while at < len(data):
        number = data[at]
        bmp = BMPS.get(number)
        if bmp is None:
            raise ZvtError(f"{what}: BMP {number:02X} at byte {at} is not one this till reads")
        at += 1
        head = 0
        match bmp.format:
            case "bcd" | "binary" | "ascii":
                size = bmp.size
            case "llvar" | "llvar-ascii" | "pan":
                size, head = _read_var_length(data, at, 2, number), 2
            case "lllvar" | "lllvar-ascii":
                size, head = _read_var_length(data, at, 3, number), 3
            case "tlv":
                size, head = _read_ber_length(data, at)
        value = data[at + head : at + head + size]
        if len(value) != size:
            raise ZvtError(f"{what}: BMP {number:02X} ({bmp.name}) is cut short")
        at += head + size
        fields[bmp.name] = _decode_value(bmp, value)
    return fields


def _decode_value(bmp: Bmp, value: bytes) -> Value:
    match bmp.format:
        case "bcd":
            return from_bcd(value)
        case "binary":
            return value[0] if bmp.size == 1 else value
        case "ascii" | "llvar-ascii" | "lllvar-ascii":
            return value.split(b"\x00", 1)[0].decode("latin-1").rstrip()
        case "pan":
            return _decode_pan(value)
        case _:
            return value


def encode_bmps(fields: Mapping[str, Value]) -> bytes:
    """Bitmaps in the order given (the terminal's or the spec's order)."""
    out = bytearray()
    for name, value in fields.items():
        number = BY_NAME.get(name)
        if number is None:
            raise ZvtError(f"{name!r} is not a BMP of the table")
        bmp = BMPS[number]
        out.append(number)
        out += _encode_value(bmp, number, value)
    return bytes(out)


def _raw(value: Value) -> bytes:
    if isinstance(value, int):
        return bytes([value])
    return value.encode("latin-1") if isinstance(value, str) else value


def _encode_value(bmp: Bmp, number: int, value: Value) -> bytes:
    match bmp.format:
        case "bcd":
            return bcd(str(value), bmp.size)
        case "binary":
            raw = _raw(value)
            if len(raw) != bmp.size:
                raise ZvtError(f"BMP {number:02X} ({bmp.name}) takes {bmp.size} bytes")
            return raw
        case "ascii":
            return str(value).encode("latin-1").ljust(bmp.size, b" ")[: bmp.size]
        case "pan":
            raw = _encode_pan(str(value))
            return _var_length(len(raw), 2) + raw
        case "llvar" | "llvar-ascii":
            raw = _raw(value)
            return _var_length(len(raw), 2) + raw
        case "lllvar" | "lllvar-ascii":
            raw = _raw(value)
            return _var_length(len(raw), 3) + raw
        case _:
            raw = _raw(value)
            return _ber_length(len(raw)) + raw


# -- amounts ---------------------------------------------------------------------------------


def amount_digits(amount: Decimal) -> str:
    """BMP 04: the amount in the currency's minor unit (cent), 12 digits."""
    cents = amount * 100
    if amount < 0 or cents != cents.to_integral_value():
        raise ZvtError(f"{amount} is not an amount in cents")
    return str(int(cents)).rjust(12, "0")


def amount_of(digits: str) -> Decimal:
    return Decimal(int(digits)) / 100


def currency_digits(currency: str) -> str:
    """BMP 49 and the registration's currency: ISO 4217's number, 4 BCD digits."""
    number = CURRENCY_CODES.get(currency.upper())
    if number is None:
        raise ZvtError(f"{currency!r} is not a currency this till sends to a terminal")
    return str(number).rjust(4, "0")


# -- the commands the till sends --------------------------------------------------------------


def password_bytes(password: str) -> bytes:
    """The terminal's password: six digits as three BCD bytes (chapter 1.2)."""
    if len(password) != 6 or not password.isdigit():
        raise ZvtError("the terminal password is six digits")
    return bcd(password, 3)


def registration(password: str, currency: str, config: int = TILL_CONFIG) -> Apdu:
    """06 00: <password> <config-byte> <currency code> (chapter 2.1)."""
    return Apdu(
        REGISTRATION, password_bytes(password) + bytes([config]) + bcd(currency_digits(currency), 2)
    )


def authorisation(amount: Decimal, currency: str) -> Apdu:
    """06 01: BMP 04 the amount, BMP 49 the currency (chapter 2.2)."""
    return Apdu(
        AUTHORISATION,
        encode_bmps({"amount": amount_digits(amount), "currency_code": currency_digits(currency)}),
    )


def reversal(password: str, receipt_number: str) -> Apdu:
    """06 30: <password> BMP 87 the receipt number of the payment to reverse (ch. 2.9)."""
    return Apdu(
        REVERSAL, password_bytes(password) + encode_bmps({"receipt_number": receipt_number})
    )


def refund(password: str, amount: Decimal, currency: str) -> Apdu:
    """06 31: <password> BMP 04 the amount, BMP 49 the currency (chapter 2.10, "Refund",
    Gutschrift): the amount goes back to the card the customer presents. The terminal
    answers as to an authorisation: status information (04 0F) with its result code and
    references, then completion (06 0F), or abort (06 1E <result-code>)."""
    return Apdu(
        REFUND,
        password_bytes(password)
        + encode_bmps(
            {"amount": amount_digits(amount), "currency_code": currency_digits(currency)}
        ),
    )


def repeat_receipt(password: str) -> Apdu:
    """06 20: <password>: the terminal sends the last transaction's status information
    again (chapter 2.15) — how the till learns the outcome of a payment whose answer it
    lost."""
    return Apdu(REPEAT_RECEIPT, password_bytes(password))


def status_enquiry(password: str) -> Apdu:
    """05 01: <password> (chapter 2.52)."""
    return Apdu(STATUS_ENQUIRY, password_bytes(password))


def ack() -> Apdu:
    return Apdu(ACK)


def nak(reason: int = 0x83) -> Apdu:
    return Apdu(NAK + bytes([reason]))


# -- what the terminal sends, decoded -----------------------------------------------------------


@dataclass(frozen=True)
class Registered:
    """The head of a registration request (the simulator's side)."""

    password: str
    config: int
    currency: str
    rest: dict[str, Value] = field(default_factory=dict)


def decode_registration(data: bytes) -> Registered:
    if len(data) < 4:
        raise ZvtError("registration: the password and the config byte are missing")
    currency = from_bcd(data[4:6]) if len(data) >= 6 else ""
    return Registered(from_bcd(data[:3]), data[3], currency, decode_bmps(data[6:], "registration"))


@dataclass(frozen=True)
class StatusInformation:
    """04 0F after a payment (chapter 3.1.1): what the till keeps of it. `pan` is masked
    (last four digits); `receipt_number` and `trace_number` are the terminal's references
    (a reversal names the receipt number)."""

    result_code: int
    amount: Decimal | None = None
    currency_code: str = ""
    trace_number: str = ""
    receipt_number: str = ""
    terminal_id: str = ""
    pan: str = ""
    card_name: str = ""
    card_type: int | None = None
    date: str = ""
    time: str = ""
    additional_text: str = ""

    @property
    def approved(self) -> bool:
        return self.result_code == 0

    @property
    def reason(self) -> str:
        text = result_text(self.result_code)
        return f"{text} ({self.additional_text})" if self.additional_text else text


def decode_status(data: bytes) -> StatusInformation:
    fields = decode_bmps(data, "status information")
    code = fields.get("result_code", 0)
    amount = fields.get("amount")
    card_type = fields.get("card_type")
    return StatusInformation(
        result_code=code if isinstance(code, int) else 0xFF,
        amount=amount_of(amount) if isinstance(amount, str) else None,
        currency_code=str(fields.get("currency_code", "")),
        trace_number=str(fields.get("trace_number", "")),
        receipt_number=str(fields.get("receipt_number", "")),
        terminal_id=str(fields.get("terminal_id", "")),
        pan=str(fields.get("pan", "")),
        card_name=str(fields.get("card_name", "")),
        card_type=card_type if isinstance(card_type, int) else None,
        date=str(fields.get("date", "")),
        time=str(fields.get("time", "")),
        additional_text=str(fields.get("additional_text", "")),
    )


@dataclass(frozen=True)
class IntermediateStatus:
    """04 FF: what the terminal is doing (e.g. 0x0A "insert card"), for the screens."""

    code: int


INTERMEDIATE_TEXTS: dict[int, str] = {
    0x00: "waiting for the amount confirmation",
    0x01: "please watch the PIN pad",
    0x0A: "insert the card",
    0x0B: "please remove the card",
    0x0E: "please wait",
    0x17: "please wait",
}


def decode_intermediate(data: bytes) -> IntermediateStatus:
    if not data:
        raise ZvtError("intermediate status: no status byte")
    return IntermediateStatus(data[0])


@dataclass(frozen=True)
class PrintLine:
    """06 D1: <attribute> <text>: one line of the terminal's receipt (0x81: its last)."""

    attribute: int
    text: str

    @property
    def last(self) -> bool:
        return self.attribute & 0x80 == 0x80 and self.attribute & 0x01 == 0x01


def decode_print_line(data: bytes) -> PrintLine:
    if not data:
        raise ZvtError("print line: no attribute byte")
    text = data[1:]
    # a TLV container may follow the text (06 ...): the text stops before it
    marker = text.find(b"\x06", 0)
    while marker != -1:
        try:
            size, head = _read_ber_length(text, marker + 1)
        except ZvtError:
            size, head = -1, 0
        if marker + 1 + head + size == len(text):
            text = text[:marker]
            break
        marker = text.find(b"\x06", marker + 1)
    return PrintLine(data[0], text.decode("latin-1"))


def decode_abort(data: bytes) -> int:
    """06 1E <result-code>: the transaction ended without payment; 0xFF when none given."""
    return data[0] if data else 0xFF


def is_ack(apdu: Apdu) -> bool:
    return apdu.control == ACK


def is_nak(apdu: Apdu) -> bool:
    return apdu.control[:1] == NAK
