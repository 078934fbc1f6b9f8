"""Reading a settings file the way every storegate program does: defaults, then the TOML
file, then environment variables; a bad file is refused whole with every problem listed.

The box (`gateway.settings`) and head office (`cloud.settings`) each declare their model
as a `TomlSettings` and call `load_toml_settings`; only the file, the variable prefix and
the error type differ. Problems are worded by `gateway.validation.describe_errors`.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar, TypeVar

from pydantic import ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, TomlConfigSettingsSource

from gateway.errors import ProblemsError
from gateway.validation import describe_errors

S = TypeVar("S", bound="TomlSettings")
Refuse = Callable[[str, list[str]], ProblemsError]


class TomlSettings(BaseSettings):
    """Settings whose sources are: arguments, the environment, then `toml_path` if set."""

    toml_path: ClassVar[Path | None] = None

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


def load_toml_settings(
    model: type[S],
    path: str | Path | None,
    *,
    default: Path,
    env_prefix: str,
    refuse: Refuse,
    unknown_key: str,
    missing: str = "pass an existing --config PATH",
) -> S:
    """`model` from `path` (or `default` when it exists) and the environment.

    An explicit path that does not exist is an error (`missing` says what to do); a
    missing default file means "defaults plus environment", which is what a fresh machine
    has before installation. `refuse(source, problems)` makes the error raised.
    """
    toml: Path | None = Path(path) if path is not None else default
    assert toml is not None
    if toml.exists():
        _check_toml(toml, refuse)
    elif path is not None:
        raise refuse(str(toml), [f"file does not exist; {missing}"])
    else:
        toml = None
    source = str(toml) if toml is not None else "settings (defaults and environment)"
    env_keys = sorted(k for k in os.environ if k.startswith(env_prefix) and "__" in k)
    if env_keys:
        source += f" + environment ({', '.join(env_keys)})"
    loaded = type(f"Loaded{model.__name__}", (model,), {"toml_path": toml})
    try:
        settings: S = loaded()
    except ValidationError as exc:
        raise refuse(source, describe_errors(exc, unknown_key=unknown_key)) from exc
    return settings


def _check_toml(path: Path, refuse: Refuse) -> None:
    try:
        with path.open("rb") as fh:
            tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise refuse(str(path), [f"not valid TOML: {exc}"]) from exc
    except OSError as exc:
        raise refuse(str(path), [f"cannot read the file: {exc.strerror}"]) from exc
