"""The `[screens]` settings section: where the cashier and customer pages listen, who may
open them, their language and money format, and the customer pole display.

Owns only these models (gateway/settings.py assembles them with the other rooms'). Must
not import gateway.settings (that module imports this one).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

LOOPBACK = ("127.0.0.1", "::1", "localhost")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CurrencyFormatSettings(_Section):
    """How amounts read on screen; unset keys come from the catalog currency's defaults."""

    symbol: str | None = Field(None, description="e.g. 'CHF', '¥', '€'")
    pattern: str | None = Field(None, description="'{symbol} {amount}' or '{amount} {symbol}'")
    thousands: str | None = Field(None, description="grouping separator, e.g. \"'\" or ','")
    decimal: str | None = Field(None, description="decimal separator, '.' or ','")


class PoleDisplaySettings(_Section):
    """A 2x20 serial customer display (CD5220 or Epson ESC/POS command set)."""

    port: str = Field(description="serial port, e.g. /dev/serial/by-id/usb-...-port0")
    command_set: Literal["cd5220", "escpos"] = "cd5220"
    encoding: str = Field("ascii", description="ascii, cp858, gb18030 (Chinese displays)")
    baudrate: int = Field(9600, ge=1200, le=115200)
    language: Literal["en", "zh"] | None = Field(
        None, description="default: the signed-on cashier's, else the screens' language"
    )


class ScreensSettings(_Section):
    """`[screens]`: the cashier page (/) and the customer page (/customer)."""

    enabled: bool = True
    host: str = Field("127.0.0.1", description="listen address; loopback unless lan = true")
    port: int = Field(8080, ge=1, le=65535)
    lan: bool = Field(False, description="allow other machines on the LAN (staff login)")
    tls_cert: Path | None = Field(None, description="PEM certificate: serve HTTPS")
    tls_key: Path | None = Field(None, description="PEM private key of tls_cert")
    insecure_lan: bool = Field(
        False,
        description="lan = true over plain HTTP (PINs and cookies in clear on the shop's "
        "network); logged as a warning at every start",
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="host names tablets use for the screens (besides loopback, IP "
        "literals and this box's name); any other Host header is refused",
    )
    session_idle_minutes: float = Field(
        15, gt=0, le=15, description="a LAN session ends after this long without a request"
    )
    session_hours: float = Field(
        12, gt=0, le=24, description="a LAN session ends this long after its login, whatever"
    )
    language: Literal["en", "zh"] = Field(
        "en", description="the box's default: the pages while no shift is open"
    )
    staff_languages: dict[str, Literal["en", "zh"]] = Field(
        default_factory=dict,
        description='a staff member\'s own language by staff number, {"101" = "zh"}: their '
        "sign-on without a choice (a staff card) opens the shift in it",
    )
    currency: CurrencyFormatSettings = Field(default_factory=CurrencyFormatSettings)
    receipt_qr: str | None = Field(
        None,
        description="what the customer's QR code opens, e.g. "
        "'https://shop.example/r/{receipt_id}'; default: the receipt's journal reference",
    )
    thanks_seconds: float = Field(
        120,
        ge=0,
        le=3600,
        description="seconds the customer display keeps the thank-you (0: until the next "
        "sale or sign-on)",
    )
    pole_display: PoleDisplaySettings | None = None
    keypad: bool = Field(
        False, description="show an on-screen numeric keypad on the cashier page (touch screens)"
    )

    @model_validator(mode="after")
    def _safe_exposure(self) -> ScreensSettings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together: set both or neither")
        if not self.lan and self.host not in LOOPBACK:
            raise ValueError(
                f"host {self.host!r} is not loopback: set lan = true to serve "
                "the screens on the shop's network (staff login required)"
            )
        if self.lan and not self.https and not self.insecure_lan:
            raise ValueError(
                "lan = true without tls_cert/tls_key would send staff PINs and session "
                "cookies over the shop's network in clear: give a certificate and key, or "
                "set insecure_lan = true to accept that (a warning at every start)"
            )
        return self

    @property
    def https(self) -> bool:
        return self.tls_cert is not None
