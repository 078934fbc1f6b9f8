"""The ZVT codec byte for byte: the commands the till sends as the specification lays
them out, and frames captured from real terminals (a Maestro / Debit Mastercard payment,
a customer's abort, a decline, a contactless payment with a TLV container, a receipt's
print lines) decoded field by field."""

from __future__ import annotations

from decimal import Decimal

import pytest

from gateway.payments import zvt


def frame(text: str) -> bytes:
    return bytes.fromhex(text.replace("-", " "))


# Status information of an approved payment of 20.40 EUR (a girocard terminal): BMPs 27,
# 04, 0B, 0C, 0D, 0E, 17, 19, 22 (PAN masked with E nibbles), 29, 2A, 3B, 3C, 49, 87, 88,
# 8A, 8B.
APPROVED = frame(
    "04 0F 77 27 00 04 00 00 00 00 20 40 0B 00 04 70 0C 22 39 53 0D 10 06 0E 25 12 17 00 01"
    " 19 70 22 F0 F8 EE EE EE EE EE EE 47 71 29 28 00 48 69 2A 31 30 30 34 36 31 37 36 33 20"
    " 20 20 20 20 20 3B 36 31 31 38 30 34 00 00 3C F0 F1 F4 47 45 4E 2E 4E 52 2E 3A 36 31 31"
    " 38 30 34 49 09 78 87 04 70 88 00 04 70 8A 2E 8B F1 F7 44 65 62 69 74 20 4D 61 73 74 65"
    " 72 63 61 72 64 00"
)
ABORTED_BY_CUSTOMER = frame(
    "04 0F 1E 27 6C 29 28 00 48 69 3C F0 F1 F9 41 62 62 72 75 63 68 20 64 75 72 63 68 20 4B"
    " 75 6E 64 65"
)
DECLINED = frame(
    "04-0F-25-27-05-29-29-00-02-74-3C-F0-F0-F9-41-62-67-65-6C-65-68-6E-74-8A-06-06-0D-24-0B"
    "-07-09-41-62-67-65-6C-65-68-6E-74"
)
CONTACTLESS = frame(
    "04-0F-65-27-00-0C-23-13-55-0D-10-29-0E-99-99-22-F0-F8-EE-EE-EE-EE-EE-EE-47-71-A0-01-29"
    "-00-00-00-06-87-00-08-0B-00-00-00-8A-06-8B-F1-F1-4D-41-53-54-45-52-43-41-52-44-00-06-2E"
    "-2F-08-1F-12-01-02-1F-10-01-00-60-1B-43-07-A0-00-00-00-04-10-10-44-10-44-65-62-69-74-20"
    "-4D-61-73-74-65-72-63-61-72-64-1F-2B-04-10-01-50-08"
)


def test_the_commands_the_till_sends() -> None:
    # registration, password 123456, config BA, EUR (chapter 2.1)
    assert zvt.registration("123456", "EUR", config=0xBA).encode() == frame(
        "06 00 06 12 34 56 BA 09 78"
    )
    assert zvt.registration("000000", "EUR").encode() == frame("06 00 06 00 00 00 38 09 78")
    # authorisation of 10.00 EUR: BMP 04 (6 bytes BCD, cents) and BMP 49 (chapter 2.2)
    assert zvt.Apdu(zvt.AUTHORISATION, zvt.encode_bmps({"amount": "1000"})).encode() == frame(
        "06 01 07 04 00 00 00 00 10 00"
    )
    assert zvt.authorisation(Decimal("10.00"), "EUR").encode() == frame(
        "06 01 0A 04 00 00 00 00 10 00 49 09 78"
    )
    assert zvt.authorisation(Decimal("1234.56"), "CHF").encode() == frame(
        "06 01 0A 04 00 00 00 12 34 56 49 07 56"
    )
    assert zvt.reversal("123456", "0470").encode() == frame("06 30 06 12 34 56 87 04 70")
    # refund (Gutschrift) of 7.25 CHF: password, BMP 04, BMP 49 (chapter 2.10)
    assert zvt.refund("123456", Decimal("7.25"), "CHF").encode() == frame(
        "06 31 0D 12 34 56 04 00 00 00 00 07 25 49 07 56"
    )
    assert zvt.decode_apdu(frame("06 31 0D 12 34 56 04 00 00 00 00 07 25 49 07 56")).name == (
        "refund"
    )
    assert zvt.repeat_receipt("123456").encode() == frame("06 20 03 12 34 56")
    assert zvt.status_enquiry("123456").encode() == frame("05 01 03 12 34 56")
    assert zvt.ack().encode() == frame("80 00 00")
    assert zvt.nak().encode() == frame("84 83 00")


def test_an_approved_payment_decoded_field_by_field() -> None:
    apdu = zvt.decode_apdu(APPROVED)
    assert apdu.control == zvt.STATUS_INFORMATION and apdu.name == "status information"
    status = zvt.decode_status(apdu.data)
    assert status.approved and status.reason == "approved (GEN.NR.:611804)"
    assert status.amount == Decimal("20.40") and status.currency_code == "0978"
    assert status.trace_number == "000470" and status.receipt_number == "0470"
    assert status.terminal_id == "28004869" and status.card_name == "Debit Mastercard"
    assert status.pan == "************4771"  # masked by the terminal, kept masked
    assert status.card_type == 0x2E and (status.date, status.time) == ("1006", "223953")
    fields = zvt.decode_bmps(apdu.data)
    assert fields["vu_number"] == "100461763" and fields["expiry_date"] == "2512"
    assert fields["payment_type"] == 0x70 and fields["turnover_number"] == "000470"
    assert fields["card_sequence_number"] == "0001" and fields["aid"] == b"611804\x00\x00"


