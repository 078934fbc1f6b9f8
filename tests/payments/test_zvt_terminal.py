"""The ZVT card terminal adapter against the terminal simulator over local TCP: each
scripted outcome as the payment machine's answer, the terminal's references and the masked
card number back, and an answer lost after approval found again by repeat receipt."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from pydantic import SecretStr

from gateway.cardsafe import has_card_data
from gateway.harness.zvt_terminal import PAN, ZvtTerminalSimulator
from gateway.payments import machine as pm
from gateway.payments import zvt
from gateway.payments.settings import TerminalSettings
from gateway.payments.terminal import ZvtTerminal


@pytest.fixture
def sim() -> Iterator[ZvtTerminalSimulator]:
    with ZvtTerminalSimulator(delay_s=0.3) as simulator:
        yield simulator


def terminal(
    sim: ZvtTerminalSimulator, password: str = "123456", known: set[str] | None = None
) -> ZvtTerminal:
    settings = TerminalSettings(
        enabled=True,
        host="127.0.0.1",
        port=sim.port,
        password=SecretStr(password),
        currency="EUR",
        timeout_s=1.0,
    )
    seen = known if known is not None else set()
    return ZvtTerminal(settings, known=seen.__contains__)


def payment(amount: str = "12.50") -> pm.Payment:
    return pm.start("p1", "card", Decimal(amount), "EUR", "", 0).payment


@pytest.mark.parametrize("outcome", ["approved", "slow"])
def test_approved_with_the_terminals_references(sim: ZvtTerminalSimulator, outcome: str) -> None:
    sim.script(outcome)
    answer = terminal(sim).pay(payment(), "")
    assert answer == pm.Answer(
        "pay", "paid", transaction_id="TID52500001-TR000001-R0001", card="************1111"
    )
    assert PAN not in repr(answer)
    assert sim.charged() == Decimal("12.50")
    assert sim.requests == ["registration", "authorisation"]
    [registered] = sim.registered
    assert (registered.password, registered.config, registered.currency) == ("123456", 0x38, "0978")


def test_declined(sim: ZvtTerminalSimulator) -> None:
    sim.script("declined")
    answer = terminal(sim).pay(payment(), "")
    assert answer == pm.Answer("pay", "declined", reason="declined by the card issuer (Abgelehnt)")
    assert sim.charged() == 0


def test_a_wrong_password_charges_nothing(sim: ZvtTerminalSimulator) -> None:
    answer = terminal(sim, password="654321").pay(payment(), "")
    assert isinstance(answer, pm.Answer) and answer.outcome == "declined"
    assert "check [payments.terminal] password" in answer.reason
    assert sim.ledger == [] and "authorisation" not in sim.requests


def test_a_terminal_that_answers_nothing_is_no_answer(sim: ZvtTerminalSimulator) -> None:
    sim.script("silent")
    answer = terminal(sim).pay(payment(), "")
    assert isinstance(answer, pm.NoAnswer) and answer.call == "pay"
    assert "nothing from the terminal for 1 s" in answer.reason
    # back again: its last receipt is not this payment's (there is none)
    sim.script("approved")
    asked = terminal(sim).query(payment())
    assert asked == pm.Answer(
        "query", "revoked", reason="the terminal has no payment to repeat: nothing was charged"
    )


def test_a_terminal_switched_off(sim: ZvtTerminalSimulator) -> None:
    switched_off = terminal(sim)
    sim.stop()
    answer = switched_off.pay(payment(), "")
    assert isinstance(answer, pm.NoAnswer) and "did not answer" in answer.reason


def test_an_answer_lost_after_approval_is_found_by_repeat_receipt(
    sim: ZvtTerminalSimulator,
) -> None:
    sim.script("lost")
    lost = terminal(sim).pay(payment(), "")
    assert isinstance(lost, pm.NoAnswer) and "closed the connection" in lost.reason
    assert sim.charged() == Decimal("12.50")  # charged: the till must not pay again
    found = terminal(sim).query(payment())
    assert found == pm.Answer(
        "query", "paid", transaction_id="TID52500001-TR000001-R0001", card="************1111"
    )
    assert sim.requests[-2:] == ["registration", "repeat receipt"]
    # another amount, or a reference the till already recorded, is not this payment
    assert terminal(sim).query(payment("9.99")).outcome == "revoked"  # type: ignore[union-attr]
    known = terminal(sim, known={"TID52500001-TR000001-R0001"}).query(payment())
    assert isinstance(known, pm.Answer) and known.outcome == "revoked"
    assert "an earlier sale's" in known.reason


def test_reversal_by_receipt_number(sim: ZvtTerminalSimulator) -> None:
    paid = terminal(sim).pay(payment(), "")
    assert isinstance(paid, pm.Answer) and paid.transaction_id
    taken = pm.Payment(**{**payment().__dict__, "transaction_id": paid.transaction_id})
    reversed_ = terminal(sim).revoke(taken)
    assert reversed_ == pm.Answer("revoke", "revoked", reason="reversed at the terminal")
    assert sim.charged() == 0 and sim.requests[-1] == "reversal"
    again = terminal(sim).revoke(taken)  # already reversed: still revoked
    assert isinstance(again, pm.Answer) and again.outcome == "revoked"


def test_a_lost_answer_is_reversed_from_the_repeat_receipt(sim: ZvtTerminalSimulator) -> None:
    sim.script("lost")
    assert isinstance(terminal(sim).pay(payment(), ""), pm.NoAnswer)
    revoked = terminal(sim).revoke(payment())
    assert isinstance(revoked, pm.Answer) and revoked.outcome == "revoked"
    assert sim.requests[-3:] == ["repeat receipt", "registration", "reversal"]
    assert sim.charged() == 0


def test_the_terminals_references_never_read_as_a_card_number() -> None:
    # 52500001 000005 0005 run together is Luhn-valid: a record would mask it
    status = zvt.StatusInformation(
        0, terminal_id="52500001", trace_number="000005", receipt_number="0005"
    )
    assert has_card_data("52500001-000005-0005")
    assert ZvtTerminal.reference(status) == "TID52500001-TR000005-R0005"
    assert not has_card_data(ZvtTerminal.reference(status))


def refund_of(paid: pm.Answer, amount: str) -> pm.Payment:
    sale = pm.Payment(**{**payment().__dict__, "transaction_id": paid.transaction_id})
    return pm.start_refund("r1", sale, Decimal(amount), "p1R1", "", 0).payment


@pytest.mark.parametrize("outcome", ["approved", "slow"])
def test_a_refund_goes_back_to_the_card(sim: ZvtTerminalSimulator, outcome: str) -> None:
    paid = terminal(sim).pay(payment(), "")
    assert isinstance(paid, pm.Answer) and paid.outcome == "paid"
    sim.script(outcome)
    back = terminal(sim).refund(refund_of(paid, "5.00"))
    assert back == pm.Answer(
        "pay", "paid", transaction_id="TID52500001-TR000002-R0002", card="************1111"
    )
    assert PAN not in repr(back)
    assert sim.requests[-2:] == ["registration", "refund"]
    assert sim.refunded() == [Decimal("5.00")] and sim.charged() == Decimal("7.50")


def test_a_refund_the_terminal_declines_or_never_answers(sim: ZvtTerminalSimulator) -> None:
    paid = terminal(sim).pay(payment(), "")
    assert isinstance(paid, pm.Answer)
    sim.script("declined")
    declined = terminal(sim).refund(refund_of(paid, "12.50"))
    assert declined == pm.Answer(
        "pay", "declined", reason="declined by the card issuer (Abgelehnt)"
    )
    sim.script("silent")
    silent = terminal(sim).refund(refund_of(paid, "12.50"))
    assert isinstance(silent, pm.NoAnswer) and "nothing from the terminal" in silent.reason
    assert sim.refunded() == [] and sim.charged() == Decimal("12.50")
    # back again: the last receipt is the sale's own payment, which the till recorded
    known = terminal(sim, known={paid.transaction_id or ""})
    asked = known.refund_query(refund_of(paid, "12.50"))
    assert isinstance(asked, pm.Answer) and asked.outcome == "unpaid", asked
    assert "nothing was refunded" in asked.reason


def test_a_refund_whose_answer_was_lost_is_found_by_repeat_receipt(
    sim: ZvtTerminalSimulator,
) -> None:
    paid = terminal(sim).pay(payment(), "")
    assert isinstance(paid, pm.Answer)
    sim.script("lost")
    lost = terminal(sim).refund(refund_of(paid, "2.50"))
    assert isinstance(lost, pm.NoAnswer)
    assert sim.refunded() == [Decimal("2.50")]  # it went back: the till must not send it again
    known = terminal(sim, known={paid.transaction_id or ""})
    found = known.refund_query(refund_of(paid, "2.50"))
    assert found == pm.Answer(
        "query", "paid", transaction_id="TID52500001-TR000002-R0002", card="************1111"
    )
