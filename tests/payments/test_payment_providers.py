"""The provider adapters against the simulators over local HTTP: signatures both ways."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import SecretStr

from gateway.harness.wallets import WalletSimulator
from gateway.payments import machine as pm
from gateway.payments import wechat
from gateway.payments.alipay import Alipay
from gateway.payments.settings import AlipaySettings, WeChatPaySettings
from gateway.payments.wechat import WeChatPay


@pytest.fixture
def sim() -> Iterator[WalletSimulator]:
    simulator = WalletSimulator(wechat_sign_type="MD5")
    simulator.start()
    try:
        yield simulator
    finally:
        simulator.stop()


def payment(provider: str = "wechat") -> pm.Payment:
    return pm.start("order1", provider, Decimal("8.80"), "CNY", "1345…6789", 0).payment  # type: ignore[arg-type]


def wechat_pay(sim: WalletSimulator, key: str | None = None) -> WeChatPay:
    settings = WeChatPaySettings(
        enabled=True,
        url=sim.url,
        appid="wx1",
        mch_id="1",
        key=SecretStr(key or sim.wechat_key),
        sign_type="MD5",
    )
    return WeChatPay(settings, 2)


def test_the_documented_md5_signature() -> None:
    # the example of the provider's signing rule: sorted, k=v&..., &key=, MD5, upper case
    fields = {"appid": "wxd930ea5d5a258f4f", "mch_id": "10000100", "device_info": "1000",
              "body": "test", "nonce_str": "ibuaiVcKdpRxkhJA"}  # fmt: skip
    assert wechat.sign(fields, "192006250b4c09247ec02edce69f6a2d") == (
        "9A0A8659F005D6984697E2CA0A9CF3B7"
    )


def test_wechat_password_then_paid(sim: WalletSimulator) -> None:
    sim.script("password")
    provider = wechat_pay(sim)
    assert provider.pay(payment(), "134567890123456789") == pm.Answer("pay", "waiting")
    assert provider.query(payment()) == pm.Answer("query", "waiting")
    paid = provider.query(payment())
    assert isinstance(paid, pm.Answer) and paid.outcome == "paid" and paid.transaction_id
    assert sim.net_charged("order1") == Decimal("8.80")


def test_a_request_signed_with_another_key_is_refused_and_charges_nothing(
    sim: WalletSimulator,
) -> None:
    answer = wechat_pay(sim, key="f" * 32).pay(payment(), "134567890123456789")
    assert isinstance(answer, pm.Answer) and answer.outcome == "declined"
    assert sim.rejected == ["/pay/micropay"] and sim.ledger == {}


def test_an_answer_not_signed_with_the_merchant_key_is_no_answer(sim: WalletSimulator) -> None:
    sim.answer_key = "e" * 32  # answers signed with a key that is not the merchant's
    answer = wechat_pay(sim).pay(payment(), "134567890123456789")
    assert answer == pm.NoAnswer("pay", "WeChat Pay's answer is not signed with the merchant key")


def alipay(sim: WalletSimulator, directory: Path) -> Alipay:
    private, public = sim.write_keys(directory)
    settings = AlipaySettings(
        enabled=True,
        url=f"{sim.url}/gateway.do",
        app_id="2021",
        private_key_file=private,
        alipay_public_key_file=public,
    )
    return Alipay(settings, 2)


def test_alipay_rsa2_paid_then_cancel_refunds(sim: WalletSimulator, tmp_path: Path) -> None:
    provider = alipay(sim, tmp_path)
    paid = provider.pay(payment("alipay"), "28765432109876543210")
    assert isinstance(paid, pm.Answer) and paid.outcome == "paid", paid
    assert provider.revoke(payment("alipay")) == pm.Answer("revoke", "revoked", reason="revoked")
    assert sim.net_charged("order1") == 0 and sim.rejected == []


def test_alipay_answer_with_a_wrong_signature_is_no_answer(
    sim: WalletSimulator, tmp_path: Path
) -> None:
    provider = alipay(sim, tmp_path)
    provider.public = sim.app_key.public_key()  # not Alipay's key
    assert isinstance(provider.query(payment("alipay")), pm.NoAnswer)
