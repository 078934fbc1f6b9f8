"""Wallet payments through `gateway run` against the provider simulators (issue 16):
a scanned WeChat Pay or Alipay payment code pays the sale; each state change is a journal
record; the code is kept nowhere; a kill -9 mid-payment is resolved by a query at the next
start; a supervisor resolves a payment left in doubt; the simulator's ledger agrees with the
journal (nothing charged twice)."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from daemon_testkit import GATEWAY, NO_SYNC, Daemon
from wallet_testkit import (
    ALIPAY,
    ITEM,
    WECHAT,
    assert_code_kept_nowhere,
    payments,
    refunds,
    report_x,
    ring_up,
    sale_total,
    sales,
    states,
    wait_lane,
    wallet_config,
)

from gateway.harness.wallets import WalletSimulator


@pytest.fixture
def simulator() -> Iterator[WalletSimulator]:
    sim = WalletSimulator(confirm_after=2)
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()


@pytest.mark.parametrize(("code", "name"), [(WECHAT, "WeChat Pay"), (ALIPAY, "Alipay")])
def test_a_scanned_payment_code_pays_the_sale(
    tmp_path: Path, simulator: WalletSimulator, code: str, name: str
) -> None:
    daemon = Daemon(tmp_path, wallet_config(tmp_path, simulator), NO_SYNC)
    try:
        assert daemon.key("sign_on", staff="101", pin="472951")["ok"]
        early = daemon.key("scan", code=code)  # no sale yet: nothing to pay
        assert early["refused"] == "payment_code_scanned", early
        assert "Ring up the items first" in str(early["error"]) and code not in str(early)
        ring_up(daemon)
        started = daemon.key("scan", code=code)
        assert started["ok"], started
        assert any(name in n for n in started["notices"]), started  # type: ignore[union-attr]
        wait_lane(daemon, lambda lane: lane["state"] == "idle")
    finally:
        assert daemon.stop() == 0, daemon.output()
    assert states(tmp_path) == ["pending", "paid"]
    paid = payments(tmp_path)[-1]
    [sale] = sales(tmp_path)
    [tender] = sale["tenders"]
    assert tender["type"] == "mobile" and tender["amount"] == paid["amount"]
    assert tender["reference"] == f"{name} {paid['transaction_id']}"
    assert paid["code"] == f"{code[:4]}…{code[-4:]}"
    receipt = next((tmp_path / "receipts").glob("*-sale.txt"), None)
    if receipt is not None:
        assert paid["transaction_id"] in receipt.read_text()
    assert simulator.charged_twice() == [] and simulator.rejected == []
    assert simulator.net_charged(paid["out_trade_no"]) == sale_total(sale)
    assert_code_kept_nowhere(tmp_path)


def test_the_customer_confirms_on_the_phone(tmp_path: Path, simulator: WalletSimulator) -> None:
    simulator.script("password")
    daemon = Daemon(tmp_path, wallet_config(tmp_path, simulator), NO_SYNC)
    try:
        ring_up(daemon)
        assert daemon.key("scan", code=WECHAT)["ok"]
        refused = daemon.key("scan", code=ITEM)  # nothing else while the customer confirms
        assert refused["refused"] == "payment_pending", refused
        wait_lane(daemon, lambda lane: lane["state"] == "idle")
    finally:
        assert daemon.stop() == 0, daemon.output()
    assert states(tmp_path) == ["pending", "paid"]
    assert "wechat orderquery" in simulator.requests
    assert len(sales(tmp_path)) == 1 and simulator.charged_twice() == []


def test_declined_leaves_the_sale_for_another_way_to_pay(
    tmp_path: Path, simulator: WalletSimulator
) -> None:
    simulator.script("declined")
    daemon = Daemon(tmp_path, wallet_config(tmp_path, simulator), NO_SYNC)
    try:
        ring_up(daemon)
        assert daemon.key("scan", code=ALIPAY)["ok"]
        wait_lane(daemon, lambda lane: lane["payment"] is None)
        assert daemon.status()["lane"]["state"] == "tendering"  # type: ignore[index]
        paid = daemon.key("tender", type="cash", amount="50")
        assert paid["ok"] and paid["state"] == "idle", paid
    finally:
        assert daemon.stop() == 0, daemon.output()
    assert states(tmp_path) == ["pending", "declined"]
    [sale] = sales(tmp_path)
    assert [t["type"] for t in sale["tenders"]] == ["cash"]


@pytest.mark.parametrize("outcome", ["never", "late"])
def test_unconfirmed_is_revoked_and_nothing_stays_charged(
    tmp_path: Path, simulator: WalletSimulator, outcome: str
) -> None:
    simulator.script(outcome)
    daemon = Daemon(tmp_path, wallet_config(tmp_path, simulator, revoke_s=1.0), NO_SYNC)
    try:
        ring_up(daemon)
        assert daemon.key("scan", code=WECHAT)["ok"]
        wait_lane(daemon, lambda lane: lane["payment"] is None)
        assert daemon.status()["lane"]["state"] == "tendering"  # type: ignore[index]
    finally:
        assert daemon.stop() == 0, daemon.output()
    assert states(tmp_path) == ["pending", "revoked"]
    record = payments(tmp_path)[-1]
    assert record["reason"] == "not confirmed in time"
    assert simulator.net_charged(record["out_trade_no"]) == 0
    assert "wechat reverse" in simulator.requests and sales(tmp_path) == []


def test_an_error_after_the_charge_is_resolved_by_query(
    tmp_path: Path, simulator: WalletSimulator
) -> None:
    simulator.script("error_after_charge")
    daemon = Daemon(tmp_path, wallet_config(tmp_path, simulator), NO_SYNC)
    try:
        ring_up(daemon)
        assert daemon.key("scan", code=WECHAT)["ok"]
        wait_lane(daemon, lambda lane: lane["state"] == "idle")
    finally:
        assert daemon.stop() == 0, daemon.output()
    assert states(tmp_path) == ["pending", "in_doubt", "paid"]
    assert len(sales(tmp_path)) == 1 and simulator.charged_twice() == []


def test_kill_9_mid_payment_then_the_restart_resolves_it_by_query(
    tmp_path: Path, simulator: WalletSimulator
) -> None:
    simulator.script("hold")
    config = wallet_config(tmp_path, simulator)
    daemon = Daemon(tmp_path, config, NO_SYNC)
    ring_up(daemon)
    assert daemon.key("scan", code=WECHAT)["ok"]
    simulator.wait_for("wechat micropay")  # charged; the answer is held
    daemon.process.kill()
    assert daemon.process.wait(10) == -9
    simulator.release()
    assert states(tmp_path) == ["pending"]
    again = Daemon(tmp_path, config, NO_SYNC)
    try:
        wait_lane(again, lambda lane: lane["state"] == "idle")
    finally:
        assert again.stop() == 0, again.output()
    assert states(tmp_path) == ["pending", "in_doubt", "paid"]
    assert payments(tmp_path)[1]["reason"] == "the box stopped during the payment"
    [sale] = sales(tmp_path)
    assert simulator.charged_twice() == []
    assert simulator.net_charged(payments(tmp_path)[0]["out_trade_no"]) == sale_total(sale)
    assert_code_kept_nowhere(tmp_path)


@pytest.mark.parametrize("decision", ["confirm", "cancel"])
def test_a_supervisor_resolves_a_payment_in_doubt(
    tmp_path: Path, simulator: WalletSimulator, decision: str
) -> None:
    simulator.script("hold")
    config = wallet_config(tmp_path, simulator)
    daemon = Daemon(tmp_path, config, NO_SYNC)
    ring_up(daemon)
    assert daemon.key("scan", code=WECHAT)["ok"]
    simulator.wait_for("wechat micropay")
    daemon.process.kill()
    assert daemon.process.wait(10) == -9
    simulator.stop()  # the provider cannot be reached: the payment stays in doubt
    again = Daemon(tmp_path, config, NO_SYNC)
    try:
        wait_lane(again, lambda lane: (lane["payment"] or {}).get("state") == "in_doubt")
        assert again.key("tender", type="cash")["refused"] == "payment_in_doubt"
        [doubt] = report_x(config)["in_doubt"]
        assert doubt["provider"] == "wechat" and doubt["state"] == "in_doubt", doubt
        assert "IN DOUBT" in report_x(config, as_json=False)
        txn = "4200000000000000000000000001"
        cashier = again.key(
            "resolve_payment",
            decision=decision,
            transaction_id=txn,
            reason="checked",
            staff="101",
            pin="472951",
        )
        assert cashier.get("refused") == "not_permitted", cashier
        no_reason = again.key(
            "resolve_payment", decision=decision, transaction_id=txn, staff="201", pin="836104"
        )
        assert no_reason["exit_code"] == 2, no_reason
        if decision == "confirm":  # as a supervisor types it: `gateway till`, PIN on stdin
            typed = subprocess.run(
                [str(GATEWAY), "till", "resolve_payment", "decision=confirm",
                 f"transaction_id={txn}", "reason=seen in the merchant app", "staff=201",
                 "--pin-stdin", "--config", str(config)],
                input="836104\n", capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            assert typed.returncode == 0, typed
            resolved = json.loads(typed.stdout.strip().splitlines()[-1])
        else:
            resolved = again.key(
                "resolve_payment",
                decision=decision,
                transaction_id=txn,
                reason="seen in the merchant app",
                staff="201",
                pin="836104",
            )
        assert resolved["ok"], resolved
        if decision == "confirm":
            wait_lane(again, lambda lane: lane["state"] == "idle")
        else:
            lane = wait_lane(again, lambda lane: lane["payment"] is None)
            assert lane["state"] == "tendering"
            assert again.key("tender", type="cash", amount="50")["state"] == "idle"
    finally:
        assert again.stop() == 0, again.output()
    final = payments(tmp_path)[-1]
    assert final["state"] == ("paid" if decision == "confirm" else "revoked")
    figures = report_x(config)
    assert figures["in_doubt"] == []
    by_provider = [(r["key"], r["count"]) for r in figures["by_provider"]]
    assert by_provider == ([("wechat", 1)] if decision == "confirm" else [])
    assert final["supervisor"] == "201" and final["reason"] == "seen in the merchant app"
    [sale] = sales(tmp_path)
    tender_types = [t["type"] for t in sale["tenders"]]
    assert tender_types == (["mobile"] if decision == "confirm" else ["cash"])


@pytest.mark.parametrize(("code", "name"), [(WECHAT, "WeChat Pay"), (ALIPAY, "Alipay")])
def test_a_refund_goes_back_through_the_provider(
    tmp_path: Path, simulator: WalletSimulator, code: str, name: str
) -> None:
    config = wallet_config(tmp_path, simulator)
    daemon = Daemon(tmp_path, config, NO_SYNC)
    try:
        ring_up(daemon)
        assert daemon.key("scan", code=code)["ok"]
        wait_lane(daemon, lambda lane: lane["state"] == "idle")
        [sale] = sales(tmp_path)
        asked = daemon.key(
            "refund",
            receipt=sale["receipt_id"],
            reason="broken",
            tender="mobile",
            supervisor="201",
            supervisor_pin="836104",
        )
        assert asked["ok"] and asked["records"] == [], asked  # nothing recorded yet
        assert asked["notices"] == [f"Refunding {sale['totals']['total']} to {name}."], asked
        deadline = time.monotonic() + 20
        while not refunds(tmp_path) and time.monotonic() < deadline:
            time.sleep(0.05)
        again = daemon.key(
            "refund",
            receipt=sale["receipt_id"],
            reason="again",
            tender="mobile",
            supervisor="201",
            supervisor_pin="836104",
        )
        assert again["refused"] == "already_refunded", again
    finally:
        assert daemon.stop() == 0, daemon.output()
    [refund] = refunds(tmp_path)
    [tender] = refund["tenders"]
    refund_record = payments(tmp_path)[-1]
    assert [p["state"] for p in payments(tmp_path)] == ["pending", "paid", "pending", "paid"]
    assert (
        refund_record["kind"] == "refund"
        and refund_record["refund_of"] == (payments(tmp_path)[0]["out_trade_no"])
    )
    assert tender["type"] == "mobile" and tender["amount"] == sale["totals"]["total"]
    assert tender["reference"] == f"{name} refund {refund_record['transaction_id']}"
    assert simulator.net_charged(refund_record["refund_of"]) == 0
    assert simulator.refunded_twice() == [] and simulator.charged_twice() == []
    figures = report_x(config)
    rows = {r["key"]: (r["count"], r["amount"]) for r in figures["by_provider"]}
    provider = "wechat" if code == WECHAT else "alipay"
    total = sale["totals"]["total"]
    assert rows == {provider: (1, total), f"{provider} refunds": (1, total)}, rows


def test_a_refund_the_provider_refuses_records_nothing(
    tmp_path: Path, simulator: WalletSimulator
) -> None:
    daemon = Daemon(tmp_path, wallet_config(tmp_path, simulator), NO_SYNC)
    try:
        ring_up(daemon)
        assert daemon.key("scan", code=WECHAT)["ok"]
        wait_lane(daemon, lambda lane: lane["state"] == "idle")
        [sale] = sales(tmp_path)
        simulator.refuse_refunds = True
        asked = daemon.key(
            "refund",
            receipt=sale["receipt_id"],
            reason="broken",
            tender="mobile",
            supervisor="201",
            supervisor_pin="836104",
        )
        assert asked["ok"], asked
        deadline = time.monotonic() + 20
        while payments(tmp_path)[-1]["state"] == "pending" and time.monotonic() < deadline:
            time.sleep(0.05)
        cash = daemon.key(
            "refund", receipt=sale["receipt_id"], reason="broken", supervisor="201",
            supervisor_pin="836104",
        )  # fmt: skip
        assert cash["ok"], cash
    finally:
        assert daemon.stop() == 0, daemon.output()
    assert payments(tmp_path)[-1]["state"] == "declined"
    assert "TRADE_OVERDUE" in payments(tmp_path)[-1]["reason"]
    [refund] = refunds(tmp_path)
    assert [t["type"] for t in refund["tenders"]] == ["cash"]
    assert simulator.net_charged(payments(tmp_path)[0]["out_trade_no"]) == sale_total(sale)
