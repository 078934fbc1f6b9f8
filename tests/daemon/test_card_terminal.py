"""Card payments through `gateway run` against the ZVT terminal simulator (issue 16 item
4): "Card" (F9, `tender type=card`) with no typed reference sends the amount to the
terminal; each state change is a `payment` record; a terminal that answers nothing leaves
the tender in doubt with a visible reason until the terminal is asked again; an answer
lost after approval is found by repeat receipt and charged once; a typed reference still
records a payment made elsewhere; the full card number is in no file and no log.

Refunds of a card sale to `card` go back to the card through the terminal (ZVT refund,
06 31) with the same states: in part and in full, declined (nothing recorded as refunded),
a silent terminal (in doubt, then resolved by repeat receipt), and an answer lost with the
box killed before the lane recorded it (recorded at the next ask, never sent twice)."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from card_testkit import assert_pan_kept_nowhere, card_config
from daemon_testkit import NO_SYNC, Daemon
from wallet_testkit import (
    payments,
    refunds,
    report_x,
    ring_up,
    sale_total,
    sales,
    states,
    wait_lane,
)

from gateway.harness.zvt_terminal import ZvtTerminalSimulator
from gateway.payments.machine import FINAL

SUPERVISOR = {"supervisor": "201", "supervisor_pin": "836104"}

REFERENCE = "TID52500001-TR000001-R0001"


@pytest.fixture
def terminal() -> Iterator[ZvtTerminalSimulator]:
    with ZvtTerminalSimulator(delay_s=3.0) as simulator:
        yield simulator


def test_the_terminal_pays_the_sale(tmp_path: Path, terminal: ZvtTerminalSimulator) -> None:
    daemon = Daemon(tmp_path, card_config(tmp_path, terminal), NO_SYNC)
    try:
        ring_up(daemon)
        started = daemon.key("tender", type="card")
        assert started["ok"], started
        assert str(started["notices"]).startswith("['Waiting for the card terminal: "), started
        wait_lane(daemon, lambda lane: lane["state"] == "idle")
    finally:
        assert daemon.stop() == 0, daemon.output()
    assert states(tmp_path) == ["pending", "paid"]
    paid = payments(tmp_path)[-1]
    assert paid["provider"] == "card" and paid["transaction_id"] == REFERENCE
    assert paid["code"] == "************1111"
    [sale] = sales(tmp_path)
    [tender] = sale["tenders"]
    assert tender["type"] == "card" and tender["reference"] == REFERENCE
    assert tender["card"] == "************1111"
    assert Decimal(tender["amount"]) == sale_total(sale) == terminal.charged()
    [registered] = terminal.registered
    assert (registered.password, registered.currency) == ("123456", "0756")
    [receipt] = (tmp_path / "receipts").glob("*-sale.txt")
    assert f"Card ************1111\n{REFERENCE}  " in receipt.read_text()  # wrapped, not cut
    x = report_x(tmp_path / "gateway.toml")
    assert [(r["key"], r["count"]) for r in x["by_provider"]] == [("card", 1)]
    assert_pan_kept_nowhere(tmp_path, daemon)


def test_declined_then_cash(tmp_path: Path, terminal: ZvtTerminalSimulator) -> None:
    terminal.script("declined")
    daemon = Daemon(tmp_path, card_config(tmp_path, terminal), NO_SYNC)
    try:
        ring_up(daemon)
        assert daemon.key("tender", type="card")["ok"]
        wait_lane(daemon, lambda lane: lane["payment"] is None)
        assert daemon.status()["lane"]["state"] == "tendering"  # type: ignore[index]
        paid = daemon.key("tender", type="cash", amount="50")
        assert paid["ok"] and paid["state"] == "idle", paid
    finally:
        assert daemon.stop() == 0, daemon.output()
    assert states(tmp_path) == ["pending", "declined"]
    assert payments(tmp_path)[-1]["reason"] == "declined by the card issuer (Abgelehnt)"
    [sale] = sales(tmp_path)
    assert [t["type"] for t in sale["tenders"]] == ["cash"] and terminal.charged() == 0


def test_a_terminal_that_answers_nothing_leaves_the_tender_in_doubt(
    tmp_path: Path, terminal: ZvtTerminalSimulator
) -> None:
    terminal.silent = True
    daemon = Daemon(tmp_path, card_config(tmp_path, terminal), NO_SYNC)
    try:
        ring_up(daemon)
        assert daemon.key("tender", type="card")["ok"]
        lane = wait_lane(daemon, lambda lane: (lane["payment"] or {}).get("state") == "in_doubt")
        assert "the card terminal did not answer" in lane["payment"]["reason"], lane
        refused = daemon.key("tender", type="cash", amount="50")
        assert refused["refused"] == "payment_in_doubt", refused
        assert "the card terminal did not answer" in str(refused["error"])
        x = report_x(tmp_path / "gateway.toml")
        assert [d["provider"] for d in x["in_doubt"]] == ["card"]
        terminal.silent = False  # back: its last receipt is not this payment's
        wait_lane(daemon, lambda lane: lane["payment"] is None)
        assert daemon.status()["lane"]["state"] == "tendering"  # type: ignore[index]
        assert daemon.key("tender", type="card")["ok"]  # Card again
        wait_lane(daemon, lambda lane: lane["state"] == "idle")
    finally:
        assert daemon.stop() == 0, daemon.output()
    assert states(tmp_path) == ["pending", "in_doubt", "revoked", "pending", "paid"]
    revoked = payments(tmp_path)[2]
    assert revoked["reason"] == "the terminal has no payment to repeat: nothing was charged"
    assert "repeat receipt" in terminal.requests
    [sale] = sales(tmp_path)
    assert terminal.charged() == sale_total(sale) and len(terminal.ledger) == 1


def test_an_answer_lost_after_approval_is_charged_once(
    tmp_path: Path, terminal: ZvtTerminalSimulator
) -> None:
    terminal.script("lost", "approved")
    daemon = Daemon(tmp_path, card_config(tmp_path, terminal), NO_SYNC)
    try:
        ring_up(daemon)
        assert daemon.key("tender", type="card")["ok"]
        wait_lane(daemon, lambda lane: lane["state"] == "idle")
        # the next sale: the terminal's last receipt is now an earlier sale's
        ring_up(daemon)
        assert daemon.key("tender", type="card")["ok"]
        wait_lane(daemon, lambda lane: lane["state"] == "idle")
    finally:
        assert daemon.stop() == 0, daemon.output()
    first, second = dict.fromkeys(p["payment_id"] for p in payments(tmp_path))
    assert [p["state"] for p in payments(tmp_path) if p["payment_id"] == first] == [
        "pending",
        "in_doubt",
        "paid",
    ]
    bodies = payments(tmp_path)
    assert bodies[1]["reason"].startswith("the card terminal did not answer")
    assert bodies[2]["transaction_id"] == REFERENCE
    assert [p["state"] for p in bodies if p["payment_id"] == second] == ["pending", "paid"]
    assert len(sales(tmp_path)) == 2 and len(terminal.ledger) == 2
    assert terminal.charged() == sum((sale_total(s) for s in sales(tmp_path)), Decimal(0))
    assert_pan_kept_nowhere(tmp_path, daemon)


def test_kill_mid_payment_is_resolved_at_the_next_start(
    tmp_path: Path, terminal: ZvtTerminalSimulator
) -> None:
    terminal.script("slow")  # three seconds of "insert the card"
    config = card_config(tmp_path, terminal, timeout_s=5.0)
    daemon = Daemon(tmp_path, config, NO_SYNC)
    ring_up(daemon)
    assert daemon.key("tender", type="card")["ok"]
    terminal.wait_for("authorisation")
    daemon.stop(signal.SIGKILL)
    terminal.script("approved")
    again = Daemon(tmp_path, config, NO_SYNC)
    try:
        lane = wait_lane(again, lambda lane: lane["payment"] is None)
        assert lane["state"] == "tendering", lane
        assert again.key("tender", type="card")["ok"]
        wait_lane(again, lambda lane: lane["state"] == "idle")
    finally:
        assert again.stop() == 0, again.output()
    bodies = payments(tmp_path)
    assert [p["state"] for p in bodies] == ["pending", "in_doubt", "revoked", "pending", "paid"]
    assert bodies[1]["reason"] == "the box stopped during the payment"
    [sale] = sales(tmp_path)
    assert terminal.charged() == sale_total(sale) and len(terminal.ledger) == 1


def test_a_typed_reference_is_a_payment_made_elsewhere(
    tmp_path: Path, terminal: ZvtTerminalSimulator
) -> None:
    daemon = Daemon(tmp_path, card_config(tmp_path, terminal), NO_SYNC)
    try:
        ring_up(daemon)
        paid = daemon.key("tender", type="card", reference="T-4711")
        assert paid["ok"] and paid["state"] == "idle", paid
        [sale] = sales(tmp_path)
        # its refund to card is the lane's as before: paid back at that other terminal
        refunded = refund_to_card(daemon, sale)
        assert refunded["ok"] and refunded["records"], refunded
    finally:
        assert daemon.stop() == 0, daemon.output()
    assert payments(tmp_path) == [] and terminal.requests == []
    assert sale["tenders"][0]["reference"] == "T-4711"
    [refund] = refunds(tmp_path)
    assert refund["tenders"][0]["type"] == "card"


def test_a_supervisor_confirms_a_card_payment_in_doubt(
    tmp_path: Path, terminal: ZvtTerminalSimulator
) -> None:
    terminal.silent = True
    daemon = Daemon(tmp_path, card_config(tmp_path, terminal), NO_SYNC)
    try:
        ring_up(daemon)
        assert daemon.key("tender", type="card")["ok"]
        wait_lane(daemon, lambda lane: (lane["payment"] or {}).get("state") == "in_doubt")
        confirmed = daemon.ask(
            {
                "command": "lane",
                "action": "resolve_payment",
                "decision": "confirm",
                "transaction_id": "TID52500001-TR000009-R0009",
                "reason": "the terminal's receipt says approved",
                "staff": "201",
                "pin": "836104",
            }
        )
        assert confirmed["ok"], confirmed
        wait_lane(daemon, lambda lane: lane["state"] == "idle")
    finally:
        assert daemon.stop() == 0, daemon.output()
    assert states(tmp_path) == ["pending", "in_doubt", "paid"]
    paid = payments(tmp_path)[-1]
    assert paid["supervisor"] == "201" and paid["transaction_id"] == "TID52500001-TR000009-R0009"
    [sale] = sales(tmp_path)
    assert sale["tenders"][0]["reference"] == "TID52500001-TR000009-R0009"


def test_part_of_the_sale_by_card_and_a_terminal_in_another_currency(
    tmp_path: Path, terminal: ZvtTerminalSimulator
) -> None:
    daemon = Daemon(tmp_path, card_config(tmp_path, terminal), NO_SYNC)
    try:
        ring_up(daemon)
        ring_up(daemon)
        over = daemon.key("tender", type="card", amount="999")
        assert over["refused"] == "no_change", over
        assert daemon.status()["lane"]["state"] == "in_sale"  # type: ignore[index]
        assert daemon.key("tender", type="card", amount="1.00")["ok"]
        wait_lane(daemon, lambda lane: lane["payment"] is None)
        assert daemon.status()["lane"]["state"] == "tendering"  # type: ignore[index]
        too_much = daemon.key("tender", type="card", amount="999")
        assert too_much["refused"] == "no_change", too_much
        assert daemon.key("tender", type="cash", amount="50")["state"] == "idle"
    finally:
        assert daemon.stop() == 0, daemon.output()
    [sale] = sales(tmp_path)
    card, cash = sale["tenders"]
    assert (card["type"], card["amount"], cash["type"]) == ("card", "1.00", "cash")
    assert terminal.charged() == Decimal("1.00")
    euro = tmp_path / "euro"
    euro.mkdir()
    daemon = Daemon(euro, card_config(euro, terminal, currency="EUR"), NO_SYNC)
    try:
        ring_up(daemon)
        refused = daemon.key("tender", type="card")
        assert refused["refused"] == "payment_declined", refused
        assert "set up for EUR and this sale is in CHF" in str(refused["error"])
    finally:
        assert daemon.stop() == 0, daemon.output()
    assert payments(euro) == [] and terminal.charged() == Decimal("1.00")


def card_sale(daemon: Daemon, items: int = 1) -> dict[str, object]:
    """A sale of `items` scans paid at the terminal; its journal body."""
    for _ in range(items):
        ring_up(daemon)
    assert daemon.key("tender", type="card")["ok"]
    wait_lane(daemon, lambda lane: lane["state"] == "idle")
    return sales(daemon.directory)[-1]


def refund_to_card(daemon: Daemon, sale: dict[str, object], **fields: str) -> dict[str, object]:
    return daemon.key(
        "refund",
        receipt=str(sale["receipt_id"]),
        reason="broken",
        tender="card",
        **SUPERVISOR,
        **fields,
    )


def settled(daemon: Daemon, count: int) -> list[dict[str, object]]:
    """Wait for the `count`th refund payment to reach a final state; the payment records."""
    deadline = time.monotonic() + 20
    while True:
        bodies = [p for p in payments(daemon.directory) if p.get("kind") == "refund"]
        last = {p["payment_id"]: p["state"] for p in bodies}
        if len(last) >= count and all(state in {s.value for s in FINAL} for state in last.values()):
            wait_lane(daemon, lambda lane: lane["payment"] is None)
            return payments(daemon.directory)
        assert time.monotonic() < deadline, (bodies, daemon.output()[-3000:])
        time.sleep(0.05)


def test_a_card_sale_refunded_in_part_and_in_full_through_the_terminal(
    tmp_path: Path, terminal: ZvtTerminalSimulator
) -> None:
    config = card_config(tmp_path, terminal)
    daemon = Daemon(tmp_path, config, NO_SYNC)
    try:
        sale = card_sale(daemon, items=3)
        bad = refund_to_card(daemon, sale, lines="first")
        assert bad["ok"] is False and "N:Q" in str(bad["error"]), bad
        part = refund_to_card(daemon, sale, lines="1:1")
        assert part["ok"] and part["records"] == [], part  # nothing recorded yet
        assert part["notices"] == [
            "Refunding 1.75 to the card: the customer presents it at the terminal."
        ], part
        settled(daemon, 1)
        rest = refund_to_card(daemon, sale)
        assert rest["ok"], rest
        settled(daemon, 2)
        again = refund_to_card(daemon, sale)
        assert again["refused"] == "already_refunded", again
    finally:
        assert daemon.stop() == 0, daemon.output()
    assert states(tmp_path) == ["pending", "paid"] * 3
    original = payments(tmp_path)[1]
    first, second = refunds(tmp_path)
    amounts = [Decimal(r["tenders"][0]["amount"]) for r in (first, second)]
    assert sum(amounts, Decimal(0)) == sale_total(sale) and amounts[0] < amounts[1]
    # the simulator's ledger agrees with the journal: what went back, what stays charged
    assert terminal.refunded() == amounts and terminal.charged() == 0
    assert terminal.requests.count("refund") == 2
    refund_records = [p for p in payments(tmp_path) if p.get("kind") == "refund"]
    for record, body, receipt in zip(
        refund_records[1::2], (first, second), ("2", "3"), strict=True
    ):
        assert record["refund_of"] == original["out_trade_no"]
        assert record["transaction_id"] == f"TID52500001-TR00000{receipt}-R000{receipt}"
        assert record["code"] == "************1111"
        [tender] = body["tenders"]
        assert tender["type"] == "card"
        assert tender["reference"] == f"Card refund {record['transaction_id']}"
    x = report_x(config)
    rows = {r["key"]: (r["count"], r["amount"]) for r in x["by_provider"]}
    assert rows == {"card": (1, str(sale_total(sale))), "card refunds": (2, str(sale_total(sale)))}
    assert_pan_kept_nowhere(tmp_path, daemon)


def test_a_refund_the_terminal_declines_records_nothing(
    tmp_path: Path, terminal: ZvtTerminalSimulator
) -> None:
    daemon = Daemon(tmp_path, card_config(tmp_path, terminal), NO_SYNC)
    try:
        sale = card_sale(daemon)
        terminal.script("declined")
        assert refund_to_card(daemon, sale)["ok"]
        settled(daemon, 1)
        assert refunds(tmp_path) == []  # nothing journalled as refunded
        terminal.script("approved")  # the customer's other card, or the same card again
        assert refund_to_card(daemon, sale)["ok"]
        settled(daemon, 2)
    finally:
        assert daemon.stop() == 0, daemon.output()
    assert states(tmp_path) == ["pending", "paid", "pending", "declined", "pending", "paid"]
    declined = payments(tmp_path)[3]
    assert declined["reason"] == "declined by the card issuer (Abgelehnt)"
    assert (
        "The card terminal did not refund 1.75 (declined by the card issuer (Abgelehnt)): "
        "nothing went back and nothing is recorded as refunded" in daemon.output()
    )
    [refund] = refunds(tmp_path)
    assert Decimal(refund["tenders"][0]["amount"]) == sale_total(sale)
    assert terminal.refunded() == [sale_total(sale)] and terminal.charged() == 0


def test_a_silent_terminal_leaves_the_refund_in_doubt_until_it_answers(
    tmp_path: Path, terminal: ZvtTerminalSimulator
) -> None:
    config = card_config(tmp_path, terminal)
    daemon = Daemon(tmp_path, config, NO_SYNC)
    try:
        sale = card_sale(daemon)
        terminal.silent = True
        assert refund_to_card(daemon, sale)["ok"]
        lane = wait_lane(daemon, lambda lane: (lane["payment"] or {}).get("state") == "in_doubt")
        assert lane["payment"]["kind"] == "refund", lane
        assert "the card terminal did not answer" in lane["payment"]["reason"], lane
        held = daemon.key("scan", code="7612345001012")
        assert held["refused"] == "payment_in_doubt", held
        assert "The Card refund of 1.75 is in doubt" in str(held["error"]), held
        assert [d["provider"] for d in report_x(config)["in_doubt"]] == ["card"]
        terminal.silent = False  # back: its last receipt is the sale's own payment
        settled(daemon, 1)
        assert refunds(tmp_path) == []
        assert refund_to_card(daemon, sale)["ok"]  # the cashier tries again
        settled(daemon, 2)
    finally:
        assert daemon.stop() == 0, daemon.output()
    refunded = ["pending", "in_doubt", "declined", "pending", "paid"]
    assert states(tmp_path) == ["pending", "paid", *refunded]
    resolved = payments(tmp_path)[4]
    assert "an earlier sale's: nothing was refunded" in resolved["reason"], resolved
    assert "repeat receipt" in terminal.requests
    [refund] = refunds(tmp_path)
    assert terminal.refunded() == [sale_total(sale)] and terminal.charged() == 0
    assert Decimal(refund["tenders"][0]["amount"]) == sale_total(sale)


def test_a_refund_lost_and_the_box_killed_is_recorded_never_sent_twice(
    tmp_path: Path, terminal: ZvtTerminalSimulator
) -> None:
    config = card_config(tmp_path, terminal)
    daemon = Daemon(tmp_path, config, NO_SYNC)
    sale = card_sale(daemon)
    terminal.script("gone", "approved")  # refunded, then off the network
    assert refund_to_card(daemon, sale)["ok"]
    wait_lane(daemon, lambda lane: (lane["payment"] or {}).get("state") == "in_doubt")
    assert terminal.refunded() == [sale_total(sale)]
    daemon.stop(signal.SIGKILL)
    terminal.silent = False
    again = Daemon(tmp_path, config, NO_SYNC)
    try:
        settled(again, 1)  # the repeat receipt finds the refund: it went back
        alerts: list[dict[str, str]] = again.status()["alerts"]  # type: ignore[assignment]
        [alert] = [a for a in alerts if "refunded" in a["message"]]
        assert "the terminal is not asked again" in alert["message"], alert
        recorded = refund_to_card(again, sale)
        assert recorded["ok"] and recorded["records"], recorded
        assert refund_to_card(again, sale)["refused"] == "already_refunded"
    finally:
        assert again.stop() == 0, again.output()
    assert states(tmp_path) == ["pending", "paid", "pending", "in_doubt", "paid"]
    assert terminal.requests.count("refund") == 1  # never sent twice
    [refund] = refunds(tmp_path)
    assert (
        refund["tenders"][0]["reference"]
        == f"Card refund {payments(tmp_path)[-1]['transaction_id']}"
    )
    assert terminal.refunded() == [sale_total(sale)] and terminal.charged() == 0
    assert_pan_kept_nowhere(tmp_path, again)


def test_a_supervisor_cancels_a_card_refund_in_doubt(
    tmp_path: Path, terminal: ZvtTerminalSimulator
) -> None:
    daemon = Daemon(tmp_path, card_config(tmp_path, terminal), NO_SYNC)
    try:
        sale = card_sale(daemon)
        terminal.silent = True  # switched off: the refund never reached it
        assert refund_to_card(daemon, sale)["ok"]
        wait_lane(daemon, lambda lane: (lane["payment"] or {}).get("state") == "in_doubt")
        cancelled = daemon.ask(
            {
                "command": "lane",
                "action": "resolve_payment",
                "decision": "cancel",
                "reason": "the terminal was off: paid back in cash",
                "staff": "201",
                "pin": "836104",
            }
        )
        assert cancelled["ok"], cancelled
        wait_lane(daemon, lambda lane: lane["payment"] is None)
        cash = daemon.key("refund", receipt=str(sale["receipt_id"]), reason="broken", **SUPERVISOR)
        assert cash["ok"] and cash["records"], cash
    finally:
        assert daemon.stop() == 0, daemon.output()
    assert states(tmp_path) == ["pending", "paid", "pending", "in_doubt", "revoked"]
    cancel = payments(tmp_path)[-1]
    assert cancel["supervisor"] == "201" and cancel["reason"].startswith("the terminal was off")
    [refund] = refunds(tmp_path)
    assert [t["type"] for t in refund["tenders"]] == ["cash"]
    assert "refund" not in terminal.requests and terminal.charged() == sale_total(sale)
