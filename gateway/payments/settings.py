"""The `[payments]` section of the box settings: which wallets the till takes, the
merchant's ids, keys and certificates, the providers' timing rules, and the card terminal.

Owns only this model (gateway/settings.py assembles it); must not import gateway.settings.
Keys are `SecretStr` (shown as *** by `gateway config check`), and none of them is ever
journalled. What the keys mean is in docs/payments.md ("Settings").
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

# The providers' rules (as gateway.payments.machine's defaults; not imported from there:
# the barcodes room imports these settings, and the machine imports the barcodes room)
POLL_S = 4.0
REVOKE_S = 30.0


class WeChatPaySettings(BaseModel):
    """`[payments.wechat]`: WeChat Pay v2 code payment (付款码支付, micropay)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    url: str = Field(
        "https://api.mch.weixin.qq.com",
        description="API base: /pay/micropay, /pay/orderquery, /secapi/pay/reverse, "
        "/secapi/pay/refund are under it (a simulator's address in tests)",
    )
    appid: str = Field("", description="the app id bound to the merchant (wx...)")
    mch_id: str = Field("", description="the merchant number WeChat Pay gave")
    key: SecretStr | None = Field(None, description="the API key (32 characters) that signs")
    sign_type: Literal["MD5", "HMAC-SHA256"] = "HMAC-SHA256"
    cert_file: Path | None = Field(
        None, description="the merchant's API client certificate (PEM): reverse and refund"
    )
    key_file: Path | None = Field(None, description="its private key (PEM)")

    @model_validator(mode="after")
    def _complete(self) -> WeChatPaySettings:
        if self.enabled:
            missing = [k for k in ("appid", "mch_id") if not getattr(self, k)]
            if self.key is None or not self.key.get_secret_value():
                missing.append("key")
            if missing:
                raise ValueError(
                    "WeChat Pay is enabled but " + ", ".join(missing) + " is not set "
                    "(from the merchant platform pay.weixin.qq.com: 账户中心 > API安全)"
                )
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError(
                "cert_file and key_file go together (the API client certificate and its "
                "key, apiclient_cert.pem and apiclient_key.pem): set both or neither"
            )
        return self


class AlipaySettings(BaseModel):
    """`[payments.alipay]`: Alipay face-to-face payment (当面付, alipay.trade.pay bar_code)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    url: str = Field("https://openapi.alipay.com/gateway.do", description="the gateway")
    app_id: str = Field("", description="the application's id on open.alipay.com")
    private_key_file: Path | None = Field(
        None, description="the application's RSA private key (PEM) that signs (RSA2)"
    )
    alipay_public_key_file: Path | None = Field(
        None, description="Alipay's public key (PEM) that checks each answer's signature"
    )

    @model_validator(mode="after")
    def _complete(self) -> AlipaySettings:
        if self.enabled:
            missing = [
                k
                for k in ("app_id", "private_key_file", "alipay_public_key_file")
                if not getattr(self, k)
            ]
            if missing:
                raise ValueError(
                    "Alipay is enabled but " + ", ".join(missing) + " is not set "
                    "(from open.alipay.com: the application's 开发设置 > 接口加签方式)"
                )
        return self


class TerminalSettings(BaseModel):
    """`[payments.terminal]`: a card terminal the till drives over ZVT (TCP), the DACH
    terminals' ECR interface. Enabled, F9 "Card" sends the amount to it."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    host: str = Field("", description="the terminal's address on the shop network")
    port: int = Field(20007, ge=1, le=65535, description="its ZVT port (20007 by default)")
    password: SecretStr | None = Field(
        None, description="the terminal's six-digit password (the cashier's, not the merchant's)"
    )
    currency: Literal["EUR", "CHF", "GBP", "USD", "CNY", "DKK"] = Field(
        "EUR", description="the currency the terminal is set up for (the sales' currency)"
    )
    timeout_s: float = Field(
        120.0,
        gt=0,
        le=600,
        description="seconds the terminal may stay silent during a payment (the customer "
        "inserts the card and types the PIN) before the payment is in doubt",
    )

    @model_validator(mode="after")
    def _complete(self) -> TerminalSettings:
        if not self.enabled:
            return self
        missing = [] if self.host.strip() else ["host"]
        password = self.password.get_secret_value() if self.password is not None else ""
        if not password:
            missing.append("password")
        if missing:
            raise ValueError(
                "the card terminal is enabled but " + ", ".join(missing) + " is not set "
                "(the terminal's IP address and its six-digit password, from the terminal's "
                "set-up menu or the terminal provider)"
            )
        if len(password) != 6 or not password.isdigit():
            raise ValueError(
                "the card terminal's password must be six digits (as the terminal's set-up "
                "menu shows it; 000000 on many terminals as delivered)"
            )
        return self


class PaymentSettings(BaseModel):
    """`[payments]`: wallet payments by scanned payment code, and the card terminal."""

    model_config = ConfigDict(extra="forbid")

    poll_s: float = Field(
        POLL_S, gt=0, le=10, description="seconds between queries while the customer confirms"
    )
    revoke_s: float = Field(
        REVOKE_S, gt=0, le=120, description="seconds after which an unconfirmed payment is revoked"
    )
    timeout_s: float = Field(
        10.0, gt=0, le=60, description="seconds one call to a provider may take"
    )
    wechat: WeChatPaySettings = Field(default_factory=WeChatPaySettings)
    alipay: AlipaySettings = Field(default_factory=AlipaySettings)
    terminal: TerminalSettings = Field(default_factory=TerminalSettings)

    def files(self) -> list[tuple[str, Path]]:
        """The key and certificate files of the enabled providers (config check: exist?)."""
        found: list[tuple[str, Path]] = []
        if self.wechat.enabled:
            for key in ("cert_file", "key_file"):
                path = getattr(self.wechat, key)
                if path is not None:
                    found.append((f"payments.wechat.{key}", path))
        if self.alipay.enabled:
            for key in ("private_key_file", "alipay_public_key_file"):
                path = getattr(self.alipay, key)
                if path is not None:
                    found.append((f"payments.alipay.{key}", path))
        return found
