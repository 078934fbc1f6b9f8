"""The box's settings: defaults, then the TOML file, then `STOREGATE_*` environment variables.

Each room owns a section model; this module only assembles them and turns pydantic's
validation errors into `SettingsError` lines a technician can act on (which key, what was
wrong, what is allowed). Secrets are `SecretStr` so that printing settings never leaks them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from biip.rcn import RcnRegion
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    SettingsConfigDict,
)

from devices.settings import DeviceSettings
from gateway.broker_identity import identity_overlay, read_identity
from gateway.daemon.settings import (
    AnomalySettings,
    BackupSettings,
    DaemonSettings,
    UpdateSettings,
)
from gateway.errors import SettingsError
from gateway.journal.settings import JournalSettings
from gateway.lane.settings import LaneSettings
from gateway.payments.settings import PaymentSettings
from gateway.screens.settings import ScreensSettings
from gateway.settings_files import TomlSettings, load_toml_settings
from gateway.sync.settings import EnrolSettings, SyncSettings

DEFAULT_CONFIG_PATH = Path("/etc/storegate/gateway.toml")
UNKNOWN_KEY = "unknown key (misspelt? see config/gateway.example.toml for every key)"
ENV_PREFIX = "STOREGATE_"
IDENTIFIER = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReceiptTexts(Section):
    """`[store.texts.<language>]`: the store's own lines on receipts printed in it."""

    header: list[str] | None = Field(None, description="default: [store] header")
    footer: list[str] | None = Field(None, description="default: [store] footer")


class StoreSettings(Section):
    id: str = Field("store-1", pattern=IDENTIFIER, description="store id, used in MQTT topics")
    box: str = Field("box-1", pattern=IDENTIFIER, description="this box's id within the store")
    name: str = "storegate shop"
    timezone: str = "UTC"
    header: list[str] = Field(default_factory=list, description="receipt header lines")
    footer: list[str] = Field(default_factory=lambda: ["Thank you!"])
    receipt_width: Literal[32, 42, 48] = 42
    texts: dict[Literal["en", "zh"], ReceiptTexts] = Field(
        default_factory=dict,
        description="header and footer of receipts printed in another language (the "
        "cashier's): [store.texts.zh] footer = [...]",
    )

    def header_in(self, language: str) -> list[str]:
        """The receipt header in `language` (`texts`), else `header`."""
        own = self.texts.get(language)  # type: ignore[call-overload]
        return own.header if own is not None and own.header is not None else self.header

    def footer_in(self, language: str) -> list[str]:
        """The receipt footer in `language` (`texts`), else `footer`."""
        own = self.texts.get(language)  # type: ignore[call-overload]
        return own.footer if own is not None and own.footer is not None else self.footer

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as 'Europe/Zurich' "
                "or 'Asia/Shanghai'"
            ) from exc
        return value


class PathSettings(Section):
    data_dir: Path = Path("/var/lib/storegate")
    catalog: Path | None = Field(
        None, description="catalog document loaded at start when the database has none"
    )
    secrets_key: Path | None = Field(
        None, description="key file sealing the TOTP seeds (default: data_dir/secrets.key)"
    )

    @property
    def database(self) -> Path:
        return self.data_dir / "storegate.db"

    def secrets_key_for(self, database: Path) -> Path:
        """The configured key, else `secrets.key` beside the database in use (`--db`)."""
        return self.secrets_key or database.with_name("secrets.key")


LABEL_LAYOUT_PATTERN = r"^[0-9]{1,3}[IPWQVCR]+$"


class LabelLayout(Section):
    """An in-store variable-measure label (prefix 2x) as the store's label scales print it.

    `pattern` spells each digit: literal flag digits first, then I = item code (PLU),
    P = price, W = weight, Q = count, V = price/weight verifier, C = check digit.
    E.g. "21IIIIIPPPPPC" (13-digit, price) or "26IIIIIPPPPPWWWWWC" (18-digit, price+weight).
    `reduced = true` makes it a reduced-to-clear sticker: the item code with either its new
    price P or R = a whole percent off the catalog price (two digits), e.g. "29IIIIIPPPPPC"
    or "27IIIIIIIIRRC" (docs/barcodes.md "Reduced-to-clear stickers").
    """

    name: str
    pattern: str = Field(pattern=LABEL_LAYOUT_PATTERN)
    price_decimals: int = Field(2, ge=0, le=4)
    weight_decimals: int = Field(3, ge=0, le=4)
    weight_unit: Literal["kg", "g"] = "kg"
    reduced: bool = Field(
        False, description="a reduced-to-clear sticker: item code and new price P or percent off R"
    )

    @model_validator(mode="after")
    def _reduced_fields(self) -> LabelLayout:
        _check_reduced(self.pattern, self.reduced)
        return self

    @field_validator("pattern")
    @classmethod
    def _shape(cls, value: str) -> str:
        if len(value) not in (12, 13, 18):
            raise ValueError(
                f"layout {value!r} has {len(value)} digits; labels are 13 or 18 digits "
                "(12 for UPC-A)"
            )
        if not value.endswith("C") or value.count("C") != 1:
            raise ValueError("the last digit of a layout must be the check digit 'C', once")
        if "I" not in value:
            raise ValueError("a layout needs item-code digits 'I' to find the product")
        if not ({"P", "W", "Q", "R"} & set(value)):
            raise ValueError("a layout needs price 'P', weight 'W' or count 'Q' digits")
        for letter in "IPWQVR":
            places = [i for i, char in enumerate(value) if char == letter]
            if places and places != list(range(places[0], places[-1] + 1)):
                raise ValueError(f"the '{letter}' digits of a layout must be contiguous")
        if "V" in value:
            _check_verifier(value)
        return value