def test_an_abort_and_a_decline() -> None:
    aborted = zvt.decode_status(zvt.decode_apdu(ABORTED_BY_CUSTOMER).data)
    assert not aborted.approved and aborted.result_code == 0x6C
    assert aborted.additional_text == "Abbruch durch Kunde"
    assert aborted.reason == "aborted at the terminal (abort key or time-out) (Abbruch durch Kunde)"
    declined = zvt.decode_status(zvt.decode_apdu(DECLINED).data)
    assert declined.result_code == 0x05 and declined.additional_text == "Abgelehnt"
    assert declined.terminal_id == "29000274"
    assert zvt.decode_abort(zvt.decode_apdu(frame("06 1E 01 05")).data) == 0x05
    assert zvt.result_text(0x64) == "card not readable"


def test_a_tlv_container_is_read_past() -> None:
    fields = zvt.decode_bmps(zvt.decode_apdu(CONTACTLESS).data)
    assert fields["result_code"] == 0 and fields["result_code_as"] == 1
    assert fields["card_name"] == "MASTERCARD" and fields["terminal_id"] == "00000006"
    assert fields["receipt_number"] == "0008" and fields["pan"] == "************4771"
    tlv = fields["tlv"]
    assert (
        isinstance(tlv, bytes) and len(tlv) == 0x2E and tlv.endswith(frame("1F 2B 04 10 01 50 08"))
    )


def test_the_length_field_and_the_stream() -> None:
    assert zvt.decode_apdu(frame("04 0F FF 01 00 6C")) == zvt.Apdu(zvt.STATUS_INFORMATION, b"\x6c")
    long = zvt.Apdu(zvt.PRINT_TEXT_BLOCK, bytes(300))
    assert long.encode()[:5] == frame("06 D3 FF 2C 01")
    assert zvt.decode_apdu(long.encode()) == long
    stream = frame("80 00 00 04 FF 01 0A 06 0F 00 04 0F")
    apdus, rest = zvt.split(stream)
    assert [a.name for a in apdus] == ["acknowledgement", "intermediate status", "completion"]
    assert rest == frame("04 0F")
    assert zvt.decode_intermediate(apdus[1].data).code == 0x0A
    with pytest.raises(zvt.ZvtError, match="not one APDU"):
        zvt.decode_apdu(frame("04 0F 06 00 01"))


def test_print_lines() -> None:
    line = zvt.decode_print_line(
        zvt.decode_apdu(
            frame("06-D1-14-40-2A-2A-20-4B-41-53-53-45-4E-53-43-48-4E-49-54-54-20-2A-2A")
        ).data
    )
    assert line == zvt.PrintLine(0x40, "** KASSENSCHNITT **") and not line.last
    with_tlv = zvt.decode_print_line(
        zvt.decode_apdu(
            frame(
                "06-D1-1F-00-4E-72-3A-20-20-2A-2A-2A-2A-20-2A-2A-2A-2A-20-2A-2A-2A-2A-20-34-38-32-31-06"
                "-04-1F-07-01-01"
            )
        ).data
    )
    assert with_tlv.text == "Nr:  **** **** **** 4821"
    assert zvt.decode_print_line(zvt.decode_apdu(frame("06-D1-01-81")).data).last


def test_a_full_card_number_never_comes_out_of_the_decoder() -> None:
    sent = zvt.encode_bmps({"result_code": 0, "pan": "4111111111111111", "amount": "880"})
    assert sent[:13] == frame("27 00 22 F0 F8 41 11 11 11 11 11 11 11")
    fields = zvt.decode_bmps(sent)
    assert fields["pan"] == "************1111" and "4111111111111111" not in repr(fields)
    assert zvt.decode_bmps(zvt.encode_bmps({"pan": "4111111111111"}))["pan"] == "*********1111"


def test_what_cannot_be_read_is_one_precise_error() -> None:
    with pytest.raises(zvt.ZvtError, match="BMP F1 at byte 2"):
        zvt.decode_bmps(frame("27 00 F1 00"), "status information")
    with pytest.raises(zvt.ZvtError, match=r"BMP 04 \(amount\) is cut short"):
        zvt.decode_bmps(frame("04 00 00 10"))
    with pytest.raises(zvt.ZvtError, match="LLVAR length"):
        zvt.decode_bmps(frame("22 08 00"))
    with pytest.raises(zvt.ZvtError, match="six digits"):
        zvt.registration("12345", "EUR")
    with pytest.raises(zvt.ZvtError, match="not a currency"):
        zvt.authorisation(Decimal("1"), "XYZ")
    with pytest.raises(zvt.ZvtError, match="not an amount in cents"):
        zvt.authorisation(Decimal("1.005"), "EUR")
