"""Where capability data lives: `devices/profiles/<kind>-<name>.json` (keyboard layouts,
printer profiles). One place finds the files so every kind lists and refuses alike."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from devices.errors import ProfileError


def profile_names(kind: str) -> list[str]:
    """Names shipped for `kind` ("keyboard", "printer"), sorted."""
    folder = resources.files("devices") / "profiles"
    prefix = f"{kind}-"
    return sorted(
        p.name[len(prefix) : -len(".json")]
        for p in folder.iterdir()
        if p.name.startswith(prefix) and p.name.endswith(".json")
    )


def profile_location(kind: str, name: str) -> str:
    """How an error names a profile file."""
    return f"devices/profiles/{kind}-{name}.json"


def read_profile(kind: str, name: str, what: str) -> Any:
    """The parsed JSON of one profile; an unknown name is a `ProfileError` listing the known."""
    path = resources.files("devices") / "profiles" / f"{kind}-{name}.json"
    if not path.is_file():
        raise ProfileError(
            f"no {what} {name!r}",
            where="devices/profiles",
            fix=f"use one of {', '.join(profile_names(kind))}",
        )
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ProfileError(f"invalid {what}: {exc}", where=str(path)) from exc
