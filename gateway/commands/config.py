"""`gateway config check`: validate settings and show what is in force, secrets masked."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from gateway.errors import SettingsError
from gateway.settings import DEFAULT_CONFIG_PATH, load_settings, masked


def register(sub: Any) -> None:
    config = sub.add_parser("config", help="inspect and check the box's settings")
    config_sub = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = config_sub.add_parser(
        "check",
        help="validate settings and print the effective values (secrets masked)",
        description=f"Reads {DEFAULT_CONFIG_PATH} (or --config PATH) and STOREGATE_* "
        "environment variables; exits 2 when anything is invalid (a key, or a file it "
        "names that does not exist), 1 when no settings file was read at all.",
    )
    check.add_argument(
        "--config", metavar="PATH", help=f"settings file (default {DEFAULT_CONFIG_PATH})"
    )
    check.add_argument("--json", action="store_true", help="print JSON instead of TOML-like text")
    check.set_defaults(func=_check)


def _check(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    read: Path | None = getattr(settings, "toml_path", None)
    source = str(read) if read is not None else "settings (defaults and environment)"
    catalog = settings.paths.catalog
    if catalog is not None and not catalog.is_file():
        raise SettingsError(
            source,
            [
                f"paths.catalog: {catalog} does not exist (gateway run loads it when the "
                "database holds no catalog)"
            ],
        )
    missing = [
        f"{key}: {path} does not exist (the provider's key or certificate file)"
        for key, path in settings.payments.files()
        if not path.is_file()
    ]
    if missing:
        raise SettingsError(source, missing)
    data = masked(settings)
    if args.json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        print(_as_toml(data))
    if read is None:
        print(
            f"gateway config check: no settings file was read: {DEFAULT_CONFIG_PATH} does "
            "not exist, so the values above are the defaults and the environment\n"
            "  fix: install one (gateway install), or pass --config PATH",
            file=sys.stderr,
        )
        return 1
    if not args.json:
        print(f"# settings OK ({read})")
    return 0


def _as_toml(data: dict[str, Any], prefix: str = "") -> str:
    scalars = {k: v for k, v in data.items() if not isinstance(v, dict)}
    tables = {k: v for k, v in data.items() if isinstance(v, dict)}
    lines: list[str] = []
    if prefix and scalars:
        lines.append(f"[{prefix}]")
    for key, value in scalars.items():
        lines.append(f"{key} = {json.dumps(value, ensure_ascii=False)}")
    for key, value in tables.items():
        nested = _as_toml(value, f"{prefix}.{key}" if prefix else key)
        if nested:
            lines.append(("\n" if lines else "") + nested)
    return "\n".join(lines)
