"""Head office's settings: defaults, then a TOML file, then `STOREGATE_CLOUD_*` variables.

Owns finding and reading the settings file (`--config PATH`, else `$STOREGATE_CLOUD_CONFIG`,
else /etc/storegate/cloud.toml when it exists) and refusing a bad one whole, every problem
listed in the wording of `gateway.validation` (the box's settings read the same way). Each
room owns its section's model: `[alerts]` is `cloud.rules.Thresholds`. Where to connect
(`--db`, the broker) stays on the command line and its own variables; this module must
not read those.
"""

from __future__ import annotations

import argparse
import os
import tomllib
from pathlib import Path
from typing import ClassVar

from pydantic import Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from cloud.rules import Thresholds
from gateway.errors import ProblemsError
from gateway.validation import describe_errors

DEFAULT_CONFIG_PATH = Path("/etc/storegate/cloud.toml")
CONFIG_ENV = "STOREGATE_CLOUD_CONFIG"
ENV_PREFIX = "STOREGATE_CLOUD_"
NESTED = "__"
UNKNOWN_KEY = "unknown key (misspelt? see config/cloud.example.toml for every key)"


class CloudSettingsError(ProblemsError):
    """Head office's settings file or environment is invalid (exit status 2)."""

    def __init__(self, source: str, problems: list[str]) -> None:
        super().__init__(source, problems, headline="invalid head-office settings ({count})",
                         fix="correct the keys above; config/cloud.example.toml lists every "
                         "key with its default")


class CloudSettings(BaseSettings):
    """Everything head office reads from its settings; see config/cloud.example.toml."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=NESTED,
        extra="forbid",
        nested_model_default_partial_update=True,
    )
    toml_path: ClassVar[Path | None] = None

    alerts: Thresholds = Field(default_factory=Thresholds)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if cls.toml_path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=cls.toml_path))
        return tuple(sources)


def config_path_default() -> str | None:
    """What `--config` means when not given: `$STOREGATE_CLOUD_CONFIG` or None."""
    return os.environ.get(CONFIG_ENV) or None


def load_cloud_settings(path: str | Path | None = None) -> CloudSettings:
    """Settings from `path` (or the default file when it exists) and the environment.

    A path that was given but does not exist is an error; a missing default file means
    "defaults plus environment".
    """
    candidate = Path(path) if path is not None else DEFAULT_CONFIG_PATH
    toml: Path | None = candidate
    if candidate.exists():
        _check_toml(candidate)
    elif path is not None:
        raise CloudSettingsError(str(candidate), ["file does not exist; pass an existing "
                                                  f"--config PATH (or unset ${CONFIG_ENV})"])
    else:
        toml = None
    source = str(toml) if toml is not None else "settings (defaults and environment)"
    env_keys = sorted(k for k in os.environ if k.startswith(ENV_PREFIX) and NESTED in k)
    if env_keys:
        source += f" + environment ({', '.join(env_keys)})"
    settings_type = type("LoadedCloudSettings", (CloudSettings,), {"toml_path": toml})
    try:
        return settings_type()  # type: ignore[no-any-return]
    except ValidationError as exc:
        raise CloudSettingsError(source, describe_errors(exc, unknown_key=UNKNOWN_KEY)) from exc


def _check_toml(path: Path) -> None:
    try:
        with path.open("rb") as fh:
            tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise CloudSettingsError(str(path), [f"not valid TOML: {exc}"]) from exc
    except OSError as exc:
        raise CloudSettingsError(str(path), [f"cannot read the file: {exc.strerror}"]) from exc


def config_arg(parser: argparse.ArgumentParser) -> None:
    """`--config PATH` for the commands that run the alert rules."""
    parser.add_argument("--config", default=config_path_default(), metavar="PATH",
                        help=f"head-office settings (TOML; default ${CONFIG_ENV}, else "
                        f"{DEFAULT_CONFIG_PATH} when it exists)")