def _check_reduced(pattern: str, reduced: bool) -> None:
    """A reduced sticker says its new price P or a percent off R (two digits), nothing else."""
    letters = set(pattern)
    if not reduced:
        if "R" in letters:
            raise ValueError("percent-off digits 'R' are for a reduced sticker: add reduced = true")
        return
    if ({"P", "R"} & letters) in ({"P", "R"}, set()) or {"W", "Q"} & letters:
        raise ValueError(
            "a reduced sticker's layout has the item 'I' and either its new price 'P' or a "
            "percent off 'R', no weight 'W' or count 'Q' (e.g. 29IIIIIPPPPPC, 27IIIIIIIIRRC)"
        )
    if "R" in letters and (pattern.count("R") != 2 or "V" in letters):
        raise ValueError("a reduced sticker's percent off is two digits 'RR', with no verifier")


def _check_verifier(pattern: str) -> None:
    """GS1's price/weight verifier (Gen. Specs §7.9.2-7.9.4) exists for 4 and 5 digits only."""
    protected = next((letter for letter in "PWQ" if letter in pattern), None)
    if protected is None or pattern.count("V") != 1 or pattern.count(protected) not in (4, 5):
        raise ValueError(
            "a verifier digit 'V' is one digit protecting a 4- or 5-digit price field "
            "(or weight, or count, when there is no price)"
        )


class BarcodeSettings(Section):
    rcn_region: str | None = Field(
        None,
        description="GS1 region for biip's variable-measure rules (e.g. 'DE', 'SE', 'GB'); "
        "leave unset and use label_layouts for other countries",
    )
    label_layouts: list[LabelLayout] = Field(default_factory=list)
    verify_price_digit: bool = True
    gs1_price_is_reduced: bool = Field(
        False,
        description="a GS1 code with a GTIN and AI 392n (no weight, no count) is a "
        "reduced-to-clear sticker: (01)GTIN(3922)price sells the item at that reduced price",
    )

    @field_validator("rcn_region")
    @classmethod
    def _known_region(cls, value: str | None) -> str | None:
        if value is None:
            return None
        known = sorted(region.value.upper() for region in RcnRegion)
        if value.strip().upper() not in known:
            raise ValueError(
                f"biip has no variable-measure rules for region {value!r}; use one of "
                f"{', '.join(known)}, or leave it unset and describe the labels in label_layouts"
            )
        return value.strip().upper()


class MqttSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    root_topic: str = Field("storegate/v1", pattern=r"^[^#+$][^#+]*[^/#+]$")
    username: str | None = None
    password: SecretStr | None = None
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    keepalive: int = Field(30, ge=5, le=3600)
    protocol: Literal["auto", "5", "3.1.1"] = Field(
        "auto",
        description="MQTT version; auto tries 5 and falls back to 3.1.1 when refused or ignored",
    )
    client_id: str | None = Field(None, description="default storegate-<store>-<box>")
    session_expiry: int = Field(
        7 * 24 * 3600, ge=0, description="seconds the broker keeps this box's session (MQTT 5)"
    )


class GatewaySettings(TomlSettings):
    """Everything the box reads at start; see config/gateway.example.toml."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        nested_model_default_partial_update=True,
    )

    store: StoreSettings = Field(default_factory=StoreSettings)
    paths: PathSettings = Field(default_factory=PathSettings)
    barcodes: BarcodeSettings = Field(default_factory=BarcodeSettings)
    mqtt: MqttSettings = Field(default_factory=MqttSettings)
    sync: SyncSettings = Field(default_factory=SyncSettings)
    enrol: EnrolSettings = Field(default_factory=EnrolSettings)
    devices: DeviceSettings = Field(default_factory=DeviceSettings)
    lane: LaneSettings = Field(default_factory=LaneSettings)
    daemon: DaemonSettings = Field(default_factory=DaemonSettings)
    backup: BackupSettings = Field(default_factory=BackupSettings)
    journal: JournalSettings = Field(default_factory=JournalSettings)
    anomalies: AnomalySettings = Field(default_factory=AnomalySettings)
    screens: ScreensSettings = Field(default_factory=ScreensSettings)
    payments: PaymentSettings = Field(default_factory=PaymentSettings)
    update: UpdateSettings = Field(default_factory=UpdateSettings)


def load_settings(path: str | Path | None = None) -> GatewaySettings:
    """Load settings from `path` (or the default file when it exists) and the environment.

    An explicit path that does not exist is an error; a missing default file means
    "defaults plus environment", which is what a fresh box has before installation.
    """
    settings = load_toml_settings(
        GatewaySettings,
        path,
        default=DEFAULT_CONFIG_PATH,
        env_prefix=ENV_PREFIX,
        refuse=SettingsError,
        unknown_key=UNKNOWN_KEY,
    )
    identity = read_identity(settings.paths.data_dir)  # an enrolled box: gateway enrol
    if identity is None:
        return settings
    source = str(settings.toml_path or "settings (defaults and environment)")
    return settings.model_copy(update=identity_overlay(settings, identity, source))


def masked(settings: GatewaySettings) -> dict[str, Any]:
    """The effective settings as plain data with every secret replaced by '***'."""
    data: dict[str, Any] = settings.model_dump(mode="json")

    def walk(model: BaseModel, out: dict[str, Any]) -> None:
        for name in type(model).model_fields:
            value = getattr(model, name)
            if isinstance(value, SecretStr):
                out[name] = "***"
            elif isinstance(value, BaseModel):
                walk(value, out[name])

    walk(settings, data)
    return data
