"""Head office's settings: defaults, then a TOML file, then `STOREGATE_CLOUD_*` variables.

Owns finding and reading the settings file (`--config PATH`, else `$STOREGATE_CLOUD_CONFIG`,
else /etc/storegate/cloud.toml when it exists) and refusing a bad one whole, every problem
listed in the wording of `gateway.validation` (the box's settings read the same way). Each
room owns its section's model: `[alerts]` is `cloud.rules.Thresholds`, `[notify]`
`cloud.notify.NotifySettings`, `[web]` `cloud.web.totp_key.WebSettings`. Where to connect
(`--db`, the broker) stays on the command line and its own variables; this module must
not read those.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from cloud.notify import NotifySettings
from cloud.rules import Thresholds
from cloud.web.totp_key import WebSettings
from gateway.errors import ProblemsError
from gateway.settings_files import TomlSettings, load_toml_settings

DEFAULT_CONFIG_PATH = Path("/etc/storegate/cloud.toml")
CONFIG_ENV = "STOREGATE_CLOUD_CONFIG"
ENV_PREFIX = "STOREGATE_CLOUD_"
NESTED = "__"
UNKNOWN_KEY = "unknown key (misspelt? see config/cloud.example.toml for every key)"


class CloudSettingsError(ProblemsError):
    """Head office's settings file or environment is invalid (exit status 2)."""

    def __init__(self, source: str, problems: list[str]) -> None:
        super().__init__(
            source,
            problems,
            headline="invalid head-office settings ({count})",
            fix="correct the keys above; config/cloud.example.toml lists every "
            "key with its default",
        )


class CloudSettings(TomlSettings):
    """Everything head office reads from its settings; see config/cloud.example.toml."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=NESTED,
        extra="forbid",
        nested_model_default_partial_update=True,
    )

    alerts: Thresholds = Field(default_factory=Thresholds)
    notify: NotifySettings = Field(default_factory=NotifySettings)
    web: WebSettings = Field(default_factory=WebSettings)


def config_path_default() -> str | None:
    """What `--config` means when not given: `$STOREGATE_CLOUD_CONFIG` or None."""
    return os.environ.get(CONFIG_ENV) or None


def load_cloud_settings(path: str | Path | None = None) -> CloudSettings:
    """Settings from `path` (or the default file when it exists) and the environment.

    A path that was given but does not exist is an error; a missing default file means
    "defaults plus environment".
    """
    return load_toml_settings(
        CloudSettings,
        path,
        default=DEFAULT_CONFIG_PATH,
        env_prefix=ENV_PREFIX,
        refuse=CloudSettingsError,
        unknown_key=UNKNOWN_KEY,
        missing=f"pass an existing --config PATH (or unset ${CONFIG_ENV})",
    )


def config_arg(parser: argparse.ArgumentParser) -> None:
    """`--config PATH` for the commands that read head office's settings."""
    parser.add_argument(
        "--config",
        default=config_path_default(),
        metavar="PATH",
        help=f"head-office settings (TOML; default ${CONFIG_ENV}, else "
        f"{DEFAULT_CONFIG_PATH} when it exists)",
    )
